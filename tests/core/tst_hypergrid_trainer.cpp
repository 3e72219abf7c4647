// Tests of HypergridTrainer: log rewards and the floor, the trajectory balance loss recomputed by
// hand from the initial policy, determinism, checkpoints, the off-policy buffer, modes found and
// the policy options.

#include "core/train/hypergrid_trainer.h"

#include "core/env/hypergrid.h"
#include "core/eval/hypergrid_metrics.h"
#include "core/mixture/partition.h"

#include <QTest>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <numeric>
#include <set>
#include <vector>

using namespace gfm::core;

Q_DECLARE_METATYPE(gfm::core::BackwardPolicy)

namespace {

HypergridSpec gridSpec(int dim, int height, double r0)
{
  HypergridSpec spec;
  spec.dim = dim;
  spec.height = height;
  spec.r0 = r0;
  return spec;
}

PolicySpec smallPolicy(int hidden = 32,
                       BackwardPolicy backward = BackwardPolicy::Learned,
                       bool sharedTrunk = false)
{
  PolicySpec policy;
  policy.hidden = hidden;
  policy.backward = backward;
  policy.sharedTrunk = sharedTrunk;
  return policy;
}

TrainingSpec trainingWithSeed(std::uint64_t seed)
{
  TrainingSpec training;
  training.seed = seed;
  return training;
}

PartMembership membershipOf(std::vector<std::int32_t> labels, int part)
{
  PartMembership membership;
  membership.partOf = std::make_shared<const std::vector<std::int32_t>>(std::move(labels));
  membership.part = part;
  return membership;
}

bool allFinite(const std::vector<float>& values)
{
  return std::all_of(values.begin(), values.end(), [](float v) { return std::isfinite(v); });
}

/** Mode corners of visited states by the H = 8 band x_d ∈ {1, 6}, written out independently. */
std::uint32_t cornersOfH8(const Hypergrid& grid, const std::vector<std::int64_t>& states)
{
  std::uint32_t corners = 0;
  std::vector<std::int32_t> coords(static_cast<std::size_t>(grid.dim()));
  for (std::int64_t s : states) {
    grid.coordsOf(s, coords.data());
    bool mode = true;
    std::uint32_t corner = 0;
    for (int d = 0; d < grid.dim(); ++d) {
      const std::int32_t x = coords[static_cast<std::size_t>(d)];
      mode = mode && (x == 1 || x == 6);
      corner |= x == 6 ? 1u << d : 0u;
    }
    if (mode) {
      corners |= 1u << corner;
    }
  }
  return corners;
}

} // namespace

class TestHypergridTrainer : public QObject
{
  Q_OBJECT

private slots:
  void initTestCase();
  void logReward_data();
  void logReward();
  void firstLossByHandOnALine_data();
  void firstLossByHandOnALine();
  void lossByHandWithUniformBackward();
  void lossByHandWithOffPolicyShare_data();
  void lossByHandWithOffPolicyShare();
  void explorationFollowsUniformActions();
  void deterministicForASeed();
  void checkpointRestoreContinuesIdentically();
  void visitedWindowKeepsTheNewest();
  void restoreRejectsOtherShapes();
  void offPolicyBufferHoldsOnlyPartCells_data();
  void offPolicyBufferHoldsOnlyPartCells();
  void modesFoundGrows();
  void optionsTrainWithoutNaN_data();
  void optionsTrainWithoutNaN();
};

void TestHypergridTrainer::initTestCase()
{
  configureNumericsForWorkers();
}

