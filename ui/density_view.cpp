#include "ui/density_view.h"

#include "ui/logging.h"
#include "ui/plot_exporter.h"
#include "ui/plot_style.h"
#include "ui/snapshot_store.h"

#include <QCheckBox>
#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QSlider>
#include <QTextStream>
#include <QVBoxLayout>

#include <qcustomplot.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace gfm::ui {
namespace {

/** Log colour scales show this many decades below the largest value; lower values clamp. */
constexpr double kLogDecades = 6.0;

/** Integer ticks that stay on the grid: the axis range may extend past it to keep cells square. */
class GridTicker : public QCPAxisTicker
{
public:
  void setCells(int cells) { m_cells = cells; }

protected:
  /** Whole cells only: 1, 2, 5, 10, 20, 50, … */
  double getTickStep(const QCPRange& range) override
  {
    const double wanted = QCPAxisTicker::getTickStep(range);
    double step = 1.0;
    for (double decade = 1.0; step < wanted; decade *= 10.0) {
      for (double m : { 1.0, 2.0, 5.0 }) {
        if (step < wanted) {
          step = m * decade;
        }
      }
    }
    return step;
  }

  QVector<double> createTickVector(double tickStep, const QCPRange& range) override
  {
    QVector<double> ticks = QCPAxisTicker::createTickVector(std::max(1.0, tickStep), range);
    ticks.erase(std::remove_if(ticks.begin(),
                               ticks.end(),
                               [this](double t) { return t < -1e-9 || t > m_cells - 1 + 1e-9; }),
                ticks.end());
    return ticks;
  }

  int getSubTickCount(double tickStep) override
  {
    Q_UNUSED(tickStep);
    return 0;
  }

private:
  int m_cells = 1;
};

QString formatProbability(double p)
{
  return QString::number(p, 'g', 4);
}

} // namespace

