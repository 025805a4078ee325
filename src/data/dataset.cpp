// Splits and batch gathering.
#include "fmnist/data/dataset.h"

#include "fmnist/core/error.h"
#include "fmnist/data/idx_reader.h"

namespace fmnist {
namespace {

Dataset slice(const IdxImages& images, const std::vector<std::uint8_t>& labels, int begin, int end) {
  Dataset d;
  d.count = end - begin;
  d.rows = images.rows;
  d.cols = images.cols;
  const std::size_t image = static_cast<std::size_t>(images.rows) * images.cols;
  d.pixels.assign(images.pixels.begin() + static_cast<std::ptrdiff_t>(begin * image),
                  images.pixels.begin() + static_cast<std::ptrdiff_t>(end * image));
  d.labels.assign(labels.begin() + begin, labels.begin() + end);
  return d;
}

}  // namespace

const std::vector<std::string>& class_names() {
  static const std::vector<std::string> names = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                 "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  return names;
}

Dataset load_images_to_predict(const std::string& images_path, const std::string& labels_path, int rows,
                               int cols) {
  const IdxImages images = read_idx_images(images_path);
  if (images.rows != rows || images.cols != cols)
    throw Error(images_path + ": expected " + std::to_string(rows) + "x" + std::to_string(cols) +
                " images (the model's input), found " + std::to_string(images.rows) + "x" +
                std::to_string(images.cols));
  std::vector<std::uint8_t> labels(static_cast<std::size_t>(images.count), 0);
  if (!labels_path.empty()) {
    labels = read_idx_labels(labels_path, static_cast<int>(class_names().size()));
    if (labels.size() != static_cast<std::size_t>(images.count))
      throw Error(labels_path + ": expected " + std::to_string(images.count) + " labels (one per image of " +
                  images_path + "), found " + std::to_string(labels.size()));
  }
  return slice(images, labels, 0, images.count);
}

DataSplits make_splits(const FashionMnist& data, int validation_split) {
  const int train_count = data.train_images.count;
  if (validation_split < 0 || validation_split >= train_count)
    throw Error("--validation-split: expected 0 to " + std::to_string(train_count - 1) + " images, found " +
                std::to_string(validation_split));
  DataSplits splits;
  splits.validation = slice(data.train_images, data.train_labels, 0, validation_split);
  splits.train = slice(data.train_images, data.train_labels, validation_split, train_count);
  splits.test = slice(data.test_images, data.test_labels, 0, data.test_images.count);
  return splits;
}

void gather_batch(const Dataset& data, const std::int32_t* ids, int n, bool normalize, Tensor& images,
                  std::int32_t* labels) {
  images.set_batch(n);
  const std::size_t image = data.image_size();
  const float scale = normalize ? 1.0f / 255.0f : 1.0f;
  float* out = images.data();
  for (int i = 0; i < n; ++i) {
    const std::uint8_t* src = data.pixels.data() + static_cast<std::size_t>(ids[i]) * image;
    float* dst = out + static_cast<std::size_t>(i) * image;
    for (std::size_t p = 0; p < image; ++p) dst[p] = static_cast<float>(src[p]) * scale;
    labels[i] = data.labels[static_cast<std::size_t>(ids[i])];
  }
}

}  // namespace fmnist
