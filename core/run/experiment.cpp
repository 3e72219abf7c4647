#include "core/run/experiment.h"

#include "core/run/work_queue.h"

#include "core/eval/hypergrid_metrics.h"
#include "core/mixture/partition.h"
#include "core/train/stacked_trainer.h"
#include "core/util/logging.h"
#include "core/util/random.h"

#include <QMetaType>

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <exception>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

namespace gfm::core {

namespace {

// Progress signals are throttled to this interval (ms) so that queues never fill up.
constexpr std::int64_t kProgressIntervalMs = 100;

// Niceness of worker threads relative to the process (Linux schedules threads one by one).
constexpr int kWorkerNice = 5;

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point start)
{
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double logSumExp(const std::vector<double>& values)
{
  double top = -INFINITY;
  for (double v : values) {
    top = std::max(top, v);
  }
  double sum = 0.0;
  for (double v : values) {
    sum += std::exp(v - top);
  }
  return top + std::log(sum);
}

} // namespace

std::vector<RunPlan> planRuns(const ExperimentSpec& spec, const Hypergrid& grid)
{
  const std::vector<double> rewards = grid.rewards();
  std::vector<RunPlan> plans;
  for (const RunSpec& entry : spec.runs) {
    for (int s = 0; s < entry.seeds; ++s) {
      RunPlan plan;
      plan.group = entry.name;
      plan.name = entry.seeds > 1 ? QStringLiteral("%1-s%2").arg(entry.name).arg(s) : entry.name;
      plan.seed = s;
      plan.weights = entry.weights;
      plan.training = entry.training;
      plan.training.seed = entry.training.seed + static_cast<std::uint64_t>(s);
      plan.parts = partCount(grid, entry.partition);
      plan.partOf = std::make_shared<const std::vector<std::int32_t>>(
        partitionHypergrid(grid, entry.partition, plan.training.seed));
      plan.partReward.assign(static_cast<std::size_t>(plan.parts), 0.0);
      for (std::size_t x = 0; x < rewards.size(); ++x) {
        plan.partReward[static_cast<std::size_t>((*plan.partOf)[x])] += rewards[x];
      }
      plans.push_back(std::move(plan));
    }
  }
  return plans;
}

namespace {

/** Trains some parts of one run in lockstep: one part alone, or all k stacked as one model. */
class PartGroup
{
public:
  virtual ~PartGroup() = default;
  /** One optimiser step of every part; the loss of each. */
  virtual std::vector<double> step() = 0;
  virtual std::int64_t stepCount() const = 0;
  virtual double logZ(int i) const = 0;
  virtual std::uint32_t modesFound(int i) const = 0;
  virtual std::vector<float> forwardProbabilities(int i) = 0;
  virtual std::vector<std::int64_t> visitedTerminals(int i) const = 0;
  virtual PartCheckpoint checkpoint(int i) const = 0;
  virtual bool restore(int i, const PartCheckpoint& c) = 0;
};

class SinglePart : public PartGroup
{
public:
  explicit SinglePart(std::unique_ptr<HypergridTrainer> trainer)
    : m_trainer(std::move(trainer))
  {}
  std::vector<double> step() override { return { m_trainer->step().loss }; }
  std::int64_t stepCount() const override { return m_trainer->stepCount(); }
  double logZ(int) const override { return m_trainer->logZ(); }
  std::uint32_t modesFound(int) const override { return m_trainer->modesFound(); }
  std::vector<float> forwardProbabilities(int) override
  {
    return m_trainer->forwardProbabilities();
  }
  std::vector<std::int64_t> visitedTerminals(int) const override
  {
    return m_trainer->visitedTerminals();
  }
  PartCheckpoint checkpoint(int) const override { return m_trainer->checkpoint(); }
  bool restore(int, const PartCheckpoint& c) override { return m_trainer->restore(c); }

private:
  std::unique_ptr<HypergridTrainer> m_trainer;
};

class StackedParts : public PartGroup
{
public:
  explicit StackedParts(std::unique_ptr<StackedHypergridTrainer> trainer)
    : m_trainer(std::move(trainer))
  {}
  std::vector<double> step() override
  {
    std::vector<double> losses;
    for (const StepStats& stats : m_trainer->step()) {
      losses.push_back(stats.loss);
    }
    return losses;
  }
  std::int64_t stepCount() const override { return m_trainer->stepCount(0); }
  double logZ(int i) const override { return m_trainer->logZ(i); }
  std::uint32_t modesFound(int i) const override { return m_trainer->modesFound(i); }
  std::vector<float> forwardProbabilities(int i) override
  {
    return m_trainer->forwardProbabilities(i);
  }
  std::vector<std::int64_t> visitedTerminals(int i) const override
  {
    return m_trainer->visitedTerminals(i);
  }
  PartCheckpoint checkpoint(int i) const override { return m_trainer->checkpoint(i); }
  bool restore(int i, const PartCheckpoint& c) override { return m_trainer->restore(i, c); }

private:
  std::unique_ptr<StackedHypergridTrainer> m_trainer;
};

} // namespace

std::uint64_t partSeed(const RunPlan& plan, int part)
{
  return deriveSeed(plan.training.seed, static_cast<std::uint64_t>(part));
}

PartMembership partMembership(const RunPlan& plan, int part)
{
  return plan.parts > 1 ? PartMembership{ plan.partOf, part } : PartMembership{};
}

struct Experiment::Impl
{
  /** What one worker trains in lockstep: some parts of one run. */
  struct Unit
  {
    int run = 0;
    std::vector<int> parts;
    std::unique_ptr<PartGroup> group; // created by the first worker that takes the unit
    std::vector<std::optional<PartCheckpoint>> resumeFrom;
    std::vector<double> lossSum;
    int lossCount = 0;
    double stepsPerSecond = 0.0;
    int evaluations = 0;
  };

