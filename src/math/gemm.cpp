// The GEMM wrapper: the only file that includes <cblas.h>.
#include "fmnist/math/gemm.h"

#include <cblas.h>

#include <algorithm>
#include <cstring>

namespace fmnist {

void gemm(Transpose trans_a, Transpose trans_b, int m, int n, int k, float alpha, const float* a,
          const float* b, float beta, float* c) {
  if (m == 0 || n == 0) return;
  if (k == 0) {  // op(A) * op(B) is empty: C = beta * C, with beta = 0 meaning overwrite.
    for (int i = 0; i < m * n; ++i) c[i] = beta == 0.0f ? 0.0f : beta * c[i];
    return;
  }
  const bool ta = trans_a == Transpose::kYes;
  const bool tb = trans_b == Transpose::kYes;
  const int lda = ta ? m : k;  // row length of A as stored
  const int ldb = tb ? k : n;
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n,
              k, alpha, a, std::max(lda, 1), b, std::max(ldb, 1), beta, c, std::max(n, 1));
}

void set_blas_threads(int threads) { openblas_set_num_threads(std::max(threads, 1)); }

int blas_threads() { return openblas_get_num_threads(); }

}  // namespace fmnist