void TestHypergridTrainer::logReward_data()
{
  QTest::addColumn<double>("r0");
  QTest::addColumn<double>("floor");
  QTest::addColumn<int>("part"); // of the nearest-mode partition; -1 = whole grid
  QTest::addColumn<int>("state");
  QTest::addColumn<double>("expected");

  // D = 2, H = 8; state index = 8·x0 + x1.
  QTest::newRow("mode (1,1)") << 0.1 << -20.0 << -1 << 9 << std::log(2.6);
  QTest::newRow("corner (0,0)") << 0.1 << -20.0 << -1 << 0 << std::log(0.6);
  QTest::newRow("inside (3,4)") << 0.1 << -20.0 << -1 << 28 << std::log(0.1);
  QTest::newRow("hard inside (3,4)") << 1e-4 << -20.0 << -1 << 28 << std::log(1e-4);
  QTest::newRow("R=0 floored") << 0.0 << -20.0 << -1 << 28 << -20.0;
  QTest::newRow("R=0 other floor") << 0.0 << -50.0 << -1 << 28 << -50.0;
  QTest::newRow("tiny R floored") << 1e-12 << -20.0 << -1 << 28 << -20.0;
  QTest::newRow("in part 0 (1,1)") << 0.1 << -20.0 << 0 << 9 << std::log(2.6);
  QTest::newRow("out of part 0 (6,6)") << 0.1 << -20.0 << 0 << 54 << -20.0;
  QTest::newRow("out of part 0 (4,0)") << 0.1 << -30.0 << 0 << 32 << -30.0;
  QTest::newRow("in part 3 (6,6)") << 0.1 << -20.0 << 3 << 54 << std::log(2.6);
  QTest::newRow("hard in part 1 (7,0)") << 1e-4 << -20.0 << 1 << 56 << std::log(0.5001);
}

void TestHypergridTrainer::logReward()
{
  QFETCH(double, r0);
  QFETCH(double, floor);
  QFETCH(int, part);
  QFETCH(int, state);
  QFETCH(double, expected);

  const Hypergrid grid(gridSpec(2, 8, r0));
  TrainingSpec training;
  training.logRewardFloor = floor;
  PartMembership membership;
  if (part >= 0) {
    membership = membershipOf(nearestModePartition(grid), part);
  }
  const HypergridTrainer trainer(grid, smallPolicy(8), training, membership);
  QVERIFY2(std::abs(trainer.logReward(state) - expected) < 1e-12,
           qPrintable(QString::number(trainer.logReward(state))));
}

void TestHypergridTrainer::firstLossByHandOnALine_data()
{
  QTest::addColumn<BackwardPolicy>("backward");
  QTest::addColumn<bool>("sharedTrunk");
  QTest::addColumn<bool>("restricted");
  QTest::addColumn<double>("epsilon");

  QTest::newRow("learned P_B") << BackwardPolicy::Learned << false << false << 0.0;
  QTest::newRow("shared trunk") << BackwardPolicy::Learned << true << false << 0.0;
  QTest::newRow("uniform P_B") << BackwardPolicy::Uniform << false << false << 0.0;
  QTest::newRow("part {0,1}, rest floored") << BackwardPolicy::Learned << false << true << 0.0;
  // ε changes which trajectories are drawn, never the P_F the loss scores them with.
  QTest::newRow("epsilon 0.5") << BackwardPolicy::Learned << false << false << 0.5;
}

