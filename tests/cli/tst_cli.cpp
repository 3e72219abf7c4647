// gflowmix-cli as scripts see it: exit statuses, the one-line messages, and the data it prints.
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

#include <cmath>

class TestCli : public QObject
{
  Q_OBJECT

private:
  struct Result
  {
    int code = -1;
    QByteArray out;
    QByteArray err;
  };

  Result run(const QStringList& args, int timeoutMs = 120000)
  {
    QProcess process;
    process.start(QStringLiteral(GFLOWMIX_CLI), args);
    if (!process.waitForFinished(timeoutMs)) {
      process.kill();
      process.waitForFinished();
    }
    Result r;
    r.code = process.exitStatus() == QProcess::NormalExit ? process.exitCode() : -1;
    r.out = process.readAllStandardOutput();
    r.err = process.readAllStandardError();
    return r;
  }

  QString write(const QString& name, const QByteArray& text)
  {
    const QString path = m_dir.filePath(name);
    QFile file(path);
    if (file.open(QIODevice::WriteOnly)) {
      file.write(text);
    }
    return path;
  }

  QTemporaryDir m_dir;

  // A quick mixture experiment on the 8x8 grid.
  QStringList smallRuns(const QString& steps) const
  {
    return { "--set",
             "training.steps=" + steps,
             "--set",
             "eval.every=100",
             "--set",
             "policy.hidden=64",
             "--set",
             R"(runs=[{"name":"standard"},{"name":"perfect","partition":{"kind":"nearest-mode"}}])",
             "--quiet" };
  }

  static QString easy8()
  {
    return QStringLiteral(GFLOWMIX_EXPERIMENTS "/hypergrid-2d-8-easy.json");
  }

  QJsonObject evalJson(const QString& session)
  {
    const Result r = run({ "eval", session, "--json" });
    return QJsonDocument::fromJson(r.out).object();
  }

private slots:
  void badInput_data()
  {
    QTest::addColumn<QByteArray>("config");
    QTest::addColumn<QStringList>("extra");
    QTest::addColumn<QStringList>("mentions");

    const QStringList none;
    QTest::newRow("malformed JSON") << QByteArray("{\"env\": {\"dim\": 2,}") << none
                                    << QStringList{ "bad.json", "not valid JSON", "line 1" };
    QTest::newRow("empty file") << QByteArray("  \n") << none << QStringList{ "bad.json", "empty" };
    QTest::newRow("top level array")
      << QByteArray("[1, 2]") << none << QStringList{ "bad.json", "object" };
    QTest::newRow("unknown key") << QByteArray(R"({"env": {"heigth": 8}})") << none
                                 << QStringList{ "bad.json", "env.heigth", "allowed", "height" };
    QTest::newRow("wrong type") << QByteArray(R"({"env": {"height": "eight"}})") << none
                                << QStringList{ "env.height", "integer", "[2, 100000]", "eight" };
    QTest::newRow("H < 2") << QByteArray(R"({"env": {"height": 1}})") << none
                           << QStringList{ "env.height", "[2, 100000]", "got 1" };
    QTest::newRow("D < 1") << QByteArray(R"({"env": {"dim": 0}})") << none
                           << QStringList{ "env.dim", "[1, 16]", "got 0" };
    QTest::newRow("negative reward")
      << QByteArray(R"({"env": {"r0": -0.1}})") << none << QStringList{ "env.r0", "got -0.1" };
    QTest::newRow("batch < 1") << QByteArray(R"({"training": {"batch": 0}})") << none
                               << QStringList{ "training.batch", "[1, 65536]" };
    QTest::newRow("lr <= 0") << QByteArray(R"({"training": {"lr": 0}})") << none
                             << QStringList{ "training.lr", "(0, 10]", "got 0" };
    QTest::newRow("off-policy ratio 1")
      << QByteArray(R"({"training": {"off_policy_ratio": 1}})") << none
      << QStringList{ "training.off_policy_ratio", "[0, 1)" };
    QTest::newRow("off-policy ratio < 0")
      << QByteArray(R"({"training": {"off_policy_ratio": -0.5}})") << none
      << QStringList{ "training.off_policy_ratio", "got -0.5" };
    QTest::newRow("run override out of range")
      << QByteArray(R"({"runs": [{"name": "a", "batch": -3}]})") << none
      << QStringList{ "runs[0].batch", "got -3" };
    QTest::newRow("unknown partition")
      << QByteArray(R"({"runs": [{"partition": {"kind": "x"}}]})") << none
      << QStringList{ "runs[0].partition.kind", "nearest-mode" };
    QTest::newRow("bad --set value") << QByteArray("{}") << QStringList{ "--set", "env.dim=-2" }
                                     << QStringList{ "env.dim", "got -2" };
    QTest::newRow("malformed --set")
      << QByteArray("{}") << QStringList{ "--set", "env.dim" } << QStringList{ "KEY=VALUE" };
    QTest::newRow("grid too large to evaluate exactly")
      << QByteArray(R"({"env": {"dim": 6, "height": 20}})") << none
      << QStringList{ "64000000 states", "eval.max_states", "eval.exact" };
  }

