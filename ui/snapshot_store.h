#pragma once

#include "core/run/snapshot.h"
#include "ui/experiment_description.h"

#include <QObject>
#include <QTimer>

#include <cstdint>
#include <vector>

namespace gfm::ui {

/** @brief One evaluation of a run, as kept for the curves (the densities are not kept). */
struct SeriesPoint
{
  std::int64_t step = 0;
  double wallSeconds = 0.0;
  double l1 = 0.0;
  double logZ = 0.0;
  double logZTrue = 0.0;
  double loss = 0.0;
  int modesFound = 0;
};

/**
 * @brief Receives the Snapshot stream on the GUI thread and tells the views to redraw, at most
 * once per redraw interval.
 *
 * Keeps only the latest snapshot of each run (the densities are large) and, for the curves,
 * a small time series of each run's scalar figures. Any number of snapshots arriving between
 * two redraws cost one redraw: `changed` is emitted by a single-shot timer.
 */
class SnapshotStore : public QObject
{
  Q_OBJECT

public:
  /** @brief ≤ 25 redraws per second. */
  static constexpr int kRedrawIntervalMs = 40;

  explicit SnapshotStore(QObject* parent = nullptr);

  /** @brief Forgets every snapshot and series and adopts a new experiment description. */
  void reset(const ExperimentDescription& description);

  const ExperimentDescription& description() const { return m_description; }

  /** @brief The latest snapshot of a run, or null before its first evaluation. */
  core::SnapshotPtr latest(int run) const;

  /** @brief Every evaluation of a run so far, in arrival order. */
  const std::vector<SeriesPoint>& series(int run) const;

  /** @brief Snapshots received since reset(). */
  std::int64_t received() const { return m_received; }

  /** @brief Emits `changed` now instead of at the next timer tick (tests, exports). */
  void flush();

public slots:
  /** @brief Stores a snapshot and schedules a redraw. */
  void addSnapshot(gfm::core::SnapshotPtr snapshot);

  /**
   * @brief Shows an earlier snapshot of a run (replay scrubbing): it becomes the run's
   * latest() for the views, and the curves' series is left as it is.
   */
  void showSnapshot(gfm::core::SnapshotPtr snapshot);

signals:
  /** The description changed: views rebuild their selectors and plottables. */
  void descriptionChanged();
  /** New snapshots are in: views redraw from latest() and series(). */
  void changed();

private:
  ExperimentDescription m_description;
  std::vector<core::SnapshotPtr> m_latest;
  std::vector<std::vector<SeriesPoint>> m_series;
  std::int64_t m_received = 0;
  QTimer m_redrawTimer;
};

} // namespace gfm::ui
