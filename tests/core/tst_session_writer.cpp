#include "core/session/session_reader.h"
#include "core/session/session_writer.h"

#include <QJsonArray>
#include <QSignalSpy>
#include <QSqlDatabase>
#include <QSqlQuery>
#include <QTemporaryDir>
#include <QtTest>

#include <cmath>
#include <cstring>
#include <limits>
#include <thread>

using namespace gfm::core;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

/** Bit-identical doubles, every NaN counting as equal to every NaN. */
bool sameBits(double a, double b)
{
  if (std::isnan(a) || std::isnan(b)) {
    return std::isnan(a) && std::isnan(b);
  }
  return std::memcmp(&a, &b, sizeof a) == 0;
}

template<typename T>
bool sameBits(const std::vector<T>& a, const std::vector<T>& b)
{
  return a.size() == b.size() &&
         (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0);
}

/** Values no decimal round trip would keep: irrational-ish doubles and a denormal. */
std::shared_ptr<Snapshot> makeSnapshot(int run, std::int64_t step, int parts, int cells)
{
  auto s = std::make_shared<Snapshot>();
  s->run = run;
  s->step = step;
  s->totalSteps = 4000;
  s->wallSeconds = 0.1 * std::sqrt(static_cast<double>(step) + 2.0);
  s->stepsPerSecond = 123.456789 + run;
  s->l1 = step == 0 ? kNaN : 1.0 / (3.0 + static_cast<double>(step));
  s->tv = s->l1 / 2.0;
  s->l1MeanAbs = s->l1 / cells;
  s->l1Visited = std::nextafter(0.25, 1.0);
  s->logZ = std::log(7.0 + step);
  s->logZTrue = -std::numeric_limits<double>::denorm_min();
  s->modeMass = kNaN;
  s->modesFound = static_cast<int>(step % 5);
  s->modeCount = 4;
  s->loss = std::exp(-static_cast<double>(step) / 17.0);
  for (int i = 0; i < parts; ++i) {
    PartSnapshot p;
    p.logZ = std::log(1.0 + i + step * 1e-3);
    p.logZTrue = std::log(2.0 + i);
    p.massTrue = 1.0 / parts;
    p.weight = 1.0 / (parts + 1e-9);
    p.l1 = i == 0 ? kNaN : 0.1 * i;
    p.leak = 1e-300 * i;
    p.loss = 3.0 / (step + 1.0);
    p.modesFound = i;
    s->parts.push_back(p);
  }
  s->density.resize(static_cast<std::size_t>(cells));
  for (int x = 0; x < cells; ++x) {
    s->density[static_cast<std::size_t>(x)] = static_cast<float>(std::sin(x + step) + 1.0) / 3.f;
  }
  if (parts > 1) {
    for (int i = 0; i < parts; ++i) {
      std::vector<float> p(static_cast<std::size_t>(cells));
      for (int x = 0; x < cells; ++x) {
        p[static_cast<std::size_t>(x)] = std::nextafter(static_cast<float>(x * i) / cells, 2.f);
      }
      s->partDensities.push_back(std::move(p));
    }
  }
  return s;
}

void compareMetrics(const Snapshot& got, const Snapshot& want)
{
  QCOMPARE(got.run, want.run);
  QCOMPARE(got.step, want.step);
  QCOMPARE(got.totalSteps, want.totalSteps);
  QVERIFY(sameBits(got.wallSeconds, want.wallSeconds));
  QVERIFY(sameBits(got.stepsPerSecond, want.stepsPerSecond));
  QVERIFY(sameBits(got.l1, want.l1));
  QVERIFY(sameBits(got.tv, want.tv));
  QVERIFY(sameBits(got.l1MeanAbs, want.l1MeanAbs));
  QVERIFY(sameBits(got.l1Visited, want.l1Visited));
  QVERIFY(sameBits(got.logZ, want.logZ));
  QVERIFY(sameBits(got.logZTrue, want.logZTrue));
  QVERIFY(sameBits(got.modeMass, want.modeMass));
  QCOMPARE(got.modesFound, want.modesFound);
  QCOMPARE(got.modeCount, want.modeCount);
  QVERIFY(sameBits(got.loss, want.loss));
  QCOMPARE(got.parts.size(), want.parts.size());
  for (std::size_t i = 0; i < want.parts.size(); ++i) {
    const PartSnapshot& a = got.parts[i];
    const PartSnapshot& b = want.parts[i];
    QVERIFY(sameBits(a.logZ, b.logZ));
    QVERIFY(sameBits(a.logZTrue, b.logZTrue));
    QVERIFY(sameBits(a.massTrue, b.massTrue));
    QVERIFY(sameBits(a.weight, b.weight));
    QVERIFY(sameBits(a.l1, b.l1));
    QVERIFY(sameBits(a.leak, b.leak));
    QVERIFY(sameBits(a.loss, b.loss));
    QCOMPARE(a.modesFound, b.modesFound);
  }
}

