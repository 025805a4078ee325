// The benchmark: medians of per-step phase times (the machine is shared and noisy), the
// best sgemm rate measured on every rank at once (so it sees the same contention), peak RSS.
#include "fmnist/train/benchmark.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <ostream>
#include <vector>

#include "fmnist/core/cpu.h"
#include "fmnist/core/error.h"
#include "fmnist/core/rng.h"
#include "fmnist/math/blas_kernel.h"
#include "fmnist/math/gemm.h"
#include "fmnist/nn/conv2d.h"
#include "fmnist/nn/dense.h"
#include "fmnist/train/layer_profile.h"
#include "fmnist/train/trainer.h"

namespace fmnist {
namespace {

using Clock = std::chrono::steady_clock;

/// The best GFLOP/s of a 1024^3 sgemm on this rank over 10 runs after one warm-up. The best,
/// not the median: a neighbour's burst only ever slows a run, and a yardstick taken in one
/// (a median of 5 once read 111 GFLOP/s against 168 a minute later) inflates every "of sgemm".
double sgemm_gflops() {
  constexpr int kSize = 1024;
  std::vector<float> a(kSize * kSize), b(kSize * kSize), c(kSize * kSize);
  Rng rng(1);
  for (float& x : a) x = rng.uniform(-1.0f, 1.0f);
  for (float& x : b) x = rng.uniform(-1.0f, 1.0f);
  std::vector<double> rates;
  for (int i = 0; i < 11; ++i) {
    const Clock::time_point start = Clock::now();
    gemm(Transpose::kNo, Transpose::kNo, kSize, kSize, kSize, 1.0f, a.data(), b.data(), 0.0f, c.data());
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    if (i > 0) rates.push_back(2.0 * kSize * kSize * kSize / seconds * 1e-9);
  }
  return *std::max_element(rates.begin(), rates.end());
}

double peak_rss_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // Linux reports KiB
}

}  // namespace

double median(std::vector<double> values) {
  if (values.empty()) return 0.0;
  std::nth_element(values.begin(), values.begin() + static_cast<long>(values.size() / 2), values.end());
  return values[values.size() / 2];
}

double forward_gemm_flops(const Layer& layer, const Shape& in, const Shape& out) {
  if (const auto* dense = dynamic_cast<const Dense*>(&layer))
    return 2.0 * static_cast<double>(in.per_sample()) * dense->units();
  if (const auto* conv = dynamic_cast<const Conv2D*>(&layer)) {
    const int k = conv->options().kernel;
    return 2.0 * k * k * in.c * static_cast<double>(out.per_sample());
  }
  return 0.0;
}

double training_flops_per_sample(const Sequential& model) {
  double flops = 0.0;
  Shape in = model.input_shape();
  for (std::size_t i = 0; i < model.layers().size(); ++i) {
    const Shape out = model.output_shapes()[i];
    const double forward = forward_gemm_flops(*model.layers()[i], in, out);
    flops += forward * (model.computes_input_grad(i) ? 3.0 : 2.0);  // forward + dW (+ dx)
    in = out;
  }
  return flops;
}

