#pragma once

#include <cstdint>
#include <vector>

namespace gfm::core {

/** @brief Parameters of a hypergrid: D dimensions of H cells and the three reward levels. */
struct HypergridSpec
{
  int dim = 2;
  int height = 8;
  double r0 = 0.1;
  double r1 = 0.5;
  double r2 = 2.0;
};

/**
 * @brief The hypergrid world: states {0..H-1}^D, start at the origin, D+1 forward actions.
 *
 * Forward action d < D increments coordinate d (masked at H-1); action D stops, which is always
 * allowed and ends in the current state as terminal. Backward action d decrements coordinate d
 * (allowed while x_d > 0). States are numbered row-major, the last coordinate fastest, so every
 * parent has a smaller index than its children: increasing index is a topological order.
 *
 * The reward is R0 + R1·Π_d 1[u_d > 0.25] + R2·Π_d 1[0.3 < u_d < 0.4] with
 * u_d = |x_d/(H-1) - 0.5|, evaluated exactly on integers (u_d = m/n, m = |2x_d - (H-1)|,
 * n = 2(H-1)) so that the mode band never depends on floating-point rounding.
 */
class Hypergrid
{
public:
  explicit Hypergrid(const HypergridSpec& spec);

  const HypergridSpec& spec() const { return m_spec; }
  int dim() const { return m_spec.dim; }
  int height() const { return m_spec.height; }

  /** @brief H^D, the number of states (each is also a terminal state). */
  std::int64_t stateCount() const { return m_stateCount; }

  /** @brief D + 1: D increments and stop. */
  int forwardActionCount() const { return m_spec.dim + 1; }
  int stopAction() const { return m_spec.dim; }

  /** @brief Index step of coordinate d (H^(D-1-d)). */
  std::int64_t stride(int d) const { return m_strides[static_cast<std::size_t>(d)]; }

  std::int64_t indexOf(const std::int32_t* coords) const;
  void coordsOf(std::int64_t index, std::int32_t* coords) const;

  /** @brief R(x) of the cell with these coordinates. */
  double reward(const std::int32_t* coords) const;

  /** @brief Whether every coordinate lies in the R2 band (a mode cell). */
  bool isModeCell(const std::int32_t* coords) const;

  /**
   * @brief The corner whose mode region this cell belongs to, as a bit mask (bit d set when
   * x_d is on the upper side), or -1 for a cell outside every mode region.
   */
  int modeCorner(const std::int32_t* coords) const;

  /** @brief Whether the grid has any mode cell (false for H <= 6 and H = 11, for example). */
  bool hasModes() const { return m_hasModes; }

  /** @brief 2^D when the grid has modes, else 0. */
  int modeCount() const { return m_hasModes ? (1 << m_spec.dim) : 0; }

  /** @brief R(x) for every state, indexed like the states. */
  std::vector<double> rewards() const;

  /** @brief Z = Σ_x R(x). */
  double partitionFunction() const;

  /** @brief The exact target π(x) = R(x)/Z, row-major, sums to 1. */
  std::vector<double> target() const;

  /** @brief Whether the forward action is allowed in the state with these coordinates. */
  bool forwardAllowed(const std::int32_t* coords, int action) const
  {
    return action == m_spec.dim || coords[action] < m_spec.height - 1;
  }

private:
  bool inOuterBand(std::int32_t x) const;
  bool inModeBand(std::int32_t x) const;

  HypergridSpec m_spec;
  std::int64_t m_stateCount = 0;
  std::vector<std::int64_t> m_strides;
  bool m_hasModes = false;
};

} // namespace gfm::core
