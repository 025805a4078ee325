// Central-difference gradient checks of every layer (w.r.t. inputs and parameters), of the
// softmax cross-entropy loss, and of whole Sequential models end to end.
//
// Objective for a single layer: L = sum_i y_i R_i with a fixed random R, so dL/dy = R. The
// numeric side is computed stably: every layer is piecewise linear in any ONE input or
// parameter, so the central difference is exact away from kinks for any step; we take a large
// step (0.5) and form sum_i (y+_i - y-_i) R_i / (x+ - x-) in double, where x+/x- are the
// perturbed values as actually stored in float. That keeps float rounding of the outputs small
// against the difference and avoids cancelling the common part of L. Kinks are kept out of
// reach or handled exactly: max pooling gets distinct inputs spaced wider than the step, ReLU
// inputs stay away from 0, and a fused-ReLU output that changes side within the step uses the
// one-sided difference on its positive side (see check_layer). The loss is smooth: h = 1e-2. Relative error
// per element: |a - n| / max(|a|, |n|, 1e-3), required < 1e-2.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "fmnist/core/tensor.h"
#include "fmnist/math/gemm.h"
#include "fmnist/nn/batch_norm.h"
#include "fmnist/nn/conv2d.h"
#include "fmnist/nn/dense.h"
#include "fmnist/nn/dropout.h"
#include "fmnist/nn/flatten.h"
#include "fmnist/nn/global_average_pool2d.h"
#include "fmnist/nn/max_pool2d.h"
#include "fmnist/nn/model_spec.h"
#include "fmnist/nn/relu.h"
#include "fmnist/nn/sequential.h"
#include "fmnist/nn/softmax_cross_entropy.h"

