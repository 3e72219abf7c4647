#include "core/policy/small_gemm.h"

#include <immintrin.h>

#include <cstddef>
#include <vector>

namespace gfm::core {

namespace {

constexpr int kBlockRows = 6;
constexpr int kBlockColumns = 16; // two AVX2 registers

/** One block of `Rows` rows (≤ 6) of C over the column range [0, n - n % 16). */
template<int Rows>
__attribute__((target("avx2,fma"))) void blockRows(int n,
                                                   int k,
                                                   const float* a,
                                                   const float* b,
                                                   float* c)
{
  for (int j = 0; j + kBlockColumns <= n; j += kBlockColumns) {
    __m256 low[Rows];
    __m256 high[Rows];
    // The row loops must unroll for the accumulators to live in registers.
#pragma GCC unroll 6
    for (int r = 0; r < Rows; ++r) {
      low[r] = _mm256_loadu_ps(c + static_cast<std::ptrdiff_t>(r) * n + j);
      high[r] = _mm256_loadu_ps(c + static_cast<std::ptrdiff_t>(r) * n + j + 8);
    }
    const float* bRow = b + j;
    for (int p = 0; p < k; ++p, bRow += n) {
      const __m256 b0 = _mm256_loadu_ps(bRow);
      const __m256 b1 = _mm256_loadu_ps(bRow + 8);
#pragma GCC unroll 6
      for (int r = 0; r < Rows; ++r) {
        const __m256 x = _mm256_broadcast_ss(a + static_cast<std::ptrdiff_t>(r) * k + p);
        low[r] = _mm256_fmadd_ps(x, b0, low[r]);
        high[r] = _mm256_fmadd_ps(x, b1, high[r]);
      }
    }
#pragma GCC unroll 6
    for (int r = 0; r < Rows; ++r) {
      _mm256_storeu_ps(c + static_cast<std::ptrdiff_t>(r) * n + j, low[r]);
      _mm256_storeu_ps(c + static_cast<std::ptrdiff_t>(r) * n + j + 8, high[r]);
    }
  }
}

/**
 * The columns past the last whole 16 (the output layer's few columns live here), as dot
 * products of A's rows with B's columns, which are copied out contiguous first.
 */
__attribute__((target("avx2,fma"))) void remainderColumns(int m,
                                                          int n,
                                                          int k,
                                                          const float* a,
                                                          const float* b,
                                                          float* c)
{
  const int first = n - n % kBlockColumns;
  thread_local std::vector<float> column;
  column.resize(static_cast<std::size_t>(k));
  for (int j = first; j < n; ++j) {
    for (int p = 0; p < k; ++p) {
      column[static_cast<std::size_t>(p)] = b[static_cast<std::ptrdiff_t>(p) * n + j];
    }
    for (int i = 0; i < m; ++i) {
      const float* aRow = a + static_cast<std::ptrdiff_t>(i) * k;
      __m256 sum = _mm256_setzero_ps();
      int p = 0;
      for (; p + 8 <= k; p += 8) {
        sum = _mm256_fmadd_ps(_mm256_loadu_ps(aRow + p), _mm256_loadu_ps(column.data() + p), sum);
      }
      // Horizontal sum of the eight lanes, then the last k % 8 terms.
      __m128 half = _mm_add_ps(_mm256_castps256_ps128(sum), _mm256_extractf128_ps(sum, 1));
      half = _mm_add_ps(half, _mm_movehl_ps(half, half));
      half = _mm_add_ss(half, _mm_shuffle_ps(half, half, 1));
      float total = _mm_cvtss_f32(half);
      for (; p < k; ++p) {
        total += aRow[p] * column[static_cast<std::size_t>(p)];
      }
      c[static_cast<std::ptrdiff_t>(i) * n + j] += total;
    }
  }
}

bool cpuHasAvx2Fma()
{
  static const bool has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return has;
}

} // namespace

bool smallRowsGemm(int m, int n, int k, const float* a, const float* b, float* c)
{
  if (!cpuHasAvx2Fma()) {
    return false;
  }
  for (int i = 0; i < m; i += kBlockRows) {
    const float* aBlock = a + static_cast<std::ptrdiff_t>(i) * k;
    float* cBlock = c + static_cast<std::ptrdiff_t>(i) * n;
    switch (m - i) {
      case 1:
        blockRows<1>(n, k, aBlock, b, cBlock);
        break;
      case 2:
        blockRows<2>(n, k, aBlock, b, cBlock);
        break;
      case 3:
        blockRows<3>(n, k, aBlock, b, cBlock);
        break;
      case 4:
        blockRows<4>(n, k, aBlock, b, cBlock);
        break;
      case 5:
        blockRows<5>(n, k, aBlock, b, cBlock);
        break;
      default:
        blockRows<kBlockRows>(n, k, aBlock, b, cBlock);
        break;
    }
  }
  if (n % kBlockColumns != 0) {
    remainderColumns(m, n, k, a, b, c);
  }
  return true;
}

} // namespace gfm::core
