#include "app/cli/progress.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>

namespace gfm::cli {

namespace {

// Without a terminal, progress lines come at most this often (ms).
constexpr qint64 kPlainInterval = 5000;
constexpr int kBarWidth = 30;

QString duration(double seconds)
{
  if (!std::isfinite(seconds) || seconds < 0) {
    return QStringLiteral("?");
  }
  const auto s = static_cast<long long>(std::lround(seconds));
  if (s >= 3600) {
    return QStringLiteral("%1 h %2 min").arg(s / 3600).arg((s % 3600) / 60);
  }
  if (s >= 60) {
    return QStringLiteral("%1 min %2 s").arg(s / 60).arg(s % 60);
  }
  return QStringLiteral("%1 s").arg(s);
}

} // namespace

Progress::Progress(bool quiet)
  : m_quiet(quiet)
  , m_terminal(isatty(STDERR_FILENO) != 0)
{
  m_clock.start();
}

void Progress::update(qint64 done, qint64 total)
{
  if (m_quiet || total <= 0) {
    return;
  }
  const qint64 now = m_clock.elapsed();
  if (!m_terminal && m_lastPrinted >= 0 && now - m_lastPrinted < kPlainInterval && done < total) {
    return;
  }
  m_lastPrinted = now;
  const double fraction = static_cast<double>(done) / static_cast<double>(total);
  const double seconds = now / 1000.0;
  const double rate = seconds > 0 ? done / seconds : 0.0;
  const double eta = rate > 0 ? (total - done) / rate : NAN;
  const int filled = static_cast<int>(fraction * kBarWidth);
  const QString bar =
    QString(filled, QLatin1Char('#')) + QString(kBarWidth - filled, QLatin1Char('.'));
  const QString line = QStringLiteral("[%1] %2%  %3/%4 part-steps  %5 steps/s  ETA %6")
                         .arg(bar)
                         .arg(fraction * 100.0, 5, 'f', 1)
                         .arg(done)
                         .arg(total)
                         .arg(rate, 0, 'f', 0)
                         .arg(duration(eta));
  std::fprintf(stderr, m_terminal ? "\r%s\033[K" : "%s\n", qPrintable(line));
  m_drawn = m_terminal;
}

void Progress::message(const QString& text)
{
  if (m_drawn) {
    std::fprintf(stderr, "\n");
    m_drawn = false;
  }
  std::fprintf(stderr, "%s\n", qPrintable(text));
}

void Progress::finish()
{
  if (m_drawn) {
    std::fprintf(stderr, "\n");
    m_drawn = false;
  }
}

void printSummary(const std::map<int, core::SnapshotPtr>& latest,
                  const core::Experiment& experiment)
{
  std::fprintf(stderr, "%-18s %8s %8s %8s %7s %9s %9s\n", "run", "step", "L1", "TV", "modes",
               "log Z", "true");
  for (const auto& [run, s] : latest) {
    const QString modes = s->modeCount > 0
                            ? QStringLiteral("%1/%2").arg(s->modesFound).arg(s->modeCount)
                            : QStringLiteral("-");
    std::fprintf(stderr, "%-18s %8lld %8.4f %8.4f %7s %9.4f %9.4f\n", qPrintable(s->runName),
                 static_cast<long long>(s->step), s->l1, s->tv, qPrintable(modes), s->logZ,
                 s->logZTrue);
  }
  if (latest.size() < experiment.runs().size()) {
    std::fprintf(stderr, "(%zu of %zu runs reported)\n", latest.size(), experiment.runs().size());
  }
}

} // namespace gfm::cli