DensityView::DensityView(SnapshotStore* store, QWidget* parent)
  : QWidget(parent)
  , m_store(store)
{
  m_runBox = new QComboBox(this);
  m_runBox->setSizeAdjustPolicy(QComboBox::AdjustToContents);
  m_runBox->setToolTip(tr("The run whose densities are shown"));
  m_partBox = new QComboBox(this);
  m_partBox->setToolTip(tr("The whole mixture p = Σ_i w_i p_i, or one part p_i against π "
                           "restricted to X_i and renormalised"));
  m_scaleBox = new QComboBox(this);
  m_scaleBox->addItems({ tr("Linear"), tr("Log") });
  m_scaleBox->setToolTip(tr("Colour scale shared by target and learned density"));
  m_overlayBox = new QCheckBox(tr("Part boundaries"), this);
  m_overlayBox->setChecked(true);
  m_overlayBox->setToolTip(tr("Draw the boundaries between the parts X_i of the run's "
                              "partition"));
  m_projectionBox = new QComboBox(this);
  m_projectionBox->addItems({ tr("Slice"), tr("Marginal") });
  m_projectionBox->setToolTip(tr("D ≥ 3: show the (x₀, x₁) slice at fixed x₂… or the "
                                 "(x₀, x₁) marginal summed over x₂…"));
  m_sliceSlider = new QSlider(Qt::Horizontal, this);
  m_sliceSlider->setMinimumWidth(120);
  m_sliceSlider->setToolTip(tr("Value of the coordinates past x₁ in the slice"));
  m_sliceLabel = new QLabel(this);

  auto* controls = new QHBoxLayout;
  controls->addWidget(new QLabel(tr("Run"), this));
  controls->addWidget(m_runBox);
  controls->addSpacing(8);
  controls->addWidget(new QLabel(tr("Show"), this));
  controls->addWidget(m_partBox);
  controls->addSpacing(8);
  controls->addWidget(new QLabel(tr("Scale"), this));
  controls->addWidget(m_scaleBox);
  controls->addSpacing(8);
  controls->addWidget(m_overlayBox);
  controls->addSpacing(8);
  controls->addWidget(m_projectionBox);
  controls->addWidget(m_sliceSlider);
  controls->addWidget(m_sliceLabel);
  controls->addStretch(1);

  m_plot = new QCustomPlot(this);
  m_plot->setObjectName(QStringLiteral("densities"));
  m_plot->setProperty(PlotExporter::kFigureSizeProperty, QSize(1350, 470));
  m_plot->setMinimumHeight(200);
  m_plot->plotLayout()->clear();

  auto* margins = new QCPMarginGroup(m_plot);
  const std::array<QString, 3> titles = { tr("Target π"), tr("Learned p"), tr("Difference p − π") };
  const std::array<int, 3> columns = { 0, 1, 3 };
  for (int i = 0; i < 3; ++i) {
    auto* rect = new QCPAxisRect(m_plot);
    m_plot->plotLayout()->addElement(0, columns[i], new QCPTextElement(m_plot, titles[i]));
    m_plot->plotLayout()->addElement(1, columns[i], rect);
    rect->setMarginGroup(QCP::msTop | QCP::msBottom, margins);
    rect->axis(QCPAxis::atBottom)->setLabel(QStringLiteral("x₀"));
    rect->axis(QCPAxis::atLeft)->setLabel(i == 0 ? QStringLiteral("x₁") : QString());
    for (QCPAxis* axis : rect->axes()) {
      axis->grid()->setVisible(false);
      axis->setLayer(QStringLiteral("axes"));
      axis->setTicker(QSharedPointer<GridTicker>::create());
      // The range may extend past the grid; a base line would run on into empty space.
      axis->setProperty(kNoBaseLine, true);
    }

    m_maps[i] = new QCPColorMap(rect->axis(QCPAxis::atBottom), rect->axis(QCPAxis::atLeft));
    m_maps[i]->setName(titles[i]);
    m_maps[i]->setInterpolate(false);
    m_maps[i]->setTightBoundary(false);
  }

  m_scale = new QCPColorScale(m_plot);
  m_scale->setBarWidth(10);
  m_scale->setGradient(sequentialGradient());
  m_scale->axis()->setLabel(tr("probability"));
  m_scale->setMarginGroup(QCP::msTop | QCP::msBottom, margins);
  m_plot->plotLayout()->addElement(1, 2, m_scale);
  m_diffScale = new QCPColorScale(m_plot);
  m_diffScale->setBarWidth(10);
  m_diffScale->setGradient(divergingGradient());
  m_diffScale->axis()->setLabel(tr("p − π"));
  m_diffScale->setMarginGroup(QCP::msTop | QCP::msBottom, margins);
  m_plot->plotLayout()->addElement(1, 4, m_diffScale);
  m_maps[Target]->setColorScale(m_scale);
  m_maps[Learned]->setColorScale(m_scale);
  m_maps[Difference]->setColorScale(m_diffScale);

  auto* layout = m_plot->plotLayout();
  layout->setRowStretchFactor(0, 0.01);
  layout->setColumnStretchFactor(2, 0.01);
  layout->setColumnStretchFactor(4, 0.01);

  // Boundaries live on their own buffered layer above the heat maps: toggling them redraws
  // that layer only.
  m_plot->addLayer(
    QStringLiteral("partition"), m_plot->layer(QStringLiteral("main")), QCustomPlot::limAbove);
  m_overlayLayer = m_plot->layer(QStringLiteral("partition"));
  m_overlayLayer->setMode(QCPLayer::lmBuffered);
  for (int i = 0; i < 3; ++i) {
    m_overlay[i] = new QCPCurve(m_maps[i]->keyAxis(), m_maps[i]->valueAxis());
    m_overlay[i]->setName(tr("part boundaries"));
    m_overlay[i]->setLayer(m_overlayLayer);
    m_overlay[i]->setPen(QPen(i == Difference ? QColor("#202020") : QColor(Qt::white), 1.6));
    m_overlay[i]->setScatterStyle(QCPScatterStyle::ssNone);
  }

  applyScreenStyle(m_plot);
  for (QCPAxisRect* rect : m_plot->axisRects()) {
    for (QCPAxis* axis : rect->axes()) {
      axis->grid()->setVisible(false);
    }
  }
  connect(m_plot, &QCustomPlot::afterLayout, this, &DensityView::fitSquareCells);
  connect(m_plot, &QCustomPlot::mouseMove, this, &DensityView::showHover);

  m_hoverLabel = new QLabel(this);
  m_hoverLabel->setTextInteractionFlags(Qt::TextSelectableByMouse);
  m_hoverLabel->setText(tr("Hover a cell to read its probabilities."));
  // On the read-out, not on the plot: a plot tooltip would cover the cells being hovered.
  m_hoverLabel->setToolTip(tr("Target π(x) = R(x)/Z; learned p(x), exact, from the policy; "
                              "their difference p − π. L1 = Σ_x |p(x) − π(x)|."));

  auto* main = new QVBoxLayout(this);
  main->setContentsMargins(4, 4, 4, 4);
  main->addLayout(controls);
  main->addWidget(m_plot, 1);
  main->addWidget(m_hoverLabel);

  connect(m_runBox, qOverload<int>(&QComboBox::currentIndexChanged), this, &DensityView::setRun);
  connect(m_partBox, qOverload<int>(&QComboBox::currentIndexChanged), this, [this](int index) {
    setPart(index - 1);
  });
  connect(m_scaleBox, qOverload<int>(&QComboBox::currentIndexChanged), this, [this](int index) {
    setLogScale(index == 1);
  });
  connect(m_overlayBox, &QCheckBox::toggled, this, &DensityView::setOverlayVisible);
  connect(
    m_projectionBox, qOverload<int>(&QComboBox::currentIndexChanged), this, [this](int index) {
      setProjection(index == 1 ? Projection::Marginal : Projection::Slice);
    });
  connect(m_sliceSlider, &QSlider::valueChanged, this, &DensityView::setSlice);
  connect(m_store, &SnapshotStore::descriptionChanged, this, &DensityView::rebuildSelectors);
  connect(m_store, &SnapshotStore::changed, this, &DensityView::refresh);

  rebuildSelectors();
}

