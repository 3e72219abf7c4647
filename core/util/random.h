#pragma once

#include <cstdint>
#include <random>
#include <string>

namespace gfm::core {

/**
 * @brief A seeded, copyable random source owned by one part (never shared across threads).
 *
 * Draws are defined bit-for-bit by the seed on every platform gflowmix builds on, which is what
 * makes a single-threaded run reproducible.
 */
class Rng
{
public:
  explicit Rng(std::uint64_t seed = 0)
    : m_engine(seed)
  {}

  /** @brief Uniform double in [0, 1), 53 random bits. */
  double uniform() { return static_cast<double>(m_engine() >> 11) * 0x1.0p-53; }

  /** @brief Uniform integer in [0, n), n > 0. */
  std::uint64_t below(std::uint64_t n) { return m_engine() % n; }

  /** @brief Uniform double in [lo, hi). */
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }

  /** @brief Standard normal draw (Box–Muller, no cached second value). */
  double normal();

  /** @brief Raw 64-bit draw, to derive child seeds. */
  std::uint64_t next() { return m_engine(); }

  /** @brief The engine state as text, for checkpoints. */
  std::string state() const;
  bool restore(const std::string& state);

private:
  std::mt19937_64 m_engine;
};

/** @brief Mixes a base seed with a stream number into an independent seed (SplitMix64). */
std::uint64_t deriveSeed(std::uint64_t base, std::uint64_t stream);

} // namespace gfm::core
