#pragma once

#include "core/env/hypergrid.h"
#include "core/run/experiment_spec.h"
#include "core/run/snapshot.h"
#include "core/train/hypergrid_trainer.h"

#include <QObject>
#include <QString>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

namespace gfm::core {

/** @brief One expanded run: a config entry at one seed, with its partition. */
struct RunPlan
{
  QString name;  ///< unique, e.g. "random-s3" ("standard" when the entry has one seed)
  QString group; ///< the entry's name
  int seed = 0;  ///< index of the seed within the entry
  int parts = 1;
  MixtureWeights weights = MixtureWeights::LearnedZ;
  TrainingSpec training; ///< seed already derived for this run
  /** Part of every state (row-major H^D); all zeros for a standard run. */
  std::shared_ptr<const std::vector<std::int32_t>> partOf;
  std::vector<double> partReward; ///< R(X_i) of each part
};

/** @brief Expands an experiment's run entries into runs (seeds) with their partitions. */
std::vector<RunPlan> planRuns(const ExperimentSpec& spec, const Hypergrid& grid);

/**
 * @brief The seed of one part of a run. Every part draws from its own stream, so that its
 * training does not depend on how parts are grouped onto workers or stacked.
 */
std::uint64_t partSeed(const RunPlan& plan, int part);

/** @brief The cells one part of a run owns (the whole grid for a standard run). */
PartMembership partMembership(const RunPlan& plan, int part);

/** @brief How the parts of a run are spread over the hardware. */
enum class Execution
{
  Workers, ///< one single-threaded trainer per part, shared by worker threads (CPUs)
  Stacked  ///< the k parts of a run as one batched model per run (GPUs)
};

/** @brief What one part reports at an evaluation step. */
struct PartReport
{
  int part = 0;
  double logZ = 0.0;
  double loss = 0.0;
  std::uint32_t modesFound = 0;
  std::vector<double> density;       ///< p_i over H^D (empty when exact is off)
  std::vector<std::int64_t> visited; ///< recent on-policy terminal states
  double stepsPerSecond = 0.0;
};

/**
 * @brief Trains every part of every run of an experiment on worker threads and emits snapshots.
 *
 * Parts are the unit of work (with Execution::Stacked, a run's parts form one unit). `threads`
 * single-threaded workers take units from a WorkQueue, the least advanced first, train a chunk
 * of steps, evaluate the unit every `eval.every` steps and give it back, so that parts of
 * unequal cost keep every worker busy. When the last part of a run reports a step, the worker
 * that holds it builds the run's Snapshot (mixture density
 * with w_i = Z_i/ΣZ, distances, per-part figures) and emits snapshotReady — queued to
 * receivers on other threads. Pause and stop are atomic flags read between chunks. The GUI and
 * the CLI drive it alike.
 */
class Experiment : public QObject
{
  Q_OBJECT

public:
  explicit Experiment(ExperimentSpec spec, QObject* parent = nullptr);
  ~Experiment() override;

  const ExperimentSpec& spec() const;
  const Hypergrid& grid() const;
  const std::vector<RunPlan>& runs() const;
  /** @brief The exact target π (empty when exact evaluation is off). */
  const std::vector<double>& target() const;

  /** @brief Worker threads (default: the number of cores); set before start(). */
  void setThreads(int threads);
  int threads() const;

  /**
   * @brief Workers (the default; fastest on CPUs, where stacking measured 2.6x slower) or
   * stacked runs on `device` ("cpu", "cuda"); set before start().
   */
  void setExecution(Execution execution, const QString& device = QStringLiteral("cpu"));
  Execution execution() const;

  /** @brief Restricts this process to some parts, e.g. one MPI rank's share. Default: all. */
  void setPartFilter(std::function<bool(int run, int part)> filter);

  /** @brief Continue a part from a checkpoint (before start()); false when it does not fit. */
  bool restorePart(int run, int part, const PartCheckpoint& checkpoint);

  /** @brief Checkpoints of every local part, taken by the workers at their last evaluation. */
  std::vector<std::pair<std::pair<int, int>, PartCheckpoint>> latestCheckpoints() const;

  bool isRunning() const;
  bool isPaused() const;
  /** @brief Steps done over every local part, and the total asked for. */
  std::int64_t stepsDone() const;
  std::int64_t stepsTotal() const;

  /** @brief Blocks until the workers have finished (or msecs pass); true if they finished. */
  bool wait(int msecs = -1);

  /**
   * @brief Builds a run's snapshot from its parts' exact densities and figures (the workers
   * call it; it is public so that reports gathered from other processes can be assembled).
   */
  SnapshotPtr assemble(int run,
                       std::int64_t step,
                       double wallSeconds,
                       const std::vector<PartReport>& reports) const;

public slots:
  void start();
  void pause();
  void resume();
  void requestStop();

signals:
  void snapshotReady(gfm::core::SnapshotPtr snapshot);
  void checkpointReady(int run, int part, std::shared_ptr<const gfm::core::PartCheckpoint> c);
  void progressed(qint64 done, qint64 total);
  void finished(bool completed);
  void errorOccurred(QString message);

private:
  struct Impl;
  std::unique_ptr<Impl> d;
};

} // namespace gfm::core

Q_DECLARE_METATYPE(std::shared_ptr<const gfm::core::PartCheckpoint>)
