#include "core/policy/mlp.h"

#include "core/policy/small_gemm.h"
#include "core/util/random.h"
#include "core/util/torch_include.h"

#include <dlfcn.h>

#include <algorithm>
#include <cmath>
#include <cstring>

namespace gfm::core {

namespace {

// Rows of activation buffers are reserved in steps of this many to avoid reallocating as the
// number of visited states per batch fluctuates.
constexpr int kRowGrain = 256;

void reluInPlace(float* values, std::int64_t count)
{
  for (std::int64_t i = 0; i < count; ++i) {
    values[i] = values[i] > 0.0f ? values[i] : 0.0f;
  }
}

// dh *= 1[h > 0]: the ReLU's derivative, read from its output.
void maskByActivation(float* grad, const float* activation, std::int64_t count)
{
  for (std::int64_t i = 0; i < count; ++i) {
    grad[i] = activation[i] > 0.0f ? grad[i] : 0.0f;
  }
}

// Forward products of at most this many rows (a roll-out step of a batch of 16) go to
// smallRowsGemm, which does not repack the weights on every call.
constexpr int kSmallRows = 16;

// CBLAS's row-major and transpose codes.
constexpr int kRowMajor = 101;
constexpr int kNoTrans = 111;
constexpr int kTrans = 112;
using SgemmFunction = void (*)(int,
                               int,
                               int,
                               int,
                               int,
                               int,
                               float,
                               const float*,
                               int,
                               const float*,
                               int,
                               float,
                               float*,
                               int);

/**
 * The BLAS that LibTorch loaded (OpenBLAS here), called directly: the roll-out makes dozens of
 * small products per step, and going through ATen costs several microseconds each.
 */
SgemmFunction blasSgemm()
{
  static const auto function = reinterpret_cast<SgemmFunction>(dlsym(RTLD_DEFAULT, "cblas_sgemm"));
  return function;
}

/**
 * C = alpha·op(A)·op(B) + beta·C, row-major; op(A) is m×k, op(B) is k×n. Falls back to ATen
 * when no CBLAS symbol is loaded.
 */
void gemm(bool transA,
          bool transB,
          int m,
          int n,
          int k,
          const float* a,
          const float* b,
          float beta,
          float* c)
{
  if (!transA && !transB && beta == 1.0f && m <= kSmallRows && smallRowsGemm(m, n, k, a, b, c)) {
    return;
  }
  const int lda = transA ? m : k;
  const int ldb = transB ? k : n;
  if (SgemmFunction sgemm = blasSgemm()) {
    sgemm(kRowMajor,
          transA ? kTrans : kNoTrans,
          transB ? kTrans : kNoTrans,
          m,
          n,
          k,
          1.0f,
          a,
          lda,
          b,
          ldb,
          beta,
          c,
          n);
    return;
  }
  auto view = [](const float* p, int rows, int cols, bool t) {
    at::Tensor x = at::from_blob(const_cast<float*>(p), { rows, cols }, at::kFloat);
    return t ? x.t() : x;
  };
  at::Tensor out = at::from_blob(c, { m, n }, at::kFloat);
  at::Tensor product = at::mm(view(a, transA ? k : m, transA ? m : k, transA),
                              view(b, transB ? n : k, transB ? k : n, transB));
  if (beta == 0.0f) {
    out.copy_(product);
  } else {
    out.add_(product);
  }
}

struct Activations
{
  std::vector<std::vector<float>> hidden; // one [capacity × width] buffer per hidden layer
  int capacity = 0;

  /** Makes room for `rows` rows; rows already there keep their contents. */
  void reserve(int rows, int layers, int width)
  {
    if (rows <= capacity) {
      return;
    }
    capacity = std::max(2 * capacity, (rows + kRowGrain - 1) / kRowGrain * kRowGrain);
    hidden.resize(static_cast<std::size_t>(layers));
    for (std::vector<float>& h : hidden) {
      // resize keeps the existing rows, which is what an appended pass needs.
      h.resize(static_cast<std::size_t>(capacity) * static_cast<std::size_t>(width));
    }
  }

  float* row(int layer, int r, int width)
  {
    return hidden[static_cast<std::size_t>(layer)].data() + static_cast<std::ptrdiff_t>(r) * width;
  }
};

/**
 * Open-addressing map from a row's active positions to its index among the distinct rows of a
 * pass. The keys themselves live in the pass's `active` store; the table holds indices only.
 */
class RowIndex
{
public:
  /** Forgets every row; keeps the table's capacity. */
  void clear()
  {
    std::fill(m_table.begin(), m_table.end(), kEmpty);
    m_count = 0;
  }

