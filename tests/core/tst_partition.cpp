// Tests of the partitions: nearest-mode (orthants), random-sphere (cones through the centre) and
// k-means, and the identity that the Z-weighted mixture of the exact part targets is π.

#include "core/mixture/partition.h"

#include "core/env/hypergrid.h"
#include "core/run/experiment_spec.h"

#include <QTest>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <set>
#include <utility>
#include <vector>

using namespace gfm::core;

Q_DECLARE_METATYPE(gfm::core::PartitionKind)

namespace {

HypergridSpec gridSpec(int dim, int height, double r0)
{
  HypergridSpec spec;
  spec.dim = dim;
  spec.height = height;
  spec.r0 = r0;
  return spec;
}

PartitionSpec partitionSpec(PartitionKind kind, int parts, bool centred = true)
{
  PartitionSpec spec;
  spec.kind = kind;
  spec.parts = parts;
  spec.centred = centred;
  return spec;
}

/** Number of cells in each part; fails the test on a label outside [0, k). */
std::vector<int> partSizes(const std::vector<std::int32_t>& labels, int k)
{
  std::vector<int> sizes(static_cast<std::size_t>(k), 0);
  for (std::int32_t label : labels) {
    if (label < 0 || label >= k) {
      return {};
    }
    ++sizes[static_cast<std::size_t>(label)];
  }
  return sizes;
}

/** R(X_i) of every part. */
std::vector<double> partMasses(const Hypergrid& grid,
                               const std::vector<std::int32_t>& labels,
                               int k)
{
  const std::vector<double> rewards = grid.rewards();
  std::vector<double> mass(static_cast<std::size_t>(k), 0.0);
  for (std::size_t s = 0; s < labels.size(); ++s) {
    mass[static_cast<std::size_t>(labels[s])] += rewards[s];
  }
  return mass;
}

} // namespace

class TestPartition : public QObject
{
  Q_OBJECT

private slots:
  void labelsCoverTheGrid_data();
  void labelsCoverTheGrid();
  void nearestModeIsOrthant_data();
  void nearestModeIsOrthant();
  void nearestModeIsNearestModeCell_data();
  void nearestModeIsNearestModeCell();
  void nearestModeOddHeight();
  void randomSphereSectors_data();
  void randomSphereSectors();
  void randomSphereSeeds();
  void randomSphereZeroVector();
  void kMeansRecoversSeparatedClusters();
  void nearestCentroidByHand();
  void partCountAndNone();
  void mixtureOfPartTargetsIsTarget_data();
  void mixtureOfPartTargetsIsTarget();
};

void TestPartition::labelsCoverTheGrid_data()
{
  QTest::addColumn<PartitionKind>("kind");
  QTest::addColumn<int>("dim");
  QTest::addColumn<int>("height");
  QTest::addColumn<int>("parts");
  QTest::addColumn<bool>("centred");

  const int heights[] = { 0, 9, 8, 6, 4 };
  for (int dim = 1; dim <= 4; ++dim) {
    const int h = heights[dim];
    const QByteArray suffix = QByteArray(" d") + QByteArray::number(dim);
    QTest::newRow("nearest-mode" + suffix) << PartitionKind::NearestMode << dim << h << 0 << true;
    QTest::newRow("random-sphere k4" + suffix)
      << PartitionKind::RandomSphere << dim << h << 4 << true;
    QTest::newRow("random-sphere k3 uncentred" + suffix)
      << PartitionKind::RandomSphere << dim << h << 3 << false;
    QTest::newRow("k-means k5" + suffix) << PartitionKind::KMeans << dim << h << 5 << true;
  }
}

void TestPartition::labelsCoverTheGrid()
{
  QFETCH(PartitionKind, kind);
  QFETCH(int, dim);
  QFETCH(int, height);
  QFETCH(int, parts);
  QFETCH(bool, centred);

  const Hypergrid grid(gridSpec(dim, height, 0.1));
  const PartitionSpec spec = partitionSpec(kind, parts, centred);
  const int k = partCount(grid, spec);
  QCOMPARE(k, kind == PartitionKind::NearestMode ? 1 << dim : parts);

  for (std::uint64_t seed : { 0u, 1u, 7u, 1234u }) {
    const std::vector<std::int32_t> labels = partitionHypergrid(grid, spec, seed);
    QCOMPARE(static_cast<std::int64_t>(labels.size()), grid.stateCount());

    // One label per cell makes the parts disjoint and covering; the labels must be valid.
    const std::vector<int> sizes = partSizes(labels, k);
    QVERIFY2(!sizes.empty(), "a label outside [0, k)");
    const auto nonEmpty = std::count_if(sizes.begin(), sizes.end(), [](int n) { return n > 0; });
    if (kind == PartitionKind::RandomSphere && !centred && dim == 1) {
      // Uncentred in 1-D every non-zero cell has f̂ = +1: one part plus the origin's part 0.
      QVERIFY(nonEmpty >= 1 && nonEmpty <= 2);
    } else if (kind == PartitionKind::RandomSphere) {
      // A random row of W may never win, but two always do (the max and min along any axis).
      QVERIFY(nonEmpty >= 2);
    } else {
      QCOMPARE(static_cast<int>(nonEmpty), k);
    }
  }
}

