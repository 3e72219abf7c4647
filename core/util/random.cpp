#include "core/util/random.h"

#include <cmath>
#include <sstream>

namespace gfm::core {

double Rng::normal()
{
  // 1 - u keeps the logarithm's argument in (0, 1].
  const double u = 1.0 - uniform();
  const double v = uniform();
  return std::sqrt(-2.0 * std::log(u)) * std::cos(2.0 * M_PI * v);
}

std::string Rng::state() const
{
  std::ostringstream out;
  out << m_engine;
  return out.str();
}

bool Rng::restore(const std::string& state)
{
  std::istringstream in(state);
  in >> m_engine;
  return !in.fail();
}

std::uint64_t deriveSeed(std::uint64_t base, std::uint64_t stream)
{
  std::uint64_t z = base + 0x9e3779b97f4a7c15ULL * (stream + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

} // namespace gfm::core
