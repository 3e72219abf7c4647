#include "ui/plot_style.h"

#include <array>

namespace gfm::ui {

QCPColorGradient sequentialGradient()
{
  // Nine samples of matplotlib's viridis; linear interpolation in RGB between them stays
  // within a few ΔE of the original map.
  static const std::array<const char*, 9> kViridis = { "#440154", "#472d7b", "#3b528b",
                                                       "#2c728e", "#21918c", "#28ae80",
                                                       "#5ec962", "#addc30", "#fde725" };
  QMap<double, QColor> stops;
  for (std::size_t i = 0; i < kViridis.size(); ++i) {
    stops.insert(static_cast<double>(i) / (kViridis.size() - 1), QColor(kViridis[i]));
  }

  QCPColorGradient gradient;
  gradient.setColorStops(stops);
  gradient.setColorInterpolation(QCPColorGradient::ciRGB);
  gradient.setLevelCount(256);
  return gradient;
}

QCPColorGradient divergingGradient()
{
  // Blue–white–orange reads the same for the common colour-vision deficiencies, unlike
  // red–green.
  QMap<double, QColor> stops;
  stops.insert(0.0, QColor("#2166ac"));
  stops.insert(0.25, QColor("#67a9cf"));
  stops.insert(0.5, QColor("#f7f7f7"));
  stops.insert(0.75, QColor("#f1a340"));
  stops.insert(1.0, QColor("#b35806"));

  QCPColorGradient gradient;
  gradient.setColorStops(stops);
  gradient.setColorInterpolation(QCPColorGradient::ciRGB);
  gradient.setLevelCount(256);
  return gradient;
}

QColor seriesColor(int index)
{
  // Okabe & Ito (2008), without black (kept for reference lines).
  static const std::array<const char*, 7> kOkabeIto = { "#0072b2", "#e69f00", "#009e73", "#cc79a7",
                                                        "#56b4e9", "#d55e00", "#f0e442" };
  const auto n = static_cast<int>(kOkabeIto.size());
  return QColor(kOkabeIto[static_cast<std::size_t>(((index % n) + n) % n)]);
}

void applyScreenStyle(QCustomPlot* plot)
{
  // Every property the publication style touches is set here too, so that applying this after
  // an export restores the screen look exactly.
  plot->setBackground(Qt::white);
  plot->setAntialiasedElements(QCP::aeNone);
  plot->setAntialiasedElement(QCP::aePlottables, true);
  plot->setAntialiasedElement(QCP::aeItems, true);
  plot->setNoAntialiasingOnDrag(true);

  QFont labelFont = plot->font();
  labelFont.setPointSizeF(9.0);
  QFont tickFont = plot->font();
  tickFont.setPointSizeF(8.5);
  const QColor ink("#303030");
  const QColor rule("#707070");
  for (QCPAxisRect* rect : plot->axisRects()) {
    rect->setBackground(Qt::white);
    for (QCPAxis* axis : rect->axes()) {
      axis->setLabelFont(labelFont);
      axis->setTickLabelFont(tickFont);
      axis->setLabelColor(ink);
      axis->setTickLabelColor(ink);
      axis->setBasePen(axis->property(kNoBaseLine).toBool() ? QPen(Qt::NoPen) : QPen(rule));
      axis->setTickPen(QPen(rule));
      axis->setSubTickPen(QPen(rule));
      axis->grid()->setPen(QPen(QColor("#e6e6e6"), 0, Qt::SolidLine));
      axis->grid()->setSubGridPen(Qt::NoPen);
      axis->grid()->setZeroLinePen(Qt::NoPen);
    }
  }

  QFont titleFont = plot->font();
  titleFont.setPointSizeF(9.5);
  titleFont.setBold(true);
  for (int i = 0; i < plot->plotLayout()->elementCount(); ++i) {
    if (auto* title = qobject_cast<QCPTextElement*>(plot->plotLayout()->elementAt(i))) {
      title->setFont(titleFont);
      title->setTextColor(ink);
    }
  }
  if (plot->legend) {
    plot->legend->setFont(tickFont);
  }
}

} // namespace gfm::ui
