#pragma once

#include "core/run/snapshot.h"

#include <QString>
#include <QWidget>

#include <array>
#include <vector>

class QCheckBox;
class QComboBox;
class QLabel;
class QSlider;
class QCustomPlot;
class QCPColorMap;
class QCPColorScale;
class QCPCurve;
class QCPLayer;
class QMouseEvent;

namespace gfm::ui {

class SnapshotStore;

/**
 * @brief Target, learned and difference densities of one run side by side, as heat maps.
 *
 * Target π and learned p share one colour scale (linear or log); the difference p − π has its
 * own symmetric diverging scale. The view shows either the run's mixture or one part i (then
 * the target is π restricted to X_i and renormalised, and the learned density is p_i). Grids
 * with D ≥ 3 are shown as the (x₀, x₁) slice at a chosen value of the other coordinates, or
 * as the (x₀, x₁) marginal. Part boundaries are drawn on their own layer, so toggling them
 * replots that layer without recomputing the heat maps.
 */
class DensityView : public QWidget
{
  Q_OBJECT

public:
  /** @brief The three heat maps, left to right. */
  enum Panel
  {
    Target = 0,
    Learned = 1,
    Difference = 2
  };

  /** @brief How a D ≥ 3 grid is brought down to two dimensions. */
  enum class Projection
  {
    Slice,   ///< every coordinate past x₁ fixed at the slice value
    Marginal ///< summed over every coordinate past x₁
  };

  explicit DensityView(SnapshotStore* store, QWidget* parent = nullptr);

  QCustomPlot* plot() const { return m_plot; }
  QCPColorMap* map(Panel panel) const { return m_maps[panel]; }
  /** @brief The layer holding the part boundaries. */
  QCPLayer* overlayLayer() const { return m_overlayLayer; }

  int currentRun() const { return m_run; }
  /** @brief -1 for the mixture, else the part shown. */
  int currentPart() const { return m_part; }
  bool logScale() const { return m_logScale; }
  bool overlayVisible() const;

  /** @brief The read-out for one cell of the current projection, as in the hover label. */
  QString cellReadout(int x0, int x1) const;

  /** @brief Cells (x₀, x₁) of the current projection, for exports: `x0,x1,target,learned`. */
  QString csv() const;

  /** @brief Heat maps recomputed since construction (a test hook: toggles must not). */
  int heatmapUpdates() const { return m_heatmapUpdates; }

public slots:
  void setRun(int run);
  void setPart(int part);
  void setLogScale(bool on);
  void setOverlayVisible(bool on);
  void setProjection(gfm::ui::DensityView::Projection projection);
  void setSlice(int value);

private:
  void rebuildSelectors();
  void refresh();
  void updateHeatmaps();
  void updateOverlay();
  void updateScales();
  void fitSquareCells();
  void showHover(QMouseEvent* event);
  std::vector<double> project(const double* values) const;
  std::vector<double> project(const float* values) const;
  std::vector<double> targetForView() const;

  SnapshotStore* m_store = nullptr;
  QCustomPlot* m_plot = nullptr;
  std::array<QCPColorMap*, 3> m_maps{};
  std::array<QCPCurve*, 3> m_overlay{};
  QCPColorScale* m_scale = nullptr;
  QCPColorScale* m_diffScale = nullptr;
  QCPLayer* m_overlayLayer = nullptr;

  QComboBox* m_runBox = nullptr;
  QComboBox* m_partBox = nullptr;
  QComboBox* m_scaleBox = nullptr;
  QCheckBox* m_overlayBox = nullptr;
  QComboBox* m_projectionBox = nullptr;
  QSlider* m_sliceSlider = nullptr;
  QLabel* m_sliceLabel = nullptr;
  QLabel* m_hoverLabel = nullptr;

  int m_run = 0;
  int m_part = -1;
  bool m_logScale = false;
  Projection m_projection = Projection::Slice;
  int m_slice = 0;
  int m_overlayRun = -1;
  int m_overlaySlice = -1;
  core::SnapshotPtr m_shown;
  std::vector<double> m_target2d;
  std::vector<double> m_learned2d;
  int m_heatmapUpdates = 0;
};

} // namespace gfm::ui
