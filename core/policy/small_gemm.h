#pragma once

namespace gfm::core {

/**
 * @brief C += A·B for row-major, densely stored A (m×k), B (k×n) and C (m×n), for the few rows
 * of a roll-out step.
 *
 * A BLAS packs all of B on every call, which for a 256×256 weight matrix and a handful of rows
 * costs about as much as the product itself; this kernel streams B straight from cache instead.
 * It holds 6×16 blocks of C in AVX2 registers and is picked at run time; it returns false
 * (and leaves C alone) on a CPU without AVX2 and FMA, where the caller uses its BLAS.
 */
bool smallRowsGemm(int m, int n, int k, const float* a, const float* b, float* c);

} // namespace gfm::core
