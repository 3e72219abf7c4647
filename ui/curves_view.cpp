#include "ui/curves_view.h"

#include "ui/plot_style.h"
#include "ui/snapshot_store.h"

#include <QComboBox>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QVBoxLayout>

#include <qcustomplot.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

namespace gfm::ui {
namespace {

QCustomPlot* makePlot(QWidget* parent,
                      const QString& name,
                      const QString& title,
                      const QString& yLabel,
                      const QString& definition)
{
  auto* plot = new QCustomPlot(parent);
  plot->setObjectName(name);
  plot->setMinimumSize(240, 150);
  plot->setToolTip(definition);
  plot->plotLayout()->insertRow(0);
  plot->plotLayout()->addElement(0, 0, new QCPTextElement(plot, title));
  plot->yAxis->setLabel(yLabel);
  plot->xAxis->setLabel(QObject::tr("step"));
  plot->legend->setVisible(false);
  plot->legend->setBrush(QColor(255, 255, 255, 220));
  plot->legend->setBorderPen(QPen(QColor("#c0c0c0")));
  plot->legend->setRowSpacing(-2);
  plot->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignRight);
  applyScreenStyle(plot);
  return plot;
}

/** Moves a plot's legend into a row of its own under the title, laid out horizontally. */
void placeLegendUnderTitle(QCustomPlot* plot)
{
  plot->axisRect()->insetLayout()->take(plot->legend);
  plot->plotLayout()->insertRow(1);
  plot->plotLayout()->addElement(1, 0, plot->legend);
  plot->plotLayout()->setRowStretchFactor(1, 0.001);
  plot->legend->setFillOrder(QCPLegend::foColumnsFirst);
  plot->legend->setBorderPen(Qt::NoPen);
  plot->legend->setBrush(Qt::NoBrush);
  plot->legend->setMargins(QMargins(0, 0, 0, 0));
  plot->legend->setVisible(true);
}

void setLogAxis(QCPAxis* axis)
{
  axis->setScaleType(QCPAxis::stLogarithmic);
  axis->setTicker(QSharedPointer<QCPAxisTickerLog>::create());
  axis->setNumberFormat(QStringLiteral("eb"));
  axis->setNumberPrecision(0);
}

/** Range of the finite, positive values of some graphs, widened to whole decades. */
QCPRange positiveDecades(const std::vector<QCPGraph*>& graphs)
{
  double low = std::numeric_limits<double>::infinity();
  double high = 0.0;
  for (QCPGraph* graph : graphs) {
    for (const QCPGraphData& point : *graph->data()) {
      if (std::isfinite(point.value) && point.value > 0.0) {
        low = std::min(low, point.value);
        high = std::max(high, point.value);
      }
    }
  }
  if (!(high > 0.0)) {
    return QCPRange(1e-3, 1e1);
  }
  return QCPRange(std::pow(10.0, std::floor(std::log10(low))),
                  std::pow(10.0, std::ceil(std::log10(high) + 1e-9)));
}

} // namespace

