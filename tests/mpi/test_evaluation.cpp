// Per-class evaluation and prediction across ranks, run by ctest under mpiexec at 1, 2 and 4
// ranks. The reference is the same trainer on each rank alone (MPI_COMM_SELF): the confusion
// matrix and the gathered probabilities must not depend on the number of ranks, and the
// matrix must agree with the arg-max of the probabilities counted here, sample by sample.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>

#include "fmnist/dist/communicator.h"
#include "fmnist/train/trainer.h"
#include "support/synthetic_data.h"

namespace fmnist {
namespace {

TrainConfig config_for(const std::string& model) {
  TrainConfig c;
  c.model = model;
  c.batch_size = 16;
  c.max_steps = 20;
  c.epochs = 1;
  c.seed = 11;
  return c;
}

/// A partly trained model on `comm`: some classes right, some wrong, so the matrix is not diagonal.
void train_a_little(Trainer& trainer) {
  trainer.initialize_parameters();
  trainer.fit();
}

class Evaluation : public ::testing::TestWithParam<std::string> {};

TEST_P(Evaluation, ConfusionMatrixAndPredictionsMatchOneProcess) {
  Communicator world;
  Communicator self(CommScope::kSelf);
  // 1001 test samples: not a multiple of the evaluation batch nor of the ranks.
  Trainer distributed(config_for(GetParam()), testing::synthetic_splits(400, 0, 1001), world, nullptr);
  Trainer alone(config_for(GetParam()), testing::synthetic_splits(400, 0, 1001), self, nullptr);
  train_a_little(distributed);
  // The same parameters alone: the distributed ones (identical on every rank).
  std::memcpy(alone.model().params().values(), distributed.model().params().values(),
              sizeof(float) * alone.model().params().size());
  if (alone.model().non_trainable().size() > 0)  // an empty arena has no data pointer
    std::memcpy(alone.model().non_trainable().values(), distributed.model().non_trainable().values(),
                sizeof(float) * alone.model().non_trainable().size());

  std::vector<std::int64_t> confusion, confusion_alone;
  const EvalResult result = distributed.evaluate(distributed.data().test, &confusion);
  const EvalResult result_alone = alone.evaluate(alone.data().test, &confusion_alone);
  const std::vector<float> probabilities = distributed.predict(distributed.data().test);
  const std::vector<float> probabilities_alone = alone.predict(alone.data().test);
  // The same probabilities from evaluate's own pass (what a training run writes).
  std::vector<float> evaluated;
  const EvalResult result_with_probabilities = distributed.evaluate(distributed.data().test, nullptr, &evaluated);
  EXPECT_EQ(result_with_probabilities.accuracy, result.accuracy);
  EXPECT_EQ(result_with_probabilities.loss, result.loss);

  EXPECT_EQ(confusion, confusion_alone) << "the matrix depends on the number of ranks";
  EXPECT_EQ(result.accuracy, result_alone.accuracy);
  if (world.rank() != 0) {
    EXPECT_TRUE(probabilities.empty());
    EXPECT_TRUE(evaluated.empty());
    return;
  }
  ASSERT_EQ(evaluated.size(), probabilities.size());
  EXPECT_EQ(0, std::memcmp(evaluated.data(), probabilities.data(), sizeof(float) * evaluated.size()))
      << "evaluate's probabilities differ from predict's";
  const Dataset& test = distributed.data().test;
  const std::size_t k = 10;
  ASSERT_EQ(probabilities.size(), static_cast<std::size_t>(test.count) * k);
  // Bitwise: every sample meets the same GEMM shapes at any number of ranks.
  ASSERT_EQ(probabilities.size(), probabilities_alone.size());
  EXPECT_EQ(
      0, std::memcmp(probabilities.data(), probabilities_alone.data(), sizeof(float) * probabilities.size()))
      << "gathered probabilities differ from one process'";

  // The matrix again, from the arg-max of each row of probabilities and the true labels.
  std::vector<std::int64_t> counted(k * k, 0);
  std::int64_t correct = 0, diagonal = 0, total = 0;
  for (int i = 0; i < test.count; ++i) {
    const float* row = probabilities.data() + static_cast<std::size_t>(i) * k;
    double sum = 0;
    for (std::size_t c = 0; c < k; ++c) sum += row[c];
    EXPECT_NEAR(sum, 1.0, 1e-5) << "sample " << i;
    const auto predicted = static_cast<std::size_t>(std::max_element(row, row + k) - row);
    const auto label = static_cast<std::size_t>(test.labels[static_cast<std::size_t>(i)]);
    ++counted[label * k + predicted];
    correct += predicted == label ? 1 : 0;
  }
  EXPECT_EQ(confusion, counted);
  for (std::size_t c = 0; c < k; ++c) diagonal += confusion[c * k + c];
  for (std::int64_t v : confusion) total += v;
  EXPECT_EQ(total, test.count);
  EXPECT_EQ(diagonal, correct);
  EXPECT_DOUBLE_EQ(result.accuracy, static_cast<double>(correct) / test.count);
  EXPECT_GT(correct, test.count / 10) << "the model learnt nothing; the test would be weak";
  EXPECT_LT(correct, test.count) << "a perfect model leaves the off-diagonal untested";
}

INSTANTIATE_TEST_SUITE_P(Models, Evaluation,
                         ::testing::Values("flatten-dense32-dense10",
                                           "conv8x3same-bn-relu-pool2-flatten-dense10"));

}  // namespace
}  // namespace fmnist
