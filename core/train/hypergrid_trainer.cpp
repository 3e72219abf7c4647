#include "core/train/hypergrid_trainer.h"

#include "core/train/action_sampling.h"

#include "core/policy/mlp.h"
#include "core/util/random.h"
#include "core/util/torch_include.h"

#include <torch/version.h>

#include <dlfcn.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <unordered_set>

namespace gfm::core {

namespace {

// States per batched forward when tabulating P_F over the whole grid.
constexpr int kTableChunk = 4096;

} // namespace

struct HypergridTrainer::Impl
{
  Hypergrid grid;
  PolicySpec policy;
  TrainingSpec training;
  PartMembership membership;
  int dim;
  int height;
  int actions; // D + 1

  std::unique_ptr<Mlp> forwardNet; // P_F, and P_B as a second head when the trunk is shared
  std::unique_ptr<Mlp> backwardNet;
  int backwardColumn = 0; // first P_B logit in its network's output
  std::unique_ptr<FlatAdam> forwardAdam;
  std::unique_ptr<FlatAdam> backwardAdam;
  double logZ = 0.0;
  FlatAdam logZAdam;

  Rng rng;
  std::int64_t step = 0;

  std::vector<std::int64_t> buffer;
  std::unordered_set<std::int64_t> buffered;

  std::vector<std::int64_t> visited;
  std::size_t visitedNext = 0;
  std::uint32_t modesFound = 0;

  // Transitions of the current batch: the state's input positions (D per row), the action, the
  // trajectory. Reused across steps to avoid allocation.
  std::vector<std::int32_t> rowPositions;
  std::vector<std::int32_t> rowAction;
  std::vector<std::int32_t> rowTrajectory;
  std::vector<std::int64_t> terminals;
  std::vector<float> rowLogits; // P_F logits of the kept training pass, row by row
  std::vector<float> logits;
  std::vector<float> backwardLogits;
  std::vector<float> dLogits;
  std::vector<float> dBackwardLogits;

  Impl(const Hypergrid& g, const PolicySpec& p, const TrainingSpec& t, PartMembership m)
    : grid(g)
    , policy(p)
    , training(t)
    , membership(std::move(m))
    , dim(g.dim())
    , height(g.height())
    , actions(g.forwardActionCount())
    , logZAdam(1, t.lrLogZ)
    , rng(t.seed)
  {}

  bool learnedBackward() const { return policy.backward == BackwardPolicy::Learned; }
  Mlp& backwardHead() { return backwardNet ? *backwardNet : *forwardNet; }

  void positionsOf(const std::int32_t* coords, std::int32_t* positions) const
  {
    for (int d = 0; d < dim; ++d) {
      positions[d] = d * height + coords[d];
    }
  }

  void coordsOfPositions(const std::int32_t* positions, std::int32_t* coords) const
  {
    for (int d = 0; d < dim; ++d) {
      coords[d] = positions[d] - d * height;
    }
  }

  void forwardMask(const std::int32_t* coords, bool* allowed) const
  {
    for (int d = 0; d < dim; ++d) {
      allowed[d] = coords[d] < height - 1;
    }
    allowed[dim] = true;
  }

  void backwardMask(const std::int32_t* coords, bool* allowed) const
  {
    for (int d = 0; d < dim; ++d) {
      allowed[d] = coords[d] > 0;
    }
  }

  double logReward(std::int64_t state) const
  {
    if (!membership.contains(state)) {
      return training.logRewardFloor;
    }
    std::vector<std::int32_t> coords(static_cast<std::size_t>(dim));
    grid.coordsOf(state, coords.data());
    const double r = grid.reward(coords.data());
    return r > 0.0 ? std::max(std::log(r), training.logRewardFloor) : training.logRewardFloor;
  }

