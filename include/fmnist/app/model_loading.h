// Set-up shared by --evaluate and --predict: a trainer on every rank holding the weights of
// one of our checkpoints or of a Keras weights file.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "fmnist/app/cli.h"
#include "fmnist/data/dataset.h"
#include "fmnist/train/trainer.h"

namespace fmnist {

/// Rank 0 reads `path`: one of our checkpoints (it fixes the model and the normalisation) or
/// a Keras weights file (loaded into --model, normalised unless --no-normalize). Every rank
/// then builds `trainer` on `load_data(config)` with those weights. Returns false on every
/// rank if any rank failed (the error printed once, as any_setup_error does).
bool load_model_weights(const CliOptions& cli, const std::string& path, Communicator& comm,
                        const std::function<DataSplits(const TrainConfig&)>& load_data,
                        std::optional<Trainer>& trainer);

/// Where --evaluate and --predict write: --output-dir if given, else the folder of `path`.
std::string output_folder_for(const CliOptions& cli, const std::string& path);

}  // namespace fmnist
