// predictions.h5: a model's class probabilities for a set of images, with the images the
// plotting script shows (so it needs no other file).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace fmnist {

/// Version of predictions.h5 (root attribute `format_version`).
constexpr int kPredictionsFormatVersion = 1;

/// N predicted images of rows x cols pixels, k classes.
struct Predictions {
  std::vector<std::string> class_names;  // (k)
  std::vector<float> probabilities;      // (N, k) softmax of the logits
  std::vector<std::int64_t> predicted;   // (N) arg-max class
  std::vector<std::int64_t> labels;      // (N) true classes, or empty when unknown
  int rows = 0, cols = 0;
  /// Images shown in the plots: their indices into the N (K) and their pixels (K, rows, cols).
  std::vector<std::int64_t> example_index;
  std::vector<std::uint8_t> example_images;
  /// A few training images with their classes (T, rows, cols) and (T); empty when not trained here.
  std::vector<std::uint8_t> train_images;
  std::vector<std::int64_t> train_labels;
  std::string source;  // what was predicted, e.g. the image file (root attribute `source`)
};

/// Writes `path` atomically: datasets probabilities float32 (N, k), predicted int64 (N),
/// labels int64 (N) when known, class_names (k), example_index int64 (K), example_images uint8
/// (K, rows, cols), and train_images uint8 (T, rows, cols) with train_labels int64 (T) when
/// present. Throws Error naming `path`, also when the sizes disagree.
void write_predictions(const std::string& path, const Predictions& predictions);

}  // namespace fmnist
