// Tests of the GEMM wrapper against a naive triple loop in double: all four transpose
// combinations, odd sizes, sizes past OpenBLAS' register blocks, alpha/beta, beta = 0
// overwriting NaN, k = 0, and products cut into pieces (gemm_pieces) along either dimension. ctest runs them
// again under every OpenBLAS kernel fmnist_dist may choose (OPENBLAS_CORETYPE, with FMNIST_TEST_BLAS_KERNEL
// naming the kernel expected).
#include <gtest/gtest.h>

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "fmnist/math/blas_kernel.h"
#include "fmnist/math/gemm.h"

namespace fmnist {
namespace {

/// Under FMNIST_TEST_BLAS_KERNEL=K: skips everything when this CPU cannot run K (its
/// instructions would fault), and fails when OpenBLAS did not load K (the variant would
/// silently test the default kernel again).
class RequestedBlasKernel : public ::testing::Environment {
 public:
  void SetUp() override {
    const char* wanted = std::getenv("FMNIST_TEST_BLAS_KERNEL");
    if (!wanted) return;
    if (!cpu_can_run_blas_kernel(detect_cpu_features(), wanted))
      GTEST_SKIP() << "this CPU cannot run the OpenBLAS kernel " << wanted;
    const std::string in_use = blas_kernel_status().in_use;
    ASSERT_EQ(blas_kernel_level(in_use), blas_kernel_level(wanted)) << "asked for " << wanted << ", loaded " << in_use;
    ASSERT_STRCASEEQ(in_use.c_str(), wanted);
  }
};
const ::testing::Environment* const kRequestedBlasKernel =
    ::testing::AddGlobalTestEnvironment(new RequestedBlasKernel);

std::vector<float> random_matrix(std::size_t size, std::mt19937& gen) {
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> out(size);
  for (float& v : out) v = dist(gen);
  return out;
}

// C = alpha * op(A) op(B) + beta * C, written from the definition, row-major, in double.
// A is stored (m, k) or, transposed, (k, m); B is stored (k, n) or (n, k).
std::vector<double> naive_gemm(bool ta, bool tb, int m, int n, int k, double alpha,
                               const std::vector<float>& a, const std::vector<float>& b, double beta,
                               const std::vector<float>& c) {
  std::vector<double> out(static_cast<std::size_t>(m) * n);
  for (int i = 0; i < m; ++i) {
    for (int j = 0; j < n; ++j) {
      double sum = 0.0;
      for (int p = 0; p < k; ++p) {
        const double aip =
            ta ? a[static_cast<std::size_t>(p) * m + i] : a[static_cast<std::size_t>(i) * k + p];
        const double bpj =
            tb ? b[static_cast<std::size_t>(j) * k + p] : b[static_cast<std::size_t>(p) * n + j];
        sum += aip * bpj;
      }
      const double old = beta == 0.0 ? 0.0 : beta * c[static_cast<std::size_t>(i) * n + j];
      out[static_cast<std::size_t>(i) * n + j] = alpha * sum + old;
    }
  }
  return out;
}

struct GemmCase {
  bool ta, tb;
  int m, n, k;
  float alpha, beta;
};

// piece_limit < 0: gemm() itself, with the limit of the kernel in use; else that limit.
void check_case(const GemmCase& t, std::mt19937& gen, bool nan_in_c = false, long piece_limit = -1) {
  SCOPED_TRACE(::testing::Message() << "ta=" << t.ta << " tb=" << t.tb << " m=" << t.m << " n=" << t.n
                                    << " k=" << t.k << " alpha=" << t.alpha << " beta=" << t.beta
                                    << " piece_limit=" << piece_limit);
  const auto a = random_matrix(static_cast<std::size_t>(t.m) * t.k, gen);
  const auto b = random_matrix(static_cast<std::size_t>(t.k) * t.n, gen);
  auto c = random_matrix(static_cast<std::size_t>(t.m) * t.n, gen);
  if (nan_in_c)
    for (float& v : c) v = std::numeric_limits<float>::quiet_NaN();
  const auto expected = naive_gemm(t.ta, t.tb, t.m, t.n, t.k, t.alpha, a, b, t.beta, c);
  const Transpose ta = t.ta ? Transpose::kYes : Transpose::kNo, tb = t.tb ? Transpose::kYes : Transpose::kNo;
  if (piece_limit < 0)
    gemm(ta, tb, t.m, t.n, t.k, t.alpha, a.data(), b.data(), t.beta, c.data());
  else
    gemm_with_piece_limit(piece_limit, ta, tb, t.m, t.n, t.k, t.alpha, a.data(), b.data(), t.beta, c.data());
  // Float accumulation of k products of magnitude <= 1: error grows roughly like sqrt(k) eps.
  const double tol = 1e-5 * (1.0 + t.k);
  for (std::size_t i = 0; i < c.size(); ++i) {
    ASSERT_FALSE(std::isnan(c[i])) << "at " << i;
    ASSERT_NEAR(c[i], expected[i], tol) << "at " << i;
  }
}

TEST(Gemm, AllTransposesOddSizes) {
  std::mt19937 gen(1234);
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      check_case({ta, tb, 7, 5, 3, 1.0f, 0.0f}, gen);
      check_case({ta, tb, 33, 17, 29, 1.0f, 0.0f}, gen);
      check_case({ta, tb, 1, 9, 4, 1.0f, 0.0f}, gen);
      check_case({ta, tb, 6, 1, 11, 1.0f, 0.0f}, gen);
      check_case({ta, tb, 131, 97, 259, 1.0f, 0.0f}, gen);  // many full register blocks and a ragged edge
    }
}

// The shapes of cnn's second conv (forward, dW, dcol per tile) and first dense layer
// (forward, dW, dx), which gemm() cuts into pieces under a SkylakeX-class kernel on one thread.
TEST(Gemm, LayerShapesAsTheKernelInUseRunsThem) {
  const int threads = blas_threads();
  std::mt19937 gen(4321);
  for (int t : {1, 2}) {
    set_blas_threads(t);
    check_case({false, false, 784, 64, 288, 1.0f, 0.0f}, gen);
    check_case({true, false, 288, 64, 784, 1.0f, 1.0f}, gen);
    check_case({false, true, 784, 288, 64, 1.0f, 0.0f}, gen);
    check_case({false, false, 32, 128, 3136, 1.0f, 0.0f}, gen);
    check_case({true, false, 3136, 128, 32, 1.0f, 0.0f}, gen);
    check_case({false, true, 32, 3136, 128, 1.0f, 0.0f}, gen);
  }
  set_blas_threads(threads);
}

// Every cut, forced by small limits whatever the kernel: the pieces cover C exactly once and
// beta applies once (the depth pieces accumulate), with uneven last slices and NaN in C.
TEST(Gemm, PiecesMatchTheWholeProduct) {
  std::mt19937 gen(2024);
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      const int m = 150, n = 21, k = 97;
      for (long limit : {16L * n * k, 40L * n * k, 1L * m * n * 17, 1L * m * n * 40, 16L * n * k - 1}) {
        check_case({ta, tb, m, n, k, 1.0f, 0.0f}, gen, /*nan_in_c=*/true, limit);
        check_case({ta, tb, m, n, k, -0.5f, 0.75f}, gen, false, limit);
        check_case({ta, tb, m, n, k, 2.0f, 1.0f}, gen, false, limit);
      }
      check_case({ta, tb, 4, 130, 700, 1.0f, 0.5f}, gen, false, 4L * 130 * 20);  // depth only: 4 rows
      check_case({ta, tb, 700, 130, 4, 1.0f, 0.5f}, gen, false, 20L * 130 * 4);  // rows only: k = 4
    }
}

