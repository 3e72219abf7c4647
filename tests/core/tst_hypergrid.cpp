// Tests of Hypergrid: rewards on the exact integer thresholds, modes, Z, indexing and masks.
//
// Every expected value below is worked out by hand from REFERENCE §2 with u_d = m/n,
// m = |2x_d − (H−1)|, n = 2(H−1):
//   H = 8:  outer band x ∈ {0,1,6,7}, mode band x ∈ {1,6}.
//   H = 16: outer band x ∈ {0..3, 12..15}, mode band x ∈ {2,13}; x = 3 and x = 12 sit exactly on
//           u = 0.3 (m = 9, n = 30) and are excluded.
//   H = 7:  outer band x ∈ {0,1,5,6}, mode band x ∈ {1,5} (u = 4/12).
//   H = 11: outer band x ∈ {0,1,2,8,9,10}, no mode band (m is even, 6 < m < 8 is empty).
//   H = 32: outer band x ∈ {0..7, 24..31}, mode band x ∈ {4,5,6, 25,26,27}.

#include "core/env/hypergrid.h"

#include <QTest>

#include <cmath>
#include <cstdint>
#include <map>
#include <vector>

using gfm::core::Hypergrid;
using gfm::core::HypergridSpec;

Q_DECLARE_METATYPE(std::vector<std::int32_t>)

namespace {

HypergridSpec gridSpec(int dim, int height, double r0)
{
  HypergridSpec spec;
  spec.dim = dim;
  spec.height = height;
  spec.r0 = r0;
  return spec;
}

} // namespace

class TestHypergrid : public QObject
{
  Q_OBJECT

private slots:
  void rewardOfCell_data();
  void rewardOfCell();
  void partitionFunction_data();
  void partitionFunction();
  void targetSumsToOne_data();
  void targetSumsToOne();
  void modeCells_data();
  void modeCells();
  void modeMassOfLargeGrid();
  void indexRoundTrip_data();
  void indexRoundTrip();
  void rowMajorOrder();
  void forwardMasks();
  void rewardsVectorMatchesCells();
};