  void badInput()
  {
    QFETCH(QByteArray, config);
    QFETCH(QStringList, extra);
    QFETCH(QStringList, mentions);
    const QString path = write(QStringLiteral("bad.json"), config);
    const QString session = m_dir.filePath(QStringLiteral("never.gflowmix"));

    const Result r = run(QStringList{ "train", path, "--out", session, "--quiet" } + extra);
    QCOMPARE(r.code, 2);
    const QByteArray message = r.err.trimmed();
    QCOMPARE(message.count('\n'), 0); // exactly one line
    for (const QString& word : mentions) {
      QVERIFY2(message.contains(word.toUtf8()), message.constData());
    }
    QVERIFY2(!QFile::exists(session), "a refused config must not leave a session behind");
  }

  void missingFile()
  {
    const Result r = run({ "train", m_dir.filePath("absent.json") });
    QCOMPARE(r.code, 2);
    QVERIFY(r.err.contains("absent.json"));
    QVERIFY(r.err.contains("cannot open"));
  }

  void unknownCommandAndOption()
  {
    QCOMPARE(run({ "fly" }).code, 2);
    const Result r =
      run({ "bench", QStringLiteral(GFLOWMIX_EXPERIMENTS "/default.json"), "--stpes", "3" });
    QCOMPARE(r.code, 2);
    QVERIFY(r.err.contains("--stpes"));
  }

  void targetCsvMatchesReference()
  {
    // D = 2, H = 32, R0 = 0.1: Z = 302.4 (REFERENCE §2).
    const Result r =
      run({ "target", QStringLiteral(GFLOWMIX_EXPERIMENTS "/hypergrid-2d-32-easy.json") });
    QCOMPARE(r.code, 0);
    const QList<QByteArray> lines = r.out.trimmed().split('\n');
    QCOMPARE(lines.size(), 1 + 32 * 32);
    QCOMPARE(lines.front(), QByteArray("x0,x1,reward,p"));
    double total = 0.0;
    double rewardSum = 0.0;
    for (int i = 1; i < lines.size(); ++i) {
      const QList<QByteArray> cells = lines[i].split(',');
      QCOMPARE(cells.size(), 4);
      rewardSum += cells[2].toDouble();
      total += cells[3].toDouble();
    }
    QVERIFY(std::abs(rewardSum - 302.4) < 1e-6);
    QVERIFY(std::abs(total - 1.0) < 1e-6);
    // Cell (0, 0): u = 0.5 in both dimensions, outer band but not the mode band.
    QCOMPARE(lines[1], QByteArray("0,0,0.6,") + QByteArray::number(0.6 / 302.4, 'g', 9));
    QVERIFY(r.err.contains("log Z = 5.711751"));
  }

