#pragma once

#include "core/run/experiment.h"
#include "core/run/snapshot.h"

#include <QElapsedTimer>
#include <QString>

#include <map>

namespace gfm::cli {

/**
 * @brief Progress on stderr: one redrawn line on a terminal, a line every few seconds otherwise.
 */
class Progress
{
public:
  explicit Progress(bool quiet);

  void update(qint64 done, qint64 total);
  /** @brief Prints a message on its own line without breaking the progress line. */
  void message(const QString& text);
  void finish();

private:
  bool m_quiet;
  bool m_terminal;
  bool m_drawn = false;
  qint64 m_lastPrinted = -1;
  QElapsedTimer m_clock;
};

/** @brief The latest figures of every run, as a table on stderr. */
void printSummary(const std::map<int, core::SnapshotPtr>& latest,
                  const core::Experiment& experiment);

} // namespace gfm::cli
