#include "core/train/stacked_trainer.h"

#include "core/env/hypergrid.h"
#include "core/mixture/partition.h"
#include "core/train/hypergrid_trainer.h"
#include "core/util/random.h"

#include <QtTest>

#include <algorithm>
#include <cmath>
#include <memory>
#include <numeric>
#include <vector>

using namespace gfm::core;

namespace {

const HypergridSpec kGrid{ 2, 8, 0.1, 0.5, 2.0 };

PolicySpec smallPolicy(BackwardPolicy backward = BackwardPolicy::Learned, bool shared = false)
{
  PolicySpec policy;
  policy.hidden = 32;
  policy.layers = 2;
  policy.backward = backward;
  policy.sharedTrunk = shared;
  return policy;
}

TrainingSpec mixtureTraining()
{
  TrainingSpec training;
  training.batch = 16;
  training.offPolicyRatio = 0.25;
  training.epsilon = 0.1;
  training.bufferSize = 20;
  return training;
}

std::shared_ptr<const std::vector<std::int32_t>> orthants(const Hypergrid& grid)
{
  return std::make_shared<const std::vector<std::int32_t>>(nearestModePartition(grid));
}

std::uint64_t partSeed(int part)
{
  return deriveSeed(2024, static_cast<std::uint64_t>(part));
}

/** Parts `ids` of the orthant partition, each seeded with partSeed(id). */
std::vector<StackedPart> partsOf(const std::vector<int>& ids,
                                 const std::shared_ptr<const std::vector<std::int32_t>>& partOf)
{
  std::vector<StackedPart> parts;
  for (int id : ids) {
    parts.push_back(StackedPart{ PartMembership{ partOf, id }, partSeed(id) });
  }
  return parts;
}

double maxAbsDifference(const std::vector<float>& a, const std::vector<float>& b)
{
  double worst = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    worst = std::max(worst, std::abs(static_cast<double>(a[i]) - b[i]));
  }
  return worst;
}

/** max |a − b| / max |b| over the whole vector. */
double relativeDifference(const std::vector<float>& a, const std::vector<float>& b)
{
  double scale = 1e-12;
  for (float v : b) {
    scale = std::max(scale, static_cast<double>(std::abs(v)));
  }
  return maxAbsDifference(a, b) / scale;
}

} // namespace

class TestStackedTrainer : public QObject
{
  Q_OBJECT

private slots:
  void initialStateMatchesHypergridTrainer_data();
  void initialStateMatchesHypergridTrainer();
  void stepsMatchHypergridTrainer_data();
  void stepsMatchHypergridTrainer();
  void stackedEqualsSeparate();
  void checkpointRestoresIntoHypergridTrainer();
  void restoreRejectsOtherShapes();
  void forwardProbabilitiesAreDistributions();
  void learns();
};

void TestStackedTrainer::initialStateMatchesHypergridTrainer_data()
{
  QTest::addColumn<int>("backward");
  QTest::addColumn<bool>("sharedTrunk");

  QTest::newRow("learned P_B, separate nets") << static_cast<int>(BackwardPolicy::Learned) << false;
  QTest::newRow("learned P_B, shared trunk") << static_cast<int>(BackwardPolicy::Learned) << true;
  QTest::newRow("uniform P_B") << static_cast<int>(BackwardPolicy::Uniform) << false;
}

/** Part i starts exactly where a HypergridTrainer seeded like it starts: same bits. */
void TestStackedTrainer::initialStateMatchesHypergridTrainer()
{
  QFETCH(int, backward);
  QFETCH(bool, sharedTrunk);
  const Hypergrid grid(kGrid);
  const auto partOf = orthants(grid);
  const PolicySpec policy = smallPolicy(static_cast<BackwardPolicy>(backward), sharedTrunk);
  TrainingSpec training = mixtureTraining();

  StackedHypergridTrainer stacked(grid, policy, training, partsOf({ 0, 1, 3 }, partOf));
  QCOMPARE(stacked.partCount(), 3);
  const int ids[] = { 0, 1, 3 };
  for (int i = 0; i < 3; ++i) {
    training.seed = partSeed(ids[i]);
    const HypergridTrainer single(grid, policy, training, PartMembership{ partOf, ids[i] });
    const PartCheckpoint expected = single.checkpoint();
    const PartCheckpoint actual = stacked.checkpoint(i);
    QCOMPARE(actual.parameters, expected.parameters);
    QCOMPARE(actual.adamFirst, expected.adamFirst);
    QCOMPARE(actual.buffer, expected.buffer);
    QCOMPARE(actual.rng, expected.rng);
    QCOMPARE(actual.logZ, 0.0);
    QCOMPARE(stacked.bufferSize(i), single.bufferSize());
    QVERIFY(stacked.bufferSize(i) > 0);
  }
  // Different seeds, different networks: the parts do not share draws.
  QVERIFY(stacked.checkpoint(0).parameters != stacked.checkpoint(1).parameters);
}