void TestHypergridTrainer::firstLossByHandOnALine()
{
  QFETCH(BackwardPolicy, backward);
  QFETCH(bool, sharedTrunk);
  QFETCH(bool, restricted);
  QFETCH(double, epsilon);

  // D = 1, H = 4, R = [0.6, 0.1, 0.1, 0.6]: the trajectory to x is x increments and a stop, so
  // the terminal fixes it, and every state has at most one parent (log P_B = 0). With log Z = 0:
  // δ(x) = Σ_{s<x} log P_F(+1|s) + log P_F(stop|x) − log R(x).
  const Hypergrid grid(gridSpec(1, 4, 0.1));
  TrainingSpec training = trainingWithSeed(17);
  training.epsilon = epsilon;
  PartMembership membership;
  if (restricted) {
    membership = membershipOf({ 0, 0, 1, 1 }, 0);
  }
  HypergridTrainer trainer(grid, smallPolicy(16, backward, sharedTrunk), training, membership);
  QCOMPARE(trainer.logZ(), 0.0);

  const std::vector<float> table = trainer.forwardProbabilities();
  QCOMPARE(table.size(), std::size_t{ 8 });
  QCOMPARE(table[6], 0.0f); // the last cell cannot increment
  QCOMPARE(table[7], 1.0f);

  const double rewards[4] = { 0.6, 0.1, 0.1, 0.6 };
  double delta[4];
  double prefix = 0.0;
  for (int x = 0; x < 4; ++x) {
    QVERIFY(std::abs(table[2 * x] + table[2 * x + 1] - 1.0f) < 1e-6f);
    const bool inPart = !restricted || x < 2;
    const double logR = inPart ? std::log(rewards[x]) : training.logRewardFloor;
    delta[x] = prefix + std::log(static_cast<double>(table[2 * x + 1])) - logR;
    if (x < 3) {
      prefix += std::log(static_cast<double>(table[2 * x]));
    }
  }

  const StepStats stats = trainer.step();
  const std::vector<std::int64_t> terminals = trainer.visitedTerminals();
  QCOMPARE(static_cast<int>(terminals.size()), training.batch);

  double loss = 0.0;
  double meanDelta = 0.0;
  std::int64_t transitions = 0;
  for (std::int64_t x : terminals) {
    loss += delta[x] * delta[x] / training.batch;
    meanDelta += delta[x] / training.batch;
    transitions += x + 1;
  }
  QVERIFY2(std::abs(stats.loss - loss) < 1e-5 * std::max(1.0, loss),
           qPrintable(QStringLiteral("%1 vs %2").arg(stats.loss).arg(loss)));
  QCOMPARE(stats.trajectories, std::int64_t{ training.batch });
  QCOMPARE(stats.transitions, transitions);
  QVERIFY(std::abs(stats.meanLength - static_cast<double>(transitions) / training.batch) < 1e-12);

  // Adam's first step moves log Z by lr_logZ against the sign of dL/dlogZ = 2·mean δ.
  const double expectedLogZ = meanDelta > 0.0 ? -training.lrLogZ : training.lrLogZ;
  QVERIFY2(std::abs(stats.logZ - expectedLogZ) < 1e-6, qPrintable(QString::number(stats.logZ)));
  QCOMPARE(trainer.logZ(), stats.logZ);
  QCOMPARE(trainer.stepCount(), std::int64_t{ 1 });

  // Later steps score their batch with the parameters and log Z of that moment: the same
  // recomputation from a fresh table must keep matching.
  for (int step = 2; step <= 12; ++step) {
    const std::vector<float> now = trainer.forwardProbabilities();
    const double logZ = trainer.logZ();
    double later[4];
    double path = logZ;
    for (int x = 0; x < 4; ++x) {
      const bool inPart = !restricted || x < 2;
      const double logR = inPart ? std::log(rewards[x]) : training.logRewardFloor;
      later[x] = path + std::log(static_cast<double>(now[2 * x + 1])) - logR;
      if (x < 3) {
        path += std::log(static_cast<double>(now[2 * x]));
      }
    }
    const double reported = trainer.step().loss;
    const std::vector<std::int64_t> visited = trainer.visitedTerminals();
    double expected = 0.0;
    for (auto it = visited.end() - training.batch; it != visited.end(); ++it) {
      expected += later[*it] * later[*it] / training.batch;
    }
    QVERIFY2(std::abs(reported - expected) < 1e-5 * std::max(1.0, expected),
             qPrintable(QStringLiteral("step %1: %2 vs %3").arg(step).arg(reported).arg(expected)));
  }
}

