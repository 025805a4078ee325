// --export-keras CKPT --output X.weights.h5: the checkpoint's parameters as Keras 3 weights,
// and X.json, the Keras config that rebuilds the model (model_from_json + load_weights).
#include "fmnist/app/export_command.h"

#include <iostream>

#include "fmnist/app/command_setup.h"
#include "fmnist/io/checkpoint_file.h"
#include "fmnist/io/keras_weights_file.h"
#include "fmnist/nn/keras_model.h"
#include "fmnist/nn/model_spec.h"
#include "fmnist/train/checkpointing.h"
#include "fmnist/train/keras_weights.h"

namespace fmnist {

int run_export_command(const CliOptions& cli, Communicator& comm) {
  std::string error;
  if (comm.rank() == 0) {
    try {
      const CheckpointState state = read_checkpoint(cli.export_path);
      std::unique_ptr<Sequential> model = build_model(state.model_spec);
      restore_parameters(*model, state, cli.export_path);
      const std::vector<KerasLayer> layers = keras_layers(*model);
      const std::string& out = cli.output_path;
      const std::string json_path = out.substr(0, out.size() - std::string(".weights.h5").size()) + ".json";
      write_keras_weights(out, capture_keras_weights(*model, layers));
      write_keras_model_json(json_path, keras_model_json(*model, layers) + "\n");
      std::cout << "exported " << cli.export_path << " (" << state.model_spec << ") to " << out << " and "
                << json_path << "\n";
    } catch (const std::exception& e) {
      error = e.what();
    }
  }
  return any_setup_error(comm, error) ? 1 : 0;
}

}  // namespace fmnist