void TestHypergrid::rewardOfCell_data()
{
  QTest::addColumn<int>("height");
  QTest::addColumn<double>("r0");
  QTest::addColumn<std::vector<std::int32_t>>("coords");
  QTest::addColumn<double>("expected");

  using C = std::vector<std::int32_t>;
  // D = 2, H = 8.
  QTest::newRow("h8 origin corner") << 8 << 0.1 << C{ 0, 0 } << 0.6;
  QTest::newRow("h8 mode (1,1)") << 8 << 0.1 << C{ 1, 1 } << 2.6;
  QTest::newRow("h8 mode (1,6)") << 8 << 0.1 << C{ 1, 6 } << 2.6;
  QTest::newRow("h8 mode (6,6)") << 8 << 0.1 << C{ 6, 6 } << 2.6;
  QTest::newRow("h8 outer (0,1)") << 8 << 0.1 << C{ 0, 1 } << 0.6;
  QTest::newRow("h8 far corner") << 8 << 0.1 << C{ 7, 7 } << 0.6;
  QTest::newRow("h8 centre (3,4)") << 8 << 0.1 << C{ 3, 4 } << 0.1;
  QTest::newRow("h8 mixed (0,3)") << 8 << 0.1 << C{ 0, 3 } << 0.1;
  QTest::newRow("h8 mixed (1,2)") << 8 << 0.1 << C{ 1, 2 } << 0.1;
  QTest::newRow("h8 hard mode") << 8 << 1e-4 << C{ 6, 1 } << 2.5001;
  QTest::newRow("h8 hard centre") << 8 << 1e-4 << C{ 4, 4 } << 1e-4;
  // D = 2, H = 16: x = 12 and x = 3 are exactly on u = 0.3, outside the band.
  QTest::newRow("h16 mode (2,2)") << 16 << 0.1 << C{ 2, 2 } << 2.6;
  QTest::newRow("h16 mode (13,13)") << 16 << 0.1 << C{ 13, 13 } << 2.6;
  QTest::newRow("h16 mode (2,13)") << 16 << 0.1 << C{ 2, 13 } << 2.6;
  QTest::newRow("h16 on u=0.3 (12,12)") << 16 << 0.1 << C{ 12, 12 } << 0.6;
  QTest::newRow("h16 on u=0.3 (3,3)") << 16 << 0.1 << C{ 3, 3 } << 0.6;
  QTest::newRow("h16 on u=0.3 (12,13)") << 16 << 0.1 << C{ 12, 13 } << 0.6;
  QTest::newRow("h16 (4,4) inside") << 16 << 0.1 << C{ 4, 4 } << 0.1;
  QTest::newRow("h16 (1,14)") << 16 << 0.1 << C{ 1, 14 } << 0.6;
  // D = 2, odd H.
  QTest::newRow("h7 mode (1,5)") << 7 << 0.1 << C{ 1, 5 } << 2.6;
  QTest::newRow("h7 outer (0,6)") << 7 << 0.1 << C{ 0, 6 } << 0.6;
  QTest::newRow("h7 middle (3,3)") << 7 << 0.1 << C{ 3, 3 } << 0.1;
  QTest::newRow("h7 (2,1)") << 7 << 0.1 << C{ 2, 1 } << 0.1;
  QTest::newRow("h11 outer (1,1)") << 11 << 0.1 << C{ 1, 1 } << 0.6;
  QTest::newRow("h11 on u=0.3 (2,2)") << 11 << 0.1 << C{ 2, 2 } << 0.6;
  QTest::newRow("h11 on u=0.4 (9,9)") << 11 << 0.1 << C{ 9, 9 } << 0.6;
  QTest::newRow("h11 (3,3)") << 11 << 0.1 << C{ 3, 3 } << 0.1;
  QTest::newRow("h11 middle (5,5)") << 11 << 0.1 << C{ 5, 5 } << 0.1;
  // D = 2, H = 32.
  QTest::newRow("h32 mode (4,27)") << 32 << 0.1 << C{ 4, 27 } << 2.6;
  QTest::newRow("h32 mode (6,5)") << 32 << 0.1 << C{ 6, 5 } << 2.6;
  QTest::newRow("h32 outer (3,6)") << 32 << 0.1 << C{ 3, 6 } << 0.6;
  QTest::newRow("h32 outer (7,24)") << 32 << 0.1 << C{ 7, 24 } << 0.6;
  QTest::newRow("h32 (8,8)") << 32 << 0.1 << C{ 8, 8 } << 0.1;
  QTest::newRow("h32 (7,23)") << 32 << 0.1 << C{ 7, 23 } << 0.1;
  QTest::newRow("h32 (28,25)") << 32 << 0.1 << C{ 28, 25 } << 0.6;
  // D = 1 and D = 3, D = 4.
  QTest::newRow("d1 h8 mode") << 8 << 0.1 << C{ 6 } << 2.6;
  QTest::newRow("d1 h8 middle") << 8 << 0.1 << C{ 4 } << 0.1;
  QTest::newRow("d3 h8 mode") << 8 << 0.1 << C{ 1, 6, 1 } << 2.6;
  QTest::newRow("d3 h8 outer") << 8 << 0.1 << C{ 0, 7, 1 } << 0.6;
  QTest::newRow("d3 h8 one inside") << 8 << 0.1 << C{ 1, 6, 2 } << 0.1;
  QTest::newRow("d4 h16 mode") << 16 << 0.1 << C{ 2, 13, 13, 2 } << 2.6;
  QTest::newRow("d4 h16 one on 0.3") << 16 << 0.1 << C{ 2, 13, 12, 2 } << 0.6;
}

void TestHypergrid::rewardOfCell()
{
  QFETCH(int, height);
  QFETCH(double, r0);
  QFETCH(std::vector<std::int32_t>, coords);
  QFETCH(double, expected);

  const Hypergrid grid(gridSpec(static_cast<int>(coords.size()), height, r0));
  QVERIFY(std::abs(grid.reward(coords.data()) - expected) < 1e-12);
}