  /**
   * Rolls out `count` trajectories with the forward policy (ε-mixed) from the origin. Appends
   * each visited (state, action) to the row arrays when `record`, trajectory ids starting at
   * `firstId`, and the terminal states to `out`.
   */
  void rollOut(int count,
               Rng& source,
               double epsilon,
               bool record,
               int firstId,
               std::vector<std::int64_t>& out)
  {
    const int width = forwardNet->outputs();
    std::vector<std::int32_t> coords(static_cast<std::size_t>(count * dim), 0);
    std::vector<int> active(static_cast<std::size_t>(count));
    for (int i = 0; i < count; ++i) {
      active[static_cast<std::size_t>(i)] = i;
    }
    const std::size_t outBase = out.size();
    out.resize(outBase + static_cast<std::size_t>(count));

    std::vector<std::int32_t> positions;
    std::vector<double> probs(static_cast<std::size_t>(actions));
    std::vector<char> allowedStorage(static_cast<std::size_t>(actions));
    bool* allowed = reinterpret_cast<bool*>(allowedStorage.data());
    while (!active.empty()) {
      const int n = static_cast<int>(active.size());
      positions.resize(static_cast<std::size_t>(n * dim));
      for (int k = 0; k < n; ++k) {
        positionsOf(&coords[static_cast<std::size_t>(active[static_cast<std::size_t>(k)] * dim)],
                    &positions[static_cast<std::size_t>(k * dim)]);
      }
      // A recorded roll-out's forward passes are kept as the training pass: same parameters,
      // same rows in the same order, so the P_F forward is not computed twice.
      const float* stepLogits = nullptr;
      if (record) {
        const std::size_t first = rowLogits.size();
        rowLogits.resize(first + static_cast<std::size_t>(n * width));
        forwardNet->forwardAppend(positions.data(), dim, n, rowLogits.data() + first);
        stepLogits = rowLogits.data() + first;
      } else {
        logits.resize(static_cast<std::size_t>(n * width));
        forwardNet->forward(positions.data(), dim, n, logits.data(), false);
        stepLogits = logits.data();
      }

      std::size_t kept = 0;
      for (int k = 0; k < n; ++k) {
        const int t = active[static_cast<std::size_t>(k)];
        std::int32_t* x = &coords[static_cast<std::size_t>(t * dim)];
        forwardMask(x, allowed);
        maskedSoftmax(
          stepLogits + static_cast<std::ptrdiff_t>(k) * width, allowed, actions, probs.data());
        if (epsilon > 0.0) {
          int allowedCount = 0;
          for (int j = 0; j < actions; ++j) {
            allowedCount += allowed[j] ? 1 : 0;
          }
          for (int j = 0; j < actions; ++j) {
            probs[static_cast<std::size_t>(j)] =
              (1.0 - epsilon) * probs[static_cast<std::size_t>(j)] +
              (allowed[j] ? epsilon / allowedCount : 0.0);
          }
        }
        const int action = sampleIndex(probs.data(), actions, source.uniform());
        if (record) {
          rowPositions.insert(rowPositions.end(),
                              &positions[static_cast<std::size_t>(k * dim)],
                              &positions[static_cast<std::size_t>((k + 1) * dim)]);
          rowAction.push_back(action);
          rowTrajectory.push_back(firstId + t);
        }
        if (action == dim) {
          out[outBase + static_cast<std::size_t>(t)] = grid.indexOf(x);
        } else {
          ++x[action];
          active[kept++] = t;
        }
      }
      active.resize(kept);
    }
  }