  void partitionColumnsPerSeed()
  {
    const QString config = write(QStringLiteral("p.json"), R"({
      "env": {"dim": 2, "height": 8},
      "runs": [{"name": "standard"},
               {"name": "perfect", "partition": {"kind": "nearest-mode"}},
               {"name": "random", "partition": {"kind": "random-sphere", "parts": 3}, "seeds": 2}]
    })");
    const Result r = run({ "partition", config });
    QCOMPARE(r.code, 0);
    const QList<QByteArray> lines = r.out.trimmed().split('\n');
    QCOMPARE(lines.front(), QByteArray("x0,x1,perfect,random-s0,random-s1"));
    QCOMPARE(lines.size(), 1 + 64);
    // Orthant rule at H = 8: upper side iff x_d >= 4; bit d of the part.
    QCOMPARE(lines[1 + 0 * 8 + 0].split(',')[2], QByteArray("0"));
    QCOMPARE(lines[1 + 5 * 8 + 2].split(',')[2], QByteArray("1"));
    QCOMPARE(lines[1 + 2 * 8 + 7].split(',')[2], QByteArray("2"));
    QCOMPARE(lines[1 + 4 * 8 + 4].split(',')[2], QByteArray("3"));
  }

  void trainedMixtureSamplesMatchItsDensity()
  {
    const QString session = m_dir.filePath("mix.gflowmix");
    Result r = run(QStringList{ "train", easy8(), "--out", session } + smallRuns("300"));
    QCOMPARE(r.code, 0);

    const QJsonArray runs = evalJson(session).value("runs").toArray();
    QCOMPARE(runs.size(), 2);
    const QJsonObject perfect = runs[1].toObject();
    QCOMPARE(perfect.value("name").toString(), QStringLiteral("perfect"));
    QCOMPARE(perfect.value("step").toInt(), 300);
    QCOMPARE(perfect.value("parts").toArray().size(), 4);
    double weights = 0.0;
    for (const QJsonValue& part : perfect.value("parts").toArray()) {
      weights += part.toObject().value("weight").toDouble();
      // Each quadrant holds a quarter of Z = 22.4.
      QVERIFY(std::abs(part.toObject().value("mass_true").toDouble() - 5.6) < 1e-9);
    }
    QVERIFY(std::abs(weights - 1.0) < 1e-9);

    r = run({ "density", session, "--run", "perfect" });
    QCOMPARE(r.code, 0);
    std::vector<double> p;
    for (const QByteArray& line : r.out.trimmed().split('\n').mid(1)) {
      p.push_back(line.split(',')[2].toDouble());
    }
    QCOMPARE(p.size(), std::size_t{ 64 });

    // Z-weighted samples of the trained parts against the exact mixture density.
    const int n = 40000;
    r = run({ "sample", session, "--run", "perfect", "-n", QString::number(n), "--seed", "7" });
    QCOMPARE(r.code, 0);
    std::vector<double> counts(64, 0.0);
    int inOwnPart = 0;
    const QList<QByteArray> lines = r.out.trimmed().split('\n');
    QCOMPARE(lines.front(), QByteArray("x0,x1,part"));
    QCOMPARE(lines.size(), n + 1);
    for (int i = 1; i < lines.size(); ++i) {
      const QList<QByteArray> cells = lines[i].split(',');
      const int x = cells[0].toInt() * 8 + cells[1].toInt();
      // Most samples of part i lie in orthant i (the perfect partition at H = 8); the rest is
      // the part's leak, which the exact density includes too.
      const int orthant = (cells[0].toInt() >= 4 ? 1 : 0) | (cells[1].toInt() >= 4 ? 2 : 0);
      inOwnPart += cells[2].toInt() == orthant ? 1 : 0;
      counts[static_cast<std::size_t>(x)] += 1.0;
    }
    QVERIFY(inOwnPart > 0.95 * n);
    double chi2 = 0.0;
    int dof = -1;
    for (std::size_t x = 0; x < 64; ++x) {
      const double expected = n * p[x];
      if (expected >= 5.0) {
        chi2 += (counts[x] - expected) * (counts[x] - expected) / expected;
        ++dof;
      }
    }
    // Wilson–Hilferty: chi2/dof^(1/3) is nearly normal; z < 4 is p > 3e-5.
    const double k = dof;
    const double z = (std::cbrt(chi2 / k) - (1.0 - 2.0 / (9.0 * k))) / std::sqrt(2.0 / (9.0 * k));
    QVERIFY2(z < 4.0,
             qPrintable(QStringLiteral("chi2 %1 with %2 dof, z %3").arg(chi2).arg(dof).arg(z)));
  }

  void resumeContinuesExactly()
  {
    const QString straight = m_dir.filePath("straight.gflowmix");
    const QString resumed = m_dir.filePath("resumed.gflowmix");
    QCOMPARE(run(QStringList{ "train", easy8(), "--out", straight } + smallRuns("400")).code, 0);
    QCOMPARE(run(QStringList{ "train", easy8(), "--out", resumed } + smallRuns("200")).code, 0);
    QCOMPARE(
      run(QStringList{ "train", easy8(), "--out", resumed, "--resume" } + smallRuns("400")).code,
      0);

    // Every figure, the visited-states one too: its window travels in the checkpoints.
    const QJsonArray a = evalJson(straight).value("runs").toArray();
    const QJsonArray b = evalJson(resumed).value("runs").toArray();
    QCOMPARE(a.size(), 2);
    QVERIFY(a[0].toObject().value("l1_visited_mean_abs").toDouble() > 0.0);
    QCOMPARE(b, a);
    const Result r = run({ "density", resumed, "--run", "standard", "--step", "100" });
    QCOMPARE(r.code, 0); // the steps before the interruption are still there
  }

  void benchReportsThroughput()
  {
    const Result r = run({ "bench",
                           QStringLiteral(GFLOWMIX_EXPERIMENTS "/hypergrid-2d-8-easy.json"),
                           "--steps",
                           "20",
                           "--json",
                           "--set",
                           "policy.hidden=32" });
    QCOMPARE(r.code, 0);
    for (const char* key : { "\"steps_per_s\"",
                             "\"trajectories_per_s\"",
                             "\"transitions_per_s\"",
                             "\"mean_length\"",
                             "\"threads\"" }) {
      QVERIFY2(r.out.contains(key), key);
    }
  }

  // Workers and the stacked model train the same parts from the same seeds: same batches, so
  // the same mean trajectory length, up to the rare sample that float rounding flips.
  void benchStackedAgreesWithWorkers()
  {
    auto bench = [&](const QStringList& extra) {
      const Result r =
        run(QStringList{ "bench",
                         QStringLiteral(GFLOWMIX_EXPERIMENTS "/hypergrid-2d-8-hard.json"),
                         "--run",
                         "perfect",
                         "--steps",
                         "5",
                         "--json",
                         "--set",
                         "policy.hidden=32" } +
            extra);
      return QJsonDocument::fromJson(r.out).object();
    };
    const QJsonObject workers = bench({ "--threads", "2" });
    const QJsonObject stacked = bench({ "--stacked", "--device", "cpu" });
    QCOMPARE(workers.value("execution").toString(), QStringLiteral("workers"));
    QCOMPARE(workers.value("threads").toInt(), 2);
    QCOMPARE(stacked.value("execution").toString(), QStringLiteral("stacked"));
    QCOMPARE(stacked.value("device").toString(), QStringLiteral("cpu"));
    QCOMPARE(stacked.value("parts").toInt(), 4);
    QVERIFY(std::abs(stacked.value("mean_length").toDouble() -
                     workers.value("mean_length").toDouble()) < 0.5);
    QVERIFY(stacked.value("transitions_per_s").toDouble() > 0.0);
  }
};

QTEST_GUILESS_MAIN(TestCli)
#include "tst_cli.moc"