bool DensityView::overlayVisible() const
{
  return m_overlayLayer->visible();
}

void DensityView::rebuildSelectors()
{
  const ExperimentDescription& description = m_store->description();
  const QSignalBlocker blockRuns(m_runBox);
  const QSignalBlocker blockSlice(m_sliceSlider);
  m_runBox->clear();
  for (const RunDescription& run : description.runs) {
    m_runBox->addItem(run.parts > 1 ? tr("%1 (%2 parts)").arg(run.name).arg(run.parts) : run.name);
  }
  m_run = description.runs.empty() ? -1 : 0;
  m_runBox->setCurrentIndex(m_run);

  const bool deep = description.grid.dim >= 3;
  m_projectionBox->setVisible(deep);
  m_sliceSlider->setVisible(deep);
  m_sliceLabel->setVisible(deep);
  m_sliceSlider->setRange(0, std::max(0, description.grid.height - 1));
  m_slice = std::clamp(m_slice, 0, std::max(0, description.grid.height - 1));
  m_sliceSlider->setValue(m_slice);
  m_sliceLabel->setText(tr("x₂… = %1").arg(m_slice));

  m_overlayRun = -1;
  m_shown.reset();
  setRun(m_run);
}

void DensityView::setRun(int run)
{
  const ExperimentDescription& description = m_store->description();
  if (run < 0 || run >= static_cast<int>(description.runs.size())) {
    run = description.runs.empty() ? -1 : 0;
  }
  m_run = run;
  if (m_runBox->currentIndex() != run) {
    const QSignalBlocker block(m_runBox);
    m_runBox->setCurrentIndex(run);
  }

  const int parts = run < 0 ? 1 : description.runs[static_cast<std::size_t>(run)].parts;
  {
    const QSignalBlocker block(m_partBox);
    m_partBox->clear();
    m_partBox->addItem(tr("Mixture"));
    for (int i = 0; i < parts && parts > 1; ++i) {
      m_partBox->addItem(tr("Part %1").arg(i + 1));
    }
    m_part = -1;
    m_partBox->setCurrentIndex(0);
    m_partBox->setEnabled(parts > 1);
  }
  m_overlayBox->setEnabled(parts > 1);

  m_shown.reset();
  updateHeatmaps();
  updateOverlay();
  m_plot->replot(QCustomPlot::rpQueuedReplot);
}

