#pragma once

#include <QSize>
#include <QString>

class QCustomPlot;

namespace gfm::ui {

/**
 * @brief Writes plots as PNG, PDF or SVG in a fixed light publication theme and fixed size,
 * and their data as CSV.
 *
 * The format follows the file suffix. The plot is restyled for the export (larger antialiased
 * fonts, black axes on white) and given back its screen style afterwards, so an export looks
 * the same whatever the window size or the desktop theme.
 */
class PlotExporter
{
public:
  /** @brief Size of an exported figure in pixels (PNG) or points (PDF, SVG). */
  static constexpr QSize kFigureSize{ 900, 600 };

  /** @brief Dynamic property of a plot: its own figure size (QSize), e.g. for wide panels. */
  static constexpr char kFigureSizeProperty[] = "gfmFigureSize";

  /** @brief The plot's figure size: its kFigureSizeProperty, else kFigureSize. */
  static QSize figureSize(const QCustomPlot* plot);

  /** @brief Writes `plot` to `path` (.png, .pdf or .svg); false with `error` on failure. */
  static bool exportPlot(QCustomPlot* plot,
                         const QString& path,
                         QSize size = kFigureSize,
                         QString* error = nullptr);

  /**
   * @brief Every plottable's data in long form: `series,x,y,z` (z only for colour maps, whose
   * x and y are cell coordinates).
   */
  static QString plotCsv(QCustomPlot* plot);

  /** @brief Writes text to a file; false with `error` on failure. */
  static bool writeText(const QString& path, const QString& text, QString* error = nullptr);

  /** @brief The restyling applied for exports (public for previews). */
  static void applyPublicationStyle(QCustomPlot* plot);
};

} // namespace gfm::ui
