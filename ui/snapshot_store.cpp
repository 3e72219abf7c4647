#include "ui/snapshot_store.h"

#include "ui/logging.h"

namespace gfm::ui {

SnapshotStore::SnapshotStore(QObject* parent)
  : QObject(parent)
{
  m_redrawTimer.setSingleShot(true);
  m_redrawTimer.setInterval(kRedrawIntervalMs);
  connect(&m_redrawTimer, &QTimer::timeout, this, &SnapshotStore::changed);
}

void SnapshotStore::reset(const ExperimentDescription& description)
{
  m_redrawTimer.stop();
  m_description = description;
  m_latest.assign(description.runs.size(), nullptr);
  m_series.assign(description.runs.size(), {});
  m_received = 0;
  emit descriptionChanged();
  emit changed();
}

core::SnapshotPtr SnapshotStore::latest(int run) const
{
  if (run < 0 || run >= static_cast<int>(m_latest.size())) {
    return nullptr;
  }
  return m_latest[static_cast<std::size_t>(run)];
}

const std::vector<SeriesPoint>& SnapshotStore::series(int run) const
{
  static const std::vector<SeriesPoint> kEmpty;
  if (run < 0 || run >= static_cast<int>(m_series.size())) {
    return kEmpty;
  }
  return m_series[static_cast<std::size_t>(run)];
}

void SnapshotStore::flush()
{
  m_redrawTimer.stop();
  emit changed();
}

void SnapshotStore::addSnapshot(gfm::core::SnapshotPtr snapshot)
{
  if (!snapshot || snapshot->run < 0 || snapshot->run >= static_cast<int>(m_latest.size())) {
    qCWarning(lcUi) << "snapshot for an unknown run ignored";
    return;
  }

  const auto run = static_cast<std::size_t>(snapshot->run);
  SeriesPoint point;
  point.step = snapshot->step;
  point.wallSeconds = snapshot->wallSeconds;
  point.l1 = snapshot->l1;
  point.logZ = snapshot->logZ;
  point.logZTrue = snapshot->logZTrue;
  point.loss = snapshot->loss;
  point.modesFound = snapshot->modesFound;
  // A second snapshot of the same step (a replayed session's full copy of a point it first
  // sent without densities) replaces the point instead of doubling it.
  std::vector<SeriesPoint>& series = m_series[run];
  if (!series.empty() && series.back().step == point.step) {
    series.back() = point;
  } else {
    series.push_back(point);
  }
  m_latest[run] = std::move(snapshot);
  ++m_received;

  // A running timer already covers this snapshot: restarting it would starve the redraws
  // while snapshots keep arriving faster than the interval.
  if (!m_redrawTimer.isActive()) {
    m_redrawTimer.start();
  }
}

void SnapshotStore::showSnapshot(gfm::core::SnapshotPtr snapshot)
{
  if (!snapshot || snapshot->run < 0 || snapshot->run >= static_cast<int>(m_latest.size())) {
    return;
  }
  m_latest[static_cast<std::size_t>(snapshot->run)] = std::move(snapshot);
  if (!m_redrawTimer.isActive()) {
    m_redrawTimer.start();
  }
}

} // namespace gfm::ui

#include "moc_snapshot_store.cpp"