void DensityView::setPart(int part)
{
  const ExperimentDescription& description = m_store->description();
  const int parts = m_run < 0 ? 1 : description.runs[static_cast<std::size_t>(m_run)].parts;
  m_part = (part >= 0 && part < parts && parts > 1) ? part : -1;
  if (m_partBox->currentIndex() != m_part + 1) {
    const QSignalBlocker block(m_partBox);
    m_partBox->setCurrentIndex(m_part + 1);
  }
  updateHeatmaps();
  m_plot->replot(QCustomPlot::rpQueuedReplot);
}

void DensityView::setLogScale(bool on)
{
  m_logScale = on;
  if (m_scaleBox->currentIndex() != (on ? 1 : 0)) {
    const QSignalBlocker block(m_scaleBox);
    m_scaleBox->setCurrentIndex(on ? 1 : 0);
  }
  updateScales();
  m_plot->replot(QCustomPlot::rpQueuedReplot);
}

void DensityView::setOverlayVisible(bool on)
{
  if (m_overlayBox->isChecked() != on) {
    const QSignalBlocker block(m_overlayBox);
    m_overlayBox->setChecked(on);
  }
  m_overlayLayer->setVisible(on);
  m_overlayLayer->replot();
}

void DensityView::setProjection(Projection projection)
{
  m_projection = projection;
  m_sliceSlider->setEnabled(projection == Projection::Slice);
  updateHeatmaps();
  updateOverlay();
  m_plot->replot(QCustomPlot::rpQueuedReplot);
}

void DensityView::setSlice(int value)
{
  m_slice = value;
  m_sliceLabel->setText(tr("x₂… = %1").arg(value));
  if (m_sliceSlider->value() != value) {
    const QSignalBlocker block(m_sliceSlider);
    m_sliceSlider->setValue(value);
  }
  if (m_projection == Projection::Slice) {
    updateHeatmaps();
    updateOverlay();
    m_plot->replot(QCustomPlot::rpQueuedReplot);
  }
}

void DensityView::refresh()
{
  const core::SnapshotPtr latest = m_store->latest(m_run);
  if (latest == m_shown && m_overlayRun == m_run) {
    return;
  }
  updateHeatmaps();
  if (m_overlayRun != m_run) {
    updateOverlay();
  }
  m_plot->replot(QCustomPlot::rpQueuedReplot);
}

std::vector<double> DensityView::targetForView() const
{
  const ExperimentDescription& description = m_store->description();
  std::vector<double> target = description.target;
  if (m_part < 0 || m_run < 0 || target.empty()) {
    return target;
  }

  // π_i(x) = π(x)·1[x ∈ X_i] / π(X_i): what part i alone should learn.
  const auto& partOf = description.runs[static_cast<std::size_t>(m_run)].partOf;
  if (!partOf || partOf->size() != target.size()) {
    return target;
  }
  double mass = 0.0;
  for (std::size_t x = 0; x < target.size(); ++x) {
    if ((*partOf)[x] != m_part) {
      target[x] = 0.0;
    }
    mass += target[x];
  }
  if (mass > 0.0) {
    for (double& p : target) {
      p /= mass;
    }
  }
  return target;
}