CurvesView::CurvesView(SnapshotStore* store, QWidget* parent)
  : QWidget(parent)
  , m_store(store)
{
  m_l1Plot = makePlot(this,
                      QStringLiteral("l1"),
                      tr("L1 distance to the target"),
                      tr("L1"),
                      tr("L1 = Σ_x |p(x) − π(x)|, between the learned distribution p (exact, "
                         "from the policy) and the target π = R/Z: 0 = exact, 2 = disjoint. "
                         "Runs with several seeds: min–max band and one thin line per seed."));
  m_logZPlot = makePlot(this,
                        QStringLiteral("log-z"),
                        tr("log Z"),
                        tr("log Z"),
                        tr("Learned log Z = log Σ_i Z_i (Z_i = exp of part i's learned "
                           "log Z_i) against the true log Z = log Σ_x R(x) (dashed)."));
  m_partsPlot = makePlot(this,
                         QStringLiteral("part-z"),
                         tr("Per-part Z_i"),
                         tr("Z_i"),
                         tr("Each part's learned Z_i = exp(log Z_i) against its true mass "
                            "R(X_i) = Σ_{x ∈ X_i} R(x), on a log axis. Mixture weights are "
                            "w_i = Z_i / Σ_j Z_j."));
  m_lossPlot = makePlot(this,
                        QStringLiteral("loss"),
                        tr("Trajectory-balance loss"),
                        tr("loss"),
                        tr("Mean trajectory-balance loss (log Z + Σ log P_F − log R − "
                           "Σ log P_B)² over the last chunk, averaged over the parts."));

  // Curves cross every corner of the plot during training: legends go under the titles.
  placeLegendUnderTitle(m_l1Plot);
  placeLegendUnderTitle(m_logZPlot);
  setLogAxis(m_lossPlot->yAxis);
  setLogAxis(m_partsPlot->yAxis);
  m_partsPlot->xAxis->setLabel(tr("part"));

  m_trueLogZ = m_logZPlot->addGraph();
  m_trueLogZ->setName(tr("true log Z"));
  m_trueLogZ->setPen(QPen(Qt::black, 1.2, Qt::DashLine));

  auto* group = new QCPBarsGroup(m_partsPlot);
  group->setSpacing(1);
  m_learnedBars = new QCPBars(m_partsPlot->xAxis, m_partsPlot->yAxis);
  m_learnedBars->setName(tr("learned Z_i"));
  m_learnedBars->setPen(Qt::NoPen);
  m_learnedBars->setBrush(seriesColor(0));
  m_learnedBars->setWidth(0.38);
  m_learnedBars->setBarsGroup(group);
  m_trueBars = new QCPBars(m_partsPlot->xAxis, m_partsPlot->yAxis);
  m_trueBars->setName(tr("true R(X_i)"));
  m_trueBars->setPen(Qt::NoPen);
  m_trueBars->setBrush(QColor("#9a9a9a"));
  m_trueBars->setWidth(0.38);
  m_trueBars->setBarsGroup(group);
  placeLegendUnderTitle(m_partsPlot);
  applyScreenStyle(m_partsPlot);

  m_timeBox = new QComboBox(this);
  m_timeBox->addItems({ tr("Steps"), tr("Wall time (s)") });
  m_timeBox->setToolTip(tr("Horizontal axis of the curves: optimiser steps per part, or "
                           "seconds since the experiment started"));
  m_partsRunBox = new QComboBox(this);
  m_partsRunBox->setToolTip(tr("The run whose parts are compared in the Z_i plot"));

  auto* controls = new QHBoxLayout;
  controls->addWidget(new QLabel(tr("Time axis"), this));
  controls->addWidget(m_timeBox);
  controls->addSpacing(12);
  controls->addWidget(new QLabel(tr("Parts of"), this));
  controls->addWidget(m_partsRunBox);
  controls->addStretch(1);

  auto* grid = new QGridLayout;
  grid->setSpacing(2);
  grid->addWidget(m_l1Plot, 0, 0);
  grid->addWidget(m_logZPlot, 0, 1);
  grid->addWidget(m_partsPlot, 1, 0);
  grid->addWidget(m_lossPlot, 1, 1);

  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(4, 4, 4, 4);
  layout->addLayout(controls);
  layout->addLayout(grid, 1);

  connect(m_timeBox, qOverload<int>(&QComboBox::currentIndexChanged), this, [this](int index) {
    setTimeAxis(index == 1 ? TimeAxis::WallSeconds : TimeAxis::Steps);
  });
  connect(
    m_partsRunBox, qOverload<int>(&QComboBox::currentIndexChanged), this, &CurvesView::setPartsRun);
  connect(m_store, &SnapshotStore::descriptionChanged, this, &CurvesView::rebuild);
  connect(m_store, &SnapshotStore::changed, this, &CurvesView::refresh);

  rebuild();
}

std::vector<QCustomPlot*> CurvesView::plots() const
{
  return { m_l1Plot, m_logZPlot, m_partsPlot, m_lossPlot };
}

