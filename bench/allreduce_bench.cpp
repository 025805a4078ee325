// fmnist_allreduce_bench (bench/allreduce_bench.cpp): the time of one in-place float allreduce over the job's
// ranks, for message sizes from 4 bytes to 16 MiB, through the same Communicator the trainer uses. Its
// smallest size gives the latency term (alpha) of the scaling model in results/scaling.md.
//
//   mpirun -np 2 build/fmnist_allreduce_bench [--reps N] [--json PATH]
//
// Per size: 10 untimed calls, then N timed ones (default 200), each after a barrier; the
// figure is the median over calls of the slowest rank's time.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "fmnist/dist/communicator.h"
#include "fmnist/train/benchmark.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  int reps = 200;
  std::string json_path;
};

Options parse(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if ((arg == "--reps" || arg == "--json") && i + 1 < argc) {
      const std::string value = argv[++i];
      if (arg == "--json") {
        options.json_path = value;
      } else {
        options.reps = std::atoi(value.c_str());
        if (options.reps < 1)
          throw std::runtime_error("--reps: expected a positive integer, found '" + value + "'");
      }
    } else {
      throw std::runtime_error("unknown option '" + arg +
                               "' (usage: fmnist_allreduce_bench [--reps N] [--json PATH])");
    }
  }
  return options;
}

}  // namespace

int main(int argc, char** argv) {
  fmnist::MpiRuntime mpi(&argc, &argv);
  fmnist::Communicator comm;
  try {
    const Options options = parse(argc, argv);
    std::vector<std::size_t> counts;  // floats per message: 1 (4 B) to 4 Mi (16 MiB), x4 apart
    for (std::size_t n = 1; n <= (std::size_t{1} << 22); n *= 4) counts.push_back(n);
    std::vector<float> buffer(counts.back(), 1.0f);
    std::vector<double> medians;
    for (const std::size_t n : counts) {
      std::vector<double> seconds;
      for (int i = 0; i < 10 + options.reps; ++i) {
        comm.barrier();
        const Clock::time_point start = Clock::now();
        comm.allreduce_sum(buffer.data(), n);
        const double local = std::chrono::duration<double>(Clock::now() - start).count();
        if (i >= 10) seconds.push_back(local);
      }
      std::fill(buffer.begin(), buffer.end(), 1.0f);  // sums grow as 2^k: keep them finite
      const double mine = fmnist::median(seconds);
      const std::vector<std::uint64_t> all = comm.allgather(static_cast<std::uint64_t>(mine * 1e9));
      medians.push_back(*std::max_element(all.begin(), all.end()) * 1e-9);
    }
    if (comm.rank() == 0) {
      std::cout << "| bytes | median us (slowest rank) | GB/s (bytes / time) |\n|---|---|---|\n";
      std::string json = "{\"ranks\": " + std::to_string(comm.size()) +
                         ", \"reps\": " + std::to_string(options.reps) + ", \"sizes\": [";
      for (std::size_t i = 0; i < counts.size(); ++i) {
        const double bytes = 4.0 * counts[i], us = medians[i] * 1e6;
        char row[160];
        std::snprintf(row, sizeof(row), "| %.0f | %.2f | %.3f |\n", bytes, us, bytes / medians[i] * 1e-9);
        std::cout << row;
        std::snprintf(row, sizeof(row), "%s{\"bytes\": %.0f, \"median_us\": %.3f}", i ? ", " : "", bytes, us);
        json += row;
      }
      json += "]}\n";
      if (!options.json_path.empty()) {
        std::ofstream out(options.json_path);
        if (!(out << json)) throw std::runtime_error("--json: cannot write '" + options.json_path + "'");
      }
    }
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "[rank " << comm.rank() << "] error: " << e.what() << std::endl;
    comm.abort(1);
  }
}
