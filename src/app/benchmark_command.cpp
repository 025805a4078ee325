// --benchmark: timed steps of --model on the real training data.
#include "fmnist/app/benchmark_command.h"

#include <iostream>

#include "fmnist/app/command_setup.h"
#include "fmnist/data/idx_reader.h"
#include "fmnist/math/gemm.h"
#include "fmnist/train/benchmark.h"

namespace fmnist {

int run_benchmark_command(const CliOptions& cli, Communicator& comm) {
  std::string error;
  DataSplits splits;
  try {
    const int threads = choose_threads(cli.config, comm.topology());
    set_blas_threads(threads);
    if (comm.rank() == 0) print_layout(std::cout, comm.topology(), threads);
    splits = make_splits(load_fashion_mnist(cli.config.data_dir), cli.config.validation_split);
  } catch (const std::exception& e) {
    error = e.what();
  }
  if (any_setup_error(comm, error)) return 1;
  BenchmarkOptions options;
  options.warmup_steps = cli.benchmark_warmup;
  options.timed_steps = cli.benchmark_steps;
  options.json_path = cli.benchmark_json;
  options.layer_profile = cli.benchmark_layers;
  options.watchdog_comparison = cli.benchmark_watchdog;
  run_benchmark(cli.config, std::move(splits), comm, options, comm.rank() == 0 ? &std::cout : nullptr);
  return 0;
}

}  // namespace fmnist
