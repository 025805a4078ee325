// The one GEMM entry point of fmnist_dist (after Caffe's caffe_cpu_gemm): row-major,
// leading dimensions derived from the transposes, so no caller passes lda by hand.
#pragma once

namespace fmnist {

enum class Transpose { kNo, kYes };

/// C(m, n) = alpha * op(A) * op(B) + beta * C, all row-major and densely packed.
/// op(A) is (m, k): A is stored (m, k) for kNo and (k, m) for kYes; likewise op(B) is (k, n).
/// With beta = 0, C is overwritten (its old contents, even NaN, are ignored).
/// Where OpenBLAS has unpacked small-matrix kernels, a product too large for them may run as
/// several that fit (see gemm_pieces).
void gemm(Transpose trans_a, Transpose trans_b, int m, int n, int k, float alpha, const float* a,
          const float* b, float beta, float* c);

/// How gemm() cuts a product into pieces: `count` slices of `size` (the last one smaller)
/// along the rows of C (kRows), or along the inner dimension, accumulated with beta = 1 after
/// the first (kDepth); kWhole runs it as one call.
struct GemmPieces {
  enum Along { kWhole, kRows, kDepth } along = kWhole;
  int size = 0;
  int count = 1;
};

/// OpenBLAS' SkylakeX-class kernels (SkylakeX, Cooperlake, SapphireRapids; OpenBLAS 0.3.18 on) run a
/// product of m n k <= 100^3 on one thread without packing A and B, much faster at the shapes
/// here: cnn's second conv over its batch's 6,272 rows, in calls of 784 rows (a tile) against
/// 53 (a piece), forward 167 -> 202 GFLOP/s and dW 160 -> 226, but dcol 170 -> 118. The cut
/// for a row-major product, given the largest m n k a piece may have (0: never cut):
///   no transposes     rows of C when a slice holds 16 rows or more, else the inner dimension;
///   op(A) transposed  (dW = col^T dy) the inner dimension, else the rows of C;
///   op(B) transposed  never: OpenBLAS keeps that orientation (dcol = dy W^T) off its small
///                     kernels unless C has at most 1,200 values, and such pieces ran slower;
/// and only when each piece gets 16 or more of the dimension cut. Slices are of equal size.
GemmPieces gemm_pieces(Transpose trans_a, Transpose trans_b, int m, int n, int k, long max_piece_mnk);

/// The largest m n k a piece may have with the OpenBLAS kernel and thread count in use now:
/// 100^3 for a SkylakeX-class kernel on one thread (the small kernels do not thread), else 0.
long gemm_piece_limit();

/// gemm() with an explicit piece limit: the tests run the cut under any kernel.
void gemm_with_piece_limit(long max_piece_mnk, Transpose trans_a, Transpose trans_b, int m, int n, int k,
                           float alpha, const float* a, const float* b, float beta, float* c);

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
