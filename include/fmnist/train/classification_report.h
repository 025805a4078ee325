// Per-class metrics from a confusion matrix, and their text as scikit-learn prints them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "fmnist/io/evaluation_file.h"

namespace fmnist {

/// Precision tp / (tp + fp), recall tp / (tp + fn), F1 2pr / (p + r) and support per class of
/// `confusion` ((k, k), rows = true class, k = class_names.size()); 0 where a ratio is 0 / 0
/// (scikit-learn's zero_division=0). Accuracy is the trace over the total.
Evaluation make_evaluation(const std::vector<std::int64_t>& confusion,
                           const std::vector<std::string>& class_names, double loss);

/// scikit-learn's classification_report(digits=...): a row per class, then accuracy, macro avg
/// and weighted avg.
std::string format_classification_report(const Evaluation& evaluation, int digits = 4);

/// The confusion matrix with a row per true class (index and name) and a column per
/// predicted class index.
std::string format_confusion_matrix(const Evaluation& evaluation);

}  // namespace fmnist
