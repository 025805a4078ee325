// fmnist_gemm_shapes_bench (bench/gemm_shapes_bench.cpp): the GEMMs of cnn's training step at
// batch 32, each in the orientations a layer could call it in, through the same gemm() wrapper
// and OpenBLAS kernel as fmnist_dist (it re-executes itself with the best kernel first). This is
// the measurement behind the orientations Conv2D and Dense use (results/README.md).
//
//   build/fmnist_gemm_shapes_bench [--reps N]
//
// 3 untimed rounds, then N timed ones (default 41), each calling every case twice, the
// second call timed (warm operands); the figure is each case's median.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "fmnist/math/blas_kernel.h"
#include "fmnist/math/gemm.h"
#include "fmnist/train/benchmark.h"

namespace {

using fmnist::Transpose;

struct Case {
  const char* what;    // the layer's product
  const char* layout;  // how it is computed
  int m, n, k;
  Transpose ta, tb;
};

// The operands and output of one case, filled once.
struct Operands {
  std::vector<float> a, b, out;
  explicit Operands(const Case& c)
      : a(static_cast<std::size_t>(c.m) * c.k), b(static_cast<std::size_t>(c.k) * c.n),
        out(static_cast<std::size_t>(c.m) * c.n) {
    for (std::size_t i = 0; i < a.size(); ++i) a[i] = static_cast<float>(i % 7) * 0.1f;
    for (std::size_t i = 0; i < b.size(); ++i) b[i] = static_cast<float>(i % 5) * 0.1f;
  }
};

double run_ms(const Case& c, Operands& o) {
  const auto start = std::chrono::steady_clock::now();
  fmnist::gemm(c.ta, c.tb, c.m, c.n, c.k, 1.0f, o.a.data(), o.b.data(), 0.0f, o.out.data());
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  fmnist::use_best_blas_kernel(argv);
  int reps = 41;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--reps" && i + 1 < argc) {
      reps = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: fmnist_gemm_shapes_bench [--reps N]\n");
      return 2;
    }
  }
  if (reps < 1) {
    std::fprintf(stderr, "fmnist_gemm_shapes_bench: --reps: expected a positive integer\n");
    return 2;
  }
  fmnist::set_blas_threads(1);
  const Transpose N = Transpose::kNo, T = Transpose::kYes;
  // cnn at batch 32: conv2d_1 is 3x3x32 -> 64 on 14x14 (6,272 output pixels, K = 288), tiles
  // of 736 rows (the 2 MiB L2 default before tiles became whole images, 784 rows; the shapes
  // stay those of the table recorded in results/README.md); its dx as dcol (K = 64, 288
  // columns) then col2im, or by the flipped kernel (K = 9 * 64, 32 columns, tiles of 416 rows);
  // dense is 3136 -> 128.
  const Case cases[] = {
      {"conv2d_1 forward, tile of 736 pixels", "y = col . W", 736, 64, 288, N, N},
      {"conv2d_1 forward, tile of 736 pixels", "y^T = W^T . col^T", 64, 736, 288, T, T},
      {"conv2d_1 dW over 6,272 pixels", "dW = col^T . dy", 288, 64, 6272, T, N},
      {"conv2d_1 dW over 6,272 pixels", "dW^T = dy^T . col", 64, 288, 6272, T, N},
      {"conv2d_1 dW, tile of 736", "dW = col^T . dy", 288, 64, 736, T, N},
      {"conv2d_1 dW, tile of 736", "dW^T = dy^T . col", 64, 288, 736, T, N},
      {"conv2d_1 dcol, tile of 736", "dcol^T = W . dy^T", 288, 736, 64, N, T},
      {"conv2d_1 dcol, tile of 736", "dcol = dy . W^T", 736, 288, 64, N, T},
      {"conv2d_1 dx (flipped kernel), tile of 416", "dx = col(dy) . Wf", 416, 32, 576, N, N},
      {"conv2d_1 dx (flipped kernel), tile of 416", "dx^T = Wf^T . col(dy)^T", 32, 416, 576, T, T},
      {"dense forward", "y = x . W", 32, 128, 3136, N, N},
      {"dense forward", "y^T = W^T . x^T", 128, 32, 3136, T, T},
      {"dense dx", "dx = dy . W^T", 32, 3136, 128, N, T},
      {"dense dx", "dx^T = W . dy^T", 3136, 32, 128, N, T},
      {"dense dW", "dW = x^T . dy", 3136, 128, 32, T, N},
      {"sgemm 1024^3 (the yardstick)", "C = A . B", 1024, 1024, 1024, N, N},
  };
  const fmnist::BlasKernelStatus kernel = fmnist::blas_kernel_status();
  std::printf("GEMM shapes of cnn's step at batch 32, 1 thread, %s; medians of %d interleaved calls\n\n",
              fmnist::describe_blas_kernel(kernel).c_str(), reps);
  std::printf("| product | computed as | m x n x k | ms | GFLOP/s |\n|---|---|---|---|---|\n");
  // Round robin: every repetition calls every case once, so a drift of the shared machine's
  // speed reaches all cases alike and the orientations of a product compare side by side.
  constexpr std::size_t kCases = sizeof(cases) / sizeof(cases[0]);
  std::vector<Operands> operands;
  for (const Case& c : cases) operands.emplace_back(c);
  std::vector<std::vector<double>> times(kCases);
  for (int rep = -3; rep < reps; ++rep)
    for (std::size_t i = 0; i < kCases; ++i) {
      run_ms(cases[i], operands[i]);  // untimed: brings the operands into cache, as in the step,
      const double ms = run_ms(cases[i], operands[i]);  // where im2col has just written them
      if (rep >= 0) times[i].push_back(ms);
    }
  for (std::size_t i = 0; i < kCases; ++i) {
    const Case& c = cases[i];
    const double ms = fmnist::median(times[i]);
    std::printf("| %s | %s | %d x %d x %d | %.4f | %.1f |\n", c.what, c.layout, c.m, c.n, c.k, ms,
                2.0 * c.m * c.n * c.k / (ms * 1e-3) * 1e-9);
  }
  return 0;
}
