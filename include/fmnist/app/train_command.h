// The training command: set-up, resume, fit with checkpoints, final test evaluation.
#pragma once

#include "fmnist/app/cli.h"

namespace fmnist {

class Communicator;

/// Trains cli.config on every rank; returns 0, 1 (set-up error) or kExitPreempted.
int run_train_command(const CliOptions& cli, Communicator& comm);

}  // namespace fmnist
