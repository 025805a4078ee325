// The --evaluate command: a checkpoint's model and parameters on the test set.
#pragma once

#include "fmnist/app/cli.h"

namespace fmnist {

class Communicator;

/// Evaluates cli.evaluate_path on the test set, sharded over the ranks; returns 0 or 1.
int run_evaluate_command(const CliOptions& cli, Communicator& comm);

}  // namespace fmnist