QCPGraph* CurvesView::l1Graph(int run) const
{
  return run >= 0 && run < static_cast<int>(m_l1.size()) ? m_l1[static_cast<std::size_t>(run)]
                                                         : nullptr;
}

QCPGraph* CurvesView::logZGraph(int run) const
{
  return run >= 0 && run < static_cast<int>(m_logZ.size()) ? m_logZ[static_cast<std::size_t>(run)]
                                                           : nullptr;
}

QCPGraph* CurvesView::lossGraph(int run) const
{
  return run >= 0 && run < static_cast<int>(m_loss.size()) ? m_loss[static_cast<std::size_t>(run)]
                                                           : nullptr;
}

std::pair<QCPGraph*, QCPGraph*> CurvesView::band(int group) const
{
  return group >= 0 && group < static_cast<int>(m_bands.size())
           ? m_bands[static_cast<std::size_t>(group)]
           : std::pair<QCPGraph*, QCPGraph*>{ nullptr, nullptr };
}

void CurvesView::setTimeAxis(TimeAxis axis)
{
  m_timeAxis = axis;
  if (m_timeBox->currentIndex() != (axis == TimeAxis::WallSeconds ? 1 : 0)) {
    const QSignalBlocker block(m_timeBox);
    m_timeBox->setCurrentIndex(axis == TimeAxis::WallSeconds ? 1 : 0);
  }
  const QString label = axis == TimeAxis::WallSeconds ? tr("wall time (s)") : tr("step");
  for (QCustomPlot* plot : { m_l1Plot, m_logZPlot, m_lossPlot }) {
    plot->xAxis->setLabel(label);
  }
  refresh();
}

void CurvesView::setPartsRun(int run)
{
  m_partsRun = run;
  if (m_partsRunBox->currentIndex() != run) {
    const QSignalBlocker block(m_partsRunBox);
    m_partsRunBox->setCurrentIndex(run);
  }
  updateParts();
  m_partsPlot->replot(QCustomPlot::rpQueuedReplot);
}

void CurvesView::rebuild()
{
  for (QCustomPlot* plot : { m_l1Plot, m_logZPlot, m_lossPlot }) {
    for (int i = plot->graphCount() - 1; i >= 0; --i) {
      if (plot->graph(i) != m_trueLogZ) {
        plot->removeGraph(i);
      }
    }
  }
  m_l1.clear();
  m_logZ.clear();
  m_loss.clear();
  m_bands.clear();

  const ExperimentDescription& description = m_store->description();
  const std::vector<QString> groups = description.groups();

  // Bands first, so that the per-seed lines are drawn over them.
  for (std::size_t g = 0; g < groups.size(); ++g) {
    if (description.seedsInGroup(groups[g]) < 2) {
      m_bands.emplace_back(nullptr, nullptr);
      continue;
    }
    QColor fill = seriesColor(static_cast<int>(g));
    fill.setAlpha(70);
    QCPGraph* lower = m_l1Plot->addGraph();
    QCPGraph* upper = m_l1Plot->addGraph();
    lower->setName(tr("%1 (min)").arg(groups[g]));
    upper->setName(
      tr("%1 (%2 seeds, min–max)").arg(groups[g]).arg(description.seedsInGroup(groups[g])));
    lower->setPen(Qt::NoPen);
    upper->setPen(Qt::NoPen);
    upper->setBrush(fill);
    upper->setChannelFillGraph(lower);
    lower->removeFromLegend();
    m_bands.emplace_back(lower, upper);
  }

  std::vector<bool> named(groups.size(), false);
  for (const RunDescription& run : description.runs) {
    const int g = description.groupIndex(run.group);
    const bool seeded = description.seedsInGroup(run.group) > 1;
    QColor color = seriesColor(g);
    QPen pen(color, seeded ? 0.8 : 1.8);
    if (seeded) {
      color.setAlpha(170);
      pen.setColor(color);
    }

    for (QCustomPlot* plot : { m_l1Plot, m_logZPlot, m_lossPlot }) {
      QCPGraph* graph = plot->addGraph();
      graph->setName(seeded ? run.group : run.name);
      graph->setPen(pen);
      // A dot at every evaluation: the first point of a curve is visible before it is a line.
      graph->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, seeded ? 2.5 : 4.0));
      // One legend entry per group; the band stands for its seeds in the L1 plot.
      const bool legend = !named[static_cast<std::size_t>(g)] && !(seeded && plot == m_l1Plot);
      if (!legend) {
        graph->removeFromLegend();
      }
      if (plot == m_l1Plot) {
        m_l1.push_back(graph);
      } else if (plot == m_logZPlot) {
        m_logZ.push_back(graph);
      } else {
        m_loss.push_back(graph);
      }
    }
    named[static_cast<std::size_t>(g)] = true;
  }

  {
    const QSignalBlocker block(m_partsRunBox);
    m_partsRunBox->clear();
    int firstMixture = -1;
    for (std::size_t r = 0; r < description.runs.size(); ++r) {
      m_partsRunBox->addItem(description.runs[r].name);
      if (firstMixture < 0 && description.runs[r].parts > 1) {
        firstMixture = static_cast<int>(r);
      }
    }
    m_partsRun = std::max(firstMixture, description.runs.empty() ? -1 : 0);
    m_partsRunBox->setCurrentIndex(m_partsRun);
  }
  refresh();
}

