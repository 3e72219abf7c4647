#include "ui/snapshot_store.h"

#include "fixtures.h"

#include <QSignalSpy>
#include <QTest>

using gfm::ui::SnapshotStore;
namespace fx = gfm::ui::fixtures;

class TestSnapshotStore : public QObject
{
  Q_OBJECT

private slots:
  void keepsLatestAndSeries();
  void coalescesRedraws();
  void ignoresUnknownRuns();
};

void TestSnapshotStore::keepsLatestAndSeries()
{
  SnapshotStore store;
  const auto description = fx::description();
  store.reset(description);
  QVERIFY(!store.latest(0));

  const auto first = fx::snapshot(description, 0, 100, 0.9);
  const auto second = fx::snapshot(description, 0, 200, 0.6);
  store.addSnapshot(first);
  store.addSnapshot(second);
  QCOMPARE(store.latest(0), second);
  QCOMPARE(store.series(0).size(), std::size_t(2));
  QCOMPARE(store.series(0).back().l1, 0.6);
  QCOMPARE(store.series(0).front().step, std::int64_t(100));
  QVERIFY(!store.latest(1));
  QCOMPARE(store.received(), std::int64_t(2));
}

void TestSnapshotStore::coalescesRedraws()
{
  SnapshotStore store;
  const auto description = fx::description();
  store.reset(description);
  QSignalSpy spy(&store, &SnapshotStore::changed);

  for (int i = 1; i <= 50; ++i) {
    store.addSnapshot(fx::snapshot(description, i % 4, 10 * i, 1.0 / i));
  }
  QCOMPARE(spy.count(), 0);
  QVERIFY(spy.wait(1000));
  QTest::qWait(3 * SnapshotStore::kRedrawIntervalMs);
  QCOMPARE(spy.count(), 1);
  QCOMPARE(store.received(), std::int64_t(50));
}

void TestSnapshotStore::ignoresUnknownRuns()
{
  SnapshotStore store;
  const auto description = fx::description();
  store.reset(description);
  auto stray = std::make_shared<gfm::core::Snapshot>();
  stray->run = 17;
  store.addSnapshot(stray);
  store.addSnapshot(nullptr);
  QCOMPARE(store.received(), std::int64_t(0));
}

QTEST_MAIN(TestSnapshotStore)
#include "tst_snapshot_store.moc"