  /**
   * The index of `key` (`slots` positions) among the distinct rows whose keys `store` holds,
   * appending it to `store` under the next index when it is new.
   */
  int findOrAdd(const std::int32_t* key, int slots, std::vector<std::int32_t>& store)
  {
    if (2 * (m_count + 1) > static_cast<int>(m_table.size())) {
      grow(slots, store);
    }
    const std::size_t mask = m_table.size() - 1;
    for (std::size_t i = hash(key, slots) & mask;; i = (i + 1) & mask) {
      const int found = m_table[i];
      if (found == kEmpty) {
        store.insert(store.end(), key, key + slots);
        m_table[i] = m_count;
        return m_count++;
      }
      if (std::equal(key, key + slots, store.data() + static_cast<std::ptrdiff_t>(found) * slots)) {
        return found;
      }
    }
  }

private:
  static constexpr int kEmpty = -1;

  static std::size_t hash(const std::int32_t* key, int slots)
  {
    std::uint64_t h = 0x9e3779b97f4a7c15ULL;
    for (int s = 0; s < slots; ++s) {
      h = (h ^ static_cast<std::uint32_t>(key[s])) * 0xff51afd7ed558ccdULL;
      h ^= h >> 32;
    }
    return static_cast<std::size_t>(h);
  }

  void grow(int slots, const std::vector<std::int32_t>& store)
  {
    m_table.assign(std::max<std::size_t>(64, 2 * m_table.size()), kEmpty);
    const std::size_t mask = m_table.size() - 1;
    for (int row = 0; row < m_count; ++row) {
      std::size_t i = hash(store.data() + static_cast<std::ptrdiff_t>(row) * slots, slots) & mask;
      while (m_table[i] != kEmpty) {
        i = (i + 1) & mask;
      }
      m_table[i] = row;
    }
  }

  std::vector<int> m_table;
  int m_count = 0;
};

/**
 * One forward pass over rows that repeat: a batch of trajectories from one start state shares
 * many states (on the 32×32 grid 16 trajectories visit about 57 distinct states per 100
 * transitions), and a row's output depends on its input alone. So the network runs once per
 * distinct row and every row reads its distinct row's logits; the backward sums the gradients of
 * a distinct row's copies first, which gives the same gradient as row by row.
 */
struct Pass
{
  Activations act;                  // of the distinct rows
  RowIndex index;                   // positions -> distinct row
  std::vector<std::int32_t> active; // positions of the distinct rows, distinct × slots
  std::vector<float> logits;        // of the distinct rows, distinct × outputs
  std::vector<int> distinctOfRow;   // every row of the pass -> its distinct row
  int slots = 0;

  int rows() const { return static_cast<int>(distinctOfRow.size()); }
  int distinct() const { return slots > 0 ? static_cast<int>(active.size()) / slots : 0; }

  void clear()
  {
    index.clear();
    active.clear();
    logits.clear();
    distinctOfRow.clear();
  }
};

} // namespace

struct Mlp::Impl
{
  int inputWidth;
  int hidden;
  int layers;
  int outputs;

  std::vector<float> params;
  std::vector<float> grads;
  std::vector<std::pair<std::int64_t, std::int64_t>> spans; // W1, b1, W2, b2, …
  std::vector<std::pair<int, int>> shapes;                  // [in, out] of each weight

  Pass scratch;
  Pass kept;
  std::vector<float> distinctGrad; // dLoss/dlogits summed over each distinct row's copies
  std::vector<float> gradScratch[2];

  float* weight(std::size_t l) { return params.data() + spans[2 * l].first; }
  float* bias(std::size_t l) { return params.data() + spans[2 * l + 1].first; }
  float* weightGrad(std::size_t l) { return grads.data() + spans[2 * l].first; }
  float* biasGrad(std::size_t l) { return grads.data() + spans[2 * l + 1].first; }

  /** Forward of `rows` rows into rows [offset, offset + rows) of `act`. */
  void run(const std::int32_t* active,
           int slots,
           int rows,
           float* logits,
           Activations& act,
           int offset = 0)
  {
    act.reserve(offset + rows, layers, hidden);

    // Layer 1: the input is a sum of one-hot vectors, so x·W1 is a sum of rows of W1.
    const float* w1 = weight(0);
    const float* b1 = bias(0);
    for (int r = 0; r < rows; ++r) {
      float* row = act.row(0, offset + r, hidden);
      std::memcpy(row, b1, sizeof(float) * static_cast<std::size_t>(hidden));
      for (int s = 0; s < slots; ++s) {
        const float* w = w1 + static_cast<std::int64_t>(active[r * slots + s]) * hidden;
        for (int j = 0; j < hidden; ++j) {
          row[j] += w[j];
        }
      }
    }
    reluInPlace(act.row(0, offset, hidden), static_cast<std::int64_t>(rows) * hidden);

    // Later layers: out = b + in·W (bias broadcast first, then accumulated into).
    for (int l = 1; l <= layers; ++l) {
      const auto li = static_cast<std::size_t>(l);
      const int width = l < layers ? hidden : outputs;
      float* out = l < layers ? act.row(l, offset, hidden) : logits;
      const float* b = bias(li);
      for (int r = 0; r < rows; ++r) {
        std::memcpy(out + static_cast<std::ptrdiff_t>(r) * width,
                    b,
                    sizeof(float) * static_cast<std::size_t>(width));
      }
      gemm(
        false, false, rows, width, hidden, act.row(l - 1, offset, hidden), weight(li), 1.0f, out);
      if (l < layers) {
        reluInPlace(out, static_cast<std::int64_t>(rows) * hidden);
      }
    }
  }

