// The one GEMM entry point of fmnist_dist (after Caffe's caffe_cpu_gemm): row-major,
// leading dimensions derived from the transposes, so no caller passes lda by hand.
#pragma once

namespace fmnist {

enum class Transpose { kNo, kYes };

/// C(m, n) = alpha * op(A) * op(B) + beta * C, all row-major and densely packed.
/// op(A) is (m, k): A is stored (m, k) for kNo and (k, m) for kYes; likewise op(B) is (k, n).
/// With beta = 0, C is overwritten (its old contents, even NaN, are ignored).
void gemm(Transpose trans_a, Transpose trans_b, int m, int n, int k, float alpha, const float* a,
          const float* b, float beta, float* c);

/// The time spent in gemm() calls made by this thread since reset_gemm_tally(), and their
/// FLOPs (2 m n k each): the benchmark splits a training step into GEMM and everything else.
struct GemmTally {
  double seconds = 0.0;
  double flops = 0.0;
};
void reset_gemm_tally();
GemmTally gemm_tally();

/// Threads OpenBLAS may use in this process.
void set_blas_threads(int threads);
int blas_threads();

}  // namespace fmnist
