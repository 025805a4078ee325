// --evaluate PATH: a checkpoint's (or Keras weights') model on the test set, sharded over
// ranks: the test line, the per-class table, the confusion matrix, evaluation.h5/.csv.
#include "fmnist/app/evaluate_command.h"

#include <iostream>
#include <optional>

#include "fmnist/app/model_loading.h"
#include "fmnist/app/run_outputs.h"
#include "fmnist/data/idx_reader.h"

namespace fmnist {

int run_evaluate_command(const CliOptions& cli, Communicator& comm) {
  std::ostream* log = comm.rank() == 0 ? &std::cout : nullptr;
  std::optional<Trainer> trainer;
  const auto test_set = [](const TrainConfig& config) {
    DataSplits splits;
    splits.test = make_splits(load_fashion_mnist(config.data_dir), 0).test;
    return splits;
  };
  if (!load_model_weights(cli, cli.evaluate_path, comm, test_set, trainer)) return 1;
  evaluate_and_write(*trainer, trainer->data().test, output_folder_for(cli, cli.evaluate_path), log, true);
  return 0;
}

}  // namespace fmnist