RunPlan makeRun(const QString& name, const QString& group, int seed, int parts, int cells)
{
  RunPlan r;
  r.name = name;
  r.group = group;
  r.seed = seed;
  r.parts = parts;
  r.weights = parts > 1 ? MixtureWeights::LearnedZ : MixtureWeights::Uniform;
  r.training.steps = 4000;
  auto partOf = std::make_shared<std::vector<std::int32_t>>(static_cast<std::size_t>(cells));
  for (int x = 0; x < cells; ++x) {
    (*partOf)[static_cast<std::size_t>(x)] = x % parts;
  }
  r.partOf = partOf;
  for (int i = 0; i < parts; ++i) {
    r.partReward.push_back(std::sqrt(2.0) * (i + 1));
  }
  return r;
}

/** Rows of a table, read through a connection of its own. */
int countRows(const QString& path, const QString& table)
{
  const QString name = QStringLiteral("count-%1").arg(table);
  int count = -1;
  {
    QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), name);
    db.setDatabaseName(path);
    if (db.open()) {
      QSqlQuery q(QStringLiteral("SELECT count(*) FROM %1").arg(table), db);
      if (q.next()) {
        count = q.value(0).toInt();
      }
    }
  }
  QSqlDatabase::removeDatabase(name);
  return count;
}

QJsonObject makeConfig()
{
  return QJsonObject{
    { "name", "hypergrid-2d-8" },
    { "env",
      QJsonObject{ { "kind", "hypergrid" }, { "dim", 2 }, { "height", 8 }, { "r0", 1e-4 } } },
    { "runs", QJsonArray{ QJsonObject{ { "name", "standard" }, { "parts", 1 } } } },
    { "note", QStringLiteral("ünïcødé ✓") },
  };
}

} // namespace

/** @brief SessionWriter: what is written comes back unchanged through SessionReader. */
class TestSessionWriter : public QObject
{
  Q_OBJECT

private slots:
  void snapshotsRoundTrip_data();
  void snapshotsRoundTrip();
  void seriesHasMetricsWithoutDensities();
  void checkpointRoundTrip();
  void keepsOnlyLatestCheckpointByDefault();
  void keepsAllCheckpointsOnRequest();
  void configRunsTargetAndMetaRoundTrip();
  void statusFollowsTheWriter();
  void commitsWithoutFlushWithinTheInterval();
  void acceptsRowsFromManyThreads();
  void refusesAFolderThatDoesNotExist();
  void overwritesAnExistingSession();

private:
  QTemporaryDir m_dir;
};

void TestSessionWriter::snapshotsRoundTrip_data()
{
  QTest::addColumn<int>("runs");
  QTest::addColumn<int>("parts");
  QTest::addColumn<int>("snapshots");
  QTest::addColumn<int>("batchRows");

  QTest::newRow("one standard run") << 1 << 1 << 5 << 64;
  QTest::newRow("two mixtures, batch of 1") << 2 << 4 << 7 << 1;
  QTest::newRow("three runs, batch of 3") << 3 << 2 << 10 << 3;
}

