// Per-class metrics and their text (see classification_report.h; the layout is that of
// sklearn.metrics.classification_report and its _classification.py).
#include "fmnist/train/classification_report.h"

#include <algorithm>
#include <cstdio>

#include "fmnist/core/error.h"

namespace fmnist {
namespace {

double ratio(double num, double den) { return den > 0 ? num / den : 0.0; }

// One "{:>{width}s}  {:>9.4f} {:>9.4f} {:>9.4f} {:>9}" row (the support may be blank).
std::string row(const std::string& label, int width, const std::string& a, const std::string& b,
                const std::string& c, const std::string& support) {
  char line[256];
  std::snprintf(line, sizeof(line), "%*s  %9s %9s %9s %9s\n", width, label.c_str(), a.c_str(), b.c_str(),
                c.c_str(), support.c_str());
  return line;
}

std::string fixed(double value, int digits) {
  char text[64];
  std::snprintf(text, sizeof(text), "%.*f", digits, value);
  return text;
}

}  // namespace

Evaluation make_evaluation(const std::vector<std::int64_t>& confusion,
                           const std::vector<std::string>& class_names, double loss) {
  const std::size_t k = class_names.size();
  if (k == 0 || confusion.size() != k * k)
    throw Error("confusion matrix: expected " + std::to_string(k * k) + " counts for " + std::to_string(k) +
                " classes, found " + std::to_string(confusion.size()));
  Evaluation e;
  e.class_names = class_names;
  e.confusion_matrix = confusion;
  e.loss = loss;
  std::int64_t total = 0, trace = 0;
  for (std::size_t c = 0; c < k; ++c) {
    std::int64_t predicted = 0, actual = 0;
    for (std::size_t j = 0; j < k; ++j) {
      actual += confusion[c * k + j];
      predicted += confusion[j * k + c];
    }
    const double tp = static_cast<double>(confusion[c * k + c]);
    const double precision = ratio(tp, static_cast<double>(predicted));
    const double recall = ratio(tp, static_cast<double>(actual));
    e.precision.push_back(precision);
    e.recall.push_back(recall);
    e.f1.push_back(ratio(2 * precision * recall, precision + recall));
    e.support.push_back(actual);
    total += actual;
    trace += confusion[c * k + c];
  }
  e.accuracy = ratio(static_cast<double>(trace), static_cast<double>(total));
  return e;
}

std::string format_classification_report(const Evaluation& e, int digits) {
  auto as_text = [digits](double value) { return fixed(value, digits); };
  const std::string last_heading = "weighted avg";
  int width = static_cast<int>(last_heading.size());
  for (const std::string& name : e.class_names) width = std::max(width, static_cast<int>(name.size()));
  std::string out = row("", width, "precision", "recall", "f1-score", "support") + "\n";
  std::int64_t total = 0;
  double macro[3] = {0, 0, 0}, weighted[3] = {0, 0, 0};
  for (int c = 0; c < e.classes(); ++c) {
    const auto i = static_cast<std::size_t>(c);
    out += row(e.class_names[i], width, as_text(e.precision[i]), as_text(e.recall[i]), as_text(e.f1[i]),
               std::to_string(e.support[i]));
    const double values[3] = {e.precision[i], e.recall[i], e.f1[i]};
    for (int m = 0; m < 3; ++m) {
      macro[m] += values[m] / e.classes();
      weighted[m] += values[m] * static_cast<double>(e.support[i]);
    }
    total += e.support[i];
  }
  for (double& w : weighted) w = ratio(w, static_cast<double>(total));
  out += "\n" + row("accuracy", width, "", "", as_text(e.accuracy), std::to_string(total));
  out +=
      row("macro avg", width, as_text(macro[0]), as_text(macro[1]), as_text(macro[2]), std::to_string(total));
  out += row(last_heading, width, as_text(weighted[0]), as_text(weighted[1]), as_text(weighted[2]),
             std::to_string(total));
  return out;
}

std::string format_confusion_matrix(const Evaluation& e) {
  const int k = e.classes();
  int name_width = 0;
  std::int64_t largest = 0;
  for (const std::string& name : e.class_names)
    name_width = std::max(name_width, static_cast<int>(name.size()));
  for (std::int64_t v : e.confusion_matrix) largest = std::max(largest, v);
  const int cell = std::max(4, static_cast<int>(std::to_string(largest).size()) + 1);
  char text[128];
  std::string out = "confusion matrix (rows: true class, columns: predicted class)\n";
  std::snprintf(text, sizeof(text), "%*s", name_width + 4, "");
  out += text;
  for (int j = 0; j < k; ++j) {
    const std::string index = std::to_string(j);
    out += std::string(static_cast<std::size_t>(cell) - index.size(), ' ') + index;
  }
  out += "\n";
  for (int i = 0; i < k; ++i) {
    std::snprintf(text, sizeof(text), "%2d %-*s ", i, name_width,
                  e.class_names[static_cast<std::size_t>(i)].c_str());
    out += text;
    for (int j = 0; j < k; ++j) {
      std::snprintf(text, sizeof(text), "%*lld", cell,
                    static_cast<long long>(e.confusion_matrix[static_cast<std::size_t>(i * k + j)]));
      out += text;
    }
    out += "\n";
  }
  return out;
}

}  // namespace fmnist
