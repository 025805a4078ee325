// The per-class evaluation of a model on a labelled set, as files: evaluation.h5 for tools
// (h5py, h5dump) and evaluation.csv for people and spreadsheets.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace fmnist {

/// Version of evaluation.h5 (root attribute `format_version`).
constexpr int kEvaluationFormatVersion = 1;

/// scikit-learn's classification_report and confusion_matrix of one evaluation, k classes.
struct Evaluation {
  std::vector<std::string> class_names;        // (k)
  std::vector<std::int64_t> confusion_matrix;  // (k, k) row-major: rows = true, columns = predicted
  std::vector<double> precision, recall, f1;   // (k) each; 0 where undefined (sklearn's zero_division=0)
  std::vector<std::int64_t> support;           // (k) true samples of each class
  double loss = 0.0, accuracy = 0.0;           // over all samples

  int classes() const { return static_cast<int>(class_names.size()); }
};

/// Writes `h5_path` (datasets confusion_matrix int64 (k, k), precision, recall, f1 float64 (k),
/// support int64 (k), class_names fixed-length strings (k); root attributes format_version,
/// loss, accuracy) and `csv_path` (one line per true class: class, name, precision, recall, f1,
/// support, then that row of the confusion matrix as pred_0..pred_<k-1>). Each file is replaced
/// atomically. Throws Error naming the file, also when the arrays' sizes disagree with k.
void write_evaluation(const std::string& h5_path, const std::string& csv_path, const Evaluation& evaluation);

}  // namespace fmnist
