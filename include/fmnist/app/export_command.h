// The --export-keras command: a checkpoint as Keras 3 weights and architecture.
#pragma once

#include "fmnist/app/cli.h"

namespace fmnist {

class Communicator;

/// Rank 0 writes cli.output_path (.weights.h5) and the JSON config beside it; returns 0 or 1.
int run_export_command(const CliOptions& cli, Communicator& comm);

}  // namespace fmnist
