#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <vector>

namespace gfm::core {

/**
 * @brief Steps a worker trains a unit before giving it back: small enough that pause acts
 * within a few hundredths of a second and the last units of a run end close together (the tail
 * where one worker waits for another is at most one chunk), large enough that switching costs
 * nothing measurable.
 */
constexpr int kWorkChunkSteps = 5;

/**
 * @brief Hands units of training (a part, or a run's stacked parts) to worker threads, the
 * least advanced free unit first.
 *
 * Parts of a mixture differ in cost: on the hard 32×32 grid the part in the far corner walks
 * trajectories five times longer than the part at the origin. Dealing parts to workers once
 * left one core idle for half the run; taking the least advanced unit after every chunk keeps
 * all workers busy until fewer units remain than workers, and keeps the parts of a run at
 * nearly the same step, which is when a snapshot of the run can be assembled.
 *
 * A unit is held by one worker at a time; all members are thread-safe.
 */
class WorkQueue
{
public:
  /** @brief `targets[i]`: the step unit i trains to. */
  explicit WorkQueue(std::vector<std::int64_t> targets);

  /**
   * @brief Takes the least advanced unit that is neither finished nor held (ties: the lower
   * index); nullopt when there is none, which stays true for this caller: units only finish.
   *
   * A worker passes the unit it just gave back as `preferred` and keeps it while it is free and
   * at most kStickySteps ahead of that choice: a unit that stays on one core keeps its weights
   * in that core's cache (measured 3% faster with two workers).
   */
  std::optional<int> acquire(int preferred = -1);

  /** @brief How far a preferred unit may run ahead of the least advanced free one. */
  static constexpr std::int64_t kStickySteps = 2 * kWorkChunkSteps;

  /** @brief Gives a unit back with the steps it has now done. */
  void release(int unit, std::int64_t stepsDone);

private:
  struct Entry
  {
    std::int64_t target = 0;
    std::int64_t done = 0;
    bool held = false;
  };
  std::mutex m_mutex;
  std::vector<Entry> m_entries;
};

} // namespace gfm::core
