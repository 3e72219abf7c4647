#include "core/session/session_reader.h"
#include "core/session/session_writer.h"

#include <QFile>
#include <QJsonArray>
#include <QProcess>
#include <QRandomGenerator>
#include <QSqlDatabase>
#include <QSqlQuery>
#include <QTemporaryDir>
#include <QtTest>

#include <atomic>
#include <csignal>
#include <set>
#include <thread>
#include <unistd.h>

using namespace gfm::core;

namespace {

const char kCrashWriterVariable[] = "GFLOWMIX_TEST_CRASH_WRITER";
constexpr int kCells = 16;
constexpr int kParts = 3;
constexpr int kFlushed = 4;

/** A mixture snapshot whose values encode its run and step, so a reader can check them. */
std::shared_ptr<Snapshot> makeSnapshot(int run, std::int64_t step)
{
  auto s = std::make_shared<Snapshot>();
  s->run = run;
  s->step = step;
  s->totalSteps = 1000;
  s->l1 = 1.0 / (1.0 + static_cast<double>(step));
  s->logZ = 0.5 * run + 1e-3 * static_cast<double>(step);
  s->modesFound = run;
  for (int i = 0; i < kParts; ++i) {
    PartSnapshot p;
    p.logZ = static_cast<double>(step) + i;
    p.modesFound = i;
    s->parts.push_back(p);
  }
  s->density.assign(kCells, static_cast<float>(step) + 0.5f);
  s->partDensities.assign(kParts, std::vector<float>(kCells, static_cast<float>(run)));
  return s;
}

std::vector<RunPlan> makeRuns()
{
  std::vector<RunPlan> runs(2);
  runs[0].name = QStringLiteral("random-s0");
  runs[1].name = QStringLiteral("random-s1");
  for (int r = 0; r < 2; ++r) {
    runs[r].group = QStringLiteral("random");
    runs[r].seed = r;
    runs[r].parts = kParts;
    runs[r].partOf = std::make_shared<std::vector<std::int32_t>>(kCells, r);
    runs[r].partReward.assign(kParts, 1.0 / kParts);
  }
  return runs;
}

QJsonObject makeConfig()
{
  return QJsonObject{ { "name", "follow" }, { "eval", QJsonObject{ { "every", 10 } } } };
}

/** Checks that a snapshot is whole: every part row and (when asked) every density. */
void verifyWhole(const Snapshot& s, bool densities)
{
  QCOMPARE(s.runName, QStringLiteral("random-s%1").arg(s.run));
  QCOMPARE(s.group, QStringLiteral("random"));
  QCOMPARE(s.l1, 1.0 / (1.0 + static_cast<double>(s.step)));
  QCOMPARE(s.parts.size(), std::size_t{ kParts });
  for (int i = 0; i < kParts; ++i) {
    QCOMPARE(s.parts[i].logZ, static_cast<double>(s.step) + i);
  }
  if (densities) {
    QCOMPARE(s.density, std::vector<float>(kCells, static_cast<float>(s.step) + 0.5f));
    QCOMPARE(s.partDensities.size(), std::size_t{ kParts });
    QCOMPARE(s.partDensities[2], std::vector<float>(kCells, static_cast<float>(s.run)));
  } else {
    QVERIFY(s.density.empty());
  }
}

/**
 * Runs in a child process: commits kFlushed snapshots, queues two more that are never
 * committed, and dies by SIGKILL with the writer thread and the file still open.
 */
[[noreturn]] void crashingWriter(const QString& path)
{
  SessionWriter writer;
  writer.setBatchLimits(1000000, 3600 * 1000);
  if (!writer.open(path, makeConfig())) {
    ::_exit(3);
  }
  writer.writeRuns(makeRuns());
  for (int k = 0; k < kFlushed; ++k) {
    writer.appendSnapshot(makeSnapshot(0, 10 * k));
  }
  if (!writer.flush()) {
    ::_exit(4);
  }
  writer.appendSnapshot(makeSnapshot(0, 10 * kFlushed));
  writer.appendSnapshot(makeSnapshot(1, 10 * kFlushed));
  ::kill(::getpid(), SIGKILL);
  ::_exit(5);
}

/** Creates an SQLite file with a `meta` table holding `format` and `version`. */
bool makeForeignDatabase(const QString& path, const QString& format, int version)
{
  const QString name = QStringLiteral("foreign-%1").arg(version);
  bool ok = false;
  {
    QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), name);
    db.setDatabaseName(path);
    if (db.open()) {
      QSqlQuery q(db);
      ok = q.exec(QStringLiteral("CREATE TABLE meta (key TEXT PRIMARY KEY, value)")) &&
           q.exec(QStringLiteral("INSERT INTO meta VALUES ('format', '%1')").arg(format)) &&
           q.exec(QStringLiteral("INSERT INTO meta VALUES ('format_version', %1)").arg(version)) &&
           q.exec(QStringLiteral("INSERT INTO meta VALUES ('config', '{}')"));
    }
  }
  QSqlDatabase::removeDatabase(name);
  return ok;
}

} // namespace

