// The --benchmark command: timed training steps of --model on the real data.
#pragma once

#include "fmnist/app/cli.h"

namespace fmnist {

class Communicator;

/// Runs the benchmark on every rank; rank 0 prints (and writes --benchmark-json); returns 0 or 1.
int run_benchmark_command(const CliOptions& cli, Communicator& comm);

}  // namespace fmnist
