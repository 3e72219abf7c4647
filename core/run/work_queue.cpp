#include "core/run/work_queue.h"

namespace gfm::core {

WorkQueue::WorkQueue(std::vector<std::int64_t> targets)
{
  m_entries.reserve(targets.size());
  for (std::int64_t target : targets) {
    m_entries.push_back(Entry{ target, 0, false });
  }
}

std::optional<int> WorkQueue::acquire(int preferred)
{
  std::lock_guard lock(m_mutex);
  std::optional<int> best;
  for (int i = 0; i < static_cast<int>(m_entries.size()); ++i) {
    const Entry& e = m_entries[static_cast<std::size_t>(i)];
    if (e.held || e.done >= e.target) {
      continue;
    }
    if (!best || e.done < m_entries[static_cast<std::size_t>(*best)].done) {
      best = i;
    }
  }
  if (best && preferred >= 0 && preferred < static_cast<int>(m_entries.size())) {
    const Entry& p = m_entries[static_cast<std::size_t>(preferred)];
    const Entry& b = m_entries[static_cast<std::size_t>(*best)];
    if (!p.held && p.done < p.target && p.done <= b.done + kStickySteps) {
      best = preferred;
    }
  }
  if (best) {
    m_entries[static_cast<std::size_t>(*best)].held = true;
  }
  return best;
}

void WorkQueue::release(int unit, std::int64_t stepsDone)
{
  std::lock_guard lock(m_mutex);
  Entry& e = m_entries.at(static_cast<std::size_t>(unit));
  e.done = stepsDone;
  e.held = false;
}

} // namespace gfm::core