// gemm_pieces: each piece within the limit, at least 16 of the cut dimension, equal slices
// covering it; the orientation rule of gemm.h; never a cut of op(B) transposed or of a
// product already within the limit.
TEST(Gemm, PiecesRespectTheLimit) {
  struct Case {
    Transpose ta, tb;
    int m, n, k;
    GemmPieces::Along expected;
  };
  const long limit = 1000000;
  const Case cases[] = {
      {Transpose::kNo, Transpose::kNo, 784, 64, 288, GemmPieces::kRows},  // conv forward
      {Transpose::kNo, Transpose::kNo, 32, 128, 3136,
       GemmPieces::kDepth},  // dense forward: 2-row slices are too thin
      {Transpose::kYes, Transpose::kNo, 288, 64, 784, GemmPieces::kDepth},  // conv dW
      {Transpose::kYes, Transpose::kNo, 3136, 128, 32, GemmPieces::kRows},  // dense dW: k = 32 cannot be cut
      {Transpose::kNo, Transpose::kYes, 784, 288, 64, GemmPieces::kWhole},  // dcol
      {Transpose::kYes, Transpose::kYes, 784, 288, 64, GemmPieces::kWhole},
      {Transpose::kNo, Transpose::kNo, 49, 64, 288, GemmPieces::kWhole},       // within the limit
      {Transpose::kNo, Transpose::kNo, 1000, 1000, 1000, GemmPieces::kWhole},  // no slice of 16 fits
  };
  for (const Case& t : cases) {
    SCOPED_TRACE(::testing::Message() << "m=" << t.m << " n=" << t.n << " k=" << t.k);
    const GemmPieces p = gemm_pieces(t.ta, t.tb, t.m, t.n, t.k, limit);
    EXPECT_EQ(p.along, t.expected);
    if (p.along == GemmPieces::kWhole) {
      EXPECT_EQ(p.count, 1);
      continue;
    }
    const int length = p.along == GemmPieces::kRows ? t.m : t.k;
    const double piece_mnk =
        static_cast<double>(p.size) * (p.along == GemmPieces::kRows ? t.n * t.k : t.m * t.n);
    EXPECT_LE(piece_mnk, limit);
    EXPECT_GE(p.size, 16);
    EXPECT_GT(p.count, 1);
    EXPECT_GE(static_cast<long>(p.count) * p.size, length);        // covered
    EXPECT_LT(static_cast<long>(p.count - 1) * p.size, length);    // no empty piece
    EXPECT_GE(length - (p.count - 1) * p.size, p.size - p.count);  // the last slice nearly full
  }
  EXPECT_EQ(gemm_pieces(Transpose::kNo, Transpose::kNo, 784, 64, 288, 0).along, GemmPieces::kWhole);
}

