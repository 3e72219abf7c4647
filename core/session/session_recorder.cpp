#include "core/session/session_recorder.h"

namespace gfm::core {

SessionRecorder::SessionRecorder(SessionWriter* writer)
  : QObject(writer)
  , m_writer(writer)
{}

SessionStatus SessionRecorder::finalStatus(bool completed, bool failed)
{
  if (failed) {
    return SessionStatus::Failed;
  }
  return completed ? SessionStatus::Completed : SessionStatus::Stopped;
}

void SessionRecorder::noteFailure(const QString& message)
{
  m_failed = true;
  m_failure = message;
}

void SessionRecorder::finish(bool completed)
{
  const SessionStatus status = finalStatus(completed, m_failed);
  m_writer->setStatus(status);
  const bool ok = m_writer->close();
  if (m_failed) {
    qCWarning(lcSession).noquote() << "session" << m_writer->path() << "ended failed:" << m_failure;
  } else {
    qCInfo(lcSession).noquote() << "session" << m_writer->path() << "ended"
                                << sessionStatusName(status);
  }
  emit closed(ok);
}

} // namespace gfm::core
