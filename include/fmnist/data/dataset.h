// In-memory splits of Fashion-MNIST (uint8 pixels, int32 labels) and the batch gather that
// scales pixels to floats only for the samples of the current batch.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "fmnist/core/tensor.h"

namespace fmnist {

struct FashionMnist;

/// A set of grey images kept as stored: pixels (count, rows, cols) uint8, labels (count).
struct Dataset {
  int count = 0, rows = 0, cols = 0;
  std::vector<std::uint8_t> pixels;
  std::vector<std::int32_t> labels;

  std::size_t image_size() const { return static_cast<std::size_t>(rows) * cols; }
};

struct DataSplits {
  Dataset train, validation, test;
};

/// The ten Fashion-MNIST class names, indexed by label ("T-shirt/top", "Trouser", ...).
const std::vector<std::string>& class_names();

/// Reads images to predict from an IDX image file and, unless `labels_path` is empty, their
/// labels. Throws Error naming the file when it cannot be read, when its images are not
/// rows x cols (the model's input), or when the label count differs from the image count.
/// Without labels, every label is 0.
Dataset load_images_to_predict(const std::string& images_path, const std::string& labels_path, int rows,
                               int cols);

/// Holds out the FIRST `validation_split` training images as the validation set (Keras
/// tutorial convention); 0 means no validation set. Throws Error if the split leaves no
/// training images.
DataSplits make_splits(const FashionMnist& data, int validation_split);

/// Writes samples ids[0..n) of `data` into `images` (n, 1, rows, cols) — pixels / 255 when
/// `normalize`, raw 0..255 otherwise — and their labels into labels[0..n). `images` must
/// already have capacity for n samples; its batch size is set to n.
void gather_batch(const Dataset& data, const std::int32_t* ids, int n, bool normalize, Tensor& images,
                  std::int32_t* labels);

}  // namespace fmnist
