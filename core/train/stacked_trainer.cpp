#include "core/train/stacked_trainer.h"

#include "core/policy/mlp.h"
#include "core/train/action_sampling.h"
#include "core/util/random.h"
#include "core/util/torch_include.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <unordered_set>

namespace gfm::core {

namespace {

// States per batched forward when tabulating P_F over the whole grid.
constexpr int kTableChunk = 4096;

// Adam's constants, as FlatAdam's defaults (PyTorch's).
constexpr double kBeta1 = 0.9;
constexpr double kBeta2 = 0.999;
constexpr double kAdamEps = 1e-8;

/** Shape [k] + [1] × (dim − 1): broadcasts a per-part value over one parameter tensor. */
std::vector<std::int64_t> perPartShape(std::int64_t parts, std::int64_t dim)
{
  std::vector<std::int64_t> shape(static_cast<std::size_t>(dim), 1);
  shape[0] = parts;
  return shape;
}

/**
 * k MLPs of one shape (Mlp's architecture and flat layout), each parameter a tensor with a
 * leading part dimension: W_l [k, in, out], b_l [k, out], in the order W1, b1, W2, b2, …
 */
struct StackedMlp
{
  int inputWidth = 0;
  int hidden = 0;
  int layers = 0;
  int outputs = 0;
  std::vector<at::Tensor> params;
  std::vector<at::Tensor> firstMoment;
  std::vector<at::Tensor> secondMoment;

  StackedMlp(int parts, int in, int h, int l, int out, const at::TensorOptions& options)
    : inputWidth(in)
    , hidden(h)
    , layers(l)
    , outputs(out)
  {
    std::vector<std::pair<int, int>> shapes{ { in, h } };
    for (int i = 1; i < l; ++i) {
      shapes.emplace_back(h, h);
    }
    shapes.emplace_back(h, out);
    for (auto [rows, cols] : shapes) {
      params.push_back(at::zeros({ parts, rows, cols }, options));
      params.push_back(at::zeros({ parts, cols }, options));
    }
    for (at::Tensor& p : params) {
      p.requires_grad_(true);
      firstMoment.push_back(at::zeros_like(p).detach());
      secondMoment.push_back(at::zeros_like(p).detach());
    }
  }

  std::int64_t perPartCount() const
  {
    std::int64_t n = 0;
    for (const at::Tensor& p : params) {
      n += p.numel() / p.size(0);
    }
    return n;
  }

  /**
   * Logits [count, rows, outputs] of parts first..first+count−1 at `positions` [count, rows,
   * slots] (int64, on the parameters' device). The first layer is a sum of looked-up rows of W1,
   * added to b1 slot by slot in Mlp's order so that the roll-out sees Mlp's values exactly.
   */
  at::Tensor forward(int first, int count, const at::Tensor& positions) const
  {
    const std::int64_t rows = positions.size(1);
    const std::int64_t slots = positions.size(2);
    const at::Tensor w1 =
      params[0].narrow(0, first, count).reshape({ count * std::int64_t{ inputWidth }, hidden });
    const at::Tensor offsets =
      at::arange(count, positions.options()).mul_(inputWidth).view({ count, 1, 1 });
    const at::Tensor gathered = w1.index_select(0, (positions + offsets).reshape({ -1 }))
                                  .view({ count, rows, slots, hidden });
    at::Tensor h = params[1].narrow(0, first, count).unsqueeze(1) + gathered.select(2, 0);
    for (std::int64_t s = 1; s < slots; ++s) {
      h = h + gathered.select(2, s);
    }
    h = at::relu(h);

    for (int l = 1; l <= layers; ++l) {
      const auto li = static_cast<std::size_t>(l);
      const at::Tensor w = params[2 * li].narrow(0, first, count);
      const at::Tensor b = params[2 * li + 1].narrow(0, first, count);
      at::Tensor out = at::baddbmm(b.unsqueeze(1).expand({ count, rows, w.size(2) }), h, w);
      h = l < layers ? at::relu(out) : out;
    }
    return h;
  }

  /** Copies part `part` of every parameter (or moment) into `out`, in Mlp's flat layout. */
  static void appendPart(const std::vector<at::Tensor>& tensors, int part, std::vector<float>& out)
  {
    for (const at::Tensor& t : tensors) {
      const at::Tensor slice = t.select(0, part).detach().to(at::kCPU).contiguous();
      const float* data = slice.data_ptr<float>();
      out.insert(out.end(), data, data + slice.numel());
    }
  }

  /** The inverse of appendPart: reads part `part` from `from`, returns the next position. */
  static const float* loadPart(std::vector<at::Tensor>& tensors, int part, const float* from)
  {
    at::NoGradGuard noGrad;
    for (at::Tensor& t : tensors) {
      at::Tensor slice = t.select(0, part);
      slice.copy_(at::from_blob(const_cast<float*>(from), slice.sizes(), at::kFloat));
      from += slice.numel();
    }
    return from;
  }
};

/** What one part owns besides its slice of the stacked tensors. */
struct PartState
{
  PartMembership membership;
  Rng rng;
  std::int64_t step = 0;
  std::int64_t netAdamSteps = 0;
  std::int64_t logZAdamSteps = 0;

  std::vector<std::int64_t> buffer;
  std::unordered_set<std::int64_t> buffered;
  std::vector<std::int64_t> visited;
  std::size_t visitedNext = 0;
  std::uint32_t modesFound = 0;
  StepTrace* trace = nullptr;

