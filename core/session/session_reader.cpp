#include "core/session/session_reader.h"

#include <QFile>
#include <QFileInfo>
#include <QJsonDocument>
#include <QJsonParseError>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QVariant>

#include <atomic>
#include <limits>
#include <map>

namespace gfm::core {

namespace {

std::atomic<int> g_connectionCounter{ 0 };

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

const QString kMetricColumns = QStringLiteral(
  "run, step, total_steps, wall, steps_per_s, l1, tv, l1_mean_abs, l1_visited, log_z, "
  "log_z_true, mode_mass, modes_found, mode_count, loss");

const QString kPartColumns =
  QStringLiteral("step, part, log_z, log_z_true, mass_true, weight, l1, leak, loss, modes_found");

/** NULL is how SQLite stores NaN. */
double realAt(const QSqlQuery& q, int column)
{
  const QVariant v = q.value(column);
  return v.isNull() ? kNaN : v.toDouble();
}

/** Fills a snapshot's run-level figures from a row of kMetricColumns starting at `first`. */
void readMetrics(const QSqlQuery& q, int first, Snapshot& s)
{
  s.run = q.value(first).toInt();
  s.step = q.value(first + 1).toLongLong();
  s.totalSteps = q.value(first + 2).toLongLong();
  s.wallSeconds = realAt(q, first + 3);
  s.stepsPerSecond = realAt(q, first + 4);
  s.l1 = realAt(q, first + 5);
  s.tv = realAt(q, first + 6);
  s.l1MeanAbs = realAt(q, first + 7);
  s.l1Visited = realAt(q, first + 8);
  s.logZ = realAt(q, first + 9);
  s.logZTrue = realAt(q, first + 10);
  s.modeMass = realAt(q, first + 11);
  s.modesFound = q.value(first + 12).toInt();
  s.modeCount = q.value(first + 13).toInt();
  s.loss = realAt(q, first + 14);
}

/** A row of kPartColumns; the step and part columns are read by the caller. */
PartSnapshot readPart(const QSqlQuery& q)
{
  PartSnapshot p;
  p.logZ = realAt(q, 2);
  p.logZTrue = realAt(q, 3);
  p.massTrue = realAt(q, 4);
  p.weight = realAt(q, 5);
  p.l1 = realAt(q, 6);
  p.leak = realAt(q, 7);
  p.loss = realAt(q, 8);
  p.modesFound = q.value(9).toInt();
  return p;
}

void placePart(Snapshot& s, int part, PartSnapshot p)
{
  if (part < 0) {
    return;
  }
  if (s.parts.size() <= static_cast<std::size_t>(part)) {
    s.parts.resize(static_cast<std::size_t>(part) + 1);
  }
  s.parts[static_cast<std::size_t>(part)] = p;
}

bool looksLikeSqlite(const QString& path)
{
  QFile file(path);
  if (!file.open(QIODevice::ReadOnly)) {
    return false;
  }
  return file.read(16) == QByteArray("SQLite format 3", 16);
}

/** A read transaction: the queries inside it see one consistent state of a live file. */
class ReadTransaction
{
public:
  explicit ReadTransaction(QSqlDatabase& db)
    : m_db(db)
    , m_active(db.transaction())
  {}
  ~ReadTransaction()
  {
    if (m_active) {
      m_db.commit();
    }
  }
  ReadTransaction(const ReadTransaction&) = delete;
  ReadTransaction& operator=(const ReadTransaction&) = delete;

private:
  QSqlDatabase& m_db;
  bool m_active = false;
};

} // namespace

struct SessionReader::Impl
{
  QString path;
  QString connection;
  mutable QString lastError;
  int formatVersion = 0;
  QJsonObject config;
  std::vector<SessionRun> runs;
  std::vector<double> target;
  SessionStatus status = SessionStatus::Running;
  std::int64_t lastPolledId = 0;

  QSqlDatabase db() const { return QSqlDatabase::database(connection, false); }

  /** Runs a query; on failure records and logs the error naming the file. */
  bool run(QSqlQuery& q, const QString& what) const
  {
    if (q.exec()) {
      return true;
    }
    lastError = QStringLiteral("%1: cannot read %2: %3").arg(path, what, q.lastError().text());
    qCWarning(lcSession).noquote() << lastError;
    return false;
  }