void TestHypergridTrainer::lossByHandWithUniformBackward()
{
  // D = 2, H = 2 with uniform P_B and one trajectory per step. (0,0), (0,1) and (1,0) have one
  // path each and log P_B = 0; (1,1) is reached through (0,1) or (1,0), and P_B = 1/2 at (1,1),
  // so its δ is one of two values, each with + log 2.
  const Hypergrid grid(gridSpec(2, 2, 0.1));
  const double logR = std::log(0.6); // every cell of H = 2 is an outer-band corner
  TrainingSpec training = trainingWithSeed(3);
  training.batch = 1;
  HypergridTrainer trainer(grid, smallPolicy(16, BackwardPolicy::Uniform), training);

  std::set<std::int64_t> seen;
  for (int i = 0; i < 40; ++i) {
    const std::vector<float> t = trainer.forwardProbabilities();
    auto lp = [&t](int state, int action) {
      return std::log(static_cast<double>(t[static_cast<std::size_t>(state * 3 + action)]));
    };
    const double logZ = trainer.logZ();
    const StepStats stats = trainer.step();
    const std::int64_t x = trainer.visitedTerminals().back();
    seen.insert(x);

    std::vector<double> candidates;
    switch (x) {
      case 0:
        candidates = { logZ + lp(0, 2) - logR };
        break;
      case 1:
        candidates = { logZ + lp(0, 1) + lp(1, 2) - logR };
        break;
      case 2:
        candidates = { logZ + lp(0, 0) + lp(2, 2) - logR };
        break;
      default:
        candidates = { logZ + lp(0, 1) + lp(1, 0) + lp(3, 2) - logR + std::log(2.0),
                       logZ + lp(0, 0) + lp(2, 1) + lp(3, 2) - logR + std::log(2.0) };
        QCOMPARE(stats.transitions, std::int64_t{ 3 });
        break;
    }
    const bool matched = std::any_of(candidates.begin(), candidates.end(), [&stats](double delta) {
      return std::abs(stats.loss - delta * delta) < 1e-5 * std::max(1.0, delta * delta);
    });
    QVERIFY2(
      matched,
      qPrintable(QStringLiteral("step %1, terminal %2, loss %3").arg(i).arg(x).arg(stats.loss)));
  }
  QVERIFY(seen.count(3) == 1); // the two-path cell was exercised
}

void TestHypergridTrainer::lossByHandWithOffPolicyShare_data()
{
  QTest::addColumn<BackwardPolicy>("backward");
  QTest::addColumn<bool>("sharedTrunk");

  QTest::newRow("learned P_B") << BackwardPolicy::Learned << false;
  QTest::newRow("shared trunk") << BackwardPolicy::Learned << true;
  QTest::newRow("uniform P_B") << BackwardPolicy::Uniform << false;
}

void TestHypergridTrainer::lossByHandWithOffPolicyShare()
{
  QFETCH(BackwardPolicy, backward);
  QFETCH(bool, sharedTrunk);

  // D = 1, H = 3, R = [0.6, 0.1, 0.6]; the part is the single cell {2}, so the buffer holds only
  // 2 and ceil(8 · 0.25) = 2 of the 8 trajectories are 0 → 1 → 2 → stop, drawn backward. The
  // on-policy ones ending at 0 or 1 are out of the part and scored with the floor.
  const Hypergrid grid(gridSpec(1, 3, 0.1));
  TrainingSpec training = trainingWithSeed(2);
  training.batch = 8;
  training.offPolicyRatio = 0.25;
  HypergridTrainer trainer(
    grid, smallPolicy(16, backward, sharedTrunk), training, membershipOf({ 0, 0, 1 }, 1));
  QCOMPARE(trainer.bufferSize(), std::int64_t{ 1 });

  // Each step is scored with the parameters and log Z it starts from.
  const double floor = training.logRewardFloor;
  for (int step = 1; step <= 8; ++step) {
    const std::vector<float> t = trainer.forwardProbabilities();
    auto lp = [&t](int index) {
      return std::log(static_cast<double>(t[static_cast<std::size_t>(index)]));
    };
    const double z = trainer.logZ();
    const double delta[3] = { z + lp(1) - floor,
                              z + lp(0) + lp(3) - floor,
                              z + lp(0) + lp(2) - std::log(0.6) };

    const StepStats stats = trainer.step();
    const std::vector<std::int64_t> visited = trainer.visitedTerminals();
    QCOMPARE(visited.size(), std::size_t(6 * step));
    QCOMPARE(stats.trajectories, std::int64_t{ 8 });

    double loss = 2.0 * delta[2] * delta[2] / 8.0;
    std::int64_t onPolicyTransitions = 0;
    for (auto it = visited.end() - 6; it != visited.end(); ++it) {
      loss += delta[*it] * delta[*it] / 8.0;
      onPolicyTransitions += *it + 1;
    }
    QVERIFY2(std::abs(stats.loss - loss) < 1e-5 * loss,
             qPrintable(QStringLiteral("step %1: %2 vs %3").arg(step).arg(stats.loss).arg(loss)));
    QCOMPARE(stats.transitions, onPolicyTransitions + 2 * 3);
    QVERIFY(std::abs(stats.meanLength - static_cast<double>(onPolicyTransitions) / 6.0) < 1e-12);
  }
}