void TestPartition::nearestModeIsOrthant_data()
{
  QTest::addColumn<int>("dim");
  QTest::addColumn<int>("height");
  QTest::addColumn<double>("r0");

  QTest::newRow("d1 h8") << 1 << 8 << 0.1;
  QTest::newRow("d2 h8") << 2 << 8 << 0.1;
  QTest::newRow("d2 h16 hard") << 2 << 16 << 1e-4;
  QTest::newRow("d2 h32") << 2 << 32 << 0.1;
  QTest::newRow("d3 h8") << 3 << 8 << 0.1;
  QTest::newRow("d3 h16") << 3 << 16 << 1e-4;
  QTest::newRow("d4 h6 no modes") << 4 << 6 << 0.1;
}

void TestPartition::nearestModeIsOrthant()
{
  QFETCH(int, dim);
  QFETCH(int, height);
  QFETCH(double, r0);

  const Hypergrid grid(gridSpec(dim, height, r0));
  const std::vector<std::int32_t> labels = nearestModePartition(grid);
  const int k = 1 << dim;

  std::vector<std::int32_t> coords(static_cast<std::size_t>(dim));
  for (std::int64_t s = 0; s < grid.stateCount(); ++s) {
    grid.coordsOf(s, coords.data());
    int orthant = 0;
    for (int d = 0; d < dim; ++d) {
      if (coords[static_cast<std::size_t>(d)] >= height / 2) {
        orthant |= 1 << d;
      }
    }
    QCOMPARE(labels[static_cast<std::size_t>(s)], orthant);
  }

  // Even H: H^D / 2^D cells and Z / 2^D of the mass in every part.
  const std::vector<int> sizes = partSizes(labels, k);
  const std::vector<double> masses = partMasses(grid, labels, k);
  const double z = grid.partitionFunction();
  for (int i = 0; i < k; ++i) {
    QCOMPARE(static_cast<std::int64_t>(sizes[static_cast<std::size_t>(i)]) * k, grid.stateCount());
    QVERIFY(std::abs(masses[static_cast<std::size_t>(i)] * k - z) < 1e-9 * z);
  }

  // partitionHypergrid gives the same labels for every seed.
  const PartitionSpec spec = partitionSpec(PartitionKind::NearestMode, 0);
  QCOMPARE(partitionHypergrid(grid, spec, 0), labels);
  QCOMPARE(partitionHypergrid(grid, spec, 99), labels);
}

void TestPartition::nearestModeIsNearestModeCell_data()
{
  QTest::addColumn<int>("dim");
  QTest::addColumn<int>("height");

  QTest::newRow("d2 h8") << 2 << 8;
  QTest::newRow("d2 h16") << 2 << 16;
  QTest::newRow("d2 h32") << 2 << 32;
  QTest::newRow("d3 h8") << 3 << 8;
  QTest::newRow("d3 h16") << 3 << 16;
}

void TestPartition::nearestModeIsNearestModeCell()
{
  QFETCH(int, dim);
  QFETCH(int, height);

  // Brute force: for even H the corner of the closest mode cell is unique and is the part.
  const Hypergrid grid(gridSpec(dim, height, 0.1));
  const std::vector<std::int32_t> labels = nearestModePartition(grid);
  std::vector<std::pair<std::vector<std::int32_t>, int>> modeCells;
  std::vector<std::int32_t> coords(static_cast<std::size_t>(dim));
  for (std::int64_t s = 0; s < grid.stateCount(); ++s) {
    grid.coordsOf(s, coords.data());
    const int corner = grid.modeCorner(coords.data());
    if (corner >= 0) {
      modeCells.emplace_back(coords, corner);
    }
  }
  QVERIFY(!modeCells.empty());

  const int k = 1 << dim;
  for (std::int64_t s = 0; s < grid.stateCount(); ++s) {
    grid.coordsOf(s, coords.data());
    std::vector<long> nearest(static_cast<std::size_t>(k), std::numeric_limits<long>::max());
    for (const auto& [cell, corner] : modeCells) {
      long dist = 0;
      for (int d = 0; d < dim; ++d) {
        const long diff = cell[static_cast<std::size_t>(d)] - coords[static_cast<std::size_t>(d)];
        dist += diff * diff;
      }
      nearest[static_cast<std::size_t>(corner)] =
        std::min(nearest[static_cast<std::size_t>(corner)], dist);
    }
    const auto own = static_cast<std::size_t>(labels[static_cast<std::size_t>(s)]);
    for (std::size_t c = 0; c < nearest.size(); ++c) {
      if (c != own) {
        QVERIFY2(nearest[own] < nearest[c], qPrintable(QString::number(s)));
      }
    }
  }
}