  /**
   * Samples `count` trajectories backward with P_B from buffer states and appends their
   * transitions in forward order (stop last), trajectory ids starting at `firstId`.
   */
  void sampleBackward(int count, int firstId)
  {
    const int bWidth = backwardHead().outputs();
    std::vector<std::int32_t> coords(static_cast<std::size_t>(count * dim));
    std::vector<std::vector<std::pair<std::vector<std::int32_t>, int>>> steps(
      static_cast<std::size_t>(count));
    std::vector<int> active;
    for (int i = 0; i < count; ++i) {
      const std::int64_t x = buffer[static_cast<std::size_t>(rng.below(buffer.size()))];
      grid.coordsOf(x, &coords[static_cast<std::size_t>(i * dim)]);
      terminals.push_back(x);
      active.push_back(i);
    }

    std::vector<std::int32_t> positions;
    std::vector<double> probs(static_cast<std::size_t>(dim));
    std::vector<char> allowedStorage(static_cast<std::size_t>(dim));
    bool* allowed = reinterpret_cast<bool*>(allowedStorage.data());
    while (true) {
      std::size_t kept = 0;
      for (int t : active) {
        const std::int32_t* x = &coords[static_cast<std::size_t>(t * dim)];
        if (std::any_of(x, x + dim, [](std::int32_t v) { return v > 0; })) {
          active[kept++] = t;
        }
      }
      active.resize(kept);
      if (active.empty()) {
        break;
      }

      const int n = static_cast<int>(active.size());
      if (learnedBackward()) {
        positions.resize(static_cast<std::size_t>(n * dim));
        for (int k = 0; k < n; ++k) {
          positionsOf(&coords[static_cast<std::size_t>(active[static_cast<std::size_t>(k)] * dim)],
                      &positions[static_cast<std::size_t>(k * dim)]);
        }
        backwardLogits.resize(static_cast<std::size_t>(n * bWidth));
        backwardHead().forward(positions.data(), dim, n, backwardLogits.data(), false);
      }
      for (int k = 0; k < n; ++k) {
        const int t = active[static_cast<std::size_t>(k)];
        std::int32_t* x = &coords[static_cast<std::size_t>(t * dim)];
        backwardMask(x, allowed);
        if (learnedBackward()) {
          maskedSoftmax(&backwardLogits[static_cast<std::size_t>(k * bWidth + backwardColumn)],
                        allowed,
                        dim,
                        probs.data());
        } else {
          const auto parents = static_cast<double>(std::count(allowed, allowed + dim, true));
          for (int j = 0; j < dim; ++j) {
            probs[static_cast<std::size_t>(j)] = allowed[j] ? 1.0 / parents : 0.0;
          }
        }
        const int action = sampleIndex(probs.data(), dim, rng.uniform());
        --x[action];
        steps[static_cast<std::size_t>(t)].emplace_back(std::vector<std::int32_t>(x, x + dim),
                                                        action);
      }
    }

    const std::size_t firstRow = rowAction.size();
    std::vector<std::int32_t> positionsOfRow(static_cast<std::size_t>(dim));
    for (int t = 0; t < count; ++t) {
      auto& path = steps[static_cast<std::size_t>(t)];
      for (auto it = path.rbegin(); it != path.rend(); ++it) {
        positionsOf(it->first.data(), positionsOfRow.data());
        rowPositions.insert(rowPositions.end(), positionsOfRow.begin(), positionsOfRow.end());
        rowAction.push_back(it->second);
        rowTrajectory.push_back(firstId + t);
      }
      std::vector<std::int32_t> x(static_cast<std::size_t>(dim));
      grid.coordsOf(terminals[static_cast<std::size_t>(firstId + t)], x.data());
      positionsOf(x.data(), positionsOfRow.data());
      rowPositions.insert(rowPositions.end(), positionsOfRow.begin(), positionsOfRow.end());
      rowAction.push_back(dim);
      rowTrajectory.push_back(firstId + t);
    }

    // The P_F pass over the new rows joins the kept training pass.
    const int newRows = static_cast<int>(rowAction.size() - firstRow);
    const int width = forwardNet->outputs();
    const std::size_t firstLogit = rowLogits.size();
    rowLogits.resize(firstLogit + static_cast<std::size_t>(newRows * width));
    forwardNet->forwardAppend(&rowPositions[firstRow * static_cast<std::size_t>(dim)],
                              dim,
                              newRows,
                              rowLogits.data() + firstLogit);
  }