// The limit follows the kernel and thread count in use: OpenBLAS' small kernels exist only in
// its SkylakeX-class kernels and run on one thread.
TEST(Gemm, PieceLimitFollowsTheKernelAndThreads) {
  std::string in_use = blas_kernel_status().in_use;
  for (char& ch : in_use) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  const bool small_kernels = in_use == "skylakex" || in_use == "cooperlake" || in_use == "sapphirerapids";
  const int threads = blas_threads();
  set_blas_threads(1);
  EXPECT_EQ(gemm_piece_limit(), small_kernels ? 1000000 : 0) << "kernel " << blas_kernel_status().in_use;
  set_blas_threads(2);
  if (blas_threads() == 2) {
    EXPECT_EQ(gemm_piece_limit(), 0);
  }
  set_blas_threads(threads);
}

TEST(Gemm, AlphaAndBeta) {
  std::mt19937 gen(99);
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      check_case({ta, tb, 7, 5, 3, 0.5f, 2.0f}, gen);
      check_case({ta, tb, 33, 17, 29, -1.5f, 0.25f}, gen);
      check_case({ta, tb, 8, 13, 2, 2.0f, 1.0f}, gen);
      check_case({ta, tb, 70, 129, 65, 0.5f, 1.0f}, gen);
    }
}

TEST(Gemm, BetaZeroOverwritesNaN) {
  std::mt19937 gen(7);
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      check_case({ta, tb, 7, 5, 3, 1.0f, 0.0f}, gen, /*nan_in_c=*/true);
      check_case({ta, tb, 33, 17, 29, 0.75f, 0.0f}, gen, /*nan_in_c=*/true);
    }
}

TEST(Gemm, EmptyInnerDimensionScalesC) {
  std::mt19937 gen(5);
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      check_case({ta, tb, 4, 6, 0, 1.0f, 0.5f}, gen);
      check_case({ta, tb, 4, 6, 0, 1.0f, 0.0f}, gen, /*nan_in_c=*/true);
    }
}

// The benchmark's GEMM share of a step: every call's 2 m n k FLOPs and some time, since the
// last reset only, and nothing for an empty product (no sgemm ran).
TEST(GemmTally, CountsTheCallsSinceTheReset) {
  std::vector<float> a(40 * 30, 0.5f), b(30 * 20, 0.25f), c(40 * 20, 0.0f);
  gemm(Transpose::kNo, Transpose::kNo, 40, 20, 30, 1.0f, a.data(), b.data(), 0.0f, c.data());
  reset_gemm_tally();
  EXPECT_EQ(gemm_tally().flops, 0.0);
  EXPECT_EQ(gemm_tally().seconds, 0.0);
  gemm(Transpose::kNo, Transpose::kNo, 40, 20, 30, 1.0f, a.data(), b.data(), 0.0f, c.data());
  gemm(Transpose::kYes, Transpose::kNo, 30, 20, 40, 1.0f, a.data(), c.data(), 0.0f, b.data());
  gemm(Transpose::kNo, Transpose::kNo, 40, 20, 0, 1.0f, a.data(), b.data(), 0.0f, c.data());
  const GemmTally t = gemm_tally();
  EXPECT_EQ(t.flops, 2.0 * 40 * 20 * 30 + 2.0 * 30 * 20 * 40);
  EXPECT_GT(t.seconds, 0.0);
  EXPECT_LT(t.seconds, 10.0);
}

}  // namespace
}  // namespace fmnist
