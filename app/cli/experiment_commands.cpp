// gflowmix-cli commands that start from a config: train, bench, target, partition.
#include "app/cli/cli.h"
#include "app/cli/progress.h"

#include "core/eval/hypergrid_metrics.h"
#include "core/run/experiment.h"
#include "core/run/work_queue.h"
#include "core/session/session_reader.h"
#include "core/session/session_recorder.h"
#include "core/session/session_writer.h"
#include "core/train/hypergrid_trainer.h"
#include "core/train/stacked_trainer.h"
#include "core/util/random.h"

#include <QCoreApplication>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <optional>
#include <thread>

namespace gfm::cli {

namespace {

using core::Experiment;
using core::ExperimentSpec;

std::optional<ExperimentSpec> loadConfig(const Arguments& args, QString* error)
{
  if (args.positional().size() != 1) {
    *error = QStringLiteral("expected exactly one CONFIG.json");
    return std::nullopt;
  }
  return core::loadExperiment(args.positional().front(), args.values(QStringLiteral("set")), error);
}

/** Checks --device; cuda is refused where this build's LibTorch has none. */
bool checkDevice(const Arguments& args, QString* error)
{
  const QString device = args.value(QStringLiteral("device"), QStringLiteral("auto"));
  if (device != QLatin1String("auto") && device != QLatin1String("cpu") &&
      device != QLatin1String("cuda")) {
    *error = QStringLiteral("--device must be auto, cpu or cuda, got \"%1\"").arg(device);
    return false;
  }
  if (device == QLatin1String("cuda") && !core::cudaAvailable()) {
    *error = QStringLiteral("--device cuda: this build's LibTorch %1 has no CUDA support")
               .arg(QString::fromLatin1(core::torchVersion()));
    return false;
  }
  return true;
}

QByteArray coordinateHeader(int dim)
{
  QByteArray header;
  for (int d = 0; d < dim; ++d) {
    header += "x" + QByteArray::number(d) + ",";
  }
  return header;
}

QByteArray coordinates(const core::Hypergrid& grid, std::int64_t state)
{
  std::vector<std::int32_t> coords(static_cast<std::size_t>(grid.dim()));
  grid.coordsOf(state, coords.data());
  QByteArray row;
  for (std::int32_t c : coords) {
    row += QByteArray::number(c) + ",";
  }
  return row;
}

/**
 * Restores every part of `experiment` from the latest checkpoints in an existing session.
 * The runs must be the session's: same names and part counts.
 */
bool restoreFromSession(const QString& path, Experiment& experiment, QString* error)
{
  core::SessionReader reader;
  if (!reader.open(path, error)) {
    return false;
  }
  const std::vector<core::SessionRun>& saved = reader.runs();
  const std::vector<core::RunPlan>& runs = experiment.runs();
  if (saved.size() != runs.size()) {
    *error = QStringLiteral("%1 holds %2 runs, the config has %3")
               .arg(path)
               .arg(saved.size())
               .arg(runs.size());
    return false;
  }
  int restored = 0;
  for (std::size_t r = 0; r < runs.size(); ++r) {
    if (saved[r].name != runs[r].name || saved[r].parts != runs[r].parts) {
      *error = QStringLiteral("run %1 of %2 is \"%3\" with %4 parts, the config's is \"%5\" "
                              "with %6")
                 .arg(r)
                 .arg(path, saved[r].name)
                 .arg(saved[r].parts)
                 .arg(runs[r].name)
                 .arg(runs[r].parts);
      return false;
    }
    for (int p = 0; p < runs[r].parts; ++p) {
      const auto checkpoint = reader.latestCheckpoint(static_cast<int>(r), p);
      if (checkpoint && experiment.restorePart(static_cast<int>(r), p, *checkpoint)) {
        ++restored;
      }
    }
  }
  std::fprintf(stderr, "resuming %d parts from %s\n", restored, qPrintable(path));
  return true;
}

std::atomic<Experiment*> g_interrupted{ nullptr };

void onInterrupt(int)
{
  // Only an atomic flag is touched here; the experiment stops between chunks and the session
  // is closed normally, so Ctrl-C never leaves a half-written file.
  if (Experiment* e = g_interrupted.load()) {
    e->requestStop();
  }
}

} // namespace

int trainCommand(const QStringList& list)
{
  QString error;
  const auto args = Arguments::parse(list,
                                     { QStringLiteral("set"),
                                       QStringLiteral("out"),
                                       QStringLiteral("device"),
                                       QStringLiteral("threads") },
                                     { QStringLiteral("resume"), QStringLiteral("quiet") },
                                     &error);
  if (!args) {
    return fail(kBadInput, QStringLiteral("train: ") + error);
  }
  const auto spec = loadConfig(*args, &error);
  if (!spec) {
    return fail(kBadInput, error);
  }
  const auto threads =
    args->integer(QStringLiteral("threads"), std::thread::hardware_concurrency(), 1, 1024, &error);
  if (!threads || !checkDevice(*args, &error)) {
    return fail(kBadInput, QStringLiteral("train: ") + error);
  }
  // Parts train one per single-threaded worker on CPUs (stacking measured 2.6x slower there);
  // a CUDA device trains each run's parts as one stacked model.
  const bool cuda =
    args->value(QStringLiteral("device")) == QLatin1String("cuda") ||
    (args->value(QStringLiteral("device"), QStringLiteral("auto")) == QLatin1String("auto") &&
     core::cudaAvailable());
  const QString out = args->value(QStringLiteral("out"));
  const bool resume = args->has(QStringLiteral("resume"));
  if (resume && out.isEmpty()) {
    return fail(kBadInput, QStringLiteral("train: --resume needs --out SESSION.gflowmix"));
  }

  Experiment experiment(*spec);
  experiment.setThreads(static_cast<int>(*threads));
  if (cuda) {
    experiment.setExecution(core::Execution::Stacked, QStringLiteral("cuda"));
  }

  core::SessionWriter writer;
  core::SessionRecorder* recorder = nullptr;
  if (!out.isEmpty()) {
    if (resume && !restoreFromSession(out, experiment, &error)) {
      return fail(kBadInput, QStringLiteral("train --resume: ") + error);
    }
    const bool opened =
      resume ? writer.openForAppend(out, &error) : writer.open(out, spec->json, &error);
    if (!opened) {
      return fail(kFailure, error);
    }
    recorder = core::SessionRecorder::attach(&experiment, &writer);
  }

  Progress progress(args->has(QStringLiteral("quiet")));
  std::map<int, core::SnapshotPtr> latest;
  QObject::connect(&experiment,
                   &Experiment::progressed,
                   &experiment,
                   [&](qint64 done, qint64 total) { progress.update(done, total); });
  QObject::connect(&experiment,
                   &Experiment::snapshotReady,
                   &experiment,
                   [&](const core::SnapshotPtr& s) { latest[s->run] = s; });
  bool failed = false;
  QObject::connect(&experiment, &Experiment::errorOccurred, &experiment, [&](const QString& m) {
    failed = true;
    progress.message(m);
  });
  // With a session, quit once it is closed (every queued snapshot written), else at the end.
  bool sessionOk = true;
  if (recorder) {
    QObject::connect(
      recorder, &core::SessionRecorder::closed, QCoreApplication::instance(), [&](bool ok) {
        sessionOk = ok;
        QCoreApplication::quit();
      });
  } else {
    QObject::connect(&experiment,
                     &Experiment::finished,
                     QCoreApplication::instance(),
                     &QCoreApplication::quit,
                     Qt::QueuedConnection);
  }

  g_interrupted = &experiment;
  std::signal(SIGINT, onInterrupt);
  std::signal(SIGTERM, onInterrupt);
  experiment.start();
  QCoreApplication::exec();
  experiment.wait();
  QCoreApplication::processEvents(); // deliver the last queued snapshots
  g_interrupted = nullptr;
  progress.finish();

  if (!sessionOk) {
    return fail(kFailure, QStringLiteral("session %1: %2").arg(out, writer.errorString()));
  }
  printSummary(latest, experiment);
  if (!out.isEmpty()) {
    std::fprintf(stderr, "session: %s\n", qPrintable(QFileInfo(out).absoluteFilePath()));
  }
  return failed ? kFailure : kOk;
}

namespace {

/** "cuda" or "cpu": --device, with auto meaning CUDA when this LibTorch has it. */
QString resolvedDevice(const Arguments& args)
{
  const QString device = args.value(QStringLiteral("device"), QStringLiteral("auto"));
  if (device == QLatin1String("auto")) {
    return core::cudaAvailable() ? QStringLiteral("cuda") : QStringLiteral("cpu");
  }
  return device;
}

struct BenchTotals
{
  std::vector<core::StepStats> perPart; // transitions, trajectories and Σ mean length
  double seconds = 0.0;
};

void accumulate(core::StepStats& sum, const core::StepStats& step)
{
  sum.transitions += step.transitions;
  sum.trajectories += step.trajectories;
  sum.meanLength += step.meanLength;
}

/**
 * The parts of a run shared by single-threaded workers through the runner's work queue, without
 * evaluation or sessions: what is timed is training alone, from freshly initialised models.
 */
BenchTotals benchWorkers(const core::Hypergrid& grid,
                         const core::PolicySpec& policy,
                         const core::RunPlan& plan,
                         long long steps,
                         int workers)
{
  std::vector<std::unique_ptr<core::HypergridTrainer>> trainers;
  for (int p = 0; p < plan.parts; ++p) {
    core::TrainingSpec training = plan.training;
    training.seed = core::partSeed(plan, p);
    trainers.push_back(std::make_unique<core::HypergridTrainer>(
      grid, policy, training, core::partMembership(plan, p)));
  }
  core::WorkQueue queue(std::vector<std::int64_t>(static_cast<std::size_t>(plan.parts), steps));
  BenchTotals totals;
  totals.perPart.resize(static_cast<std::size_t>(plan.parts));
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> pool;
  for (int w = 0; w < workers; ++w) {
    pool.emplace_back([&] {
      core::configureNumericsForWorkers();
      int last = -1;
      while (const std::optional<int> p = queue.acquire(last)) {
        last = *p;
        core::HypergridTrainer& trainer = *trainers[static_cast<std::size_t>(*p)];
        const long long chunk =
          std::min<long long>(core::kWorkChunkSteps, steps - trainer.stepCount());
        for (long long s = 0; s < chunk; ++s) {
          accumulate(totals.perPart[static_cast<std::size_t>(*p)], trainer.step());
        }
        queue.release(*p, trainer.stepCount());
      }
    });
  }
  for (std::thread& t : pool) {
    t.join();
  }
  totals.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return totals;
}

/** The parts of a run as one stacked model on `device`, on this thread. */
BenchTotals benchStacked(const core::Hypergrid& grid,
                         const core::PolicySpec& policy,
                         const core::RunPlan& plan,
                         long long steps,
                         const QString& device)
{
  core::configureNumericsForWorkers();
  std::vector<core::StackedPart> parts;
  for (int p = 0; p < plan.parts; ++p) {
    parts.push_back(core::StackedPart{ core::partMembership(plan, p), core::partSeed(plan, p) });
  }
  core::StackedHypergridTrainer trainer(
    grid, policy, plan.training, std::move(parts), device.toStdString());
  BenchTotals totals;
  totals.perPart.resize(static_cast<std::size_t>(plan.parts));
  const auto start = std::chrono::steady_clock::now();
  for (long long s = 0; s < steps; ++s) {
    const std::vector<core::StepStats> step = trainer.step();
    for (std::size_t p = 0; p < step.size(); ++p) {
      accumulate(totals.perPart[p], step[p]);
    }
  }
  totals.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return totals;
}

} // namespace

int benchCommand(const QStringList& list)
{
  QString error;
  const auto args = Arguments::parse(list,
                                     { QStringLiteral("set"),
                                       QStringLiteral("steps"),
                                       QStringLiteral("threads"),
                                       QStringLiteral("run"),
                                       QStringLiteral("device") },
                                     { QStringLiteral("json"), QStringLiteral("stacked") },
                                     &error);
  if (!args) {
    return fail(kBadInput, QStringLiteral("bench: ") + error);
  }
  const auto spec = loadConfig(*args, &error);
  if (!spec) {
    return fail(kBadInput, error);
  }
  const auto steps = args->integer(QStringLiteral("steps"), 1000, 1, 100'000'000, &error);
  const auto threads =
    steps ? args->integer(QStringLiteral("threads"), 1, 1, 1024, &error) : std::nullopt;
  if (!steps || !threads || !checkDevice(*args, &error)) {
    return fail(kBadInput, QStringLiteral("bench: ") + error);
  }

  const core::Hypergrid grid(spec->grid);
  const std::vector<core::RunPlan> runs = core::planRuns(*spec, grid);
  const QString runName = args->value(QStringLiteral("run"), runs.front().name);
  auto plan = std::find_if(
    runs.begin(), runs.end(), [&](const core::RunPlan& r) { return r.name == runName; });
  if (plan == runs.end()) {
    return fail(
      kBadInput,
      QStringLiteral("bench: --run \"%1\" is not a run of %2").arg(runName, spec->source));
  }

  const bool stacked = args->has(QStringLiteral("stacked"));
  const QString device = resolvedDevice(*args);
  const int parts = plan->parts;
  const int workers = stacked ? 1 : std::min<int>(static_cast<int>(*threads), parts);
  const BenchTotals bench = stacked ? benchStacked(grid, spec->policy, *plan, *steps, device)
                                    : benchWorkers(grid, spec->policy, *plan, *steps, workers);
  const std::vector<core::StepStats>& totals = bench.perPart;
  const double wall = bench.seconds;
  std::int64_t transitions = 0;
  std::int64_t trajectories = 0;
  double meanLength = 0.0;
  for (const core::StepStats& t : totals) {
    transitions += t.transitions;
    trajectories += t.trajectories;
    meanLength += t.meanLength / static_cast<double>(*steps) / parts;
  }
  const double stepsPerSecond = static_cast<double>(*steps) / wall;
  QJsonObject result{
    { QStringLiteral("config"), spec->source },
    { QStringLiteral("run"), plan->name },
    { QStringLiteral("parts"), parts },
    { QStringLiteral("threads"), workers },
    { QStringLiteral("execution"),
      stacked ? QStringLiteral("stacked") : QStringLiteral("workers") },
    { QStringLiteral("device"), stacked ? device : QStringLiteral("cpu") },
    { QStringLiteral("steps"), static_cast<double>(*steps) },
    { QStringLiteral("seconds"), wall },
    { QStringLiteral("steps_per_s"), stepsPerSecond },
    { QStringLiteral("part_steps_per_s"), stepsPerSecond * parts },
    { QStringLiteral("trajectories_per_s"), static_cast<double>(trajectories) / wall },
    { QStringLiteral("transitions_per_s"), static_cast<double>(transitions) / wall },
    { QStringLiteral("mean_length"), meanLength },
    { QStringLiteral("torch"), QString::fromLatin1(core::torchVersion()) },
  };
  if (args->has(QStringLiteral("json"))) {
    std::printf("%s\n", QJsonDocument(result).toJson(QJsonDocument::Compact).constData());
  } else {
    std::printf("%s: run %s, %d part(s) on %d thread(s), %lld steps per part in %.2f s\n",
                qPrintable(spec->source),
                qPrintable(plan->name),
                parts,
                workers,
                *steps,
                wall);
    std::printf("  %.1f steps/s per part, %.0f trajectories/s, %.0f transitions/s, "
                "mean length %.1f\n",
                stepsPerSecond,
                static_cast<double>(trajectories) / wall,
                static_cast<double>(transitions) / wall,
                meanLength);
  }
  return kOk;
}

int targetCommand(const QStringList& list)
{
  QString error;
  const auto args =
    Arguments::parse(list, { QStringLiteral("set"), QStringLiteral("out") }, {}, &error);
  if (!args) {
    return fail(kBadInput, QStringLiteral("target: ") + error);
  }
  const auto spec = loadConfig(*args, &error);
  if (!spec) {
    return fail(kBadInput, error);
  }
  const core::Hypergrid grid(spec->grid);
  const std::vector<double> rewards = grid.rewards();
  const double z = grid.partitionFunction();
  QByteArray csv = coordinateHeader(grid.dim()) + "reward,p\n";
  for (std::int64_t s = 0; s < grid.stateCount(); ++s) {
    csv += coordinates(grid, s) + QByteArray::number(rewards[static_cast<std::size_t>(s)], 'g', 9) +
           "," + QByteArray::number(rewards[static_cast<std::size_t>(s)] / z, 'g', 9) + "\n";
  }
  if (!writeOutput(args->value(QStringLiteral("out")), csv, &error)) {
    return fail(kFailure, error);
  }
  std::fprintf(stderr,
               "Z = %.10g, log Z = %.6f, %lld states, %d mode regions\n",
               z,
               std::log(z),
               static_cast<long long>(grid.stateCount()),
               grid.modeCount());
  return kOk;
}

int partitionCommand(const QStringList& list)
{
  QString error;
  const auto args =
    Arguments::parse(list, { QStringLiteral("set"), QStringLiteral("out") }, {}, &error);
  if (!args) {
    return fail(kBadInput, QStringLiteral("partition: ") + error);
  }
  const auto spec = loadConfig(*args, &error);
  if (!spec) {
    return fail(kBadInput, error);
  }
  const core::Hypergrid grid(spec->grid);
  std::vector<core::RunPlan> runs = core::planRuns(*spec, grid);
  runs.erase(
    std::remove_if(runs.begin(), runs.end(), [](const core::RunPlan& r) { return r.parts == 1; }),
    runs.end());
  if (runs.empty()) {
    return fail(kBadInput, spec->source + QStringLiteral(": no run has a partition"));
  }
  QByteArray csv = coordinateHeader(grid.dim());
  QStringList names;
  for (const core::RunPlan& r : runs) {
    names << r.name;
  }
  csv += names.join(QLatin1Char(',')).toUtf8() + "\n";
  for (std::int64_t s = 0; s < grid.stateCount(); ++s) {
    QByteArray row = coordinates(grid, s);
    for (std::size_t i = 0; i < runs.size(); ++i) {
      row += QByteArray::number((*runs[i].partOf)[static_cast<std::size_t>(s)]);
      row += i + 1 < runs.size() ? "," : "\n";
    }
    csv += row;
  }
  if (!writeOutput(args->value(QStringLiteral("out")), csv, &error)) {
    return fail(kFailure, error);
  }
  for (const core::RunPlan& r : runs) {
    QStringList masses;
    double total = 0.0;
    for (double m : r.partReward) {
      total += m;
    }
    for (double m : r.partReward) {
      masses << QString::number(m / total, 'f', 3);
    }
    std::fprintf(stderr,
                 "%s: %d parts, true masses %s\n",
                 qPrintable(r.name),
                 r.parts,
                 qPrintable(masses.join(QStringLiteral(" / "))));
  }
  return kOk;
}

} // namespace gfm::cli