  void remember(std::int64_t terminal)
  {
    if (training.visitedWindow > 0) {
      if (visited.size() < static_cast<std::size_t>(training.visitedWindow)) {
        visited.push_back(terminal);
      } else {
        visited[visitedNext] = terminal;
        visitedNext = (visitedNext + 1) % visited.size();
      }
    }
    std::vector<std::int32_t> coords(static_cast<std::size_t>(dim));
    grid.coordsOf(terminal, coords.data());
    const int corner = grid.modeCorner(coords.data());
    if (corner >= 0) {
      modesFound |= 1u << corner;
    }
    if (training.bufferGrow && !buffer.empty() && membership.contains(terminal) &&
        grid.reward(coords.data()) > 0.0 && buffered.insert(terminal).second) {
      buffer.push_back(terminal);
    }
  }

  void seedBuffer()
  {
    std::vector<std::int64_t> cells;
    std::vector<std::int32_t> coords(static_cast<std::size_t>(dim));
    for (std::int64_t x = 0; x < grid.stateCount(); ++x) {
      grid.coordsOf(x, coords.data());
      if (membership.contains(x) && grid.reward(coords.data()) > 0.0) {
        cells.push_back(x);
      }
    }
    if (cells.empty()) {
      return;
    }
    for (int i = 0; i < training.bufferSize; ++i) {
      const std::int64_t x = cells[static_cast<std::size_t>(rng.below(cells.size()))];
      if (buffered.insert(x).second) {
        buffer.push_back(x);
      }
    }
  }

  StepTrace* trace = nullptr;

  void recordTrace(double loss, double dLogZ)
  {
    trace->positions = rowPositions;
    trace->actions = rowAction;
    trace->trajectories = rowTrajectory;
    trace->terminals = terminals;
    trace->gradients.assign(forwardNet->gradients(),
                            forwardNet->gradients() + forwardNet->parameterCount());
    if (backwardNet) {
      trace->gradients.insert(trace->gradients.end(),
                              backwardNet->gradients(),
                              backwardNet->gradients() + backwardNet->parameterCount());
    }
    trace->logZGradient = dLogZ;
    trace->loss = loss;
  }