  Experiment* q = nullptr;
  ExperimentSpec spec;
  Hypergrid grid;
  std::vector<RunPlan> runs;
  std::vector<double> target;
  int threads = 1;
  Execution execution = Execution::Workers;
  QString device = QStringLiteral("cpu");
  std::function<bool(int, int)> filter;

  std::vector<Unit> units;
  std::unique_ptr<WorkQueue> queue;
  std::vector<std::thread> workers;
  std::atomic<bool> stopRequested{ false };
  std::atomic<bool> paused{ false };
  std::atomic<bool> running{ false };
  std::atomic<int> alive{ 0 };
  std::atomic<std::int64_t> stepsDone{ 0 };
  std::atomic<std::int64_t> lastProgressMs{ -kProgressIntervalMs };
  std::int64_t stepsTotal = 0;
  Clock::time_point started;

  std::mutex mutex; // guards pending, checkpoints, and the pause/finish condition
  std::condition_variable wake;
  std::map<std::pair<int, std::int64_t>, std::vector<PartReport>> pending;
  std::map<std::pair<int, int>, PartCheckpoint> checkpoints;

  Impl(ExperimentSpec s)
    : spec(std::move(s))
    , grid(spec.grid)
  {}

  void build(Unit& unit);
  void train(Unit& unit); // one chunk of steps, and the evaluation that ends it
  void work();
  void report(Unit& unit);
  void emitProgress();
};

void Experiment::Impl::emitProgress()
{
  const auto now =
    std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count();
  std::int64_t last = lastProgressMs.load();
  if (now - last >= kProgressIntervalMs && lastProgressMs.compare_exchange_strong(last, now)) {
    emit q->progressed(stepsDone.load(), stepsTotal);
  }
}

void Experiment::Impl::build(Unit& unit)
{
  const RunPlan& plan = runs[static_cast<std::size_t>(unit.run)];

  if (execution == Execution::Stacked) {
    std::vector<StackedPart> parts;
    for (int part : unit.parts) {
      parts.push_back(StackedPart{ partMembership(plan, part), partSeed(plan, part) });
    }
    unit.group = std::make_unique<StackedParts>(std::make_unique<StackedHypergridTrainer>(
      grid, spec.policy, plan.training, std::move(parts), device.toStdString()));
  } else {
    TrainingSpec training = plan.training;
    training.seed = partSeed(plan, unit.parts.front());
    unit.group = std::make_unique<SinglePart>(std::make_unique<HypergridTrainer>(
      grid, spec.policy, training, partMembership(plan, unit.parts.front())));
  }
  unit.lossSum.assign(unit.parts.size(), 0.0);

  bool resumed = false;
  for (std::size_t i = 0; i < unit.parts.size(); ++i) {
    const auto& c = unit.resumeFrom[i];
    if (c && unit.group->restore(static_cast<int>(i), *c)) {
      stepsDone += c->step;
      resumed = true;
    }
  }
  if (!resumed) {
    report(unit); // the untrained policy: step 0 of every curve
  }
}

void Experiment::Impl::report(Unit& unit)
{
  PartGroup& group = *unit.group;
  const std::int64_t step = group.stepCount();
  const bool last = step >= runs[static_cast<std::size_t>(unit.run)].training.steps;
  ++unit.evaluations;
  const bool saveCheckpoint =
    last || (spec.eval.checkpointEvery > 0 && unit.evaluations % spec.eval.checkpointEvery == 0);

  std::vector<PartReport> reports;
  for (std::size_t i = 0; i < unit.parts.size(); ++i) {
    const int index = static_cast<int>(i);
    PartReport r;
    r.part = unit.parts[i];
    r.logZ = group.logZ(index);
    r.loss = unit.lossCount > 0 ? unit.lossSum[i] / unit.lossCount : 0.0;
    r.modesFound = group.modesFound(index);
    r.stepsPerSecond = unit.stepsPerSecond;
    if (spec.eval.exact) {
      r.density = terminalDistribution(grid, group.forwardProbabilities(index));
      r.visited = group.visitedTerminals(index);
    }
    unit.lossSum[i] = 0.0;
    if (saveCheckpoint) {
      auto c = std::make_shared<const PartCheckpoint>(group.checkpoint(index));
      {
        std::lock_guard lock(mutex);
        checkpoints[{ unit.run, r.part }] = *c;
      }
      emit q->checkpointReady(unit.run, r.part, c);
    }
    reports.push_back(std::move(r));
  }
  unit.lossCount = 0;

  std::vector<PartReport> complete;
  {
    std::lock_guard lock(mutex);
    auto& collected = pending[{ unit.run, step }];
    for (PartReport& r : reports) {
      collected.push_back(std::move(r));
    }
    if (static_cast<int>(collected.size()) == runs[static_cast<std::size_t>(unit.run)].parts) {
      complete = std::move(collected);
      pending.erase({ unit.run, step });
    }
  }
  if (!complete.empty()) {
    emit q->snapshotReady(q->assemble(unit.run, step, secondsSince(started), complete));
  }
}

void Experiment::Impl::train(Unit& unit)
{
  PartGroup& group = *unit.group;
  const std::int64_t steps = runs[static_cast<std::size_t>(unit.run)].training.steps;
  const std::int64_t done = group.stepCount();
  if (done >= steps) {
    return;
  }
  const std::int64_t every = spec.eval.every;
  const std::int64_t boundary = std::min(steps, (done / every + 1) * every);
  const std::int64_t chunk = std::min<std::int64_t>(boundary - done, kWorkChunkSteps);
  const auto chunkStart = Clock::now();
  for (std::int64_t i = 0; i < chunk; ++i) {
    const std::vector<double> losses = group.step();
    for (std::size_t p = 0; p < losses.size(); ++p) {
      unit.lossSum[p] += losses[p];
    }
    ++unit.lossCount;
  }
  const double rate = static_cast<double>(chunk) / std::max(secondsSince(chunkStart), 1e-9);
  unit.stepsPerSecond = unit.stepsPerSecond == 0.0 ? rate : 0.8 * unit.stepsPerSecond + 0.2 * rate;
  stepsDone += chunk * static_cast<std::int64_t>(unit.parts.size());
  emitProgress();
  if (group.stepCount() == boundary) {
    report(unit);
  }
}

void Experiment::Impl::work()
{
  // Workers yield to the thread that draws: a busy machine must not make the GUI stutter.
  setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), kWorkerNice);
  try {
    configureNumericsForWorkers();
    int last = -1;
    while (!stopRequested) {
      if (paused) {
        std::unique_lock lock(mutex);
        wake.wait(lock, [this] { return !paused || stopRequested; });
      }
      if (stopRequested) {
        break;
      }
      const std::optional<int> next = queue->acquire(last);
      if (!next) {
        break; // every unit is finished or held by another worker
      }
      Unit& unit = units[static_cast<std::size_t>(*next)];
      if (!unit.group) {
        build(unit); // on the first worker that takes it, so it allocates there
      }
      train(unit);
      queue->release(*next, unit.group->stepCount());
      last = *next;
    }
  } catch (const std::exception& e) {
    stopRequested = true;
    emit q->errorOccurred(QStringLiteral("training failed: %1").arg(QString::fromUtf8(e.what())));
  }

  if (--alive == 0) {
    running = false;
    emit q->progressed(stepsDone.load(), stepsTotal);
    {
      std::lock_guard lock(mutex);
      wake.notify_all();
    }
    emit q->finished(!stopRequested);
  }
}

