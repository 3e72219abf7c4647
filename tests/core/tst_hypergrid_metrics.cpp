// Tests of the exact hypergrid metrics: the terminal-distribution DP, the distances, the empirical
// distribution, mode mass and mode counting.

#include "core/eval/hypergrid_metrics.h"

#include "core/env/hypergrid.h"
#include "core/train/hypergrid_trainer.h"

#include <QTest>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

using namespace gfm::core;

Q_DECLARE_METATYPE(std::vector<float>)
Q_DECLARE_METATYPE(std::vector<double>)

namespace {

HypergridSpec gridSpec(int dim, int height, double r0)
{
  HypergridSpec spec;
  spec.dim = dim;
  spec.height = height;
  spec.r0 = r0;
  return spec;
}

/**
 * Pearson's χ² of observed counts against expected probabilities, cells with an expected count
 * under 5 pooled into one bin; returns the upper-tail p-value by the Wilson–Hilferty cube-root
 * normal approximation (accurate to a few per cent of p for tens of degrees of freedom).
 */
double chiSquarePValue(const std::vector<double>& counts,
                       const std::vector<double>& expectedP,
                       double total)
{
  double chi2 = 0.0;
  int bins = 0;
  double pooledObserved = 0.0;
  double pooledExpected = 0.0;
  for (std::size_t i = 0; i < counts.size(); ++i) {
    const double expected = expectedP[i] * total;
    if (expected < 5.0) {
      pooledObserved += counts[i];
      pooledExpected += expected;
      continue;
    }
    chi2 += (counts[i] - expected) * (counts[i] - expected) / expected;
    ++bins;
  }
  if (pooledExpected > 0.0) {
    chi2 += (pooledObserved - pooledExpected) * (pooledObserved - pooledExpected) /
            std::max(pooledExpected, 1e-12);
    ++bins;
  }

  const double k = bins - 1;
  const double z = (std::cbrt(chi2 / k) - (1.0 - 2.0 / (9.0 * k))) / std::sqrt(2.0 / (9.0 * k));
  return 0.5 * std::erfc(z / std::sqrt(2.0));
}

/** The target restricted to the first `orthants` orthants (bit masks 0..m−1), renormalised. */
std::vector<double> orthantSampler(const Hypergrid& grid, int orthants)
{
  std::vector<double> p = grid.target();
  std::vector<std::int32_t> coords(static_cast<std::size_t>(grid.dim()));
  double kept = 0.0;
  for (std::int64_t s = 0; s < grid.stateCount(); ++s) {
    grid.coordsOf(s, coords.data());
    int orthant = 0;
    for (int d = 0; d < grid.dim(); ++d) {
      if (coords[static_cast<std::size_t>(d)] >= grid.height() / 2) {
        orthant |= 1 << d;
      }
    }
    if (orthant >= orthants) {
      p[static_cast<std::size_t>(s)] = 0.0;
    }
    kept += p[static_cast<std::size_t>(s)];
  }
  for (double& v : p) {
    v /= kept;
  }
  return p;
}

} // namespace

class TestHypergridMetrics : public QObject
{
  Q_OBJECT

private slots:
  void initTestCase();
  void terminalDistributionByHand_data();
  void terminalDistributionByHand();
  void untrainedTrainerMatchesSampling();
  void orthantSamplerDistance_data();
  void orthantSamplerDistance();
  void uniformDistance();
  void distancesByHand();
  void empiricalDistribution();
  void modeMass();
  void countModes();
};

void TestHypergridMetrics::initTestCase()
{
  configureNumericsForWorkers();
}

void TestHypergridMetrics::terminalDistributionByHand_data()
{
  QTest::addColumn<int>("dim");
  QTest::addColumn<int>("height");
  QTest::addColumn<std::vector<float>>("forward");
  QTest::addColumn<std::vector<double>>("expected");

  // D = 1, H = 3, actions [increment, stop]:
  // p(0) = 0.7; p(1) = 0.3·0.4 = 0.12; p(2) = 0.3·0.6·1 = 0.18.
  QTest::newRow("d1 h3") << 1 << 3 << std::vector<float>{ 0.3f, 0.7f, 0.6f, 0.4f, 0.0f, 1.0f }
                         << std::vector<double>{ 0.7, 0.12, 0.18 };

  // D = 2, H = 2, states (0,0) (0,1) (1,0) (1,1), actions [x0+1, x1+1, stop]:
  // p(0,0) = 0.2; reach(0,1) = 0.3, p = 0.3·0.6 = 0.18; reach(1,0) = 0.5, p = 0.5·0.75 = 0.375;
  // reach(1,1) = 0.3·0.4 + 0.5·0.25 = 0.245, p = 0.245.
  QTest::newRow("d2 h2") << 2 << 2 << std::vector<float>{ 0.5f, 0.3f,  0.2f,  0.4f, 0.0f, 0.6f,
                                                          0.0f, 0.25f, 0.75f, 0.0f, 0.0f, 1.0f }
                         << std::vector<double>{ 0.2, 0.18, 0.375, 0.245 };

  // D = 2, H = 3 with a policy that always moves along x1 first, then along x0, stopping at
  // (2,1) only: every other cell gets probability 0.
  std::vector<float> path(9 * 3, 0.0f);
  auto set = [&path](int state, float inc0, float inc1, float stop) {
    path[static_cast<std::size_t>(state * 3 + 0)] = inc0;
    path[static_cast<std::size_t>(state * 3 + 1)] = inc1;
    path[static_cast<std::size_t>(state * 3 + 2)] = stop;
  };
  set(0, 0.0f, 1.0f, 0.0f); // (0,0) -> (0,1)
  set(1, 1.0f, 0.0f, 0.0f); // (0,1) -> (1,1)
  set(4, 1.0f, 0.0f, 0.0f); // (1,1) -> (2,1)
  set(7, 0.0f, 0.0f, 1.0f); // stop at (2,1)
  for (int s : { 2, 3, 5, 6, 8 }) {
    set(s, 0.0f, 0.0f, 1.0f);
  }
  std::vector<double> onlyOne(9, 0.0);
  onlyOne[7] = 1.0;
  QTest::newRow("d2 h3 deterministic path") << 2 << 3 << path << onlyOne;
}

