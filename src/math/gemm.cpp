// The GEMM wrapper: the only file that includes <cblas.h>.
#include "fmnist/math/gemm.h"

#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <optional>

#include "fmnist/math/blas_kernel.h"

namespace fmnist {
namespace {

// Two clock reads per call, about 40 ns against the microseconds of the smallest GEMM here.
thread_local GemmTally tally;

// Each piece gets at least this much of the dimension cut: thinner slices leave the small
// kernels' register blocks mostly empty.
constexpr int kMinPieceSlice = 16;

// OpenBLAS' small-matrix permit for these kernels (kernel/x86_64/sgemm_small_kernel_permit_skylakex.c).
constexpr long kSmallKernelMnk = 100L * 100 * 100;

// The AVX-512 kernels (SkylakeX, Cooperlake, SapphireRapids) are the ones built on SkylakeX's,
// small-matrix kernels included.
bool has_small_kernels(const char* core) {
  const std::optional<int> level = blas_kernel_level(core ? core : "");
  return level && *level >= 4;
}

// op(A) (m, k) times op(B) (k, n) into C (m, n), row-major, A and B read with the given row
// lengths (a slice of columns keeps its parent's).
void sgemm(bool ta, bool tb, int m, int n, int k, float alpha, const float* a, int lda, const float* b,
           int ldb, float beta, float* c) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, alpha,
              a, std::max(lda, 1), b, std::max(ldb, 1), beta, c, std::max(n, 1));
}

GemmPieces cut(GemmPieces::Along along, int length, long slice) {
  if (slice < kMinPieceSlice || slice >= length) return GemmPieces{};
  const int count = static_cast<int>((length + slice - 1) / slice);
  const int size = (length + count - 1) / count;  // equal slices: no thin last one
  return GemmPieces{along, size, (length + size - 1) / size};
}

}  // namespace

void reset_gemm_tally() { tally = GemmTally{}; }

GemmTally gemm_tally() { return tally; }

GemmPieces gemm_pieces(Transpose trans_a, Transpose trans_b, int m, int n, int k, long max_piece_mnk) {
  const double mnk = static_cast<double>(m) * n * k;
  if (max_piece_mnk <= 0 || mnk <= static_cast<double>(max_piece_mnk) || trans_b == Transpose::kYes)
    return GemmPieces{};
  const long rows = max_piece_mnk / (static_cast<long>(n) * k);   // slice of C's rows
  const long depth = max_piece_mnk / (static_cast<long>(m) * n);  // slice of the inner dimension
  const bool rows_first = trans_a == Transpose::kNo;
  GemmPieces pieces = rows_first ? cut(GemmPieces::kRows, m, rows) : cut(GemmPieces::kDepth, k, depth);
  if (pieces.along == GemmPieces::kWhole)
    pieces = rows_first ? cut(GemmPieces::kDepth, k, depth) : cut(GemmPieces::kRows, m, rows);
  return pieces;
}

long gemm_piece_limit() {
  static const bool small_kernels = has_small_kernels(openblas_get_corename());
  return small_kernels && openblas_get_num_threads() == 1 ? kSmallKernelMnk : 0;
}

void gemm_with_piece_limit(long max_piece_mnk, Transpose trans_a, Transpose trans_b, int m, int n, int k,
                           float alpha, const float* a, const float* b, float beta, float* c) {
  if (m == 0 || n == 0) return;
  if (k == 0) {  // op(A) * op(B) is empty: C = beta * C, with beta = 0 meaning overwrite.
    for (int i = 0; i < m * n; ++i) c[i] = beta == 0.0f ? 0.0f : beta * c[i];
    return;
  }
  const bool ta = trans_a == Transpose::kYes;
  const bool tb = trans_b == Transpose::kYes;
  const int lda = ta ? m : k;  // row length of A as stored: (k, m) or (m, k)
  const int ldb = tb ? k : n;  // (n, k) or (k, n)
  const auto start = std::chrono::steady_clock::now();
  const GemmPieces pieces = gemm_pieces(trans_a, trans_b, m, n, k, max_piece_mnk);
  if (pieces.along == GemmPieces::kRows) {
    // Rows [r, r + rows) of C from rows of A (columns, when A is stored transposed).
    for (int r = 0; r < m; r += pieces.size) {
      const int rows = std::min(pieces.size, m - r);
      const float* a_rows = ta ? a + r : a + static_cast<std::size_t>(r) * k;
      sgemm(ta, tb, rows, n, k, alpha, a_rows, lda, b, ldb, beta, c + static_cast<std::size_t>(r) * n);
    }
  } else if (pieces.along == GemmPieces::kDepth) {
    // C (+)= op(A)[:, p:p+d] op(B)[p:p+d, :]; op(B) is never transposed here (see gemm_pieces).
    for (int p = 0; p < k; p += pieces.size) {
      const int depth = std::min(pieces.size, k - p);
      const float* a_cols = ta ? a + static_cast<std::size_t>(p) * m : a + p;
      sgemm(ta, tb, m, n, depth, alpha, a_cols, lda, b + static_cast<std::size_t>(p) * n, ldb,
            p == 0 ? beta : 1.0f, c);
    }
  } else {
    sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c);
  }
  tally.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  tally.flops += 2.0 * m * n * k;
}

void gemm(Transpose trans_a, Transpose trans_b, int m, int n, int k, float alpha, const float* a,
          const float* b, float beta, float* c) {
  gemm_with_piece_limit(gemm_piece_limit(), trans_a, trans_b, m, n, k, alpha, a, b, beta, c);
}

void set_blas_threads(int threads) { openblas_set_num_threads(std::max(threads, 1)); }

int blas_threads() { return openblas_get_num_threads(); }

}  // namespace fmnist
