// Layers that Sequential runs other than one by one, against the same model run one by one.
// A Conv2D run together with the MaxPool2D after it (Conv2D::forward_pooled / backward_pooled,
// chosen by Sequential::setup) against the same model with the layers run one by one: the
// logits, every parameter gradient and the input gradient of a fused pair in the middle of a
// model must be the same floats. The fused code reorders no sums (direct layers convolve one
// image at a time either way, im2col layers make the same GEMM calls on the same tiles of whole
// images), so exact equality is the right test, except for an im2col conv's bias gradient,
// which the fused pair sums over the pooled gradient (the same values in another order); the
// central-difference checks of the fused
// models are in test_layer_gradients.cpp (ModelGradients). A Flatten, whose output is a view
// of its input (Layer::reshapes_only), against a Flatten that copies, as every layer with
// buffers of its own does.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "fmnist/nn/conv2d.h"
#include "fmnist/nn/dense.h"
#include "fmnist/nn/dropout.h"
#include "fmnist/nn/flatten.h"
#include "fmnist/nn/max_pool2d.h"
#include "fmnist/nn/model_spec.h"
#include "fmnist/nn/sequential.h"
#include "fmnist/nn/softmax_cross_entropy.h"

namespace fmnist {
namespace {

struct StepResult {
  std::vector<float> logits, grads;
  std::vector<bool> fused;
  std::vector<bool> summed_in_another_order;  // [i]: grads[i] is a fused conv's bias gradient
};

using ModelFactory = std::function<std::unique_ptr<Sequential>()>;

// One training step (logits and every parameter gradient), or in evaluation the logits alone.
StepResult run_step(const ModelFactory& make_model, bool fuse, int batch, std::uint32_t seed,
                    Mode mode = Mode::kTrain) {
  std::unique_ptr<Sequential> model = make_model();
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
  ctx.mode = mode;
  ctx.sample_ids = ids.data();
  StepResult r;
  const Tensor& logits = model->forward(ctx);
  r.logits.assign(logits.data(), logits.data() + logits.numel());
  if (mode != Mode::kTrain) return r;
  softmax_cross_entropy(logits, labels.data(), 1.0f, &model->logits_grad());
  model->backward({});
  r.grads.assign(model->params().grads(), model->params().grads() + model->params().size());
  for (std::size_t i = 0; i < model->layers().size(); ++i) r.fused.push_back(model->fused_with_next(i));
  r.summed_in_another_order.assign(r.grads.size(), false);
  for (const ParamView& v : model->params().views())  // a fused conv's bias (exact for direct ones)
    if (v.spec.name == "bias" && model->fused_with_next(static_cast<std::size_t>(v.layer_index)))
      std::fill_n(r.summed_in_another_order.begin() + static_cast<long>(v.offset), v.size, true);
  return r;
}

void expect_fused_equals_unfused(const std::string& label, const ModelFactory& make_model,
                                 const std::vector<bool>& expected_fused, int batch) {
  SCOPED_TRACE(label);
  const StepResult fused = run_step(make_model, true, batch, 7);
  const StepResult plain = run_step(make_model, false, batch, 7);
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
    if (fused.summed_in_another_order[i])
      EXPECT_NEAR(fused.grads[i], plain.grads[i], 1e-5f * (1.0f + std::fabs(plain.grads[i])))
          << "gradient " << i;
    else
      EXPECT_EQ(fused.grads[i], plain.grads[i]) << "gradient " << i;
    nonzero += plain.grads[i] != 0.0f;
  }
  EXPECT_GT(nonzero, static_cast<int>(fused.grads.size()) / 3)
      << "a third of the gradients or more should be non-zero";
}

void expect_fused_equals_unfused(const std::string& spec, const std::vector<bool>& expected_fused,
                                 int batch) {
  expect_fused_equals_unfused(
      spec, [&] { return build_model(spec); }, expected_fused, batch);
}

// conv(3 filters, one input channel: direct) -> conv(8 filters, im2col) -> pool -> flatten ->
// dense10, the second conv in tiles of `tile_rows` output pixels.
std::unique_ptr<Sequential> two_conv_model(Padding padding, Activation activation, int tile_rows, int pool) {
  std::vector<std::unique_ptr<Layer>> layers;
  Conv2DOptions first;
  first.filters = 3;
  first.padding = Padding::kSame;
  layers.push_back(std::make_unique<Conv2D>(first));
  Conv2DOptions second;
  second.filters = 8;
  second.padding = padding;
  second.activation = activation;
  second.tile_rows = tile_rows;
  second.algorithm = ConvAlgorithm::kIm2colGemm;
  layers.push_back(std::make_unique<Conv2D>(second));
  layers.push_back(std::make_unique<MaxPool2D>(pool, pool));
  layers.push_back(std::make_unique<Flatten>());
  layers.push_back(std::make_unique<Dense>(10, Activation::kLinear));
  return std::make_unique<Sequential>(std::move(layers), Shape{1, 1, 28, 28});
}

TEST(LayerFusion, FirstConvWithPoolTilingItsInput) {
  // 16 filters, 3x3: the register-blocked direct loops; 28x28 -> 14x14 windows cover every pixel.
  expect_fused_equals_unfused("conv16x3same-pool2-flatten-dense10", {true, false, false, false}, 3);
}

TEST(LayerFusion, FirstConvWithPoolInRegistersOddSizeAndLinear) {
  // The 3x3 / 2x2 path that pools each window's four pixels in registers: stride 2 'valid'
  // gives 13x13, so the last row and column are in no window; then without a ReLU mask.
  expect_fused_equals_unfused("conv16x3s2valid-pool2-flatten-dense10", {true, false, false, false}, 3);
  expect_fused_equals_unfused("conv32x3samelinear-pool2-flatten-dense10", {true, false, false, false}, 2);
}

// A constant image under 'valid' padding gives every output pixel of a channel the same value,
// so every window is a four-way tie, which MaxPool2D gives to its first pixel in (kh, kw)
// order. The fused path must record the same winners (random inputs never tie above 0).
TEST(LayerFusion, TiedWindowsGoToTheirFirstPixel) {
  std::vector<std::vector<std::int32_t>> winners;
  for (bool fuse : {true, false}) {
    std::unique_ptr<Sequential> model = build_model("conv16x3valid-pool2-flatten-dense10");
    model->params().initialize(3);
    model->set_fuse_layers(fuse);
    model->setup(2);
    ASSERT_EQ(model->fused_with_next(0), fuse);
    Tensor& input = model->input();
    input.set_batch(2);
    for (std::size_t i = 0; i < input.numel(); ++i) input[i] = 0.5f;
    ForwardContext ctx;
    ctx.mode = Mode::kTrain;
    model->forward(ctx);
    const auto& pool = static_cast<const MaxPool2D&>(*model->layers()[1]);
    const std::size_t count = 2 * 13 * 13 * 16;
    winners.emplace_back(pool.argmax(), pool.argmax() + count);
  }
  EXPECT_EQ(winners[0], winners[1]);
  EXPECT_EQ(winners[1][0], 0) << "the first window's first channel: pixel (0, 0)";
  EXPECT_EQ(winners[1][16 + 1], 2 * 16 + 1) << "the second window's second channel: pixel (0, 2)";
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

TEST(LayerFusion, OverlappingPoolAndFlippedKernelConvStayUnfused) {
  // pool3s2 windows overlap; the second conv (4 -> 4, 'same') computes dx with the flipped
  // kernel, which reads the whole batch's dy, so it keeps its pool apart.
  expect_fused_equals_unfused("conv4x3same-pool3s2-conv4x3same-pool2-flatten-dense10",
                              {false, false, false, false, false, false}, 2);
}

TEST(LayerFusion, Im2colConvWithPoolInTilesOfWholeImages) {
  // 28x28 'same': 784 pixels an image, tiles of 2 images over a batch of 5 (2, 2 and a last
  // tile of 1), dx through each tile's dcol into the first conv's output.
  expect_fused_equals_unfused(
      "im2col conv, tiles of 2 images",
      [] { return two_conv_model(Padding::kSame, Activation::kRelu, 2 * 784, 2); },
      {false, true, false, false, false}, 5);
}

TEST(LayerFusion, LinearIm2colConvWithPoolLeavingPixelsUncovered) {
  // 'valid': 26x26 = 676 pixels, tiles of 3 images over 4; pool3 leaves the last 26 - 24 = 2
  // rows and columns in no window.
  expect_fused_equals_unfused(
      "linear im2col conv, pool3, tiles of 3 images",
      [] { return two_conv_model(Padding::kValid, Activation::kLinear, 3 * 676, 3); },
      {false, true, false, false, false}, 4);
}

TEST(LayerFusion, Im2colConvWhoseTilesSplitImagesStaysUnfused) {
  expect_fused_equals_unfused(
      "im2col conv, tiles of 1000 pixels",
      [] { return two_conv_model(Padding::kSame, Activation::kRelu, 1000, 2); },
      {false, false, false, false, false}, 3);
}

TEST(LayerFusion, PresetsFuseTheirSecondConvWithItsPool) {
  // cnn's and cnn-2x64's second conv (default tiles: whole images) run with their pool.
  expect_fused_equals_unfused("conv32x3same-pool2-conv64x3same-pool2-flatten-dense128-dense10",
                              {true, false, true, false, false, false, false}, 5);
}

// Flatten with buffers of its own: the copying layer, as Sequential ran it before views.
class CopyingFlatten : public Flatten {
 public:
  bool reshapes_only() const override { return false; }
};

// `layers` with each "flatten" a viewing Flatten or a CopyingFlatten; "conv", "pool", "drop",
// "dense16" and "dense10" are small layers of each kind.
std::unique_ptr<Sequential> flatten_model(const std::vector<std::string>& layers, bool copying) {
  std::vector<std::unique_ptr<Layer>> built;
  for (const std::string& name : layers) {
    if (name == "flatten") {
      built.push_back(copying ? std::make_unique<CopyingFlatten>() : std::make_unique<Flatten>());
    } else if (name == "conv") {
      Conv2DOptions options;
      options.filters = 4;
      built.push_back(std::make_unique<Conv2D>(options));
    } else if (name == "pool") {
      built.push_back(std::make_unique<MaxPool2D>(2, 2));
    } else if (name == "drop") {
      built.push_back(std::make_unique<Dropout>(0.5f));
    } else {
      built.push_back(std::make_unique<Dense>(name == "dense16" ? 16 : 10,
                                              name == "dense16" ? Activation::kRelu : Activation::kLinear));
    }
  }
  return std::make_unique<Sequential>(std::move(built), Shape{1, 1, 28, 28});
}

void expect_viewing_flatten_equals_copying(const std::vector<std::string>& layers, Mode mode) {
  SCOPED_TRACE(::testing::PrintToString(layers) + (mode == Mode::kTrain ? " training" : " evaluation"));
  const StepResult viewing = run_step([&] { return flatten_model(layers, false); }, true, 3, 11, mode);
  const StepResult copying = run_step([&] { return flatten_model(layers, true); }, true, 3, 11, mode);
  ASSERT_EQ(viewing.logits.size(), copying.logits.size());
  for (std::size_t i = 0; i < viewing.logits.size(); ++i)
    EXPECT_EQ(viewing.logits[i], copying.logits[i]) << i;
  ASSERT_EQ(viewing.grads.size(), copying.grads.size());
  int nonzero = 0;
  for (std::size_t i = 0; i < viewing.grads.size(); ++i) {
    EXPECT_EQ(viewing.grads[i], copying.grads[i]) << "gradient " << i;
    nonzero += copying.grads[i] != 0.0f;
  }
  if (mode == Mode::kTrain) {
    EXPECT_GT(nonzero, static_cast<int>(copying.grads.size()) / 3);
  }
}

TEST(FlattenView, FirstLayerMiddleAndAfterDropout) {
  // First: the Dense after it then computes no dx. Middle: after a fused conv + pool, whose
  // dpooled is the Dense's dx. After a Dropout: in evaluation the Dropout is skipped, so the
  // Flatten copies its input into the buffer it views.
  for (Mode mode : {Mode::kTrain, Mode::kEval}) {
    expect_viewing_flatten_equals_copying({"flatten", "dense16", "dense10"}, mode);
    expect_viewing_flatten_equals_copying({"conv", "pool", "flatten", "dense16", "dense10"}, mode);
    expect_viewing_flatten_equals_copying({"conv", "drop", "flatten", "dense10"}, mode);
    expect_viewing_flatten_equals_copying({"conv", "flatten", "drop", "flatten", "dense10"}, mode);
  }
}

TEST(FlattenView, TensorViewSharesTheBufferWithinItsCapacity) {
  Tensor owner(Shape{2, 3, 4, 5});
  Tensor view;
  view.view_of(owner, Shape{2, 60, 1, 1});
  EXPECT_EQ(view.data(), owner.data());
  view[7] = 2.5f;
  EXPECT_EQ(owner[7], 2.5f);
  view.set_batch(1);
  EXPECT_EQ(view.numel(), 60u);
  EXPECT_THROW(view.resize(Shape{3, 60, 1, 1}), std::logic_error);
}

}  // namespace
}  // namespace fmnist
