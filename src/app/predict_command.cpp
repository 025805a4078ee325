// --predict PATH: softmax probabilities for the test set or an IDX image file, sharded over
// the ranks and gathered by rank 0 into predictions.h5.
#include "fmnist/app/predict_command.h"

#include <iostream>
#include <optional>

#include "fmnist/app/model_loading.h"
#include "fmnist/app/run_outputs.h"
#include "fmnist/data/idx_reader.h"

namespace fmnist {
namespace {

constexpr int kShownPredictions = 5;
constexpr int kImageSize = 28;

}  // namespace

int run_predict_command(const CliOptions& cli, Communicator& comm) {
  std::ostream* log = comm.rank() == 0 ? &std::cout : nullptr;
  std::optional<Trainer> trainer;
  const auto images = [&cli](const TrainConfig& config) {
    DataSplits splits;
    if (cli.predict_images.empty()) {
      splits.test = make_splits(load_fashion_mnist(config.data_dir), 0).test;
    } else {
      splits.test = load_images_to_predict(cli.predict_images, cli.predict_labels, kImageSize, kImageSize);
    }
    return splits;
  };
  if (!load_model_weights(cli, cli.predict_path, comm, images, trainer)) return 1;
  PredictionInput input;
  input.images = &trainer->data().test;
  input.has_labels = cli.predict_images.empty() || !cli.predict_labels.empty();
  input.source = cli.predict_images.empty() ? "test set" : cli.predict_images;
  predict_and_write(*trainer, input, output_folder_for(cli, cli.predict_path), log, kShownPredictions);
  return 0;
}

}  // namespace fmnist