void TestStackedTrainer::stepsMatchHypergridTrainer_data()
{
  QTest::addColumn<int>("backward");
  QTest::addColumn<bool>("sharedTrunk");
  QTest::addColumn<double>("offPolicyRatio");
  QTest::addColumn<double>("epsilon");
  QTest::addColumn<double>("clip");

  const int learned = static_cast<int>(BackwardPolicy::Learned);
  const int uniform = static_cast<int>(BackwardPolicy::Uniform);
  QTest::newRow("separate nets, on-policy") << learned << false << 0.0 << 0.0 << 0.0;
  QTest::newRow("separate nets, mixed batch, clipped") << learned << false << 0.25 << 0.1 << 0.5;
  QTest::newRow("shared trunk, mixed batch") << learned << true << 0.25 << 0.1 << 0.0;
  QTest::newRow("uniform P_B, mixed batch, clipped") << uniform << false << 0.5 << 0.0 << 1.0;
}

/**
 * A stacked run of one part and a HypergridTrainer with the same seed draw the same batches
 * (their roll-outs see identical probabilities) and compute the same gradients and updates.
 */
void TestStackedTrainer::stepsMatchHypergridTrainer()
{
  QFETCH(int, backward);
  QFETCH(bool, sharedTrunk);
  QFETCH(double, offPolicyRatio);
  QFETCH(double, epsilon);
  QFETCH(double, clip);
  const Hypergrid grid(kGrid);
  const auto partOf = orthants(grid);
  const PolicySpec policy = smallPolicy(static_cast<BackwardPolicy>(backward), sharedTrunk);
  TrainingSpec training = mixtureTraining();
  training.offPolicyRatio = offPolicyRatio;
  training.epsilon = epsilon;
  training.clipGradNorm = clip;
  training.seed = partSeed(2);

  StackedHypergridTrainer stacked(grid, policy, training, partsOf({ 2 }, partOf));
  HypergridTrainer single(grid, policy, training, PartMembership{ partOf, 2 });
  StepTrace stackedTrace;
  StepTrace singleTrace;
  stacked.setTrace(0, &stackedTrace);
  single.setTrace(&singleTrace);

  for (int step = 1; step <= 5; ++step) {
    const StepStats a = stacked.step().front();
    const StepStats b = single.step();
    const QString where = QStringLiteral("step %1").arg(step);

    // The same batch, bit for bit.
    QVERIFY2(stackedTrace.positions == singleTrace.positions, qPrintable(where));
    QVERIFY2(stackedTrace.actions == singleTrace.actions, qPrintable(where));
    QVERIFY2(stackedTrace.trajectories == singleTrace.trajectories, qPrintable(where));
    QVERIFY2(stackedTrace.terminals == singleTrace.terminals, qPrintable(where));
    QCOMPARE(a.transitions, b.transitions);
    QCOMPARE(a.meanLength, b.meanLength);

    // The same loss and gradients, to float rounding.
    QVERIFY2(std::abs(a.loss - b.loss) < 1e-5 * std::max(1.0, b.loss), qPrintable(where));
    QVERIFY2(std::abs(stackedTrace.logZGradient - singleTrace.logZGradient) <
               1e-5 * std::max(1.0, std::abs(singleTrace.logZGradient)),
             qPrintable(where));
    const double gradientError = relativeDifference(stackedTrace.gradients, singleTrace.gradients);
    QVERIFY2(gradientError < 1e-4, qPrintable(where + QStringLiteral(": %1").arg(gradientError)));

    // The same update. Adam divides by |g| early on, so a weight whose gradient is only rounding
    // noise can move by up to lr either way; such weights must stay rare.
    const PartCheckpoint ca = stacked.checkpoint(0);
    const PartCheckpoint cb = single.checkpoint();
    QVERIFY2(std::abs(ca.logZ - cb.logZ) < 1e-5, qPrintable(where));
    QVERIFY(maxAbsDifference(ca.parameters, cb.parameters) <= 2.0 * training.lr * step);
    std::size_t off = 0;
    for (std::size_t i = 0; i < ca.parameters.size(); ++i) {
      off += std::abs(ca.parameters[i] - cb.parameters[i]) > 1e-5f ? 1 : 0;
    }
    QVERIFY2(off * 1000 <= ca.parameters.size(),
             qPrintable(where + QStringLiteral(": %1 weights differ").arg(off)));
    QCOMPARE(ca.rng, cb.rng);
    QCOMPARE(ca.buffer, cb.buffer);
    QCOMPARE(stacked.stepCount(0), single.stepCount());
  }
}