template<typename T>
static std::vector<double> projectDensity(const T* values,
                                          int dim,
                                          int height,
                                          DensityView::Projection projection,
                                          int slice)
{
  const int kx = height;
  const int ky = dim >= 2 ? height : 1;
  std::vector<double> out(static_cast<std::size_t>(kx) * ky, 0.0);
  if (dim <= 2) {
    for (std::size_t i = 0; i < out.size(); ++i) {
      out[i] = static_cast<double>(values[i]);
    }
    return out;
  }

  // Row-major with the last coordinate fastest: (x₀, x₁) is the outer block of H^(D-2) cells.
  std::int64_t inner = 1;
  for (int d = 2; d < dim; ++d) {
    inner *= height;
  }
  std::int64_t sliceOffset = 0;
  for (int d = 2; d < dim; ++d) {
    sliceOffset = sliceOffset * height + slice;
  }
  for (std::int64_t cell = 0; cell < static_cast<std::int64_t>(out.size()); ++cell) {
    const T* block = values + cell * inner;
    if (projection == DensityView::Projection::Slice) {
      out[static_cast<std::size_t>(cell)] = static_cast<double>(block[sliceOffset]);
    } else {
      double sum = 0.0;
      for (std::int64_t r = 0; r < inner; ++r) {
        sum += static_cast<double>(block[r]);
      }
      out[static_cast<std::size_t>(cell)] = sum;
    }
  }
  return out;
}

std::vector<double> DensityView::project(const double* values) const
{
  const core::HypergridSpec& grid = m_store->description().grid;
  return projectDensity(values, grid.dim, grid.height, m_projection, m_slice);
}

std::vector<double> DensityView::project(const float* values) const
{
  const core::HypergridSpec& grid = m_store->description().grid;
  return projectDensity(values, grid.dim, grid.height, m_projection, m_slice);
}

void DensityView::updateHeatmaps()
{
  const ExperimentDescription& description = m_store->description();
  const int kx = description.grid.height;
  const int ky = description.grid.dim >= 2 ? description.grid.height : 1;
  const auto cells = static_cast<std::size_t>(kx) * static_cast<std::size_t>(ky);
  for (QCPColorMap* map : m_maps) {
    static_cast<GridTicker*>(map->keyAxis()->ticker().data())->setCells(kx);
    static_cast<GridTicker*>(map->valueAxis()->ticker().data())->setCells(ky);
  }
  const std::size_t states = static_cast<std::size_t>(description.stateCount());

  m_shown = m_store->latest(m_run);
  const std::vector<double> target = targetForView();
  m_target2d = target.size() == states ? project(target.data()) : std::vector<double>(cells, 0.0);
  m_learned2d.assign(cells, std::numeric_limits<double>::quiet_NaN());
  if (m_shown) {
    const std::vector<float>* learned = &m_shown->density;
    if (m_part >= 0 && m_part < static_cast<int>(m_shown->partDensities.size())) {
      learned = &m_shown->partDensities[static_cast<std::size_t>(m_part)];
    }
    if (learned->size() == states) {
      m_learned2d = project(learned->data());
    }
  }

  for (QCPColorMap* map : m_maps) {
    map->data()->setSize(kx, ky);
    map->data()->setRange(QCPRange(0, kx - 1), QCPRange(0, std::max(ky - 1, 0)));
  }
  for (int x = 0; x < kx; ++x) {
    for (int y = 0; y < ky; ++y) {
      const std::size_t i = static_cast<std::size_t>(x) * ky + y;
      m_maps[Target]->data()->setCell(x, y, m_target2d[i]);
      m_maps[Learned]->data()->setCell(x, y, m_learned2d[i]);
      m_maps[Difference]->data()->setCell(x, y, m_learned2d[i] - m_target2d[i]);
    }
  }

  auto* learnedTitle = qobject_cast<QCPTextElement*>(m_plot->plotLayout()->element(0, 1));
  if (learnedTitle) {
    learnedTitle->setText(
      m_shown ? tr("Learned p — step %1, L1 = %2").arg(m_shown->step).arg(m_shown->l1, 0, 'f', 3)
              : tr("Learned p — waiting for the first evaluation"));
  }
  ++m_heatmapUpdates;
  updateScales();
}

