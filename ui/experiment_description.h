#pragma once

#include "core/env/hypergrid.h"

#include <QString>

#include <cstdint>
#include <memory>
#include <vector>

namespace gfm::core {
class Experiment;
}

namespace gfm::ui {

/** @brief What the views need to know about one run: its name, group and partition. */
struct RunDescription
{
  QString name;  ///< unique, e.g. "random-s3"
  QString group; ///< the config entry's name; seeds of one entry share it
  int seed = 0;
  int parts = 1;
  /** Part of every state, row-major H^D; empty or all zeros for a standard run. */
  std::shared_ptr<const std::vector<std::int32_t>> partOf;
};

/**
 * @brief The static side of an experiment that the views draw around the Snapshot stream.
 *
 * Built from a live Experiment, or from a session's stored config, so that every view works
 * the same on live training and on replay.
 */
struct ExperimentDescription
{
  QString name;
  core::HypergridSpec grid;
  /** Exact target π over H^D, row-major, sums to 1 (empty when exact evaluation is off). */
  std::vector<double> target;
  std::vector<RunDescription> runs;
  std::int64_t stepsPerPart = 0;

  /** @brief H^D. */
  std::int64_t stateCount() const;

  /** @brief Names of the run groups in first-seen order. */
  std::vector<QString> groups() const;

  /** @brief Index of a group in groups(), or -1. */
  int groupIndex(const QString& group) const;

  /** @brief Number of runs (seeds) in a group. */
  int seedsInGroup(const QString& group) const;

  /** @brief Everything a view needs, read from a constructed (not necessarily started) run. */
  static ExperimentDescription fromExperiment(const core::Experiment& experiment);
};

} // namespace gfm::ui
