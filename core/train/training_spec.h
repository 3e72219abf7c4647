#pragma once

#include <cstdint>

namespace gfm::core {

/** @brief How P_B is obtained. */
enum class BackwardPolicy
{
  Learned, ///< an MLP head, trained with P_F
  Uniform  ///< uniform over the parents of a state
};

/** @brief Shape of the policy networks (REFERENCE §2: torchgfn's defaults). */
struct PolicySpec
{
  int hidden = 256;
  int layers = 2;
  BackwardPolicy backward = BackwardPolicy::Learned;
  /** One trunk with a P_F and a P_B head instead of two separate networks. */
  bool sharedTrunk = false;
};

/** @brief Optimisation settings of one part (REFERENCE §1–§3). */
struct TrainingSpec
{
  std::int64_t steps = 1000;
  int batch = 16;
  double lr = 1e-3;
  double lrLogZ = 0.1;
  /** Probability mass of uniform random actions mixed into the roll-out policy. */
  double epsilon = 0.0;
  /** Share of each batch sampled backward from the part's buffer (mixture parts). */
  double offPolicyRatio = 0.0;
  std::uint64_t seed = 0;
  /** log R below this (including R = 0 and cells outside the part) is raised to it. */
  double logRewardFloor = -20.0;
  /** Largest L2 norm of each network's gradient; 0 turns clipping off. */
  double clipGradNorm = 0.0;
  /** Initial size of the off-policy buffer (uniform sample of the part's cells). */
  int bufferSize = 1000;
  /** Add the part's own on-policy in-part finds to its buffer. */
  bool bufferGrow = true;
  /** Terminal states remembered for the visited-states L1 (torchgfn's l1_dist). */
  int visitedWindow = 200000;
};

} // namespace gfm::core