/** @brief SessionReader: refusing foreign files, following a live writer, surviving crashes. */
class TestSessionReader : public QObject
{
  Q_OBJECT

private slots:
  void initTestCase();
  void refusesWhatIsNotASession_data();
  void refusesWhatIsNotASession();
  void followsALiveWriter();
  void followsAWriterOnAnotherThread();
  void copyTakenMidRunHoldsEveryFlushedSnapshot();
  void killedWriterLeavesEveryFlushedSnapshot();

private:
  QTemporaryDir m_dir;
};

void TestSessionReader::initTestCase()
{
  if (qEnvironmentVariableIsSet(kCrashWriterVariable)) {
    m_dir.remove(); // the child's own, unused; SIGKILL would leave it behind
    crashingWriter(qEnvironmentVariable(kCrashWriterVariable));
  }
  QVERIFY(m_dir.isValid());
}

void TestSessionReader::refusesWhatIsNotASession_data()
{
  QTest::addColumn<QString>("file");
  QTest::addColumn<QString>("reason");

  const QString random = m_dir.filePath(QStringLiteral("random.gflowmix"));
  QFile noise(random);
  QVERIFY(noise.open(QIODevice::WriteOnly));
  QByteArray bytes(4096, Qt::Uninitialized);
  QRandomGenerator rng(7);
  for (char& b : bytes) {
    b = static_cast<char>(rng.bounded(256));
  }
  noise.write(bytes);
  noise.close();

  const QString empty = m_dir.filePath(QStringLiteral("empty.gflowmix"));
  QFile emptyFile(empty);
  QVERIFY(emptyFile.open(QIODevice::WriteOnly));
  emptyFile.close();

  const QString plain = m_dir.filePath(QStringLiteral("plain.sqlite"));
  {
    QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), "plain");
    db.setDatabaseName(plain);
    QVERIFY(db.open());
    QSqlQuery q(db);
    QVERIFY(q.exec(QStringLiteral("CREATE TABLE people (name TEXT)")));
  }
  QSqlDatabase::removeDatabase("plain");

  const QString other = m_dir.filePath(QStringLiteral("other.sqlite"));
  QVERIFY(makeForeignDatabase(other, QStringLiteral("someone-else"), 1));
  const QString newer = m_dir.filePath(QStringLiteral("newer.gflowmix"));
  QVERIFY(
    makeForeignDatabase(newer, QString::fromLatin1(kSessionFormatName), kSessionFormatVersion + 1));

  QTest::newRow("random bytes") << random << "not an SQLite database";
  QTest::newRow("empty file") << empty << "not a gflowmix session";
  QTest::newRow("SQLite without meta") << plain << "without a meta table";
  QTest::newRow("another format") << other << "its format is \"someone-else\"";
  QTest::newRow("newer version")
    << newer << QStringLiteral("format version %1 is newer").arg(kSessionFormatVersion + 1);
  QTest::newRow("missing file") << m_dir.filePath(QStringLiteral("nope.gflowmix"))
                                << "no such file";
  QTest::newRow("folder") << m_dir.path() << "not a file";
}