void TestHypergridTrainer::explorationFollowsUniformActions()
{
  // With ε = 1 the roll-outs ignore the network: each step picks uniformly among the allowed
  // actions. On D = 2, H = 3 that terminal distribution is the DP over the uniform table, and
  // the visited terminals must match it (χ² over 9 cells, 8 degrees of freedom).
  const Hypergrid grid(gridSpec(2, 3, 0.1));
  TrainingSpec training = trainingWithSeed(13);
  training.epsilon = 1.0;
  HypergridTrainer trainer(grid, smallPolicy(8), training);
  constexpr int kSteps = 1000;
  for (int i = 0; i < kSteps; ++i) {
    trainer.step();
  }

  std::vector<float> uniform(9 * 3, 0.0f);
  std::int32_t coords[2];
  for (std::int64_t s = 0; s < 9; ++s) {
    grid.coordsOf(s, coords);
    const int allowed = 1 + (coords[0] < 2 ? 1 : 0) + (coords[1] < 2 ? 1 : 0);
    for (int d = 0; d < 2; ++d) {
      uniform[static_cast<std::size_t>(s * 3 + d)] = coords[d] < 2 ? 1.0f / allowed : 0.0f;
    }
    uniform[static_cast<std::size_t>(s * 3 + 2)] = 1.0f / allowed;
  }
  const std::vector<double> expected = terminalDistribution(grid, uniform);
  QVERIFY(std::abs(expected[0] - 1.0 / 3.0) < 1e-7);  // stop at once
  QVERIFY(std::abs(expected[4] - 2.0 / 27.0) < 1e-7); // (1,1): reach 2/9, then stop 1/3
  QVERIFY(std::abs(expected[8] - 7.0 / 54.0) < 1e-7); // (2,2): reach 7/108 twice

  const std::vector<std::int64_t> visited = trainer.visitedTerminals();
  QCOMPARE(visited.size(), std::size_t{ kSteps * 16 });
  std::vector<double> counts(9, 0.0);
  for (std::int64_t s : visited) {
    counts[static_cast<std::size_t>(s)] += 1.0;
  }
  double chi2 = 0.0;
  for (std::size_t s = 0; s < 9; ++s) {
    const double e = expected[s] * static_cast<double>(visited.size());
    chi2 += (counts[s] - e) * (counts[s] - e) / e;
  }
  // The 0.999 quantile of χ² with 8 degrees of freedom is 26.12.
  QVERIFY2(chi2 < 26.12, qPrintable(QString::number(chi2)));
}