void DensityView::updateScales()
{
  double top = 0.0;
  double lowestPositive = std::numeric_limits<double>::infinity();
  double spread = 0.0;
  for (std::size_t i = 0; i < m_target2d.size(); ++i) {
    for (double v : { m_target2d[i], m_learned2d[i] }) {
      if (std::isfinite(v)) {
        top = std::max(top, v);
        if (v > 0.0) {
          lowestPositive = std::min(lowestPositive, v);
        }
      }
    }
    const double d = m_learned2d[i] - m_target2d[i];
    if (std::isfinite(d)) {
      spread = std::max(spread, std::abs(d));
    }
  }
  top = top > 0.0 ? top : 1.0;

  QCPAxis* axis = m_scale->axis();
  if (m_logScale) {
    const double bottom =
      std::max(top * std::pow(10.0, -kLogDecades), std::min(lowestPositive, top / 10.0));
    m_scale->setDataScaleType(QCPAxis::stLogarithmic);
    m_scale->setDataRange(QCPRange(bottom, top));
    axis->setTicker(QSharedPointer<QCPAxisTickerLog>::create());
    // Powers of ten read best over several decades; within one or two, the log ticker puts
    // ticks between the powers, which "eb" with no digits would print alike.
    const bool decades = top / bottom >= 100.0;
    axis->setNumberFormat(decades ? QStringLiteral("eb") : QStringLiteral("g"));
    axis->setNumberPrecision(decades ? 0 : 2);
  } else {
    m_scale->setDataScaleType(QCPAxis::stLinear);
    m_scale->setDataRange(QCPRange(0.0, top));
    axis->setTicker(QSharedPointer<QCPAxisTicker>::create());
    axis->setNumberFormat(QStringLiteral("g"));
    axis->setNumberPrecision(2);
  }

  spread = spread > 0.0 ? spread : 1e-12;
  m_diffScale->setDataRange(QCPRange(-spread, spread));
  m_diffScale->axis()->setNumberFormat(QStringLiteral("g"));
  m_diffScale->axis()->setNumberPrecision(2);
}

void DensityView::updateOverlay()
{
  m_overlayRun = m_run;
  QVector<double> xs;
  QVector<double> ys;
  const ExperimentDescription& description = m_store->description();
  const bool drawable = m_run >= 0 && m_projection == Projection::Slice;
  const RunDescription* run =
    drawable ? &description.runs[static_cast<std::size_t>(m_run)] : nullptr;

  if (run && run->parts > 1 && run->partOf &&
      static_cast<std::int64_t>(run->partOf->size()) == description.stateCount()) {
    std::vector<double> parts(run->partOf->begin(), run->partOf->end());
    const std::vector<double> part2d = project(parts.data());
    const int kx = description.grid.height;
    const int ky = description.grid.dim >= 2 ? description.grid.height : 1;
    const auto at = [&](int x, int y) { return part2d[static_cast<std::size_t>(x) * ky + y]; };
    const double nan = std::numeric_limits<double>::quiet_NaN();

    // Collinear unit edges are merged into one segment; NaN separates the segments.
    for (int x = 0; x + 1 < kx; ++x) {
      for (int y = 0; y < ky;) {
        if (at(x, y) == at(x + 1, y)) {
          ++y;
          continue;
        }
        const int start = y;
        while (y < ky && at(x, y) != at(x + 1, y)) {
          ++y;
        }
        xs << x + 0.5 << x + 0.5 << nan;
        ys << start - 0.5 << y - 0.5 << nan;
      }
    }
    for (int y = 0; y + 1 < ky; ++y) {
      for (int x = 0; x < kx;) {
        if (at(x, y) == at(x, y + 1)) {
          ++x;
          continue;
        }
        const int start = x;
        while (x < kx && at(x, y) != at(x, y + 1)) {
          ++x;
        }
        xs << start - 0.5 << x - 0.5 << nan;
        ys << y + 0.5 << y + 0.5 << nan;
      }
    }
  }

  for (QCPCurve* curve : m_overlay) {
    curve->setData(xs, ys);
  }
}