void TestSessionReader::refusesWhatIsNotASession()
{
  QFETCH(QString, file);
  QFETCH(QString, reason);

  SessionReader reader;
  QString error;
  QVERIFY(!reader.open(file, &error));
  QVERIFY(!reader.isOpen());
  QVERIFY2(error.startsWith(file + QStringLiteral(": ")), qPrintable(error));
  QVERIFY2(error.contains(reason), qPrintable(error));
  QCOMPARE(reader.errorString(), error);
  QVERIFY(reader.poll().empty());
}

void TestSessionReader::followsALiveWriter()
{
  const QString path = m_dir.filePath(QStringLiteral("follow.gflowmix"));
  SessionWriter writer;
  writer.setBatchLimits(1000000, 3600 * 1000);
  QVERIFY(writer.open(path, makeConfig()));

  // Opened before the runs exist, as a GUI following a fresh session would be.
  SessionReader reader;
  QString error;
  QVERIFY2(reader.open(path, &error), qPrintable(error));
  QVERIFY(reader.runs().empty());
  QVERIFY(reader.poll().empty());
  QVERIFY(!reader.refresh());

  writer.writeRuns(makeRuns());
  for (int k = 0; k < 3; ++k) {
    writer.appendSnapshot(makeSnapshot(1, 10 * k));
  }
  QVERIFY(reader.poll().empty()); // queued, not committed
  QVERIFY(writer.flush());

  QVERIFY(reader.refresh());
  QCOMPARE(reader.runs().size(), std::size_t{ 2 });
  std::vector<SnapshotPtr> fresh = reader.poll();
  QCOMPARE(fresh.size(), std::size_t{ 3 });
  for (int k = 0; k < 3; ++k) {
    QCOMPARE(fresh[k]->step, std::int64_t{ 10 } * k);
    verifyWhole(*fresh[k], false);
  }
  QVERIFY(reader.poll().empty());
  QVERIFY(!reader.refresh());

  writer.appendSnapshot(makeSnapshot(0, 30));
  writer.appendSnapshot(makeSnapshot(1, 30));
  QVERIFY(writer.flush());
  QVERIFY(reader.refresh());
  fresh = reader.poll(true);
  QCOMPARE(fresh.size(), std::size_t{ 2 });
  QCOMPARE(fresh[0]->run, 0);
  QCOMPARE(fresh[1]->run, 1);
  verifyWhole(*fresh[0], true);
  verifyWhole(*fresh[1], true);
  QCOMPARE(reader.steps(1), (std::vector<std::int64_t>{ 0, 10, 20, 30 }));

  writer.setStatus(SessionStatus::Completed);
  QVERIFY(writer.close());
  QVERIFY(reader.refresh());
  QVERIFY(reader.status() == SessionStatus::Completed);
  QVERIFY(reader.poll().empty());
  QVERIFY(reader.snapshot(0, 30));
}

