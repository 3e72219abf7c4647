#pragma once

#include "core/env/hypergrid.h"
#include "core/train/training_spec.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace gfm::core {

/** @brief What one optimiser step did. */
struct StepStats
{
  double loss = 0.0;             ///< mean TB loss over the batch
  double logZ = 0.0;             ///< after the update
  std::int64_t transitions = 0;  ///< forward actions of every trajectory, stop included
  std::int64_t trajectories = 0; ///< on- and off-policy
  double meanLength = 0.0;       ///< transitions per on-policy trajectory, stop included
};

/** @brief Everything needed to continue a part's training exactly where it stopped. */
struct PartCheckpoint
{
  std::int64_t step = 0;
  std::vector<float> parameters; ///< every network, concatenated
  std::vector<float> adamFirst;  ///< Adam moments, same layout
  std::vector<float> adamSecond;
  double logZ = 0.0;
  double logZFirst = 0.0;
  double logZSecond = 0.0;
  std::string rng;
  std::vector<std::int64_t> buffer;
  std::uint32_t modesFound = 0;
  /** Recent on-policy terminal states, oldest first (the visited-states window). */
  std::vector<std::int64_t> visited;
};

/**
 * @brief Refills a ring of recent terminal states from a checkpoint's window (oldest first),
 * keeping its newest `window` entries; returns the ring's next write position.
 */
std::size_t restoreVisitedWindow(const std::vector<std::int64_t>& saved,
                                 int window,
                                 std::vector<std::int64_t>& ring);

/**
 * @brief The batch and raw gradients of one step, recorded on request to check the
 * hand-written TB gradient against autograd (tests, diagnostics).
 */
struct StepTrace
{
  std::vector<std::int32_t> positions;    ///< D input positions of each transition's state
  std::vector<std::int32_t> actions;      ///< forward action of each transition (D = stop)
  std::vector<std::int32_t> trajectories; ///< trajectory of each transition, in [0, batch)
  std::vector<std::int64_t> terminals;    ///< terminal state of each trajectory
  std::vector<float> gradients;           ///< dLoss/dparameters before clipping, checkpoint layout
  double logZGradient = 0.0;
  double loss = 0.0;
};

/** @brief The cells a part owns: partOf[x] == part. part < 0 means the whole grid. */
struct PartMembership
{
  std::shared_ptr<const std::vector<std::int32_t>> partOf;
  int part = -1;

  bool contains(std::int64_t state) const
  {
    return part < 0 || (*partOf)[static_cast<std::size_t>(state)] == part;
  }
};

/**
 * @brief Trains one GFlowNet (a standard one, or one part of a mixture) on the hypergrid with
 * trajectory balance.
 *
 * A step rolls out the on-policy share of the batch without gradients, samples the off-policy
 * share backward with P_B from known in-part terminal states, then evaluates every visited
 * (state, action) pair in one batched pass per network and applies the hand-written TB gradient
 * with Adam. Owned and used by one thread.
 */
class HypergridTrainer
{
public:
  HypergridTrainer(const Hypergrid& grid,
                   const PolicySpec& policy,
                   const TrainingSpec& training,
                   PartMembership membership = {});
  ~HypergridTrainer();
  HypergridTrainer(const HypergridTrainer&) = delete;
  HypergridTrainer& operator=(const HypergridTrainer&) = delete;

  /** @brief One optimiser update on one batch. */
  StepStats step();

  std::int64_t stepCount() const;
  double logZ() const;
  const TrainingSpec& training() const;
  const PartMembership& membership() const;

  /** @brief log R_i(x) as the loss sees it: in-part log R floored, else the floor. */
  double logReward(std::int64_t state) const;

  /**
   * @brief P_F(a|s) of every state, row-major [H^D × (D+1)], masked actions exactly 0.
   * One batched forward pass over all states (chunked).
   */
  std::vector<float> forwardProbabilities();

  /** @brief Draws terminal states from the learned policy (no exploration). */
  std::vector<std::int64_t> sample(int count, std::uint64_t seed);

  /** @brief On-policy terminal states of the last `visitedWindow` trajectories, oldest first. */
  std::vector<std::int64_t> visitedTerminals() const;

  /** @brief Corners (bit masks) whose mode region an on-policy sample has reached. */
  std::uint32_t modesFound() const;

  std::int64_t bufferSize() const;

  PartCheckpoint checkpoint() const;
  /** @brief Restores a checkpoint of a trainer built with the same specs; false on mismatch. */
  bool restore(const PartCheckpoint& checkpoint);

  /** @brief Records every following step into `trace` (owned by the caller); nullptr stops. */
  void setTrace(StepTrace* trace);

private:
  struct Impl;
  std::unique_ptr<Impl> d;
};

/** @brief Sets per-process numerics: flush denormals, one intra-op thread, one BLAS thread. */
void configureNumericsForWorkers();

/** @brief Whether this build's LibTorch can use a CUDA device. */
bool cudaAvailable();

/** @brief LibTorch's version string, for sessions and --version. */
const char* torchVersion();

} // namespace gfm::core
