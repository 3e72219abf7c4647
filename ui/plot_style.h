#pragma once

#include <QColor>
#include <QString>

#include <qcustomplot.h>

namespace gfm::ui {

/**
 * @brief A perceptually uniform, colour-blind-safe sequential gradient (viridis), built from
 * colour stops because QCustomPlot 2.1 has no viridis preset.
 */
QCPColorGradient sequentialGradient();

/** @brief A colour-blind-safe diverging gradient (blue, white, orange) for signed values. */
QCPColorGradient divergingGradient();

/** @brief The i-th colour of the Okabe–Ito palette (colour-blind safe), cycling. */
QColor seriesColor(int index);

/** @brief Dynamic property of a QCPAxis: true to draw it without a base line. */
inline constexpr char kNoBaseLine[] = "gfmNoBaseLine";

/** @brief Axis label, tick and grid colours and fonts shared by every plot on screen. */
void applyScreenStyle(QCustomPlot* plot);

} // namespace gfm::ui