/**
 * Parts never interact: three parts stacked end where three stacked runs of one part each end,
 * and each part's random stream is its own (its RNG state matches after 20 steps).
 */
void TestStackedTrainer::stackedEqualsSeparate()
{
  const Hypergrid grid(kGrid);
  const auto partOf = orthants(grid);
  const PolicySpec policy = smallPolicy();
  TrainingSpec training = mixtureTraining();
  training.clipGradNorm = 1.0;
  const std::vector<int> ids{ 0, 1, 3 };

  StackedHypergridTrainer stacked(grid, policy, training, partsOf(ids, partOf));
  std::vector<std::unique_ptr<StackedHypergridTrainer>> separate;
  for (int id : ids) {
    separate.push_back(
      std::make_unique<StackedHypergridTrainer>(grid, policy, training, partsOf({ id }, partOf)));
  }

  for (int step = 0; step < 20; ++step) {
    const std::vector<StepStats> together = stacked.step();
    QCOMPARE(together.size(), ids.size());
    for (std::size_t i = 0; i < ids.size(); ++i) {
      const StepStats alone = separate[i]->step().front();
      QCOMPARE(together[i].transitions, alone.transitions);
      QVERIFY(std::abs(together[i].loss - alone.loss) < 1e-4 * std::max(1.0, alone.loss));
    }
  }

  for (std::size_t i = 0; i < ids.size(); ++i) {
    const PartCheckpoint a = stacked.checkpoint(static_cast<int>(i));
    const PartCheckpoint b = separate[i]->checkpoint(0);
    QCOMPARE(a.rng, b.rng);
    QCOMPARE(a.buffer, b.buffer);
    QCOMPARE(a.step, 20);
    QVERIFY(std::abs(a.logZ - b.logZ) < 1e-5);
    const double error = maxAbsDifference(a.parameters, b.parameters);
    QVERIFY2(error < 1e-4, qPrintable(QStringLiteral("part %1: %2").arg(i).arg(error)));
    QVERIFY(maxAbsDifference(a.adamSecond, b.adamSecond) < 1e-6);
    QCOMPARE(stacked.modesFound(static_cast<int>(i)), separate[i]->modesFound(0));
    QCOMPARE(stacked.visitedTerminals(static_cast<int>(i)), separate[i]->visitedTerminals(0));
  }
  // Trained parts do move: log Z left 0 in the direction of the part's mass.
  QVERIFY(stacked.logZ(0) > 0.5);
}

/** A part trained stacked is evaluated and sampled identically by a HypergridTrainer. */
void TestStackedTrainer::checkpointRestoresIntoHypergridTrainer()
{
  const Hypergrid grid(kGrid);
  const auto partOf = orthants(grid);
  const PolicySpec policy = smallPolicy();
  TrainingSpec training = mixtureTraining();
  StackedHypergridTrainer stacked(grid, policy, training, partsOf({ 0, 1 }, partOf));
  for (int step = 0; step < 10; ++step) {
    stacked.step();
  }

  const PartCheckpoint c = stacked.checkpoint(1);
  training.seed = 999; // a different seed: everything must come from the checkpoint
  HypergridTrainer single(grid, policy, training, PartMembership{ partOf, 1 });
  QVERIFY(single.restore(c));
  QCOMPARE(single.logZ(), c.logZ);
  QCOMPARE(single.stepCount(), 10);
  const PartCheckpoint back = single.checkpoint();
  QCOMPARE(back.parameters, c.parameters);
  QCOMPARE(back.adamSecond, c.adamSecond);
  QCOMPARE(back.rng, c.rng);
  QVERIFY(!c.visited.empty());
  QCOMPARE(single.visitedTerminals(), stacked.visitedTerminals(1));

  const std::vector<float> expected = single.forwardProbabilities();
  const std::vector<float> actual = stacked.forwardProbabilities(1);
  QCOMPARE(actual.size(), expected.size());
  QVERIFY(maxAbsDifference(actual, expected) < 1e-6);
  QCOMPARE(stacked.sample(1, 300, 42), single.sample(300, 42));
  QVERIFY(stacked.sample(1, 300, 42) != stacked.sample(0, 300, 42));

  // And back into another slot of a stacked trainer (with part 1's membership, which a
  // checkpoint does not carry); the other part stays as it was.
  StackedHypergridTrainer other(grid, policy, training, partsOf({ 1, 3 }, partOf));
  const PartCheckpoint untouched = other.checkpoint(1);
  QVERIFY(other.restore(0, c));
  const PartCheckpoint again = other.checkpoint(0);
  QCOMPARE(again.parameters, c.parameters);
  QCOMPARE(again.adamFirst, c.adamFirst);
  QCOMPARE(again.logZ, c.logZ);
  QCOMPARE(again.buffer, c.buffer);
  QCOMPARE(again.visited, c.visited);
  QCOMPARE(other.stepCount(0), 10);
  QCOMPARE(other.checkpoint(1).parameters, untouched.parameters);

  // Training goes on from the restored part exactly as from the original.
  const StepStats continued = other.step().front();
  const StepStats original = stacked.step()[1];
  QCOMPARE(continued.transitions, original.transitions);
  QVERIFY(std::abs(continued.logZ - original.logZ) < 1e-5);
}

