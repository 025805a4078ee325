// The --summary command: Keras' model table for --model.
#pragma once

#include "fmnist/app/cli.h"

namespace fmnist {

class Communicator;

/// Rank 0 prints the summary of cli.config.model; returns 0 or 1.
int run_summary_command(const CliOptions& cli, Communicator& comm);

}  // namespace fmnist
