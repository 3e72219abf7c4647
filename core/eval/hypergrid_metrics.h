#pragma once

#include "core/env/hypergrid.h"

#include <cstdint>
#include <vector>

namespace gfm::core {

/**
 * @brief The exact terminal distribution of a forward policy on the hypergrid.
 *
 * `forward` holds P_F(a|s) for every state, row-major [H^D × (D+1)]. In increasing state index
 * (a topological order) P(s0) = 1 and P(s + e_d) += P(s)·P_F(d|s); then p(x) = P(x)·P_F(stop|x).
 * The result is row-major over H^D and sums to 1 up to rounding.
 */
std::vector<double> terminalDistribution(const Hypergrid& grid, const std::vector<float>& forward);

/** @brief Distances between a learned distribution p and a target π (both over H^D). */
struct Distances
{
  double l1 = 0.0;        ///< Σ|p − π|, in [0, 2]
  double tv = 0.0;        ///< L1 / 2
  double l1MeanAbs = 0.0; ///< L1 / H^D (older torchgfn's l1_dist)
};

Distances distances(const std::vector<double>& p, const std::vector<double>& target);

/**
 * @brief Empirical distribution of visited terminal states (the "visited" L1 variant).
 */
std::vector<double> empiricalDistribution(const std::vector<std::int64_t>& states,
                                          std::int64_t stateCount);

/** @brief Probability mass p puts on mode cells. */
double modeMass(const Hypergrid& grid, const std::vector<double>& p);

/** @brief Number of set bits: modes found from a corner bit mask. */
int countModes(std::uint32_t corners);

} // namespace gfm::core