void TestStackedTrainer::restoreRejectsOtherShapes()
{
  const Hypergrid grid(kGrid);
  const auto partOf = orthants(grid);
  StackedHypergridTrainer separateNets(
    grid, smallPolicy(), mixtureTraining(), partsOf({ 0 }, partOf));
  StackedHypergridTrainer uniform(
    grid, smallPolicy(BackwardPolicy::Uniform), mixtureTraining(), partsOf({ 0 }, partOf));
  QVERIFY(!uniform.restore(0, separateNets.checkpoint(0)));
  QVERIFY(!separateNets.restore(0, uniform.checkpoint(0)));
  QVERIFY(uniform.restore(0, uniform.checkpoint(0)));
  QVERIFY_THROWS_EXCEPTION(std::out_of_range, uniform.checkpoint(1));
}

void TestStackedTrainer::forwardProbabilitiesAreDistributions()
{
  const Hypergrid grid(kGrid);
  StackedHypergridTrainer stacked(
    grid, smallPolicy(), mixtureTraining(), { StackedPart{ PartMembership{}, 5 } });
  stacked.step();
  const std::vector<float> table = stacked.forwardProbabilities(0);
  const int actions = grid.forwardActionCount();
  QCOMPARE(static_cast<std::int64_t>(table.size()), grid.stateCount() * actions);
  std::vector<std::int32_t> coords(2);
  for (std::int64_t x = 0; x < grid.stateCount(); ++x) {
    grid.coordsOf(x, coords.data());
    double sum = 0.0;
    for (int a = 0; a < actions; ++a) {
      const float p = table[static_cast<std::size_t>(x * actions + a)];
      QVERIFY(grid.forwardAllowed(coords.data(), a) ? p > 0.0f : p == 0.0f);
      sum += p;
    }
    QVERIFY(std::abs(sum - 1.0) < 1e-5);
  }
}

/** Four orthant parts trained together: every loss falls and every Z_i heads for R(X_i). */
void TestStackedTrainer::learns()
{
  const Hypergrid grid(kGrid);
  const auto partOf = orthants(grid);
  TrainingSpec training = mixtureTraining();
  training.epsilon = 0.0;
  StackedHypergridTrainer stacked(grid, smallPolicy(), training, partsOf({ 0, 1, 2, 3 }, partOf));

  const int steps = 400;
  const int window = 50;
  std::vector<double> early(4, 0.0);
  std::vector<double> late(4, 0.0);
  for (int step = 0; step < steps; ++step) {
    const std::vector<StepStats> stats = stacked.step();
    for (std::size_t i = 0; i < 4; ++i) {
      if (step < window) {
        early[i] += stats[i].loss / window;
      } else if (step >= steps - window) {
        late[i] += stats[i].loss / window;
      }
    }
  }

  // Each orthant of the 8×8 easy grid holds a quarter of Z = 22.4 (REFERENCE §2).
  const double logPartZ = std::log(22.4 / 4.0);
  for (int i = 0; i < 4; ++i) {
    const auto ii = static_cast<std::size_t>(i);
    QVERIFY2(late[ii] < 0.25 * early[ii],
             qPrintable(QStringLiteral("part %1: %2 -> %3").arg(i).arg(early[ii]).arg(late[ii])));
    QVERIFY2(std::abs(stacked.logZ(i) - logPartZ) < 0.5,
             qPrintable(QStringLiteral("part %1: log Z %2").arg(i).arg(stacked.logZ(i))));
  }
}

QTEST_GUILESS_MAIN(TestStackedTrainer)
#include "tst_stacked_trainer.moc"
