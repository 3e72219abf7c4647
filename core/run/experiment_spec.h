#pragma once

#include "core/env/hypergrid.h"
#include "core/train/training_spec.h"

#include <QJsonObject>
#include <QString>
#include <QStringList>

#include <cstdint>
#include <optional>
#include <vector>

namespace gfm::core {

/** @brief How the terminal states of a run are split into parts (REFERENCE §3). */
enum class PartitionKind
{
  None,         ///< one part: the standard GFlowNet
  NearestMode,  ///< the paper's "perfect" partition: orthants around the grid centre
  RandomSphere, ///< argmax_i (W f̂ + b)_i with a seeded random W
  KMeans        ///< nearest centroid of k-means on feature vectors of a reference sample
};

/** @brief The partition of one run entry. */
struct PartitionSpec
{
  PartitionKind kind = PartitionKind::None;
  int parts = 1;
  /** random-sphere: centre the features (boundaries through the grid centre) or not. */
  bool centred = true;
  /** k-means: size of the uniform reference sample. */
  int referenceSize = 1000;
};

/** @brief How a mixture picks its part when sampling. */
enum class MixtureWeights
{
  LearnedZ, ///< w_i = Z_i / Σ Z_j
  Uniform   ///< w_i = 1/k (valid only for equal-mass partitions)
};

/** @brief One entry of "runs": a standard GFlowNet or a mixture, possibly over several seeds. */
struct RunSpec
{
  QString name;
  PartitionSpec partition;
  int seeds = 1;
  MixtureWeights weights = MixtureWeights::LearnedZ;
  TrainingSpec training; ///< the experiment's training block with this entry's overrides
};

/** @brief When and how runs are evaluated. */
struct EvalSpec
{
  int every = 200;
  bool exact = true;
  /** Largest H^D evaluated exactly; larger grids need exact = false. */
  std::int64_t maxStates = 1 << 21;
  /** Checkpoint every part after this many evaluations (0: only at the end). */
  int checkpointEvery = 5;
};

/** @brief A validated experiment: everything a config file says, with defaults filled in. */
struct ExperimentSpec
{
  QString name;
  QString source; ///< file the spec came from, for messages
  QString envKind = QStringLiteral("hypergrid");
  HypergridSpec grid;
  PolicySpec policy;
  TrainingSpec training;
  std::vector<RunSpec> runs;
  EvalSpec eval;
  /** The config as JSON with every default written out (what a session stores). */
  QJsonObject json;
};

/**
 * @brief Parses and validates a config object.
 *
 * On failure returns nothing and sets `error` to one line naming the source, the dotted key and
 * the allowed range, e.g. "exp.json: env.height must be an integer in [2, 100000], got 1".
 */
std::optional<ExperimentSpec> parseExperiment(const QJsonObject& config,
                                              const QString& source,
                                              QString* error);

/**
 * @brief Reads a config file, applies `--set KEY=VALUE` overrides (dotted keys; values parsed
 * as JSON where they parse, else taken as strings), then validates.
 */
std::optional<ExperimentSpec> loadExperiment(const QString& path,
                                             const QStringList& overrides,
                                             QString* error);

/** @brief Applies one dotted-key override to a JSON object; false with `error` when malformed. */
bool applyOverride(QJsonObject& config, const QString& assignment, QString* error);

QString partitionKindName(PartitionKind kind);

} // namespace gfm::core
