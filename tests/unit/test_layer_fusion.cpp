// A Conv2D run together with the MaxPool2D after it (Conv2D::forward_pooled / backward_pooled,
// chosen by Sequential::setup) against the same model with the layers run one by one: the
// logits, every parameter gradient and the input gradient of a fused pair in the middle of a
// model must be the same floats. The fused code reorders no sums (both paths convolve one image
// at a time), so exact equality is the right test; the central-difference checks of the fused
// models are in test_layer_gradients.cpp (ModelGradients).
#include <gtest/gtest.h>

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

struct StepResult {
  std::vector<float> logits, grads;
  std::vector<bool> fused;
};

StepResult run_step(const std::string& spec, bool fuse, int batch, std::uint32_t seed) {
  std::unique_ptr<Sequential> model = build_model(spec);
  model->params().initialize(seed);
  // Non-zero biases, so a ReLU sees values on both sides of 0 from the bias as well.
  std::mt19937 gen(seed);
  float* values = model->params().values();
  for (const ParamView& v : model->params().views())
    if (v.spec.init == Init::kZeros)
      for (std::size_t i = 0; i < v.size; ++i)
        values[v.offset + i] = std::uniform_real_distribution<float>(-0.2f, 0.2f)(gen);
  model->set_fuse_layers(fuse);
  model->setup(batch);
  Tensor& input = model->input();
  input.set_batch(batch);
  for (std::size_t i = 0; i < input.numel(); ++i)
    input[i] =
        std::uniform_real_distribution<float>(-0.5f, 1.0f)(gen);  // negatives: some windows all below 0
  std::vector<std::int32_t> labels(batch), ids(batch);
  for (int i = 0; i < batch; ++i) {
    labels[i] = static_cast<std::int32_t>(gen() % 10);
    ids[i] = i;
  }
  ForwardContext ctx;
  ctx.mode = Mode::kTrain;
  ctx.sample_ids = ids.data();
  StepResult r;
  const Tensor& logits = model->forward(ctx);
  r.logits.assign(logits.data(), logits.data() + logits.numel());
  softmax_cross_entropy(logits, labels.data(), 1.0f, &model->logits_grad());
  model->backward({});
  r.grads.assign(model->params().grads(), model->params().grads() + model->params().size());
  for (std::size_t i = 0; i < model->layers().size(); ++i) r.fused.push_back(model->fused_with_next(i));
  return r;
}

void expect_fused_equals_unfused(const std::string& spec, const std::vector<bool>& expected_fused,
                                 int batch) {
  SCOPED_TRACE(spec);
  const StepResult fused = run_step(spec, true, batch, 7);
  const StepResult plain = run_step(spec, false, batch, 7);
  EXPECT_EQ(fused.fused, expected_fused) << "which layers run with the pool after them";
  for (bool f : plain.fused) EXPECT_FALSE(f) << "set_fuse_layers(false) still fused a pair";
  ASSERT_EQ(fused.logits.size(), plain.logits.size());
  for (std::size_t i = 0; i < fused.logits.size(); ++i) {
    ASSERT_TRUE(std::isfinite(plain.logits[i]));
    EXPECT_EQ(fused.logits[i], plain.logits[i]) << "logit " << i;
  }
  ASSERT_EQ(fused.grads.size(), plain.grads.size());
  int nonzero = 0;
  for (std::size_t i = 0; i < fused.grads.size(); ++i) {
    EXPECT_EQ(fused.grads[i], plain.grads[i]) << "gradient " << i;
    nonzero += plain.grads[i] != 0.0f;
  }
  EXPECT_GT(nonzero, static_cast<int>(fused.grads.size()) / 2) << "most gradients should be non-zero";
}

TEST(LayerFusion, FirstConvWithPoolTilingItsInput) {
  // 16 filters, 3x3: the register-blocked direct loops; 28x28 -> 14x14 windows cover every pixel.
  expect_fused_equals_unfused("conv16x3same-pool2-flatten-dense10", {true, false, false, false}, 3);
}

TEST(LayerFusion, PoolThatLeavesPixelsUncovered) {
  // 28 = 3 * 9 + 1: the last row and column are in no window and get no gradient.
  expect_fused_equals_unfused("conv16x3same-pool3-gap-dense10", {true, false, false, false}, 2);
}

TEST(LayerFusion, LinearConvOffTheFastPathWithInputGradient) {
  // The second conv has one input channel (direct loops, 5x5 and 3 filters: the generic
  // path), no activation, and a layer before it: the fused pair also computes dx.
  expect_fused_equals_unfused("conv1x3same-conv3x5linear-pool2-conv4x3-gap-dense10",
                              {false, true, false, false, false, false}, 2);
}

TEST(LayerFusion, OverlappingPoolAndMultiChannelConvsStayUnfused) {
  expect_fused_equals_unfused("conv4x3same-pool3s2-conv8x3same-pool2-flatten-dense10",
                              {false, false, false, false, false, false}, 2);
}

}  // namespace
}  // namespace fmnist
