#pragma once

namespace gfm::core {

/**
 * @brief Masked softmax of `width` logits into `probs`, in double; masked entries get exactly
 * 0. Returns log Σ exp over the allowed entries (the log-softmax normaliser).
 *
 * Every trainer computes its action probabilities with this one function, so that two trainers
 * fed the same random draws take the same actions.
 */
double maskedSoftmax(const float* logits, const bool* allowed, int width, double* probs);

/**
 * @brief The action whose cumulative probability first exceeds u ∈ [0, 1); rounding slack above
 * the last cumulative sum goes to the last allowed action.
 */
int sampleIndex(const double* probs, int width, double u);

} // namespace gfm::core
