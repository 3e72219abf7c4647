#include "core/eval/hypergrid_metrics.h"

#include <bitset>
#include <cmath>

namespace gfm::core {

std::vector<double> terminalDistribution(const Hypergrid& grid, const std::vector<float>& forward)
{
  const std::int64_t states = grid.stateCount();
  const int dim = grid.dim();
  const int actions = grid.forwardActionCount();
  std::vector<double> reach(static_cast<std::size_t>(states), 0.0);
  std::vector<double> p(static_cast<std::size_t>(states), 0.0);
  std::vector<std::int32_t> coords(static_cast<std::size_t>(dim));
  reach[0] = 1.0;

  for (std::int64_t s = 0; s < states; ++s) {
    const double here = reach[static_cast<std::size_t>(s)];
    const float* row = &forward[static_cast<std::size_t>(s * actions)];
    p[static_cast<std::size_t>(s)] = here * row[dim];
    if (here == 0.0) {
      continue;
    }
    grid.coordsOf(s, coords.data());
    for (int d = 0; d < dim; ++d) {
      if (coords[static_cast<std::size_t>(d)] < grid.height() - 1) {
        reach[static_cast<std::size_t>(s + grid.stride(d))] += here * row[d];
      }
    }
  }
  return p;
}

Distances distances(const std::vector<double>& p, const std::vector<double>& target)
{
  Distances out;
  for (std::size_t i = 0; i < p.size(); ++i) {
    out.l1 += std::abs(p[i] - target[i]);
  }
  out.tv = out.l1 / 2.0;
  out.l1MeanAbs = p.empty() ? 0.0 : out.l1 / static_cast<double>(p.size());
  return out;
}

std::vector<double> empiricalDistribution(const std::vector<std::int64_t>& states,
                                          std::int64_t stateCount)
{
  std::vector<double> p(static_cast<std::size_t>(stateCount), 0.0);
  if (states.empty()) {
    return p;
  }
  const double weight = 1.0 / static_cast<double>(states.size());
  for (std::int64_t s : states) {
    p[static_cast<std::size_t>(s)] += weight;
  }
  return p;
}

double modeMass(const Hypergrid& grid, const std::vector<double>& p)
{
  double mass = 0.0;
  std::vector<std::int32_t> coords(static_cast<std::size_t>(grid.dim()));
  for (std::int64_t s = 0; s < grid.stateCount(); ++s) {
    grid.coordsOf(s, coords.data());
    if (grid.isModeCell(coords.data())) {
      mass += p[static_cast<std::size_t>(s)];
    }
  }
  return mass;
}

int countModes(std::uint32_t corners)
{
  return static_cast<int>(std::bitset<32>(corners).count());
}

} // namespace gfm::core
