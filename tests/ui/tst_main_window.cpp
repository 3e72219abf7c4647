#include "ui/main_window.h"

#include "core/run/experiment.h"
#include "ui/curves_view.h"
#include "ui/density_view.h"
#include "ui/experiment_panel.h"
#include "ui/plot_exporter.h"
#include "ui/session_player.h"
#include "ui/snapshot_store.h"

#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QImage>
#include <QJsonDocument>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

#include <qcustomplot.h>

using gfm::ui::DensityView;
using gfm::ui::MainWindow;

namespace {

/** A small grid and small networks, with more steps than any test waits for. */
QByteArray tinyConfig()
{
  return R"({
    "name": "tiny",
    "env": {"kind": "hypergrid", "dim": 2, "height": 8, "r0": 0.1},
    "policy": {"hidden": 32, "layers": 2},
    "training": {"steps": 1000000, "batch": 4},
    "runs": [{"name": "standard", "parts": 1},
             {"name": "perfect", "partition": {"kind": "nearest-mode"}}],
    "eval": {"every": 20}
  })";
}

/** Steps one chunk of every worker may still take after a pause (core's chunk is 20). */
constexpr qint64 kChunkSteps = 20;

} // namespace

class TestMainWindow : public QObject
{
  Q_OBJECT

private slots:
  void initTestCase();
  void snapshotsReachTheViews();
  void pauseStopsProgressWithinAChunk();
  void closingDuringTrainingExitsQuickly();
  void exportsPaperFigures();
  void recordsASessionThatReplays();

private:
  QString m_configPath;
  QTemporaryDir m_dir;
};

void TestMainWindow::initTestCase()
{
  // Window layout and preferences go to a throw-away test location.
  QStandardPaths::setTestModeEnabled(true);
  QVERIFY(m_dir.isValid());
  m_configPath = m_dir.filePath(QStringLiteral("tiny.json"));
  QFile file(m_configPath);
  QVERIFY(file.open(QIODevice::WriteOnly));
  file.write(tinyConfig());
}

void TestMainWindow::snapshotsReachTheViews()
{
  MainWindow window;
  QString error;
  QVERIFY2(window.openConfig(m_configPath, &error), qPrintable(error));
  window.panel()->setThreads(1);
  QVERIFY(window.startExperiment());
  QVERIFY(window.experiment());

  // Evaluations at step 0 and 20 of both runs.
  QTRY_VERIFY_WITH_TIMEOUT(window.store()->received() >= 4, 30000);
  window.stopExperiment();
  QSignalSpy ended(&window, &MainWindow::experimentEnded);
  QVERIFY(ended.wait(10000));
  window.store()->flush();

  const gfm::core::SnapshotPtr latest = window.store()->latest(0);
  QVERIFY(latest);
  window.densityView()->setRun(0);
  const int h = 8;
  for (const auto& [x, y] : { std::pair{ 0, 0 }, { 2, 5 }, { 7, 7 } }) {
    QCOMPARE(window.densityView()->map(DensityView::Learned)->data()->cell(x, y),
             static_cast<double>(latest->density[static_cast<std::size_t>(x * h + y)]));
  }
  const QCPGraph* l1 = window.curvesView()->l1Graph(0);
  QVERIFY(!l1->data()->isEmpty());
  QCOMPARE((l1->data()->constEnd() - 1)->value, latest->l1);
  QCOMPARE((l1->data()->constEnd() - 1)->key, static_cast<double>(latest->step));
}

