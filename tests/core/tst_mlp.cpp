#include "core/policy/mlp.h"

#include "core/env/hypergrid.h"
#include "core/mixture/partition.h"
#include "core/train/hypergrid_trainer.h"
#include "core/util/random.h"

#include <QtTest>

// The full LibTorch API for the autograd references. torch uses `slots` as an identifier,
// which Qt defines as a macro.
#pragma push_macro("slots")
#undef slots
#include <torch/torch.h>
#pragma pop_macro("slots")

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <vector>

using namespace gfm::core;

namespace {

/** A copy of `count` floats as a double tensor of `shape` that requires grad. */
torch::Tensor leaf(const float* values, std::vector<std::int64_t> shape)
{
  std::int64_t count = 1;
  for (std::int64_t s : shape) {
    count *= s;
  }
  return torch::from_blob(const_cast<float*>(values), { count }, torch::kFloat)
    .to(torch::kDouble)
    .view(shape)
    .clone()
    .requires_grad_(true);
}

/** Mlp's flat parameters as autograd leaves W1, b1, W2, b2, …, W [in, out]. */
std::vector<torch::Tensor> denseParameters(const Mlp& mlp, const float* flat)
{
  std::vector<torch::Tensor> params;
  const auto spans = mlp.tensorSpans();
  for (std::size_t i = 0; i < spans.size(); i += 2) {
    const std::int64_t out = spans[i + 1].second;
    params.push_back(leaf(flat + spans[i].first, { spans[i].second / out, out }));
    params.push_back(leaf(flat + spans[i + 1].first, { out }));
  }
  return params;
}

/** The textbook dense MLP: one-hot sum input × W1 + b1, ReLU, …, last layer linear. */
torch::Tensor denseForward(const std::vector<torch::Tensor>& params, const torch::Tensor& input)
{
  torch::Tensor h = input;
  const std::size_t layers = params.size() / 2;
  for (std::size_t l = 0; l < layers; ++l) {
    h = torch::addmm(params[2 * l + 1], h, params[2 * l]);
    if (l + 1 < layers) {
      h = torch::relu(h);
    }
  }
  return h;
}

/** rows × width sums of one-hot vectors at `active` (rows × slotCount positions). */
torch::Tensor oneHotRows(const std::vector<std::int32_t>& active,
                         int slotCount,
                         int rows,
                         int width)
{
  torch::Tensor x = torch::zeros({ rows, width }, torch::kDouble);
  for (int r = 0; r < rows; ++r) {
    for (int s = 0; s < slotCount; ++s) {
      x[r][active[static_cast<std::size_t>(r * slotCount + s)]] += 1.0;
    }
  }
  return x;
}

/** max |a − b| / max(max |b|, floor): the error relative to the reference's scale. */
double relativeError(const torch::Tensor& a, const torch::Tensor& b, double floor = 1e-12)
{
  const double scale = std::max(b.abs().max().item<double>(), floor);
  return (a.to(torch::kDouble) - b.to(torch::kDouble)).abs().max().item<double>() / scale;
}

torch::Tensor floatsAsTensor(const float* values, std::int64_t count)
{
  return torch::from_blob(const_cast<float*>(values), { count }, torch::kFloat).clone();
}

} // namespace

class TestMlp : public QObject
{
  Q_OBJECT

private slots:
  void forwardBackwardMatchAutograd_data();
  void forwardBackwardMatchAutograd();
  void flatAdamMatchesTorchAdam();
  void clipGradientNorm_data();
  void clipGradientNorm();
  void clipGradientNormMatchesTorch();
  void trajectoryBalanceGradientMatchesAutograd_data();
  void trajectoryBalanceGradientMatchesAutograd();
};

