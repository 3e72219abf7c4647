#include "ui/density_view.h"

#include "fixtures.h"
#include "ui/snapshot_store.h"

#include <QTest>

#include <qcustomplot.h>

using gfm::ui::DensityView;
using gfm::ui::SnapshotStore;
namespace fx = gfm::ui::fixtures;

class TestDensityView : public QObject
{
  Q_OBJECT

private slots:
  void snapshotReachesHeatmaps();
  void partShowsItsOwnDensity();
  void overlayTogglesWithoutRecomputing();
  void logScale();
  void sliceAndMarginal_data();
  void sliceAndMarginal();
  void readoutNamesThePart();
};

void TestDensityView::snapshotReachesHeatmaps()
{
  SnapshotStore store;
  DensityView view(&store);
  const auto description = fx::description();
  store.reset(description);
  const auto snapshot = fx::snapshot(description, 0, 200, 0.4);
  store.addSnapshot(snapshot);
  store.flush();

  const int h = description.grid.height;
  for (const auto& [x, y] : { std::pair{ 0, 0 }, { 3, 5 }, { 7, 7 }, { 6, 1 } }) {
    const auto i = static_cast<std::size_t>(x * h + y);
    QCOMPARE(view.map(DensityView::Learned)->data()->cell(x, y),
             static_cast<double>(snapshot->density[i]));
    QCOMPARE(view.map(DensityView::Target)->data()->cell(x, y), description.target[i]);
    QCOMPARE(view.map(DensityView::Difference)->data()->cell(x, y),
             static_cast<double>(snapshot->density[i]) - description.target[i]);
  }
}

void TestDensityView::partShowsItsOwnDensity()
{
  SnapshotStore store;
  DensityView view(&store);
  const auto description = fx::description();
  store.reset(description);
  const auto snapshot = fx::snapshot(description, 1, 300, 0.2);
  store.addSnapshot(snapshot);
  view.setRun(1);
  view.setPart(2);

  // Part 2 of the orthant partition holds x₀ ≥ 4, x₁ < 4: π there, renormalised, else 0.
  const auto& partOf = *description.runs[1].partOf;
  double mass = 0.0;
  for (std::size_t i = 0; i < partOf.size(); ++i) {
    mass += partOf[i] == 2 ? description.target[i] : 0.0;
  }
  const int h = description.grid.height;
  QCOMPARE(view.map(DensityView::Learned)->data()->cell(5, 1),
           static_cast<double>(snapshot->partDensities[2][5 * h + 1]));
  QCOMPARE(view.map(DensityView::Target)->data()->cell(5, 1), description.target[5 * h + 1] / mass);
  QCOMPARE(view.map(DensityView::Target)->data()->cell(1, 1), 0.0);
}

void TestDensityView::overlayTogglesWithoutRecomputing()
{
  SnapshotStore store;
  DensityView view(&store);
  const auto description = fx::description();
  store.reset(description);
  store.addSnapshot(fx::snapshot(description, 1, 100, 0.5));
  store.flush();
  view.setRun(1);
  view.plot()->replot();

  QVERIFY(view.overlayVisible());
  QVERIFY(view.overlayLayer()->visible());
  QVERIFY(!view.overlayLayer()->children().isEmpty());
  const int updates = view.heatmapUpdates();
  const double cell = view.map(DensityView::Learned)->data()->cell(2, 6);

  view.setOverlayVisible(false);
  QVERIFY(!view.overlayLayer()->visible());
  view.setOverlayVisible(true);
  QVERIFY(view.overlayLayer()->visible());

  QCOMPARE(view.heatmapUpdates(), updates);
  QCOMPARE(view.map(DensityView::Learned)->data()->cell(2, 6), cell);
}

void TestDensityView::logScale()
{
  SnapshotStore store;
  DensityView view(&store);
  const auto description = fx::description();
  store.reset(description);
  store.addSnapshot(fx::snapshot(description, 0, 100, 0.5));
  store.flush();

  view.setLogScale(true);
  QCOMPARE(view.map(DensityView::Learned)->colorScale()->dataScaleType(), QCPAxis::stLogarithmic);
  QCOMPARE(view.map(DensityView::Target)->colorScale(),
           view.map(DensityView::Learned)->colorScale());
  QVERIFY(view.map(DensityView::Learned)->colorScale()->dataRange().lower > 0.0);
  view.setLogScale(false);
  QCOMPARE(view.map(DensityView::Learned)->colorScale()->dataScaleType(), QCPAxis::stLinear);
}

void TestDensityView::sliceAndMarginal_data()
{
  QTest::addColumn<bool>("marginal");
  QTest::addColumn<int>("slice");
  QTest::newRow("slice at 0") << false << 0;
  QTest::newRow("slice at 3") << false << 3;
  QTest::newRow("marginal") << true << 0;
}

void TestDensityView::sliceAndMarginal()
{
  QFETCH(bool, marginal);
  QFETCH(int, slice);

  SnapshotStore store;
  DensityView view(&store);
  const auto description = fx::description(3, 4);
  store.reset(description);
  const auto snapshot = fx::snapshot(description, 0, 100, 0.5);
  store.addSnapshot(snapshot);
  store.flush();
  view.setProjection(marginal ? DensityView::Projection::Marginal : DensityView::Projection::Slice);
  view.setSlice(slice);

  // Row-major, last coordinate fastest: cell (x₀, x₁, x₂) is (x₀·4 + x₁)·4 + x₂.
  const int x0 = 2;
  const int x1 = 1;
  double expected = 0.0;
  for (int x2 = 0; x2 < 4; ++x2) {
    if (marginal || x2 == slice) {
      expected += snapshot->density[static_cast<std::size_t>((x0 * 4 + x1) * 4 + x2)];
    }
  }
  QVERIFY(qFuzzyCompare(view.map(DensityView::Learned)->data()->cell(x0, x1), expected));
  QCOMPARE(view.map(DensityView::Learned)->data()->keySize(), 4);
  QCOMPARE(view.map(DensityView::Learned)->data()->valueSize(), 4);
}

void TestDensityView::readoutNamesThePart()
{
  SnapshotStore store;
  DensityView view(&store);
  const auto description = fx::description();
  store.reset(description);
  store.addSnapshot(fx::snapshot(description, 1, 100, 0.5));
  store.flush();
  view.setRun(1);

  const QString text = view.cellReadout(6, 6);
  QVERIFY2(text.contains(QStringLiteral("cell (6, 6)")), qPrintable(text));
  QVERIFY2(text.contains(QStringLiteral("part 4")), qPrintable(text));
  QVERIFY(text.contains(QStringLiteral("target π")));
  QVERIFY(view.cellReadout(8, 0).isEmpty());
}

QTEST_MAIN(TestDensityView)
#include "tst_density_view.moc"