void TestHypergridTrainer::deterministicForASeed()
{
  const Hypergrid grid(gridSpec(2, 8, 0.1));
  TrainingSpec training = trainingWithSeed(5);
  training.epsilon = 0.05;
  HypergridTrainer first(grid, smallPolicy(), training);
  HypergridTrainer second(grid, smallPolicy(), training);
  training.seed = 6;
  HypergridTrainer other(grid, smallPolicy(), training);

  for (int i = 0; i < 20; ++i) {
    const StepStats a = first.step();
    const StepStats b = second.step();
    other.step();
    QCOMPARE(a.loss, b.loss);
  }

  const PartCheckpoint a = first.checkpoint();
  const PartCheckpoint b = second.checkpoint();
  const PartCheckpoint c = other.checkpoint();
  QVERIFY(!a.parameters.empty());
  QVERIFY(a.parameters == b.parameters);
  QVERIFY(a.adamSecond == b.adamSecond);
  QCOMPARE(a.logZ, b.logZ);
  QVERIFY(a.parameters != c.parameters);
  QVERIFY(a.logZ != c.logZ);
  QCOMPARE(first.visitedTerminals(), second.visitedTerminals());
  QCOMPARE(first.sample(500, 9), second.sample(500, 9));
}

void TestHypergridTrainer::visitedWindowKeepsTheNewest()
{
  std::vector<std::int64_t> ring{ 9, 9 };
  QCOMPARE(restoreVisitedWindow({ 1, 2, 3, 4, 5 }, 3, ring), std::size_t{ 0 });
  QCOMPARE(ring, (std::vector<std::int64_t>{ 3, 4, 5 }));
  restoreVisitedWindow({ 1, 2 }, 3, ring);
  QCOMPARE(ring, (std::vector<std::int64_t>{ 1, 2 }));
  restoreVisitedWindow({ 1, 2 }, 0, ring);
  QVERIFY(ring.empty());

  // A trainer with a window of 20 restored from one of 120 continues with the newest 20, and
  // the next on-policy terminals replace the oldest.
  const Hypergrid grid(gridSpec(2, 8, 0.1));
  TrainingSpec training = trainingWithSeed(5);
  HypergridTrainer original(grid, smallPolicy(), training);
  for (int i = 0; i < 6; ++i) {
    original.step();
  }
  training.visitedWindow = 20;
  HypergridTrainer narrow(grid, smallPolicy(), training);
  QVERIFY(narrow.restore(original.checkpoint()));
  const std::vector<std::int64_t> all = original.visitedTerminals();
  QCOMPARE(narrow.visitedTerminals(), std::vector<std::int64_t>(all.end() - 20, all.end()));
  original.step();
  narrow.step();
  const std::vector<std::int64_t> next = original.visitedTerminals();
  QCOMPARE(narrow.visitedTerminals(), std::vector<std::int64_t>(next.end() - 20, next.end()));
}

void TestHypergridTrainer::checkpointRestoreContinuesIdentically()
{
  // A mixture part with an off-policy share and exploration: every source of state is exercised.
  const Hypergrid grid(gridSpec(2, 8, 0.1));
  TrainingSpec training = trainingWithSeed(21);
  training.offPolicyRatio = 0.25;
  training.epsilon = 0.1;
  const PartMembership membership = membershipOf(nearestModePartition(grid), 1);
  HypergridTrainer original(grid, smallPolicy(), training, membership);
  for (int i = 0; i < 10; ++i) {
    original.step();
  }
  const PartCheckpoint saved = original.checkpoint();
  QCOMPARE(saved.step, std::int64_t{ 10 });

  // A fresh trainer with another seed: everything it differs in must come from the checkpoint.
  training.seed = 99;
  HypergridTrainer resumed(grid, smallPolicy(), training, membership);
  QVERIFY(resumed.restore(saved));
  QCOMPARE(resumed.stepCount(), std::int64_t{ 10 });
  QCOMPARE(resumed.logZ(), original.logZ());
  QCOMPARE(saved.visited.size(), std::size_t{ 10 * 12 }); // the on-policy 12 of 16 per step
  QCOMPARE(resumed.visitedTerminals(), original.visitedTerminals());

  for (int i = 0; i < 10; ++i) {
    const StepStats a = original.step();
    const StepStats b = resumed.step();
    QCOMPARE(a.loss, b.loss);
    QCOMPARE(a.logZ, b.logZ);
    QCOMPARE(a.transitions, b.transitions);
  }
  const PartCheckpoint a = original.checkpoint();
  const PartCheckpoint b = resumed.checkpoint();
  QCOMPARE(a.step, std::int64_t{ 20 });
  QVERIFY(a.parameters == b.parameters);
  QVERIFY(a.adamFirst == b.adamFirst);
  QVERIFY(a.adamSecond == b.adamSecond);
  QCOMPARE(a.logZ, b.logZ);
  QCOMPARE(a.rng, b.rng);
  QVERIFY(a.visited == b.visited);
  QCOMPARE(a.buffer, b.buffer);
  QCOMPARE(a.modesFound, b.modesFound);
}

