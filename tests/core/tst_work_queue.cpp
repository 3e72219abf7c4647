// The work queue that shares parts between workers: order, holding, finishing, and many threads.

#include "core/run/work_queue.h"

#include <QTest>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

using namespace gfm::core;

class TestWorkQueue : public QObject
{
  Q_OBJECT

private slots:
  void takesTheLeastAdvancedFreeUnit()
  {
    WorkQueue queue({ 100, 100, 100 });
    QCOMPARE(queue.acquire(), std::optional<int>(0)); // ties go to the lower index
    QCOMPARE(queue.acquire(), std::optional<int>(1)); // 0 is held
    queue.release(0, 10);
    QCOMPARE(queue.acquire(), std::optional<int>(2)); // 2 is at 0 steps, 0 at 10
    queue.release(1, 5);
    queue.release(2, 20);
    QCOMPARE(queue.acquire(), std::optional<int>(1)); // 5 < 10 < 20
    QCOMPARE(queue.acquire(), std::optional<int>(0));
    QCOMPARE(queue.acquire(), std::optional<int>(2));
    QCOMPARE(queue.acquire(), std::nullopt); // all three held
  }

  void keepsThePreferredUnitWhileCloseEnough()
  {
    WorkQueue queue({ 100, 100 });
    QCOMPARE(queue.acquire(), std::optional<int>(0));
    queue.release(0, WorkQueue::kStickySteps);
    QCOMPARE(queue.acquire(0), std::optional<int>(0)); // kStickySteps ahead of unit 1: kept
    queue.release(0, WorkQueue::kStickySteps + 1);
    QCOMPARE(queue.acquire(0), std::optional<int>(1)); // one more: the least advanced wins
    QCOMPARE(queue.acquire(0), std::optional<int>(0));
    queue.release(1, 100); // finished units are not kept either
    QCOMPARE(queue.acquire(1), std::nullopt);
  }

  void finishedUnitsAreNeverHandedOut()
  {
    WorkQueue queue({ 10, 30 });
    const auto first = queue.acquire();
    QCOMPARE(first, std::optional<int>(0));
    queue.release(0, 10); // reached its target
    QCOMPARE(queue.acquire(), std::optional<int>(1));
    QCOMPARE(queue.acquire(), std::nullopt);
    queue.release(1, 30);
    QCOMPARE(queue.acquire(), std::nullopt);
  }

  void emptyQueueHasNoWork()
  {
    WorkQueue queue({});
    QCOMPARE(queue.acquire(), std::nullopt);
  }

  // Units of very unequal cost on more workers than the cheapest units: every unit ends at its
  // target, no unit is ever held by two workers, and the work is spread over all workers.
  void sharesUnequalUnitsBetweenThreads()
  {
    const std::vector<int> costMicroseconds{ 50, 200, 200, 400 };
    constexpr std::int64_t kTarget = 200;
    constexpr int kWorkers = 3;
    WorkQueue queue(std::vector<std::int64_t>(costMicroseconds.size(), kTarget));
    std::vector<std::atomic<int>> holders(costMicroseconds.size());
    std::vector<std::int64_t> done(costMicroseconds.size(), 0);
    std::vector<std::int64_t> stepsByWorker(kWorkers, 0);
    std::atomic<bool> overlap{ false };

    std::vector<std::thread> workers;
    for (int w = 0; w < kWorkers; ++w) {
      workers.emplace_back([&, w] {
        int last = -1;
        while (const std::optional<int> unit = queue.acquire(last)) {
          last = *unit;
          const auto u = static_cast<std::size_t>(*unit);
          if (holders[u].fetch_add(1) != 0) {
            overlap = true;
          }
          const std::int64_t chunk = std::min<std::int64_t>(kWorkChunkSteps, kTarget - done[u]);
          for (std::int64_t s = 0; s < chunk; ++s) {
            std::this_thread::sleep_for(std::chrono::microseconds(costMicroseconds[u]));
          }
          done[u] += chunk;
          stepsByWorker[static_cast<std::size_t>(w)] += chunk;
          holders[u].fetch_sub(1);
          queue.release(*unit, done[u]);
        }
      });
    }
    for (std::thread& t : workers) {
      t.join();
    }
    QVERIFY(!overlap);
    for (std::int64_t d : done) {
      QCOMPARE(d, kTarget);
    }
    for (std::int64_t s : stepsByWorker) {
      QVERIFY2(s > 0, "a worker got no work");
    }
  }
};

QTEST_GUILESS_MAIN(TestWorkQueue)
#include "tst_work_queue.moc"
