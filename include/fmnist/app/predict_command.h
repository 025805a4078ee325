// The --predict command: class probabilities of a checkpoint's (or Keras weights') model.
#pragma once

#include "fmnist/app/cli.h"

namespace fmnist {

class Communicator;

/// Predicts the test set or --predict-images with cli.predict_path, sharded over the ranks;
/// rank 0 writes predictions.h5 and prints the first predictions; returns 0 or 1.
int run_predict_command(const CliOptions& cli, Communicator& comm);

}  // namespace fmnist
