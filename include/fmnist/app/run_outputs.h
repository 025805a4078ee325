// What a run leaves after training or for --evaluate / --predict: the per-class evaluation
// (evaluation.h5, evaluation.csv) and the predictions (predictions.h5).
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "fmnist/data/dataset.h"
#include "fmnist/train/trainer.h"

namespace fmnist {

/// Test images the predictions file keeps for the plots: the first ones, and as many of the
/// most confidently wrong ones.
constexpr int kExampleImages = 25;
/// Training images kept for the plots' grid of training images (5 x 5).
constexpr int kTrainSamples = 25;

/// Evaluates `data` on every rank (sharded, the confusion matrix summed exactly), and on rank
/// 0 writes <folder>/evaluation.h5 and evaluation.csv. `log` (rank 0, else null) gets, when
/// `print_report`, the test line, the per-class table and the confusion matrix, and then the
/// files' names. When `probabilities` is given it is set as Trainer::predict sets it, from the
/// same pass over `data`, for predict_and_write.
EvalResult evaluate_and_write(Trainer& trainer, const Dataset& data, const std::string& folder,
                              std::ostream* log, bool print_report, std::vector<float>* probabilities = nullptr);

/// What a predictions file is about.
struct PredictionInput {
  const Dataset* images = nullptr;  // the images predicted (every rank)
  bool has_labels = false;          // images->labels are the true classes
  const Dataset* train = nullptr;   // training images to keep a few of, or null
  std::string source;               // e.g. "test set" or the IDX file
};

/// Predicts every image on every rank (sharded, gathered on rank 0); rank 0 writes
/// <folder>/predictions.h5 and prints to `log` the first `show` predictions (and the accuracy
/// of the arg-max when the labels are known). `computed` (given on every rank or on none):
/// probabilities evaluate_and_write already gathered for these images, taken instead of a
/// second pass.
void predict_and_write(Trainer& trainer, const PredictionInput& input, const std::string& folder,
                       std::ostream* log, int show, std::vector<float>* computed = nullptr);

}  // namespace fmnist
