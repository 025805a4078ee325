// evaluation.h5 / predictions.h5 of a run (see run_outputs.h).
#include "fmnist/app/run_outputs.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <numeric>
#include <utility>

#include "fmnist/app/command_setup.h"
#include "fmnist/io/evaluation_file.h"
#include "fmnist/io/predictions_file.h"
#include "fmnist/train/classification_report.h"

namespace fmnist {
namespace {

void append_image(const Dataset& data, int index, std::vector<std::uint8_t>& pixels) {
  const auto begin =
      data.pixels.begin() + static_cast<std::ptrdiff_t>(static_cast<std::size_t>(index) * data.image_size());
  pixels.insert(pixels.end(), begin, begin + static_cast<std::ptrdiff_t>(data.image_size()));
}

// The first kExampleImages samples, then the kExampleImages wrong ones with the highest
// predicted probability (the most confused), when labels are known.
std::vector<std::int64_t> example_indices(const Predictions& p) {
  const auto n = static_cast<std::int64_t>(p.predicted.size());
  const std::size_t k = p.class_names.size();
  std::vector<std::int64_t> chosen(static_cast<std::size_t>(std::min<std::int64_t>(n, kExampleImages)));
  std::iota(chosen.begin(), chosen.end(), std::int64_t{0});
  if (p.labels.empty()) return chosen;
  std::vector<std::int64_t> wrong;
  for (std::int64_t i = 0; i < n; ++i)
    if (p.predicted[static_cast<std::size_t>(i)] != p.labels[static_cast<std::size_t>(i)]) wrong.push_back(i);
  auto confidence = [&](std::int64_t i) {
    const auto row = static_cast<std::size_t>(i);
    return p.probabilities[row * k + static_cast<std::size_t>(p.predicted[row])];
  };
  std::stable_sort(wrong.begin(), wrong.end(),
                   [&](std::int64_t a, std::int64_t b) { return confidence(a) > confidence(b); });
  for (std::size_t i = 0; i < wrong.size() && i < static_cast<std::size_t>(kExampleImages); ++i)
    if (wrong[i] >= kExampleImages) chosen.push_back(wrong[i]);
  return chosen;
}

}  // namespace

EvalResult evaluate_and_write(Trainer& trainer, const Dataset& data, const std::string& folder,
                              std::ostream* log, bool print_report, std::vector<float>* probabilities) {
  std::vector<std::int64_t> confusion;
  const EvalResult result = trainer.evaluate(data, &confusion, probabilities);
  if (trainer.comm().rank() != 0) return result;
  const Evaluation evaluation = make_evaluation(confusion, class_names(), result.loss);
  std::filesystem::create_directories(folder);
  write_evaluation(folder + "/evaluation.h5", folder + "/evaluation.csv", evaluation);
  if (log) {
    if (print_report) {
      print_test_line(*log, result);
      *log << "\n" << format_classification_report(evaluation) << "\n" << format_confusion_matrix(evaluation);
    }
    *log << "evaluation: " << folder << "/evaluation.h5, " << folder << "/evaluation.csv" << std::endl;
  }
  return result;
}

void predict_and_write(Trainer& trainer, const PredictionInput& input, const std::string& folder,
                       std::ostream* log, int show, std::vector<float>* computed) {
  const Dataset& images = *input.images;
  Predictions p;
  p.probabilities = computed ? std::move(*computed) : trainer.predict(images);
  if (trainer.comm().rank() != 0) return;
  p.class_names = class_names();
  const std::size_t k = p.class_names.size();
  p.rows = images.rows;
  p.cols = images.cols;
  p.source = input.source;
  std::int64_t correct = 0;
  for (int i = 0; i < images.count; ++i) {
    const float* row = p.probabilities.data() + static_cast<std::size_t>(i) * k;
    // The first maximum, as np.argmax; softmax_probabilities makes it the logits' prediction.
    p.predicted.push_back(std::max_element(row, row + k) - row);
    if (input.has_labels) {
      p.labels.push_back(images.labels[static_cast<std::size_t>(i)]);
      correct += p.predicted.back() == p.labels.back() ? 1 : 0;
    }
  }
  p.example_index = example_indices(p);
  for (std::int64_t i : p.example_index) append_image(images, static_cast<int>(i), p.example_images);
  if (input.train)
    for (int i = 0; i < std::min(kTrainSamples, input.train->count); ++i) {
      append_image(*input.train, i, p.train_images);
      p.train_labels.push_back(input.train->labels[static_cast<std::size_t>(i)]);
    }
  std::filesystem::create_directories(folder);
  write_predictions(folder + "/predictions.h5", p);
  if (!log) return;
  char line[160];
  for (int i = 0; i < std::min(show, images.count); ++i) {
    const auto row = static_cast<std::size_t>(i);
    const auto predicted = static_cast<std::size_t>(p.predicted[row]);
    std::snprintf(line, sizeof(line), "image %d: predicted %zu %s (probability %.4f)", i, predicted,
                  p.class_names[predicted].c_str(), p.probabilities[row * k + predicted]);
    *log << line;
    if (input.has_labels)
      *log << ", true " << p.labels[row] << " " << p.class_names[static_cast<std::size_t>(p.labels[row])];
    *log << "\n";
  }
  if (input.has_labels && images.count > 0) {
    std::snprintf(line, sizeof(line), "predicted_accuracy: %.4f (%lld of %d)",
                  static_cast<double>(correct) / images.count, static_cast<long long>(correct), images.count);
    *log << line << "\n";
  }
  *log << "predictions: " << folder << "/predictions.h5 (" << images.count << " images)" << std::endl;
}

}  // namespace fmnist
