#pragma once

#include <cstdint>
#include <memory>
#include <vector>

namespace gfm::core {

class Rng;

/**
 * @brief A ReLU multilayer perceptron over sparse one-hot inputs, with a hand-written backward.
 *
 * The input of a row is the sum of `slots` one-hot vectors of total length `inputWidth` (for the
 * hypergrid: D slots, the one-hot of each coordinate, inputWidth = D·H), so the first layer is a
 * sum of `slots` rows of its weight matrix instead of a dense product. Layout:
 * inputWidth → hidden (layer 1) → hidden … (layers - 1 more) → outputs, ReLU between.
 *
 * Rows that repeat within a pass (the same active positions) are computed once: a batch of
 * trajectories shares many states, and a row's output depends on its input alone. The backward
 * sums the gradients of a row's copies before the products, which is the same gradient.
 *
 * All parameters live in one contiguous float32 buffer (and their gradients in another) so that
 * Adam, clipping and checkpoints are flat loops. Weights are stored [in, out]. The backward is
 * checked against LibTorch's autograd in tests/core/tst_mlp.cpp.
 *
 * Not thread-safe: one owner thread, like everything a part owns.
 */
class Mlp
{
public:
  Mlp(int inputWidth, int hidden, int layers, int outputs);
  ~Mlp();
  Mlp(const Mlp&) = delete;
  Mlp& operator=(const Mlp&) = delete;

  /** @brief PyTorch's nn.Linear default: weights and biases ~ U(-1/sqrt(fan_in), +). */
  void initialise(Rng& rng);

  int inputWidth() const;
  int hidden() const;
  int layers() const;
  int outputs() const;

  /**
   * @brief Forward pass of `rows` rows; `active` holds rows × slots input positions.
   *
   * Writes rows × outputs logits (row-major) to `logits`. With `keep`, the activations are kept
   * for the next backward() (the previous kept pass is overwritten).
   */
  void forward(const std::int32_t* active, int slots, int rows, float* logits, bool keep);

  /**
   * @brief Like forward(), but appends the rows' activations to the kept pass instead of
   * replacing it, so that a roll-out's own forward passes become the training pass.
   * Start a new kept pass with clearKept().
   */
  void forwardAppend(const std::int32_t* active, int slots, int rows, float* logits);

  /** @brief Empties the kept pass. */
  void clearKept();

  /**
   * @brief Writes the gradients of the kept pass, given dLoss/dlogits (rows × outputs).
   *
   * Gradients are overwritten, not accumulated.
   */
  void backward(const float* dLogits);

  std::int64_t parameterCount() const;
  float* parameters();
  const float* parameters() const;
  float* gradients();

  /** @brief Offsets and sizes of each parameter tensor in the flat buffer: W1,b1,W2,b2,… */
  std::vector<std::pair<std::int64_t, std::int64_t>> tensorSpans() const;

private:
  struct Impl;
  std::unique_ptr<Impl> d;
};

/**
 * @brief Adam over one flat parameter buffer (PyTorch's update rule, bias-corrected).
 */
class FlatAdam
{
public:
  FlatAdam(std::int64_t size,
           double lr,
           double beta1 = 0.9,
           double beta2 = 0.999,
           double eps = 1e-8);

  void step(float* params, const float* grads);

  double learningRate() const { return m_lr; }
  void setLearningRate(double lr) { m_lr = lr; }
  std::int64_t stepCount() const { return m_step; }

  /** @brief First and second moments, for checkpoints. */
  std::vector<float>& firstMoment() { return m_m; }
  std::vector<float>& secondMoment() { return m_v; }
  void setStepCount(std::int64_t step) { m_step = step; }

private:
  double m_lr;
  double m_beta1;
  double m_beta2;
  double m_eps;
  std::int64_t m_step = 0;
  std::vector<float> m_m;
  std::vector<float> m_v;
};

/**
 * @brief Scales `grads` so that its L2 norm is at most maxNorm; returns the norm before.
 * maxNorm <= 0 turns clipping off (and returns 0 without computing the norm).
 */
double clipGradientNorm(float* grads, std::int64_t size, double maxNorm);

} // namespace gfm::core
