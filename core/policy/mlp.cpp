#include "core/policy/mlp.h"

#include "core/util/random.h"
#include "core/util/torch_include.h"

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

struct Activations
{
  std::vector<at::Tensor> hidden; // one [capacity, hidden] buffer per hidden layer
  int capacity = 0;

  /** Makes room for `rows` rows, keeping the first `preserve` rows' contents. */
  void reserve(int rows, int layers, int width, int preserve = 0)
  {
    if (rows <= capacity) {
      return;
    }
    capacity = std::max(2 * capacity, (rows + kRowGrain - 1) / kRowGrain * kRowGrain);
    for (int l = 0; l < layers; ++l) {
      at::Tensor grown = at::empty({ capacity, width }, at::kFloat);
      if (preserve > 0) {
        grown.narrow(0, 0, preserve).copy_(hidden[static_cast<std::size_t>(l)].narrow(0, 0, preserve));
      }
      if (static_cast<std::size_t>(l) < hidden.size()) {
        hidden[static_cast<std::size_t>(l)] = grown;
      } else {
        hidden.push_back(grown);
      }
    }
  }
};

} // namespace

struct Mlp::Impl
{
  int inputWidth;
  int hidden;
  int layers;
  int outputs;

  at::Tensor params;
  at::Tensor grads;
  std::vector<at::Tensor> weights; // [in, out] views into params
  std::vector<at::Tensor> biases;
  std::vector<at::Tensor> weightGrads;
  std::vector<at::Tensor> biasGrads;
  std::vector<std::pair<std::int64_t, std::int64_t>> spans;

  Activations scratch;
  Activations kept;
  std::vector<std::int32_t> keptActive;
  int keptSlots = 0;
  int keptRows = 0;
  at::Tensor gradScratch[2];

  /** Forward of `rows` rows into rows [offset, offset + rows) of `act`. */
  void run(const std::int32_t* active, int slots, int rows, float* logits, Activations& act,
           int offset = 0)
  {
    act.reserve(offset + rows, layers, hidden, offset);

    // Layer 1: the input is a sum of one-hot vectors, so x·W1 is a sum of rows of W1.
    float* h1 = act.hidden[0].data_ptr<float>() + static_cast<std::int64_t>(offset) * hidden;
    const float* w1 = weights[0].data_ptr<float>();
    const float* b1 = biases[0].data_ptr<float>();
    for (int r = 0; r < rows; ++r) {
      float* row = h1 + static_cast<std::int64_t>(r) * hidden;
      std::memcpy(row, b1, sizeof(float) * static_cast<std::size_t>(hidden));
      for (int s = 0; s < slots; ++s) {
        const float* w = w1 + static_cast<std::int64_t>(active[r * slots + s]) * hidden;
        for (int j = 0; j < hidden; ++j) {
          row[j] += w[j];
        }
      }
    }
    reluInPlace(h1, static_cast<std::int64_t>(rows) * hidden);

    for (int l = 1; l < layers; ++l) {
      at::Tensor in = act.hidden[static_cast<std::size_t>(l - 1)].narrow(0, offset, rows);
      at::Tensor out = act.hidden[static_cast<std::size_t>(l)].narrow(0, offset, rows);
      at::addmm_out(out, biases[static_cast<std::size_t>(l)], in,
                    weights[static_cast<std::size_t>(l)]);
      reluInPlace(out.data_ptr<float>(), static_cast<std::int64_t>(rows) * hidden);
    }

    at::Tensor last = act.hidden[static_cast<std::size_t>(layers - 1)].narrow(0, offset, rows);
    at::Tensor result = at::from_blob(logits, { rows, outputs }, at::kFloat);
    at::addmm_out(result, biases.back(), last, weights.back());
  }
};

Mlp::Mlp(int inputWidth, int hidden, int layers, int outputs)
  : d(std::make_unique<Impl>())
{
  d->inputWidth = inputWidth;
  d->hidden = hidden;
  d->layers = layers;
  d->outputs = outputs;

  std::vector<std::pair<int, int>> shapes;
  shapes.emplace_back(inputWidth, hidden);
  for (int l = 1; l < layers; ++l) {
    shapes.emplace_back(hidden, hidden);
  }
  shapes.emplace_back(hidden, outputs);

  std::int64_t total = 0;
  for (auto [in, out] : shapes) {
    total += static_cast<std::int64_t>(in) * out + out;
  }
  d->params = at::zeros({ total }, at::kFloat);
  d->grads = at::zeros({ total }, at::kFloat);

  std::int64_t offset = 0;
  for (auto [in, out] : shapes) {
    const std::int64_t w = static_cast<std::int64_t>(in) * out;
    d->weights.push_back(d->params.narrow(0, offset, w).view({ in, out }));
    d->weightGrads.push_back(d->grads.narrow(0, offset, w).view({ in, out }));
    d->spans.emplace_back(offset, w);
    offset += w;
    d->biases.push_back(d->params.narrow(0, offset, out));
    d->biasGrads.push_back(d->grads.narrow(0, offset, out));
    d->spans.emplace_back(offset, out);
    offset += out;
  }
}