void TestPartition::nearestModeOddHeight()
{
  // D = 2, H = 7: the middle row and column (x_d = 3) go to the lower side, so parts hold
  // 16, 12, 12 and 9 cells and R(X_i) = 5.6, 5.2, 5.2, 4.9 of Z = 20.9 (REFERENCE §3:
  // 0.268 / 0.249 / 0.249 / 0.234).
  const Hypergrid grid(gridSpec(2, 7, 0.1));
  const std::vector<std::int32_t> labels = nearestModePartition(grid);
  const std::int32_t middle[2] = { 3, 3 };
  const std::int32_t rightOfMiddle[2] = { 4, 3 };
  const std::int32_t aboveMiddle[2] = { 3, 4 };
  QCOMPARE(labels[static_cast<std::size_t>(grid.indexOf(middle))], 0);
  QCOMPARE(labels[static_cast<std::size_t>(grid.indexOf(rightOfMiddle))], 1);
  QCOMPARE(labels[static_cast<std::size_t>(grid.indexOf(aboveMiddle))], 2);

  QCOMPARE(partSizes(labels, 4), (std::vector<int>{ 16, 12, 12, 9 }));
  const std::vector<double> masses = partMasses(grid, labels, 4);
  const double z = grid.partitionFunction();
  const double expected[4] = { 0.268, 0.249, 0.249, 0.234 };
  for (int i = 0; i < 4; ++i) {
    QVERIFY2(std::abs(masses[static_cast<std::size_t>(i)] / z - expected[i]) < 5e-4,
             qPrintable(QString::number(masses[static_cast<std::size_t>(i)] / z)));
  }

  // H = 11 has no mode cell, yet the orthant partition is still defined: 36, 30, 30, 25 cells.
  const Hypergrid noModes(gridSpec(2, 11, 0.1));
  QCOMPARE(partSizes(nearestModePartition(noModes), 4), (std::vector<int>{ 36, 30, 30, 25 }));
}

void TestPartition::randomSphereSectors_data()
{
  QTest::addColumn<int>("height");
  QTest::addColumn<int>("parts");

  QTest::newRow("h8 k2") << 8 << 2;
  QTest::newRow("h8 k4") << 8 << 4;
  QTest::newRow("h9 k3") << 9 << 3;
  QTest::newRow("h16 k4") << 16 << 4;
  QTest::newRow("h32 k6") << 32 << 6;
}

void TestPartition::randomSphereSectors()
{
  QFETCH(int, height);
  QFETCH(int, parts);

  // In 2-D the parts must be angular sectors around the centre: sorted by angle, every part's
  // cells form one contiguous arc (cyclically), and cells on one ray share a part.
  const Hypergrid grid(gridSpec(2, height, 0.1));
  const double centre = (height - 1) / 2.0;
  const PartitionSpec spec = partitionSpec(PartitionKind::RandomSphere, parts);
  for (std::uint64_t seed = 0; seed < 10; ++seed) {
    const std::vector<std::int32_t> labels = partitionHypergrid(grid, spec, seed);
    std::vector<std::pair<double, std::int32_t>> byAngle;
    std::int32_t coords[2];
    for (std::int64_t s = 0; s < grid.stateCount(); ++s) {
      grid.coordsOf(s, coords);
      const double dx = coords[0] - centre;
      const double dy = coords[1] - centre;
      if (dx == 0.0 && dy == 0.0) {
        continue;
      }
      byAngle.emplace_back(std::atan2(dy, dx), labels[static_cast<std::size_t>(s)]);
    }
    std::sort(byAngle.begin(), byAngle.end());

    std::set<std::int32_t> present;
    int changes = 0;
    for (std::size_t i = 0; i < byAngle.size(); ++i) {
      const auto& here = byAngle[i];
      const auto& next = byAngle[(i + 1) % byAngle.size()];
      present.insert(here.second);
      if (std::abs(next.first - here.first) < 1e-12) {
        QCOMPARE(next.second, here.second);
      }
      changes += here.second != next.second ? 1 : 0;
    }
    QVERIFY(present.size() >= 2);
    QVERIFY2(changes == static_cast<int>(present.size()),
             qPrintable(QStringLiteral("seed %1: %2 label changes around the circle for %3 parts")
                          .arg(seed)
                          .arg(changes)
                          .arg(present.size())));
  }
}

