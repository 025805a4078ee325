// Per-class metrics against hand computation, and the report against scikit-learn's own
// documented output (sklearn.metrics.classification_report, the example of its docstring).
#include <gtest/gtest.h>

#include "fmnist/core/error.h"
#include "fmnist/train/classification_report.h"

namespace fmnist {
namespace {

// sklearn's example: y_true = [0, 1, 2, 2, 2], y_pred = [0, 0, 2, 2, 1].
// Rows = true class: true 0 -> predicted 0; true 1 -> 0; true 2 -> 1, 2, 2.
const std::vector<std::int64_t> kExample = {1, 0, 0,  //
                                            1, 0, 0,  //
                                            0, 1, 2};

TEST(ClassificationReport, MetricsByHand) {
  const Evaluation e = make_evaluation(kExample, {"class 0", "class 1", "class 2"}, 0.25);
  // class 0: tp 1, predicted 2, actual 1; class 1: tp 0, predicted 1, actual 1 (0 / 1 = 0);
  // class 2: tp 2, predicted 2, actual 3.
  EXPECT_DOUBLE_EQ(e.precision[0], 0.5);
  EXPECT_DOUBLE_EQ(e.recall[0], 1.0);
  EXPECT_DOUBLE_EQ(e.f1[0], 2 * 0.5 * 1.0 / 1.5);
  EXPECT_DOUBLE_EQ(e.precision[1], 0.0);
  EXPECT_DOUBLE_EQ(e.recall[1], 0.0);
  EXPECT_DOUBLE_EQ(e.f1[1], 0.0);
  EXPECT_DOUBLE_EQ(e.precision[2], 1.0);
  EXPECT_DOUBLE_EQ(e.recall[2], 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(e.f1[2], 2 * (2.0 / 3.0) / (1 + 2.0 / 3.0));
  EXPECT_EQ(e.support, (std::vector<std::int64_t>{1, 1, 3}));
  EXPECT_DOUBLE_EQ(e.accuracy, 3.0 / 5.0);
  EXPECT_DOUBLE_EQ(e.loss, 0.25);
}

TEST(ClassificationReport, ClassNeverPredictedNorPresentIsZeroNotNan) {
  const Evaluation e = make_evaluation({3, 0, 0, 0}, {"a", "b"}, 0.0);
  EXPECT_DOUBLE_EQ(e.precision[1], 0.0);
  EXPECT_DOUBLE_EQ(e.recall[1], 0.0);
  EXPECT_DOUBLE_EQ(e.f1[1], 0.0);
  EXPECT_EQ(e.support[1], 0);
}

TEST(ClassificationReport, TextAsScikitLearnPrintsIt) {
  // Copied from scikit-learn's documentation of classification_report (digits=2).
  const std::string sklearn =
      "              precision    recall  f1-score   support\n"
      "\n"
      "     class 0       0.50      1.00      0.67         1\n"
      "     class 1       0.00      0.00      0.00         1\n"
      "     class 2       1.00      0.67      0.80         3\n"
      "\n"
      "    accuracy                           0.60         5\n"
      "   macro avg       0.50      0.56      0.49         5\n"
      "weighted avg       0.70      0.60      0.61         5\n";
  const Evaluation e = make_evaluation(kExample, {"class 0", "class 1", "class 2"}, 0.0);
  EXPECT_EQ(format_classification_report(e, 2), sklearn);
}

TEST(ClassificationReport, ConfusionMatrixTextNamesEveryClass) {
  const Evaluation e = make_evaluation(kExample, {"class 0", "class 1", "class 2"}, 0.0);
  const std::string text = format_confusion_matrix(e);
  EXPECT_NE(text.find(" 2 class 2    0   1   2"), std::string::npos) << text;
  EXPECT_NE(text.find(" 1 class 1    1   0   0"), std::string::npos) << text;
}

TEST(ClassificationReport, WrongMatrixSizeThrows) {
  EXPECT_THROW(make_evaluation({1, 2, 3}, {"a", "b"}, 0.0), Error);
}

}  // namespace
}  // namespace fmnist