Mlp::~Mlp() = default;

void Mlp::initialise(Rng& rng)
{
  for (std::size_t l = 0; l < d->weights.size(); ++l) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(d->weights[l].size(0)));
    for (at::Tensor* t : { &d->weights[l], &d->biases[l] }) {
      float* p = t->data_ptr<float>();
      for (std::int64_t i = 0; i < t->numel(); ++i) {
        p[i] = static_cast<float>(rng.uniform(-bound, bound));
      }
    }
  }
}

int Mlp::inputWidth() const { return d->inputWidth; }
int Mlp::hidden() const { return d->hidden; }
int Mlp::layers() const { return d->layers; }
int Mlp::outputs() const { return d->outputs; }
std::int64_t Mlp::parameterCount() const { return d->params.numel(); }
float* Mlp::parameters() { return d->params.data_ptr<float>(); }
const float* Mlp::parameters() const { return d->params.data_ptr<float>(); }
float* Mlp::gradients() { return d->grads.data_ptr<float>(); }

std::vector<std::pair<std::int64_t, std::int64_t>> Mlp::tensorSpans() const
{
  return d->spans;
}

void Mlp::forward(const std::int32_t* active, int slots, int rows, float* logits, bool keep)
{
  if (rows == 0) {
    return;
  }
  if (keep) {
    d->keptActive.assign(active, active + static_cast<std::ptrdiff_t>(rows) * slots);
    d->keptSlots = slots;
    d->keptRows = rows;
    d->run(active, slots, rows, logits, d->kept);
  } else {
    d->run(active, slots, rows, logits, d->scratch);
  }
}

void Mlp::forwardAppend(const std::int32_t* active, int slots, int rows, float* logits)
{
  if (rows == 0) {
    return;
  }
  d->keptActive.insert(d->keptActive.end(), active, active + static_cast<std::ptrdiff_t>(rows) * slots);
  d->keptSlots = slots;
  d->run(active, slots, rows, logits, d->kept, d->keptRows);
  d->keptRows += rows;
}

void Mlp::clearKept()
{
  d->keptActive.clear();
  d->keptRows = 0;
}

int Mlp::keptRows() const { return d->keptRows; }

void Mlp::backward(const float* dLogits)
{
  const int rows = d->keptRows;
  const int hidden = d->hidden;
  d->grads.zero_();
  if (rows == 0) {
    return;
  }

  at::Tensor upstream =
    at::from_blob(const_cast<float*>(dLogits), { rows, d->outputs }, at::kFloat);
  for (at::Tensor& t : d->gradScratch) {
    if (!t.defined() || t.size(0) < rows) {
      t = at::empty({ d->kept.capacity, hidden }, at::kFloat);
    }
  }

  // Output layer, then the hidden layers from the top: dW = hᵀ·g, db = Σ_rows g, g ← g·Wᵀ ⊙ h>0.
  at::Tensor g = upstream;
  for (int l = d->layers; l >= 1; --l) {
    const auto li = static_cast<std::size_t>(l);
    at::Tensor h = d->kept.hidden[li - 1].narrow(0, 0, rows);
    at::mm_out(d->weightGrads[li], h.t(), g);
    at::sum_out(d->biasGrads[li], g, { 0 });
    at::Tensor below = d->gradScratch[l % 2].narrow(0, 0, rows);
    at::mm_out(below, g, d->weights[li].t());
    maskByActivation(below.data_ptr<float>(), h.data_ptr<float>(),
                     static_cast<std::int64_t>(rows) * hidden);
    g = below;
  }

  // First layer: the gradient of a row lookup is a scatter-add into the looked-up rows.
  const float* g1 = g.data_ptr<float>();
  float* dw1 = d->weightGrads[0].data_ptr<float>();
  float* db1 = d->biasGrads[0].data_ptr<float>();
  const int slots = d->keptSlots;
  for (int r = 0; r < rows; ++r) {
    const float* row = g1 + static_cast<std::int64_t>(r) * hidden;
    for (int j = 0; j < hidden; ++j) {
      db1[j] += row[j];
    }
    for (int s = 0; s < slots; ++s) {
      float* w = dw1 + static_cast<std::int64_t>(d->keptActive[r * slots + s]) * hidden;
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
{
}

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
  double sum = 0.0;
  for (std::int64_t i = 0; i < size; ++i) {
    sum += static_cast<double>(grads[i]) * grads[i];
  }
  const double norm = std::sqrt(sum);
  if (maxNorm > 0.0 && norm > maxNorm) {
    const auto scale = static_cast<float>(maxNorm / (norm + 1e-6));
    for (std::int64_t i = 0; i < size; ++i) {
      grads[i] *= scale;
    }
  }
  return norm;
}

} // namespace gfm::core