void TestSessionReader::followsAWriterOnAnotherThread()
{
  const QString path = m_dir.filePath(QStringLiteral("concurrent.gflowmix"));
  SessionWriter writer;
  writer.setBatchLimits(3, 5);
  QVERIFY(writer.open(path, makeConfig()));
  writer.writeRuns(makeRuns());
  QVERIFY(writer.flush());

  SessionReader reader;
  QVERIFY(reader.open(path));

  const int total = 120;
  std::atomic<bool> stop{ false };
  std::thread producer([&] {
    for (int k = 0; k < total / 2 && !stop; ++k) {
      writer.appendSnapshot(makeSnapshot(0, k));
      writer.appendSnapshot(makeSnapshot(1, k));
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });

  // Every poll sees whole snapshots only, each exactly once, in commit order.
  std::set<std::pair<int, std::int64_t>> seen;
  std::int64_t lastStep[2] = { -1, -1 };
  int polls = 0;
  QElapsedTimer timer;
  timer.start();
  while (static_cast<int>(seen.size()) < total && timer.elapsed() < 20000) {
    for (const SnapshotPtr& s : reader.poll(true)) {
      verifyWhole(*s, true);
      QVERIFY(seen.insert({ s->run, s->step }).second);
      QVERIFY(s->step > lastStep[s->run]);
      lastStep[s->run] = s->step;
    }
    ++polls;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  stop = true;
  producer.join();
  QCOMPARE(static_cast<int>(seen.size()), total);
  QVERIFY2(polls > 1, "the reader should have caught the writer mid-run");
  QVERIFY(writer.close());
}

void TestSessionReader::copyTakenMidRunHoldsEveryFlushedSnapshot()
{
  const QString path = m_dir.filePath(QStringLiteral("midrun.gflowmix"));
  SessionWriter writer;
  writer.setBatchLimits(1000000, 3600 * 1000);
  QVERIFY(writer.open(path, makeConfig()));
  writer.writeRuns(makeRuns());
  for (int k = 0; k < kFlushed; ++k) {
    writer.appendSnapshot(makeSnapshot(1, 10 * k));
  }
  QVERIFY(writer.flush());
  writer.appendSnapshot(makeSnapshot(1, 10 * kFlushed));

  // What a power cut would leave: the database and its WAL, as they are on disk now.
  const QString copy = m_dir.filePath(QStringLiteral("midrun-copy.gflowmix"));
  QVERIFY(QFile::copy(path, copy));
  QVERIFY(QFile::exists(path + "-wal"));
  QVERIFY(QFile::copy(path + "-wal", copy + "-wal"));

  SessionReader reader;
  QString error;
  QVERIFY2(reader.open(copy, &error), qPrintable(error));
  QVERIFY(reader.status() == SessionStatus::Running);
  QCOMPARE(reader.runs().size(), std::size_t{ 2 });
  QCOMPARE(reader.steps(1), (std::vector<std::int64_t>{ 0, 10, 20, 30 }));
  for (const SnapshotPtr& s : reader.poll(true)) {
    verifyWhole(*s, true);
  }
  QVERIFY(writer.close());
}

void TestSessionReader::killedWriterLeavesEveryFlushedSnapshot()
{
  const QString path = m_dir.filePath(QStringLiteral("killed.gflowmix"));
  QProcess child;
  QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
  env.insert(QString::fromLatin1(kCrashWriterVariable), path);
  child.setProcessEnvironment(env);
  // The child is this test program: its initTestCase() sees the variable and crashes.
  child.setProcessChannelMode(QProcess::MergedChannels);
  child.start(QCoreApplication::applicationFilePath(), { QStringLiteral("followsALiveWriter") });
  QVERIFY(child.waitForFinished(30000));
  QVERIFY2(child.exitStatus() == QProcess::CrashExit,
           qPrintable(QStringLiteral("exit code %1: %2")
                        .arg(child.exitCode())
                        .arg(QString::fromLocal8Bit(child.readAll()))));

  SessionReader reader;
  QString error;
  QVERIFY2(reader.open(path, &error), qPrintable(error));
  QVERIFY(reader.status() == SessionStatus::Running);
  QCOMPARE(reader.runs().size(), std::size_t{ 2 });
  QCOMPARE(reader.config(), makeConfig());
  QCOMPARE(reader.steps(0), (std::vector<std::int64_t>{ 0, 10, 20, 30 }));
  QVERIFY(reader.steps(1).empty());
  const std::vector<SnapshotPtr> all = reader.poll(true);
  QCOMPARE(all.size(), std::size_t{ kFlushed });
  for (const SnapshotPtr& s : all) {
    verifyWhole(*s, true);
  }
}

QTEST_MAIN(TestSessionReader)
#include "tst_session_reader.moc"
