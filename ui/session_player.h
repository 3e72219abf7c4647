#pragma once

#include "ui/experiment_description.h"

#include <QJsonObject>
#include <QObject>
#include <QString>
#include <QTimer>

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

namespace gfm::core {
class SessionReader;
}

namespace gfm::ui {

class SnapshotStore;

/**
 * @brief Replays a session file into a SnapshotStore, and follows it while a writer is still
 * appending to it (follow-live).
 *
 * On open, every run's curve points (no densities) and its latest snapshot (with densities)
 * go to the store, so the views show the session as it stands. While the session's status
 * is "running", new snapshots are polled once per second.
 */
class SessionPlayer : public QObject
{
  Q_OBJECT

public:
  /** @brief Follow-live polling interval. */
  static constexpr int kPollIntervalMs = 1000;

  explicit SessionPlayer(SnapshotStore* store, QObject* parent = nullptr);
  ~SessionPlayer() override;

  /** @brief Opens a session and loads it into the store; false with `error` on failure. */
  bool open(const QString& path, QString* error = nullptr);

  /** @brief Stops following and closes the session (the store keeps what it shows). */
  void close();

  bool isOpen() const;
  /** @brief Whether new snapshots are being polled (the session is still being written). */
  bool isFollowing() const { return m_pollTimer.isActive(); }

  /** @brief Every evaluation step any run of the session has, ascending. */
  std::vector<std::int64_t> steps() const;

  /**
   * @brief Shows each run as it was at `step`: its last snapshot at or before it (densities
   * included). The curves keep the whole series.
   */
  void seek(std::int64_t step);

  /** @brief The config the session was written with (empty when none is open). */
  QJsonObject config() const;

  /** @brief The session's status name: "running", "completed", "stopped" or "failed". */
  QString status() const;

  /** @brief The views' description of a session's experiment; nothing with `error`. */
  static std::optional<ExperimentDescription> describe(const core::SessionReader& reader,
                                                       QString* error = nullptr);

public slots:
  /** @brief Reads the snapshots committed since the last poll. */
  void poll();

signals:
  /** Snapshots arrived while following: steps() grew. */
  void stepsChanged();

  /** The session's status changed (e.g. its writer completed it). */
  void statusChanged(const QString& status);

private:
  SnapshotStore* m_store = nullptr;
  std::unique_ptr<core::SessionReader> m_reader;
  QTimer m_pollTimer;
  QString m_status;
};

} // namespace gfm::ui
