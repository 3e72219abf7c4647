#include "core/env/hypergrid.h"

#include <cstdlib>

namespace gfm::core {

Hypergrid::Hypergrid(const HypergridSpec& spec)
  : m_spec(spec)
  , m_strides(static_cast<std::size_t>(spec.dim))
{
  m_stateCount = 1;
  for (int d = spec.dim - 1; d >= 0; --d) {
    m_strides[static_cast<std::size_t>(d)] = m_stateCount;
    m_stateCount *= spec.height;
  }

  // The band test is the same in every dimension, so one coordinate in it suffices.
  for (std::int32_t x = 0; x < spec.height; ++x) {
    m_hasModes = m_hasModes || inModeBand(x);
  }
}

std::int64_t Hypergrid::indexOf(const std::int32_t* coords) const
{
  std::int64_t index = 0;
  for (int d = 0; d < m_spec.dim; ++d) {
    index = index * m_spec.height + coords[d];
  }
  return index;
}

void Hypergrid::coordsOf(std::int64_t index, std::int32_t* coords) const
{
  for (int d = m_spec.dim - 1; d >= 0; --d) {
    coords[d] = static_cast<std::int32_t>(index % m_spec.height);
    index /= m_spec.height;
  }
}

// u = m/n with m = |2x - (H-1)| and n = 2(H-1); u > 0.25 <=> 4m > n.
bool Hypergrid::inOuterBand(std::int32_t x) const
{
  const std::int64_t m = std::llabs(2LL * x - (m_spec.height - 1));
  const std::int64_t n = 2LL * (m_spec.height - 1);
  return 4 * m > n;
}

// 0.3 < u < 0.4 <=> 10m > 3n and 5m < 2n.
bool Hypergrid::inModeBand(std::int32_t x) const
{
  const std::int64_t m = std::llabs(2LL * x - (m_spec.height - 1));
  const std::int64_t n = 2LL * (m_spec.height - 1);
  return 10 * m > 3 * n && 5 * m < 2 * n;
}

double Hypergrid::reward(const std::int32_t* coords) const
{
  bool outer = true;
  bool mode = true;
  for (int d = 0; d < m_spec.dim; ++d) {
    outer = outer && inOuterBand(coords[d]);
    mode = mode && inModeBand(coords[d]);
  }
  return m_spec.r0 + (outer ? m_spec.r1 : 0.0) + (mode ? m_spec.r2 : 0.0);
}

bool Hypergrid::isModeCell(const std::int32_t* coords) const
{
  for (int d = 0; d < m_spec.dim; ++d) {
    if (!inModeBand(coords[d])) {
      return false;
    }
  }
  return true;
}

int Hypergrid::modeCorner(const std::int32_t* coords) const
{
  if (!isModeCell(coords)) {
    return -1;
  }
  int corner = 0;
  for (int d = 0; d < m_spec.dim; ++d) {
    if (2 * coords[d] > m_spec.height - 1) {
      corner |= 1 << d;
    }
  }
  return corner;
}

std::vector<double> Hypergrid::rewards() const
{
  std::vector<double> values(static_cast<std::size_t>(m_stateCount));
  std::vector<std::int32_t> coords(static_cast<std::size_t>(m_spec.dim));
  for (std::int64_t i = 0; i < m_stateCount; ++i) {
    coordsOf(i, coords.data());
    values[static_cast<std::size_t>(i)] = reward(coords.data());
  }
  return values;
}

double Hypergrid::partitionFunction() const
{
  double z = 0.0;
  for (double r : rewards()) {
    z += r;
  }
  return z;
}

std::vector<double> Hypergrid::target() const
{
  std::vector<double> values = rewards();
  double z = 0.0;
  for (double r : values) {
    z += r;
  }
  for (double& r : values) {
    r /= z;
  }
  return values;
}

} // namespace gfm::core
