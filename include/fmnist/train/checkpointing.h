// Converts between a Trainer and the plain CheckpointState the io layer stores, and checks
// a checkpoint against the run before anything is loaded.
#pragma once

#include <string>

#include "fmnist/io/checkpoint_file.h"
#include "fmnist/train/trainer.h"

namespace fmnist {

/// Everything a resumed run needs: parameters by name, optimizer state by name, position,
/// the current epoch's running sums, history and config. Reads only local state (no MPI).
CheckpointState capture_checkpoint(Trainer& trainer);

/// Checks `state` (read from `path`) against the trainer: model spec, every parameter's
/// presence and shape, the optimizer, and the options that fix the training trajectory
/// (batch size, seed, validation split, normalisation). Throws Error naming `path` and the
/// first difference; the trainer is untouched unless every check passes, then loads it all.
void restore_checkpoint(Trainer& trainer, const CheckpointState& state, const std::string& path);

/// Loads only the parameters of `state` into `model` (for --evaluate), with the same checks
/// of names and shapes.
void restore_parameters(Sequential& model, const CheckpointState& state, const std::string& path);

}  // namespace fmnist
