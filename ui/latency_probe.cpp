#include "ui/latency_probe.h"

#include <algorithm>
#include <cmath>

namespace gfm::ui {

LatencyProbe::LatencyProbe(int intervalMs, QObject* parent)
  : QObject(parent)
  , m_intervalMs(intervalMs)
{
  m_timer.setTimerType(Qt::PreciseTimer);
  m_timer.setInterval(intervalMs);
  connect(&m_timer, &QTimer::timeout, this, &LatencyProbe::tick);
}

void LatencyProbe::start()
{
  m_latenessMs.clear();
  m_latenessMs.reserve(1 << 16);
  m_clock.start();
  m_lastNs = 0;
  m_timer.start();
}

void LatencyProbe::stop()
{
  m_timer.stop();
}

void LatencyProbe::tick()
{
  const qint64 now = m_clock.nsecsElapsed();
  const double sinceLast = static_cast<double>(now - m_lastNs) / 1e6;
  m_lastNs = now;
  m_latenessMs.push_back(std::max(0.0, sinceLast - m_intervalMs));
}

LatencyProbe::Summary LatencyProbe::summary() const
{
  Summary summary;
  if (m_latenessMs.empty()) {
    return summary;
  }
  std::vector<double> sorted = m_latenessMs;
  std::sort(sorted.begin(), sorted.end());
  const auto at = [&](double q) {
    const auto i = static_cast<std::size_t>(std::ceil(q * sorted.size())) - 1;
    return sorted[std::min(i, sorted.size() - 1)];
  };
  summary.samples = static_cast<int>(sorted.size());
  summary.p50 = at(0.50);
  summary.p99 = at(0.99);
  summary.max = sorted.back();
  return summary;
}

QString LatencyProbe::report() const
{
  const Summary s = summary();
  return QStringLiteral("GUI latency over %1 ticks of %2 ms: p50 %3 ms, p99 %4 ms, max %5 ms")
    .arg(s.samples)
    .arg(m_intervalMs)
    .arg(s.p50, 0, 'f', 2)
    .arg(s.p99, 0, 'f', 2)
    .arg(s.max, 0, 'f', 1);
}

} // namespace gfm::ui

#include "moc_latency_probe.cpp"