void TestMlp::forwardBackwardMatchAutograd_data()
{
  QTest::addColumn<int>("layers");
  QTest::addColumn<int>("slotCount");
  QTest::addColumn<int>("rows");
  QTest::addColumn<int>("hidden");
  QTest::addColumn<int>("outputs");
  QTest::addColumn<int>("appendFrom"); // rows from here on join the kept pass by forwardAppend

  // With 7 values per slot, 1 or 2 slots and 50 rows repeat rows many times: the distinct-row
  // sharing, also across appends, must give the gradient of every row counted.
  QTest::newRow("1 layer, 1 slot, 1 row") << 1 << 1 << 1 << 8 << 3 << 1;
  QTest::newRow("1 layer, 3 slots, 20 rows") << 1 << 3 << 20 << 16 << 4 << 20;
  QTest::newRow("2 layers, 2 slots, 17 rows") << 2 << 2 << 17 << 32 << 3 << 17;
  QTest::newRow("2 layers, 1 slot, 50 rows") << 2 << 1 << 50 << 64 << 2 << 50;
  QTest::newRow("2 layers, 1 slot, 50 rows, appended") << 2 << 1 << 50 << 64 << 2 << 3;
  QTest::newRow("3 layers, 3 slots, 50 rows") << 3 << 3 << 50 << 24 << 5 << 50;
  QTest::newRow("3 layers, 2 slots, 60 rows, appended") << 3 << 2 << 60 << 24 << 5 << 25;
  QTest::newRow("3 layers, 2 slots, 5 rows") << 3 << 2 << 5 << 40 << 1 << 5;
}

void TestMlp::forwardBackwardMatchAutograd()
{
  QFETCH(int, layers);
  QFETCH(int, slotCount);
  QFETCH(int, rows);
  QFETCH(int, hidden);
  QFETCH(int, outputs);
  QFETCH(int, appendFrom);
  const int height = 7; // one-hot block per slot, as the hypergrid's coordinates
  const int width = slotCount * height;

  Rng rng(1234 + static_cast<std::uint64_t>(layers * 100 + slotCount * 10 + rows));
  Mlp mlp(width, hidden, layers, outputs);
  mlp.initialise(rng);
  // Biases start small; push them up so that some ReLUs are dead and some alive in every layer.
  for (std::int64_t i = 0; i < mlp.parameterCount(); ++i) {
    mlp.parameters()[i] += static_cast<float>(0.1 * rng.normal());
  }

  auto randomActive = [&](int count) {
    std::vector<std::int32_t> active(static_cast<std::size_t>(count * slotCount));
    for (int r = 0; r < count; ++r) {
      for (int s = 0; s < slotCount; ++s) {
        active[static_cast<std::size_t>(r * slotCount + s)] =
          s * height + static_cast<std::int32_t>(rng.below(height));
      }
    }
    return active;
  };
  const std::vector<std::int32_t> active = randomActive(rows);
  std::vector<float> logits(static_cast<std::size_t>(rows * outputs));
  mlp.forward(active.data(), slotCount, appendFrom, logits.data(), true);
  mlp.forwardAppend(active.data() + static_cast<std::ptrdiff_t>(appendFrom) * slotCount,
                    slotCount,
                    rows - appendFrom,
                    logits.data() + static_cast<std::ptrdiff_t>(appendFrom) * outputs);

  // A pass without `keep` in between must leave the kept activations for backward() alone.
  const std::vector<std::int32_t> other = randomActive(rows + 3);
  std::vector<float> otherLogits(static_cast<std::size_t>((rows + 3) * outputs));
  mlp.forward(other.data(), slotCount, rows + 3, otherLogits.data(), false);

  std::vector<float> dLogits(logits.size());
  for (float& g : dLogits) {
    g = static_cast<float>(rng.normal());
  }
  mlp.backward(dLogits.data());

  std::vector<torch::Tensor> params = denseParameters(mlp, mlp.parameters());
  const torch::Tensor reference = denseForward(params, oneHotRows(active, slotCount, rows, width));
  QVERIFY(relativeError(floatsAsTensor(logits.data(), rows * outputs).view({ rows, outputs }),
                        reference,
                        1.0) < 1e-5);
  const torch::Tensor otherReference =
    denseForward(params, oneHotRows(other, slotCount, rows + 3, width));
  QVERIFY(relativeError(
            floatsAsTensor(otherLogits.data(), (rows + 3) * outputs).view({ rows + 3, outputs }),
            otherReference,
            1.0) < 1e-5);

  const torch::Tensor upstream =
    floatsAsTensor(dLogits.data(), rows * outputs).view({ rows, outputs }).to(torch::kDouble);
  (reference * upstream).sum().backward();
  const auto spans = mlp.tensorSpans();
  double gradientMass = 0.0;
  for (std::size_t i = 0; i < spans.size(); ++i) {
    const torch::Tensor expected = params[i].grad().reshape({ -1 });
    const torch::Tensor actual = floatsAsTensor(mlp.gradients() + spans[i].first, spans[i].second);
    gradientMass += expected.abs().sum().item<double>();
    const double error = relativeError(actual, expected, 1e-6);
    if (error > 1e-4) {
      QFAIL(qPrintable(QStringLiteral("tensor %1: relative error %2").arg(i).arg(error)));
    }
  }
  QVERIFY(gradientMass > 0.0);
}