void DensityView::fitSquareCells()
{
  const core::HypergridSpec& grid = m_store->description().grid;
  const double kx = std::max(grid.height, 1);
  const double ky = grid.dim >= 2 ? kx : 1.0;
  for (QCPColorMap* map : m_maps) {
    QCPAxisRect* rect = map->keyAxis()->axisRect();
    if (rect->width() <= 0 || rect->height() <= 0) {
      continue;
    }
    const double pixelsPerCell = std::min(rect->width() / kx, rect->height() / ky);
    const double spanX = rect->width() / pixelsPerCell;
    const double spanY = rect->height() / pixelsPerCell;
    // The map sits on its axes; the slack that keeps cells square goes right and up, so the
    // tick labels stay next to the cells.
    map->keyAxis()->setRange(QCPRange(-0.5, -0.5 + spanX));
    map->valueAxis()->setRange(QCPRange(-0.5, -0.5 + spanY));
  }
}

QString DensityView::cellReadout(int x0, int x1) const
{
  const ExperimentDescription& description = m_store->description();
  const int kx = description.grid.height;
  const int ky = description.grid.dim >= 2 ? description.grid.height : 1;
  if (x0 < 0 || x0 >= kx || x1 < 0 || x1 >= ky || m_target2d.empty()) {
    return QString();
  }

  const std::size_t i = static_cast<std::size_t>(x0) * ky + x1;
  QString cell =
    description.grid.dim >= 2 ? tr("cell (%1, %2)").arg(x0).arg(x1) : tr("cell %1").arg(x0);
  if (description.grid.dim >= 3) {
    cell +=
      m_projection == Projection::Slice ? tr(", x₂… = %1").arg(m_slice) : tr(", summed over x₂…");
  }
  QString text =
    tr("%1 · target π = %2 · learned p = %3")
      .arg(cell,
           formatProbability(m_target2d[i]),
           std::isfinite(m_learned2d[i]) ? formatProbability(m_learned2d[i]) : tr("—"));

  const RunDescription* run =
    m_run >= 0 ? &description.runs[static_cast<std::size_t>(m_run)] : nullptr;
  if (run && run->parts > 1 && run->partOf && m_projection == Projection::Slice) {
    std::int64_t index = static_cast<std::int64_t>(x0) * (description.grid.dim >= 2 ? kx : 1);
    if (description.grid.dim >= 2) {
      index += x1;
    }
    for (int d = 2; d < description.grid.dim; ++d) {
      index = index * kx + m_slice;
    }
    text += tr(" · part %1").arg((*run->partOf)[static_cast<std::size_t>(index)] + 1);
  }
  return text;
}

void DensityView::showHover(QMouseEvent* event)
{
  const QPointF pos = event->position();
  for (QCPColorMap* map : m_maps) {
    if (!map->keyAxis()->axisRect()->rect().contains(pos.toPoint())) {
      continue;
    }
    const int x0 = static_cast<int>(std::lround(map->keyAxis()->pixelToCoord(pos.x())));
    const int x1 = static_cast<int>(std::lround(map->valueAxis()->pixelToCoord(pos.y())));
    const QString text = cellReadout(x0, x1);
    if (!text.isEmpty()) {
      m_hoverLabel->setText(text);
    }
    return;
  }
}

QString DensityView::csv() const
{
  QString text;
  QTextStream out(&text);
  out << "x0,x1,target,learned\n";
  const core::HypergridSpec& grid = m_store->description().grid;
  const int ky = grid.dim >= 2 ? grid.height : 1;
  for (std::size_t i = 0; i < m_target2d.size(); ++i) {
    out << static_cast<int>(i) / ky << ',' << static_cast<int>(i) % ky << ','
        << QString::number(m_target2d[i], 'g', 9) << ',' << QString::number(m_learned2d[i], 'g', 9)
        << '\n';
  }
  return text;
}

} // namespace gfm::ui

#include "moc_density_view.cpp"
