#pragma once

#include "core/run/experiment_spec.h"
#include "core/run/snapshot.h"
#include "core/session/session_format.h"
#include "core/train/hypergrid_trainer.h"

#include <QJsonObject>
#include <QString>

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

namespace gfm::core {

/** @brief One run of a session, as its writer recorded it. */
struct SessionRun
{
  int index = 0; ///< position in the experiment's run list (Snapshot::run)
  QString name;  ///< e.g. "random-s3"
  QString group; ///< the config entry's name
  int seed = 0;  ///< index of the seed within the entry
  int parts = 1;
  MixtureWeights weights = MixtureWeights::LearnedZ;
  std::int64_t steps = 0; ///< optimiser steps per part asked for
  /** Part of every state (row-major H^D); empty when the writer had no partition. */
  std::vector<std::int32_t> partOf;
  std::vector<double> partReward; ///< R(X_i) of each part
};

/**
 * @brief Reads a session file, also while another thread or process is still writing it.
 *
 * The connection is read-only and belongs to the thread that called open(); use a reader
 * from that thread only. Snapshots come back as the same immutable Snapshot the writer was
 * given. Follow-live: poll() returns the snapshots committed since its last call.
 */
class SessionReader
{
public:
  SessionReader();
  ~SessionReader();
  SessionReader(const SessionReader&) = delete;
  SessionReader& operator=(const SessionReader&) = delete;

  /**
   * @brief Opens `path` read-only. Refuses a file that is not a gflowmix session or has a
   * newer format version; `error` then says why, naming the file.
   */
  bool open(const QString& path, QString* error = nullptr);
  void close();
  bool isOpen() const;
  QString path() const;
  /** @brief The last error (opening or reading), empty when none happened. */
  QString errorString() const;

  int formatVersion() const;
  /** @brief A `meta` value: gflowmix_version, qt_version, sqlite_version, created, … */
  QString metaValue(const QString& key) const;
  /** @brief The normalised experiment config the session was written with. */
  QJsonObject config() const;
  /** @brief The runs, in Snapshot::run order (as of open() or the last refresh()). */
  const std::vector<SessionRun>& runs() const;
  /** @brief The exact target π, row-major H^D; empty when the writer stored none. */
  const std::vector<double>& target() const;
  /** @brief The status as of open() or the last refresh(). */
  SessionStatus status() const;

  /** @brief Evaluation steps of a run that have a snapshot, ascending. */
  std::vector<std::int64_t> steps(int run) const;

  /** @brief The full snapshot of a run at a step, densities included; null when absent. */
  SnapshotPtr snapshot(int run, std::int64_t step) const;

  /** @brief The run's last snapshot with densities; null when it has none yet. */
  SnapshotPtr latestSnapshot(int run) const;

  /** @brief Every snapshot of a run with metrics and parts but no densities (for curves). */
  std::vector<SnapshotPtr> series(int run) const;

  /** @brief The part's checkpoint with the highest step, if the session holds one. */
  std::optional<PartCheckpoint> latestCheckpoint(int run, int part) const;

  /**
   * @brief Re-reads the status, the run list and the target; true when the status or the runs
   * changed or snapshots were committed after the last poll().
   */
  bool refresh();

  /**
   * @brief Snapshots committed since the last call (the first call returns all), in commit
   * order, without densities unless `densities` is set. Follow-live: call it on a timer.
   */
  std::vector<SnapshotPtr> poll(bool densities = false);

private:
  struct Impl;
  std::unique_ptr<Impl> d;
};

} // namespace gfm::core