void TestSessionWriter::snapshotsRoundTrip()
{
  QFETCH(int, runs);
  QFETCH(int, parts);
  QFETCH(int, snapshots);
  QFETCH(int, batchRows);
  const int cells = 64;
  const QString path = m_dir.filePath(QStringLiteral("roundtrip-%1.gflowmix").arg(batchRows));

  std::vector<std::shared_ptr<Snapshot>> written;
  {
    SessionWriter writer;
    writer.setBatchLimits(batchRows, 1000);
    QString error;
    QVERIFY2(writer.open(path, makeConfig(), &error), qPrintable(error));
    for (int k = 0; k < snapshots; ++k) {
      for (int r = 0; r < runs; ++r) {
        auto s = makeSnapshot(r, 200 * k, parts, cells);
        written.push_back(s);
        writer.appendSnapshot(s);
      }
    }
    QVERIFY(writer.close());
  }

  SessionReader reader;
  QString error;
  QVERIFY2(reader.open(path, &error), qPrintable(error));
  for (int r = 0; r < runs; ++r) {
    const std::vector<std::int64_t> steps = reader.steps(r);
    QCOMPARE(static_cast<int>(steps.size()), snapshots);
    QCOMPARE(steps.back(), std::int64_t{ 200 } * (snapshots - 1));
  }
  for (const auto& want : written) {
    const SnapshotPtr got = reader.snapshot(want->run, want->step);
    QVERIFY(got);
    compareMetrics(*got, *want);
    QVERIFY(sameBits(got->density, want->density));
    QCOMPARE(got->partDensities.size(), want->partDensities.size());
    for (std::size_t i = 0; i < want->partDensities.size(); ++i) {
      QVERIFY(sameBits(got->partDensities[i], want->partDensities[i]));
    }
  }
  QVERIFY(!reader.snapshot(0, 1));
  QVERIFY(!reader.snapshot(runs, 0));
  QCOMPARE(reader.latestSnapshot(0)->step, std::int64_t{ 200 } * (snapshots - 1));
}

void TestSessionWriter::seriesHasMetricsWithoutDensities()
{
  const QString path = m_dir.filePath(QStringLiteral("series.gflowmix"));
  std::vector<std::shared_ptr<Snapshot>> written;
  SessionWriter writer;
  QVERIFY(writer.open(path, makeConfig()));
  writer.writeRuns(
    { makeRun("standard", "standard", 0, 1, 16), makeRun("random-s0", "random", 0, 3, 16) });
  for (int k = 0; k < 6; ++k) {
    auto s = makeSnapshot(1, 100 * k, 3, 16);
    s->runName = QStringLiteral("random-s0");
    s->group = QStringLiteral("random");
    written.push_back(s);
    writer.appendSnapshot(s);
  }
  QVERIFY(writer.close());

  SessionReader reader;
  QVERIFY(reader.open(path));
  const std::vector<SnapshotPtr> series = reader.series(1);
  QCOMPARE(series.size(), written.size());
  for (std::size_t i = 0; i < series.size(); ++i) {
    compareMetrics(*series[i], *written[i]);
    QCOMPARE(series[i]->runName, QStringLiteral("random-s0"));
    QCOMPARE(series[i]->group, QStringLiteral("random"));
    QVERIFY(series[i]->density.empty());
    QVERIFY(series[i]->partDensities.empty());
  }
  QVERIFY(reader.series(0).empty());
}

void TestSessionWriter::checkpointRoundTrip()
{
  const QString path = m_dir.filePath(QStringLiteral("checkpoint.gflowmix"));
  auto c = std::make_shared<PartCheckpoint>();
  c->step = 1234567890123;
  for (int i = 0; i < 1000; ++i) {
    c->parameters.push_back(std::sin(static_cast<float>(i)) * 1e-3f);
    c->adamFirst.push_back(std::nextafter(static_cast<float>(i), 0.f));
    c->adamSecond.push_back(std::numeric_limits<float>::denorm_min() * i);
  }
  c->logZ = std::log(3.0);
  c->logZFirst = -1e-310;
  c->logZSecond = std::nextafter(1.0, 2.0);
  c->rng = std::string("mt19937 state\0with NUL and \xff bytes", 33);
  c->buffer = { 0, 1, -1, std::numeric_limits<std::int64_t>::max(), 1LL << 40 };
  c->modesFound = 0xA5A5A5A5u;
  for (int i = 0; i < 5000; ++i) {
    c->visited.push_back((i * 7919) % 1024);
  }

  SessionWriter writer;
  QVERIFY(writer.open(path, makeConfig()));
  writer.appendCheckpoint(2, 3, c);
  QVERIFY(writer.close());

  SessionReader reader;
  QVERIFY(reader.open(path));
  const std::optional<PartCheckpoint> got = reader.latestCheckpoint(2, 3);
  QVERIFY(got);
  QCOMPARE(got->step, c->step);
  QVERIFY(sameBits(got->parameters, c->parameters));
  QVERIFY(sameBits(got->adamFirst, c->adamFirst));
  QVERIFY(sameBits(got->adamSecond, c->adamSecond));
  QVERIFY(sameBits(got->logZ, c->logZ));
  QVERIFY(sameBits(got->logZFirst, c->logZFirst));
  QVERIFY(sameBits(got->logZSecond, c->logZSecond));
  QCOMPARE(got->rng.size(), c->rng.size());
  QVERIFY(got->rng == c->rng);
  QVERIFY(got->buffer == c->buffer);
  QCOMPARE(got->modesFound, c->modesFound);
  QVERIFY(got->visited == c->visited);
  QVERIFY(!reader.latestCheckpoint(2, 0));
  QVERIFY(!reader.latestCheckpoint(3, 3));
}

