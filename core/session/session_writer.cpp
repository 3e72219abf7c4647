#include "core/session/session_writer.h"

#include "core/session/session_reader.h"

#include <QDateTime>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonDocument>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QSysInfo>
#include <QThread>
#include <QVariant>

#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>

#ifndef GFLOWMIX_VERSION
#define GFLOWMIX_VERSION "unknown"
#endif

namespace gfm::core {

namespace {

std::atomic<int> g_connectionCounter{ 0 };

/** SQLite turns NaN into NULL anyway; binding NULL explicitly keeps that visible. */
QVariant real(double value)
{
  return std::isnan(value) ? QVariant() : QVariant(value);
}

QString weightsName(MixtureWeights weights)
{
  return weights == MixtureWeights::Uniform ? QStringLiteral("uniform") : QStringLiteral("z");
}

QString nowIso()
{
  return QDateTime::currentDateTimeUtc().toString(Qt::ISODateWithMs);
}

/** The writer thread's connection and its prepared statements. */
struct WriterContext
{
  QSqlDatabase db;
  QSqlQuery meta;
  QSqlQuery metrics;
  QSqlQuery clearParts;
  QSqlQuery clearDensities;
  QSqlQuery partMetrics;
  QSqlQuery density;
  QSqlQuery checkpoint;
  QSqlQuery pruneCheckpoints;
  QSqlQuery run;
  QSqlQuery array;
  bool keepAllCheckpoints = false;