  // The current batch, in HypergridTrainer's row order: on-policy rows step by step, then the
  // off-policy trajectories one after another.
  std::vector<std::int32_t> rowPositions;
  std::vector<std::int32_t> rowAction;
  std::vector<std::int32_t> rowTrajectory;
  std::vector<std::int64_t> terminals;
  int onPolicy = 0;
  int offPolicy = 0;
  std::int64_t onPolicyRows = 0;

  PartState(PartMembership m, std::uint64_t seed)
    : membership(std::move(m))
    , rng(seed)
  {}
};

} // namespace

struct StackedHypergridTrainer::Impl
{
  Hypergrid grid;
  PolicySpec policy;
  TrainingSpec training;
  at::Device device;
  at::TensorOptions floats;
  int dim;
  int height;
  int actions; // D + 1
  int parts;

  std::vector<PartState> state;
  std::unique_ptr<StackedMlp> forwardNet; // P_F, and P_B as extra columns when shared
  std::unique_ptr<StackedMlp> backwardNet;
  int backwardColumn = 0;
  at::Tensor logZ; // [k]
  at::Tensor logZFirst;
  at::Tensor logZSecond;

  Impl(const Hypergrid& g, const PolicySpec& p, const TrainingSpec& t, const std::string& dev)
    : grid(g)
    , policy(p)
    , training(t)
    , device(dev)
    , floats(at::TensorOptions().dtype(at::kFloat).device(device))
    , dim(g.dim())
    , height(g.height())
    , actions(g.forwardActionCount())
    , parts(0)
  {}

  bool learnedBackward() const { return policy.backward == BackwardPolicy::Learned; }
  StackedMlp& backwardHead() { return backwardNet ? *backwardNet : *forwardNet; }

  PartState& part(int i)
  {
    if (i < 0 || i >= parts) {
      throw std::out_of_range("StackedHypergridTrainer: no part " + std::to_string(i));
    }
    return state[static_cast<std::size_t>(i)];
  }

  template<typename T>
  at::Tensor upload(const std::vector<T>& values, at::IntArrayRef shape, at::ScalarType type)
  {
    // Always a copy: autograd keeps index tensors until backward, after the vector has moved on.
    return at::from_blob(const_cast<T*>(values.data()), shape, at::TensorOptions(type))
      .to(device, type, false, true);
  }