void TestHypergrid::partitionFunction_data()
{
  QTest::addColumn<int>("dim");
  QTest::addColumn<int>("height");
  QTest::addColumn<double>("r0");
  QTest::addColumn<double>("expected");

  // REFERENCE §2, and by hand: H^D·R0 + (outer cells)·0.5 + (mode cells)·2.
  QTest::newRow("d2 h8 easy (REFERENCE)") << 2 << 8 << 0.1 << 22.4;
  QTest::newRow("d2 h32 easy (REFERENCE)") << 2 << 32 << 0.1 << 302.4;
  QTest::newRow("d2 h32 hard (REFERENCE)") << 2 << 32 << 1e-4 << 200.1024;
  QTest::newRow("d3 h32 easy (REFERENCE)") << 3 << 32 << 0.1 << 5756.8;
  QTest::newRow("d2 h16 easy") << 2 << 16 << 0.1 << 65.6;
  QTest::newRow("d2 h7 easy") << 2 << 7 << 0.1 << 20.9;
  QTest::newRow("d2 h11 easy") << 2 << 11 << 0.1 << 30.1;
  QTest::newRow("d1 h8 easy") << 1 << 8 << 0.1 << 6.8;
  QTest::newRow("d4 h8 easy") << 4 << 8 << 0.1 << 569.6;
  QTest::newRow("d2 h6 easy") << 2 << 6 << 0.1 << 3.6 + 8.0;
}

void TestHypergrid::partitionFunction()
{
  QFETCH(int, dim);
  QFETCH(int, height);
  QFETCH(double, r0);
  QFETCH(double, expected);

  const Hypergrid grid(gridSpec(dim, height, r0));
  QVERIFY2(std::abs(grid.partitionFunction() - expected) < 1e-9 * expected,
           qPrintable(QString::number(grid.partitionFunction(), 'g', 12)));
  if (dim == 2 && height == 32 && r0 == 0.1) {
    QVERIFY(std::abs(std::log(grid.partitionFunction()) - 5.711751) < 1e-6);
  }
}

void TestHypergrid::targetSumsToOne_data()
{
  QTest::addColumn<int>("dim");
  QTest::addColumn<int>("height");
  QTest::addColumn<double>("r0");

  QTest::newRow("d1 h8") << 1 << 8 << 0.1;
  QTest::newRow("d2 h32 hard") << 2 << 32 << 1e-4;
  QTest::newRow("d3 h16") << 3 << 16 << 0.1;
  QTest::newRow("d4 h8") << 4 << 8 << 1e-4;
}

void TestHypergrid::targetSumsToOne()
{
  QFETCH(int, dim);
  QFETCH(int, height);
  QFETCH(double, r0);

  const Hypergrid grid(gridSpec(dim, height, r0));
  const std::vector<double> target = grid.target();
  QCOMPARE(static_cast<std::int64_t>(target.size()), grid.stateCount());

  double sum = 0.0;
  for (double p : target) {
    QVERIFY(p > 0.0);
    sum += p;
  }
  QVERIFY(std::abs(sum - 1.0) < 1e-12);

  // The origin is an outer-band corner: π(0) = (R0 + 0.5)/Z.
  QVERIFY(std::abs(target[0] - (r0 + 0.5) / grid.partitionFunction()) < 1e-15);
}