void TestHypergridMetrics::terminalDistributionByHand()
{
  QFETCH(int, dim);
  QFETCH(int, height);
  QFETCH(std::vector<float>, forward);
  QFETCH(std::vector<double>, expected);

  const Hypergrid grid(gridSpec(dim, height, 0.1));
  const std::vector<double> p = terminalDistribution(grid, forward);
  QCOMPARE(p.size(), expected.size());
  for (std::size_t i = 0; i < p.size(); ++i) {
    QVERIFY2(std::abs(p[i] - expected[i]) < 1e-7,
             qPrintable(QStringLiteral("cell %1: %2 vs %3").arg(i).arg(p[i]).arg(expected[i])));
  }
}

void TestHypergridMetrics::untrainedTrainerMatchesSampling()
{
  const Hypergrid grid(gridSpec(2, 8, 0.1));
  PolicySpec policy;
  policy.hidden = 64;
  TrainingSpec training;
  training.seed = 11;
  HypergridTrainer trainer(grid, policy, training);

  const std::vector<float> table = trainer.forwardProbabilities();
  QCOMPARE(static_cast<std::int64_t>(table.size()), grid.stateCount() * 3);
  const std::vector<double> exact = terminalDistribution(grid, table);
  double sum = 0.0;
  for (double v : exact) {
    QVERIFY(v >= 0.0);
    sum += v;
  }
  QVERIFY(std::abs(sum - 1.0) < 1e-5);

  constexpr int kSamples = 200000;
  const std::vector<std::int64_t> samples = trainer.sample(kSamples, 2024);
  QCOMPARE(static_cast<int>(samples.size()), kSamples);
  std::vector<double> counts(static_cast<std::size_t>(grid.stateCount()), 0.0);
  for (std::int64_t s : samples) {
    QVERIFY(s >= 0 && s < grid.stateCount());
    counts[static_cast<std::size_t>(s)] += 1.0;
  }

  // With a fixed seed the statistic is fixed; 1e-3 leaves room for a correct DP and none for
  // the deliberate mistakes below.
  constexpr double kThreshold = 1e-3;
  const double pExact = chiSquarePValue(counts, exact, kSamples);
  QVERIFY2(pExact > kThreshold, qPrintable(QString::number(pExact)));

  // A DP that confuses the two increment actions (a stride mix-up) must fail the same check.
  std::vector<float> swapped = table;
  for (std::int64_t s = 0; s < grid.stateCount(); ++s) {
    std::swap(swapped[static_cast<std::size_t>(s * 3)],
              swapped[static_cast<std::size_t>(s * 3 + 1)]);
  }
  std::vector<std::int32_t> coords(2);
  for (std::int64_t s = 0; s < grid.stateCount(); ++s) {
    // Keep the masks valid: at a border the swapped increment has nowhere to go, so stop.
    grid.coordsOf(s, coords.data());
    for (int d = 0; d < 2; ++d) {
      float& inc = swapped[static_cast<std::size_t>(s * 3 + d)];
      if (coords[static_cast<std::size_t>(d)] == grid.height() - 1 && inc > 0.0f) {
        swapped[static_cast<std::size_t>(s * 3 + 2)] += inc;
        inc = 0.0f;
      }
    }
  }
  const double pSwapped = chiSquarePValue(counts, terminalDistribution(grid, swapped), kSamples);
  QVERIFY2(pSwapped < kThreshold, qPrintable(QString::number(pSwapped)));

  // So must a distribution with 1 % of the origin's mass moved to its neighbour (0,1).
  std::vector<double> shifted = exact;
  shifted[0] -= 0.01;
  shifted[1] += 0.01;
  const double pShifted = chiSquarePValue(counts, shifted, kSamples);
  QVERIFY2(pShifted < kThreshold, qPrintable(QString::number(pShifted)));
}

