#include "ui/main_window.h"

#include "core/run/experiment.h"
#include "core/session/session_recorder.h"
#include "core/session/session_writer.h"
#include "ui/curves_view.h"
#include "ui/density_view.h"
#include "ui/experiment_panel.h"
#include "ui/log_view.h"
#include "ui/logging.h"
#include "ui/plot_exporter.h"
#include "ui/session_player.h"
#include "ui/timeline_bar.h"

#include <QAction>
#include <QApplication>
#include <QCloseEvent>
#include <QDir>
#include <QDockWidget>
#include <QFileDialog>
#include <QFileInfo>
#include <QLabel>
#include <QMenu>
#include <QMenuBar>
#include <QMessageBox>
#include <QProgressBar>
#include <QSettings>
#include <QStatusBar>
#include <QVBoxLayout>

#include <qcustomplot.h>

#include <algorithm>

namespace gfm::ui {
namespace {

/** How long closing the window waits for the workers to finish their chunk. */
constexpr int kStopTimeoutMs = 10000;

QSettings settings()
{
  return QSettings(QStringLiteral("gflowmix"), QStringLiteral("gflowmix"));
}

QString formatDuration(double seconds)
{
  if (!(seconds >= 0.0) || seconds > 360000.0) {
    return QStringLiteral("—");
  }
  const auto s = static_cast<qint64>(seconds + 0.5);
  if (s >= 3600) {
    return QStringLiteral("%1 h %2 min").arg(s / 3600).arg((s % 3600) / 60, 2, 10, QChar('0'));
  }
  if (s >= 60) {
    return QStringLiteral("%1 min %2 s").arg(s / 60).arg(s % 60, 2, 10, QChar('0'));
  }
  return QStringLiteral("%1 s").arg(s);
}

} // namespace

MainWindow::MainWindow(QWidget* parent)
  : QMainWindow(parent)
{
  qRegisterMetaType<gfm::core::SnapshotPtr>();
  setWindowTitle(tr("gflowmix"));
  setDockOptions(QMainWindow::AnimatedDocks | QMainWindow::AllowTabbedDocks);
  // The experiment panel runs the full height on the left, so that its form does not set
  // how tall the density maps must be; the curves sit under the maps only.
  setCorner(Qt::BottomLeftCorner, Qt::LeftDockWidgetArea);

  // The maps, with the replay timeline under them while a session is open.
  auto* central = new QWidget(this);
  auto* centralLayout = new QVBoxLayout(central);
  centralLayout->setContentsMargins(0, 0, 0, 0);
  centralLayout->setSpacing(0);
  m_density = new DensityView(&m_store, central);
  m_timeline = new TimelineBar(central);
  m_timeline->hide();
  centralLayout->addWidget(m_density, 1);
  centralLayout->addWidget(m_timeline);
  setCentralWidget(central);

  m_panel = new ExperimentPanel(this);
  m_panelDock = new QDockWidget(tr("Experiment"), this);
  m_panelDock->setObjectName(QStringLiteral("experimentDock"));
  m_panelDock->setWidget(m_panel);
  addDockWidget(Qt::LeftDockWidgetArea, m_panelDock);

  m_curves = new CurvesView(&m_store, this);
  m_curvesDock = new QDockWidget(tr("Curves"), this);
  m_curvesDock->setObjectName(QStringLiteral("curvesDock"));
  m_curvesDock->setWidget(m_curves);
  addDockWidget(Qt::BottomDockWidgetArea, m_curvesDock);

  m_log = new LogView(this);
  m_logDock = new QDockWidget(tr("Log"), this);
  m_logDock->setObjectName(QStringLiteral("logDock"));
  m_logDock->setWidget(m_log);
  addDockWidget(Qt::BottomDockWidgetArea, m_logDock);
  tabifyDockWidget(m_curvesDock, m_logDock);
  m_curvesDock->raise();

  attachExportMenu(m_density->plot(), tr("densities"));
  for (QCustomPlot* plot : m_curves->plots()) {
    attachExportMenu(plot, plot->objectName());
  }

  buildMenus();
  buildStatusBar();

  m_player = new SessionPlayer(&m_store, this);
  connect(m_player, &SessionPlayer::statusChanged, this, &MainWindow::showSessionStatus);
  connect(m_timeline, &TimelineBar::stepChosen, m_player, &SessionPlayer::seek);
  connect(m_player, &SessionPlayer::stepsChanged, this, [this] {
    // New snapshots of a live session: the bar follows them when it is at the end; a bar
    // scrubbed back keeps showing its step.
    const bool following = m_timeline->atEnd();
    m_timeline->setSteps(m_player->steps());
    if (!following) {
      m_player->seek(m_timeline->currentStep());
    }
  });

  connect(m_panel, &ExperimentPanel::startRequested, this, &MainWindow::startExperiment);
  connect(m_panel, &ExperimentPanel::pauseRequested, this, &MainWindow::pauseExperiment);
  connect(m_panel, &ExperimentPanel::resumeRequested, this, &MainWindow::resumeExperiment);
  connect(m_panel, &ExperimentPanel::stopRequested, this, &MainWindow::stopExperiment);
  connect(m_panel, &ExperimentPanel::configLoaded, this, [this](const QString& path) {
    setWindowTitle(tr("%1 — gflowmix").arg(QFileInfo(path).fileName()));
  });

  m_statusTimer.setInterval(500);
  connect(&m_statusTimer, &QTimer::timeout, this, &MainWindow::updateStatus);
  m_clock.start();

  resize(1500, 940);
  restoreSettings();
}

MainWindow::~MainWindow()
{
  if (m_experiment) {
    m_experiment->requestStop();
    m_experiment->wait(kStopTimeoutMs);
    delete m_experiment;
  }
  closeRecording();
}

core::Experiment* MainWindow::experiment() const
{
  return m_experiment;
}

void MainWindow::buildMenus()
{
  QMenu* file = menuBar()->addMenu(tr("&File"));
  QAction* open = file->addAction(tr("&Open…"), this, [this] {
    const QString path =
      QFileDialog::getOpenFileName(this,
                                   tr("Open a config or a session"),
                                   QString(),
                                   tr("Configs and sessions (*.json *.gflowmix);;All files (*)"));
    QString error;
    if (!path.isEmpty() && !openFile(path, &error)) {
      QMessageBox::warning(this, tr("Cannot open"), error);
    }
  });
  open->setShortcut(QKeySequence::Open);
  QMenu* exportMenu = file->addMenu(tr("&Export figure"));
  std::vector<std::pair<QCustomPlot*, QString>> figures = {
    { m_density->plot(), tr("Densities") },
    { m_curves->l1Plot(), tr("L1 distance") },
    { m_curves->logZPlot(), tr("log Z") },
    { m_curves->partsPlot(), tr("Per-part Z_i") },
    { m_curves->lossPlot(), tr("Loss") }
  };
  for (const auto& [plot, label] : figures) {
    QCustomPlot* target = plot;
    exportMenu->addAction(label + tr("…"), this, [this, target] {
      exportPlotInteractive(target, target->objectName());
    });
  }
  file->addAction(tr("Export &paper figures…"), this, &MainWindow::exportPaperFigures);
  file->addSeparator();
  QAction* quit = file->addAction(tr("&Quit"), this, &QWidget::close);
  quit->setShortcut(QKeySequence::Quit);

  QMenu* view = menuBar()->addMenu(tr("&View"));
  view->addAction(m_panelDock->toggleViewAction());
  view->addAction(m_curvesDock->toggleViewAction());
  view->addAction(m_logDock->toggleViewAction());

  QMenu* help = menuBar()->addMenu(tr("&Help"));
  help->addAction(tr("&About gflowmix"), this, [this] {
    QMessageBox::about(this,
                       tr("About gflowmix"),
                       tr("<b>gflowmix %1</b><p>Train a mixture of GFlowNets on disjoint "
                          "parts of the state space and watch it learn.</p>"
                          "<p>Licence: GPL-3.0-or-later.</p>")
                         .arg(QApplication::applicationVersion()));
  });
}

void MainWindow::buildStatusBar()
{
  m_stepLabel = new QLabel(tr("Idle"), this);
  m_rateLabel = new QLabel(this);
  m_etaLabel = new QLabel(this);
  m_progress = new QProgressBar(this);
  m_progress->setRange(0, 1000);
  m_progress->setValue(0);
  m_progress->setMaximumWidth(260);
  m_progress->setTextVisible(true);
  m_progress->setFormat(QStringLiteral("%p%"));
  for (QLabel* label : { m_stepLabel, m_rateLabel, m_etaLabel }) {
    label->setContentsMargins(10, 0, 10, 0);
  }
  m_stepLabel->setToolTip(tr("Optimiser steps per part, done and asked for"));
  m_rateLabel->setToolTip(tr("Optimiser steps per part per second, over the last seconds"));
  m_etaLabel->setToolTip(tr("Time left at the current speed"));
  statusBar()->addPermanentWidget(m_stepLabel);
  statusBar()->addPermanentWidget(m_rateLabel);
  statusBar()->addPermanentWidget(m_etaLabel);
  statusBar()->addPermanentWidget(m_progress);
}

void MainWindow::attachExportMenu(QCustomPlot* plot, const QString& title)
{
  plot->setContextMenuPolicy(Qt::CustomContextMenu);
  connect(plot, &QWidget::customContextMenuRequested, this, [this, plot, title](QPoint pos) {
    QMenu menu(this);
    menu.addAction(
      tr("Export figure…"), this, [this, plot, title] { exportPlotInteractive(plot, title); });
    menu.addAction(tr("Export data as CSV…"), this, [this, plot, title] {
      const QString path =
        QFileDialog::getSaveFileName(this, tr("Export data"), title + ".csv", tr("CSV (*.csv)"));
      QString error;
      if (!path.isEmpty() && !PlotExporter::writeText(path, PlotExporter::plotCsv(plot), &error)) {
        QMessageBox::warning(this, tr("Export failed"), error);
      }
    });
    menu.exec(plot->mapToGlobal(pos));
  });
}

void MainWindow::exportPlotInteractive(QCustomPlot* plot, const QString& title)
{
  const QString path = QFileDialog::getSaveFileName(
    this,
    tr("Export figure"),
    title + ".png",
    tr("PNG image (*.png);;PDF document (*.pdf);;SVG drawing (*.svg)"));
  if (path.isEmpty()) {
    return;
  }
  QString error;
  if (!PlotExporter::exportPlot(plot, path, PlotExporter::figureSize(plot), &error)) {
    QMessageBox::warning(this, tr("Export failed"), error);
  } else {
    statusBar()->showMessage(tr("Wrote %1").arg(path), 5000);
  }
}

std::vector<std::pair<QCustomPlot*, QString>> MainWindow::figures() const
{
  std::vector<std::pair<QCustomPlot*, QString>> all = { { m_density->plot(),
                                                          QStringLiteral("densities") } };
  for (QCustomPlot* plot : m_curves->plots()) {
    all.emplace_back(plot, plot->objectName());
  }
  return all;
}

QStringList MainWindow::figureNames() const
{
  QStringList names;
  for (const auto& figure : figures()) {
    names << figure.second;
  }
  return names;
}

bool MainWindow::exportFigure(const QString& name, const QString& path, QString* error)
{
  for (const auto& [plot, figureName] : figures()) {
    if (figureName != name) {
      continue;
    }
    if (path.endsWith(QLatin1String(".csv"), Qt::CaseInsensitive)) {
      return PlotExporter::writeText(path, PlotExporter::plotCsv(plot), error);
    }
    return PlotExporter::exportPlot(plot, path, PlotExporter::figureSize(plot), error);
  }
  if (error) {
    *error = tr("no figure named \"%1\" (figures: %2)")
               .arg(name, figureNames().join(QStringLiteral(", ")));
  }
  return false;
}

bool MainWindow::exportFigures(const QString& folder, QString* error)
{
  if (!QDir().mkpath(folder)) {
    if (error) {
      *error = tr("%1: cannot create the folder").arg(folder);
    }
    return false;
  }

  const QDir dir(folder);
  for (const QString& name : figureNames()) {
    for (const char* suffix : { "png", "pdf", "svg", "csv" }) {
      if (!exportFigure(name, dir.filePath(QStringLiteral("%1.%2").arg(name, suffix)), error)) {
        return false;
      }
    }
  }
  qCInfo(lcUi).noquote() << "figures written to" << folder;
  return true;
}

void MainWindow::exportPaperFigures()
{
  const QString folder = QFileDialog::getExistingDirectory(this, tr("Export paper figures to"));
  if (folder.isEmpty()) {
    return;
  }
  QString error;
  if (!exportFigures(folder, &error)) {
    QMessageBox::warning(this, tr("Export failed"), error);
  } else {
    statusBar()->showMessage(tr("Figures written to %1").arg(folder), 5000);
  }
}

bool MainWindow::openConfig(const QString& path, QString* error)
{
  return m_panel->loadConfig(path, error);
}

bool MainWindow::openFile(const QString& path, QString* error)
{
  if (!path.endsWith(QStringLiteral(".gflowmix"), Qt::CaseInsensitive)) {
    return openConfig(path, error);
  }
  if (m_experiment) {
    if (error) {
      *error = tr("%1: stop the running experiment before opening a session").arg(path);
    }
    return false;
  }
  if (!m_player->open(path, error)) {
    return false;
  }
  m_timeline->setSteps(m_player->steps());
  m_timeline->show();
  // The session's config fills the panel, so that the same experiment can be run again.
  m_panel->setConfig(m_player->config(), path);
  setWindowTitle(tr("%1 — gflowmix").arg(QFileInfo(path).fileName()));
  showSessionStatus(m_player->status());
  return true;
}

bool MainWindow::startExperiment()
{
  if (m_experiment) {
    return false;
  }
  const std::optional<core::ExperimentSpec> spec = m_panel->validatedSpec();
  if (!spec) {
    qCWarning(lcUi).noquote() << "start refused:" << m_panel->errorText();
    return false;
  }

  m_player->close();
  m_timeline->pause();
  m_timeline->hide();
  auto* experiment = new core::Experiment(*spec, this);
  experiment->setThreads(m_panel->threads());
  m_experiment = experiment;

  // Every signal below is emitted on a worker thread and queued to this (GUI) thread.
  connect(experiment,
          &core::Experiment::snapshotReady,
          &m_store,
          &SnapshotStore::addSnapshot,
          Qt::QueuedConnection);
  connect(
    experiment, &core::Experiment::progressed, this, &MainWindow::onProgress, Qt::QueuedConnection);
  connect(
    experiment, &core::Experiment::finished, this, &MainWindow::onFinished, Qt::QueuedConnection);
  connect(
    experiment, &core::Experiment::errorOccurred, this, &MainWindow::onError, Qt::QueuedConnection);

  if (m_panel->recordSession() && !startRecording(experiment)) {
    delete experiment;
    return false;
  }

  m_store.reset(ExperimentDescription::fromExperiment(*experiment));
  m_done = 0;
  m_total = experiment->stepsTotal();
  m_rate = 0.0;
  m_rateDone = 0;
  m_rateTimeMs = m_clock.elapsed();
  m_progress->setValue(0);
  m_panel->setState(ExperimentPanel::State::Running);
  m_statusTimer.start();

  qCInfo(lcUi).noquote() << "starting" << spec->name << "with" << m_panel->threads() << "threads,"
                         << m_store.description().runs.size() << "runs";
  experiment->start();
  updateStatus();
  return true;
}

void MainWindow::showSessionStatus(const QString& status)
{
  const bool following = m_player->isFollowing();
  m_stepLabel->setText(following ? tr("session: following live") : tr("session: %1").arg(status));
  m_rateLabel->clear();
  m_etaLabel->clear();
  m_progress->setValue(status == QLatin1String("completed") ? 1000 : m_progress->value());
}

bool MainWindow::startRecording(core::Experiment* experiment)
{
  const QString path = m_panel->sessionPath();
  QDir().mkpath(QFileInfo(path).absolutePath());
  auto* writer = new core::SessionWriter(this);
  QString error;
  if (!writer->open(path, experiment->spec().json, &error)) {
    delete writer;
    qCWarning(lcUi).noquote() << "cannot record the session:" << error;
    QMessageBox::warning(this, tr("Cannot record the session"), error);
    return false;
  }

  // The writer appends on its own thread; the recorder closes it once the experiment ends.
  m_writer = writer;
  core::SessionRecorder* recorder = core::SessionRecorder::attach(experiment, writer);
  connect(recorder, &core::SessionRecorder::closed, this, [this, writer, path](bool ok) {
    if (m_writer == writer) {
      m_writer = nullptr;
    }
    writer->deleteLater();
    statusBar()->showMessage(ok ? tr("Session saved to %1").arg(path)
                                : tr("Session %1 is incomplete: a write failed").arg(path),
                             10000);
    emit sessionClosed(path, ok);
  });
  qCInfo(lcUi).noquote() << "recording the session to" << path;
  return true;
}

void MainWindow::closeRecording()
{
  if (!m_writer) {
    return;
  }
  // Closing marks a session that is still running as stopped and flushes it (blocking).
  const QString path = m_writer->path();
  const bool ok = m_writer->close();
  delete m_writer;
  m_writer = nullptr;
  emit sessionClosed(path, ok);
}

void MainWindow::pauseExperiment()
{
  if (m_experiment) {
    m_experiment->pause();
    m_panel->setState(ExperimentPanel::State::Paused);
    statusBar()->showMessage(tr("Paused"));
  }
}

void MainWindow::resumeExperiment()
{
  if (m_experiment) {
    m_experiment->resume();
    m_panel->setState(ExperimentPanel::State::Running);
    statusBar()->clearMessage();
  }
}

void MainWindow::stopExperiment()
{
  if (m_experiment) {
    m_experiment->requestStop();
    m_panel->setState(ExperimentPanel::State::Stopping);
    statusBar()->showMessage(tr("Stopping after the current chunk…"));
  }
}

void MainWindow::onProgress(qint64 done, qint64 total)
{
  m_done = done;
  m_total = total;
}

void MainWindow::updateStatus()
{
  const qint64 now = m_clock.elapsed();
  const qint64 elapsedMs = now - m_rateTimeMs;
  if (elapsedMs >= 400) {
    const double instant = 1000.0 * static_cast<double>(m_done - m_rateDone) / elapsedMs;
    // Exponential smoothing over a few seconds keeps the figure readable.
    m_rate = m_rate > 0.0 ? 0.7 * m_rate + 0.3 * instant : instant;
    m_rateDone = m_done;
    m_rateTimeMs = now;
  }

  const std::int64_t perPart = m_store.description().stepsPerPart;
  const double share = m_total > 0 ? static_cast<double>(m_done) / m_total : 0.0;
  const double partsPerStep =
    m_total > 0 && perPart > 0 ? static_cast<double>(m_total) / perPart : 1.0;
  m_stepLabel->setText(
    tr("step %1 / %2").arg(static_cast<qint64>(share * perPart + 0.5)).arg(perPart));
  m_rateLabel->setText(tr("%1 steps/s").arg(m_rate / partsPerStep, 0, 'f', 1));
  m_etaLabel->setText(tr("ETA %1").arg(m_rate > 0.0 ? formatDuration((m_total - m_done) / m_rate)
                                                    : QStringLiteral("—")));
  m_progress->setValue(static_cast<int>(share * 1000.0 + 0.5));
}

void MainWindow::onFinished(bool completed)
{
  m_statusTimer.stop();
  updateStatus();
  m_store.flush();
  m_panel->setState(ExperimentPanel::State::Idle);
  statusBar()->showMessage(completed ? tr("Finished") : tr("Stopped"), 10000);
  m_stepLabel->setText(completed ? tr("finished") : tr("stopped at ") + m_stepLabel->text());
  m_etaLabel->clear();
  m_rateLabel->clear();
  qCInfo(lcUi) << (completed ? "experiment finished" : "experiment stopped");

  if (m_experiment) {
    m_experiment->wait(kStopTimeoutMs);
    m_experiment->deleteLater();
    m_experiment = nullptr;
  }
  emit experimentEnded(completed);
}

void MainWindow::onError(const QString& message)
{
  qCWarning(lcUi).noquote() << "experiment error:" << message;
  statusBar()->showMessage(tr("Error: %1").arg(message));
  QMessageBox::warning(this, tr("Training failed"), message);
}

void MainWindow::closeEvent(QCloseEvent* event)
{
  saveSettings();
  if (m_experiment) {
    // The workers stop between chunks; waiting here (and only here) bounds shutdown by one
    // chunk instead of leaving threads behind a destroyed window.
    qCInfo(lcUi) << "stopping the experiment before closing";
    m_experiment->requestStop();
    if (!m_experiment->wait(kStopTimeoutMs)) {
      qCWarning(lcUi) << "workers did not stop within" << kStopTimeoutMs << "ms";
    }
    delete m_experiment;
  }
  closeRecording();
  event->accept();
}

void MainWindow::restoreSettings()
{
  QSettings s = settings();
  restoreGeometry(s.value(QStringLiteral("window/geometry")).toByteArray());
  if (!restoreState(s.value(QStringLiteral("window/state")).toByteArray())) {
    // First start: docks can only be sized once the window is laid out. The curves get
    // about half the height; the density maps are square and gain little from more.
    QTimer::singleShot(0, this, [this] {
      resizeDocks({ m_panelDock }, { 300 }, Qt::Horizontal);
      resizeDocks({ m_curvesDock }, { height() / 2 }, Qt::Vertical);
    });
  }
  // Log by default: on the hard grid the background is 4 decades below the modes.
  m_density->setLogScale(s.value(QStringLiteral("density/log"), true).toBool());
  if (s.contains(QStringLiteral("experiment/threads"))) {
    m_panel->setThreads(s.value(QStringLiteral("experiment/threads")).toInt());
  }
}

void MainWindow::saveSettings()
{
  QSettings s = settings();
  s.setValue(QStringLiteral("window/geometry"), saveGeometry());
  s.setValue(QStringLiteral("window/state"), saveState());
  s.setValue(QStringLiteral("density/log"), m_density->logScale());
  s.setValue(QStringLiteral("experiment/threads"), m_panel->threads());
  s.setValue(QStringLiteral("experiment/config"), m_panel->configPath());
}

} // namespace gfm::ui

#include "moc_main_window.cpp"