void TestHypergrid::modeCells_data()
{
  QTest::addColumn<int>("dim");
  QTest::addColumn<int>("height");
  QTest::addColumn<int>("cellsPerCorner");

  QTest::newRow("d1 h8") << 1 << 8 << 1;
  QTest::newRow("d2 h8") << 2 << 8 << 1;
  QTest::newRow("d2 h16") << 2 << 16 << 1;
  QTest::newRow("d2 h32") << 2 << 32 << 9;
  QTest::newRow("d3 h32") << 3 << 32 << 27;
  QTest::newRow("d4 h8") << 4 << 8 << 1;
  QTest::newRow("d2 h7") << 2 << 7 << 1;
  QTest::newRow("d2 h2") << 2 << 2 << 0;
  QTest::newRow("d2 h3") << 2 << 3 << 0;
  QTest::newRow("d2 h4") << 2 << 4 << 0;
  QTest::newRow("d2 h5") << 2 << 5 << 0;
  QTest::newRow("d2 h6") << 2 << 6 << 0;
  QTest::newRow("d2 h11") << 2 << 11 << 0;
  QTest::newRow("d3 h11") << 3 << 11 << 0;
}

void TestHypergrid::modeCells()
{
  QFETCH(int, dim);
  QFETCH(int, height);
  QFETCH(int, cellsPerCorner);

  const Hypergrid grid(gridSpec(dim, height, 0.1));
  const bool expectModes = cellsPerCorner > 0;
  QCOMPARE(grid.hasModes(), expectModes);
  QCOMPARE(grid.modeCount(), expectModes ? (1 << dim) : 0);

  std::map<int, int> perCorner;
  std::vector<std::int32_t> coords(static_cast<std::size_t>(dim));
  for (std::int64_t s = 0; s < grid.stateCount(); ++s) {
    grid.coordsOf(s, coords.data());
    const int corner = grid.modeCorner(coords.data());
    QCOMPARE(corner >= 0, grid.isModeCell(coords.data()));
    if (corner < 0) {
      continue;
    }

    // Every mode cell has reward R0 + R1 + R2 and lies on its corner's side in each coordinate.
    QVERIFY(std::abs(grid.reward(coords.data()) - 2.6) < 1e-12);
    for (int d = 0; d < dim; ++d) {
      const bool upper = 2 * coords[static_cast<std::size_t>(d)] > height - 1;
      QCOMPARE(((corner >> d) & 1) == 1, upper);
    }
    ++perCorner[corner];
  }

  QCOMPARE(static_cast<int>(perCorner.size()), expectModes ? (1 << dim) : 0);
  for (const auto& [corner, count] : perCorner) {
    QCOMPARE(count, cellsPerCorner);
  }
}

void TestHypergrid::modeMassOfLargeGrid()
{
  // REFERENCE §2: 36 mode cells of D = 2, H = 32, R0 = 0.1 hold 0.309524 of the mass.
  const Hypergrid grid(gridSpec(2, 32, 0.1));
  const std::vector<double> target = grid.target();
  double mass = 0.0;
  int cells = 0;
  std::int32_t coords[2];
  for (std::int64_t s = 0; s < grid.stateCount(); ++s) {
    grid.coordsOf(s, coords);
    if (grid.isModeCell(coords)) {
      mass += target[static_cast<std::size_t>(s)];
      ++cells;
    }
  }
  QCOMPARE(cells, 36);
  QVERIFY(std::abs(mass - 0.309524) < 1e-6);
}

void TestHypergrid::indexRoundTrip_data()
{
  QTest::addColumn<int>("dim");
  QTest::addColumn<int>("height");

  QTest::newRow("d1 h8") << 1 << 8;
  QTest::newRow("d2 h7") << 2 << 7;
  QTest::newRow("d3 h5") << 3 << 5;
  QTest::newRow("d4 h6") << 4 << 6;
}

void TestHypergrid::indexRoundTrip()
{
  QFETCH(int, dim);
  QFETCH(int, height);

  const Hypergrid grid(gridSpec(dim, height, 0.1));
  std::int64_t expectedCount = 1;
  for (int d = 0; d < dim; ++d) {
    expectedCount *= height;
  }
  QCOMPARE(grid.stateCount(), expectedCount);
  QCOMPARE(grid.forwardActionCount(), dim + 1);
  QCOMPARE(grid.stopAction(), dim);

  std::vector<std::int32_t> coords(static_cast<std::size_t>(dim));
  for (std::int64_t s = 0; s < grid.stateCount(); ++s) {
    grid.coordsOf(s, coords.data());
    for (std::int32_t c : coords) {
      QVERIFY(c >= 0 && c < height);
    }
    QCOMPARE(grid.indexOf(coords.data()), s);
  }
}

