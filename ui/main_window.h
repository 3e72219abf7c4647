#pragma once

#include "core/run/snapshot.h"
#include "ui/snapshot_store.h"

#include <QElapsedTimer>
#include <QMainWindow>
#include <QPointer>
#include <QTimer>

#include <cstdint>

class QAction;
class QCustomPlot;
class QDockWidget;
class QLabel;
class QProgressBar;

namespace gfm::core {
class Experiment;
class SessionWriter;
}

namespace gfm::ui {

class CurvesView;
class TimelineBar;
class DensityView;
class ExperimentPanel;
class LogView;
class SessionPlayer;

/**
 * @brief The workbench window: experiment dock, density views, curves, log and status bar.
 *
 * Owns the live Experiment while one runs. Snapshots reach the views through one
 * SnapshotStore (queued from the workers, redraws coalesced), so the GUI thread never waits
 * on training. Layout and preferences persist in QSettings ("gflowmix", "gflowmix").
 */
class MainWindow : public QMainWindow
{
  Q_OBJECT

public:
  explicit MainWindow(QWidget* parent = nullptr);
  ~MainWindow() override;

  /** @brief Loads a config into the experiment panel; false with `error` when unreadable. */
  bool openConfig(const QString& path, QString* error = nullptr);

  /** @brief Opens a file: a config (.json) or a session (.gflowmix). */
  bool openFile(const QString& path, QString* error = nullptr);

  /** @brief Starts the edited config; false when it is refused or a run is active. */
  bool startExperiment();

  /** @brief The running experiment, or null. */
  core::Experiment* experiment() const;

  SnapshotStore* store() { return &m_store; }
  DensityView* densityView() const { return m_density; }
  CurvesView* curvesView() const { return m_curves; }
  ExperimentPanel* panel() const { return m_panel; }
  LogView* logView() const { return m_log; }
  SessionPlayer* player() const { return m_player; }

  /**
   * @brief Writes every figure (PNG, PDF, SVG) and its data (CSV) into a folder: the
   * densities, L1, log Z, per-part Z_i and loss. False with `error` on the first failure.
   */
  bool exportFigures(const QString& folder, QString* error = nullptr);

  /** @brief Names of the figures exportFigure() knows: densities, then the curves. */
  QStringList figureNames() const;

  /**
   * @brief Writes one figure to `path`: .png, .pdf or .svg in the publication style, or .csv
   * for its data. False with `error` naming the figure or the file on failure.
   */
  bool exportFigure(const QString& name, const QString& path, QString* error = nullptr);

public slots:
  void pauseExperiment();
  void resumeExperiment();
  void stopExperiment();

signals:
  /** The experiment ended (completed or stopped) and was released. */
  void experimentEnded(bool completed);
  /** The recorded session was closed; `ok` is false when a write failed. */
  void sessionClosed(const QString& path, bool ok);

protected:
  void closeEvent(QCloseEvent* event) override;

private:
  std::vector<std::pair<QCustomPlot*, QString>> figures() const;
  void buildMenus();
  void buildStatusBar();
  void attachExportMenu(QCustomPlot* plot, const QString& title);
  void exportPlotInteractive(QCustomPlot* plot, const QString& title);
  void exportPaperFigures();
  void updateStatus();
  void onProgress(qint64 done, qint64 total);
  void onFinished(bool completed);
  void onError(const QString& message);
  bool startRecording(core::Experiment* experiment);
  void closeRecording();
  void showSessionStatus(const QString& status);
  void restoreSettings();
  void saveSettings();

  SnapshotStore m_store;
  QPointer<core::Experiment> m_experiment;
  SessionPlayer* m_player = nullptr;
  core::SessionWriter* m_writer = nullptr; ///< while a session is being recorded
  DensityView* m_density = nullptr;
  TimelineBar* m_timeline = nullptr;
  CurvesView* m_curves = nullptr;
  ExperimentPanel* m_panel = nullptr;
  LogView* m_log = nullptr;
  QDockWidget* m_panelDock = nullptr;
  QDockWidget* m_curvesDock = nullptr;
  QDockWidget* m_logDock = nullptr;

  QLabel* m_stepLabel = nullptr;
  QLabel* m_rateLabel = nullptr;
  QLabel* m_etaLabel = nullptr;
  QProgressBar* m_progress = nullptr;
  QTimer m_statusTimer;
  QElapsedTimer m_clock;
  qint64 m_done = 0;
  qint64 m_total = 0;
  qint64 m_rateDone = 0;
  qint64 m_rateTimeMs = 0;
  double m_rate = 0.0; ///< part-steps per second, smoothed
};

} // namespace gfm::ui
