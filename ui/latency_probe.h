#pragma once

#include <QElapsedTimer>
#include <QObject>
#include <QTimer>

#include <vector>

namespace gfm::ui {

/**
 * @brief Measures how late the GUI thread serves a periodic timer: a direct figure of how
 * responsive the window stays while training runs.
 *
 * Lateness of a tick = time since the previous tick − the interval, floored at 0.
 */
class LatencyProbe : public QObject
{
  Q_OBJECT

public:
  /** @brief Percentiles of the lateness, in milliseconds. */
  struct Summary
  {
    int samples = 0;
    double p50 = 0.0;
    double p99 = 0.0;
    double max = 0.0;
  };

  explicit LatencyProbe(int intervalMs = 10, QObject* parent = nullptr);

  void start();
  void stop();
  bool isActive() const { return m_timer.isActive(); }

  Summary summary() const;

  /** @brief One line for the log, e.g. "GUI latency over 6000 ticks: p50 0.1 ms, …". */
  QString report() const;

private:
  void tick();

  int m_intervalMs = 10;
  QTimer m_timer;
  QElapsedTimer m_clock;
  qint64 m_lastNs = 0;
  std::vector<double> m_latenessMs;
};

} // namespace gfm::ui
