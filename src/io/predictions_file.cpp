// predictions.h5 (see predictions_file.h).
#include "fmnist/io/predictions_file.h"

#include "atomic_file.h"
#include "fmnist/core/error.h"
#include "hdf5_util.h"

namespace fmnist {
namespace {

void check_sizes(const Predictions& p, const std::string& file) {
  const std::size_t k = p.class_names.size(), n = p.predicted.size();
  const std::size_t image = static_cast<std::size_t>(p.rows) * static_cast<std::size_t>(p.cols);
  const bool ok = k > 0 && p.probabilities.size() == n * k && (p.labels.empty() || p.labels.size() == n) &&
                  p.example_images.size() == p.example_index.size() * image &&
                  p.train_images.size() == p.train_labels.size() * image;
  if (!ok)
    throw Error(file + ": expected predictions of " + std::to_string(n) + " images in " + std::to_string(k) +
                " classes with matching labels and images, found arrays of other sizes");
}

}  // namespace

void write_predictions(const std::string& path, const Predictions& p) {
  h5::silence_errors();
  check_sizes(p, path);
  const std::size_t k = p.class_names.size(), n = p.predicted.size();
  const auto rows = static_cast<std::size_t>(p.rows), cols = static_cast<std::size_t>(p.cols);
  AtomicFile out(path);
  {
    h5::Handle file = h5::create_file(out.temp_path(), h5::FileFormat::kCompatible, 0, path);
    h5::write_attribute_int(file.get(), "format_version", kPredictionsFormatVersion, path);
    h5::write_attribute_string(file.get(), "source", p.source, path);
    h5::DatasetOptions plain;
    plain.checksum = false;
    h5::write_dataset<float>(file.get(), "probabilities", {n, k}, p.probabilities.data(), plain, path);
    h5::write_dataset<std::int64_t>(file.get(), "predicted", {n}, p.predicted.data(), plain, path);
    if (!p.labels.empty())
      h5::write_dataset<std::int64_t>(file.get(), "labels", {n}, p.labels.data(), plain, path);
    h5::write_string_dataset(file.get(), "class_names", p.class_names, path);
    h5::write_dataset<std::int64_t>(file.get(), "example_index", {p.example_index.size()},
                                    p.example_index.data(), plain, path);
    h5::write_dataset<std::uint8_t>(file.get(), "example_images", {p.example_index.size(), rows, cols},
                                    p.example_images.data(), plain, path);
    if (!p.train_labels.empty()) {
      h5::write_dataset<std::uint8_t>(file.get(), "train_images", {p.train_labels.size(), rows, cols},
                                      p.train_images.data(), plain, path);
      h5::write_dataset<std::int64_t>(file.get(), "train_labels", {p.train_labels.size()},
                                      p.train_labels.data(), plain, path);
    }
    h5::flush_and_close(file, path);
  }
  out.commit();
}

}  // namespace fmnist
