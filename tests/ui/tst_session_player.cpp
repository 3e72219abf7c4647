#include "ui/session_player.h"

#include "core/env/hypergrid.h"
#include "core/run/experiment.h"
#include "core/session/session_writer.h"
#include "fixtures.h"
#include "ui/snapshot_store.h"

#include <QJsonDocument>

#include <QTemporaryDir>
#include <QTest>
#include <map>

using gfm::ui::SessionPlayer;
using gfm::ui::SnapshotStore;
namespace core = gfm::core;
namespace fx = gfm::ui::fixtures;

namespace {

/** Two runs on an 8×8 grid: "standard" and "perfect" (4 parts). */
core::ExperimentSpec tinySpec()
{
  const QJsonObject config = QJsonDocument::fromJson(R"({
    "name": "tiny",
    "env": {"kind": "hypergrid", "dim": 2, "height": 8, "r0": 0.1},
    "training": {"steps": 100},
    "runs": [{"name": "standard", "parts": 1},
             {"name": "perfect", "partition": {"kind": "nearest-mode"}}],
    "eval": {"every": 20}
  })")
                               .object();
  QString error;
  const auto spec = core::parseExperiment(config, QStringLiteral("tiny.json"), &error);
  if (!spec) {
    qFatal("%s", qPrintable(error));
  }
  return *spec;
}

} // namespace

class TestSessionPlayer : public QObject
{
  Q_OBJECT

private slots:
  void initTestCase();
  void replaysASession();
  void followsASessionBeingWritten();
  void seeksToEarlierSteps();
  void refusesAMissingFile();

private:
  /** Opens a session with the runs and target of tinySpec(). */
  bool openWriter(core::SessionWriter& writer, const QString& path);

  core::ExperimentSpec m_spec;
  gfm::ui::ExperimentDescription m_description;
  QTemporaryDir m_dir;
};

void TestSessionPlayer::initTestCase()
{
  m_spec = tinySpec();
  // The fixture's first two runs have the same names, groups and part counts.
  m_description = fx::description(2, 8);
  m_description.runs.resize(2);
}

bool TestSessionPlayer::openWriter(core::SessionWriter& writer, const QString& path)
{
  QString error;
  if (!writer.open(path, m_spec.json, &error)) {
    qWarning("%s", qPrintable(error));
    return false;
  }
  const core::Hypergrid grid(m_spec.grid);
  writer.writeRuns(core::planRuns(m_spec, grid));
  writer.writeTarget(grid.target());
  return true;
}

void TestSessionPlayer::replaysASession()
{
  const QString path = m_dir.filePath(QStringLiteral("replay.gflowmix"));
  core::SnapshotPtr last;
  {
    core::SessionWriter writer;
    QVERIFY(openWriter(writer, path));
    for (int step = 0; step <= 60; step += 20) {
      writer.appendSnapshot(fx::snapshot(m_description, 0, step, 1.5 - step / 100.0));
      last = fx::snapshot(m_description, 1, step, 1.2 - step / 100.0);
      writer.appendSnapshot(last);
    }
    writer.setStatus(core::SessionStatus::Completed);
    QVERIFY(writer.close());
  }

  SnapshotStore store;
  SessionPlayer player(&store);
  QString error;
  QVERIFY2(player.open(path, &error), qPrintable(error));
  QCOMPARE(player.status(), QStringLiteral("completed"));
  QVERIFY(!player.isFollowing());

  QCOMPARE(store.description().runs.size(), std::size_t(2));
  QCOMPARE(store.description().runs[1].parts, 4);
  QVERIFY(store.description().runs[1].partOf);
  QCOMPARE(store.description().grid.height, 8);
  QCOMPARE(store.description().target.size(), std::size_t(64));

  // Four points per run, the last one also with its densities (not counted twice).
  QCOMPARE(store.series(1).size(), std::size_t(4));
  QCOMPARE(store.series(1).back().l1, last->l1);
  const core::SnapshotPtr latest = store.latest(1);
  QVERIFY(latest);
  QCOMPARE(latest->step, std::int64_t(60));
  QCOMPARE(latest->density, last->density);
  QCOMPARE(latest->partDensities.size(), std::size_t(4));
}

void TestSessionPlayer::followsASessionBeingWritten()
{
  const QString path = m_dir.filePath(QStringLiteral("live.gflowmix"));
  core::SessionWriter writer;
  QVERIFY(openWriter(writer, path));
  writer.appendSnapshot(fx::snapshot(m_description, 0, 0, 1.8));
  QVERIFY(writer.flush());

  SnapshotStore store;
  SessionPlayer player(&store);
  QVERIFY(player.open(path));
  QVERIFY(player.isFollowing());
  QCOMPARE(store.series(0).size(), std::size_t(1));

  const core::SnapshotPtr next = fx::snapshot(m_description, 0, 20, 1.1);
  writer.appendSnapshot(next);
  QVERIFY(writer.flush());
  player.poll();
  QCOMPARE(store.series(0).size(), std::size_t(2));
  QCOMPARE(store.latest(0)->step, std::int64_t(20));
  QCOMPARE(store.latest(0)->density, next->density);

  writer.setStatus(core::SessionStatus::Stopped);
  QVERIFY(writer.flush());
  player.poll();
  QCOMPARE(player.status(), QStringLiteral("stopped"));
  QVERIFY(!player.isFollowing());
  QVERIFY(writer.close());
}

void TestSessionPlayer::seeksToEarlierSteps()
{
  // Run 0 is evaluated every 20 steps, run 1 only at 0 and 40.
  const QString path = m_dir.filePath(QStringLiteral("seek.gflowmix"));
  std::map<std::int64_t, core::SnapshotPtr> written;
  {
    core::SessionWriter writer;
    QVERIFY(openWriter(writer, path));
    for (int step = 0; step <= 60; step += 20) {
      written[step] = fx::snapshot(m_description, 0, step, 1.5 - step / 100.0);
      writer.appendSnapshot(written[step]);
    }
    writer.appendSnapshot(fx::snapshot(m_description, 1, 0, 1.9));
    writer.appendSnapshot(fx::snapshot(m_description, 1, 40, 0.7));
    writer.setStatus(core::SessionStatus::Completed);
    QVERIFY(writer.close());
  }

  SnapshotStore store;
  SessionPlayer player(&store);
  QVERIFY(player.open(path));
  QCOMPARE(player.steps(), (std::vector<std::int64_t>{ 0, 20, 40, 60 }));

  player.seek(20);
  QCOMPARE(store.latest(0)->step, std::int64_t(20));
  QCOMPARE(store.latest(0)->density, written[20]->density);
  QCOMPARE(store.latest(1)->step, std::int64_t(0)); // its last evaluation at or before 20
  QCOMPARE(store.latest(1)->l1, 1.9);

  player.seek(60);
  QCOMPARE(store.latest(0)->step, std::int64_t(60));
  QCOMPARE(store.latest(1)->step, std::int64_t(40));
  // Scrubbing shows other snapshots; the curves keep the whole series.
  QCOMPARE(store.series(0).size(), std::size_t(4));
}

void TestSessionPlayer::refusesAMissingFile()
{
  SnapshotStore store;
  SessionPlayer player(&store);
  QString error;
  QVERIFY(!player.open(m_dir.filePath(QStringLiteral("missing.gflowmix")), &error));
  QVERIFY(!error.isEmpty());
  QVERIFY(!player.isOpen());
}

QTEST_MAIN(TestSessionPlayer)
#include "tst_session_player.moc"
