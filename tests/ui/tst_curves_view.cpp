#include "ui/curves_view.h"

#include "fixtures.h"
#include "ui/snapshot_store.h"

#include <QTest>

#include <qcustomplot.h>

#include <cmath>

using gfm::ui::CurvesView;
using gfm::ui::SnapshotStore;
namespace fx = gfm::ui::fixtures;

class TestCurvesView : public QObject
{
  Q_OBJECT

private slots:
  void l1FollowsSnapshots();
  void seedsMakeABand();
  void partBarsCompareZ();
  void wallTimeAxis();
  void tooltipsDefineTheMetrics();
};

void TestCurvesView::l1FollowsSnapshots()
{
  SnapshotStore store;
  CurvesView view(&store);
  const auto description = fx::description();
  store.reset(description);
  store.addSnapshot(fx::snapshot(description, 0, 100, 0.9));
  store.addSnapshot(fx::snapshot(description, 0, 200, 0.7));
  store.flush();

  const QCPGraph* graph = view.l1Graph(0);
  QVERIFY(graph);
  QCOMPARE(graph->data()->size(), 2);
  const auto last = graph->data()->constEnd() - 1;
  QCOMPARE(last->key, 200.0);
  QCOMPARE(last->value, 0.7);
  QCOMPARE((view.logZGraph(0)->data()->constEnd() - 1)->value, 3.0 + 0.2);
  QCOMPARE((view.lossGraph(0)->data()->constEnd() - 1)->value, 10.0 / 201.0);
}

void TestCurvesView::seedsMakeABand()
{
  SnapshotStore store;
  CurvesView view(&store);
  const auto description = fx::description();
  store.reset(description);
  store.addSnapshot(fx::snapshot(description, 2, 100, 0.5));
  store.addSnapshot(fx::snapshot(description, 3, 100, 0.8));
  store.addSnapshot(fx::snapshot(description, 2, 200, 0.4));
  store.flush();

  // Group "random" is the third group; "standard" and "perfect" have one seed each.
  QVERIFY(!view.band(0).first);
  const auto [lower, upper] = view.band(2);
  QVERIFY(lower && upper);
  QCOMPARE(upper->channelFillGraph(), lower);
  // Step 200 is reached by one seed only: the band stops at step 100.
  QCOMPARE(lower->data()->size(), 1);
  QCOMPARE(lower->data()->constBegin()->value, 0.5);
  QCOMPARE(upper->data()->constBegin()->value, 0.8);
  QCOMPARE(view.l1Graph(2)->data()->size(), 2);
}

void TestCurvesView::partBarsCompareZ()
{
  SnapshotStore store;
  CurvesView view(&store);
  const auto description = fx::description();
  store.reset(description);
  const auto snapshot = fx::snapshot(description, 1, 100, 0.3);
  store.addSnapshot(snapshot);
  store.flush();
  view.setPartsRun(1);

  QCOMPARE(view.learnedZBars()->data()->size(), 4);
  QCOMPARE(view.trueZBars()->data()->size(), 4);
  const auto third = view.learnedZBars()->data()->constBegin() + 2;
  QCOMPARE(third->key, 3.0);
  QVERIFY(qFuzzyCompare(third->value, std::exp(snapshot->parts[2].logZ)));
  QVERIFY(qFuzzyCompare((view.trueZBars()->data()->constBegin() + 2)->value,
                        std::exp(snapshot->parts[2].logZTrue)));
  QCOMPARE(view.partsPlot()->yAxis->scaleType(), QCPAxis::stLogarithmic);
}

void TestCurvesView::wallTimeAxis()
{
  SnapshotStore store;
  CurvesView view(&store);
  const auto description = fx::description();
  store.reset(description);
  store.addSnapshot(fx::snapshot(description, 0, 100, 0.9, 12.5));
  store.flush();

  view.setTimeAxis(CurvesView::TimeAxis::WallSeconds);
  QCOMPARE(view.l1Graph(0)->data()->constBegin()->key, 12.5);
  view.setTimeAxis(CurvesView::TimeAxis::Steps);
  QCOMPARE(view.l1Graph(0)->data()->constBegin()->key, 100.0);
}

void TestCurvesView::tooltipsDefineTheMetrics()
{
  SnapshotStore store;
  CurvesView view(&store);
  QVERIFY(view.l1Plot()->toolTip().contains(QStringLiteral("Σ_x |p(x) − π(x)|")));
  QVERIFY(view.l1Plot()->toolTip().contains(QStringLiteral("2 = disjoint")));
  QVERIFY(view.logZPlot()->toolTip().contains(QStringLiteral("log Σ_x R(x)")));
  QVERIFY(view.partsPlot()->toolTip().contains(QStringLiteral("R(X_i)")));
  QVERIFY(!view.lossPlot()->toolTip().isEmpty());
}

QTEST_MAIN(TestCurvesView)
#include "tst_curves_view.moc"