void TestMainWindow::pauseStopsProgressWithinAChunk()
{
  MainWindow window;
  QVERIFY(window.openConfig(m_configPath));
  window.panel()->setThreads(1);
  QVERIFY(window.startExperiment());
  gfm::core::Experiment* experiment = window.experiment();
  QTRY_VERIFY_WITH_TIMEOUT(experiment->stepsDone() > 0, 30000);

  window.pauseExperiment();
  const qint64 atPause = experiment->stepsDone();
  QTest::qWait(1500);
  const qint64 settled = experiment->stepsDone();
  QVERIFY2(settled - atPause <= kChunkSteps,
           qPrintable(QStringLiteral("%1 steps after pause").arg(settled - atPause)));
  QTest::qWait(500);
  QCOMPARE(experiment->stepsDone(), settled);

  window.resumeExperiment();
  QTRY_VERIFY_WITH_TIMEOUT(experiment->stepsDone() > settled, 10000);

  QSignalSpy ended(&window, &MainWindow::experimentEnded);
  window.stopExperiment();
  QVERIFY(ended.wait(10000));
  QCOMPARE(ended.first().first().toBool(), false);
  QVERIFY(window.panel()->canStart());
}

void TestMainWindow::closingDuringTrainingExitsQuickly()
{
  auto* window = new MainWindow;
  window->setAttribute(Qt::WA_DeleteOnClose);
  QVERIFY(window->openConfig(m_configPath));
  window->panel()->setThreads(2);
  window->show();
  QVERIFY(window->startExperiment());
  QTRY_VERIFY_WITH_TIMEOUT(window->experiment()->stepsDone() > 0, 30000);

  QPointer<MainWindow> guard(window);
  QElapsedTimer clock;
  clock.start();
  QVERIFY(window->close());
  QTRY_VERIFY_WITH_TIMEOUT(guard.isNull(), 5000);
  QVERIFY2(clock.elapsed() < 5000, qPrintable(QString::number(clock.elapsed())));
}

void TestMainWindow::exportsPaperFigures()
{
  MainWindow window;
  QVERIFY(window.openConfig(m_configPath));
  QTemporaryDir out;
  QString error;
  QVERIFY2(window.exportFigures(out.filePath(QStringLiteral("figures")), &error),
           qPrintable(error));

  const QDir dir(out.filePath(QStringLiteral("figures")));
  for (const QString& name : { QStringLiteral("densities"),
                               QStringLiteral("l1"),
                               QStringLiteral("log-z"),
                               QStringLiteral("part-z"),
                               QStringLiteral("loss") }) {
    for (const char* suffix : { "png", "pdf", "svg", "csv" }) {
      const QFileInfo file(dir.filePath(QStringLiteral("%1.%2").arg(name, suffix)));
      QVERIFY2(file.exists() && file.size() > 0, qPrintable(file.filePath()));
    }
  }
  QCOMPARE(QImage(dir.filePath(QStringLiteral("l1.png"))).size(),
           gfm::ui::PlotExporter::kFigureSize);
}

void TestMainWindow::recordsASessionThatReplays()
{
  const QString path = m_dir.filePath(QStringLiteral("recorded.gflowmix"));
  {
    MainWindow window;
    QVERIFY(window.openConfig(m_configPath));
    window.panel()->setThreads(1);
    window.panel()->setSessionPath(path);
    QSignalSpy closed(&window, &MainWindow::sessionClosed);
    QVERIFY(window.startExperiment());
    QTRY_VERIFY_WITH_TIMEOUT(window.store()->received() >= 4, 30000);
    window.stopExperiment();
    QVERIFY(closed.wait(10000));
    QCOMPARE(closed.first().at(0).toString(), path);
    QVERIFY(closed.first().at(1).toBool());
  }

  gfm::ui::SnapshotStore store;
  gfm::ui::SessionPlayer player(&store);
  QString error;
  QVERIFY2(player.open(path, &error), qPrintable(error));
  QCOMPARE(player.status(), QStringLiteral("stopped"));
  QCOMPARE(store.description().runs.size(), std::size_t(2));
  QVERIFY(store.series(0).size() >= 2);
  QVERIFY(store.latest(1));
  QCOMPARE(store.latest(1)->density.size(), std::size_t(64));
}

QTEST_MAIN(TestMainWindow)
#include "tst_main_window.moc"