void TestHypergrid::rowMajorOrder()
{
  // D = 3, H = 5: the last coordinate is fastest, strides 25, 5, 1.
  const Hypergrid grid(gridSpec(3, 5, 0.1));
  QCOMPARE(grid.stride(0), std::int64_t{ 25 });
  QCOMPARE(grid.stride(1), std::int64_t{ 5 });
  QCOMPARE(grid.stride(2), std::int64_t{ 1 });

  const std::int32_t cell[3] = { 1, 2, 3 };
  QCOMPARE(grid.indexOf(cell), std::int64_t{ 38 });

  std::int32_t back[3];
  grid.coordsOf(124, back);
  QCOMPARE(back[0], 4);
  QCOMPARE(back[1], 4);
  QCOMPARE(back[2], 4);
  grid.coordsOf(5, back);
  QCOMPARE(back[0], 0);
  QCOMPARE(back[1], 1);
  QCOMPARE(back[2], 0);

  // Incrementing coordinate d moves the index by exactly stride(d): parents precede children.
  const std::int32_t next[3] = { 1, 3, 3 };
  QCOMPARE(grid.indexOf(next) - grid.indexOf(cell), grid.stride(1));
}

void TestHypergrid::forwardMasks()
{
  const Hypergrid grid(gridSpec(2, 4, 0.1));
  const std::vector<std::int32_t> origin = { 0, 0 };
  const std::vector<std::int32_t> rightEdge = { 3, 1 };
  const std::vector<std::int32_t> topEdge = { 2, 3 };
  const std::vector<std::int32_t> corner = { 3, 3 };

  QVERIFY(grid.forwardAllowed(origin.data(), 0));
  QVERIFY(grid.forwardAllowed(origin.data(), 1));
  QVERIFY(grid.forwardAllowed(origin.data(), grid.stopAction()));

  QVERIFY(!grid.forwardAllowed(rightEdge.data(), 0));
  QVERIFY(grid.forwardAllowed(rightEdge.data(), 1));
  QVERIFY(grid.forwardAllowed(rightEdge.data(), grid.stopAction()));

  QVERIFY(grid.forwardAllowed(topEdge.data(), 0));
  QVERIFY(!grid.forwardAllowed(topEdge.data(), 1));
  QVERIFY(grid.forwardAllowed(topEdge.data(), grid.stopAction()));

  // The far corner can only stop.
  QVERIFY(!grid.forwardAllowed(corner.data(), 0));
  QVERIFY(!grid.forwardAllowed(corner.data(), 1));
  QVERIFY(grid.forwardAllowed(corner.data(), grid.stopAction()));

  const Hypergrid line(gridSpec(1, 3, 0.1));
  const std::vector<std::int32_t> end = { 2 };
  const std::vector<std::int32_t> mid = { 1 };
  QVERIFY(line.forwardAllowed(mid.data(), 0));
  QVERIFY(!line.forwardAllowed(end.data(), 0));
  QVERIFY(line.forwardAllowed(end.data(), line.stopAction()));
}

void TestHypergrid::rewardsVectorMatchesCells()
{
  // D = 1, H = 8: [0.6, 2.6, 0.1, 0.1, 0.1, 0.1, 2.6, 0.6].
  const Hypergrid grid(gridSpec(1, 8, 0.1));
  const std::vector<double> expected = { 0.6, 2.6, 0.1, 0.1, 0.1, 0.1, 2.6, 0.6 };
  const std::vector<double> rewards = grid.rewards();
  QCOMPARE(rewards.size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    QVERIFY2(std::abs(rewards[i] - expected[i]) < 1e-12, qPrintable(QString::number(i)));
  }
}

QTEST_MAIN(TestHypergrid)
#include "tst_hypergrid.moc"