void TestPartition::randomSphereSeeds()
{
  const Hypergrid grid(gridSpec(2, 16, 0.1));
  const PartitionSpec spec = partitionSpec(PartitionKind::RandomSphere, 4);

  std::vector<std::vector<std::int32_t>> partitions;
  for (std::uint64_t seed = 0; seed < 10; ++seed) {
    partitions.push_back(partitionHypergrid(grid, spec, seed));
    QCOMPARE(partitionHypergrid(grid, spec, seed), partitions.back());
  }
  // REFERENCE §3: 10 seeds give 10 different partitions.
  for (std::size_t a = 0; a < partitions.size(); ++a) {
    for (std::size_t b = a + 1; b < partitions.size(); ++b) {
      QVERIFY2(partitions[a] != partitions[b], qPrintable(QStringLiteral("%1 %2").arg(a).arg(b)));
    }
  }

  const PartitionSpec uncentred = partitionSpec(PartitionKind::RandomSphere, 4, false);
  QCOMPARE(partitionHypergrid(grid, uncentred, 5), partitionHypergrid(grid, uncentred, 5));
  QVERIFY(partitionHypergrid(grid, uncentred, 5) != partitionHypergrid(grid, uncentred, 6));
}

void TestPartition::randomSphereZeroVector()
{
  // Odd H: the centre cell is the zero vector once centred and goes to part 0; points on one ray
  // from the centre share f̂ and so share a part, whatever W is.
  const Hypergrid grid(gridSpec(2, 9, 0.1));
  const std::vector<double> features = hypergridFeatures(grid);
  QCOMPARE(features.size(), std::size_t{ 162 });
  QCOMPARE(features[2 * 13], 1.0); // cell 13 = (1, 4)
  QCOMPARE(features[2 * 13 + 1], 4.0);

  const std::vector<double> centre = { 4.0, 4.0 };
  for (std::uint64_t seed = 0; seed < 10; ++seed) {
    const std::vector<std::int32_t> labels =
      randomSpherePartition(features, 2, centre, 5, true, seed);
    QCOMPARE(labels[40], 0);                        // (4, 4)
    const std::int32_t ray = labels[5 * 9 + 6];     // (5, 6)
    QCOMPARE(labels[6 * 9 + 8], ray);               // (6, 8), twice as far on the same ray
    QCOMPARE(labels[3 * 9 + 2], labels[2 * 9 + 0]); // (3, 2) and (2, 0)
  }

  // Uncentred, the all-zero origin is the zero vector.
  const std::vector<std::int32_t> uncentred =
    randomSpherePartition(features, 2, centre, 5, false, 3);
  QCOMPARE(uncentred[0], 0);
}

void TestPartition::kMeansRecoversSeparatedClusters()
{
  // Three tight clusters 50 apart: 9 points on a 3×3 block around each centre.
  const double centres[3][2] = { { 0.0, 0.0 }, { 50.0, 0.0 }, { 0.0, 50.0 } };
  std::vector<double> points;
  std::vector<int> truth;
  for (int c = 0; c < 3; ++c) {
    for (int dx = -1; dx <= 1; ++dx) {
      for (int dy = -1; dy <= 1; ++dy) {
        points.push_back(centres[c][0] + dx);
        points.push_back(centres[c][1] + dy);
        truth.push_back(c);
      }
    }
  }

  for (std::uint64_t seed = 0; seed < 10; ++seed) {
    const std::vector<double> centroids = kMeansCentroids(points, 2, 3, seed);
    QCOMPARE(centroids.size(), std::size_t{ 6 });
    const std::vector<std::int32_t> labels = nearestCentroid(points, 2, centroids);

    // Each cluster maps to one part, and different clusters to different parts.
    std::map<int, std::int32_t> partOfCluster;
    for (std::size_t i = 0; i < truth.size(); ++i) {
      const auto [it, inserted] = partOfCluster.emplace(truth[i], labels[i]);
      QCOMPARE(it->second, labels[i]);
    }
    std::set<std::int32_t> distinct;
    for (const auto& [cluster, part] : partOfCluster) {
      distinct.insert(part);
      // The centroid is the cluster's mean, which is its centre.
      const auto p = static_cast<std::size_t>(part);
      QVERIFY(std::abs(centroids[2 * p] - centres[cluster][0]) < 1e-9);
      QVERIFY(std::abs(centroids[2 * p + 1] - centres[cluster][1]) < 1e-9);
    }
    QCOMPARE(distinct.size(), std::size_t{ 3 });
  }
}