void CurvesView::refresh()
{
  const bool wall = m_timeAxis == TimeAxis::WallSeconds;
  double trueLogZ = std::numeric_limits<double>::quiet_NaN();
  double maxL1 = 0.0;

  for (std::size_t r = 0; r < m_l1.size(); ++r) {
    const std::vector<SeriesPoint>& series = m_store->series(static_cast<int>(r));
    QVector<double> keys;
    QVector<double> l1;
    QVector<double> logZ;
    QVector<double> loss;
    for (const SeriesPoint& point : series) {
      keys << (wall ? point.wallSeconds : static_cast<double>(point.step));
      l1 << point.l1;
      logZ << point.logZ;
      // A log axis cannot show a zero loss (a part that has not trained yet): leave a gap.
      loss << (point.loss > 0.0 ? point.loss : std::numeric_limits<double>::quiet_NaN());
      trueLogZ = point.logZTrue;
      if (std::isfinite(point.l1)) {
        maxL1 = std::max(maxL1, point.l1);
      }
    }
    m_l1[r]->setData(keys, l1, true);
    m_logZ[r]->setData(keys, logZ, true);
    m_loss[r]->setData(keys, loss, true);
  }
  updateBands();

  double lastKey = 1.0;
  for (QCPGraph* graph : m_l1) {
    if (!graph->data()->isEmpty()) {
      lastKey = std::max(lastKey, (graph->data()->constEnd() - 1)->key);
    }
  }
  // The axes follow the data (not the planned step count), so early curves are readable.
  lastKey *= 1.02;
  if (std::isfinite(trueLogZ)) {
    m_trueLogZ->setData({ 0.0, lastKey }, { trueLogZ, trueLogZ }, true);
  } else {
    m_trueLogZ->data()->clear();
  }

  for (QCustomPlot* plot : { m_l1Plot, m_logZPlot, m_lossPlot }) {
    plot->xAxis->setRange(0.0, lastKey);
  }
  m_l1Plot->yAxis->setRange(0.0, std::clamp(maxL1 * 1.08, 0.1, 2.0));
  m_logZPlot->yAxis->rescale(true);
  const QCPRange range = m_logZPlot->yAxis->range();
  const double pad = std::max(range.size() * 0.08, 0.05);
  m_logZPlot->yAxis->setRange(range.lower - pad, range.upper + pad);
  m_lossPlot->yAxis->setRange(positiveDecades(m_loss));

  updateParts();
  for (QCustomPlot* plot : plots()) {
    plot->replot(QCustomPlot::rpQueuedReplot);
  }
}