void TestMlp::flatAdamMatchesTorchAdam()
{
  const std::int64_t size = 37;
  const double lr = 0.01;
  Rng rng(5);
  std::vector<float> params(static_cast<std::size_t>(size));
  for (float& p : params) {
    p = static_cast<float>(rng.normal());
  }
  const std::vector<float> initial = params;
  torch::Tensor reference = floatsAsTensor(params.data(), size).requires_grad_(true);
  torch::optim::Adam torchAdam({ reference }, torch::optim::AdamOptions(lr));
  FlatAdam adam(size, lr);

  std::vector<float> grads(static_cast<std::size_t>(size));
  for (int step = 1; step <= 6; ++step) {
    for (float& g : grads) {
      // Mixed scales, and one exactly-zero entry that Adam must leave still at step 1.
      g = static_cast<float>(rng.normal() * (step % 2 == 0 ? 1e-3 : 1.0));
    }
    grads[0] = step == 1 ? 0.0f : grads[0];
    adam.step(params.data(), grads.data());
    reference.mutable_grad() = floatsAsTensor(grads.data(), size);
    torchAdam.step();

    QCOMPARE(adam.stepCount(), static_cast<std::int64_t>(step));
    const double error =
      (floatsAsTensor(params.data(), size) - reference.detach()).abs().max().item<double>();
    QVERIFY2(error < 1e-6, qPrintable(QStringLiteral("step %1: %2").arg(step).arg(error)));
  }
  // Six steps of about lr each: the comparison was not between two parameter sets at rest.
  QVERIFY((floatsAsTensor(params.data(), size) - floatsAsTensor(initial.data(), size))
            .abs()
            .mean()
            .item<double>() > 1e-3);
}

void TestMlp::clipGradientNorm_data()
{
  QTest::addColumn<double>("maxNorm");
  QTest::addColumn<double>("x");
  QTest::addColumn<double>("y");

  // (3, 4) has norm 5; clipping scales by maxNorm / (5 + 1e-6), PyTorch's rule.
  QTest::newRow("clipped to 1") << 1.0 << 3.0 / (5.0 + 1e-6) << 4.0 / (5.0 + 1e-6);
  QTest::newRow("clipped to 2.5") << 2.5 << 7.5 / (5.0 + 1e-6) << 10.0 / (5.0 + 1e-6);
  QTest::newRow("below the limit") << 10.0 << 3.0 << 4.0;
  QTest::newRow("exactly at the limit") << 5.0 << 3.0 << 4.0;
  QTest::newRow("off") << 0.0 << 3.0 << 4.0;
}

void TestMlp::clipGradientNorm()
{
  QFETCH(double, maxNorm);
  QFETCH(double, x);
  QFETCH(double, y);

  float grads[2] = { 3.0f, 4.0f };
  // With clipping off nothing is computed: the norm reads 0.
  QCOMPARE(gfm::core::clipGradientNorm(grads, 2, maxNorm), maxNorm > 0.0 ? 5.0 : 0.0);
  QVERIFY(std::abs(grads[0] - x) < 1e-6);
  QVERIFY(std::abs(grads[1] - y) < 1e-6);
}

void TestMlp::clipGradientNormMatchesTorch()
{
  const std::int64_t size = 100;
  Rng rng(9);
  std::vector<float> grads(static_cast<std::size_t>(size));
  for (float& g : grads) {
    g = static_cast<float>(rng.normal());
  }
  torch::Tensor p = torch::zeros({ size }, torch::kFloat).requires_grad_(true);
  p.mutable_grad() = floatsAsTensor(grads.data(), size);

  const double torchNorm = torch::nn::utils::clip_grad_norm_(std::vector<torch::Tensor>{ p }, 0.5);
  const double norm = gfm::core::clipGradientNorm(grads.data(), size, 0.5);
  QVERIFY(std::abs(norm - torchNorm) < 1e-5 * torchNorm);
  QVERIFY(relativeError(floatsAsTensor(grads.data(), size), p.grad()) < 1e-6);
  QVERIFY(std::abs(floatsAsTensor(grads.data(), size).norm().item<double>() - 0.5) < 1e-5);
}

