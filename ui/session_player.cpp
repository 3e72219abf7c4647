#include "ui/session_player.h"

#include "core/run/experiment_spec.h"
#include "core/session/session_reader.h"
#include "ui/logging.h"
#include "ui/snapshot_store.h"

#include <algorithm>

namespace gfm::ui {

SessionPlayer::SessionPlayer(SnapshotStore* store, QObject* parent)
  : QObject(parent)
  , m_store(store)
{
  m_pollTimer.setInterval(kPollIntervalMs);
  connect(&m_pollTimer, &QTimer::timeout, this, &SessionPlayer::poll);
}

SessionPlayer::~SessionPlayer() = default;

std::optional<ExperimentDescription> SessionPlayer::describe(const core::SessionReader& reader,
                                                             QString* error)
{
  const std::optional<core::ExperimentSpec> spec =
    core::parseExperiment(reader.config(), reader.path(), error);
  if (!spec) {
    return std::nullopt;
  }

  ExperimentDescription description;
  description.name = spec->name;
  description.grid = spec->grid;
  description.target = reader.target();
  description.stepsPerPart = spec->training.steps;
  for (const core::SessionRun& stored : reader.runs()) {
    RunDescription run;
    run.name = stored.name;
    run.group = stored.group;
    run.seed = stored.seed;
    run.parts = stored.parts;
    if (!stored.partOf.empty()) {
      run.partOf = std::make_shared<const std::vector<std::int32_t>>(stored.partOf);
    }
    description.stepsPerPart = std::max(description.stepsPerPart, stored.steps);
    description.runs.push_back(std::move(run));
  }
  return description;
}

bool SessionPlayer::open(const QString& path, QString* error)
{
  close();
  auto reader = std::make_unique<core::SessionReader>();
  if (!reader->open(path, error)) {
    return false;
  }
  const std::optional<ExperimentDescription> description = describe(*reader, error);
  if (!description) {
    return false;
  }

  m_reader = std::move(reader);
  m_store->reset(*description);

  // Curves from every snapshot without its densities (cheap), then each run's latest one
  // in full for the density views; poll() afterwards returns only what is new.
  for (const core::SnapshotPtr& snapshot : m_reader->poll(false)) {
    m_store->addSnapshot(snapshot);
  }
  for (std::size_t run = 0; run < description->runs.size(); ++run) {
    if (core::SnapshotPtr latest = m_reader->latestSnapshot(static_cast<int>(run))) {
      m_store->addSnapshot(latest);
    }
  }
  m_store->flush();

  m_status = core::sessionStatusName(m_reader->status());
  if (m_reader->status() == core::SessionStatus::Running) {
    m_pollTimer.start();
  }
  qCInfo(lcUi).noquote() << QStringLiteral("session %1 opened: %2, %3 snapshots")
                              .arg(path, m_status)
                              .arg(m_store->received());
  return true;
}

void SessionPlayer::close()
{
  m_pollTimer.stop();
  m_reader.reset();
  m_status.clear();
}

bool SessionPlayer::isOpen() const
{
  return m_reader != nullptr;
}

QJsonObject SessionPlayer::config() const
{
  return m_reader ? m_reader->config() : QJsonObject();
}

QString SessionPlayer::status() const
{
  return m_status;
}

std::vector<std::int64_t> SessionPlayer::steps() const
{
  std::vector<std::int64_t> all;
  if (!m_reader) {
    return all;
  }
  for (std::size_t run = 0; run < m_reader->runs().size(); ++run) {
    const std::vector<std::int64_t> mine = m_reader->steps(static_cast<int>(run));
    all.insert(all.end(), mine.begin(), mine.end());
  }
  std::sort(all.begin(), all.end());
  all.erase(std::unique(all.begin(), all.end()), all.end());
  return all;
}

void SessionPlayer::seek(std::int64_t step)
{
  if (!m_reader) {
    return;
  }
  for (std::size_t run = 0; run < m_reader->runs().size(); ++run) {
    const std::vector<std::int64_t> mine = m_reader->steps(static_cast<int>(run));
    if (mine.empty()) {
      continue;
    }
    // The run's last evaluation at or before the step (runs may evaluate at other steps).
    auto it = std::upper_bound(mine.begin(), mine.end(), step);
    const std::int64_t shown = it == mine.begin() ? mine.front() : *std::prev(it);
    if (core::SnapshotPtr snapshot = m_reader->snapshot(static_cast<int>(run), shown)) {
      m_store->showSnapshot(snapshot);
    }
  }
}

void SessionPlayer::poll()
{
  if (!m_reader) {
    return;
  }
  m_reader->refresh();
  const std::vector<core::SnapshotPtr> fresh = m_reader->poll(true);
  for (const core::SnapshotPtr& snapshot : fresh) {
    m_store->addSnapshot(snapshot);
  }
  if (!fresh.empty()) {
    emit stepsChanged();
  }

  const QString status = core::sessionStatusName(m_reader->status());
  if (status != m_status) {
    m_status = status;
    emit statusChanged(status);
  }
  if (m_reader->status() != core::SessionStatus::Running) {
    m_pollTimer.stop();
  }
}

} // namespace gfm::ui

#include "moc_session_player.cpp"