  /** Releases every prepared statement (SQLite changes journal mode only without them). */
  void finalise()
  {
    for (QSqlQuery* q : { &meta,
                          &metrics,
                          &clearParts,
                          &clearDensities,
                          &partMetrics,
                          &density,
                          &checkpoint,
                          &pruneCheckpoints,
                          &run,
                          &array }) {
      *q = QSqlQuery();
    }
  }
};

/** One queued item: writes its rows inside the batch's transaction. */
using Job = std::function<bool(WriterContext&, QString*)>;

bool execute(QSqlQuery& query, QString* error)
{
  if (query.exec()) {
    return true;
  }
  *error = query.lastError().text();
  return false;
}

bool execute(QSqlDatabase& db, const QString& sql, QString* error)
{
  QSqlQuery query(db);
  if (query.exec(sql)) {
    return true;
  }
  *error = QStringLiteral("%1 (%2)").arg(query.lastError().text(), sql.left(60));
  return false;
}

bool prepare(QSqlQuery& query, QSqlDatabase& db, const QString& sql, QString* error)
{
  query = QSqlQuery(db);
  if (query.prepare(sql)) {
    return true;
  }
  *error = QStringLiteral("%1 (%2)").arg(query.lastError().text(), sql.left(60));
  return false;
}

bool setMeta(WriterContext& c, const QString& key, const QVariant& value, QString* error)
{
  c.meta.bindValue(0, key);
  c.meta.bindValue(1, value);
  return execute(c.meta, error);
}

bool writeSnapshot(WriterContext& c, const Snapshot& s, QString* error)
{
  QSqlQuery& m = c.metrics;
  const QVariant values[] = { s.run,
                              QVariant::fromValue<qint64>(s.step),
                              QVariant::fromValue<qint64>(s.totalSteps),
                              real(s.wallSeconds),
                              real(s.stepsPerSecond),
                              real(s.l1),
                              real(s.tv),
                              real(s.l1MeanAbs),
                              real(s.l1Visited),
                              real(s.logZ),
                              real(s.logZTrue),
                              real(s.modeMass),
                              s.modesFound,
                              s.modeCount,
                              real(s.loss) };
  for (int i = 0; i < static_cast<int>(std::size(values)); ++i) {
    m.bindValue(i, values[i]);
  }
  if (!execute(m, error)) {
    return false;
  }

  // A snapshot replaces any earlier one of the same step (a resumed run re-evaluating it).
  for (QSqlQuery* clear : { &c.clearParts, &c.clearDensities }) {
    clear->bindValue(0, s.run);
    clear->bindValue(1, QVariant::fromValue<qint64>(s.step));
    if (!execute(*clear, error)) {
      return false;
    }
  }

  QSqlQuery& p = c.partMetrics;
  for (std::size_t i = 0; i < s.parts.size(); ++i) {
    const PartSnapshot& part = s.parts[i];
    const QVariant row[] = { s.run,
                             QVariant::fromValue<qint64>(s.step),
                             static_cast<int>(i),
                             real(part.logZ),
                             real(part.logZTrue),
                             real(part.massTrue),
                             real(part.weight),
                             real(part.l1),
                             real(part.leak),
                             real(part.loss),
                             part.modesFound };
    for (int k = 0; k < static_cast<int>(std::size(row)); ++k) {
      p.bindValue(k, row[k]);
    }
    if (!execute(p, error)) {
      return false;
    }
  }

  auto writeDensity = [&](int part, const std::vector<float>& density) {
    c.density.bindValue(0, s.run);
    c.density.bindValue(1, QVariant::fromValue<qint64>(s.step));
    c.density.bindValue(2, part);
    c.density.bindValue(3, floatBlob(density));
    return execute(c.density, error);
  };
  if (!s.density.empty() && !writeDensity(-1, s.density)) {
    return false;
  }
  for (std::size_t i = 0; i < s.partDensities.size(); ++i) {
    if (!s.partDensities[i].empty() && !writeDensity(static_cast<int>(i), s.partDensities[i])) {
      return false;
    }
  }
  return true;
}

bool hasColumn(const QSqlDatabase& db, const QString& table, const QString& column)
{
  QSqlQuery q(db);
  if (!q.exec(QStringLiteral("PRAGMA table_info(%1)").arg(table))) {
    return false;
  }
  while (q.next()) {
    if (q.value(1).toString() == column) {
      return true;
    }
  }
  return false;
}

bool writeCheckpoint(WriterContext& c, int run, int part, const PartCheckpoint& k, QString* error)
{
  QSqlQuery& q = c.checkpoint;
  const QVariant row[] = { run,
                           part,
                           QVariant::fromValue<qint64>(k.step),
                           floatBlob(k.parameters),
                           floatBlob(k.adamFirst),
                           floatBlob(k.adamSecond),
                           real(k.logZ),
                           real(k.logZFirst),
                           real(k.logZSecond),
                           QByteArray(k.rng.data(), static_cast<qsizetype>(k.rng.size())),
                           int64Blob(k.buffer),
                           QVariant::fromValue<qint64>(k.modesFound),
                           qCompress(int64Blob(k.visited)) };
  for (int i = 0; i < static_cast<int>(std::size(row)); ++i) {
    q.bindValue(i, row[i]);
  }
  if (!execute(q, error)) {
    return false;
  }
  if (c.keepAllCheckpoints) {
    return true;
  }
  c.pruneCheckpoints.bindValue(0, run);
  c.pruneCheckpoints.bindValue(1, part);
  c.pruneCheckpoints.bindValue(2, QVariant::fromValue<qint64>(k.step));
  return execute(c.pruneCheckpoints, error);
}

bool writeRunList(WriterContext& c, const std::vector<RunPlan>& runs, QString* error)
{
  if (!execute(c.db, QStringLiteral("DELETE FROM runs"), error)) {
    return false;
  }
  for (std::size_t i = 0; i < runs.size(); ++i) {
    const RunPlan& r = runs[i];
    const std::vector<std::int32_t> none;
    const QVariant row[] = { static_cast<int>(i),
                             r.name,
                             r.group,
                             r.seed,
                             r.parts,
                             weightsName(r.weights),
                             QVariant::fromValue<qint64>(r.training.steps),
                             int32Blob(r.partOf ? *r.partOf : none),
                             doubleBlob(r.partReward) };
    for (int k = 0; k < static_cast<int>(std::size(row)); ++k) {
      c.run.bindValue(k, row[k]);
    }
    if (!execute(c.run, error)) {
      return false;
    }
  }
  return true;
}

} // namespace

struct SessionWriter::Impl
{
  enum class Start
  {
    Pending,
    Ready,
    Failed
  };