void TestHypergridMetrics::orthantSamplerDistance_data()
{
  QTest::addColumn<int>("dim");
  QTest::addColumn<int>("height");
  QTest::addColumn<int>("orthants");
  QTest::addColumn<double>("expected");

  // REFERENCE §2: a sampler exact on m of 2^D orthants has L1 = 2(1 − m/2^D).
  QTest::newRow("d2 h32 one quadrant") << 2 << 32 << 1 << 1.5;
  QTest::newRow("d2 h32 two quadrants") << 2 << 32 << 2 << 1.0;
  QTest::newRow("d2 h32 three quadrants") << 2 << 32 << 3 << 0.5;
  QTest::newRow("d2 h32 all quadrants") << 2 << 32 << 4 << 0.0;
  QTest::newRow("d2 h8 one quadrant") << 2 << 8 << 1 << 1.5;
  QTest::newRow("d3 h8 one octant") << 3 << 8 << 1 << 1.75;
  QTest::newRow("d3 h16 five octants") << 3 << 16 << 5 << 0.75;
  QTest::newRow("d1 h8 one half") << 1 << 8 << 1 << 1.0;
}

void TestHypergridMetrics::orthantSamplerDistance()
{
  QFETCH(int, dim);
  QFETCH(int, height);
  QFETCH(int, orthants);
  QFETCH(double, expected);

  const Hypergrid grid(gridSpec(dim, height, 0.1));
  const Distances dist = distances(orthantSampler(grid, orthants), grid.target());
  QVERIFY2(std::abs(dist.l1 - expected) < 1e-9, qPrintable(QString::number(dist.l1)));
  QVERIFY(std::abs(dist.tv - expected / 2.0) < 1e-9);
  QVERIFY(std::abs(dist.l1MeanAbs - expected / static_cast<double>(grid.stateCount())) < 1e-12);
}

void TestHypergridMetrics::uniformDistance()
{
  // REFERENCE §2: the uniform distribution is at L1 0.992 on D = 2, H = 32, R0 = 0.1.
  const Hypergrid grid(gridSpec(2, 32, 0.1));
  const std::vector<double> uniform(1024, 1.0 / 1024.0);
  const Distances dist = distances(uniform, grid.target());
  QVERIFY2(std::abs(dist.l1 - 0.992) < 5e-4, qPrintable(QString::number(dist.l1, 'f', 6)));
  QVERIFY(std::abs(dist.tv - 0.496) < 2.5e-4);
}

void TestHypergridMetrics::distancesByHand()
{
  const std::vector<double> p = { 0.5, 0.5, 0.0, 0.0 };
  const std::vector<double> q = { 0.25, 0.25, 0.25, 0.25 };
  const Distances dist = distances(p, q);
  QCOMPARE(dist.l1, 1.0);
  QCOMPARE(dist.tv, 0.5);
  QCOMPARE(dist.l1MeanAbs, 0.25);

  const Distances same = distances(q, q);
  QCOMPARE(same.l1, 0.0);

  // Disjoint supports are at the maximum, 2.
  const Distances apart = distances({ 1.0, 0.0 }, { 0.0, 1.0 });
  QCOMPARE(apart.l1, 2.0);
  QCOMPARE(apart.tv, 1.0);
}

void TestHypergridMetrics::empiricalDistribution()
{
  const std::vector<double> p = gfm::core::empiricalDistribution({ 0, 0, 1, 3 }, 5);
  const std::vector<double> expected = { 0.5, 0.25, 0.0, 0.25, 0.0 };
  QCOMPARE(p, expected);

  const std::vector<double> none = gfm::core::empiricalDistribution({}, 3);
  QCOMPARE(none, std::vector<double>(3, 0.0));
}

void TestHypergridMetrics::modeMass()
{
  // Uniform on D = 2, H = 8: 4 mode cells of 64.
  const Hypergrid small(gridSpec(2, 8, 0.1));
  QVERIFY(std::abs(gfm::core::modeMass(small, std::vector<double>(64, 1.0 / 64.0)) - 0.0625) <
          1e-12);

  // All mass on the mode cell (1,6) (index 14), then on the non-mode neighbour (1,5).
  std::vector<double> point(64, 0.0);
  point[14] = 1.0;
  QCOMPARE(gfm::core::modeMass(small, point), 1.0);
  std::fill(point.begin(), point.end(), 0.0);
  point[13] = 1.0;
  QCOMPARE(gfm::core::modeMass(small, point), 0.0);

  // The target of D = 2, H = 32, R0 = 0.1 (REFERENCE §2).
  const Hypergrid large(gridSpec(2, 32, 0.1));
  QVERIFY(std::abs(gfm::core::modeMass(large, large.target()) - 0.309524) < 1e-6);

  // A grid without modes has no mode mass.
  const Hypergrid none(gridSpec(2, 11, 0.1));
  QCOMPARE(gfm::core::modeMass(none, none.target()), 0.0);
}

void TestHypergridMetrics::countModes()
{
  QCOMPARE(gfm::core::countModes(0u), 0);
  QCOMPARE(gfm::core::countModes(0b1011u), 3);
  QCOMPARE(gfm::core::countModes(0xffu), 8);
  QCOMPARE(gfm::core::countModes(0x80000001u), 2);
}

QTEST_MAIN(TestHypergridMetrics)
#include "tst_hypergrid_metrics.moc"