void TestSessionWriter::keepsOnlyLatestCheckpointByDefault()
{
  const QString path = m_dir.filePath(QStringLiteral("latest.gflowmix"));
  SessionWriter writer;
  QVERIFY(writer.open(path, makeConfig()));
  for (std::int64_t step : { 100, 200, 300 }) {
    auto c = std::make_shared<PartCheckpoint>();
    c->step = step;
    c->parameters = { static_cast<float>(step) };
    writer.appendCheckpoint(0, 1, c);
  }
  QVERIFY(writer.close());

  SessionReader reader;
  QVERIFY(reader.open(path));
  const auto got = reader.latestCheckpoint(0, 1);
  QVERIFY(got);
  QCOMPARE(got->step, std::int64_t{ 300 });
  QCOMPARE(got->parameters, std::vector<float>{ 300.f });

  QCOMPARE(countRows(path, QStringLiteral("checkpoints")), 1);
}

void TestSessionWriter::keepsAllCheckpointsOnRequest()
{
  const QString path = m_dir.filePath(QStringLiteral("all.gflowmix"));
  SessionWriter writer;
  writer.setKeepAllCheckpoints(true);
  QVERIFY(writer.open(path, makeConfig()));
  for (std::int64_t step : { 300, 100, 200 }) {
    auto c = std::make_shared<PartCheckpoint>();
    c->step = step;
    writer.appendCheckpoint(1, 0, c);
  }
  QVERIFY(writer.close());

  SessionReader reader;
  QVERIFY(reader.open(path));
  QCOMPARE(reader.latestCheckpoint(1, 0)->step, std::int64_t{ 300 });

  QCOMPARE(countRows(path, QStringLiteral("checkpoints")), 3);
}

void TestSessionWriter::configRunsTargetAndMetaRoundTrip()
{
  const QString path = m_dir.filePath(QStringLiteral("config.gflowmix"));
  const std::vector<RunPlan> runs = { makeRun("standard", "standard", 0, 1, 64),
                                      makeRun("random-s0", "random", 0, 4, 64),
                                      makeRun("random-s1", "random", 1, 4, 64) };
  std::vector<double> target(64);
  for (std::size_t x = 0; x < target.size(); ++x) {
    target[x] = std::exp(-static_cast<double>(x) / 7.0) / 3.0;
  }

  SessionWriter writer;
  QVERIFY(writer.open(path, makeConfig()));
  writer.writeRuns(runs);
  writer.writeTarget(target);
  QVERIFY(writer.close());

  SessionReader reader;
  QString error;
  QVERIFY2(reader.open(path, &error), qPrintable(error));
  QCOMPARE(reader.config(), makeConfig());
  QCOMPARE(reader.formatVersion(), kSessionFormatVersion);
  QCOMPARE(reader.metaValue("format"), QStringLiteral("gflowmix-session"));
  QCOMPARE(reader.metaValue("qt_version"), QString::fromLatin1(qVersion()));
  QVERIFY(!reader.metaValue("gflowmix_version").isEmpty());
  QVERIFY(!reader.metaValue("sqlite_version").isEmpty());
  QVERIFY(sameBits(reader.target(), target));

  QCOMPARE(reader.runs().size(), runs.size());
  for (std::size_t i = 0; i < runs.size(); ++i) {
    const SessionRun& got = reader.runs()[i];
    QCOMPARE(got.index, static_cast<int>(i));
    QCOMPARE(got.name, runs[i].name);
    QCOMPARE(got.group, runs[i].group);
    QCOMPARE(got.seed, runs[i].seed);
    QCOMPARE(got.parts, runs[i].parts);
    QVERIFY(got.weights == runs[i].weights);
    QCOMPARE(got.steps, runs[i].training.steps);
    QVERIFY(got.partOf == *runs[i].partOf);
    QVERIFY(sameBits(got.partReward, runs[i].partReward));
  }
}