Experiment::Experiment(ExperimentSpec spec, QObject* parent)
  : QObject(parent)
  , d(std::make_unique<Impl>(std::move(spec)))
{
  qRegisterMetaType<gfm::core::SnapshotPtr>();
  qRegisterMetaType<std::shared_ptr<const gfm::core::PartCheckpoint>>();
  d->q = this;
  d->runs = planRuns(d->spec, d->grid);
  if (d->spec.eval.exact) {
    d->target = d->grid.target();
  }
  d->threads = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
}

Experiment::~Experiment()
{
  requestStop();
  for (std::thread& worker : d->workers) {
    if (worker.joinable()) {
      worker.join();
    }
  }
}

const ExperimentSpec& Experiment::spec() const
{
  return d->spec;
}
const Hypergrid& Experiment::grid() const
{
  return d->grid;
}
const std::vector<RunPlan>& Experiment::runs() const
{
  return d->runs;
}
const std::vector<double>& Experiment::target() const
{
  return d->target;
}
void Experiment::setThreads(int threads)
{
  d->threads = std::max(1, threads);
}
void Experiment::setExecution(Execution execution, const QString& device)
{
  d->execution = execution;
  d->device = device;
}
Execution Experiment::execution() const
{
  return d->execution;
}
int Experiment::threads() const
{
  return d->threads;
}
void Experiment::setPartFilter(std::function<bool(int, int)> filter)
{
  d->filter = std::move(filter);
}
bool Experiment::isRunning() const
{
  return d->running;
}
bool Experiment::isPaused() const
{
  return d->paused;
}
std::int64_t Experiment::stepsDone() const
{
  return d->stepsDone;
}
std::int64_t Experiment::stepsTotal() const
{
  return d->stepsTotal;
}

