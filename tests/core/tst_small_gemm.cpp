// The few-rows product C += A·B against a double-precision loop, over shapes that exercise
// every row block (1..6 rows and more), whole and partial 16-column blocks, and short k.

#include "core/policy/small_gemm.h"

#include "core/util/random.h"

#include <QTest>

#include <cmath>
#include <vector>

using namespace gfm::core;

class TestSmallGemm : public QObject
{
  Q_OBJECT

private slots:
  void matchesDoublePrecision_data()
  {
    QTest::addColumn<int>("m");
    QTest::addColumn<int>("n");
    QTest::addColumn<int>("k");
    for (int m : { 1, 2, 3, 4, 5, 6, 7, 13, 16 }) {
      for (int n : { 3, 16, 40, 256 }) {
        for (int k : { 1, 7, 256 }) {
          QTest::addRow("%d×%d×%d", m, n, k) << m << n << k;
        }
      }
    }
  }

  void matchesDoublePrecision()
  {
    QFETCH(int, m);
    QFETCH(int, n);
    QFETCH(int, k);
    Rng rng(static_cast<std::uint64_t>(m * 100000 + n * 1000 + k));
    auto random = [&](int count) {
      std::vector<float> values(static_cast<std::size_t>(count));
      for (float& v : values) {
        v = static_cast<float>(rng.uniform(-1.0, 1.0));
      }
      return values;
    };
    const std::vector<float> a = random(m * k);
    const std::vector<float> b = random(k * n);
    std::vector<float> c = random(m * n); // accumulated into, like a bias
    const std::vector<float> before = c;

    if (!smallRowsGemm(m, n, k, a.data(), b.data(), c.data())) {
      QSKIP("this CPU has no AVX2 and FMA; the BLAS path is used instead");
    }
    double worst = 0.0;
    for (int i = 0; i < m; ++i) {
      for (int j = 0; j < n; ++j) {
        double expected = before[static_cast<std::size_t>(i * n + j)];
        for (int p = 0; p < k; ++p) {
          expected += static_cast<double>(a[static_cast<std::size_t>(i * k + p)]) *
                      b[static_cast<std::size_t>(p * n + j)];
        }
        worst = std::max(worst, std::abs(c[static_cast<std::size_t>(i * n + j)] - expected));
      }
    }
    // float accumulation over k terms of magnitude ≤ 1: a few ulps of √k-sized sums.
    QVERIFY2(worst < 1e-4, qPrintable(QString::number(worst)));
  }
};

QTEST_GUILESS_MAIN(TestSmallGemm)
#include "tst_small_gemm.moc"