  QSqlQuery query(const QString& sql) const
  {
    QSqlQuery q(db());
    q.setForwardOnly(true);
    q.prepare(sql);
    return q;
  }

  QVariant meta(const QString& key) const
  {
    QSqlQuery q = query(QStringLiteral("SELECT value FROM meta WHERE key = ?"));
    q.addBindValue(key);
    if (run(q, QStringLiteral("meta")) && q.next()) {
      return q.value(0);
    }
    return {};
  }

  bool loadRuns();
  void loadTarget();
  void loadStatus();
  const SessionRun* findRun(int index) const;
  std::shared_ptr<Snapshot> newSnapshot(const QSqlQuery& q, int first) const;
  void readParts(Snapshot& s) const;
  void readDensities(Snapshot& s) const;
};

bool SessionReader::Impl::loadRuns()
{
  QSqlQuery q = query(QStringLiteral("SELECT run, name, grp, seed, parts, weights, steps, "
                                     "part_of, part_reward FROM runs ORDER BY run"));
  if (!run(q, QStringLiteral("runs"))) {
    return false;
  }
  std::vector<SessionRun> loaded;
  while (q.next()) {
    SessionRun r;
    r.index = q.value(0).toInt();
    r.name = q.value(1).toString();
    r.group = q.value(2).toString();
    r.seed = q.value(3).toInt();
    r.parts = q.value(4).toInt();
    r.weights = q.value(5).toString() == QLatin1String("uniform") ? MixtureWeights::Uniform
                                                                  : MixtureWeights::LearnedZ;
    r.steps = q.value(6).toLongLong();
    r.partOf = int32sFromBlob(q.value(7).toByteArray()).value_or(std::vector<std::int32_t>{});
    r.partReward = doublesFromBlob(q.value(8).toByteArray()).value_or(std::vector<double>{});
    loaded.push_back(std::move(r));
  }
  const bool changed = loaded.size() != runs.size();
  runs = std::move(loaded);
  return changed;
}

void SessionReader::Impl::loadTarget()
{
  QSqlQuery q = query(QStringLiteral("SELECT data FROM arrays WHERE name = 'target'"));
  if (run(q, QStringLiteral("the target")) && q.next()) {
    target = doublesFromBlob(q.value(0).toByteArray()).value_or(std::vector<double>{});
  }
}

void SessionReader::Impl::loadStatus()
{
  const QString name = meta(QStringLiteral("status")).toString();
  status = parseSessionStatus(name).value_or(SessionStatus::Failed);
}

const SessionRun* SessionReader::Impl::findRun(int index) const
{
  if (index >= 0 && static_cast<std::size_t>(index) < runs.size() &&
      runs[static_cast<std::size_t>(index)].index == index) {
    return &runs[static_cast<std::size_t>(index)];
  }
  for (const SessionRun& r : runs) {
    if (r.index == index) {
      return &r;
    }
  }
  return nullptr;
}

std::shared_ptr<Snapshot> SessionReader::Impl::newSnapshot(const QSqlQuery& q, int first) const
{
  auto s = std::make_shared<Snapshot>();
  readMetrics(q, first, *s);
  if (const SessionRun* r = findRun(s->run)) {
    s->runName = r->name;
    s->group = r->group;
    s->seed = r->seed;
  }
  return s;
}

void SessionReader::Impl::readParts(Snapshot& s) const
{
  QSqlQuery q = query(QStringLiteral("SELECT %1 FROM part_metrics WHERE run = ? AND step = ? "
                                     "ORDER BY part")
                        .arg(kPartColumns));
  q.addBindValue(s.run);
  q.addBindValue(QVariant::fromValue<qint64>(s.step));
  if (!run(q, QStringLiteral("part metrics"))) {
    return;
  }
  while (q.next()) {
    placePart(s, q.value(1).toInt(), readPart(q));
  }
}

void SessionReader::Impl::readDensities(Snapshot& s) const
{
  QSqlQuery q = query(
    QStringLiteral("SELECT part, data FROM densities WHERE run = ? AND step = ? ORDER BY part"));
  q.addBindValue(s.run);
  q.addBindValue(QVariant::fromValue<qint64>(s.step));
  if (!run(q, QStringLiteral("densities"))) {
    return;
  }
  while (q.next()) {
    const int part = q.value(0).toInt();
    auto values = floatsFromBlob(q.value(1).toByteArray());
    if (!values) {
      lastError = QStringLiteral("%1: density of run %2 part %3 at step %4 is malformed")
                    .arg(path)
                    .arg(s.run)
                    .arg(part)
                    .arg(s.step);
      qCWarning(lcSession).noquote() << lastError;
      continue;
    }
    if (part < 0) {
      s.density = std::move(*values);
      continue;
    }
    const std::size_t size = std::max(s.parts.size(), static_cast<std::size_t>(part) + 1);
    if (s.partDensities.size() < size) {
      s.partDensities.resize(size);
    }
    s.partDensities[static_cast<std::size_t>(part)] = std::move(*values);
  }
}

SessionReader::SessionReader()
  : d(std::make_unique<Impl>())
{}

SessionReader::~SessionReader()
{
  close();
}

bool SessionReader::open(const QString& path, QString* error)
{
  close();
  d->path = path;

  auto fail = [&](const QString& why) {
    d->lastError = QStringLiteral("%1: %2").arg(path, why);
    qCWarning(lcSession).noquote() << d->lastError;
    if (error) {
      *error = d->lastError;
    }
    close();
    return false;
  };

  const QFileInfo info(path);
  if (!info.exists()) {
    return fail(QStringLiteral("no such file"));
  }
  if (!info.isFile()) {
    return fail(QStringLiteral("not a file"));
  }
  // Checked by hand: the SQLite driver would open anything and fail on the first query.
  if (!looksLikeSqlite(path)) {
    return fail(QStringLiteral("not a gflowmix session (not an SQLite database)"));
  }

  d->connection = QStringLiteral("gfm.session.reader.%1").arg(g_connectionCounter++);
  {
    QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), d->connection);
    db.setDatabaseName(path);
    db.setConnectOptions(QStringLiteral("QSQLITE_OPEN_READONLY;QSQLITE_BUSY_TIMEOUT=5000"));
    if (!db.open()) {
      return fail(QStringLiteral("cannot open: %1").arg(db.lastError().text()));
    }
  }

  {
    QSqlQuery q = d->query(
      QStringLiteral("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'"));
    if (!q.exec() || !q.next()) {
      return fail(QStringLiteral("cannot read: %1").arg(q.lastError().text()));
    }
    if (q.value(0).toInt() == 0) {
      return fail(QStringLiteral("not a gflowmix session (an SQLite file without a meta table)"));
    }
  }

  const QString format = d->meta(QStringLiteral("format")).toString();
  if (format != QLatin1String(kSessionFormatName)) {
    return fail(QStringLiteral("not a gflowmix session (its format is \"%1\")").arg(format));
  }
  bool versionOk = false;
  d->formatVersion = d->meta(QStringLiteral("format_version")).toInt(&versionOk);
  if (!versionOk || d->formatVersion < 1) {
    return fail(QStringLiteral("session has no valid format version"));
  }
  if (d->formatVersion > kSessionFormatVersion) {
    return fail(QStringLiteral("session format version %1 is newer than this gflowmix reads "
                               "(%2); open it with a newer gflowmix")
                  .arg(d->formatVersion)
                  .arg(kSessionFormatVersion));
  }

  QJsonParseError parse;
  const QByteArray json = d->meta(QStringLiteral("config")).toString().toUtf8();
  const QJsonDocument doc = QJsonDocument::fromJson(json, &parse);
  if (parse.error != QJsonParseError::NoError || !doc.isObject()) {
    return fail(QStringLiteral("its config is not a JSON object: %1").arg(parse.errorString()));
  }
  d->config = doc.object();

  QSqlDatabase db = d->db();
  ReadTransaction transaction(db);
  d->loadRuns();
  d->loadTarget();
  d->loadStatus();
  d->lastError.clear();
  qCInfo(lcSession).noquote() << "reading session" << path << "format" << d->formatVersion
                              << "status" << sessionStatusName(d->status);
  return true;
}