bool Experiment::restorePart(int run, int part, const PartCheckpoint& checkpoint)
{
  if (d->running || run < 0 || run >= static_cast<int>(d->runs.size()) || part < 0 ||
      part >= d->runs[static_cast<std::size_t>(run)].parts) {
    return false;
  }
  std::lock_guard lock(d->mutex);
  d->checkpoints[{ run, part }] = checkpoint;
  return true;
}

std::vector<std::pair<std::pair<int, int>, PartCheckpoint>> Experiment::latestCheckpoints() const
{
  std::lock_guard lock(d->mutex);
  return { d->checkpoints.begin(), d->checkpoints.end() };
}

void Experiment::start()
{
  if (d->running || !d->workers.empty()) {
    return;
  }
  d->started = Clock::now();
  d->units.clear();
  d->stepsTotal = 0;
  for (int r = 0; r < static_cast<int>(d->runs.size()); ++r) {
    const RunPlan& plan = d->runs[static_cast<std::size_t>(r)];
    Impl::Unit* stacked = nullptr;
    for (int p = 0; p < plan.parts; ++p) {
      if (d->filter && !d->filter(r, p)) {
        continue;
      }
      // Workers: one unit per part. Stacked: one unit per run holding all its parts.
      Impl::Unit* unit = stacked;
      if (!unit) {
        d->units.emplace_back();
        unit = &d->units.back();
        unit->run = r;
        if (d->execution == Execution::Stacked) {
          stacked = unit;
        }
      }
      unit->parts.push_back(p);
      auto it = d->checkpoints.find({ r, p });
      unit->resumeFrom.push_back(
        it != d->checkpoints.end() ? std::optional<PartCheckpoint>(it->second) : std::nullopt);
      d->stepsTotal += plan.training.steps;
    }
  }

  std::vector<std::int64_t> targets;
  for (const Impl::Unit& unit : d->units) {
    targets.push_back(d->runs[static_cast<std::size_t>(unit.run)].training.steps);
  }
  d->queue = std::make_unique<WorkQueue>(std::move(targets));
  const int workers = std::min<int>(d->threads, std::max<int>(1, d->units.size()));
  std::size_t parts = 0;
  for (const Impl::Unit& unit : d->units) {
    parts += unit.parts.size();
  }
  qCInfo(lcCore).noquote() << "starting" << d->runs.size() << "runs," << parts
                           << (d->execution == Execution::Stacked ? "parts stacked per run"
                                                                  : "parts")
                           << "on" << workers << "worker threads";
  d->running = true;
  d->alive = workers;
  for (int w = 0; w < workers; ++w) {
    d->workers.emplace_back([this] { d->work(); });
  }
}

void Experiment::pause()
{
  d->paused = true;
}

void Experiment::resume()
{
  std::lock_guard lock(d->mutex);
  d->paused = false;
  d->wake.notify_all();
}

