// The experiment runner: snapshots from worker threads, mixture assembly, pause, stop, resume.
#include "core/eval/hypergrid_metrics.h"
#include "core/run/experiment.h"

#include <QJsonDocument>
#include <QSignalSpy>
#include <QTest>

#include <cmath>

using namespace gfm::core;

namespace {

ExperimentSpec makeSpec(const QByteArray& json)
{
  QString error;
  auto spec = parseExperiment(QJsonDocument::fromJson(json).object(), "test.json", &error);
  if (!spec) {
    qFatal("%s", qPrintable(error));
  }
  return *spec;
}

// A small, fast mixture experiment: D = 2, H = 8, narrow networks.
const QByteArray kSmall = R"({
  "env": {"dim": 2, "height": 8, "r0": 0.01},
  "policy": {"hidden": 32},
  "training": {"steps": 60, "batch": 8, "seed": 5},
  "runs": [{"name": "standard"},
           {"name": "perfect", "partition": {"kind": "nearest-mode"}},
           {"name": "random", "partition": {"kind": "random-sphere", "parts": 3}, "seeds": 2}],
  "eval": {"every": 20, "checkpoint_every": 1}
})";

double sum(const std::vector<float>& v)
{
  double s = 0.0;
  for (float x : v) {
    s += x;
  }
  return s;
}

} // namespace

class TestExperiment : public QObject
{
  Q_OBJECT

private slots:
  void runsArePlannedPerSeed()
  {
    Experiment experiment(makeSpec(kSmall));
    const auto& runs = experiment.runs();
    QCOMPARE(runs.size(), std::size_t{ 4 });
    QCOMPARE(runs[0].name, QStringLiteral("standard"));
    QCOMPARE(runs[0].parts, 1);
    QCOMPARE(runs[0].training.offPolicyRatio, 0.0); // baselines train on-policy
    QCOMPARE(runs[1].parts, 4);
    QCOMPARE(runs[1].training.offPolicyRatio, 0.25);
    QCOMPARE(runs[2].name, QStringLiteral("random-s0"));
    QCOMPARE(runs[3].group, QStringLiteral("random"));
    QVERIFY(*runs[2].partOf != *runs[3].partOf); // seeds give different partitions
    double total = 0.0;
    for (double r : runs[1].partReward) {
      total += r;
    }
    QVERIFY(std::abs(total - experiment.grid().partitionFunction()) < 1e-9);
  }

  void snapshotsArriveFromWorkers()
  {
    Experiment experiment(makeSpec(kSmall));
    experiment.setThreads(2);
    QSignalSpy snapshots(&experiment, &Experiment::snapshotReady);
    QSignalSpy finished(&experiment, &Experiment::finished);
    experiment.start();
    QVERIFY(finished.wait(60000));
    QCOMPARE(finished.first().first().toBool(), true);

    // 4 runs × (step 0, 20, 40, 60).
    QCOMPARE(snapshots.size(), 16);
    int finals = 0;
    for (const QList<QVariant>& args : snapshots) {
      const auto s = args.first().value<SnapshotPtr>();
      QVERIFY(s);
      QCOMPARE(std::abs(sum(s->density) - 1.0) < 1e-4, true);
      QCOMPARE(s->partDensities.size(), s->parts.size());
      double weights = 0.0;
      double masses = 0.0;
      for (const PartSnapshot& p : s->parts) {
        weights += p.weight;
        masses += p.massTrue;
        QVERIFY(p.leak >= 0.0 && p.leak <= 1.0 + 1e-9);
      }
      QVERIFY(std::abs(weights - 1.0) < 1e-9);
      QVERIFY(std::abs(masses - 1.0) < 1e-9);

      // The reported L1 is that of the reported density against the exact target.
      const std::vector<double> p(s->density.begin(), s->density.end());
      QVERIFY(std::abs(distances(p, experiment.target()).l1 - s->l1) < 1e-4);
      QVERIFY(std::abs(s->tv - s->l1 / 2) < 1e-12);

      // log Z of a mixture is log Σ Z_i.
      double z = 0.0;
      for (const PartSnapshot& part : s->parts) {
        z += std::exp(part.logZ);
      }
      QVERIFY(std::abs(std::log(z) - s->logZ) < 1e-9);
      finals += s->step == 60 ? 1 : 0;
    }
    QCOMPARE(finals, 4);
    QCOMPARE(experiment.stepsDone(), experiment.stepsTotal());
    QCOMPARE(experiment.stepsTotal(), std::int64_t{ 60 * (1 + 4 + 3 + 3) });
  }

