// gflowmix-cli commands that read a session: eval, sample, density.
#include "app/cli/cli.h"

#include "core/run/experiment_spec.h"
#include "core/session/session_reader.h"
#include "core/train/hypergrid_trainer.h"
#include "core/util/random.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

#include <cmath>
#include <cstdio>

namespace gfm::cli {

namespace {

using core::SessionReader;
using core::SessionRun;

bool openSession(const Arguments& args, SessionReader& reader, QString* error)
{
  if (args.positional().size() != 1) {
    *error = QStringLiteral("expected exactly one SESSION.gflowmix");
    return false;
  }
  return reader.open(args.positional().front(), error);
}

/** The run named by --run (default: the first), or null with `error` set. */
const SessionRun* pickRun(const Arguments& args, const SessionReader& reader, QString* error)
{
  const std::vector<SessionRun>& runs = reader.runs();
  if (runs.empty()) {
    *error = QStringLiteral("%1: the session holds no runs").arg(reader.path());
    return nullptr;
  }
  if (!args.has(QStringLiteral("run"))) {
    return &runs.front();
  }
  const QString name = args.value(QStringLiteral("run"));
  QStringList names;
  for (const SessionRun& run : runs) {
    if (run.name == name) {
      return &run;
    }
    names << run.name;
  }
  *error = QStringLiteral("--run \"%1\" is not in %2 (runs: %3)")
             .arg(name, reader.path(), names.join(QStringLiteral(", ")));
  return nullptr;
}

QJsonValue number(double value)
{
  return std::isfinite(value) ? QJsonValue(value) : QJsonValue();
}

QJsonObject runJson(const SessionRun& run, const core::Snapshot& s)
{
  QJsonArray parts;
  for (const core::PartSnapshot& p : s.parts) {
    parts.append(QJsonObject{
      { QStringLiteral("z"), number(std::exp(p.logZ)) },
      { QStringLiteral("log_z"), number(p.logZ) },
      { QStringLiteral("mass_true"), number(std::exp(p.logZTrue)) },
      { QStringLiteral("share_true"), number(p.massTrue) },
      { QStringLiteral("weight"), number(p.weight) },
      { QStringLiteral("l1"), number(p.l1) },
      { QStringLiteral("leak"), number(p.leak) },
      { QStringLiteral("modes_found"), p.modesFound },
    });
  }
  return QJsonObject{
    { QStringLiteral("name"), run.name },
    { QStringLiteral("group"), run.group },
    { QStringLiteral("seed"), run.seed },
    { QStringLiteral("step"), static_cast<double>(s.step) },
    { QStringLiteral("l1"), number(s.l1) },
    { QStringLiteral("tv"), number(s.tv) },
    { QStringLiteral("l1_mean_abs"), number(s.l1MeanAbs) },
    { QStringLiteral("l1_visited_mean_abs"), number(s.l1Visited) },
    { QStringLiteral("log_z"), number(s.logZ) },
    { QStringLiteral("log_z_true"), number(s.logZTrue) },
    { QStringLiteral("modes_found"), s.modesFound },
    { QStringLiteral("mode_count"), s.modeCount },
    { QStringLiteral("mode_mass"), number(s.modeMass) },
    { QStringLiteral("parts"), parts },
  };
}

} // namespace

int evalCommand(const QStringList& list)
{
  QString error;
  const auto args = Arguments::parse(list, {}, { QStringLiteral("json") }, &error);
  SessionReader reader;
  if (!args || !openSession(*args, reader, &error)) {
    return fail(kBadInput, QStringLiteral("eval: ") + error);
  }

  QJsonArray runs;
  for (const SessionRun& run : reader.runs()) {
    if (const core::SnapshotPtr s = reader.latestSnapshot(run.index)) {
      runs.append(runJson(run, *s));
    }
  }
  const QString status = core::sessionStatusName(reader.status());
  if (args->has(QStringLiteral("json"))) {
    const QJsonObject result{ { QStringLiteral("status"), status },
                              { QStringLiteral("runs"), runs } };
    std::printf("%s\n", QJsonDocument(result).toJson(QJsonDocument::Indented).constData());
    return kOk;
  }

  std::printf("%s (%s)\n", qPrintable(reader.path()), qPrintable(status));
  std::printf("%-16s %7s %8s %8s %7s %9s %9s\n", "run", "step", "L1", "TV", "modes", "log Z",
              "true");
  for (const QJsonValue& value : runs) {
    const QJsonObject r = value.toObject();
    const int modeCount = r.value(QStringLiteral("mode_count")).toInt();
    const QString modes = modeCount > 0 ? QStringLiteral("%1/%2")
                                            .arg(r.value(QStringLiteral("modes_found")).toInt())
                                            .arg(modeCount)
                                        : QStringLiteral("-");
    std::printf("%-16s %7lld %8.4f %8.4f %7s %9.4f %9.4f\n",
                qPrintable(r.value(QStringLiteral("name")).toString()),
                static_cast<long long>(r.value(QStringLiteral("step")).toDouble()),
                r.value(QStringLiteral("l1")).toDouble(NAN),
                r.value(QStringLiteral("tv")).toDouble(NAN), qPrintable(modes),
                r.value(QStringLiteral("log_z")).toDouble(), r.value(QStringLiteral("log_z_true")).toDouble());
    const QJsonArray parts = r.value(QStringLiteral("parts")).toArray();
    for (int i = 0; parts.size() > 1 && i < parts.size(); ++i) {
      const QJsonObject p = parts[i].toObject();
      std::printf("    part %-3d Z %10.4f  true R(X_i) %10.4f  weight %.3f  L1 %.4f  leak %.2e\n", i,
                  p.value(QStringLiteral("z")).toDouble(),
                  p.value(QStringLiteral("mass_true")).toDouble(),
                  p.value(QStringLiteral("weight")).toDouble(),
                  p.value(QStringLiteral("l1")).toDouble(NAN),
                  p.value(QStringLiteral("leak")).toDouble(NAN));
    }
  }
  return kOk;
}

int sampleCommand(const QStringList& list)
{
  QString error;
  const auto args = Arguments::parse(
    list, { QStringLiteral("run"), QStringLiteral("n"), QStringLiteral("seed"),
            QStringLiteral("out") },
    {}, &error);
  SessionReader reader;
  if (!args || !openSession(*args, reader, &error)) {
    return fail(kBadInput, QStringLiteral("sample: ") + error);
  }
  const SessionRun* run = pickRun(*args, reader, &error);
  const auto count = run ? args->integer(QStringLiteral("n"), 0, 1, 100'000'000, &error)
                         : std::nullopt;
  const auto seed = count ? args->integer(QStringLiteral("seed"), 0, 0, 1LL << 53, &error)
                          : std::nullopt;
  if (!run || !count || !seed) {
    return fail(kBadInput, QStringLiteral("sample: ") + error);
  }
  if (!args->has(QStringLiteral("n"))) {
    return fail(kBadInput, QStringLiteral("sample: -n N is required"));
  }
  const auto spec = core::parseExperiment(reader.config(), reader.path(), &error);
  if (!spec) {
    return fail(kFailure, QStringLiteral("sample: the session's config: ") + error);
  }

  // Rebuild each part's policy from its latest checkpoint; the mixture picks part i with
  // w_i = Z_i / Σ Z (or 1/k), then runs that part's policy.
  core::configureNumericsForWorkers();
  const core::Hypergrid grid(spec->grid);
  std::vector<std::unique_ptr<core::HypergridTrainer>> parts;
  std::vector<double> weights;
  double total = 0.0;
  for (int p = 0; p < run->parts; ++p) {
    const auto checkpoint = reader.latestCheckpoint(run->index, p);
    if (!checkpoint) {
      return fail(kFailure, QStringLiteral("sample: %1 has no checkpoint of run %2, part %3")
                              .arg(reader.path(), run->name)
                              .arg(p));
    }
    auto trainer = std::make_unique<core::HypergridTrainer>(grid, spec->policy, core::TrainingSpec{});
    if (!trainer->restore(*checkpoint)) {
      return fail(kFailure, QStringLiteral("sample: the checkpoint of %1 part %2 does not fit "
                                           "the session's policy")
                              .arg(run->name)
                              .arg(p));
    }
    const double w = run->weights == core::MixtureWeights::Uniform ? 1.0
                                                                   : std::exp(checkpoint->logZ);
    weights.push_back(w);
    total += w;
    parts.push_back(std::move(trainer));
  }

  core::Rng rng(static_cast<std::uint64_t>(*seed));
  std::vector<int> perPart(parts.size(), 0);
  for (long long i = 0; i < *count; ++i) {
    double u = rng.uniform() * total;
    std::size_t p = 0;
    while (p + 1 < parts.size() && u >= weights[p]) {
      u -= weights[p];
      ++p;
    }
    ++perPart[p];
  }

  QByteArray csv;
  for (int d = 0; d < grid.dim(); ++d) {
    csv += "x" + QByteArray::number(d) + ",";
  }
  csv += "part\n";
  std::vector<std::int32_t> coords(static_cast<std::size_t>(grid.dim()));
  for (std::size_t p = 0; p < parts.size(); ++p) {
    const auto states = parts[p]->sample(
      perPart[p], core::deriveSeed(static_cast<std::uint64_t>(*seed), p + 1));
    for (std::int64_t state : states) {
      grid.coordsOf(state, coords.data());
      for (std::int32_t c : coords) {
        csv += QByteArray::number(c) + ",";
      }
      csv += QByteArray::number(static_cast<int>(p)) + "\n";
    }
  }
  if (!writeOutput(args->value(QStringLiteral("out")), csv, &error)) {
    return fail(kFailure, error);
  }
  return kOk;
}

int densityCommand(const QStringList& list)
{
  QString error;
  const auto args = Arguments::parse(
    list, { QStringLiteral("run"), QStringLiteral("part"), QStringLiteral("step"),
            QStringLiteral("out") },
    {}, &error);
  SessionReader reader;
  if (!args || !openSession(*args, reader, &error)) {
    return fail(kBadInput, QStringLiteral("density: ") + error);
  }
  const SessionRun* run = pickRun(*args, reader, &error);
  const auto part = run ? args->integer(QStringLiteral("part"), -1, 0, run->parts - 1, &error)
                        : std::nullopt;
  if (!run || !part) {
    return fail(kBadInput, QStringLiteral("density: ") + error);
  }
  core::SnapshotPtr s;
  if (args->has(QStringLiteral("step"))) {
    const auto step = args->integer(QStringLiteral("step"), 0, 0, 1LL << 53, &error);
    if (!step) {
      return fail(kBadInput, QStringLiteral("density: ") + error);
    }
    s = reader.snapshot(run->index, *step);
    if (!s) {
      QStringList steps;
      for (std::int64_t v : reader.steps(run->index)) {
        steps << QString::number(v);
      }
      return fail(kBadInput, QStringLiteral("density: run %1 has no snapshot at --step %2 "
                                            "(steps: %3)")
                               .arg(run->name)
                               .arg(*step)
                               .arg(steps.join(QStringLiteral(", "))));
    }
  } else {
    s = reader.latestSnapshot(run->index);
  }
  if (!s || s->density.empty()) {
    return fail(kFailure, QStringLiteral("density: run %1 has no exact density in %2")
                            .arg(run->name, reader.path()));
  }

  const auto spec = core::parseExperiment(reader.config(), reader.path(), &error);
  if (!spec) {
    return fail(kFailure, QStringLiteral("density: the session's config: ") + error);
  }
  const core::Hypergrid grid(spec->grid);
  const std::vector<float>& p =
    *part < 0 ? s->density : s->partDensities[static_cast<std::size_t>(*part)];
  const std::vector<double>& target = reader.target();
  QByteArray csv;
  for (int d = 0; d < grid.dim(); ++d) {
    csv += "x" + QByteArray::number(d) + ",";
  }
  csv += "p,target\n";
  std::vector<std::int32_t> coords(static_cast<std::size_t>(grid.dim()));
  for (std::int64_t x = 0; x < grid.stateCount(); ++x) {
    grid.coordsOf(x, coords.data());
    for (std::int32_t c : coords) {
      csv += QByteArray::number(c) + ",";
    }
    csv += QByteArray::number(p[static_cast<std::size_t>(x)], 'g', 8) + "," +
           (target.empty() ? QByteArray()
                           : QByteArray::number(target[static_cast<std::size_t>(x)], 'g', 8)) +
           "\n";
  }
  if (!writeOutput(args->value(QStringLiteral("out")), csv, &error)) {
    return fail(kFailure, error);
  }
  const double l1 = *part < 0 ? s->l1 : s->parts[static_cast<std::size_t>(*part)].l1;
  std::fprintf(stderr, "%s at step %lld: %s, L1 %.4f%s\n", qPrintable(run->name),
               static_cast<long long>(s->step),
               *part < 0 ? "mixture" : qPrintable(QStringLiteral("part %1").arg(*part)), l1,
               *part < 0 ? "" : " against its own normalised target");
  return kOk;
}

} // namespace gfm::cli