void Experiment::requestStop()
{
  std::lock_guard lock(d->mutex);
  d->stopRequested = true;
  d->wake.notify_all();
}

bool Experiment::wait(int msecs)
{
  {
    std::unique_lock lock(d->mutex);
    auto done = [this] { return d->alive == 0; };
    if (msecs < 0) {
      d->wake.wait(lock, done);
    } else if (!d->wake.wait_for(lock, std::chrono::milliseconds(msecs), done)) {
      return false;
    }
  }
  for (std::thread& worker : d->workers) {
    if (worker.joinable()) {
      worker.join();
    }
  }
  return true;
}

SnapshotPtr Experiment::assemble(int run,
                                 std::int64_t step,
                                 double wallSeconds,
                                 const std::vector<PartReport>& input) const
{
  const RunPlan& plan = d->runs[static_cast<std::size_t>(run)];
  std::vector<PartReport> reports = input;
  std::sort(reports.begin(), reports.end(), [](const PartReport& a, const PartReport& b) {
    return a.part < b.part;
  });
  const std::size_t k = reports.size();

  auto s = std::make_shared<Snapshot>();
  s->run = run;
  s->runName = plan.name;
  s->group = plan.group;
  s->seed = plan.seed;
  s->step = step;
  s->totalSteps = plan.training.steps;
  s->wallSeconds = wallSeconds;
  s->modeCount = d->grid.modeCount();

  std::vector<double> logZs;
  double totalReward = 0.0;
  for (double r : plan.partReward) {
    totalReward += r;
  }
  std::uint32_t corners = 0;
  for (const PartReport& r : reports) {
    logZs.push_back(r.logZ);
    corners |= r.modesFound;
    s->loss += r.loss / static_cast<double>(k);
    s->stepsPerSecond += r.stepsPerSecond / static_cast<double>(k);
  }
  s->logZ = logSumExp(logZs);
  s->logZTrue = std::log(totalReward);
  s->modesFound = countModes(corners);

  for (const PartReport& r : reports) {
    PartSnapshot part;
    part.logZ = r.logZ;
    const double reward = plan.partReward[static_cast<std::size_t>(r.part)];
    part.logZTrue = reward > 0.0 ? std::log(reward) : -INFINITY; // an empty part
    part.massTrue = reward / totalReward;
    part.weight = plan.weights == MixtureWeights::Uniform ? 1.0 / static_cast<double>(k)
                                                          : std::exp(r.logZ - s->logZ);
    part.loss = r.loss;
    part.modesFound = countModes(r.modesFound);
    s->parts.push_back(part);
  }

  if (!d->spec.eval.exact || reports.front().density.empty()) {
    return s;
  }

  // Mixture density p = Σ w_i p_i; per part: L1 against π restricted to X_i and renormalised,
  // and the mass p_i leaks outside X_i.
  const std::size_t n = d->target.size();
  const std::vector<std::int32_t>& partOf = *plan.partOf;
  std::vector<double> mixture(n, 0.0);
  std::vector<double> visited(n, 0.0);
  s->partDensities.resize(k);
  for (std::size_t i = 0; i < k; ++i) {
    const PartReport& r = reports[i];
    PartSnapshot& part = s->parts[i];
    const double massTrue = part.massTrue;
    part.l1 = 0.0;
    part.leak = 0.0;
    s->partDensities[i].resize(n);
    for (std::size_t x = 0; x < n; ++x) {
      const double p = r.density[x];
      mixture[x] += part.weight * p;
      s->partDensities[i][x] = static_cast<float>(p);
      const bool inside = k == 1 || partOf[x] == r.part;
      part.l1 += std::abs(p - (inside && massTrue > 0.0 ? d->target[x] / massTrue : 0.0));
      part.leak += inside ? 0.0 : p;
    }
    const std::vector<double> empirical =
      empiricalDistribution(r.visited, static_cast<std::int64_t>(n));
    for (std::size_t x = 0; x < n; ++x) {
      visited[x] += part.weight * empirical[x];
    }
  }

  const Distances exact = distances(mixture, d->target);
  s->l1 = exact.l1;
  s->tv = exact.tv;
  s->l1MeanAbs = exact.l1MeanAbs;
  s->l1Visited = distances(visited, d->target).l1MeanAbs;
  s->modeMass = modeMass(d->grid, mixture);
  s->density.assign(mixture.begin(), mixture.end());
  return s;
}

} // namespace gfm::core