  /** Adds `rows` rows to `pass`, runs the network on those not seen before, writes logits. */
  void append(Pass& pass, const std::int32_t* active, int slots, int rows, float* logits)
  {
    if (pass.slots != slots) {
      pass.clear();
      pass.slots = slots;
    }
    const int before = pass.distinct();
    const int first = pass.rows();
    for (int r = 0; r < rows; ++r) {
      pass.distinctOfRow.push_back(
        pass.index.findOrAdd(active + static_cast<std::ptrdiff_t>(r) * slots, slots, pass.active));
    }
    const int fresh = pass.distinct() - before;
    pass.logits.resize(static_cast<std::size_t>(pass.distinct()) * outputs);
    if (fresh > 0) {
      run(pass.active.data() + static_cast<std::ptrdiff_t>(before) * slots,
          slots,
          fresh,
          pass.logits.data() + static_cast<std::ptrdiff_t>(before) * outputs,
          pass.act,
          before);
    }
    for (int r = 0; r < rows; ++r) {
      const int u = pass.distinctOfRow[static_cast<std::size_t>(first + r)];
      std::memcpy(logits + static_cast<std::ptrdiff_t>(r) * outputs,
                  pass.logits.data() + static_cast<std::ptrdiff_t>(u) * outputs,
                  sizeof(float) * static_cast<std::size_t>(outputs));
    }
  }
};

Mlp::Mlp(int inputWidth, int hidden, int layers, int outputs)
  : d(std::make_unique<Impl>())
{
  d->inputWidth = inputWidth;
  d->hidden = hidden;
  d->layers = layers;
  d->outputs = outputs;

  d->shapes.emplace_back(inputWidth, hidden);
  for (int l = 1; l < layers; ++l) {
    d->shapes.emplace_back(hidden, hidden);
  }
  d->shapes.emplace_back(hidden, outputs);

  std::int64_t offset = 0;
  for (auto [in, out] : d->shapes) {
    const std::int64_t w = static_cast<std::int64_t>(in) * out;
    d->spans.emplace_back(offset, w);
    offset += w;
    d->spans.emplace_back(offset, out);
    offset += out;
  }
  d->params.assign(static_cast<std::size_t>(offset), 0.0f);
  d->grads.assign(static_cast<std::size_t>(offset), 0.0f);
}

Mlp::~Mlp() = default;

void Mlp::initialise(Rng& rng)
{
  for (std::size_t l = 0; l < d->shapes.size(); ++l) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(d->shapes[l].first));
    for (std::size_t t : { 2 * l, 2 * l + 1 }) {
      float* p = d->params.data() + d->spans[t].first;
      for (std::int64_t i = 0; i < d->spans[t].second; ++i) {
        p[i] = static_cast<float>(rng.uniform(-bound, bound));
      }
    }
  }
}

int Mlp::inputWidth() const
{
  return d->inputWidth;
}
int Mlp::hidden() const
{
  return d->hidden;
}
int Mlp::layers() const
{
  return d->layers;
}
int Mlp::outputs() const
{
  return d->outputs;
}
std::int64_t Mlp::parameterCount() const
{
  return static_cast<std::int64_t>(d->params.size());
}
float* Mlp::parameters()
{
  return d->params.data();
}
const float* Mlp::parameters() const
{
  return d->params.data();
}
float* Mlp::gradients()
{
  return d->grads.data();
}

std::vector<std::pair<std::int64_t, std::int64_t>> Mlp::tensorSpans() const
{
  return d->spans;
}

void Mlp::forward(const std::int32_t* active, int slots, int rows, float* logits, bool keep)
{
  Pass& pass = keep ? d->kept : d->scratch;
  pass.clear();
  d->append(pass, active, slots, rows, logits);
}

void Mlp::forwardAppend(const std::int32_t* active, int slots, int rows, float* logits)
{
  d->append(d->kept, active, slots, rows, logits);
}

void Mlp::clearKept()
{
  d->kept.clear();
}