void CurvesView::updateBands()
{
  const ExperimentDescription& description = m_store->description();
  const std::vector<QString> groups = description.groups();
  const bool wall = m_timeAxis == TimeAxis::WallSeconds;

  for (std::size_t g = 0; g < m_bands.size(); ++g) {
    auto [lower, upper] = m_bands[g];
    if (!lower) {
      continue;
    }

    // Seeds evaluate at the same steps; the band covers the steps every seed has reached so
    // far, and wall time is the seeds' mean at that step.
    struct Extent
    {
      double low = std::numeric_limits<double>::infinity();
      double high = -std::numeric_limits<double>::infinity();
      double wall = 0.0;
      int count = 0;
    };
    std::map<std::int64_t, Extent> extents;
    int seeds = 0;
    for (std::size_t r = 0; r < description.runs.size(); ++r) {
      if (description.runs[r].group != groups[g]) {
        continue;
      }
      ++seeds;
      for (const SeriesPoint& point : m_store->series(static_cast<int>(r))) {
        Extent& extent = extents[point.step];
        extent.low = std::min(extent.low, point.l1);
        extent.high = std::max(extent.high, point.l1);
        extent.wall += point.wallSeconds;
        ++extent.count;
      }
    }

    QVector<double> keys;
    QVector<double> lows;
    QVector<double> highs;
    for (const auto& [step, extent] : extents) {
      if (extent.count < seeds) {
        continue;
      }
      keys << (wall ? extent.wall / extent.count : static_cast<double>(step));
      lows << extent.low;
      highs << extent.high;
    }
    lower->setData(keys, lows, true);
    upper->setData(keys, highs, true);
  }
}

void CurvesView::updateParts()
{
  const core::SnapshotPtr snapshot = m_store->latest(m_partsRun);
  QVector<double> keys;
  QVector<double> learned;
  QVector<double> truth;
  QSharedPointer<QCPAxisTickerText> ticker = QSharedPointer<QCPAxisTickerText>::create();
  if (snapshot) {
    for (std::size_t i = 0; i < snapshot->parts.size(); ++i) {
      const double key = static_cast<double>(i + 1);
      keys << key;
      learned << std::exp(snapshot->parts[i].logZ);
      truth << std::exp(snapshot->parts[i].logZTrue);
      ticker->addTick(key, QStringLiteral("X%1").arg(i + 1));
    }
  }
  m_learnedBars->setData(keys, learned, true);
  m_trueBars->setData(keys, truth, true);
  m_partsPlot->xAxis->setTicker(ticker);
  m_partsPlot->xAxis->setRange(0.4, std::max(1.0, static_cast<double>(keys.size())) + 0.6);

  double low = std::numeric_limits<double>::infinity();
  double high = 0.0;
  for (const QVector<double>* values : { &learned, &truth }) {
    for (double v : *values) {
      if (std::isfinite(v) && v > 0.0) {
        low = std::min(low, v);
        high = std::max(high, v);
      }
    }
  }
  const QCPRange range = high > 0.0 ? QCPRange(std::pow(10.0, std::floor(std::log10(low)) - 1.0),
                                               std::pow(10.0, std::ceil(std::log10(high) + 1e-9)))
                                    : QCPRange(1e-2, 1e3);
  m_partsPlot->yAxis->setRange(range);
  if (auto* title = qobject_cast<QCPTextElement*>(m_partsPlot->plotLayout()->element(0, 0))) {
    const ExperimentDescription& description = m_store->description();
    const bool known = m_partsRun >= 0 && m_partsRun < static_cast<int>(description.runs.size());
    title->setText(
      known
        ? tr("Per-part Z_i — %1").arg(description.runs[static_cast<std::size_t>(m_partsRun)].name)
        : tr("Per-part Z_i"));
  }
  // A bar rises from its base value, which must be positive on a log axis.
  m_learnedBars->setBaseValue(range.lower);
  m_trueBars->setBaseValue(range.lower);
}

} // namespace gfm::ui

#include "moc_curves_view.cpp"