namespace fmnist {
namespace {

constexpr double kEps = 1e-3;        // floor of the relative-error denominator
constexpr double kTolerance = 1e-2;  // largest relative error accepted per element
const float kNaN = std::numeric_limits<float>::quiet_NaN();

double relative_error(double analytic, double numeric) {
  return std::abs(analytic - numeric) / std::max({std::abs(analytic), std::abs(numeric), kEps});
}

std::vector<float> uniform_values(std::size_t size, std::mt19937& gen, float lo = -1.0f, float hi = 1.0f) {
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> out(size);
  for (float& v : out) v = dist(gen);
  return out;
}

// Distinct values spaced 0.05 apart in random order, so no step below 0.025 reorders them
// (max pooling then never switches its winner under the perturbation).
std::vector<float> distinct_values(std::size_t size, std::mt19937& gen) {
  std::vector<float> out(size);
  for (std::size_t i = 0; i < size; ++i)
    out[i] = 0.05f * static_cast<float>(i) - 0.025f * static_cast<float>(size);
  std::shuffle(out.begin(), out.end(), gen);
  return out;
}

// Values in [0.1, 1] in magnitude with random sign: away from ReLU's kink at 0.
std::vector<float> away_from_zero(std::size_t size, std::mt19937& gen) {
  std::vector<float> out = uniform_values(size, gen, 0.1f, 1.0f);
  std::bernoulli_distribution sign(0.5);
  for (float& v : out)
    if (sign(gen)) v = -v;
  return out;
}

// The central-difference step, and whether the layer fuses a ReLU (see check_layer).
struct Step {
  float h;
  bool fused_relu;
};
// Layers linear in any one variable: the difference is exact for any step, and a large step
// makes float rounding of the outputs negligible against it.
constexpr Step kLinear{0.5f, false};
constexpr Step kFusedRelu{0.5f, true};
constexpr Step kPooling{0.02f, false};       // below half the 0.05 spacing of distinct_values()
constexpr Step kAwayFromZero{0.05f, false};  // below the 0.1 margin of away_from_zero()
constexpr Step kSmooth{1e-2f, false};        // smooth, non-linear layers (BatchNormalization)

struct GradResult {
  double max_dx = 0.0, max_dparams = 0.0;
  int checked = 0, one_sided = 0;
};

// Checks one layer on input `x0` of shape `in` (batch included). Parameters are drawn from
// U(-0.5, 0.5) (biases too, so fused ReLUs see both signs).
GradResult check_layer(const std::string& label, Layer& layer, const Shape& in, const std::vector<float>& x0,
                       const ForwardContext& ctx, std::mt19937& gen, const Step& step) {
  SCOPED_TRACE(label);
  // Parameter storage, laid out as the arena would: one values and one grads buffer.
  const std::vector<ParamSpec> specs = layer.param_specs(in);
  std::size_t total = 0;
  std::vector<std::size_t> sizes;
  for (const ParamSpec& s : specs) {
    sizes.push_back(std::accumulate(s.shape.begin(), s.shape.end(), std::size_t{1}, std::multiplies<>()));
    total += sizes.back();
  }
  std::vector<float> values = uniform_values(total, gen, -0.5f, 0.5f);
  std::vector<float> grads(total, kNaN);  // backward must overwrite, not accumulate
  std::vector<ParamBinding> bindings;
  for (std::size_t p = 0, offset = 0; p < specs.size(); offset += sizes[p], ++p)
    bindings.push_back(ParamBinding{values.data() + offset, grads.data() + offset, sizes[p]});
  if (!specs.empty()) layer.bind_params(bindings);
  // Non-trainable state (BatchNormalization's moving statistics): fixed positive values.
  std::size_t state_total = 0;
  std::vector<std::size_t> state_sizes;
  for (const ParamSpec& s : layer.state_specs(in)) {
    state_sizes.push_back(std::accumulate(s.shape.begin(), s.shape.end(), std::size_t{1}, std::multiplies<>()));
    state_total += state_sizes.back();
  }
  std::vector<float> state = uniform_values(state_total, gen, 0.5f, 1.5f);
  std::vector<ParamBinding> state_bindings;
  for (std::size_t p = 0, offset = 0; p < state_sizes.size(); offset += state_sizes[p], ++p)
    state_bindings.push_back(ParamBinding{state.data() + offset, nullptr, state_sizes[p]});
  if (!state_sizes.empty()) layer.bind_state(state_bindings);
  layer.setup(in, in.n);

  Tensor x(in);
  std::copy(x0.begin(), x0.end(), x.data());
  const Shape out = layer.output_shape(in);
  Tensor y(out);
  const std::vector<float> r = uniform_values(out.numel(), gen);

  layer.forward(x, y, ctx);
  Tensor dy(out), dx(in);
  std::copy(r.begin(), r.end(), dy.data());
  std::fill(dx.data(), dx.data() + in.numel(), kNaN);
  layer.backward(x, y, dy, &dx);
  const std::vector<float> analytic_dx(dx.data(), dx.data() + in.numel());
  const std::vector<float> analytic_dparams = grads;

  GradResult result;
  const std::vector<float> base(y.data(), y.data() + out.numel());  // y at the unperturbed point
  std::vector<float> plus(out.numel()), minus(out.numel());
  auto run = [&](std::vector<float>& dst) {
    layer.forward(x, y, ctx);
    std::copy(y.data(), y.data() + out.numel(), dst.begin());
  };
  // dL/dv for one stored float v (an input or a parameter). With a fused ReLU, each output is
  // relu(z(v)) with z linear in v; where the step makes z change sign, the derivative at v is
  // the one-sided difference on the side where the output stays positive, or 0 if the output
  // is 0 at v (the library's convention at exactly 0 too). Every term is then exact.
  auto numeric = [&](float* v) {
    const float original = *v;
    *v = original + step.h;
    const double up = *v;
    run(plus);
    *v = original - step.h;
    const double down = *v;
    run(minus);
    *v = original;
    double sum = 0.0;
    for (std::size_t i = 0; i < plus.size(); ++i) {
      double slope = (static_cast<double>(plus[i]) - minus[i]) / (up - down);
      if (step.fused_relu && (plus[i] > 0.0f) != (minus[i] > 0.0f)) {
        ++result.one_sided;
        if (base[i] <= 0.0f) {
          slope = 0.0;
        } else if (plus[i] > 0.0f) {
          slope = (static_cast<double>(plus[i]) - base[i]) / (up - original);
        } else {
          slope = (static_cast<double>(base[i]) - minus[i]) / (original - down);
        }
      }
      sum += slope * r[i];
    }
    return sum;
  };
  int failures = 0;
  for (std::size_t i = 0; i < in.numel(); ++i) {
    const double n = numeric(&x[i]);
    const double e = relative_error(analytic_dx[i], n);
    result.max_dx = std::max(result.max_dx, std::isnan(e) ? 1e30 : e);
    ++result.checked;
    if (!(e < kTolerance) && ++failures <= 5)
      ADD_FAILURE() << "dx[" << i << "]: analytic " << analytic_dx[i] << " numeric " << n << " rel " << e;
  }
  for (std::size_t i = 0; i < total; ++i) {
    const double n = numeric(&values[i]);
    const double e = relative_error(analytic_dparams[i], n);
    result.max_dparams = std::max(result.max_dparams, std::isnan(e) ? 1e30 : e);
    ++result.checked;
    if (!(e < kTolerance) && ++failures <= 5)
      ADD_FAILURE() << "dparam[" << i << "]: analytic " << analytic_dparams[i] << " numeric " << n << " rel "
                    << e;
  }
  EXPECT_EQ(failures, 0) << "elements over tolerance";
  std::printf("[gradcheck] %-40s max rel err dx %.2e  params %.2e  (%d elements, %d one-sided terms)\n",
              label.c_str(), result.max_dx, result.max_dparams, result.checked, result.one_sided);
  return result;
}

TEST(LayerGradients, Dense) {
  std::mt19937 gen(1);
  for (Activation act : {Activation::kLinear, Activation::kRelu}) {
    {
      Dense dense(7, act);
      const Shape in{3, 12, 1, 1};
      check_layer(std::string("Dense(7, ") + activation_name(act) + ") on (3,12)", dense, in,
                  uniform_values(in.numel(), gen), ForwardContext{}, gen,
                  act == Activation::kRelu ? kFusedRelu : kLinear);
    }
    {
      Dense dense(5, act);  // a 4-D input is taken as its flattened sample
      const Shape in{2, 2, 3, 2};
      check_layer(std::string("Dense(5, ") + activation_name(act) + ") on (2,2,3,2)", dense, in,
                  uniform_values(in.numel(), gen), ForwardContext{}, gen,
                  act == Activation::kRelu ? kFusedRelu : kLinear);
    }
  }
}

// A linear conv with zero bias is linear in x and in W, so backward's dx and dW are adjoints:
// for any dy, <dx, v> = <dy, conv(v; W)> and <dW, V> = <dy, conv(x; V)>. Checked at the
// presets' sizes, where a SkylakeX-class kernel on one thread runs the forward and dW products
// in pieces, and dcol too, from the layer's copy of W^T, wherever its product is cut (cnn's
// second conv): sizes the central-difference checks never reach (one BLAS thread, as the
// benchmark runs).
TEST(LayerGradients, Conv2DAdjointsAtPresetSizes) {
  const int threads = blas_threads();
  set_blas_threads(1);
  std::mt19937 gen(77);
  struct Case {
    int c, h, w, filters;
    Padding padding;
  };
  // cnn's second conv, cnn-2x64's second, cnn-deep's last.
  const Case cases[] = {
      {32, 14, 14, 64, Padding::kSame}, {64, 13, 13, 64, Padding::kValid}, {128, 7, 7, 256, Padding::kValid}};
  for (const Case& t : cases) {
    Conv2DOptions options;
    options.filters = t.filters;
    options.padding = t.padding;
    options.activation = Activation::kLinear;
    Conv2D conv(options);
    const Shape in{3, t.c, t.h, t.w};
    const Shape out = conv.output_shape(in);
    SCOPED_TRACE(conv.spec() + " on " + in.str());
    const std::size_t kernel_size = static_cast<std::size_t>(9) * t.c * t.filters;
    std::vector<float> values = uniform_values(kernel_size, gen), grads(kernel_size + t.filters, kNaN);
    values.resize(kernel_size + t.filters, 0.0f);  // zero bias: the layer is linear
    conv.bind_params({ParamBinding{values.data(), grads.data(), kernel_size},
                      ParamBinding{values.data() + kernel_size, grads.data() + kernel_size,
                                   static_cast<std::size_t>(t.filters)}});
    conv.setup(in, in.n);
    Tensor x(in), y(out), dy(out), dx(in);
    const std::vector<float> xs = uniform_values(in.numel(), gen), r = uniform_values(out.numel(), gen);
    std::copy(xs.begin(), xs.end(), x.data());
    conv.forward(x, y, ForwardContext{});
    std::copy(r.begin(), r.end(), dy.data());
    conv.backward(x, y, dy, &dx);
    const std::vector<float> dw(grads.begin(), grads.begin() + kernel_size);
    // <dy, conv(input)> with the kernel in `values`, and the sum of its terms' magnitudes.
    auto dy_dot_conv = [&](const Tensor& input, double* magnitude) {
      conv.forward(input, y, ForwardContext{});
      double dot = 0.0;
      *magnitude = 0.0;
      for (std::size_t i = 0; i < out.numel(); ++i) {
        dot += static_cast<double>(r[i]) * y[i];
        *magnitude += std::abs(static_cast<double>(r[i]) * y[i]);
      }
      return dot;
    };
    // dx: a random direction v in input space.
    Tensor v(in);
    const std::vector<float> vs = uniform_values(in.numel(), gen);
    std::copy(vs.begin(), vs.end(), v.data());
    double magnitude = 0.0, dx_dot_v = 0.0;
    const double expected_dx = dy_dot_conv(v, &magnitude);
    for (std::size_t i = 0; i < in.numel(); ++i) dx_dot_v += static_cast<double>(dx[i]) * vs[i];
    EXPECT_NEAR(dx_dot_v, expected_dx, 1e-5 * magnitude);
    // dW: a random direction V in kernel space, run as the layer's kernel.
    const std::vector<float> big_v = uniform_values(kernel_size, gen);
    std::copy(big_v.begin(), big_v.end(), values.begin());
    const double expected_dw = dy_dot_conv(x, &magnitude);
    double dw_dot_v = 0.0;
    for (std::size_t i = 0; i < kernel_size; ++i) dw_dot_v += static_cast<double>(dw[i]) * big_v[i];
    EXPECT_NEAR(dw_dot_v, expected_dw, 1e-5 * magnitude);
  }
  set_blas_threads(threads);
}

TEST(LayerGradients, Conv2D) {
  std::mt19937 gen(2);
  struct Case {
    int c, h, w, filters, kernel, stride;
    Padding padding;
  };
  const Case cases[] = {
      // 'same', stride 1: dx by the flipped kernel where filters <= channels (the second case
      // here, and the second and third of the even kernels), else by dcol + col2im.
      {2, 6, 6, 3, 3, 1, Padding::kSame}, {3, 6, 5, 2, 3, 1, Padding::kSame},
      {2, 6, 5, 3, 3, 1, Padding::kValid},
      {2, 7, 7, 3, 3, 2, Padding::kSame}, {3, 7, 6, 2, 3, 2, Padding::kValid},
      {1, 6, 6, 2, 5, 1, Padding::kSame}, {3, 5, 5, 2, 1, 1, Padding::kValid},
      // Even kernels under 'same': padding only after the image (2) or one more after (4),
      // which the stride-1 dx by flipped convolution must mirror.
      {2, 5, 6, 3, 2, 1, Padding::kSame}, {2, 6, 6, 2, 4, 1, Padding::kSame},
      {3, 5, 6, 3, 2, 1, Padding::kSame}, {2, 5, 6, 3, 4, 1, Padding::kSame},
      // One input channel: direct loops, the 3x3 / 16-filter ones register-blocked (their
      // weight gradients sum even and odd output columns apart: 7 columns leave one alone).
      {1, 6, 6, 16, 3, 1, Padding::kSame}, {1, 7, 6, 16, 3, 2, Padding::kValid},
      {1, 5, 7, 16, 3, 1, Padding::kSame},
  };
  // Tiles of output pixels: 0 = the cache-derived default (one tile here); 7 and 13 split
  // images and image rows and leave a smaller last tile; 1 is one pixel per tile.
  for (int tile_rows : {0, 7, 13, 1})
    for (const Case& t : cases)
      for (Activation act : {Activation::kLinear, Activation::kRelu}) {
        if (tile_rows == 1 && act == Activation::kLinear) continue;  // keeps the test short
        Conv2DOptions options;
        options.filters = t.filters;
        options.kernel = t.kernel;
        options.stride = t.stride;
        options.padding = t.padding;
        options.activation = act;
        options.tile_rows = tile_rows;
        Conv2D conv(options);
        const Shape in{2, t.c, t.h, t.w};
        check_layer("Conv2D " + conv.spec() + " tile " + std::to_string(tile_rows) + " on " + in.str(), conv,
                    in, uniform_values(in.numel(), gen), ForwardContext{}, gen,
                    act == Activation::kRelu ? kFusedRelu : kLinear);
      }
}

// A first layer has no dx: the direct path then skips writing the masked dy back. Its kernel
// and bias gradients must equal those computed with dx, and those of im2col + GEMM.
TEST(LayerGradients, SingleChannelConvParamGradsWithoutDx) {
  std::mt19937 gen(12);
  const Shape in{3, 1, 10, 9};
  const std::vector<float> xs = uniform_values(in.numel(), gen);
  for (Padding padding : {Padding::kSame, Padding::kValid}) {
    Conv2DOptions options;
    options.filters = 32;
    options.padding = padding;
    const std::size_t kernel_size = 9 * 32;
    const std::vector<float> kernel = uniform_values(kernel_size, gen), bias = uniform_values(32, gen);
    std::vector<std::vector<float>> dkernels, dbiases;
    for (int variant = 0; variant < 3; ++variant) {  // direct without dx, direct with dx, GEMM
      options.algorithm = variant < 2 ? ConvAlgorithm::kDirect : ConvAlgorithm::kIm2colGemm;
      Conv2D conv(options);
      std::vector<float> k = kernel, b = bias, dk(kernel_size), db(32);
      conv.bind_params({ParamBinding{k.data(), dk.data(), kernel_size}, ParamBinding{b.data(), db.data(), 32}});
      conv.setup(in, in.n);
      const Shape out = conv.output_shape(in);
      Tensor x(in), y(out), dy(out), dx(in);
      std::copy(xs.begin(), xs.end(), x.data());
      conv.forward(x, y, ForwardContext{});
      std::mt19937 grads(99);  // the same upstream gradient for every variant
      const std::vector<float> g = uniform_values(out.numel(), grads);
      std::copy(g.begin(), g.end(), dy.data());
      conv.backward(x, y, dy, variant == 0 ? nullptr : &dx);
      dkernels.push_back(dk);
      dbiases.push_back(db);
    }
    for (int variant = 1; variant < 3; ++variant) {
      for (std::size_t i = 0; i < kernel_size; ++i)
        ASSERT_NEAR(dkernels[0][i], dkernels[variant][i], 1e-4f) << "dkernel " << i << ", variant " << variant;
      for (std::size_t i = 0; i < 32; ++i)
        ASSERT_NEAR(dbiases[0][i], dbiases[variant][i], 1e-4f) << "dbias " << i << ", variant " << variant;
    }
  }
}

TEST(LayerGradients, MaxPool2D) {
  std::mt19937 gen(3);
  {
    MaxPool2D pool(2, 2);
    const Shape in{2, 3, 6, 6};
    check_layer("MaxPool2D pool2 s2 on " + in.str(), pool, in, distinct_values(in.numel(), gen),
                ForwardContext{}, gen, kPooling);
  }
  {
    MaxPool2D pool(2, 2);  // odd size: the last row and column are dropped
    const Shape in{2, 2, 7, 5};
    check_layer("MaxPool2D pool2 s2 on " + in.str(), pool, in, distinct_values(in.numel(), gen),
                ForwardContext{}, gen, kPooling);
  }
  {
    MaxPool2D pool(3, 2);  // overlapping windows: gradients of shared winners add up
    const Shape in{2, 2, 7, 7};
    check_layer("MaxPool2D pool3 s2 on " + in.str(), pool, in, distinct_values(in.numel(), gen),
                ForwardContext{}, gen, kPooling);
  }
}

TEST(LayerGradients, ParameterFreeLayers) {
  std::mt19937 gen(4);
  {
    GlobalAveragePool2D gap;
    const Shape in{3, 4, 5, 3};
    check_layer("GlobalAveragePool2D on " + in.str(), gap, in, uniform_values(in.numel(), gen),
                ForwardContext{}, gen, kLinear);
  }
  {
    Flatten flatten;
    const Shape in{2, 3, 4, 2};
    check_layer("Flatten on " + in.str(), flatten, in, uniform_values(in.numel(), gen), ForwardContext{}, gen,
                kLinear);
  }
  {
    Relu relu;
    const Shape in{2, 3, 4, 4};
    check_layer("Relu on " + in.str(), relu, in, away_from_zero(in.numel(), gen), ForwardContext{}, gen,
                kAwayFromZero);
  }
}

TEST(LayerGradients, Dropout) {
  std::mt19937 gen(5);
  const std::int32_t ids[] = {17, 4, 59001};
  ForwardContext train;
  train.mode = Mode::kTrain;
  train.seed = 1234;
  train.epoch = 3;
  train.sample_ids = ids;
  const Shape in{3, 4, 3, 3};
  const std::vector<float> x0 = away_from_zero(in.numel(), gen);
  {
    Dropout dropout(0.3f);
    check_layer("Dropout(0.3) train on " + in.str(), dropout, in, x0, train, gen, kLinear);
  }
  {
    Dropout dropout(0.3f);
    check_layer("Dropout(0.3) eval on " + in.str(), dropout, in, x0, ForwardContext{}, gen, kLinear);
  }
  // The training output is inverted dropout: each unit is 0 or x / (1 - rate), and about
  // `rate` of them are dropped; evaluation is the identity.
  Dropout dropout(0.3f);
  const Shape big{3, 20, 10, 10};
  dropout.setup(big, big.n);
  Tensor x(big), y(big);
  const std::vector<float> xs = away_from_zero(big.numel(), gen);
  std::copy(xs.begin(), xs.end(), x.data());
  dropout.forward(x, y, train);
  std::size_t dropped = 0;
  for (std::size_t i = 0; i < big.numel(); ++i) {
    if (y[i] == 0.0f) {
      ++dropped;
    } else {
      ASSERT_NEAR(y[i], xs[i] / 0.7f, 1e-6f) << "at " << i;
    }
  }
  const double fraction = static_cast<double>(dropped) / big.numel();
  EXPECT_NEAR(fraction, 0.3, 0.03);
  dropout.forward(x, y, ForwardContext{});
  for (std::size_t i = 0; i < big.numel(); ++i) ASSERT_EQ(y[i], xs[i]);
}

// The mask is a function of (seed, epoch, sample id, unit): a sample keeps its mask at any batch
// position. 693 units per sample span several blocks of draws and end in a partial one.
TEST(LayerGradients, DropoutMaskFollowsTheSample) {
  const Shape in{3, 7, 9, 11};
  const std::size_t per_sample = in.per_sample();
  ASSERT_EQ(per_sample, 693u);
  std::mt19937 gen(11);
  const std::vector<float> xs = away_from_zero(in.numel(), gen);
  Tensor x(in), y_a(in), y_b(in);
  std::copy(xs.begin(), xs.end(), x.data());
  ForwardContext ctx;
  ctx.mode = Mode::kTrain;
  ctx.seed = 99;
  ctx.epoch = 1;
  const std::int32_t ids_a[] = {5, 6, 7};
  const std::int32_t ids_b[] = {7, 5, 6};
  Dropout dropout(0.5f);
  dropout.setup(in, in.n);
  ctx.sample_ids = ids_a;
  dropout.forward(x, y_a, ctx);
  // The same pixel values at the new positions, so equal masks give equal outputs.
  Tensor x_b(in);
  const int from[] = {2, 0, 1};
  for (int i = 0; i < in.n; ++i)
    std::copy(xs.begin() + from[i] * per_sample, xs.begin() + (from[i] + 1) * per_sample, x_b.data() + i * per_sample);
  ctx.sample_ids = ids_b;
  dropout.forward(x_b, y_b, ctx);
  std::size_t dropped = 0;
  for (int i = 0; i < in.n; ++i)
    for (std::size_t u = 0; u < per_sample; ++u) {
      const float a = y_a[from[i] * per_sample + u], b = y_b[i * per_sample + u];
      ASSERT_EQ(a, b) << "sample id " << ids_b[i] << ", unit " << u;
      dropped += a == 0.0f;
    }
  // Every unit, the last block's included, is either dropped or scaled; about half are dropped.
  for (std::size_t i = 0; i < in.numel(); ++i) {
    if (y_a[i] != 0.0f) {
      ASSERT_NEAR(y_a[i], xs[i] * 2.0f, 1e-6f) << "at " << i;
    }
  }
  EXPECT_NEAR(static_cast<double>(dropped) / in.numel(), 0.5, 0.05);
  // A different epoch draws a different mask.
  ctx.sample_ids = ids_a;
  ctx.epoch = 2;
  Tensor y_c(in);
  dropout.forward(x, y_c, ctx);
  std::size_t differ = 0;
  for (std::size_t i = 0; i < in.numel(); ++i) differ += (y_a[i] == 0.0f) != (y_c[i] == 0.0f);
  EXPECT_GT(differ, in.numel() / 4);
}

TEST(LayerGradients, BatchNormalization) {
  std::mt19937 gen(8);
  ForwardContext train;
  train.mode = Mode::kTrain;
  // Channels last, after a conv (n, h, w, c) and after a Dense (n, c, 1, 1); inputs with an
  // offset and a scale per channel, as real activations have.
  for (const Shape& in : {Shape{3, 4, 3, 2}, Shape{5, 6, 1, 1}}) {
    std::vector<float> x0 = uniform_values(in.numel(), gen);
    for (std::size_t i = 0; i < x0.size(); ++i) x0[i] = x0[i] * (1.0f + (i % in.c)) + 0.5f * (i % in.c);
    {
      BatchNorm bn;
      check_layer("BatchNormalization train on " + in.str(), bn, in, x0, train, gen, kSmooth);
    }
    {
      BatchNorm bn;
      check_layer("BatchNormalization eval on " + in.str(), bn, in, x0, ForwardContext{}, gen, kSmooth);
    }
  }
}

// Training normalises with the batch's own mean and biased variance and moves the moving
// statistics by (1 - momentum); evaluation uses the moving statistics. Both against the
// formulas evaluated here in double.
TEST(BatchNormalization, TrainingAndEvaluationMatchTheFormulas) {
  std::mt19937 gen(9);
  const Shape in{4, 3, 2, 5};  // n, c, h, w: 40 values per channel
  const int c = in.c;
  const std::size_t rows = in.numel() / c;
  std::vector<float> gamma = uniform_values(c, gen, 0.5f, 2.0f), beta = uniform_values(c, gen);
  std::vector<float> grads(2 * c), moving_mean = uniform_values(c, gen), moving_var = uniform_values(c, gen, 0.5f, 2.0f);
  const std::vector<float> mean0 = moving_mean, var0 = moving_var;
  BatchNorm bn;
  bn.bind_params({ParamBinding{gamma.data(), grads.data(), static_cast<std::size_t>(c)}, ParamBinding{beta.data(), grads.data() + c, static_cast<std::size_t>(c)}});
  bn.bind_state({ParamBinding{moving_mean.data(), nullptr, static_cast<std::size_t>(c)}, ParamBinding{moving_var.data(), nullptr, static_cast<std::size_t>(c)}});
  bn.setup(in, in.n);
  Tensor x(in), y(in);
  for (std::size_t i = 0; i < in.numel(); ++i) x[i] = 3.0f * (i % c) + uniform_values(1, gen)[0];
  ForwardContext train;
  train.mode = Mode::kTrain;
  bn.forward(x, y, train);
  for (int ch = 0; ch < c; ++ch) {
    double sum = 0.0, sq = 0.0;
    for (std::size_t r = 0; r < rows; ++r) sum += x[r * c + ch];
    const double mean = sum / rows;
    for (std::size_t r = 0; r < rows; ++r) sq += (x[r * c + ch] - mean) * (x[r * c + ch] - mean);
    const double var = sq / rows;  // biased, as Keras
    for (std::size_t r = 0; r < rows; ++r)
      ASSERT_NEAR(y[r * c + ch], gamma[ch] * (x[r * c + ch] - mean) / std::sqrt(var + 1e-3) + beta[ch], 1e-5);
    EXPECT_NEAR(moving_mean[ch], 0.99 * mean0[ch] + 0.01 * mean, 1e-6);
    EXPECT_NEAR(moving_var[ch], 0.99 * var0[ch] + 0.01 * var, 1e-6);
  }
  const std::vector<float> trained_mean = moving_mean, trained_var = moving_var;
  bn.forward(x, y, ForwardContext{});
  for (int ch = 0; ch < c; ++ch) {
    EXPECT_EQ(moving_mean[ch], trained_mean[ch]) << "evaluation must not move the statistics";
    EXPECT_EQ(moving_var[ch], trained_var[ch]);
    for (std::size_t r = 0; r < rows; ++r)
      ASSERT_NEAR(y[r * c + ch],
                  gamma[ch] * (x[r * c + ch] - trained_mean[ch]) / std::sqrt(trained_var[ch] + 1e-3) + beta[ch],
                  1e-5);
  }
}

// Cross-entropy from its definition, in double: sum_i logsumexp(z_i) - z_i[label_i].
double reference_loss(const std::vector<float>& z, const std::vector<std::int32_t>& labels, int classes) {
  double total = 0.0;
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const float* row = z.data() + i * classes;
    const double m = *std::max_element(row, row + classes);
    double sum = 0.0;
    for (int k = 0; k < classes; ++k) sum += std::exp(row[k] - m);
    total += m + std::log(sum) - row[labels[i]];
  }
  return total;
}

// d(scale * L) / dz by central differences against `dlogits`; the loss is smooth, h = 1e-2
// leaves an O(h^2) truncation error far below the tolerance. Returns the worst relative error.
double check_loss_gradient(Tensor& logits, const std::vector<std::int32_t>& labels, float scale,
                           const Tensor& dlogits, float smoothing) {
  double worst = 0.0;
  for (std::size_t i = 0; i < logits.numel(); ++i) {
    const float original = logits[i];
    logits[i] = original + 1e-2f;
    const double up = logits[i];
    const double lp = softmax_cross_entropy(logits, labels.data(), scale, nullptr, smoothing).loss;
    logits[i] = original - 1e-2f;
    const double down = logits[i];
    const double lm = softmax_cross_entropy(logits, labels.data(), scale, nullptr, smoothing).loss;
    logits[i] = original;
    const double numeric = scale * (lp - lm) / (up - down);
    const double e = relative_error(dlogits[i], numeric);
    worst = std::max(worst, e);
    EXPECT_LT(e, kTolerance) << "scale " << scale << ", label smoothing " << smoothing << ", dlogits[" << i
                             << "]: analytic " << dlogits[i] << " numeric " << numeric;
  }
  return worst;
}

TEST(LayerGradients, SoftmaxCrossEntropy) {
  std::mt19937 gen(6);
  const int n = 4, classes = 10;
  const Shape shape{n, classes, 1, 1};
  const std::vector<std::int32_t> labels = {3, 0, 9, 3};
  double worst = 0.0;
  for (float scale : {1.0f, 0.25f, 1.0f / 3.0f}) {
    Tensor logits(shape), dlogits(shape);
    const std::vector<float> z = uniform_values(shape.numel(), gen, -3.0f, 3.0f);
    std::copy(z.begin(), z.end(), logits.data());
    std::fill(dlogits.data(), dlogits.data() + shape.numel(), kNaN);
    const LossSums sums = softmax_cross_entropy(logits, labels.data(), scale, &dlogits);
    EXPECT_EQ(sums.count, n);
    EXPECT_NEAR(sums.loss, reference_loss(z, labels, classes), 1e-9 * n);
    // Accuracy count from the arg-max.
    std::int64_t correct = 0;
    for (int i = 0; i < n; ++i)
      correct += (std::max_element(z.begin() + i * classes, z.begin() + (i + 1) * classes) - z.begin() -
                  i * classes) == labels[i];
    EXPECT_EQ(sums.correct, correct);
    worst = std::max(worst, check_loss_gradient(logits, labels, scale, dlogits, 0.0f));
  }
  std::printf("[gradcheck] %-40s max rel err %.2e\n", "softmax_cross_entropy", worst);
}

// Keras' label smoothing for sparse labels: targets y = onehot * (1 - ls) + ls / K and loss
// -sum_k y_k log softmax_k, here from log-probabilities in double; gradient by central differences.
TEST(LayerGradients, SoftmaxCrossEntropyWithLabelSmoothing) {
  std::mt19937 gen(8);
  const int n = 5, classes = 10;
  const Shape shape{n, classes, 1, 1};
  const std::vector<std::int32_t> labels = {1, 7, 0, 9, 1};
  double worst = 0.0;
  for (float smoothing : {0.1f, 0.3f}) {
    Tensor logits(shape), dlogits(shape);
    const std::vector<float> z = uniform_values(shape.numel(), gen, -3.0f, 3.0f);
    std::copy(z.begin(), z.end(), logits.data());
    const float scale = 0.5f;
    const LossSums sums = softmax_cross_entropy(logits, labels.data(), scale, &dlogits, smoothing);
    double expected = 0.0;
    for (int i = 0; i < n; ++i) {
      double sum = 0.0;
      for (int k = 0; k < classes; ++k) sum += std::exp(static_cast<double>(z[i * classes + k]));
      for (int k = 0; k < classes; ++k) {
        const double target = (k == labels[i] ? 1.0 - smoothing : 0.0) + static_cast<double>(smoothing) / classes;
        expected -= target * (z[i * classes + k] - std::log(sum));
      }
    }
    EXPECT_NEAR(sums.loss, expected, 1e-9 * n) << "label smoothing " << smoothing;
    worst = std::max(worst, check_loss_gradient(logits, labels, scale, dlogits, smoothing));
  }
  std::printf("[gradcheck] %-40s max rel err %.2e\n", "softmax_cross_entropy, label smoothing", worst);
}

TEST(LayerGradients, SoftmaxCrossEntropyHugeLogits) {
  const int classes = 10;
  const Shape shape{3, classes, 1, 1};
  Tensor logits(shape), dlogits(shape);
  std::vector<float> z(shape.numel(), 0.0f);
  // Sample 0: label holds the 1e4 logit (loss ~0). Sample 1: another class does (loss ~2e4).
  // Sample 2: every logit is huge and equal (loss = log 10).
  z[0 * classes + 2] = 1e4f;
  z[0 * classes + 5] = -1e4f;
  z[1 * classes + 7] = 1e4f;
  z[1 * classes + 1] = -1e4f;
  for (int k = 0; k < classes; ++k) z[2 * classes + k] = 1e4f;
  std::copy(z.begin(), z.end(), logits.data());
  const std::vector<std::int32_t> labels = {2, 1, 4};
  const float scale = 0.5f;
  const LossSums sums = softmax_cross_entropy(logits, labels.data(), scale, &dlogits);
  ASSERT_TRUE(std::isfinite(sums.loss));
  EXPECT_NEAR(sums.loss, reference_loss(z, labels, classes), 1e-6);
  EXPECT_NEAR(sums.loss, 0.0 + 2e4 + std::log(10.0), 1e-3);
  for (std::size_t i = 0; i < shape.numel(); ++i) ASSERT_TRUE(std::isfinite(dlogits[i])) << "at " << i;
  // softmax - onehot, scaled: computed from the definition.
  for (int i = 0; i < 3; ++i)
    for (int k = 0; k < classes; ++k) {
      const float* row = z.data() + i * classes;
      const double m = *std::max_element(row, row + classes);
      double sum = 0.0;
      for (int j = 0; j < classes; ++j) sum += std::exp(row[j] - m);
      const double p = std::exp(row[k] - m) / sum;
      EXPECT_NEAR(dlogits[i * classes + k], scale * (p - (k == labels[i] ? 1.0 : 0.0)), 1e-6)
          << "sample " << i << " class " << k;
    }
}

// End to end: a model's parameter gradients (float, from the library's backward) against
// central differences of the summed loss. The model mixes ReLUs and max pooling, and with a
// float forward no step is both small enough to cross no kink (thousands of ReLU units per
// sample) and large enough to drown float rounding. So the numeric side runs a double-precision
// forward written here from the layer definitions (the library's dropout masks are read off the
// model by passing ones through its Dropout layers), with h = 1e-6; its loss is first checked
// against the library's.
struct RefLayer {
  enum Kind { kConv, kPool, kDense, kFlatten, kGap, kDrop } kind;
  int size = 0;    // filters / units / pool window
  int kernel = 0;  // conv kernel
  int stride = 1;  // conv / pool stride
  bool same = false, relu = false;
};
RefLayer ref_conv(int filters, int kernel, int stride, bool same, bool relu) {
  return {RefLayer::kConv, filters, kernel, stride, same, relu};
}
RefLayer ref_pool(int pool, int stride) { return {RefLayer::kPool, pool, 0, stride, false, false}; }
RefLayer ref_dense(int units, bool relu) { return {RefLayer::kDense, units, 0, 1, false, relu}; }
RefLayer ref_flatten() { return {RefLayer::kFlatten, 0, 0, 1, false, false}; }
RefLayer ref_gap() { return {RefLayer::kGap, 0, 0, 1, false, false}; }
RefLayer ref_drop() { return {RefLayer::kDrop, 0, 0, 1, false, false}; }

// An NHWC batch in double (sizes named n, c, h, w like Shape).
struct RefTensor {
  int n = 0, c = 0, h = 0, w = 0;
  std::vector<double> v;
  double& at(int i, int ci, int y, int x) {
    return v[((static_cast<std::size_t>(i) * h + y) * w + x) * c + ci];
  }
};

RefTensor ref_conv_forward(RefTensor& x, const RefLayer& l, const double* kernel, const double* bias) {
  // Keras: 'valid' out = floor((in - k) / s) + 1; 'same' out = ceil(in / s), leading pad = total / 2.
  auto axis = [&](int in, int* out, int* pad) {
    if (!l.same) {
      *out = (in - l.kernel) / l.stride + 1;
      *pad = 0;
    } else {
      *out = (in + l.stride - 1) / l.stride;
      *pad = std::max((*out - 1) * l.stride + l.kernel - in, 0) / 2;
    }
  };
  int oh, ow, pt, pl;
  axis(x.h, &oh, &pt);
  axis(x.w, &ow, &pl);
  RefTensor y{x.n, l.size, oh, ow, std::vector<double>(static_cast<std::size_t>(x.n) * l.size * oh * ow)};
  for (int i = 0; i < x.n; ++i)
    for (int f = 0; f < l.size; ++f)
      for (int r = 0; r < oh; ++r)
        for (int q = 0; q < ow; ++q) {
          double sum = bias[f];
          for (int kh = 0; kh < l.kernel; ++kh)
            for (int kw = 0; kw < l.kernel; ++kw) {
              const int ih = r * l.stride + kh - pt, iw = q * l.stride + kw - pl;
              if (ih < 0 || ih >= x.h || iw < 0 || iw >= x.w) continue;
              for (int ci = 0; ci < x.c; ++ci)
                sum += x.at(i, ci, ih, iw) *
                       kernel[((static_cast<std::size_t>(kh) * l.kernel + kw) * x.c + ci) * l.size + f];
            }
          y.at(i, f, r, q) = l.relu ? std::max(sum, 0.0) : sum;
        }
  return y;
}

RefTensor ref_pool_forward(RefTensor& x, const RefLayer& l) {
  const int oh = (x.h - l.size) / l.stride + 1, ow = (x.w - l.size) / l.stride + 1;
  RefTensor y{x.n, x.c, oh, ow, std::vector<double>(static_cast<std::size_t>(x.n) * x.c * oh * ow)};
  for (int i = 0; i < x.n; ++i)
    for (int ci = 0; ci < x.c; ++ci)
      for (int r = 0; r < oh; ++r)
        for (int q = 0; q < ow; ++q) {
          double best = -std::numeric_limits<double>::infinity();
          for (int a = 0; a < l.size; ++a)
            for (int b = 0; b < l.size; ++b)
              best = std::max(best, x.at(i, ci, r * l.stride + a, q * l.stride + b));
          y.at(i, ci, r, q) = best;
        }
  return y;
}

struct RefModel {
  std::vector<RefLayer> layers;
  std::vector<std::size_t> param_offsets;          // arena offset of each layer's kernel
  std::vector<std::vector<double>> dropout_masks;  // per layer, empty unless Dropout
};

// Summed cross-entropy of the batch `input` under parameters `theta` (arena layout).
double ref_loss(const RefModel& m, const std::vector<double>& theta, const RefTensor& input,
                const std::vector<std::int32_t>& labels) {
  RefTensor x = input;
  for (std::size_t li = 0; li < m.layers.size(); ++li) {
    const RefLayer& l = m.layers[li];
    switch (l.kind) {
      case RefLayer::kConv: {
        const double* kernel = theta.data() + m.param_offsets[li];
        const double* bias = kernel + static_cast<std::size_t>(l.kernel) * l.kernel * x.c * l.size;
        x = ref_conv_forward(x, l, kernel, bias);
        break;
      }
      case RefLayer::kPool:
        x = ref_pool_forward(x, l);
        break;
      case RefLayer::kDense: {
        const int in = x.c * x.h * x.w;  // NHWC-flattened sample: (h, w, c) as Keras
        const double* kernel = theta.data() + m.param_offsets[li];
        const double* bias = kernel + static_cast<std::size_t>(in) * l.size;
        RefTensor y{x.n, l.size, 1, 1, std::vector<double>(static_cast<std::size_t>(x.n) * l.size)};
        for (int i = 0; i < x.n; ++i)
          for (int u = 0; u < l.size; ++u) {
            double sum = bias[u];
            for (int k = 0; k < in; ++k)
              sum += x.v[static_cast<std::size_t>(i) * in + k] *
                     kernel[static_cast<std::size_t>(k) * l.size + u];
            y.v[static_cast<std::size_t>(i) * l.size + u] = l.relu ? std::max(sum, 0.0) : sum;
          }
        x = std::move(y);
        break;
      }
      case RefLayer::kFlatten:
        x = RefTensor{x.n, x.c * x.h * x.w, 1, 1, std::move(x.v)};
        break;
      case RefLayer::kGap: {
        RefTensor y{x.n, x.c, 1, 1, std::vector<double>(static_cast<std::size_t>(x.n) * x.c, 0.0)};
        for (int i = 0; i < x.n; ++i)
          for (int ci = 0; ci < x.c; ++ci) {
            double sum = 0.0;
            for (int a = 0; a < x.h; ++a)
              for (int b = 0; b < x.w; ++b) sum += x.at(i, ci, a, b);
            y.v[static_cast<std::size_t>(i) * x.c + ci] = sum / (x.h * x.w);
          }
        x = std::move(y);
        break;
      }
      case RefLayer::kDrop:
        for (std::size_t k = 0; k < x.v.size(); ++k) x.v[k] *= m.dropout_masks[li][k];
        break;
    }
  }
  double total = 0.0;
  const int classes = x.c * x.h * x.w;
  for (int i = 0; i < x.n; ++i) {
    const double* z = x.v.data() + static_cast<std::size_t>(i) * classes;
    const double top = *std::max_element(z, z + classes);
    double sum = 0.0;
    for (int k = 0; k < classes; ++k) sum += std::exp(z[k] - top);
    total += top + std::log(sum) - z[labels[i]];
  }
  return total;
}

void check_model(const std::string& spec, const std::vector<RefLayer>& layers, int batch,
                 std::uint64_t seed) {
  SCOPED_TRACE(spec);
  std::mt19937 gen(static_cast<std::uint32_t>(seed));
  std::unique_ptr<Sequential> model = build_model(spec);
  ASSERT_EQ(model->layers().size(), layers.size());
  model->params().initialize(seed);
  float* values = model->params().values();
  const std::size_t size = model->params().size();
  // Give the (zero-initialised) biases random values too.
  for (const ParamView& v : model->params().views())
    if (v.spec.init == Init::kZeros)
      for (std::size_t i = 0; i < v.size; ++i)
        values[v.offset + i] = std::uniform_real_distribution<float>(-0.1f, 0.1f)(gen);
  model->setup(batch);
  Tensor& input = model->input();
  input.set_batch(batch);
  const std::vector<float> pixels = uniform_values(input.numel(), gen, 0.0f, 1.0f);
  std::copy(pixels.begin(), pixels.end(), input.data());
  std::vector<std::int32_t> labels(batch), ids(batch);
  for (int i = 0; i < batch; ++i) {
    labels[i] = static_cast<std::int32_t>(gen() % 10);
    ids[i] = static_cast<std::int32_t>(100 + 7 * i);
  }
  ForwardContext ctx;
  ctx.mode = Mode::kTrain;
  ctx.seed = seed;
  ctx.epoch = 1;
  ctx.sample_ids = ids.data();

  // Analytic gradients from the library.
  const Tensor& logits = model->forward(ctx);
  std::fill(model->params().grads(), model->params().grads() + size, kNaN);  // must be overwritten
  const double library_loss = softmax_cross_entropy(logits, labels.data(), 1.0f, &model->logits_grad()).loss;
  model->backward({});
  const std::vector<float> analytic(model->params().grads(), model->params().grads() + size);

  // The reference model: parameter offsets from the arena (kernel first), dropout masks.
  RefModel ref;
  ref.layers = layers;
  ref.param_offsets.assign(layers.size(), 0);
  ref.dropout_masks.resize(layers.size());
  const auto& views = model->params().views();
  for (std::size_t li = 0; li < layers.size(); ++li) {
    const RefLayer::Kind kind = layers[li].kind;
    if (kind == RefLayer::kConv || kind == RefLayer::kDense) {
      const std::string kernel_path = model->layers()[li]->name() + "/kernel";
      const ParamView* kernel = model->params().find(kernel_path);
      const ParamView* bias = model->params().find(model->layers()[li]->name() + "/bias");
      ASSERT_NE(kernel, nullptr) << kernel_path;
      ASSERT_NE(bias, nullptr);
      ASSERT_EQ(bias->offset, kernel->offset + kernel->size) << "bias follows its kernel";
      ref.param_offsets[li] = kernel->offset;
    }
    if (kind == RefLayer::kDrop) {
      const Shape in = li == 0 ? model->input_shape() : model->output_shapes()[li - 1];
      Tensor ones(in.with_batch(batch)), mask(in.with_batch(batch));
      std::fill(ones.data(), ones.data() + ones.numel(), 1.0f);
      model->layers()[li]->forward(ones, mask, ctx);
      ref.dropout_masks[li].assign(mask.data(), mask.data() + mask.numel());
    }
  }
  ASSERT_FALSE(views.empty());
  RefTensor ref_input{batch, 1, 28, 28, std::vector<double>(pixels.begin(), pixels.end())};
  std::vector<double> theta(values, values + size);
  const double reference_loss = ref_loss(ref, theta, ref_input, labels);
  ASSERT_NEAR(library_loss, reference_loss, 1e-4 * (1.0 + std::abs(reference_loss)))
      << "forward passes disagree";

  constexpr double h = 1e-6;
  double worst = 0.0;
  int failures = 0;
  for (std::size_t i = 0; i < size; ++i) {
    const double original = theta[i];
    theta[i] = original + h;
    const double up = ref_loss(ref, theta, ref_input, labels);
    theta[i] = original - h;
    const double down = ref_loss(ref, theta, ref_input, labels);
    theta[i] = original;
    const double numeric = (up - down) / (2.0 * h);
    const double e = relative_error(analytic[i], numeric);
    worst = std::max(worst, std::isnan(e) ? 1e30 : e);
    if (!(e < kTolerance) && ++failures <= 5)
      ADD_FAILURE() << "param " << i << ": analytic " << analytic[i] << " numeric " << numeric << " rel "
                    << e;
  }
  EXPECT_EQ(failures, 0) << "of " << size << " parameters";
  std::printf("[gradcheck] model %-34s max rel err params %.2e  (%zu params)\n", spec.c_str(), worst, size);
}

TEST(ModelGradients, ConvPoolGapDense) {
  check_model("conv4x3same-pool2-conv4x3-gap-dense10",
              {ref_conv(4, 3, 1, true, true), ref_pool(2, 2), ref_conv(4, 3, 1, false, true), ref_gap(),
               ref_dense(10, false)},
              2, 11);
}

// The first conv runs with the pool after it (Conv2D::forward_pooled): 16 filters take the
// register-blocked loops, pool3 leaves the last row and column of 28 in no window.
TEST(ModelGradients, FusedConvPoolUncoveredPixels) {
  check_model("conv16x3same-pool3-gap-dense10",
              {ref_conv(16, 3, 1, true, true), ref_pool(3, 3), ref_gap(), ref_dense(10, false)}, 2, 21);
}

// A fused pair after another layer, so its input gradient is needed: one-channel conv,
// then a one-input-channel conv fused with its pool.
TEST(ModelGradients, FusedConvPoolWithInputGradient) {
  check_model("conv1x3same-conv4x3same-pool2-gap-dense10",
              {ref_conv(1, 3, 1, true, true), ref_conv(4, 3, 1, true, true), ref_pool(2, 2), ref_gap(),
               ref_dense(10, false)},
              2, 15);
}

// An im2col conv (2 -> 4 channels, dx by dcol) fused with its pool, after a direct conv.
TEST(ModelGradients, FusedIm2colConvPoolWithInputGradient) {
  check_model("conv2x3same-conv4x3-pool2-gap-dense10",
              {ref_conv(2, 3, 1, true, true), ref_conv(4, 3, 1, false, true), ref_pool(2, 2), ref_gap(),
               ref_dense(10, false)},
              2, 17);
}

TEST(ModelGradients, MlpWithDropout) {
  check_model("flatten-dense8-drop0.3-dense10",
              {ref_flatten(), ref_dense(8, true), ref_drop(), ref_dense(10, false)}, 2, 12);
}

TEST(ModelGradients, StridedConvOverlappingPoolFlatten) {
  check_model("conv3x3s2same-pool3s2-conv2x3linear-flatten-dense10",
              {ref_conv(3, 3, 2, true, true), ref_pool(3, 2), ref_conv(2, 3, 1, false, false), ref_flatten(),
               ref_dense(10, false)},
              2, 13);
}

}  // namespace
}  // namespace fmnist
