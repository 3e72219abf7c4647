#include "ui/experiment_description.h"

#include <algorithm>

namespace gfm::ui {

std::int64_t ExperimentDescription::stateCount() const
{
  std::int64_t count = 1;
  for (int d = 0; d < grid.dim; ++d) {
    count *= grid.height;
  }
  return count;
}

std::vector<QString> ExperimentDescription::groups() const
{
  std::vector<QString> names;
  for (const RunDescription& run : runs) {
    if (std::find(names.begin(), names.end(), run.group) == names.end()) {
      names.push_back(run.group);
    }
  }
  return names;
}

int ExperimentDescription::groupIndex(const QString& group) const
{
  const std::vector<QString> names = groups();
  const auto it = std::find(names.begin(), names.end(), group);
  return it == names.end() ? -1 : static_cast<int>(it - names.begin());
}

int ExperimentDescription::seedsInGroup(const QString& group) const
{
  return static_cast<int>(std::count_if(
    runs.begin(), runs.end(), [&](const RunDescription& r) { return r.group == group; }));
}

} // namespace gfm::ui