  void resultsDoNotDependOnThreads()
  {
    // Three workers for eleven parts: which worker trains a part changes from chunk to chunk.
    std::map<QString, double> l1[3];
    for (int threads : { 1, 2, 3 }) {
      Experiment experiment(makeSpec(kSmall));
      experiment.setThreads(threads);
      QSignalSpy finished(&experiment, &Experiment::finished);
      connect(&experiment, &Experiment::snapshotReady, this, [&](const SnapshotPtr& s) {
        if (s->step == 60) {
          l1[threads - 1][s->runName] = s->l1;
        }
      });
      experiment.start();
      QVERIFY(finished.wait(60000));
      QCoreApplication::processEvents();
    }
    QCOMPARE(l1[0].size(), std::size_t{ 4 });
    QCOMPARE(l1[0], l1[1]);
    QCOMPARE(l1[0], l1[2]);
  }

  void pauseStopsWithinAChunk()
  {
    ExperimentSpec spec = makeSpec(kSmall);
    for (RunSpec& run : spec.runs) {
      run.training.steps = 100000;
    }
    spec.runs.resize(1);
    Experiment experiment(spec);
    experiment.setThreads(1);
    experiment.start();
    QTRY_VERIFY_WITH_TIMEOUT(experiment.stepsDone() > 40, 20000);
    experiment.pause();
    QTest::qWait(300); // the chunk in flight finishes
    const std::int64_t paused = experiment.stepsDone();
    QTest::qWait(500);
    QCOMPARE(experiment.stepsDone(), paused);
    experiment.resume();
    QTRY_VERIFY_WITH_TIMEOUT(experiment.stepsDone() > paused, 20000);

    QSignalSpy finished(&experiment, &Experiment::finished);
    experiment.requestStop();
    QVERIFY(finished.wait(10000));
    QCOMPARE(finished.first().first().toBool(), false);
    QVERIFY(experiment.stepsDone() < experiment.stepsTotal());
  }

  void resumedRunEqualsUninterruptedRun()
  {
    ExperimentSpec spec = makeSpec(kSmall);
    spec.runs.resize(2); // standard and perfect

    // Uninterrupted: 60 steps.
    std::map<QString, double> straight;
    {
      Experiment experiment(spec);
      QSignalSpy finished(&experiment, &Experiment::finished);
      connect(&experiment, &Experiment::snapshotReady, this, [&](const SnapshotPtr& s) {
        straight[s->runName] = s->l1;
      });
      experiment.start();
      QVERIFY(finished.wait(60000));
      QCoreApplication::processEvents();
    }

    // Interrupted after 40 steps, then continued from the checkpoints.
    std::vector<std::pair<std::pair<int, int>, PartCheckpoint>> saved;
    {
      ExperimentSpec first = spec;
      for (RunSpec& run : first.runs) {
        run.training.steps = 40;
      }
      Experiment experiment(first);
      QSignalSpy finished(&experiment, &Experiment::finished);
      experiment.start();
      QVERIFY(finished.wait(60000));
      saved = experiment.latestCheckpoints();
    }
    QCOMPARE(saved.size(), std::size_t{ 5 });
    std::map<QString, double> resumed;
    {
      Experiment experiment(spec);
      for (const auto& [key, checkpoint] : saved) {
        QCOMPARE(checkpoint.step, std::int64_t{ 40 });
        QVERIFY(experiment.restorePart(key.first, key.second, checkpoint));
      }
      QSignalSpy finished(&experiment, &Experiment::finished);
      connect(&experiment, &Experiment::snapshotReady, this, [&](const SnapshotPtr& s) {
        resumed[s->runName] = s->l1;
      });
      experiment.start();
      QVERIFY(finished.wait(60000));
      QCoreApplication::processEvents();
    }
    QCOMPARE(resumed, straight);
  }
};

QTEST_GUILESS_MAIN(TestExperiment)
#include "tst_experiment.moc"