void TestHypergridTrainer::restoreRejectsOtherShapes()
{
  const Hypergrid grid(gridSpec(2, 8, 0.1));
  HypergridTrainer wide(grid, smallPolicy(32), trainingWithSeed(1));
  HypergridTrainer narrow(grid, smallPolicy(16), trainingWithSeed(1));
  HypergridTrainer uniform(grid, smallPolicy(32, BackwardPolicy::Uniform), trainingWithSeed(1));
  QVERIFY(!narrow.restore(wide.checkpoint()));
  QVERIFY(!uniform.restore(wide.checkpoint()));
  QVERIFY(!wide.restore(uniform.checkpoint()));

  // Adam moments of the wrong length are a mismatch too, not a read past the end.
  HypergridTrainer target(grid, smallPolicy(32), trainingWithSeed(2));
  PartCheckpoint truncated = wide.checkpoint();
  truncated.adamSecond.clear();
  QVERIFY(!target.restore(truncated));

  // Parameters alone (no optimiser state) are accepted.
  PartCheckpoint weightsOnly = wide.checkpoint();
  weightsOnly.adamFirst.clear();
  weightsOnly.adamSecond.clear();
  QVERIFY(target.restore(weightsOnly));
  QVERIFY(target.checkpoint().parameters == wide.checkpoint().parameters);
}

void TestHypergridTrainer::offPolicyBufferHoldsOnlyPartCells_data()
{
  QTest::addColumn<double>("r0");
  QTest::addColumn<int>("part");
  QTest::addColumn<int>("cells");

  // D = 2, H = 8, nearest-mode part 2 (x0 lower, x1 upper) has 16 cells; with R0 = 0 only its
  // 4 outer-band cells, x0 ∈ {0,1} × x1 ∈ {6,7}, have R > 0. 1000 draws find them all.
  QTest::newRow("easy part 2") << 0.1 << 2 << 16;
  QTest::newRow("R0=0 part 2") << 0.0 << 2 << 4;
  QTest::newRow("R0=0 part 1") << 0.0 << 1 << 4;
}

void TestHypergridTrainer::offPolicyBufferHoldsOnlyPartCells()
{
  QFETCH(double, r0);
  QFETCH(int, part);
  QFETCH(int, cells);

  const Hypergrid grid(gridSpec(2, 8, r0));
  const std::vector<std::int32_t> labels = nearestModePartition(grid);
  TrainingSpec training = trainingWithSeed(4);
  training.offPolicyRatio = 0.25;
  HypergridTrainer trainer(grid, smallPolicy(), training, membershipOf(labels, part));

  auto check = [&]() {
    const std::vector<std::int64_t> buffer = trainer.checkpoint().buffer;
    QCOMPARE(static_cast<std::int64_t>(buffer.size()), trainer.bufferSize());
    QCOMPARE(std::set<std::int64_t>(buffer.begin(), buffer.end()).size(), buffer.size());
    std::int32_t coords[2];
    for (std::int64_t s : buffer) {
      QCOMPARE(labels[static_cast<std::size_t>(s)], part);
      grid.coordsOf(s, coords);
      QVERIFY(grid.reward(coords) > 0.0);
    }
  };

  QCOMPARE(trainer.bufferSize(), std::int64_t{ cells });
  check();
  for (int i = 0; i < 30; ++i) {
    const StepStats stats = trainer.step();
    QVERIFY(std::isfinite(stats.loss));
    QCOMPARE(stats.trajectories, std::int64_t{ 16 });
  }
  check();
  QCOMPARE(trainer.bufferSize(), std::int64_t{ cells }); // growth cannot add what is not there

  // Without an off-policy share there is no buffer at all.
  HypergridTrainer onPolicy(grid, smallPolicy(), trainingWithSeed(4), membershipOf(labels, part));
  QCOMPARE(onPolicy.bufferSize(), std::int64_t{ 0 });
}

