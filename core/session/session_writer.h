#pragma once

#include "core/run/experiment.h"
#include "core/run/snapshot.h"
#include "core/session/session_format.h"
#include "core/train/hypergrid_trainer.h"

#include <QJsonObject>
#include <QObject>
#include <QString>

#include <memory>
#include <vector>

namespace gfm::core {

/**
 * @brief Writes a session file (SQLite, WAL) from a snapshot and checkpoint stream.
 *
 * open() creates the file and its schema and starts a writer thread with its own connection.
 * The append and write calls only queue rows (they are safe to call from any thread); the
 * thread commits them in batches, one transaction per batch, at least every `msecs` or every
 * `rows` queued items, so a crash loses at most the last unflushed batch and never leaves a
 * half-written snapshot. close() (and the destructor) flush everything and end the thread.
 * Failures never throw: they emit errorOccurred with a message that names the file.
 */
class SessionWriter : public QObject
{
  Q_OBJECT

public:
  explicit SessionWriter(QObject* parent = nullptr);
  /** @brief Closes the session (blocking flush) if it is still open. */
  ~SessionWriter() override;

  /** @brief Batch size in queued items and longest delay before a commit; before open(). */
  void setBatchLimits(int rows, int msecs);

  /**
   * @brief Keep every checkpoint instead of only the latest of each part (default: latest
   * only, since a hypergrid part's checkpoint is about a megabyte).
   */
  void setKeepAllCheckpoints(bool keep);

  /**
   * @brief Creates (or overwrites) a session at `path` holding `config` (the normalised
   * experiment JSON), the format and software versions, and status "running".
   * @return false with `error` set when the file cannot be created.
   */
  bool open(const QString& path, const QJsonObject& config, QString* error = nullptr);

  /**
   * @brief Reopens an existing session to continue it (`train --resume`): its tables, config
   * and earlier rows stay; status becomes "running" again. Refuses what is not a session.
   */
  bool openForAppend(const QString& path, QString* error = nullptr);

  bool isOpen() const;
  QString path() const;
  /** @brief The last write error, empty when none happened. */
  QString errorString() const;

  /** @brief Queues the expanded runs: names, groups, seeds, partitions and R(X_i). */
  void writeRuns(const std::vector<RunPlan>& runs);

  /** @brief Queues the exact target π (row-major H^D, stored as float64). */
  void writeTarget(const std::vector<double>& target);

  /** @brief Queues a status change (the file says "running" from open() on). */
  void setStatus(SessionStatus status);

  /** @brief Blocks until every queued row is committed; false if any write has failed. */
  bool flush();

  /**
   * @brief Flushes, records the final status ("running" becomes "stopped"), and closes the
   * file and the writer thread. False if any write has failed. Safe to call twice.
   */
  bool close();

public slots:
  /** @brief Queues a snapshot: run metrics, part metrics and every density it holds. */
  void appendSnapshot(gfm::core::SnapshotPtr snapshot);

  /** @brief Queues a part's checkpoint (replacing the part's older one unless keep-all). */
  void appendCheckpoint(int run,
                        int part,
                        std::shared_ptr<const gfm::core::PartCheckpoint> checkpoint);

signals:
  /** @brief A write failed; `message` names the file and the cause. */
  void errorOccurred(QString message);

  /** @brief A batch of `rows` queued items was committed (emitted on the writer thread). */
  void batchWritten(int rows);

private:
  struct Impl;
  std::unique_ptr<Impl> d;
};

} // namespace gfm::core