void Mlp::backward(const float* dLogits)
{
  const Pass& kept = d->kept;
  const int rows = kept.distinct();
  const int hidden = d->hidden;
  std::fill(d->grads.begin(), d->grads.end(), 0.0f);
  if (rows == 0) {
    return;
  }
  for (std::vector<float>& t : d->gradScratch) {
    t.resize(static_cast<std::size_t>(kept.act.capacity) * static_cast<std::size_t>(hidden));
  }

  // Every row's gradient goes to its distinct row: the rest of the backward sees distinct rows.
  const int outputs = d->outputs;
  d->distinctGrad.assign(static_cast<std::size_t>(rows) * outputs, 0.0f);
  for (int r = 0; r < kept.rows(); ++r) {
    float* to =
      d->distinctGrad.data() +
      static_cast<std::ptrdiff_t>(kept.distinctOfRow[static_cast<std::size_t>(r)]) * outputs;
    const float* from = dLogits + static_cast<std::ptrdiff_t>(r) * outputs;
    for (int j = 0; j < outputs; ++j) {
      to[j] += from[j];
    }
  }

  // Output layer, then the hidden layers from the top: dW = hᵀ·g, db = Σ_rows g, g ← g·Wᵀ ⊙ h>0.
  const float* g = d->distinctGrad.data();
  int width = outputs;
  for (int l = d->layers; l >= 1; --l) {
    const auto li = static_cast<std::size_t>(l);
    const float* h = d->kept.act.row(l - 1, 0, hidden);
    gemm(true, false, hidden, width, rows, h, g, 0.0f, d->weightGrad(li));
    float* db = d->biasGrad(li);
    for (int r = 0; r < rows; ++r) {
      const float* row = g + static_cast<std::ptrdiff_t>(r) * width;
      for (int j = 0; j < width; ++j) {
        db[j] += row[j];
      }
    }
    float* below = d->gradScratch[l % 2].data();
    gemm(false, true, rows, hidden, width, g, d->weight(li), 0.0f, below);
    maskByActivation(below, h, static_cast<std::int64_t>(rows) * hidden);
    g = below;
    width = hidden;
  }

  // First layer: the gradient of a row lookup is a scatter-add into the looked-up rows.
  float* dw1 = d->weightGrad(0);
  float* db1 = d->biasGrad(0);
  const int slots = kept.slots;
  for (int r = 0; r < rows; ++r) {
    const float* row = g + static_cast<std::int64_t>(r) * hidden;
    for (int j = 0; j < hidden; ++j) {
      db1[j] += row[j];
    }
    for (int s = 0; s < slots; ++s) {
      float* w =
        dw1 +
        static_cast<std::int64_t>(kept.active[static_cast<std::size_t>(r * slots + s)]) * hidden;
      for (int j = 0; j < hidden; ++j) {
        w[j] += row[j];
      }
    }
  }
}

FlatAdam::FlatAdam(std::int64_t size, double lr, double beta1, double beta2, double eps)
  : m_lr(lr)
  , m_beta1(beta1)
  , m_beta2(beta2)
  , m_eps(eps)
  , m_m(static_cast<std::size_t>(size), 0.0f)
  , m_v(static_cast<std::size_t>(size), 0.0f)
{}

void FlatAdam::step(float* params, const float* grads)
{
  ++m_step;
  const auto b1 = static_cast<float>(m_beta1);
  const auto b2 = static_cast<float>(m_beta2);
  const double correction1 = 1.0 - std::pow(m_beta1, static_cast<double>(m_step));
  const double correction2 = 1.0 - std::pow(m_beta2, static_cast<double>(m_step));
  // PyTorch's form: p -= lr/c1 · m / (sqrt(v)/sqrt(c2) + eps).
  const auto stepSize = static_cast<float>(m_lr / correction1);
  const auto rootCorrection2 = static_cast<float>(std::sqrt(correction2));
  const auto eps = static_cast<float>(m_eps);
  const std::size_t n = m_m.size();
  float* m = m_m.data();
  float* v = m_v.data();
  for (std::size_t i = 0; i < n; ++i) {
    const float g = grads[i];
    m[i] = b1 * m[i] + (1.0f - b1) * g;
    v[i] = b2 * v[i] + (1.0f - b2) * g * g;
    params[i] -= stepSize * m[i] / (std::sqrt(v[i]) / rootCorrection2 + eps);
  }
}

double clipGradientNorm(float* grads, std::int64_t size, double maxNorm)
{
  if (maxNorm <= 0.0) {
    return 0.0; // clipping is off; nobody needs the norm
  }
  double sum = 0.0;
  for (std::int64_t i = 0; i < size; ++i) {
    sum += static_cast<double>(grads[i]) * grads[i];
  }
  const double norm = std::sqrt(sum);
  if (norm > maxNorm) {
    const auto scale = static_cast<float>(maxNorm / (norm + 1e-6));
    for (std::int64_t i = 0; i < size; ++i) {
      grads[i] *= scale;
    }
  }
  return norm;
}

} // namespace gfm::core
