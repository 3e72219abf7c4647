#pragma once

#include <QMetaType>
#include <QString>

#include <cstdint>
#include <limits>
#include <memory>
#include <vector>

namespace gfm::core {

/** @brief One part of a run at one evaluation. */
struct PartSnapshot
{
  double logZ = 0.0;     ///< learned log Z_i
  double logZTrue = 0.0; ///< log R(X_i), the true mass of the part's cells
  double massTrue = 0.0; ///< R(X_i) / Z, the part's share of the target
  double weight = 0.0;   ///< mixture weight used for sampling (Z_i/ΣZ or 1/k)
  double l1 = std::numeric_limits<double>::quiet_NaN(); ///< Σ|p_i − π_i| against its own target
  double leak = std::numeric_limits<double>::quiet_NaN(); ///< learned mass outside X_i
  double loss = 0.0;                                      ///< mean TB loss over the last chunk
  int modesFound = 0; ///< corners reached by the part's on-policy samples
};

/**
 * @brief What a run looks like at one evaluation step: immutable, shared between threads as
 * std::shared_ptr<const Snapshot>. Views and sessions receive nothing else.
 */
struct Snapshot
{
  int run = 0;     ///< index into the experiment's expanded run list
  QString runName; ///< e.g. "random-s3"
  QString group;   ///< the config entry's name, e.g. "random" (seeds share it)
  int seed = 0;
  std::int64_t step = 0; ///< optimiser steps per part
  std::int64_t totalSteps = 0;
  double wallSeconds = 0.0;    ///< since the experiment started
  double stepsPerSecond = 0.0; ///< this run's steps per part per second, recent

  double l1 = std::numeric_limits<double>::quiet_NaN();        ///< Σ_x |p(x) − π(x)|, in [0, 2]
  double tv = std::numeric_limits<double>::quiet_NaN();        ///< L1 / 2
  double l1MeanAbs = std::numeric_limits<double>::quiet_NaN(); ///< L1 / H^D
  /** L1 mean-abs of the empirical distribution of recently visited terminal states. */
  double l1Visited = std::numeric_limits<double>::quiet_NaN();
  double logZ = 0.0;                                          ///< log Σ_i Z_i
  double logZTrue = 0.0;                                      ///< log Σ_x R(x)
  double modeMass = std::numeric_limits<double>::quiet_NaN(); ///< learned mass on mode cells
  int modesFound = 0; ///< corners reached by any part's on-policy samples
  int modeCount = 0;  ///< 2^D, or 0 where the grid has no mode cells
  double loss = 0.0;  ///< mean over parts of the mean TB loss

  std::vector<PartSnapshot> parts;
  /** Mixture density p over H^D, row-major, sums to 1; empty when exact evaluation is off. */
  std::vector<float> density;
  /** Each part's own density p_i (sums to 1), row-major; empty when exact evaluation is off. */
  std::vector<std::vector<float>> partDensities;
};

using SnapshotPtr = std::shared_ptr<const Snapshot>;

} // namespace gfm::core

Q_DECLARE_METATYPE(gfm::core::SnapshotPtr)