  void positionsOf(const std::int32_t* coords, std::int32_t* positions) const
  {
    for (int d = 0; d < dim; ++d) {
      positions[d] = d * height + coords[d];
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

  double logReward(const PartState& p, std::int64_t x) const
  {
    if (!p.membership.contains(x)) {
      return training.logRewardFloor;
    }
    std::vector<std::int32_t> coords(static_cast<std::size_t>(dim));
    grid.coordsOf(x, coords.data());
    const double r = grid.reward(coords.data());
    return r > 0.0 ? std::max(std::log(r), training.logRewardFloor) : training.logRewardFloor;
  }

  /** Part p's initial parameters and buffer, drawn exactly as a HypergridTrainer draws them. */
  void initialisePart(int p)
  {
    PartState& s = state[static_cast<std::size_t>(p)];
    Mlp forward(forwardNet->inputWidth, policy.hidden, policy.layers, forwardNet->outputs);
    forward.initialise(s.rng);
    StackedMlp::loadPart(forwardNet->params, p, forward.parameters());
    if (backwardNet) {
      Mlp backward(backwardNet->inputWidth, policy.hidden, policy.layers, backwardNet->outputs);
      backward.initialise(s.rng);
      StackedMlp::loadPart(backwardNet->params, p, backward.parameters());
    }
    if (training.offPolicyRatio > 0.0) {
      seedBuffer(s);
    }
  }

  void seedBuffer(PartState& s)
  {
    std::vector<std::int64_t> cells;
    std::vector<std::int32_t> coords(static_cast<std::size_t>(dim));
    for (std::int64_t x = 0; x < grid.stateCount(); ++x) {
      grid.coordsOf(x, coords.data());
      if (s.membership.contains(x) && grid.reward(coords.data()) > 0.0) {
        cells.push_back(x);
      }
    }
    if (cells.empty()) {
      return;
    }
    for (int i = 0; i < training.bufferSize; ++i) {
      const std::int64_t x = cells[static_cast<std::size_t>(s.rng.below(cells.size()))];
      if (s.buffered.insert(x).second) {
        s.buffer.push_back(x);
      }
    }
  }

  void remember(PartState& s, std::int64_t terminal)
  {
    if (training.visitedWindow > 0) {
      if (s.visited.size() < static_cast<std::size_t>(training.visitedWindow)) {
        s.visited.push_back(terminal);
      } else {
        s.visited[s.visitedNext] = terminal;
        s.visitedNext = (s.visitedNext + 1) % s.visited.size();
      }
    }
    std::vector<std::int32_t> coords(static_cast<std::size_t>(dim));
    grid.coordsOf(terminal, coords.data());
    const int corner = grid.modeCorner(coords.data());
    if (corner >= 0) {
      s.modesFound |= 1u << corner;
    }
    if (training.bufferGrow && !s.buffer.empty() && s.membership.contains(terminal) &&
        grid.reward(coords.data()) > 0.0 && s.buffered.insert(terminal).second) {
      s.buffer.push_back(terminal);
    }
  }

  void rollOut(int first,
               const std::vector<int>& counts,
               const std::vector<Rng*>& sources,
               double epsilon,
               bool record,
               std::vector<std::vector<std::int64_t>>& out);
  void sampleBackward();
  std::vector<StepStats> trainStep();
  void adamStep(std::vector<at::Tensor>& params,
                std::vector<at::Tensor>& first,
                std::vector<at::Tensor>& second,
                double lr,
                const std::vector<std::int64_t>& steps);
  void clipPerPart(std::vector<at::Tensor>& params);
};

/**
 * Rolls out counts[p] trajectories of part first + p with that part's forward policy (ε-mixed),
 * all parts in one batched pass per step, each part drawing from sources[p] in the same order
 * as HypergridTrainer. Records rows into the parts' batches when `record`.
 */
void StackedHypergridTrainer::Impl::rollOut(int first,
                                            const std::vector<int>& counts,
                                            const std::vector<Rng*>& sources,
                                            double epsilon,
                                            bool record,
                                            std::vector<std::vector<std::int64_t>>& out)
{
  at::NoGradGuard noGrad;
  const int count = static_cast<int>(counts.size());
  const int width = forwardNet->outputs;
  std::vector<std::vector<std::int32_t>> coords(static_cast<std::size_t>(count));
  std::vector<std::vector<int>> active(static_cast<std::size_t>(count));
  out.assign(static_cast<std::size_t>(count), {});
  for (int p = 0; p < count; ++p) {
    const auto pi = static_cast<std::size_t>(p);
    coords[pi].assign(static_cast<std::size_t>(counts[pi] * dim), 0);
    out[pi].resize(static_cast<std::size_t>(counts[pi]));
    for (int t = 0; t < counts[pi]; ++t) {
      active[pi].push_back(t);
    }
  }

  std::vector<std::int64_t> positions;
  std::vector<std::int32_t> rowPositions(static_cast<std::size_t>(dim));
  std::vector<double> probs(static_cast<std::size_t>(actions));
  std::vector<char> allowedStorage(static_cast<std::size_t>(actions));
  bool* allowed = reinterpret_cast<bool*>(allowedStorage.data());
  while (true) {
    std::size_t longest = 0;
    for (const auto& a : active) {
      longest = std::max(longest, a.size());
    }
    if (longest == 0) {
      break;
    }

    // Parts with fewer live trajectories are padded with origin rows, whose logits are unused.
    const auto rows = static_cast<std::int64_t>(longest);
    positions.assign(static_cast<std::size_t>(count * rows * dim), 0);
    for (int p = 0; p < count; ++p) {
      const auto pi = static_cast<std::size_t>(p);
      for (std::size_t r = 0; r < active[pi].size(); ++r) {
        positionsOf(&coords[pi][static_cast<std::size_t>(active[pi][r] * dim)],
                    rowPositions.data());
        std::copy(rowPositions.begin(),
                  rowPositions.end(),
                  positions.begin() + static_cast<std::ptrdiff_t>((p * rows + r) * dim));
      }
    }
    const at::Tensor logits =
      forwardNet->forward(first, count, upload(positions, { count, rows, dim }, at::kLong))
        .to(at::kCPU)
        .contiguous();
    const float* z = logits.data_ptr<float>();

    for (int p = 0; p < count; ++p) {
      const auto pi = static_cast<std::size_t>(p);
      PartState& s = state[static_cast<std::size_t>(first + p)];
      std::size_t kept = 0;
      for (std::size_t r = 0; r < active[pi].size(); ++r) {
        const int t = active[pi][r];
        std::int32_t* x = &coords[pi][static_cast<std::size_t>(t * dim)];
        forwardMask(x, allowed);
        maskedSoftmax(
          z + (p * rows + static_cast<std::int64_t>(r)) * width, allowed, actions, probs.data());
        if (epsilon > 0.0) {
          const auto allowedCount = static_cast<int>(std::count(allowed, allowed + actions, true));
          for (int j = 0; j < actions; ++j) {
            probs[static_cast<std::size_t>(j)] =
              (1.0 - epsilon) * probs[static_cast<std::size_t>(j)] +
              (allowed[j] ? epsilon / allowedCount : 0.0);
          }
        }
        const int action = sampleIndex(probs.data(), actions, sources[pi]->uniform());
        if (record) {
          positionsOf(x, rowPositions.data());
          s.rowPositions.insert(s.rowPositions.end(), rowPositions.begin(), rowPositions.end());
          s.rowAction.push_back(action);
          s.rowTrajectory.push_back(t);
        }
        if (action == dim) {
          out[pi][static_cast<std::size_t>(t)] = grid.indexOf(x);
        } else {
          ++x[action];
          active[pi][kept++] = t;
        }
      }
      active[pi].resize(kept);
    }
  }
}

/**
 * Samples every part's off-policy share backward with its P_B from its buffer, all parts in
 * one batched pass per step; appends rows in forward order (stop last), trajectory ids after
 * the part's on-policy ones.
 */
void StackedHypergridTrainer::Impl::sampleBackward()
{
  at::NoGradGuard noGrad;
  StackedMlp& head = backwardHead();
  const int width = head.outputs;
  using Path = std::vector<std::pair<std::vector<std::int32_t>, int>>;
  std::vector<std::vector<std::int32_t>> coords(static_cast<std::size_t>(parts));
  std::vector<std::vector<Path>> paths(static_cast<std::size_t>(parts));
  std::vector<std::vector<int>> active(static_cast<std::size_t>(parts));
  for (int p = 0; p < parts; ++p) {
    const auto pi = static_cast<std::size_t>(p);
    PartState& s = state[pi];
    coords[pi].resize(static_cast<std::size_t>(s.offPolicy * dim));
    paths[pi].resize(static_cast<std::size_t>(s.offPolicy));
    for (int i = 0; i < s.offPolicy; ++i) {
      const std::int64_t x = s.buffer[static_cast<std::size_t>(s.rng.below(s.buffer.size()))];
      grid.coordsOf(x, &coords[pi][static_cast<std::size_t>(i * dim)]);
      s.terminals.push_back(x);
      active[pi].push_back(i);
    }
  }

  std::vector<std::int64_t> positions;
  std::vector<std::int32_t> rowPositions(static_cast<std::size_t>(dim));
  std::vector<double> probs(static_cast<std::size_t>(dim));
  std::vector<char> allowedStorage(static_cast<std::size_t>(dim));
  bool* allowed = reinterpret_cast<bool*>(allowedStorage.data());
  while (true) {
    std::size_t longest = 0;
    for (int p = 0; p < parts; ++p) {
      auto& a = active[static_cast<std::size_t>(p)];
      const auto& c = coords[static_cast<std::size_t>(p)];
      a.erase(std::remove_if(a.begin(),
                             a.end(),
                             [&](int t) {
                               const std::int32_t* x = &c[static_cast<std::size_t>(t * dim)];
                               return std::all_of(
                                 x, x + dim, [](std::int32_t v) { return v == 0; });
                             }),
              a.end());
      longest = std::max(longest, a.size());
    }
    if (longest == 0) {
      break;
    }

    const auto rows = static_cast<std::int64_t>(longest);
    at::Tensor logits;
    if (learnedBackward()) {
      positions.assign(static_cast<std::size_t>(parts * rows * dim), 0);
      for (int p = 0; p < parts; ++p) {
        const auto pi = static_cast<std::size_t>(p);
        for (std::size_t r = 0; r < active[pi].size(); ++r) {
          positionsOf(&coords[pi][static_cast<std::size_t>(active[pi][r] * dim)],
                      rowPositions.data());
          std::copy(rowPositions.begin(),
                    rowPositions.end(),
                    positions.begin() + static_cast<std::ptrdiff_t>((p * rows + r) * dim));
        }
      }
      logits = head.forward(0, parts, upload(positions, { parts, rows, dim }, at::kLong))
                 .to(at::kCPU)
                 .contiguous();
    }

    for (int p = 0; p < parts; ++p) {
      const auto pi = static_cast<std::size_t>(p);
      PartState& s = state[pi];
      for (std::size_t r = 0; r < active[pi].size(); ++r) {
        const int t = active[pi][r];
        std::int32_t* x = &coords[pi][static_cast<std::size_t>(t * dim)];
        backwardMask(x, allowed);
        if (learnedBackward()) {
          const float* z = logits.data_ptr<float>() +
                           (p * rows + static_cast<std::int64_t>(r)) * width + backwardColumn;
          maskedSoftmax(z, allowed, dim, probs.data());
        } else {
          const auto parents = static_cast<double>(std::count(allowed, allowed + dim, true));
          for (int j = 0; j < dim; ++j) {
            probs[static_cast<std::size_t>(j)] = allowed[j] ? 1.0 / parents : 0.0;
          }
        }
        const int action = sampleIndex(probs.data(), dim, s.rng.uniform());
        --x[action];
        paths[pi][static_cast<std::size_t>(t)].emplace_back(std::vector<std::int32_t>(x, x + dim),
                                                            action);
      }
    }
  }

  std::vector<std::int32_t> x(static_cast<std::size_t>(dim));
  for (int p = 0; p < parts; ++p) {
    const auto pi = static_cast<std::size_t>(p);
    PartState& s = state[pi];
    for (int t = 0; t < s.offPolicy; ++t) {
      const int id = s.onPolicy + t;
      const Path& path = paths[pi][static_cast<std::size_t>(t)];
      for (auto it = path.rbegin(); it != path.rend(); ++it) {
        positionsOf(it->first.data(), rowPositions.data());
        s.rowPositions.insert(s.rowPositions.end(), rowPositions.begin(), rowPositions.end());
        s.rowAction.push_back(it->second);
        s.rowTrajectory.push_back(id);
      }
      grid.coordsOf(s.terminals[static_cast<std::size_t>(id)], x.data());
      positionsOf(x.data(), rowPositions.data());
      s.rowPositions.insert(s.rowPositions.end(), rowPositions.begin(), rowPositions.end());
      s.rowAction.push_back(dim);
      s.rowTrajectory.push_back(id);
    }
  }
}

/** Scales each part's gradient of one network to norm ≤ clipGradNorm, as clipGradientNorm. */
void StackedHypergridTrainer::Impl::clipPerPart(std::vector<at::Tensor>& params)
{
  if (training.clipGradNorm <= 0.0) {
    return;
  }
  at::NoGradGuard noGrad;
  at::Tensor squares = at::zeros({ parts }, floats.dtype(at::kDouble));
  for (const at::Tensor& p : params) {
    squares += p.grad().to(at::kDouble).pow(2).reshape({ parts, -1 }).sum(1);
  }
  const at::Tensor norm = squares.sqrt();
  const at::Tensor scale = at::where(norm > training.clipGradNorm,
                                     training.clipGradNorm / (norm + 1e-6),
                                     at::ones_like(norm))
                             .to(at::kFloat);
  for (at::Tensor& p : params) {
    p.mutable_grad().mul_(scale.view(perPartShape(parts, p.dim())));
  }
}

/**
 * FlatAdam's update on stacked tensors; the bias corrections are per part because restore()
 * can leave parts at different step counts.
 */
void StackedHypergridTrainer::Impl::adamStep(std::vector<at::Tensor>& params,
                                             std::vector<at::Tensor>& first,
                                             std::vector<at::Tensor>& second,
                                             double lr,
                                             const std::vector<std::int64_t>& steps)
{
  at::NoGradGuard noGrad;
  std::vector<float> stepSize(static_cast<std::size_t>(parts));
  std::vector<float> rootCorrection2(static_cast<std::size_t>(parts));
  for (int p = 0; p < parts; ++p) {
    const auto t = static_cast<double>(steps[static_cast<std::size_t>(p)]);
    stepSize[static_cast<std::size_t>(p)] = static_cast<float>(lr / (1.0 - std::pow(kBeta1, t)));
    rootCorrection2[static_cast<std::size_t>(p)] =
      static_cast<float>(std::sqrt(1.0 - std::pow(kBeta2, t)));
  }
  const at::Tensor size = upload(stepSize, { parts }, at::kFloat);
  const at::Tensor root = upload(rootCorrection2, { parts }, at::kFloat);
  const auto b1 = static_cast<float>(kBeta1);
  const auto b2 = static_cast<float>(kBeta2);
  for (std::size_t i = 0; i < params.size(); ++i) {
    const auto shape = perPartShape(parts, params[i].dim());
    const at::Tensor& g = params[i].grad();
    first[i].mul_(b1).add_(g, 1.0f - b1);
    second[i].mul_(b2).addcmul_(g, g, 1.0f - b2);
    const at::Tensor denom = (second[i].sqrt() / root.view(shape)).add_(kAdamEps);
    params[i].sub_(first[i] * size.view(shape) / denom);
  }
}

std::vector<StepStats> StackedHypergridTrainer::Impl::trainStep()
{
  const int batch = training.batch;
  std::vector<int> onCounts(static_cast<std::size_t>(parts));
  std::vector<Rng*> sources(static_cast<std::size_t>(parts));
  bool anyOffPolicy = false;
  for (int p = 0; p < parts; ++p) {
    PartState& s = state[static_cast<std::size_t>(p)];
    s.offPolicy =
      s.buffer.empty() ? 0 : static_cast<int>(std::ceil(batch * training.offPolicyRatio - 1e-9));
    s.onPolicy = batch - s.offPolicy;
    anyOffPolicy = anyOffPolicy || s.offPolicy > 0;
    s.rowPositions.clear();
    s.rowAction.clear();
    s.rowTrajectory.clear();
    s.terminals.clear();
    onCounts[static_cast<std::size_t>(p)] = s.onPolicy;
    sources[static_cast<std::size_t>(p)] = &s.rng;
  }

  // Same draw order per part as HypergridTrainer: the roll-out, then the backward samples.
  std::vector<std::vector<std::int64_t>> onTerminals;
  rollOut(0, onCounts, sources, training.epsilon, true, onTerminals);
  for (int p = 0; p < parts; ++p) {
    PartState& s = state[static_cast<std::size_t>(p)];
    s.terminals = onTerminals[static_cast<std::size_t>(p)];
    s.onPolicyRows = static_cast<std::int64_t>(s.rowAction.size());
  }
  if (anyOffPolicy) {
    sampleBackward();
  }
  for (PartState& s : state) {
    for (int t = 0; t < s.onPolicy; ++t) {
      remember(s, s.terminals[static_cast<std::size_t>(t)]);
    }
  }

  // Pad every part to the longest batch of rows. A padded row sits at the origin with every
  // action allowed and weight 0, so it adds nothing to the loss or to any gradient.
  std::int64_t forwardRows = 0;
  std::int64_t backwardRows = 0;
  for (const PartState& s : state) {
    const auto rows = static_cast<std::int64_t>(s.rowAction.size());
    forwardRows = std::max(forwardRows, rows);
    backwardRows = std::max(backwardRows, rows - s.onPolicy - s.offPolicy);
  }
  const auto k = static_cast<std::int64_t>(parts);
  std::vector<std::int64_t> fPositions(static_cast<std::size_t>(k * forwardRows * dim), 0);
  std::vector<std::int64_t> fAction(static_cast<std::size_t>(k * forwardRows), 0);
  std::vector<std::int64_t> fTrajectory(static_cast<std::size_t>(k * forwardRows), 0);
  std::vector<double> fWeight(static_cast<std::size_t>(k * forwardRows), 0.0);
  std::vector<std::uint8_t> fAllowed(static_cast<std::size_t>(k * forwardRows * actions), 1);
  std::vector<std::int64_t> bPositions(static_cast<std::size_t>(k * backwardRows * dim), 0);
  std::vector<std::int64_t> bAction(static_cast<std::size_t>(k * backwardRows), 0);
  std::vector<std::int64_t> bTrajectory(static_cast<std::size_t>(k * backwardRows), 0);
  std::vector<double> bWeight(static_cast<std::size_t>(k * backwardRows), 0.0);
  std::vector<std::uint8_t> bAllowed(static_cast<std::size_t>(k * backwardRows * dim), 1);
  std::vector<double> logR(static_cast<std::size_t>(k * batch));
  std::vector<double> uniformLogPB(static_cast<std::size_t>(k * batch), 0.0);

  std::vector<std::int32_t> coords(static_cast<std::size_t>(dim));
  std::vector<char> allowedStorage(static_cast<std::size_t>(actions));
  bool* allowed = reinterpret_cast<bool*>(allowedStorage.data());
  for (int p = 0; p < parts; ++p) {
    const PartState& s = state[static_cast<std::size_t>(p)];
    std::int64_t b = p * backwardRows;
    for (std::size_t r = 0; r < s.rowAction.size(); ++r) {
      const std::int64_t f = p * forwardRows + static_cast<std::int64_t>(r);
      const std::int32_t* pos = &s.rowPositions[r * static_cast<std::size_t>(dim)];
      const int a = s.rowAction[r];
      const int t = s.rowTrajectory[r];
      for (int d = 0; d < dim; ++d) {
        coords[static_cast<std::size_t>(d)] = pos[d] - d * height;
        fPositions[static_cast<std::size_t>(f * dim + d)] = pos[d];
      }
      forwardMask(coords.data(), allowed);
      std::copy(
        allowed, allowed + actions, fAllowed.begin() + static_cast<std::ptrdiff_t>(f * actions));
      fAction[static_cast<std::size_t>(f)] = a;
      fTrajectory[static_cast<std::size_t>(f)] = t;
      fWeight[static_cast<std::size_t>(f)] = 1.0;
      if (a == dim) {
        continue;
      }

      // Every non-stop transition s → s' is scored by P_B at s' with backward action a.
      ++coords[static_cast<std::size_t>(a)];
      backwardMask(coords.data(), allowed);
      if (learnedBackward()) {
        for (int d = 0; d < dim; ++d) {
          bPositions[static_cast<std::size_t>(b * dim + d)] = pos[d] + (d == a ? 1 : 0);
        }
        std::copy(allowed, allowed + dim, bAllowed.begin() + static_cast<std::ptrdiff_t>(b * dim));
        bAction[static_cast<std::size_t>(b)] = a;
        bTrajectory[static_cast<std::size_t>(b)] = t;
        bWeight[static_cast<std::size_t>(b)] = 1.0;
        ++b;
      } else {
        const auto parentCount = static_cast<double>(std::count(allowed, allowed + dim, true));
        uniformLogPB[static_cast<std::size_t>(p * batch + t)] -= std::log(parentCount);
      }
    }
    for (int t = 0; t < batch; ++t) {
      logR[static_cast<std::size_t>(p * batch + t)] =
        logReward(s, s.terminals[static_cast<std::size_t>(t)]);
    }
  }

  // The loss: Σ_parts mean_t δ², δ = log Z + Σ log P_F − log R − Σ log P_B. Log-softmax and δ
  // in double, like HypergridTrainer, so that long trajectories lose no precision.
  const at::Tensor fPos = upload(fPositions, { k, forwardRows, dim }, at::kLong);
  const at::Tensor bPos = upload(bPositions, { k, backwardRows, dim }, at::kLong);
  const bool shared = learnedBackward() && !backwardNet;
  at::Tensor fLogits;
  at::Tensor bLogits;
  if (shared) {
    const at::Tensor all = forwardNet->forward(0, parts, at::cat({ fPos, bPos }, 1));
    fLogits = all.narrow(1, 0, forwardRows).narrow(2, 0, actions);
    bLogits = all.narrow(1, forwardRows, backwardRows).narrow(2, backwardColumn, dim);
  } else {
    fLogits = forwardNet->forward(0, parts, fPos);
    if (backwardNet && backwardRows > 0) {
      bLogits = backwardNet->forward(0, parts, bPos);
    }
  }

  const double minusInfinity = -std::numeric_limits<double>::infinity();
  auto sumLogProbabilities = [&](const at::Tensor& logits,
                                 const std::vector<std::uint8_t>& ok,
                                 const std::vector<std::int64_t>& action,
                                 const std::vector<std::int64_t>& trajectory,
                                 const std::vector<double>& weight) {
    const std::int64_t rows = logits.size(1);
    const std::int64_t width = logits.size(2);
    const at::Tensor mask = upload(ok, { k, rows, width }, at::kBool);
    const at::Tensor logP =
      at::log_softmax(logits.to(at::kDouble).masked_fill(mask.logical_not(), minusInfinity), 2);
    const at::Tensor taken = logP.gather(2, upload(action, { k, rows, 1 }, at::kLong)).squeeze(2) *
                             upload(weight, { k, rows }, at::kDouble);
    return at::zeros({ k, batch }, floats.dtype(at::kDouble))
      .scatter_add(1, upload(trajectory, { k, rows }, at::kLong), taken);
  };
  const at::Tensor sumLogPF = sumLogProbabilities(fLogits, fAllowed, fAction, fTrajectory, fWeight);
  at::Tensor sumLogPB = upload(uniformLogPB, { k, batch }, at::kDouble);
  if (bLogits.defined()) {
    sumLogPB = sumLogProbabilities(bLogits, bAllowed, bAction, bTrajectory, bWeight);
  }
  const at::Tensor delta = logZ.to(at::kDouble).unsqueeze(1) + sumLogPF -
                           upload(logR, { k, batch }, at::kDouble) - sumLogPB;
  const at::Tensor partLoss = delta.pow(2).mean(1);

  std::vector<at::Tensor*> everything;
  for (StackedMlp* net : { forwardNet.get(), backwardNet.get() }) {
    if (net) {
      for (at::Tensor& p : net->params) {
        everything.push_back(&p);
      }
    }
  }
  everything.push_back(&logZ);
  for (at::Tensor* p : everything) {
    if (p->grad().defined()) {
      p->mutable_grad().zero_();
    }
  }
  partLoss.sum().backward();
  // A network left out of the graph (no P_B row this step) still takes an Adam step on a zero
  // gradient, as HypergridTrainer's does.
  for (at::Tensor* p : everything) {
    if (!p->grad().defined()) {
      p->mutable_grad() = at::zeros_like(*p).detach();
    }
  }

  const at::Tensor lossCpu = partLoss.detach().to(at::kCPU).contiguous();
  for (int p = 0; p < parts; ++p) {
    PartState& s = state[static_cast<std::size_t>(p)];
    if (!s.trace) {
      continue;
    }
    s.trace->positions = s.rowPositions;
    s.trace->actions = s.rowAction;
    s.trace->trajectories = s.rowTrajectory;
    s.trace->terminals = s.terminals;
    s.trace->gradients.clear();
    for (StackedMlp* net : { forwardNet.get(), backwardNet.get() }) {
      if (net) {
        std::vector<at::Tensor> grads;
        for (const at::Tensor& t : net->params) {
          grads.push_back(t.grad());
        }
        StackedMlp::appendPart(grads, p, s.trace->gradients);
      }
    }
    s.trace->logZGradient = logZ.grad()[p].item<double>();
    s.trace->loss = lossCpu.data_ptr<double>()[p];
  }

  std::vector<std::int64_t> netSteps(static_cast<std::size_t>(parts));
  std::vector<std::int64_t> logZSteps(static_cast<std::size_t>(parts));
  for (int p = 0; p < parts; ++p) {
    PartState& s = state[static_cast<std::size_t>(p)];
    netSteps[static_cast<std::size_t>(p)] = ++s.netAdamSteps;
    logZSteps[static_cast<std::size_t>(p)] = ++s.logZAdamSteps;
    ++s.step;
  }
  for (StackedMlp* net : { forwardNet.get(), backwardNet.get() }) {
    if (net) {
      clipPerPart(net->params);
      adamStep(net->params, net->firstMoment, net->secondMoment, training.lr, netSteps);
    }
  }
  std::vector<at::Tensor> z{ logZ };
  std::vector<at::Tensor> zFirst{ logZFirst };
  std::vector<at::Tensor> zSecond{ logZSecond };
  adamStep(z, zFirst, zSecond, training.lrLogZ, logZSteps);

  const at::Tensor logZCpu = logZ.detach().to(at::kCPU).contiguous();
  std::vector<StepStats> stats(static_cast<std::size_t>(parts));
  for (int p = 0; p < parts; ++p) {
    const PartState& s = state[static_cast<std::size_t>(p)];
    StepStats& st = stats[static_cast<std::size_t>(p)];
    st.loss = lossCpu.data_ptr<double>()[p];
    st.logZ = logZCpu.data_ptr<float>()[p];
    st.transitions = static_cast<std::int64_t>(s.rowAction.size());
    st.trajectories = batch;
    st.meanLength = s.onPolicy > 0 ? static_cast<double>(s.onPolicyRows) / s.onPolicy : 0.0;
  }
  return stats;
}

StackedHypergridTrainer::StackedHypergridTrainer(const Hypergrid& grid,
                                                 const PolicySpec& policy,
                                                 const TrainingSpec& training,
                                                 std::vector<StackedPart> parts,
                                                 const std::string& device)
  : d(std::make_unique<Impl>(grid, policy, training, device))
{
  if (parts.empty()) {
    throw std::invalid_argument("StackedHypergridTrainer needs at least one part");
  }
  d->parts = static_cast<int>(parts.size());
  for (StackedPart& p : parts) {
    d->state.emplace_back(std::move(p.membership), p.seed);
  }

  const int inputWidth = grid.dim() * grid.height();
  const int actions = grid.forwardActionCount();
  const bool learned = policy.backward == BackwardPolicy::Learned;
  const int forwardOutputs = learned && policy.sharedTrunk ? actions + grid.dim() : actions;
  d->forwardNet = std::make_unique<StackedMlp>(
    d->parts, inputWidth, policy.hidden, policy.layers, forwardOutputs, d->floats);
  if (learned && policy.sharedTrunk) {
    d->backwardColumn = actions;
  } else if (learned) {
    d->backwardNet = std::make_unique<StackedMlp>(
      d->parts, inputWidth, policy.hidden, policy.layers, grid.dim(), d->floats);
  }
  d->logZ = at::zeros({ d->parts }, d->floats).requires_grad_(true);
  d->logZFirst = at::zeros({ d->parts }, d->floats);
  d->logZSecond = at::zeros({ d->parts }, d->floats);
  for (int p = 0; p < d->parts; ++p) {
    d->initialisePart(p);
  }
}

StackedHypergridTrainer::~StackedHypergridTrainer() = default;

int StackedHypergridTrainer::partCount() const
{
  return d->parts;
}
std::vector<StepStats> StackedHypergridTrainer::step()
{
  return d->trainStep();
}
std::int64_t StackedHypergridTrainer::stepCount(int part) const
{
  return d->part(part).step;
}
const TrainingSpec& StackedHypergridTrainer::training() const
{
  return d->training;
}

double StackedHypergridTrainer::logZ(int part) const
{
  d->part(part);
  return d->logZ[part].item<double>();
}

const PartMembership& StackedHypergridTrainer::membership(int part) const
{
  return d->part(part).membership;
}

double StackedHypergridTrainer::logReward(int part, std::int64_t state) const
{
  return d->logReward(d->part(part), state);
}

std::uint32_t StackedHypergridTrainer::modesFound(int part) const
{
  return d->part(part).modesFound;
}

std::int64_t StackedHypergridTrainer::bufferSize(int part) const
{
  return static_cast<std::int64_t>(d->part(part).buffer.size());
}

std::vector<float> StackedHypergridTrainer::forwardProbabilities(int part)
{
  d->part(part);
  at::NoGradGuard noGrad;
  const std::int64_t states = d->grid.stateCount();
  const int dim = d->dim;
  const int actions = d->actions;
  const int width = d->forwardNet->outputs;
  std::vector<float> table(static_cast<std::size_t>(states * actions));
  std::vector<std::int64_t> positions;
  std::vector<std::int32_t> coords(static_cast<std::size_t>(dim));
  std::vector<std::int32_t> rowPositions(static_cast<std::size_t>(dim));
  std::vector<double> probs(static_cast<std::size_t>(actions));
  std::vector<char> allowedStorage(static_cast<std::size_t>(actions));
  bool* allowed = reinterpret_cast<bool*>(allowedStorage.data());

  for (std::int64_t first = 0; first < states; first += kTableChunk) {
    const std::int64_t n = std::min<std::int64_t>(kTableChunk, states - first);
    positions.resize(static_cast<std::size_t>(n * dim));
    for (std::int64_t r = 0; r < n; ++r) {
      d->grid.coordsOf(first + r, coords.data());
      d->positionsOf(coords.data(), rowPositions.data());
      std::copy(rowPositions.begin(),
                rowPositions.end(),
                positions.begin() + static_cast<std::ptrdiff_t>(r * dim));
    }
    const at::Tensor logits =
      d->forwardNet->forward(part, 1, d->upload(positions, { 1, n, dim }, at::kLong))
        .to(at::kCPU)
        .contiguous();
    const float* z = logits.data_ptr<float>();
    for (std::int64_t r = 0; r < n; ++r) {
      d->grid.coordsOf(first + r, coords.data());
      d->forwardMask(coords.data(), allowed);
      maskedSoftmax(z + r * width, allowed, actions, probs.data());
      float* row = &table[static_cast<std::size_t>((first + r) * actions)];
      for (int j = 0; j < actions; ++j) {
        row[j] = static_cast<float>(probs[static_cast<std::size_t>(j)]);
      }
    }
  }
  return table;
}

std::vector<std::int64_t> StackedHypergridTrainer::sample(int part, int count, std::uint64_t seed)
{
  d->part(part);
  Rng source(seed);
  std::vector<std::vector<std::int64_t>> out;
  d->rollOut(part, { count }, { &source }, 0.0, false, out);
  return out.front();
}

std::vector<std::int64_t> StackedHypergridTrainer::visitedTerminals(int part) const
{
  const PartState& s = d->part(part);
  const auto next = static_cast<std::ptrdiff_t>(s.visitedNext);
  std::vector<std::int64_t> ordered(s.visited.begin() + next, s.visited.end());
  ordered.insert(ordered.end(), s.visited.begin(), s.visited.begin() + next);
  return ordered;
}

PartCheckpoint StackedHypergridTrainer::checkpoint(int part) const
{
  const PartState& s = d->part(part);
  PartCheckpoint c;
  c.step = s.step;
  for (const StackedMlp* net : { d->forwardNet.get(), d->backwardNet.get() }) {
    if (net) {
      StackedMlp::appendPart(net->params, part, c.parameters);
      StackedMlp::appendPart(net->firstMoment, part, c.adamFirst);
      StackedMlp::appendPart(net->secondMoment, part, c.adamSecond);
    }
  }
  c.logZ = d->logZ[part].item<double>();
  c.logZFirst = d->logZFirst[part].item<double>();
  c.logZSecond = d->logZSecond[part].item<double>();
  c.rng = s.rng.state();
  c.buffer = s.buffer;
  c.modesFound = s.modesFound;
  c.visited = visitedTerminals(part);
  return c;
}

bool StackedHypergridTrainer::restore(int part, const PartCheckpoint& c)
{
  PartState& s = d->part(part);
  const std::int64_t nf = d->forwardNet->perPartCount();
  const std::int64_t nb = d->backwardNet ? d->backwardNet->perPartCount() : 0;
  const auto expected = static_cast<std::size_t>(nf + nb);
  if (c.parameters.size() != expected ||
      (!c.adamFirst.empty() &&
       (c.adamFirst.size() != expected || c.adamSecond.size() != expected))) {
    return false;
  }

  const float* from = StackedMlp::loadPart(d->forwardNet->params, part, c.parameters.data());
  if (d->backwardNet) {
    StackedMlp::loadPart(d->backwardNet->params, part, from);
  }
  if (!c.adamFirst.empty()) {
    const float* first = StackedMlp::loadPart(d->forwardNet->firstMoment, part, c.adamFirst.data());
    const float* second =
      StackedMlp::loadPart(d->forwardNet->secondMoment, part, c.adamSecond.data());
    if (d->backwardNet) {
      StackedMlp::loadPart(d->backwardNet->firstMoment, part, first);
      StackedMlp::loadPart(d->backwardNet->secondMoment, part, second);
    }
    s.netAdamSteps = c.step;
  }
  {
    at::NoGradGuard noGrad;
    d->logZ[part].fill_(c.logZ);
    d->logZFirst[part].fill_(c.logZFirst);
    d->logZSecond[part].fill_(c.logZSecond);
  }
  s.logZAdamSteps = c.step;
  s.step = c.step;
  if (!c.rng.empty() && !s.rng.restore(c.rng)) {
    return false;
  }
  s.buffer = c.buffer;
  s.buffered = std::unordered_set<std::int64_t>(c.buffer.begin(), c.buffer.end());
  s.modesFound = c.modesFound;
  s.visitedNext = restoreVisitedWindow(c.visited, d->training.visitedWindow, s.visited);
  return true;
}

void StackedHypergridTrainer::setTrace(int part, StepTrace* trace)
{
  d->part(part).trace = trace;
}

} // namespace gfm::core