void SessionReader::close()
{
  if (!d->connection.isEmpty()) {
    {
      QSqlDatabase db = d->db();
      if (db.isValid()) {
        db.close();
      }
    }
    QSqlDatabase::removeDatabase(d->connection);
    d->connection.clear();
  }
  d->formatVersion = 0;
  d->config = {};
  d->runs.clear();
  d->target.clear();
  d->status = SessionStatus::Running;
  d->lastPolledId = 0;
}

bool SessionReader::isOpen() const
{
  return !d->connection.isEmpty();
}

QString SessionReader::path() const
{
  return d->path;
}

QString SessionReader::errorString() const
{
  return d->lastError;
}

int SessionReader::formatVersion() const
{
  return d->formatVersion;
}

QString SessionReader::metaValue(const QString& key) const
{
  return isOpen() ? d->meta(key).toString() : QString();
}

QJsonObject SessionReader::config() const
{
  return d->config;
}

const std::vector<SessionRun>& SessionReader::runs() const
{
  return d->runs;
}

const std::vector<double>& SessionReader::target() const
{
  return d->target;
}

SessionStatus SessionReader::status() const
{
  return d->status;
}

std::vector<std::int64_t> SessionReader::steps(int run) const
{
  std::vector<std::int64_t> result;
  if (!isOpen()) {
    return result;
  }
  QSqlQuery q = d->query(QStringLiteral("SELECT step FROM metrics WHERE run = ? ORDER BY step"));
  q.addBindValue(run);
  if (d->run(q, QStringLiteral("steps"))) {
    while (q.next()) {
      result.push_back(q.value(0).toLongLong());
    }
  }
  return result;
}

