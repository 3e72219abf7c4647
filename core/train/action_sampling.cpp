#include "core/train/action_sampling.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace gfm::core {

double maskedSoftmax(const float* logits, const bool* allowed, int width, double* probs)
{
  double top = -std::numeric_limits<double>::infinity();
  for (int j = 0; j < width; ++j) {
    if (allowed[j]) {
      top = std::max(top, static_cast<double>(logits[j]));
    }
  }
  double sum = 0.0;
  for (int j = 0; j < width; ++j) {
    probs[j] = allowed[j] ? std::exp(static_cast<double>(logits[j]) - top) : 0.0;
    sum += probs[j];
  }
  for (int j = 0; j < width; ++j) {
    probs[j] /= sum;
  }
  return top + std::log(sum);
}

int sampleIndex(const double* probs, int width, double u)
{
  double cumulative = 0.0;
  int last = 0;
  for (int j = 0; j < width; ++j) {
    if (probs[j] > 0.0) {
      cumulative += probs[j];
      last = j;
      if (u < cumulative) {
        return j;
      }
    }
  }
  return last;
}

} // namespace gfm::core
