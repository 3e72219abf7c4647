#include "core/run/experiment.h"
#include "core/run/experiment_spec.h"
#include "core/session/session_reader.h"
#include "core/session/session_recorder.h"
#include "core/session/session_writer.h"

#include <QJsonDocument>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtTest>

#include <numeric>
#include <thread>

using namespace gfm::core;

namespace {

/** Stands in for Experiment: the same signals and accessors, driven by the test. */
class FakeExperiment : public QObject
{
  Q_OBJECT

public:
  FakeExperiment()
  {
    RunPlan run;
    run.name = QStringLiteral("perfect");
    run.group = QStringLiteral("perfect");
    run.parts = 2;
    run.partOf = std::make_shared<std::vector<std::int32_t>>(std::vector<std::int32_t>{ 0, 1 });
    run.partReward = { 0.25, 0.75 };
    m_runs.push_back(run);
    m_target = { 0.25, 0.75 };
  }

  const std::vector<RunPlan>& runs() const { return m_runs; }
  const std::vector<double>& target() const { return m_target; }

  /** Emits like the workers do: from a thread of their own, then `finished`. */
  void train(int evaluations, bool fail)
  {
    std::thread worker([this, evaluations, fail] {
      for (int k = 1; k <= evaluations; ++k) {
        auto s = std::make_shared<Snapshot>();
        s->step = 10 * k;
        s->parts.resize(2);
        s->density = { 0.5f, 0.5f };
        emit snapshotReady(s);
        auto c = std::make_shared<PartCheckpoint>();
        c->step = 10 * k;
        c->rng = "state";
        emit checkpointReady(0, 1, c);
      }
      if (fail) {
        emit errorOccurred(QStringLiteral("worker 0: out of memory"));
      }
      emit finished(!fail);
    });
    worker.join();
  }

signals:
  void snapshotReady(gfm::core::SnapshotPtr snapshot);
  void checkpointReady(int run, int part, std::shared_ptr<const gfm::core::PartCheckpoint> c);
  void finished(bool completed);
  void errorOccurred(QString message);

private:
  std::vector<RunPlan> m_runs;
  std::vector<double> m_target;
};

} // namespace

/** @brief SessionRecorder: one call records a whole experiment and closes the session. */
class TestSessionRecorder : public QObject
{
  Q_OBJECT

private slots:
  void initTestCase();
  void recordsTheStream_data();
  void recordsTheStream();
  void recordsARealExperimentAndResumesFromIt();

private:
  QTemporaryDir m_dir;
};

void TestSessionRecorder::initTestCase()
{
  QVERIFY(m_dir.isValid());
}

void TestSessionRecorder::recordsTheStream_data()
{
  QTest::addColumn<bool>("fail");
  QTest::addColumn<QString>("status");

  QTest::newRow("completed") << false << "completed";
  QTest::newRow("failed") << true << "failed";
}

void TestSessionRecorder::recordsTheStream()
{
  QFETCH(bool, fail);
  QFETCH(QString, status);
  const QString path = m_dir.filePath(status + QStringLiteral(".gflowmix"));

  FakeExperiment experiment;
  SessionWriter writer;
  QVERIFY(writer.open(path, QJsonObject{ { "name", "recorded" } }));
  SessionRecorder* recorder = SessionRecorder::attach(&experiment, &writer);
  QSignalSpy closed(recorder, &SessionRecorder::closed);

  experiment.train(5, fail);
  QVERIFY(closed.wait(5000));
  QCOMPARE(closed.at(0).at(0).toBool(), true);
  QVERIFY(!writer.isOpen());

  SessionReader reader;
  QVERIFY(reader.open(path));
  QCOMPARE(sessionStatusName(reader.status()), status);
  QCOMPARE(reader.runs().size(), std::size_t{ 1 });
  QCOMPARE(reader.runs()[0].partReward, (std::vector<double>{ 0.25, 0.75 }));
  QCOMPARE(reader.target(), (std::vector<double>{ 0.25, 0.75 }));
  // Every snapshot queued before `finished` made it in, though `finished` came last.
  QCOMPARE(reader.steps(0), (std::vector<std::int64_t>{ 10, 20, 30, 40, 50 }));
  QCOMPARE(reader.snapshot(0, 50)->runName, QStringLiteral("perfect"));
  QCOMPARE(reader.latestCheckpoint(0, 1)->step, std::int64_t{ 50 });
}

void TestSessionRecorder::recordsARealExperimentAndResumesFromIt()
{
  const QJsonObject config = QJsonDocument::fromJson(R"({
    "name": "tiny",
    "env": {"kind": "hypergrid", "dim": 2, "height": 4},
    "policy": {"hidden": 16, "layers": 1},
    "training": {"steps": 20, "batch": 4, "seed": 3},
    "runs": [{"name": "standard", "parts": 1},
             {"name": "perfect", "partition": {"kind": "nearest-mode"}}],
    "eval": {"every": 10, "checkpoint_every": 1}
  })")
                               .object();
  QString error;
  const std::optional<ExperimentSpec> spec = parseExperiment(config, "tiny.json", &error);
  QVERIFY2(spec, qPrintable(error));
  const QString path = m_dir.filePath(QStringLiteral("tiny.gflowmix"));

  {
    Experiment experiment(*spec);
    experiment.setThreads(2);
    SessionWriter writer;
    QVERIFY2(writer.open(path, spec->json, &error), qPrintable(error));
    SessionRecorder* recorder = SessionRecorder::attach(&experiment, &writer);
    QSignalSpy closed(recorder, &SessionRecorder::closed);
    experiment.start();
    QVERIFY(closed.wait(120000));
    QVERIFY(closed.at(0).at(0).toBool());
  }

  SessionReader reader;
  QVERIFY2(reader.open(path, &error), qPrintable(error));
  QVERIFY(reader.status() == SessionStatus::Completed);
  QCOMPARE(reader.config(), spec->json);
  QCOMPARE(reader.runs().size(), std::size_t{ 2 });
  QCOMPARE(reader.runs()[1].parts, 4);
  QCOMPARE(reader.runs()[1].partOf.size(), std::size_t{ 16 });
  QCOMPARE(reader.target().size(), std::size_t{ 16 });
  for (int run = 0; run < 2; ++run) {
    QCOMPARE(reader.steps(run), (std::vector<std::int64_t>{ 0, 10, 20 }));
  }

  const SnapshotPtr last = reader.snapshot(1, 20);
  QVERIFY(last);
  QCOMPARE(last->runName, QStringLiteral("perfect"));
  QCOMPARE(last->parts.size(), std::size_t{ 4 });
  QCOMPARE(last->density.size(), std::size_t{ 16 });
  const double mass = std::accumulate(last->density.begin(), last->density.end(), 0.0);
  QVERIFY2(std::abs(mass - 1.0) < 1e-4, qPrintable(QString::number(mass)));

  // The stored checkpoints fit the experiment's trainers: what --resume relies on.
  Experiment resumed(*spec);
  for (int part = 0; part < 4; ++part) {
    const std::optional<PartCheckpoint> checkpoint = reader.latestCheckpoint(1, part);
    QVERIFY(checkpoint);
    QCOMPARE(checkpoint->step, std::int64_t{ 20 });
    QVERIFY(!checkpoint->parameters.empty());
    QVERIFY(!checkpoint->rng.empty());
    QVERIFY(resumed.restorePart(1, part, *checkpoint));
  }
}

QTEST_MAIN(TestSessionRecorder)
#include "tst_session_recorder.moc"
