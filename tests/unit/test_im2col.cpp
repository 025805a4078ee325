// Tests of im2col/col2im and the Conv2D forward pass: Conv2D against a naive direct convolution
// written here from Keras' definition, the adjoint identity <im2col(x), y> = <x, col2im(y)>,
// and the output sizes of make_conv_geometry against Keras' formulas.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "fmnist/core/error.h"
#include "fmnist/core/tensor.h"
#include "fmnist/math/im2col.h"
#include "fmnist/nn/conv2d.h"

namespace fmnist {
namespace {

std::vector<float> uniform_values(std::size_t size, std::mt19937& gen, float lo = -1.0f, float hi = 1.0f) {
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> out(size);
  for (float& v : out) v = dist(gen);
  return out;
}

// Keras / TensorFlow output size and leading (top/left) padding, written from their docs:
// 'valid': out = floor((in - k) / s) + 1, no padding;
// 'same':  out = ceil(in / s), total padding max((out - 1) s + k - in, 0), the smaller half first.
struct Axis {
  int out, pad;
};
Axis keras_axis(int in, int k, int s, bool same) {
  if (!same) return {(in - k) / s + 1, 0};
  const int out = static_cast<int>(std::ceil(static_cast<double>(in) / s));
  const int total = std::max((out - 1) * s + k - in, 0);
  return {out, total / 2};
}

struct ConvCase {
  int n, c, h, w, filters, kernel, stride;
  bool same, relu;
  int tile_rows = 0;  // 0: the layer's cache-derived default
  ConvAlgorithm algorithm = ConvAlgorithm::kAuto;  // kAuto: direct loops when c == 1
};

// y[i, oh, ow, f] = act(b[f] + sum_{kh, kw, ci} W[kh, kw, ci, f] x[i, ci, oh s + kh - pt, ow s + kw - pl]),
// with W stored (kh, kw, c, filters) as Keras does, and zero outside the image.
std::vector<double> naive_conv(const ConvCase& t, const std::vector<float>& x,
                               const std::vector<float>& kernel, const std::vector<float>& bias, int* out_h,
                               int* out_w) {
  const Axis ah = keras_axis(t.h, t.kernel, t.stride, t.same);
  const Axis aw = keras_axis(t.w, t.kernel, t.stride, t.same);
  *out_h = ah.out;
  *out_w = aw.out;
  std::vector<double> y(static_cast<std::size_t>(t.n) * t.filters * ah.out * aw.out);
  for (int i = 0; i < t.n; ++i)
    for (int f = 0; f < t.filters; ++f)
      for (int oh = 0; oh < ah.out; ++oh)
        for (int ow = 0; ow < aw.out; ++ow) {
          double sum = bias[f];
          for (int kh = 0; kh < t.kernel; ++kh)
            for (int kw = 0; kw < t.kernel; ++kw)
              for (int ci = 0; ci < t.c; ++ci) {
                const int ih = oh * t.stride + kh - ah.pad;
                const int iw = ow * t.stride + kw - aw.pad;
                if (ih < 0 || ih >= t.h || iw < 0 || iw >= t.w) continue;
                const double xv = x[((static_cast<std::size_t>(i) * t.h + ih) * t.w + iw) * t.c + ci];
                const double wv =
                    kernel[((static_cast<std::size_t>(kh) * t.kernel + kw) * t.c + ci) * t.filters + f];
                sum += xv * wv;
              }
          if (t.relu) sum = std::max(sum, 0.0);
          y[((static_cast<std::size_t>(i) * ah.out + oh) * aw.out + ow) * t.filters + f] = sum;
        }
  return y;
}

void check_conv_forward(const ConvCase& t, std::mt19937& gen) {
  SCOPED_TRACE(::testing::Message() << "n=" << t.n << " c=" << t.c << " " << t.h << "x" << t.w
                                    << " filters=" << t.filters << " k=" << t.kernel << " s=" << t.stride
                                    << (t.same ? " same" : " valid") << (t.relu ? " relu" : " linear")
                                    << " tile_rows=" << t.tile_rows << " algorithm="
                                    << static_cast<int>(t.algorithm));
  Conv2DOptions options;
  options.filters = t.filters;
  options.kernel = t.kernel;
  options.stride = t.stride;
  options.padding = t.same ? Padding::kSame : Padding::kValid;
  options.activation = t.relu ? Activation::kRelu : Activation::kLinear;
  options.tile_rows = t.tile_rows;
  options.algorithm = t.algorithm;
  Conv2D conv(options);

  const std::size_t kernel_size = static_cast<std::size_t>(t.kernel) * t.kernel * t.c * t.filters;
  std::vector<float> kernel = uniform_values(kernel_size, gen), bias = uniform_values(t.filters, gen);
  std::vector<float> dkernel(kernel_size), dbias(t.filters);
  conv.bind_params({ParamBinding{kernel.data(), dkernel.data(), kernel_size},
                    ParamBinding{bias.data(), dbias.data(), bias.size()}});
  const Shape in{t.n, t.c, t.h, t.w};
  conv.setup(in, t.n + 1);  // capacity for one more sample than used: the batch may shrink

  Tensor x(in);
  const std::vector<float> xs = uniform_values(in.numel(), gen);
  std::copy(xs.begin(), xs.end(), x.data());
  const Shape out = conv.output_shape(in);
  Tensor y(out);

  int out_h = 0, out_w = 0;
  const std::vector<double> expected = naive_conv(t, xs, kernel, bias, &out_h, &out_w);
  ASSERT_EQ(out.n, t.n);
  ASSERT_EQ(out.c, t.filters);
  ASSERT_EQ(out.h, out_h);
  ASSERT_EQ(out.w, out_w);

  ForwardContext ctx;
  conv.forward(x, y, ctx);
  const double tol = 1e-5 * (1.0 + t.kernel * t.kernel * t.c);
  for (std::size_t i = 0; i < expected.size(); ++i) ASSERT_NEAR(y[i], expected[i], tol) << "at " << i;
}

TEST(Conv2DForward, MatchesNaiveConvolution) {
  std::mt19937 gen(2024);
  const ConvCase cases[] = {
      // n, c, h, w, filters, kernel, stride, same, relu
      {2, 1, 7, 7, 3, 3, 1, true, false},
      {2, 1, 7, 7, 3, 3, 1, false, true},
      {3, 2, 8, 6, 4, 3, 2, true, true},
      {3, 2, 8, 6, 4, 3, 2, false, false},
      {2, 3, 9, 9, 2, 5, 1, true, true},
      {2, 3, 9, 9, 2, 5, 1, false, false},
      {2, 3, 10, 7, 5, 5, 2, true, false},
      {2, 3, 10, 7, 5, 5, 2, false, true},
      {2, 4, 5, 6, 3, 1, 1, true, true},
      {2, 4, 5, 6, 3, 1, 2, false, false},
      {4, 5, 6, 6, 8, 3, 1, true, false},
      {2, 2, 11, 11, 3, 3, 2, true, true},
      {1, 1, 28, 28, 4, 3, 1, true, true},
      {2, 6, 5, 5, 2, 5, 1, false, false},
      {2, 2, 4, 4, 3, 5, 2, true, false},  // kernel larger than the image under 'same'
      // kernel_w * c >= 16: the run-copying im2col path (the cases above take the short-row one)
      {2, 8, 7, 7, 3, 3, 1, true, true},
      {2, 8, 9, 8, 4, 3, 2, true, false},
      {2, 16, 6, 6, 2, 3, 2, false, true},
      {2, 8, 4, 4, 3, 5, 2, true, false},
      {2, 6, 7, 5, 3, 3, 3, true, true},
  };
  for (const ConvCase& t : cases) check_conv_forward(t, gen);
}

// One input channel: the direct loops (kAuto picks them; the 3x3 kernels with 16 or 32 filters
// take their register-blocked path, the rest the general one) and, for the same shapes,
// im2col + GEMM.
TEST(Conv2DForward, SingleChannelMatchesNaiveConvolution) {
  std::mt19937 gen(2026);
  const ConvCase shapes[] = {
      // n, c, h, w, filters, kernel, stride, same, relu
      {2, 1, 28, 28, 32, 3, 1, true, true},   // cnn's first layer
      {2, 1, 28, 28, 16, 3, 1, false, true},  // cnn-gap's, with 16 filters
      {3, 1, 9, 7, 32, 3, 2, true, false},    // strided, odd sizes
      {2, 1, 8, 9, 16, 3, 2, false, false},
      {2, 1, 7, 7, 3, 3, 1, true, true},      // filters not a multiple of 16
      {2, 1, 9, 9, 16, 5, 1, true, true},     // 5x5
      {2, 1, 6, 5, 16, 5, 2, false, false},
  };
  for (ConvCase t : shapes)
    for (ConvAlgorithm algorithm : {ConvAlgorithm::kAuto, ConvAlgorithm::kIm2colGemm}) {
      t.algorithm = algorithm;
      check_conv_forward(t, gen);
    }
}

TEST(Conv2DForward, DirectNeedsOneInputChannel) {
  Conv2DOptions options;
  options.filters = 4;
  options.algorithm = ConvAlgorithm::kDirect;
  Conv2D conv(options);
  EXPECT_THROW(conv.setup(Shape{1, 2, 5, 5}, 1), Error);
}

// Tiles of output pixels: tiles inside one image row, tiles that split an image and span
// several, a last tile smaller than the rest, one pixel per tile, and a tile over the batch.
TEST(Conv2DForward, TiledMatchesNaiveConvolution) {
  std::mt19937 gen(2025);
  const ConvCase shapes[] = {
      // n, c, h, w, filters, kernel, stride, same, relu
      {3, 1, 7, 7, 3, 3, 1, true, true},    // short-row im2col, 49 pixels per image
      {3, 8, 7, 6, 4, 3, 1, true, false},   // run-copying im2col
      {2, 3, 9, 8, 5, 3, 2, false, true},   // strided, valid
      {2, 16, 6, 6, 3, 5, 2, true, true},   // kernel wider than half the image
  };
  for (ConvCase t : shapes)
    for (int tile : {1, 5, 17, 40, 1000}) {  // 17 and 40 leave a smaller last tile and split images
      t.tile_rows = tile;
      check_conv_forward(t, gen);
    }
}

// The (n * out_h * out_w, K) column matrix of an NHWC batch, written from the definition:
// row (i * out_h + oh) * out_w + ow, column (kh * k + kw) * c + ci holds input pixel
// (i, oh s + kh - pad_top, ow s + kw - pad_left, ci), or 0 in the padding.
std::vector<float> definition_columns(const std::vector<float>& batch, int n, int c, int h, int w, int k, int stride,
                                      bool same) {
  const Axis ah = keras_axis(h, k, stride, same), aw = keras_axis(w, k, stride, same);
  const int pixels = ah.out * aw.out, k_cols = k * k * c;
  const std::size_t image_size = static_cast<std::size_t>(c) * h * w;
  std::vector<float> want(static_cast<std::size_t>(n) * pixels * k_cols, 0.0f);
  for (int i = 0; i < n; ++i)
    for (int oh = 0; oh < ah.out; ++oh)
      for (int ow = 0; ow < aw.out; ++ow)
        for (int kh = 0; kh < k; ++kh)
          for (int kw = 0; kw < k; ++kw)
            for (int ci = 0; ci < c; ++ci) {
              const int ih = oh * stride + kh - ah.pad, iw = ow * stride + kw - aw.pad;
              if (ih < 0 || ih >= h || iw < 0 || iw >= w) continue;
              const std::size_t row = static_cast<std::size_t>(i) * pixels + oh * aw.out + ow;
              want[row * k_cols + (kh * k + kw) * c + ci] = batch[i * image_size + (ih * w + iw) * c + ci];
            }
  return want;
}

// Direct check of the documented column layout: row oh*OW + ow, column (kh*KW + kw)*C + c.
TEST(Im2col, ColumnLayoutMatchesDefinition) {
  std::mt19937 gen(11);
  for (int c : {2, 8})  // short-row and run-copying paths
    for (bool same : {false, true})
      for (int stride : {1, 2, 3}) {
        const int h = 7, w = 6, k = 3;
        const ConvGeometry g =
            make_conv_geometry(c, h, w, k, k, stride, same ? Padding::kSame : Padding::kValid);
        const std::vector<float> image = uniform_values(static_cast<std::size_t>(c) * h * w, gen);
        const std::vector<float> want = definition_columns(image, 1, c, h, w, k, stride, same);
        // One guard value on each side catches writes outside the (pixels, K) matrix.
        std::vector<float> col(want.size() + 2, -7.0f);
        im2col(image.data(), g, col.data() + 1);
        for (std::size_t j = 0; j < want.size(); ++j)
          ASSERT_EQ(col[1 + j], want[j]) << "c=" << c << " same=" << same << " stride=" << stride << " row "
                                         << j / (k * k * c) << " column " << j % (k * k * c);
        EXPECT_EQ(col.front(), -7.0f);
        EXPECT_EQ(col.back(), -7.0f);
      }
}

// im2col_batch_rows over any range of a batch's rows equals those rows of the definition;
// col2im_batch_rows over a partition of the rows into tiles adds up to the col2im of each
// whole image.
TEST(Im2col, BatchRowRangesMatchDefinition) {
  std::mt19937 gen(12);
  const int n = 3, h = 6, w = 5, k = 3;
  for (int c : {1, 8})  // short-row and run-copying paths
    for (bool same : {false, true})
      for (int stride : {1, 2}) {
        const ConvGeometry g =
            make_conv_geometry(c, h, w, k, k, stride, same ? Padding::kSame : Padding::kValid);
        const Axis ah = keras_axis(h, k, stride, same), aw = keras_axis(w, k, stride, same);
        const int pixels = ah.out * aw.out, k_cols = k * k * c, rows = n * pixels;
        const std::size_t image_size = static_cast<std::size_t>(c) * h * w;
        const std::vector<float> batch = uniform_values(image_size * n, gen);
        const std::vector<float> want = definition_columns(batch, n, c, h, w, k, stride, same);
        const std::vector<float> dcol = uniform_values(want.size(), gen);
        std::vector<float> whole(image_size * n, 0.0f);
        for (int i = 0; i < n; ++i)
          col2im(dcol.data() + static_cast<std::size_t>(i) * pixels * k_cols, g, whole.data() + i * image_size);
        for (int tile : {1, 3, 7, pixels - 1, pixels + 2, rows}) {
          SCOPED_TRACE(::testing::Message() << "c=" << c << " same=" << same << " stride=" << stride
                                            << " tile=" << tile);
          std::vector<float> tiled(image_size * n, 0.0f);
          for (int first = 0; first < rows; first += tile) {
            const int m = std::min(tile, rows - first);
            std::vector<float> col(static_cast<std::size_t>(m) * k_cols + 2, -7.0f);  // guards at both ends
            im2col_batch_rows(batch.data(), g, first, m, col.data() + 1);
            for (std::size_t j = 0; j < static_cast<std::size_t>(m) * k_cols; ++j)
              ASSERT_EQ(col[1 + j], want[static_cast<std::size_t>(first) * k_cols + j]) << "row " << first << " + " << j / k_cols;
            EXPECT_EQ(col.front(), -7.0f);
            EXPECT_EQ(col.back(), -7.0f);
            col2im_batch_rows(dcol.data() + static_cast<std::size_t>(first) * k_cols, g, first, m, tiled.data());
          }
          for (std::size_t j = 0; j < tiled.size(); ++j) ASSERT_NEAR(tiled[j], whole[j], 1e-5) << "at " << j;
        }
      }
}

struct Geometry {
  int c, h, w, kh, kw, stride;
  int pad_top, pad_left;  // explicit, to exercise odd padding
  int out_h, out_w;
};

// <im2col(x), y> = <x, col2im(y)> in double, and col2im accumulates into the image.
void check_adjoint(const ConvGeometry& g, std::mt19937& gen) {
  SCOPED_TRACE(::testing::Message() << "c=" << g.channels << " " << g.height << "x" << g.width
                                    << " k=" << g.kernel_h << "x" << g.kernel_w << " s=" << g.stride
                                    << " pad=" << g.pad_top << "," << g.pad_left << " out=" << g.out_h << "x"
                                    << g.out_w);
  const std::size_t image_size = static_cast<std::size_t>(g.channels) * g.height * g.width;
  const std::size_t col_size = static_cast<std::size_t>(g.out_pixels()) * g.col_cols();
  const std::vector<float> x = uniform_values(image_size, gen);
  const std::vector<float> y = uniform_values(col_size, gen);

  std::vector<float> col(col_size, 0.0f);
  im2col(x.data(), g, col.data());
  double lhs = 0.0;
  for (std::size_t i = 0; i < col_size; ++i) lhs += static_cast<double>(col[i]) * y[i];

  std::vector<float> back(image_size, 0.0f);
  col2im(y.data(), g, back.data());
  double rhs = 0.0;
  for (std::size_t i = 0; i < image_size; ++i) rhs += static_cast<double>(x[i]) * back[i];
  EXPECT_NEAR(lhs, rhs, 1e-4 * (1.0 + std::abs(lhs)));
  EXPECT_NE(lhs, 0.0);

  // col2im adds to what the image holds.
  std::vector<float> base = uniform_values(image_size, gen);
  std::vector<float> accumulated = base;
  col2im(y.data(), g, accumulated.data());
  for (std::size_t i = 0; i < image_size; ++i)
    ASSERT_NEAR(accumulated[i], base[i] + back[i], 1e-5) << "at " << i;
}

TEST(Im2col, AdjointOfCol2im) {
  std::mt19937 gen(77);
  // Geometries from make_conv_geometry (Keras padding) ...
  for (int stride : {1, 2, 3})
    for (int k : {1, 2, 3, 5})
      for (Padding padding : {Padding::kValid, Padding::kSame}) {
        if (padding == Padding::kValid && k > 7) continue;
        check_adjoint(make_conv_geometry(3, 7, 8, k, k, stride, padding), gen);
        check_adjoint(make_conv_geometry(2, 9, 5, k, k, stride, padding), gen);
        check_adjoint(make_conv_geometry(8, 6, 7, k, k, stride, padding), gen);
      }
  // ... and hand-made ones with odd, asymmetric padding and non-square kernels.
  const Geometry hand[] = {
      {2, 6, 7, 3, 3, 2, 1, 0, 3, 4}, {1, 5, 5, 3, 2, 1, 1, 1, 5, 6}, {3, 8, 8, 5, 5, 2, 2, 1, 4, 4},
      {2, 7, 7, 3, 3, 2, 1, 1, 4, 4}, {1, 6, 6, 4, 4, 3, 2, 2, 3, 3},
  };
  for (const Geometry& h : hand) {
    ConvGeometry g;
    g.channels = h.c;
    g.height = h.h;
    g.width = h.w;
    g.kernel_h = h.kh;
    g.kernel_w = h.kw;
    g.stride = h.stride;
    g.pad_top = h.pad_top;
    g.pad_left = h.pad_left;
    g.out_h = h.out_h;
    g.out_w = h.out_w;
    check_adjoint(g, gen);
  }
}

TEST(ConvGeometry, OutputSizesFollowKeras) {
  for (int in = 1; in <= 30; ++in)
    for (int k = 1; k <= 7; ++k)
      for (int s = 1; s <= 4; ++s) {
        const ConvGeometry same = make_conv_geometry(3, in, in + 1, k, k, s, Padding::kSame);
        const int same_h = (in + s - 1) / s, same_w = (in + 1 + s - 1) / s;  // ceil(in / s)
        EXPECT_EQ(same.out_h, same_h) << "same in=" << in << " k=" << k << " s=" << s;
        EXPECT_EQ(same.out_w, same_w) << "same in=" << in + 1 << " k=" << k << " s=" << s;
        EXPECT_EQ(same.pad_top, keras_axis(in, k, s, true).pad) << "in=" << in << " k=" << k << " s=" << s;
        EXPECT_EQ(same.pad_left, keras_axis(in + 1, k, s, true).pad)
            << "in=" << in + 1 << " k=" << k << " s=" << s;
        EXPECT_EQ(same.channels, 3);
        EXPECT_EQ(same.col_cols(), k * k * 3);
        if (in < k) continue;
        const ConvGeometry valid = make_conv_geometry(3, in, in, k, k, s, Padding::kValid);
        const int valid_out = static_cast<int>(std::floor(static_cast<double>(in - k) / s)) + 1;
        EXPECT_EQ(valid.out_h, valid_out) << "valid in=" << in << " k=" << k << " s=" << s;
        EXPECT_EQ(valid.out_w, valid_out) << "valid in=" << in << " k=" << k << " s=" << s;
        EXPECT_EQ(valid.pad_top, 0);
        EXPECT_EQ(valid.pad_left, 0);
      }
  // Spot values from the tutorials: 28 -> 26 (3x3 valid), 28 -> 28 (same), 28 -> 14 (same, s2).
  EXPECT_EQ(make_conv_geometry(1, 28, 28, 3, 3, 1, Padding::kValid).out_h, 26);
  EXPECT_EQ(make_conv_geometry(1, 28, 28, 3, 3, 1, Padding::kSame).out_h, 28);
  EXPECT_EQ(make_conv_geometry(1, 28, 28, 3, 3, 2, Padding::kSame).out_h, 14);
}

}  // namespace
}  // namespace fmnist
