#pragma once

#include <QWidget>

#include <utility>
#include <vector>

class QComboBox;
class QCustomPlot;
class QCPBars;
class QCPGraph;

namespace gfm::ui {

class SnapshotStore;

/**
 * @brief Training curves of every run: L1 (with a min–max band across seeds), log Z against
 * the true log Z, each part's Z_i against its true mass R(X_i), and the loss.
 *
 * Curves keep every evaluation point; they are rebuilt from the store's series on each
 * (coalesced) change, which is cheap at a few hundred points per run.
 */
class CurvesView : public QWidget
{
  Q_OBJECT

public:
  /** @brief The horizontal axis of the time curves. */
  enum class TimeAxis
  {
    Steps,
    WallSeconds
  };

  explicit CurvesView(SnapshotStore* store, QWidget* parent = nullptr);

  QCustomPlot* l1Plot() const { return m_l1Plot; }
  QCustomPlot* logZPlot() const { return m_logZPlot; }
  QCustomPlot* partsPlot() const { return m_partsPlot; }
  QCustomPlot* lossPlot() const { return m_lossPlot; }
  /** @brief Every plot of the view, for exports. */
  std::vector<QCustomPlot*> plots() const;

  /** @brief A run's L1 line (thin when the run is one seed of several). */
  QCPGraph* l1Graph(int run) const;
  QCPGraph* logZGraph(int run) const;
  QCPGraph* lossGraph(int run) const;
  /** @brief The lower and upper edge of a group's min–max band; null when it has one seed. */
  std::pair<QCPGraph*, QCPGraph*> band(int group) const;
  /** @brief Bars of the learned Z_i and of the true R(X_i) of the selected run's parts. */
  QCPBars* learnedZBars() const { return m_learnedBars; }
  QCPBars* trueZBars() const { return m_trueBars; }

  TimeAxis timeAxis() const { return m_timeAxis; }

public slots:
  void setTimeAxis(gfm::ui::CurvesView::TimeAxis axis);
  /** @brief The run whose parts are shown in the Z_i bars. */
  void setPartsRun(int run);

private:
  void rebuild();
  void refresh();
  void updateBands();
  void updateParts();

  SnapshotStore* m_store = nullptr;
  QCustomPlot* m_l1Plot = nullptr;
  QCustomPlot* m_logZPlot = nullptr;
  QCustomPlot* m_partsPlot = nullptr;
  QCustomPlot* m_lossPlot = nullptr;
  QComboBox* m_timeBox = nullptr;
  QComboBox* m_partsRunBox = nullptr;

  std::vector<QCPGraph*> m_l1;
  std::vector<QCPGraph*> m_logZ;
  std::vector<QCPGraph*> m_loss;
  std::vector<std::pair<QCPGraph*, QCPGraph*>> m_bands;
  QCPGraph* m_trueLogZ = nullptr;
  QCPBars* m_learnedBars = nullptr;
  QCPBars* m_trueBars = nullptr;
  TimeAxis m_timeAxis = TimeAxis::Steps;
  int m_partsRun = 0;
};

} // namespace gfm::ui
