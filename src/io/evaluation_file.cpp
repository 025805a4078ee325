// evaluation.h5 and evaluation.csv (see evaluation_file.h).
#include "fmnist/io/evaluation_file.h"

#include <cstdio>

#include "atomic_file.h"
#include "fmnist/core/error.h"
#include "hdf5_util.h"

namespace fmnist {
namespace {

void check_sizes(const Evaluation& e, const std::string& file) {
  const std::size_t k = e.class_names.size();
  const bool ok = k > 0 && e.confusion_matrix.size() == k * k && e.precision.size() == k &&
                  e.recall.size() == k && e.f1.size() == k && e.support.size() == k;
  if (!ok)
    throw Error(file + ": expected an evaluation of " + std::to_string(k) + " classes (a " +
                std::to_string(k) + "x" + std::to_string(k) + " matrix and " + std::to_string(k) +
                " values per metric), found arrays of other sizes");
}

std::string to_csv(const Evaluation& e) {
  const int k = e.classes();
  std::string out = "class,name,precision,recall,f1,support";
  for (int j = 0; j < k; ++j) out += ",pred_" + std::to_string(j);
  out += "\n";
  char number[96];
  for (int i = 0; i < k; ++i) {
    const auto row = static_cast<std::size_t>(i);
    std::snprintf(number, sizeof(number), "%.17g,%.17g,%.17g", e.precision[row], e.recall[row], e.f1[row]);
    out += std::to_string(i) + ",\"" + e.class_names[row] + "\"," + number + "," +
           std::to_string(e.support[row]);
    for (int j = 0; j < k; ++j)
      out += "," + std::to_string(e.confusion_matrix[row * k + static_cast<std::size_t>(j)]);
    out += "\n";
  }
  return out;
}

}  // namespace

void write_evaluation(const std::string& h5_path, const std::string& csv_path, const Evaluation& e) {
  h5::silence_errors();
  check_sizes(e, h5_path);
  const std::size_t k = e.class_names.size();
  {
    AtomicFile out(h5_path);
    {
      h5::Handle file = h5::create_file(out.temp_path(), h5::FileFormat::kCompatible, 0, h5_path);
      h5::write_attribute_int(file.get(), "format_version", kEvaluationFormatVersion, h5_path);
      h5::write_attribute_double(file.get(), "loss", e.loss, h5_path);
      h5::write_attribute_double(file.get(), "accuracy", e.accuracy, h5_path);
      h5::DatasetOptions plain;
      plain.checksum = false;
      h5::write_dataset<std::int64_t>(file.get(), "confusion_matrix", {k, k}, e.confusion_matrix.data(),
                                      plain, h5_path);
      h5::write_dataset<double>(file.get(), "precision", {k}, e.precision.data(), plain, h5_path);
      h5::write_dataset<double>(file.get(), "recall", {k}, e.recall.data(), plain, h5_path);
      h5::write_dataset<double>(file.get(), "f1", {k}, e.f1.data(), plain, h5_path);
      h5::write_dataset<std::int64_t>(file.get(), "support", {k}, e.support.data(), plain, h5_path);
      h5::write_string_dataset(file.get(), "class_names", e.class_names, h5_path);
      h5::flush_and_close(file, h5_path);
    }
    out.commit();
  }
  write_text_file_atomically(csv_path, to_csv(e));
}

}  // namespace fmnist
