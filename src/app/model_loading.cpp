// Loading a checkpoint or Keras weights for --evaluate / --predict (see model_loading.h).
// Rank 0 reads first and every rank agrees on its errors before any broadcast, so a bad file
// ends the job with one line and no rank waits in a collective.
#include "fmnist/app/model_loading.h"

#include <filesystem>

#include "fmnist/app/command_setup.h"
#include "fmnist/io/checkpoint_file.h"
#include "fmnist/io/keras_weights_file.h"
#include "fmnist/math/gemm.h"
#include "fmnist/train/checkpointing.h"
#include "fmnist/train/keras_weights.h"

namespace fmnist {

bool load_model_weights(const CliOptions& cli, const std::string& path, Communicator& comm,
                        const std::function<DataSplits(const TrainConfig&)>& load_data,
                        std::optional<Trainer>& trainer) {
  std::string error;
  std::optional<CheckpointState> checkpoint;
  std::optional<KerasWeights> keras;
  TrainConfig config = cli.config;
  std::int64_t normalize = config.normalize ? 1 : 0;
  if (comm.rank() == 0) {
    try {
      if (is_keras_weights_file(path)) {
        keras = read_keras_weights(path);
      } else {
        checkpoint = read_checkpoint(path);
        config.model = checkpoint->model_spec;
        normalize = parse_config_text(checkpoint->config)["no-normalize"] != "true" ? 1 : 0;
      }
    } catch (const std::exception& e) {
      error = e.what();
    }
  }
  if (any_setup_error(comm, error)) return false;
  comm.broadcast(config.model, 0);
  comm.broadcast(&normalize, 1, 0);
  config.normalize = normalize != 0;
  try {
    set_blas_threads(choose_threads(config, comm.topology()));
    trainer.emplace(config, load_data(config), comm, nullptr);
    if (checkpoint) restore_parameters(trainer->model(), *checkpoint, path);
    if (keras) load_keras_weights(trainer->model(), *keras, path);
  } catch (const std::exception& e) {
    error = e.what();
  }
  if (any_setup_error(comm, error)) return false;
  trainer->broadcast_state(0);
  return true;
}

std::string output_folder_for(const CliOptions& cli, const std::string& path) {
  if (!cli.config.output_dir.empty()) return cli.config.output_dir;
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  return parent.empty() ? "." : parent.string();
}

}  // namespace fmnist
