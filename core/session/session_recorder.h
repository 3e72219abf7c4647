#pragma once

#include "core/run/experiment.h"
#include "core/session/session_writer.h"

#include <QObject>
#include <QString>

namespace gfm::core {

/**
 * @brief Records an experiment into a session: runs and target once, then every snapshot and
 * checkpoint, and on `finished` the final status and a closing flush.
 *
 * The CLI and the GUI wire it in one line: `SessionRecorder::attach(&experiment, &writer)`.
 * The writer must be open. The recorder is a child of the writer; it emits closed() when the
 * session has been closed, which is the moment a headless program may quit.
 */
class SessionRecorder : public QObject
{
  Q_OBJECT

public:
  /**
   * @brief Writes `experiment`'s runs and target to `writer` and connects its signals.
   *
   * A template so that anything with Experiment's signals and runs()/target() can be
   * recorded (an MPI gatherer, a test double); `Source` must derive from QObject.
   */
  template<class Source>
  static SessionRecorder* attach(Source* experiment, SessionWriter* writer)
  {
    qRegisterMetaType<SnapshotPtr>();
    qRegisterMetaType<std::shared_ptr<const PartCheckpoint>>();
    writer->writeRuns(experiment->runs());
    writer->writeTarget(experiment->target());

    auto* recorder = new SessionRecorder(writer);
    connect(experiment, &Source::snapshotReady, writer, &SessionWriter::appendSnapshot);
    connect(experiment, &Source::checkpointReady, writer, &SessionWriter::appendCheckpoint);
    connect(experiment, &Source::errorOccurred, recorder, &SessionRecorder::noteFailure);
    // Queued even when `finished` comes from the writer's own thread, so that snapshots
    // already queued to the writer are appended before it closes.
    connect(
      experiment, &Source::finished, recorder, &SessionRecorder::finish, Qt::QueuedConnection);
    return recorder;
  }

  /** @brief The status finish() records: failed after an error, else completed or stopped. */
  static SessionStatus finalStatus(bool completed, bool failed);

public slots:
  /** @brief Remembers that training failed, so that the session ends as "failed". */
  void noteFailure(const QString& message);

  /** @brief Records the final status and closes the writer (blocking flush). */
  void finish(bool completed);

signals:
  /** @brief The session is closed; `ok` is false when a write failed. */
  void closed(bool ok);

private:
  explicit SessionRecorder(SessionWriter* writer);

  SessionWriter* m_writer = nullptr;
  bool m_failed = false;
  QString m_failure;
};

} // namespace gfm::core