SnapshotPtr SessionReader::snapshot(int run, std::int64_t step) const
{
  if (!isOpen()) {
    return nullptr;
  }
  QSqlDatabase db = d->db();
  ReadTransaction transaction(db);
  QSqlQuery q = d->query(
    QStringLiteral("SELECT %1 FROM metrics WHERE run = ? AND step = ?").arg(kMetricColumns));
  q.addBindValue(run);
  q.addBindValue(QVariant::fromValue<qint64>(step));
  if (!d->run(q, QStringLiteral("metrics")) || !q.next()) {
    return nullptr;
  }
  std::shared_ptr<Snapshot> s = d->newSnapshot(q, 0);
  d->readParts(*s);
  d->readDensities(*s);
  return s;
}

SnapshotPtr SessionReader::latestSnapshot(int run) const
{
  if (!isOpen()) {
    return nullptr;
  }
  QSqlQuery q = d->query(QStringLiteral("SELECT max(step) FROM metrics WHERE run = ?"));
  q.addBindValue(run);
  if (!d->run(q, QStringLiteral("steps")) || !q.next() || q.value(0).isNull()) {
    return nullptr;
  }
  return snapshot(run, q.value(0).toLongLong());
}

std::vector<SnapshotPtr> SessionReader::series(int run) const
{
  std::vector<SnapshotPtr> result;
  if (!isOpen()) {
    return result;
  }
  QSqlDatabase db = d->db();
  ReadTransaction transaction(db);

  QSqlQuery q = d->query(
    QStringLiteral("SELECT %1 FROM metrics WHERE run = ? ORDER BY step").arg(kMetricColumns));
  q.addBindValue(run);
  if (!d->run(q, QStringLiteral("metrics"))) {
    return result;
  }
  std::map<std::int64_t, std::shared_ptr<Snapshot>> byStep;
  while (q.next()) {
    std::shared_ptr<Snapshot> s = d->newSnapshot(q, 0);
    byStep.emplace(s->step, s);
  }

  // One pass over the run's part rows instead of one query per step.
  QSqlQuery p =
    d->query(QStringLiteral("SELECT %1 FROM part_metrics WHERE run = ? ORDER BY step, part")
               .arg(kPartColumns));
  p.addBindValue(run);
  if (d->run(p, QStringLiteral("part metrics"))) {
    while (p.next()) {
      auto it = byStep.find(p.value(0).toLongLong());
      if (it != byStep.end()) {
        placePart(*it->second, p.value(1).toInt(), readPart(p));
      }
    }
  }

  result.reserve(byStep.size());
  for (auto& entry : byStep) {
    result.push_back(std::move(entry.second));
  }
  return result;
}