void TestPartition::nearestCentroidByHand()
{
  const std::vector<double> centroids = { 0.0, 0.0, 10.0, 0.0 };
  const std::vector<double> points = { 1.0, 1.0, 6.0, 0.0, 5.0, 0.0, -3.0, 7.0, 10.0, -1.0 };
  // (5, 0) is equidistant: the first centroid wins the tie.
  QCOMPARE(nearestCentroid(points, 2, centroids), (std::vector<std::int32_t>{ 0, 1, 0, 0, 1 }));
}

void TestPartition::partCountAndNone()
{
  const Hypergrid grid(gridSpec(3, 4, 0.1));
  QCOMPARE(partCount(grid, partitionSpec(PartitionKind::None, 1)), 1);
  QCOMPARE(partCount(grid, partitionSpec(PartitionKind::NearestMode, 0)), 8);
  QCOMPARE(partCount(grid, partitionSpec(PartitionKind::RandomSphere, 5)), 5);
  QCOMPARE(partCount(grid, partitionSpec(PartitionKind::KMeans, 6)), 6);
  QCOMPARE(partitionHypergrid(grid, partitionSpec(PartitionKind::None, 1), 3),
           std::vector<std::int32_t>(64, 0));
}

void TestPartition::mixtureOfPartTargetsIsTarget_data()
{
  QTest::addColumn<PartitionKind>("kind");
  QTest::addColumn<int>("dim");
  QTest::addColumn<int>("height");
  QTest::addColumn<double>("r0");
  QTest::addColumn<int>("parts");
  QTest::addColumn<bool>("centred");

  QTest::newRow("nearest-mode d2 h7") << PartitionKind::NearestMode << 2 << 7 << 0.1 << 0 << true;
  QTest::newRow("nearest-mode d3 h8 hard")
    << PartitionKind::NearestMode << 3 << 8 << 1e-4 << 0 << true;
  QTest::newRow("random-sphere d2 h16 k5")
    << PartitionKind::RandomSphere << 2 << 16 << 1e-4 << 5 << true;
  QTest::newRow("random-sphere d3 h8 k4 uncentred")
    << PartitionKind::RandomSphere << 3 << 8 << 0.1 << 4 << false;
  QTest::newRow("k-means d2 h32 k6") << PartitionKind::KMeans << 2 << 32 << 0.1 << 6 << true;
}

void TestPartition::mixtureOfPartTargetsIsTarget()
{
  QFETCH(PartitionKind, kind);
  QFETCH(int, dim);
  QFETCH(int, height);
  QFETCH(double, r0);
  QFETCH(int, parts);
  QFETCH(bool, centred);

  // π_i = π restricted to X_i and renormalised; with w_i = R(X_i)/Z, Σ_i w_i π_i = π.
  const Hypergrid grid(gridSpec(dim, height, r0));
  const PartitionSpec spec = partitionSpec(kind, parts, centred);
  const int k = partCount(grid, spec);
  const std::vector<std::int32_t> labels = partitionHypergrid(grid, spec, 3);
  const std::vector<double> rewards = grid.rewards();
  const std::vector<double> masses = partMasses(grid, labels, k);
  const double z = grid.partitionFunction();

  std::vector<double> mixture(rewards.size(), 0.0);
  double weightSum = 0.0;
  for (int i = 0; i < k; ++i) {
    const double mass = masses[static_cast<std::size_t>(i)];
    if (mass == 0.0) {
      continue;
    }
    const double weight = mass / z;
    weightSum += weight;
    for (std::size_t s = 0; s < rewards.size(); ++s) {
      const double partTarget = labels[s] == i ? rewards[s] / mass : 0.0;
      mixture[s] += weight * partTarget;
    }
  }
  QVERIFY(std::abs(weightSum - 1.0) < 1e-12);

  const std::vector<double> target = grid.target();
  for (std::size_t s = 0; s < target.size(); ++s) {
    QVERIFY2(std::abs(mixture[s] - target[s]) < 1e-12 * target[s], qPrintable(QString::number(s)));
  }
}

QTEST_MAIN(TestPartition)
#include "tst_partition.moc"