void run_benchmark(const TrainConfig& config, DataSplits data, Communicator& comm, const BenchmarkOptions& options,
                   std::ostream* log) {
  const double sgemm_before = sgemm_gflops();  // all ranks at once, here and after the steps
  Trainer trainer(config, std::move(data), comm, nullptr);
  trainer.initialize_parameters();
  const std::int32_t count = trainer.data().train.count;
  const std::vector<std::int32_t> order = epoch_permutation(config.seed, 0, count);
  const int batch = config.batch_size;
  const int total_steps = options.warmup_steps + options.timed_steps;
  if (static_cast<std::int64_t>(total_steps) * batch > count)
    throw Error("--benchmark-steps: " + std::to_string(total_steps) + " steps of " + std::to_string(batch) +
                " samples exceed the " + std::to_string(count) + " training samples");

  std::vector<double> forward, backward, wait, optimizer, metrics, total, gemm_seconds, gemm_flops;
  // The watchdog comparison: blocks of kWatchdogBlock timed steps, deadline off, on, on, off,
  // ... (so a drift of the machine's speed favours neither), each block's median kept.
  constexpr int kWatchdogBlock = 10;
  std::vector<double> block_steps, blocks_off, blocks_on;
  for (int step = 0; step < total_steps; ++step) {
    const int timed = step - options.warmup_steps;
    const int block = timed / kWatchdogBlock;
    const bool deadline = block % 4 == 1 || block % 4 == 2;
    if (options.watchdog_comparison) trainer.suspend_stall_watchdog(timed >= 0 && !deadline);
    bool stop = false;
    reset_gemm_tally();
    trainer.train_step(order.data() + static_cast<std::size_t>(step) * batch, batch, &stop);
    if (step < options.warmup_steps) continue;
    const GemmTally in_gemm = gemm_tally();
    gemm_seconds.push_back(in_gemm.seconds);
    gemm_flops.push_back(in_gemm.flops);
    const StepTimings& t = trainer.last_step_timings();
    if (options.watchdog_comparison) {
      block_steps.push_back(t.total);
      if (block_steps.size() == kWatchdogBlock) {
        (deadline ? blocks_on : blocks_off).push_back(median(block_steps));
        block_steps.clear();
      }
    }
    forward.push_back(t.forward);
    backward.push_back(t.backward);
    wait.push_back(t.allreduce_wait);
    optimizer.push_back(t.optimizer);
    metrics.push_back(t.metrics);
    total.push_back(t.total);
  }
  // Peak RSS before the second yardstick run, whose three 4 MiB matrices would otherwise add
  // 12 MiB on top of training's buffers (the first run's were freed before those existed).
  const double rss_mib = peak_rss_mib();
  const double sgemm = std::max(sgemm_before, sgemm_gflops());
  // The slowest rank sets the pace: report the largest median step and RSS over ranks.
  double figures[3] = {median(total), rss_mib, sgemm};
  std::vector<std::uint64_t> step_ns = comm.allgather(static_cast<std::uint64_t>(figures[0] * 1e9));
  std::vector<std::uint64_t> rss_kib = comm.allgather(static_cast<std::uint64_t>(figures[1] * 1024));
  std::vector<std::uint64_t> sgemm_mflops = comm.allgather(static_cast<std::uint64_t>(sgemm * 1e3));
  if (!log) return;
  if (options.layer_profile) print_layer_profile(trainer.model(), batch, options.timed_steps, *log);

  const double step_seconds = *std::max_element(step_ns.begin(), step_ns.end()) * 1e-9;
  const double rss = *std::max_element(rss_kib.begin(), rss_kib.end()) / 1024.0;
  double sgemm_total = 0.0;
  for (std::uint64_t m : sgemm_mflops) sgemm_total += m * 1e-3;
  const double samples_per_second = batch / step_seconds;
  const double gflops = training_flops_per_sample(trainer.model()) * samples_per_second * 1e-9;
  const int threads = blas_threads();
  const double ms = 1e3;
  char row[512];
  std::snprintf(row, sizeof(row),
                "| %s | %d | %d | %d | %.0f | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f | %.1f | %.1f | %.0f%% | %.0f |",
                config.model.c_str(), comm.size(), threads, batch, samples_per_second, step_seconds * ms,
                median(forward) * ms, median(backward) * ms, median(wait) * ms, median(optimizer) * ms,
                median(metrics) * ms, gflops, sgemm_total, 100.0 * gflops / sgemm_total, rss);
  *log << "| model | ranks | threads/rank | batch | samples/s | ms/step | forward | backward | allreduce wait | "
          "optimizer | metrics | GFLOP/s | sgemm GFLOP/s | of sgemm | peak RSS MiB/rank |\n"
       << "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n"
       << row << "\n";
  // The yardstick: which kernel the sgemm ran with, and the CPU's nominal peak for the cores used.
  const BlasKernelStatus kernel = blas_kernel_status();
  const PeakRate peak = single_precision_peak(detect_cpu_features());
  const CpuClock clock = cpu_clock();
  const int cores_used = comm.size() * threads;
  const double peak_gflops = peak.flops_per_cycle * clock.ghz * cores_used;
  char yardstick[768];
  std::snprintf(yardstick, sizeof(yardstick),
                "sgemm 1024^3 with the %s: %.1f GFLOP/s over %d rank(s) x %d thread(s); nominal peak %d FLOP/cycle "
                "(%s) x %.2f GHz (%s) x %d core(s) = %.1f GFLOP/s, of which sgemm reaches %.0f%% and the "
                "training step %.0f%%",
                describe_blas_kernel(kernel).c_str(), sgemm_total, comm.size(), threads, peak.flops_per_cycle,
                peak.assumption.c_str(), clock.ghz, clock.source.c_str(), cores_used, peak_gflops,
                peak_gflops > 0 ? 100.0 * sgemm_total / peak_gflops : 0.0,
                peak_gflops > 0 ? 100.0 * gflops / peak_gflops : 0.0);
  *log << yardstick << "\n";
  // How much of the step is GEMM (rank 0's medians): the step cannot reach more of the sgemm
  // rate than its FLOPs over the time of its GEMM calls alone, whatever the other passes cost.
  const double gemm_ms = median(gemm_seconds) * ms, gemm_rate = gemm_ms > 0 ? median(gemm_flops) / gemm_ms * 1e-6 : 0;
  const double bound = gemm_ms > 0 ? 100.0 * gflops * step_seconds * ms / gemm_ms / sgemm_total : 0.0;
  char split[512];
  std::snprintf(split, sizeof(split),
                "in sgemm calls (rank 0): %.3f ms of the step (%.0f%%), at %.1f GFLOP/s, %.0f%% of the 1024^3 rate; "
                "with every other pass at no cost the step would reach %.0f%% of sgemm",
                gemm_ms, 100.0 * gemm_ms / (step_seconds * ms), gemm_rate, 100.0 * gemm_rate / sgemm_total * comm.size(),
                bound);
  *log << split << "\n";
  double watchdog_off_ms = 0, watchdog_on_ms = 0, watchdog_cost = 0;
  if (options.watchdog_comparison) {
    const std::size_t pairs = std::min(blocks_off.size(), blocks_on.size());
    std::vector<double> ratios;
    for (std::size_t i = 0; i < pairs; ++i) ratios.push_back(blocks_on[i] / blocks_off[i]);
    watchdog_off_ms = median(blocks_off) * ms;
    watchdog_on_ms = median(blocks_on) * ms;
    watchdog_cost = pairs > 0 ? 100.0 * (median(ratios) - 1.0) : 0.0;
    char line[512];
    if (comm.size() == 1 || pairs == 0)
      std::snprintf(line, sizeof(line), "stall watchdog: not compared (%s)",
                    comm.size() == 1 ? "it is off at 1 rank" : "fewer than 20 timed steps");
    else
      std::snprintf(line, sizeof(line),
                    "stall watchdog (rank 0, %zu pairs of %d-step blocks): median step %.4f ms without the deadline, "
                    "%.4f ms with it; cost %+.2f%% (median of the pairs' ratios)",
                    pairs, kWatchdogBlock, watchdog_off_ms, watchdog_on_ms, watchdog_cost);
    *log << line << "\n";
  }
  if (options.json_path.empty()) return;
  std::ofstream json(options.json_path);
  if (!json) throw Error("--benchmark-json: cannot write '" + options.json_path + "'");
  char text[1536];
  std::snprintf(text, sizeof(text),
                "{\"model\": \"%s\", \"ranks\": %d, \"threads_per_rank\": %d, \"batch\": %d, \"timed_steps\": %d, "
                "\"samples_per_second\": %.1f, \"ms_per_step\": %.4f, \"forward_ms\": %.4f, \"backward_ms\": %.4f, "
                "\"allreduce_wait_ms\": %.4f, \"optimizer_ms\": %.4f, \"metrics_ms\": %.4f, "
                "\"flops_per_sample\": %.0f, \"gflops\": %.2f, \"sgemm_gflops\": %.2f, \"peak_rss_mib\": %.1f, "
                "\"blas_kernel\": \"%s\", \"blas_kernel_openblas_choice\": \"%s\", \"blas_kernel_source\": \"%s\", "
                "\"flops_per_cycle\": %d, \"clock_ghz\": %.3f, \"nominal_peak_gflops\": %.2f, "
                "\"params\": %zu, \"bucket_mb\": %.4f, \"watchdog_off_ms\": %.4f, \"watchdog_on_ms\": %.4f, "
                "\"watchdog_cost_percent\": %.3f, \"gemm_ms\": %.4f, \"gemm_gflops\": %.2f, "
                "\"gemm_bound_percent\": %.1f}\n",
                config.model.c_str(), comm.size(), threads, batch, options.timed_steps, samples_per_second,
                step_seconds * ms, median(forward) * ms, median(backward) * ms, median(wait) * ms,
                median(optimizer) * ms, median(metrics) * ms, training_flops_per_sample(trainer.model()), gflops,
                sgemm_total, rss, kernel.in_use.c_str(), kernel.openblas_choice.c_str(),
                kernel.source == BlasKernelSource::kUser       ? "user"
                : kernel.source == BlasKernelSource::kUpgraded ? "fmnist_dist"
                                                               : "openblas",
                peak.flops_per_cycle, clock.ghz, peak_gflops, trainer.model().params().size(), config.bucket_mb,
                watchdog_off_ms, watchdog_on_ms, watchdog_cost, gemm_ms, gemm_rate, bound);
  json << text;
}

}  // namespace fmnist