void TestHypergridTrainer::modesFoundGrows()
{
  const Hypergrid grid(gridSpec(2, 8, 0.1));
  TrainingSpec training = trainingWithSeed(8);
  HypergridTrainer trainer(grid, smallPolicy(), training);
  QCOMPARE(trainer.modesFound(), 0u);

  std::uint32_t previous = 0;
  for (int i = 0; i < 60; ++i) {
    trainer.step();
    const std::uint32_t now = trainer.modesFound();
    QCOMPARE(now & previous, previous); // corners are never forgotten
    previous = now;
  }

  // The untrained policy stops with probability ~1/3 per step, so (1,1) — two increments and
  // a stop — is visited in ~7 % of 960 trajectories: corner 0 is certainly found.
  QVERIFY(previous & 1u);
  QCOMPARE(previous, cornersOfH8(grid, trainer.visitedTerminals()));
  QCOMPARE(trainer.checkpoint().modesFound, previous);
}

void TestHypergridTrainer::optionsTrainWithoutNaN_data()
{
  QTest::addColumn<BackwardPolicy>("backward");
  QTest::addColumn<bool>("sharedTrunk");

  QTest::newRow("separate learned P_B") << BackwardPolicy::Learned << false;
  QTest::newRow("uniform P_B") << BackwardPolicy::Uniform << false;
  QTest::newRow("shared trunk") << BackwardPolicy::Learned << true;
}

void TestHypergridTrainer::optionsTrainWithoutNaN()
{
  QFETCH(BackwardPolicy, backward);
  QFETCH(bool, sharedTrunk);

  const Hypergrid grid(gridSpec(2, 8, 0.1));
  HypergridTrainer trainer(grid, smallPolicy(64, backward, sharedTrunk), trainingWithSeed(12));
  const std::vector<double> target = grid.target();
  const double l1Before =
    distances(terminalDistribution(grid, trainer.forwardProbabilities()), target).l1;

  constexpr int kSteps = 300;
  std::vector<double> losses;
  for (int i = 0; i < kSteps; ++i) {
    const StepStats stats = trainer.step();
    QVERIFY(std::isfinite(stats.loss));
    QVERIFY(std::isfinite(stats.logZ));
    losses.push_back(stats.loss);
  }
  QVERIFY(allFinite(trainer.checkpoint().parameters));

  const double early = std::accumulate(losses.begin(), losses.begin() + 20, 0.0) / 20.0;
  const double late = std::accumulate(losses.end() - 50, losses.end(), 0.0) / 50.0;
  QVERIFY2(late < 0.25 * early, qPrintable(QStringLiteral("%1 -> %2").arg(early).arg(late)));

  const std::vector<float> table = trainer.forwardProbabilities();
  QVERIFY(allFinite(table));
  const double l1After = distances(terminalDistribution(grid, table), target).l1;
  QVERIFY2(l1After < 0.5 * l1Before,
           qPrintable(QStringLiteral("%1 -> %2").arg(l1Before).arg(l1After)));

  // log Z moves from 0 towards log 22.4 = 3.11.
  QVERIFY2(trainer.logZ() > 1.5, qPrintable(QString::number(trainer.logZ())));
}

QTEST_MAIN(TestHypergridTrainer)
#include "tst_hypergrid_trainer.moc"