void TestMlp::trajectoryBalanceGradientMatchesAutograd_data()
{
  QTest::addColumn<int>("backward");
  QTest::addColumn<bool>("sharedTrunk");
  QTest::addColumn<double>("offPolicyRatio");
  QTest::addColumn<double>("epsilon");

  const int learned = static_cast<int>(BackwardPolicy::Learned);
  const int uniform = static_cast<int>(BackwardPolicy::Uniform);
  QTest::newRow("learned P_B, separate nets, on-policy") << learned << false << 0.0 << 0.0;
  QTest::newRow("learned P_B, separate nets, mixed batch") << learned << false << 0.25 << 0.1;
  QTest::newRow("learned P_B, shared trunk, mixed batch") << learned << true << 0.25 << 0.1;
  QTest::newRow("uniform P_B, mixed batch") << uniform << false << 0.5 << 0.2;
}

/**
 * The trainer's hand-written TB gradient (dL/dz_j = (1[j = a] − p_j)·2δ/B per logit row, fed to
 * Mlp::backward) equals autograd of the TB loss written plainly, on the very batch it trained on.
 */
void TestMlp::trajectoryBalanceGradientMatchesAutograd()
{
  QFETCH(int, backward);
  QFETCH(bool, sharedTrunk);
  QFETCH(double, offPolicyRatio);
  QFETCH(double, epsilon);

  const Hypergrid grid(HypergridSpec{ 2, 8, 0.1, 0.5, 2.0 });
  const int dim = grid.dim();
  const int height = grid.height();
  const int actions = grid.forwardActionCount();
  PolicySpec policy;
  policy.hidden = 32;
  policy.layers = 2;
  policy.backward = static_cast<BackwardPolicy>(backward);
  policy.sharedTrunk = sharedTrunk;
  TrainingSpec training;
  training.batch = 12;
  training.offPolicyRatio = offPolicyRatio;
  training.epsilon = epsilon;
  training.seed = 77;
  training.clipGradNorm = 1.0; // the trace holds the gradient before clipping
  // Part 2 of the orthants: many on-policy trajectories end outside it, at the floor.
  auto partOf = std::make_shared<const std::vector<std::int32_t>>(nearestModePartition(grid));
  HypergridTrainer trainer(grid, policy, training, PartMembership{ partOf, 2 });

  // A few updates first, so that log Z and the networks are away from their initial values.
  for (int i = 0; i < 3; ++i) {
    trainer.step();
  }
  const PartCheckpoint before = trainer.checkpoint();
  StepTrace trace;
  trainer.setTrace(&trace);
  trainer.step();

  const bool learned = policy.backward == BackwardPolicy::Learned;
  const int forwardOutputs = learned && sharedTrunk ? actions + dim : actions;
  const Mlp forwardShape(dim * height, policy.hidden, policy.layers, forwardOutputs);
  const Mlp backwardShape(dim * height, policy.hidden, policy.layers, dim);
  const bool separate = learned && !sharedTrunk;
  const std::int64_t forwardCount = forwardShape.parameterCount();
  QCOMPARE(static_cast<std::int64_t>(before.parameters.size()),
           forwardCount + (separate ? backwardShape.parameterCount() : 0));
  QCOMPARE(trace.gradients.size(), before.parameters.size());

  std::vector<torch::Tensor> forwardParams =
    denseParameters(forwardShape, before.parameters.data());
  std::vector<torch::Tensor> backwardParams;
  if (separate) {
    backwardParams = denseParameters(backwardShape, before.parameters.data() + forwardCount);
  }
  torch::Tensor logZ = torch::tensor(before.logZ, torch::kDouble).requires_grad_(true);

  // Every transition s → s' with action a: P_F(a|s) over the allowed actions at s, and for a
  // non-stop action P_B(a|s') over the parents of s'.
  const auto rows = static_cast<int>(trace.actions.size());
  const int width = dim * height;
  std::vector<torch::Tensor> sumLogPF(static_cast<std::size_t>(training.batch),
                                      torch::zeros({}, torch::kDouble));
  std::vector<torch::Tensor> sumLogPB = sumLogPF;
  std::vector<std::int32_t> child(static_cast<std::size_t>(dim));
  const torch::Tensor forwardLogits =
    denseForward(forwardParams, oneHotRows(trace.positions, dim, rows, width));
  for (int r = 0; r < rows; ++r) {
    const std::int32_t* positions = &trace.positions[static_cast<std::size_t>(r * dim)];
    const int a = trace.actions[static_cast<std::size_t>(r)];
    const auto t = static_cast<std::size_t>(trace.trajectories[static_cast<std::size_t>(r)]);

    torch::Tensor mask = torch::zeros({ actions }, torch::kBool);
    for (int d = 0; d < dim; ++d) {
      mask[d] = positions[d] - d * height < height - 1;
    }
    mask[dim] = true;
    const torch::Tensor z = forwardLogits[r].narrow(0, 0, actions);
    const torch::Tensor logP = torch::log_softmax(
      z.masked_fill(mask.logical_not(), -std::numeric_limits<double>::infinity()), 0);
    sumLogPF[t] = sumLogPF[t] + logP[a];
    if (a == dim) {
      continue;
    }

    std::copy(positions, positions + dim, child.begin());
    child[static_cast<std::size_t>(a)] += 1;
    torch::Tensor parents = torch::zeros({ dim }, torch::kBool);
    for (int d = 0; d < dim; ++d) {
      parents[d] = child[static_cast<std::size_t>(d)] - d * height > 0;
    }
    if (!learned) {
      sumLogPB[t] = sumLogPB[t] - std::log(parents.sum().item<double>());
      continue;
    }
    const torch::Tensor input = oneHotRows(child, dim, 1, width);
    const torch::Tensor zb = separate
                               ? denseForward(backwardParams, input)[0]
                               : denseForward(forwardParams, input)[0].narrow(0, actions, dim);
    const torch::Tensor logPB = torch::log_softmax(
      zb.masked_fill(parents.logical_not(), -std::numeric_limits<double>::infinity()), 0);
    sumLogPB[t] = sumLogPB[t] + logPB[a];
  }
  torch::Tensor loss = torch::zeros({}, torch::kDouble);
  for (int t = 0; t < training.batch; ++t) {
    const auto ti = static_cast<std::size_t>(t);
    const torch::Tensor delta =
      logZ + sumLogPF[ti] - trainer.logReward(trace.terminals[ti]) - sumLogPB[ti];
    loss = loss + delta * delta / training.batch;
  }
  loss.backward();

  QVERIFY(std::abs(loss.item<double>() - trace.loss) < 1e-5 * std::max(1.0, trace.loss));
  QVERIFY(std::abs(logZ.grad().item<double>() - trace.logZGradient) <
          1e-5 * std::max(1.0, std::abs(trace.logZGradient)));

  auto compare =
    [&](const std::vector<torch::Tensor>& params, const Mlp& shape, std::int64_t offset) {
      const auto spans = shape.tensorSpans();
      for (std::size_t i = 0; i < spans.size(); ++i) {
        const torch::Tensor expected = params[i].grad().reshape({ -1 });
        const torch::Tensor actual =
          floatsAsTensor(trace.gradients.data() + offset + spans[i].first, spans[i].second);
        const double error = relativeError(actual, expected, 1e-6);
        if (error > 1e-4) {
          return QStringLiteral("tensor %1 at %2: relative error %3").arg(i).arg(offset).arg(error);
        }
      }
      return QString();
    };
  QString failure = compare(forwardParams, forwardShape, 0);
  QVERIFY2(failure.isEmpty(), qPrintable(failure));
  if (separate) {
    failure = compare(backwardParams, backwardShape, forwardCount);
    QVERIFY2(failure.isEmpty(), qPrintable(failure));
  }
  QVERIFY(forwardParams[0].grad().abs().sum().item<double>() > 0.0);
}

QTEST_GUILESS_MAIN(TestMlp)
#include "tst_mlp.moc"