std::optional<PartCheckpoint> SessionReader::latestCheckpoint(int run, int part) const
{
  if (!isOpen()) {
    return std::nullopt;
  }
  // Format 1 has no visited window: its checkpoints restart it empty.
  const bool withVisited = d->formatVersion >= 2;
  QSqlQuery q = d->query(
    QStringLiteral("SELECT step, parameters, adam_first, adam_second, log_z, log_z_first, "
                   "log_z_second, rng, buffer, modes_found%1 FROM checkpoints WHERE run = ? AND "
                   "part = ? ORDER BY step DESC LIMIT 1")
      .arg(withVisited ? QStringLiteral(", visited") : QString()));
  q.addBindValue(run);
  q.addBindValue(part);
  if (!d->run(q, QStringLiteral("checkpoints")) || !q.next()) {
    return std::nullopt;
  }

  PartCheckpoint c;
  c.step = q.value(0).toLongLong();
  auto parameters = floatsFromBlob(q.value(1).toByteArray());
  auto first = floatsFromBlob(q.value(2).toByteArray());
  auto second = floatsFromBlob(q.value(3).toByteArray());
  auto buffer = int64sFromBlob(q.value(8).toByteArray());
  const QByteArray visitedBlob = withVisited ? q.value(10).toByteArray() : QByteArray();
  auto visited = visitedBlob.isEmpty() ? std::optional<std::vector<std::int64_t>>(std::in_place)
                                       : int64sFromBlob(qUncompress(visitedBlob));
  if (!parameters || !first || !second || !buffer || !visited) {
    d->lastError = QStringLiteral("%1: checkpoint of run %2 part %3 at step %4 is malformed")
                     .arg(d->path)
                     .arg(run)
                     .arg(part)
                     .arg(c.step);
    qCWarning(lcSession).noquote() << d->lastError;
    return std::nullopt;
  }
  c.parameters = std::move(*parameters);
  c.adamFirst = std::move(*first);
  c.adamSecond = std::move(*second);
  c.logZ = realAt(q, 4);
  c.logZFirst = realAt(q, 5);
  c.logZSecond = realAt(q, 6);
  const QByteArray rng = q.value(7).toByteArray();
  c.rng.assign(rng.constData(), static_cast<std::size_t>(rng.size()));
  c.buffer = std::move(*buffer);
  c.modesFound = static_cast<std::uint32_t>(q.value(9).toLongLong());
  c.visited = std::move(*visited);
  return c;
}

bool SessionReader::refresh()
{
  if (!isOpen()) {
    return false;
  }
  QSqlDatabase db = d->db();
  ReadTransaction transaction(db);

  const SessionStatus before = d->status;
  d->loadStatus();
  bool changed = d->status != before;

  QSqlQuery count = d->query(QStringLiteral("SELECT count(*) FROM runs"));
  if (d->run(count, QStringLiteral("runs")) && count.next() &&
      count.value(0).toULongLong() != d->runs.size()) {
    changed = d->loadRuns() || changed;
  }
  if (d->target.empty()) {
    d->loadTarget();
  }

  QSqlQuery last = d->query(QStringLiteral("SELECT max(id) FROM metrics"));
  if (d->run(last, QStringLiteral("metrics")) && last.next() && !last.value(0).isNull() &&
      last.value(0).toLongLong() > d->lastPolledId) {
    changed = true;
  }
  return changed;
}

std::vector<SnapshotPtr> SessionReader::poll(bool densities)
{
  std::vector<SnapshotPtr> result;
  if (!isOpen()) {
    return result;
  }
  QSqlDatabase db = d->db();
  ReadTransaction transaction(db);

  QSqlQuery q = d->query(
    QStringLiteral("SELECT id, %1 FROM metrics WHERE id > ? ORDER BY id").arg(kMetricColumns));
  q.addBindValue(QVariant::fromValue<qint64>(d->lastPolledId));
  if (!d->run(q, QStringLiteral("metrics"))) {
    return result;
  }
  std::vector<std::shared_ptr<Snapshot>> fresh;
  while (q.next()) {
    d->lastPolledId = std::max<std::int64_t>(d->lastPolledId, q.value(0).toLongLong());
    fresh.push_back(d->newSnapshot(q, 1));
  }

  // Runs are written before the first snapshot; a reader opened earlier catches up here.
  for (const auto& s : fresh) {
    if (!d->findRun(s->run)) {
      d->loadRuns();
      for (const auto& t : fresh) {
        if (const SessionRun* r = d->findRun(t->run)) {
          t->runName = r->name;
          t->group = r->group;
          t->seed = r->seed;
        }
      }
      break;
    }
  }

  for (const auto& s : fresh) {
    d->readParts(*s);
    if (densities) {
      d->readDensities(*s);
    }
    result.push_back(s);
  }
  return result;
}

} // namespace gfm::core