void TestSessionWriter::statusFollowsTheWriter()
{
  const QString path = m_dir.filePath(QStringLiteral("status.gflowmix"));
  SessionWriter writer;
  QVERIFY(writer.open(path, makeConfig()));

  SessionReader reader;
  QVERIFY(reader.open(path));
  QVERIFY(reader.status() == SessionStatus::Running);

  writer.setStatus(SessionStatus::Failed);
  QVERIFY(writer.flush());
  QVERIFY(reader.refresh());
  QVERIFY(reader.status() == SessionStatus::Failed);

  writer.setStatus(SessionStatus::Completed);
  QVERIFY(writer.close());
  QVERIFY(reader.refresh());
  QVERIFY(reader.status() == SessionStatus::Completed);

  // A writer closed while its status still says running leaves "stopped".
  const QString other = m_dir.filePath(QStringLiteral("status-stopped.gflowmix"));
  QVERIFY(writer.open(other, makeConfig()));
  QVERIFY(writer.close());
  SessionReader second;
  QVERIFY(second.open(other));
  QVERIFY(second.status() == SessionStatus::Stopped);
}

void TestSessionWriter::commitsWithoutFlushWithinTheInterval()
{
  const QString path = m_dir.filePath(QStringLiteral("interval.gflowmix"));
  SessionWriter writer;
  writer.setBatchLimits(1000, 200);
  QVERIFY(writer.open(path, makeConfig()));
  QSignalSpy batches(&writer, &SessionWriter::batchWritten);

  for (int k = 0; k < 3; ++k) {
    writer.appendSnapshot(makeSnapshot(0, k, 1, 4));
  }
  // Far below the row limit: only the time limit can have committed them.
  QVERIFY(batches.wait(5000));
  QCOMPARE(batches.count(), 1);
  QCOMPARE(batches.at(0).at(0).toInt(), 3);

  SessionReader reader;
  QVERIFY(reader.open(path));
  QCOMPARE(reader.steps(0).size(), std::size_t{ 3 });
  QVERIFY(writer.close());
}

void TestSessionWriter::acceptsRowsFromManyThreads()
{
  const QString path = m_dir.filePath(QStringLiteral("threads.gflowmix"));
  SessionWriter writer;
  writer.setBatchLimits(7, 50);
  QVERIFY(writer.open(path, makeConfig()));

  const int threads = 4;
  const int perThread = 50;
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&writer, t] {
      for (int k = 0; k < perThread; ++k) {
        writer.appendSnapshot(makeSnapshot(t, k, 2, 8));
      }
    });
  }
  for (std::thread& w : workers) {
    w.join();
  }
  QVERIFY(writer.close());

  SessionReader reader;
  QVERIFY(reader.open(path));
  for (int t = 0; t < threads; ++t) {
    QCOMPARE(reader.steps(t).size(), std::size_t{ perThread });
  }
}

void TestSessionWriter::refusesAFolderThatDoesNotExist()
{
  const QString path = m_dir.filePath(QStringLiteral("missing/folder/x.gflowmix"));
  SessionWriter writer;
  QString error;
  QVERIFY(!writer.open(path, makeConfig(), &error));
  QVERIFY2(error.contains(path), qPrintable(error));
  QVERIFY2(error.contains("does not exist"), qPrintable(error));
  QVERIFY(!writer.isOpen());

  // Rows given to a writer that is not open are dropped, not crashed on.
  writer.appendSnapshot(makeSnapshot(0, 0, 1, 4));
  QVERIFY(writer.close());
}

void TestSessionWriter::overwritesAnExistingSession()
{
  const QString path = m_dir.filePath(QStringLiteral("overwrite.gflowmix"));
  {
    SessionWriter writer;
    QVERIFY(writer.open(path, makeConfig()));
    writer.appendSnapshot(makeSnapshot(0, 100, 1, 4));
    QVERIFY(writer.close());
  }
  SessionWriter writer;
  QJsonObject config = makeConfig();
  config["name"] = "second";
  QVERIFY(writer.open(path, config));
  writer.appendSnapshot(makeSnapshot(0, 7, 1, 4));
  QVERIFY(writer.close());

  SessionReader reader;
  QVERIFY(reader.open(path));
  QCOMPARE(reader.config()["name"].toString(), QStringLiteral("second"));
  QCOMPARE(reader.steps(0), std::vector<std::int64_t>{ 7 });
}

QTEST_MAIN(TestSessionWriter)
#include "tst_session_writer.moc"