  SessionWriter* q = nullptr;
  QString path;
  QString connection;
  QJsonObject config;
  bool appending = false; // openForAppend(): keep the file, its tables and its config
  int batchRows = 64;
  int batchMsecs = 1000;
  bool keepAllCheckpoints = false;

  std::unique_ptr<QThread> thread;
  mutable std::mutex mutex;
  std::condition_variable wake; // to the writer thread: rows queued, flush or close asked
  std::condition_variable done; // from the writer thread: started, batch committed
  std::deque<Job> queue;
  std::chrono::steady_clock::time_point firstQueued;
  std::uint64_t queued = 0;
  std::uint64_t committed = 0;
  bool flushRequested = false;
  bool closing = false;
  bool accepting = false;
  bool warnedClosed = false;
  bool failed = false;
  Start start = Start::Pending;
  QString lastError;
  SessionStatus status = SessionStatus::Running;

  void enqueue(Job job);
  void threadMain();
  bool setUp(WriterContext& c, QString* error);
  void loop(WriterContext& c);
};

void SessionWriter::Impl::enqueue(Job job)
{
  std::unique_lock lock(mutex);
  if (!accepting) {
    if (!warnedClosed) {
      warnedClosed = true;
      qCWarning(lcSession) << "session writer is not open; dropping rows for" << path;
    }
    return;
  }
  if (queue.empty()) {
    firstQueued = std::chrono::steady_clock::now();
  }
  queue.push_back(std::move(job));
  ++queued;
  const bool wakeNow = queue.size() == 1 || static_cast<int>(queue.size()) >= batchRows;
  lock.unlock();
  if (wakeNow) {
    wake.notify_all();
  }
}

bool SessionWriter::Impl::setUp(WriterContext& c, QString* error)
{
  QSqlQuery mode(c.db);
  if (!mode.exec(QStringLiteral("PRAGMA journal_mode=WAL")) || !mode.next() ||
      mode.value(0).toString().compare(QLatin1String("wal"), Qt::CaseInsensitive) != 0) {
    *error = QStringLiteral("cannot switch to WAL journal mode: %1").arg(mode.lastError().text());
    return false;
  }
  mode.finish();

  const QString pragmas[] = {
    QStringLiteral("PRAGMA synchronous=NORMAL"),
    QStringLiteral("PRAGMA application_id=%1").arg(kSessionApplicationId),
    QStringLiteral("PRAGMA user_version=%1").arg(kSessionFormatVersion),
  };
  for (const QString& sql : pragmas) {
    if (!execute(c.db, sql, error)) {
      return false;
    }
  }

  if (!c.db.transaction()) {
    *error = c.db.lastError().text();
    return false;
  }
  // A resumed session keeps its tables, its config and its creation time; one of format 1
  // gains the checkpoints' visited column.
  for (const QString& sql : appending ? std::vector<QString>() : sessionSchema()) {
    if (!execute(c.db, sql, error)) {
      c.db.rollback();
      return false;
    }
  }
  if (appending && !hasColumn(c.db, QStringLiteral("checkpoints"), QStringLiteral("visited")) &&
      !execute(c.db, QStringLiteral("ALTER TABLE checkpoints ADD COLUMN visited BLOB"), error)) {
    c.db.rollback();
    return false;
  }

  bool ok = prepare(
    c.meta, c.db, QStringLiteral("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)"), error);
  QString sqliteVersion;
  {
    QSqlQuery v(c.db);
    if (v.exec(QStringLiteral("SELECT sqlite_version()")) && v.next()) {
      sqliteVersion = v.value(0).toString();
    }
  }
  const QString now = nowIso();
  const std::pair<QString, QVariant> meta[] = {
    { QStringLiteral("format"), QString::fromLatin1(kSessionFormatName) },
    { QStringLiteral("format_version"), kSessionFormatVersion },
    { QStringLiteral("gflowmix_version"), QStringLiteral(GFLOWMIX_VERSION) },
    { QStringLiteral("qt_version"), QString::fromLatin1(qVersion()) },
    { QStringLiteral("sqlite_version"), sqliteVersion },
    { QStringLiteral("host"), QSysInfo::machineHostName() },
    { QStringLiteral("created"), now },
    { QStringLiteral("updated"), now },
    { QStringLiteral("status"), sessionStatusName(SessionStatus::Running) },
    { QStringLiteral("config"),
      QString::fromUtf8(QJsonDocument(config).toJson(QJsonDocument::Compact)) },
  };
  for (const auto& [key, value] : meta) {
    const bool keep = key == QLatin1String("created") || key == QLatin1String("config");
    if (!(appending && keep)) {
      ok = ok && setMeta(c, key, value, error);
    }
  }
  if (appending) {
    ok = ok && setMeta(c, QStringLiteral("resumed"), now, error);
  }
  if (!ok || !c.db.commit()) {
    if (ok) {
      *error = c.db.lastError().text();
    }
    c.db.rollback();
    return false;
  }

  ok = prepare(c.metrics,
               c.db,
               QStringLiteral("INSERT OR REPLACE INTO metrics (run, step, total_steps, wall, "
                              "steps_per_s, l1, tv, l1_mean_abs, l1_visited, log_z, log_z_true, "
                              "mode_mass, modes_found, mode_count, loss) "
                              "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
               error) &&
       prepare(c.clearParts,
               c.db,
               QStringLiteral("DELETE FROM part_metrics WHERE run = ? AND step = ?"),
               error) &&
       prepare(c.clearDensities,
               c.db,
               QStringLiteral("DELETE FROM densities WHERE run = ? AND step = ?"),
               error) &&
       prepare(c.partMetrics,
               c.db,
               QStringLiteral("INSERT OR REPLACE INTO part_metrics (run, step, part, log_z, "
                              "log_z_true, mass_true, weight, l1, leak, loss, modes_found) "
                              "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
               error) &&
       prepare(c.density,
               c.db,
               QStringLiteral("INSERT OR REPLACE INTO densities (run, step, part, data) "
                              "VALUES (?, ?, ?, ?)"),
               error) &&
       prepare(c.checkpoint,
               c.db,
               QStringLiteral("INSERT OR REPLACE INTO checkpoints (run, part, step, "
                              "parameters, adam_first, adam_second, log_z, log_z_first, "
                              "log_z_second, rng, buffer, modes_found, visited) "
                              "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
               error) &&
       prepare(c.pruneCheckpoints,
               c.db,
               QStringLiteral("DELETE FROM checkpoints WHERE run = ? AND part = ? AND step <> ?"),
               error) &&
       prepare(
         c.run,
         c.db,
         QStringLiteral("INSERT OR REPLACE INTO runs (run, name, grp, seed, parts, weights, steps, "
                        "part_of, part_reward) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"),
         error) &&
       prepare(c.array,
               c.db,
               QStringLiteral("INSERT OR REPLACE INTO arrays (name, data) VALUES (?, ?)"),
               error);
  return ok;
}

void SessionWriter::Impl::loop(WriterContext& c)
{
  std::unique_lock lock(mutex);
  for (;;) {
    if (queue.empty()) {
      if (closing) {
        return;
      }
      flushRequested = false;
      wake.wait(lock, [this] { return !queue.empty() || closing; });
      continue;
    }

    // Let rows accumulate into one transaction, up to the batch size or the time limit.
    const auto deadline = firstQueued + std::chrono::milliseconds(batchMsecs);
    wake.wait_until(lock, deadline, [this] {
      return static_cast<int>(queue.size()) >= batchRows || closing || flushRequested;
    });
    std::deque<Job> batch;
    batch.swap(queue);
    flushRequested = false;
    lock.unlock();

    QStringList errors;
    QString error;
    bool committedOk = c.db.transaction();
    if (committedOk) {
      for (Job& job : batch) {
        // One failed item is reported but does not cost the rest of its batch.
        if (!job(c, &error)) {
          errors << error;
        }
      }
      if (!setMeta(c, QStringLiteral("updated"), nowIso(), &error)) {
        errors << error;
      }
      committedOk = c.db.commit();
    }
    if (!committedOk) {
      errors << QStringLiteral("could not commit %1 rows: %2")
                  .arg(batch.size())
                  .arg(c.db.lastError().text());
      c.db.rollback();
    }

    lock.lock();
    committed += batch.size();
    if (!errors.isEmpty()) {
      failed = true;
      lastError = QStringLiteral("%1: %2").arg(path, errors.join(QStringLiteral("; ")));
    }
    const QString message = lastError;
    lock.unlock();
    done.notify_all();

    if (!errors.isEmpty()) {
      qCWarning(lcSession).noquote() << message;
      emit q->errorOccurred(message);
    } else {
      emit q->batchWritten(static_cast<int>(batch.size()));
    }
    lock.lock();
  }
}

void SessionWriter::Impl::threadMain()
{
  // The connection is created, used and removed on this thread only, as Qt SQL requires.
  auto c = std::make_unique<WriterContext>();
  c->keepAllCheckpoints = keepAllCheckpoints;
  c->db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), connection);
  c->db.setDatabaseName(path);
  c->db.setConnectOptions(QStringLiteral("QSQLITE_BUSY_TIMEOUT=5000"));

  QString error;
  bool ok = c->db.open();
  if (!ok) {
    error = c->db.lastError().text();
  } else {
    ok = setUp(*c, &error);
  }
  {
    std::lock_guard lock(mutex);
    start = ok ? Start::Ready : Start::Failed;
    if (!ok) {
      lastError = QStringLiteral("%1: cannot create session: %2").arg(path, error);
    }
  }
  done.notify_all();

  if (ok) {
    loop(*c);
    // A finished session becomes one self-contained file. When a reader still has it open
    // the switch fails harmlessly and the file stays in WAL mode.
    c->finalise();
    QSqlQuery(c->db).exec(QStringLiteral("PRAGMA journal_mode=DELETE"));
  }
  c->db.close();
  c.reset(); // statements and the handle go before the connection is removed
  QSqlDatabase::removeDatabase(connection);
}

SessionWriter::SessionWriter(QObject* parent)
  : QObject(parent)
  , d(std::make_unique<Impl>())
{
  d->q = this;
}

SessionWriter::~SessionWriter()
{
  close();
}

void SessionWriter::setBatchLimits(int rows, int msecs)
{
  d->batchRows = std::max(1, rows);
  d->batchMsecs = std::max(0, msecs);
}

void SessionWriter::setKeepAllCheckpoints(bool keep)
{
  d->keepAllCheckpoints = keep;
}

bool SessionWriter::open(const QString& path, const QJsonObject& config, QString* error)
{
  close();
  d->path = path;

  auto fail = [&](const QString& message) {
    qCWarning(lcSession).noquote() << message;
    d->lastError = message;
    if (error) {
      *error = message;
    }
    return false;
  };

  const QFileInfo info(path);
  if (!info.absoluteDir().exists()) {
    return fail(QStringLiteral("%1: cannot create session: folder %2 does not exist")
                  .arg(path, info.absolutePath()));
  }
  if (info.isDir()) {
    return fail(QStringLiteral("%1: cannot create session: it is a folder").arg(path));
  }
  // Overwrite: a stale -wal next to a new database would be replayed into it.
  for (const QString& file : { d->appending ? QString() : path,
                               path + QStringLiteral("-wal"),
                               path + QStringLiteral("-shm"),
                               path + QStringLiteral("-journal") }) {
    if (!d->appending && !file.isEmpty() && QFile::exists(file) && !QFile::remove(file)) {
      return fail(QStringLiteral("%1: cannot overwrite %2").arg(path, file));
    }
  }

  d->config = config;
  d->connection = QStringLiteral("gfm.session.writer.%1").arg(g_connectionCounter++);
  d->queue.clear();
  d->queued = 0;
  d->committed = 0;
  d->flushRequested = false;
  d->closing = false;
  d->failed = false;
  d->warnedClosed = false;
  d->lastError.clear();
  d->status = SessionStatus::Running;
  d->start = Impl::Start::Pending;

  d->thread.reset(QThread::create([this] { d->threadMain(); }));
  d->thread->setObjectName(QStringLiteral("session-writer"));
  d->thread->start();

  std::unique_lock lock(d->mutex);
  d->done.wait(lock, [this] { return d->start != Impl::Start::Pending; });
  if (d->start == Impl::Start::Failed) {
    const QString message = d->lastError;
    lock.unlock();
    d->thread->wait();
    d->thread.reset();
    return fail(message);
  }
  d->accepting = true;
  qCInfo(lcSession).noquote() << "writing session" << path;
  return true;
}

bool SessionWriter::openForAppend(const QString& path, QString* error)
{
  // Checked with a reader first: only a gflowmix session of this format is appended to.
  {
    SessionReader reader;
    if (!reader.open(path, error)) {
      return false;
    }
    d->config = reader.config();
  }
  d->appending = true;
  const bool ok = open(path, d->config, error);
  d->appending = false;
  return ok;
}

bool SessionWriter::isOpen() const
{
  std::lock_guard lock(d->mutex);
  return d->accepting;
}

QString SessionWriter::path() const
{
  return d->path;
}

QString SessionWriter::errorString() const
{
  std::lock_guard lock(d->mutex);
  return d->lastError;
}

void SessionWriter::writeRuns(const std::vector<RunPlan>& runs)
{
  d->enqueue([runs](WriterContext& c, QString* error) {
    if (writeRunList(c, runs, error)) {
      return true;
    }
    *error = QStringLiteral("could not write the run list: %1").arg(*error);
    return false;
  });
}

void SessionWriter::writeTarget(const std::vector<double>& target)
{
  d->enqueue([blob = doubleBlob(target)](WriterContext& c, QString* error) {
    c.array.bindValue(0, QStringLiteral("target"));
    c.array.bindValue(1, blob);
    if (execute(c.array, error)) {
      return true;
    }
    *error = QStringLiteral("could not write the target: %1").arg(*error);
    return false;
  });
}

void SessionWriter::setStatus(SessionStatus status)
{
  {
    std::lock_guard lock(d->mutex);
    d->status = status;
  }
  d->enqueue([status](WriterContext& c, QString* error) {
    return setMeta(c, QStringLiteral("status"), sessionStatusName(status), error);
  });
}

bool SessionWriter::flush()
{
  std::unique_lock lock(d->mutex);
  if (!d->thread) {
    return !d->failed;
  }
  const std::uint64_t target = d->queued;
  d->flushRequested = true;
  lock.unlock();
  d->wake.notify_all();

  lock.lock();
  d->done.wait(lock, [&] { return d->committed >= target; });
  return !d->failed;
}

bool SessionWriter::close()
{
  if (!d->thread) {
    return !d->failed;
  }
  bool running = false;
  {
    std::lock_guard lock(d->mutex);
    running = d->status == SessionStatus::Running;
  }
  if (running) {
    setStatus(SessionStatus::Stopped);
  }
  {
    std::lock_guard lock(d->mutex);
    d->accepting = false;
    d->closing = true;
  }
  d->wake.notify_all();
  d->thread->wait();
  d->thread.reset();

  std::lock_guard lock(d->mutex);
  if (d->failed) {
    qCWarning(lcSession).noquote() << "closed session" << d->path << "after write errors";
  } else {
    qCInfo(lcSession).noquote() << "closed session" << d->path;
  }
  return !d->failed;
}

void SessionWriter::appendSnapshot(SnapshotPtr snapshot)
{
  if (!snapshot) {
    return;
  }
  d->enqueue([snapshot](WriterContext& c, QString* error) {
    if (writeSnapshot(c, *snapshot, error)) {
      return true;
    }
    *error = QStringLiteral("could not write the snapshot of run %1 at step %2: %3")
               .arg(snapshot->run)
               .arg(snapshot->step)
               .arg(*error);
    return false;
  });
}

void SessionWriter::appendCheckpoint(int run,
                                     int part,
                                     std::shared_ptr<const PartCheckpoint> checkpoint)
{
  if (!checkpoint) {
    return;
  }
  d->enqueue([run, part, checkpoint](WriterContext& c, QString* error) {
    if (writeCheckpoint(c, run, part, *checkpoint, error)) {
      return true;
    }
    *error = QStringLiteral("could not write the checkpoint of run %1 part %2 at step %3: %4")
               .arg(run)
               .arg(part)
               .arg(checkpoint->step)
               .arg(*error);
    return false;
  });
}

} // namespace gfm::core