  StepStats trainStep();
};

StepStats HypergridTrainer::Impl::trainStep()
{
  const int batch = training.batch;
  const int offPolicy =
    buffer.empty() ? 0 : static_cast<int>(std::ceil(batch * training.offPolicyRatio - 1e-9));
  const int onPolicy = batch - offPolicy;

  rowPositions.clear();
  rowAction.clear();
  rowTrajectory.clear();
  terminals.clear();
  rowLogits.clear();
  forwardNet->clearKept();
  rollOut(onPolicy, rng, training.epsilon, true, 0, terminals);
  const auto onPolicyRows = static_cast<std::int64_t>(rowAction.size());
  if (offPolicy > 0) {
    sampleBackward(offPolicy, onPolicy);
  }
  for (int t = 0; t < onPolicy; ++t) {
    remember(terminals[static_cast<std::size_t>(t)]);
  }

  // Rows for P_B: every non-stop transition s -> s' is scored at s' with backward action a.
  const int rows = static_cast<int>(rowAction.size());
  std::vector<std::int32_t> backwardPositions;
  std::vector<int> backwardRowOf; // forward row index of each P_B row
  for (int r = 0; r < rows; ++r) {
    const int a = rowAction[static_cast<std::size_t>(r)];
    if (a != dim) {
      const std::int32_t* p = &rowPositions[static_cast<std::size_t>(r * dim)];
      backwardPositions.insert(backwardPositions.end(), p, p + dim);
      backwardPositions[backwardPositions.size() - static_cast<std::size_t>(dim - a)] += 1;
      backwardRowOf.push_back(r);
    }
  }
  const int backwardRows = static_cast<int>(backwardRowOf.size());

  // The P_F pass is the roll-out's, kept; P_B gets one batched pass over every row. With a
  // shared trunk the P_B rows join the kept pass and read the second head's columns.
  const int width = forwardNet->outputs();
  const bool shared = learnedBackward() && !backwardNet;
  const float* fLogits = nullptr;
  const float* bLogits = nullptr;
  int bWidth = 0;
  if (shared) {
    rowLogits.resize(static_cast<std::size_t>((rows + backwardRows) * width));
    forwardNet->forwardAppend(backwardPositions.data(),
                              dim,
                              backwardRows,
                              rowLogits.data() + static_cast<std::ptrdiff_t>(rows) * width);
    fLogits = rowLogits.data();
    bLogits = rowLogits.data() + static_cast<std::ptrdiff_t>(rows) * width;
    bWidth = width;
  } else {
    fLogits = rowLogits.data();
    if (backwardNet) {
      bWidth = backwardNet->outputs();
      backwardLogits.resize(static_cast<std::size_t>(backwardRows * bWidth));
      backwardNet->forward(
        backwardPositions.data(), dim, backwardRows, backwardLogits.data(), true);
      bLogits = backwardLogits.data();
    }
  }

  // Pass 1: log-probabilities of the taken actions, summed per trajectory; the softmax of each
  // row is kept in the gradient buffer for pass 2.
  std::vector<double> sumLogPF(static_cast<std::size_t>(batch), 0.0);
  std::vector<double> sumLogPB(static_cast<std::size_t>(batch), 0.0);
  const std::size_t fGradSize = static_cast<std::size_t>(rows) * width;
  const std::size_t gradSize =
    shared ? static_cast<std::size_t>(rows + backwardRows) * width : fGradSize;
  dLogits.assign(gradSize, 0.0f);
  dBackwardLogits.assign(shared ? 0 : static_cast<std::size_t>(backwardRows) * bWidth, 0.0f);
  float* fGrad = dLogits.data();
  float* bGrad = shared ? dLogits.data() + fGradSize : dBackwardLogits.data();

  std::vector<double> probs(static_cast<std::size_t>(actions));
  std::vector<char> allowedStorage(static_cast<std::size_t>(actions));
  bool* allowed = reinterpret_cast<bool*>(allowedStorage.data());
  std::vector<std::int32_t> coords(static_cast<std::size_t>(dim));
  for (int r = 0; r < rows; ++r) {
    coordsOfPositions(&rowPositions[static_cast<std::size_t>(r * dim)], coords.data());
    forwardMask(coords.data(), allowed);
    const float* z = fLogits + static_cast<std::ptrdiff_t>(r) * width;
    const double lse = maskedSoftmax(z, allowed, actions, probs.data());
    const int a = rowAction[static_cast<std::size_t>(r)];
    sumLogPF[static_cast<std::size_t>(rowTrajectory[static_cast<std::size_t>(r)])] +=
      static_cast<double>(z[a]) - lse;
    for (int j = 0; j < actions; ++j) {
      fGrad[static_cast<std::ptrdiff_t>(r) * width + j] =
        static_cast<float>(probs[static_cast<std::size_t>(j)]);
    }
  }
  for (int k = 0; k < backwardRows; ++k) {
    const int r = backwardRowOf[static_cast<std::size_t>(k)];
    coordsOfPositions(&backwardPositions[static_cast<std::size_t>(k * dim)], coords.data());
    backwardMask(coords.data(), allowed);
    const int a = rowAction[static_cast<std::size_t>(r)];
    const int t = rowTrajectory[static_cast<std::size_t>(r)];
    if (bLogits) {
      const float* z = bLogits + static_cast<std::ptrdiff_t>(k) * bWidth + backwardColumn;
      const double lse = maskedSoftmax(z, allowed, dim, probs.data());
      sumLogPB[static_cast<std::size_t>(t)] += static_cast<double>(z[a]) - lse;
      for (int j = 0; j < dim; ++j) {
        bGrad[static_cast<std::ptrdiff_t>(k) * bWidth + backwardColumn + j] =
          static_cast<float>(probs[static_cast<std::size_t>(j)]);
      }
    } else {
      const auto parents = static_cast<double>(std::count(allowed, allowed + dim, true));
      sumLogPB[static_cast<std::size_t>(t)] -= std::log(parents);
    }
  }

  // TB residuals δ_t = log Z + Σ log P_F − log R − Σ log P_B; loss = mean δ².
  std::vector<double> scale(static_cast<std::size_t>(batch));
  double loss = 0.0;
  double dLogZ = 0.0;
  for (int t = 0; t < batch; ++t) {
    const auto ti = static_cast<std::size_t>(t);
    const double delta = logZ + sumLogPF[ti] - logReward(terminals[ti]) - sumLogPB[ti];
    loss += delta * delta / batch;
    scale[ti] = 2.0 * delta / batch;
    dLogZ += scale[ti];
  }

  // Pass 2: dL/dz_j = scale_t · (1[j = a] − p_j) for P_F; the opposite sign for P_B, which
  // enters δ with a minus.
  for (int r = 0; r < rows; ++r) {
    const auto s = static_cast<float>(
      scale[static_cast<std::size_t>(rowTrajectory[static_cast<std::size_t>(r)])]);
    float* g = fGrad + static_cast<std::ptrdiff_t>(r) * width;
    for (int j = 0; j < actions; ++j) {
      g[j] *= -s;
    }
    g[rowAction[static_cast<std::size_t>(r)]] += s;
  }
  if (bLogits) {
    for (int k = 0; k < backwardRows; ++k) {
      const int r = backwardRowOf[static_cast<std::size_t>(k)];
      const auto s = static_cast<float>(
        scale[static_cast<std::size_t>(rowTrajectory[static_cast<std::size_t>(r)])]);
      float* g = bGrad + static_cast<std::ptrdiff_t>(k) * bWidth + backwardColumn;
      for (int j = 0; j < dim; ++j) {
        g[j] *= s;
      }
      g[rowAction[static_cast<std::size_t>(r)]] -= s;
    }
  }

  forwardNet->backward(dLogits.data());
  if (backwardNet) {
    backwardNet->backward(dBackwardLogits.data());
  }
  if (trace) {
    recordTrace(loss, dLogZ);
  }
  clipGradientNorm(forwardNet->gradients(), forwardNet->parameterCount(), training.clipGradNorm);
  forwardAdam->step(forwardNet->parameters(), forwardNet->gradients());
  if (backwardNet) {
    clipGradientNorm(
      backwardNet->gradients(), backwardNet->parameterCount(), training.clipGradNorm);
    backwardAdam->step(backwardNet->parameters(), backwardNet->gradients());
  }
  float z = static_cast<float>(logZ);
  const float gz = static_cast<float>(dLogZ);
  logZAdam.step(&z, &gz);
  logZ = z;
  ++step;

  StepStats stats;
  stats.loss = loss;
  stats.logZ = logZ;
  stats.transitions = rows;
  stats.trajectories = batch;
  stats.meanLength = onPolicy > 0 ? static_cast<double>(onPolicyRows) / onPolicy : 0.0;
  return stats;
}

HypergridTrainer::HypergridTrainer(const Hypergrid& grid,
                                   const PolicySpec& policy,
                                   const TrainingSpec& training,
                                   PartMembership membership)
  : d(std::make_unique<Impl>(grid, policy, training, std::move(membership)))
{
  const int inputWidth = grid.dim() * grid.height();
  const int actions = grid.forwardActionCount();
  const bool learned = policy.backward == BackwardPolicy::Learned;
  const int forwardOutputs = learned && policy.sharedTrunk ? actions + grid.dim() : actions;
  d->forwardNet = std::make_unique<Mlp>(inputWidth, policy.hidden, policy.layers, forwardOutputs);
  d->forwardNet->initialise(d->rng);
  d->forwardAdam = std::make_unique<FlatAdam>(d->forwardNet->parameterCount(), training.lr);
  if (learned && policy.sharedTrunk) {
    d->backwardColumn = actions;
  } else if (learned) {
    d->backwardNet = std::make_unique<Mlp>(inputWidth, policy.hidden, policy.layers, grid.dim());
    d->backwardNet->initialise(d->rng);
    d->backwardAdam = std::make_unique<FlatAdam>(d->backwardNet->parameterCount(), training.lr);
  }
  if (training.offPolicyRatio > 0.0) {
    d->seedBuffer();
  }
}

HypergridTrainer::~HypergridTrainer() = default;

StepStats HypergridTrainer::step()
{
  return d->trainStep();
}
std::int64_t HypergridTrainer::stepCount() const
{
  return d->step;
}
double HypergridTrainer::logZ() const
{
  return d->logZ;
}
const TrainingSpec& HypergridTrainer::training() const
{
  return d->training;
}
const PartMembership& HypergridTrainer::membership() const
{
  return d->membership;
}
double HypergridTrainer::logReward(std::int64_t state) const
{
  return d->logReward(state);
}
std::uint32_t HypergridTrainer::modesFound() const
{
  return d->modesFound;
}
std::int64_t HypergridTrainer::bufferSize() const
{
  return static_cast<std::int64_t>(d->buffer.size());
}

std::vector<float> HypergridTrainer::forwardProbabilities()
{
  const std::int64_t states = d->grid.stateCount();
  const int dim = d->dim;
  const int actions = d->actions;
  const int width = d->forwardNet->outputs();
  std::vector<float> table(static_cast<std::size_t>(states * actions));
  std::vector<std::int32_t> positions;
  std::vector<std::int32_t> coords(static_cast<std::size_t>(dim));
  std::vector<float> logits;
  std::vector<double> probs(static_cast<std::size_t>(actions));
  std::vector<char> allowedStorage(static_cast<std::size_t>(actions));
  bool* allowed = reinterpret_cast<bool*>(allowedStorage.data());

  for (std::int64_t first = 0; first < states; first += kTableChunk) {
    const int n = static_cast<int>(std::min<std::int64_t>(kTableChunk, states - first));
    positions.resize(static_cast<std::size_t>(n * dim));
    for (int k = 0; k < n; ++k) {
      d->grid.coordsOf(first + k, coords.data());
      d->positionsOf(coords.data(), &positions[static_cast<std::size_t>(k * dim)]);
    }
    logits.resize(static_cast<std::size_t>(n * width));
    d->forwardNet->forward(positions.data(), dim, n, logits.data(), false);
    for (int k = 0; k < n; ++k) {
      d->grid.coordsOf(first + k, coords.data());
      d->forwardMask(coords.data(), allowed);
      maskedSoftmax(&logits[static_cast<std::size_t>(k * width)], allowed, actions, probs.data());
      float* row = &table[static_cast<std::size_t>((first + k) * actions)];
      for (int j = 0; j < actions; ++j) {
        row[j] = static_cast<float>(probs[static_cast<std::size_t>(j)]);
      }
    }
  }
  return table;
}

std::vector<std::int64_t> HypergridTrainer::sample(int count, std::uint64_t seed)
{
  Rng source(seed);
  std::vector<std::int64_t> out;
  d->rollOut(count, source, 0.0, false, 0, out);
  return out;
}

std::vector<std::int64_t> HypergridTrainer::visitedTerminals() const
{
  std::vector<std::int64_t> ordered(
    d->visited.begin() + static_cast<std::ptrdiff_t>(d->visitedNext), d->visited.end());
  ordered.insert(ordered.end(),
                 d->visited.begin(),
                 d->visited.begin() + static_cast<std::ptrdiff_t>(d->visitedNext));
  return ordered;
}

PartCheckpoint HypergridTrainer::checkpoint() const
{
  PartCheckpoint c;
  c.step = d->step;
  auto append = [](std::vector<float>& to, const float* from, std::int64_t n) {
    to.insert(to.end(), from, from + n);
  };
  append(c.parameters, d->forwardNet->parameters(), d->forwardNet->parameterCount());
  append(c.adamFirst, d->forwardAdam->firstMoment().data(), d->forwardNet->parameterCount());
  append(c.adamSecond, d->forwardAdam->secondMoment().data(), d->forwardNet->parameterCount());
  if (d->backwardNet) {
    append(c.parameters, d->backwardNet->parameters(), d->backwardNet->parameterCount());
    append(c.adamFirst, d->backwardAdam->firstMoment().data(), d->backwardNet->parameterCount());
    append(c.adamSecond, d->backwardAdam->secondMoment().data(), d->backwardNet->parameterCount());
  }
  c.logZ = d->logZ;
  c.logZFirst = d->logZAdam.firstMoment()[0];
  c.logZSecond = d->logZAdam.secondMoment()[0];
  c.rng = d->rng.state();
  c.buffer = d->buffer;
  c.modesFound = d->modesFound;
  c.visited = visitedTerminals();
  return c;
}

bool HypergridTrainer::restore(const PartCheckpoint& c)
{
  const std::int64_t nf = d->forwardNet->parameterCount();
  const std::int64_t nb = d->backwardNet ? d->backwardNet->parameterCount() : 0;
  const auto expected = static_cast<std::size_t>(nf + nb);
  // Adam moments are optional, but when present both must match the parameters.
  const bool withMoments = !c.adamFirst.empty() || !c.adamSecond.empty();
  if (c.parameters.size() != expected ||
      (withMoments && (c.adamFirst.size() != expected || c.adamSecond.size() != expected))) {
    return false;
  }
  std::copy_n(c.parameters.begin(), nf, d->forwardNet->parameters());
  if (d->backwardNet) {
    std::copy_n(c.parameters.begin() + nf, nb, d->backwardNet->parameters());
  }
  if (!c.adamFirst.empty()) {
    std::copy_n(c.adamFirst.begin(), nf, d->forwardAdam->firstMoment().begin());
    std::copy_n(c.adamSecond.begin(), nf, d->forwardAdam->secondMoment().begin());
    d->forwardAdam->setStepCount(c.step);
    if (d->backwardNet) {
      std::copy_n(c.adamFirst.begin() + nf, nb, d->backwardAdam->firstMoment().begin());
      std::copy_n(c.adamSecond.begin() + nf, nb, d->backwardAdam->secondMoment().begin());
      d->backwardAdam->setStepCount(c.step);
    }
  }
  d->logZ = c.logZ;
  d->logZAdam.firstMoment()[0] = static_cast<float>(c.logZFirst);
  d->logZAdam.secondMoment()[0] = static_cast<float>(c.logZSecond);
  d->logZAdam.setStepCount(c.step);
  d->step = c.step;
  if (!c.rng.empty() && !d->rng.restore(c.rng)) {
    return false;
  }
  d->buffer = c.buffer;
  d->buffered = std::unordered_set<std::int64_t>(c.buffer.begin(), c.buffer.end());
  d->modesFound = c.modesFound;
  d->visitedNext = restoreVisitedWindow(c.visited, d->training.visitedWindow, d->visited);
  return true;
}

void HypergridTrainer::setTrace(StepTrace* trace)
{
  d->trace = trace;
}

std::size_t restoreVisitedWindow(const std::vector<std::int64_t>& saved,
                                 int window,
                                 std::vector<std::int64_t>& ring)
{
  const std::size_t keep = std::min(saved.size(), static_cast<std::size_t>(std::max(window, 0)));
  ring.assign(saved.end() - static_cast<std::ptrdiff_t>(keep), saved.end());
  return 0; // oldest first: a full ring overwrites index 0 next, a short one appends
}

void configureNumericsForWorkers()
{
  // Flush-to-zero lives in each thread's MXCSR, so every worker calls this on its own thread:
  // without it Adam's moments go denormal after a few hundred steps and updates slow ~8x.
  at::globalContext().setFlushDenormal(true);
  at::set_num_threads(1);
  // OpenBLAS reads OPENBLAS_NUM_THREADS when it loads, before main(); ask it directly.
  using SetThreads = void (*)(int);
  if (auto* set = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) {
    set(1);
  }
}

bool cudaAvailable()
{
  return at::hasCUDA();
}

const char* torchVersion()
{
  return TORCH_VERSION;
}

} // namespace gfm::core
