// Sequential::forward in evaluation skips the layers that are the identity there (Dropout),
// handing their input on. Checked against the same model built without those layers (the
// parameters are the same floats, so the logits must be too), with Dropout first, in the
// middle and last, and after a training forward has filled the Dropouts' outputs with masked
// values that evaluation must not read. A training step after an evaluation pass must also be
// the step a fresh model takes.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "fmnist/nn/model_spec.h"
#include "fmnist/nn/sequential.h"
#include "fmnist/nn/softmax_cross_entropy.h"

namespace fmnist {
namespace {

constexpr int kBatch = 3;

std::unique_ptr<Sequential> make_model(const std::string& spec) {
  std::unique_ptr<Sequential> model = build_model(spec);
  model->params().initialize(11);
  model->setup(kBatch);
  return model;
}

void fill_input(Sequential& model, std::uint32_t seed) {
  std::mt19937 gen(seed);
  Tensor& input = model.input();
  input.set_batch(kBatch);
  for (std::size_t i = 0; i < input.numel(); ++i) input[i] = std::uniform_real_distribution<float>(0.0f, 1.0f)(gen);
}

std::vector<float> copy_of(const Tensor& t) { return std::vector<float>(t.data(), t.data() + t.numel()); }

// One training step's logits and parameter gradients.
struct TrainStep {
  std::vector<float> logits, grads;
};

TrainStep train_step(Sequential& model) {
  const std::vector<std::int32_t> ids = {4, 9, 2};
  const std::vector<std::int32_t> labels = {1, 7, 3};
  ForwardContext ctx{Mode::kTrain, 5, 0, ids.data()};
  fill_input(model, 3);
  TrainStep step;
  const Tensor& logits = model.forward(ctx);
  step.logits = copy_of(logits);
  softmax_cross_entropy(logits, labels.data(), 1.0f, &model.logits_grad());
  model.backward({});
  step.grads.assign(model.params().grads(), model.params().grads() + model.params().size());
  return step;
}

std::vector<float> eval_logits(Sequential& model) {
  fill_input(model, 8);
  return copy_of(model.forward(ForwardContext{}));
}

void expect_dropout_skipped(const std::string& with_dropout, const std::string& without) {
  SCOPED_TRACE(with_dropout);
  std::unique_ptr<Sequential> dropped = make_model(with_dropout);
  std::unique_ptr<Sequential> plain = make_model(without);
  ASSERT_EQ(dropped->params().size(), plain->params().size());
  std::copy(plain->params().values(), plain->params().values() + plain->params().size(), dropped->params().values());
  train_step(*dropped);  // leaves masked outputs in the Dropouts' buffers
  const std::vector<float> expected = eval_logits(*plain);
  const std::vector<float> got = eval_logits(*dropped);
  ASSERT_EQ(got.size(), expected.size());
  ASSERT_EQ(got.size(), static_cast<std::size_t>(kBatch) * 10);
  for (std::size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], expected[i]) << "logit " << i;
}

TEST(EvaluationForward, DropoutInTheMiddleIsSkipped) {
  expect_dropout_skipped("conv4x3same-drop0.5-pool2-conv8x3same-drop0.3-flatten-dense10",
                         "conv4x3same-pool2-conv8x3same-flatten-dense10");
}

TEST(EvaluationForward, DropoutFirstAndLast) {
  expect_dropout_skipped("drop0.2-flatten-dense16-drop0.5-dense10linear-drop0.4", "flatten-dense16-dense10linear");
}

TEST(EvaluationForward, TrainingAfterEvaluationIsUnchanged) {
  const std::string spec = "conv4x3same-drop0.5-pool2-flatten-drop0.3-dense10";
  std::unique_ptr<Sequential> fresh = make_model(spec);
  std::unique_ptr<Sequential> evaluated = make_model(spec);
  const std::vector<float> logits = eval_logits(*evaluated);
  for (float v : logits) ASSERT_TRUE(std::isfinite(v));
  const TrainStep expected = train_step(*fresh);
  const TrainStep got = train_step(*evaluated);
  ASSERT_EQ(got.logits.size(), expected.logits.size());
  for (std::size_t i = 0; i < got.logits.size(); ++i) EXPECT_EQ(got.logits[i], expected.logits[i]) << "logit " << i;
  ASSERT_EQ(got.grads.size(), expected.grads.size());
  int nonzero = 0;
  for (std::size_t i = 0; i < got.grads.size(); ++i) {
    EXPECT_EQ(got.grads[i], expected.grads[i]) << "gradient " << i;
    nonzero += expected.grads[i] != 0.0f;
  }
  EXPECT_GT(nonzero, static_cast<int>(got.grads.size()) / 2);
}

}  // namespace
}  // namespace fmnist
