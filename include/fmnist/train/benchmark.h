// fmnist_dist --benchmark: times training steps of one model at the job's rank count,
// thread count and batch size, next to an sgemm peak measured in the same run.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include "fmnist/data/dataset.h"
#include "fmnist/dist/communicator.h"
#include "fmnist/nn/sequential.h"
#include "fmnist/train/config.h"

namespace fmnist {

struct BenchmarkOptions {
  int warmup_steps = 5;
  int timed_steps = 30;
  std::string json_path;  // write the figures here as JSON (rank 0), if not empty
  bool layer_profile = false;  // then also time each layer on its own (rank 0; layer_profile.h)
  // Time the timed steps in alternating blocks without and with the stall watchdog's
  // deadline (off, on, on, off, ...), in the same process, and report the watchdog's cost.
  bool watchdog_comparison = false;
};

/// Runs warm-up then timed steps on `data.train` and prints one Markdown row on rank 0:
/// samples/s, median ms per step split into forward, backward, allreduce wait, optimizer
/// and metrics, achieved GFLOP/s against the best rate of a 1024^3 sgemm (10 runs before
/// and 10 after the steps, every rank at once), and the
/// largest peak RSS of any rank; then the yardstick: the OpenBLAS kernel the sgemm ran with
/// (the best for this CPU unless the user set OPENBLAS_CORETYPE) and the CPU's nominal peak
/// for the cores used (core/cpu.h). The JSON carries the same figures. With
/// watchdog_comparison, one more line: the median step without and with the deadline.
void run_benchmark(const TrainConfig& config, DataSplits data, Communicator& comm, const BenchmarkOptions& options,
                   std::ostream* log);

/// Training FLOPs per sample counted from the GEMMs: forward, weight gradient, and input
/// gradient for every layer but the first.
double training_flops_per_sample(const Sequential& model);

/// Forward GEMM FLOPs of one sample through `layer` (input sample shape `in`, output `out`);
/// 0 for layers without a GEMM (everything but Dense and Conv2D).
double forward_gemm_flops(const Layer& layer, const Shape& in, const Shape& out);

/// The median of `values` (the upper one of the middle two for an even count); 0 if empty.
double median(std::vector<double> values);

}  // namespace fmnist
