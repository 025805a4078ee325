// Conv2D forward/backward on NHWC batches, in tiles of m output pixels (rows of the batch's
// (n*P, K) column matrix, P = oh*ow, K = kh*kw*c) sized to the L2 cache. Per tile:
//   forward   y (m, F)    = col (m, K) . W (K, F),          then bias + activation
//   backward  dW (K, F)  += col^T (K, m) . dy (m, F),       col rebuilt by im2col
//             dcol (m, K) = dy (m, F) . W^T (F, K),         then col2im adds it into dx
// except for 'same' stride-1 layers with F <= C, whose dx is itself a convolution, of dy with
// the kernel rotated 180 degrees: per tile of m input pixels, dx (m, C) = im2col(dy) (m,
// kh*kw*F) . flipped (kh*kw*F, C), written in place; no scattered adds and no zeroing of dx.
// Followed by a MaxPool2D, a layer with tiles of whole images runs together with it
// (forward_pooled): the tile's output is biased, activated and pooled while in L2 and never
// written to the batch's output, and backward routes each tile's dy from dpooled (cnn's second
// conv + pool, forward and backward, 5.30 -> 5.21 ms in the layer profile; cnn's step 1.6%
// faster, results/README.md).
// Where OpenBLAS has unpacked small-matrix kernels (SkylakeX class, one thread), gemm() runs a
// tile's forward and dW products as pieces of at most 100^3 m n k (53 rows of cnn's second
// conv): the layer still makes one gemm() call per tile (math/gemm.h).
// Only one tile's columns exist at a time (the whole matrix is 58 MB for a 28x28x64 layer at
// batch 32), so im2col's output is read by the GEMM from cache, not from memory. With NHWC
// activations the GEMM output is the layer output: no transposed copies, and the bias, ReLU
// and ReLU mask are short passes over contiguous rows of F values. A layer with one input
// channel (K = kh*kw, 9 for 3x3) runs direct loops instead (math/direct_conv.h): for cnn's
// first layer at batch 32, forward 1.09 -> 0.31 ms and backward 0.87 -> 0.48 ms against this
// GEMM with K = 9.
#include "fmnist/nn/conv2d.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "fmnist/core/cpu_cache.h"
#include "fmnist/core/error.h"
#include "fmnist/math/direct_conv.h"
#include "fmnist/math/gemm.h"
#include "fmnist/nn/max_pool2d.h"

namespace fmnist {

std::string Conv2D::spec() const {
  std::string s = "conv" + std::to_string(options_.filters) + "x" + std::to_string(options_.kernel);
  if (options_.stride != 1) s += "s" + std::to_string(options_.stride);
  s += options_.padding == Padding::kSame ? "same" : "valid";
  if (options_.activation == Activation::kLinear) s += "linear";
  return s;
}

ConvGeometry Conv2D::geometry(const Shape& in) const {
  return make_conv_geometry(in.c, in.h, in.w, options_.kernel, options_.kernel, options_.stride,
                            options_.padding);
}

Shape Conv2D::output_shape(const Shape& in) const {
  const ConvGeometry g = geometry(in);
  if (g.out_h <= 0 || g.out_w <= 0)
    throw Error("layer " + spec() + ": a " + std::to_string(options_.kernel) + "x" +
                std::to_string(options_.kernel) + " 'valid' kernel does not fit its input " +
                std::to_string(in.h) + "x" + std::to_string(in.w));
  return Shape{in.n, options_.filters, g.out_h, g.out_w};
}

std::vector<ParamSpec> Conv2D::param_specs(const Shape& in) const {
  const auto k = static_cast<std::size_t>(options_.kernel);
  const auto f = static_cast<std::size_t>(options_.filters);
  const int receptive = options_.kernel * options_.kernel;
  return {ParamSpec{"kernel",
                    {k, k, static_cast<std::size_t>(in.c), f},
                    Init::kGlorotUniform,
                    receptive * in.c,
                    receptive * options_.filters},
          ParamSpec{"bias", {f}, Init::kZeros, 0, 0}};
}

void Conv2D::bind_params(const std::vector<ParamBinding>& params) {
  kernel_ = params.at(0);
  bias_ = params.at(1);
}

namespace {

// Default tile: the tile's column block (m, K) and output block (m, F) together fill half the
// L2 cache, so im2col writes the block, the GEMM reads it and the bias + activation pass reads
// its output while both are in L2; at least kMinTileRows rows so each GEMM stays large. On Zen
// (512 KiB L2) tiles of 128-256 rows were the fastest for every conv of the presets, and
// K = 9 layers were flat from 128 to 6400 rows (results/benchmark.md).
constexpr double kTileCacheShare = 0.5;
constexpr int kMinTileRows = 128;

// Where that holds three quarters of an image or more, the tile is rounded to whole images
// (up where the next one is three quarters full), so a following MaxPool2D can pool each tile
// while it is in L2 (forward_pooled). Not below that: cnn-deep's 28x28x64 layer ran slower in
// tiles of one image (784 rows) than of 400 (forward 13.6-13.8 against 13.2-13.3 ms).
int default_tile_rows(const ConvGeometry& g, int filters) {
  const double row_bytes = sizeof(float) * static_cast<double>(g.col_cols() + filters);
  const int fit = static_cast<int>(kTileCacheShare * static_cast<double>(l2_cache_bytes()) / row_bytes);
  const int rows = std::max(kMinTileRows, fit / 16 * 16);
  const int pixels = g.out_pixels();
  const int images = (rows + pixels / 4) / pixels;
  return images > 0 ? images * pixels : rows;
}

}  // namespace

void Conv2D::setup(const Shape& in, int max_batch) {
  g_ = geometry(in);
  if (options_.algorithm == ConvAlgorithm::kDirect && g_.channels != 1)
    throw Error("layer " + spec() + ": the direct algorithm needs one input channel, found " +
                std::to_string(g_.channels));
  direct_ = options_.algorithm == ConvAlgorithm::kDirect ||
            (options_.algorithm == ConvAlgorithm::kAuto && g_.channels == 1);
  if (direct_) {  // one padded image instead of the tile buffers
    tile_rows_ = 0;
    col_.assign(static_cast<std::size_t>(direct_conv_frame_size(g_)), 0.0f);
    image_out_.assign(static_cast<std::size_t>(g_.out_pixels()) * options_.filters, 0.0f);
    return;
  }
  const int batch = std::max(max_batch, 1), rows = batch * g_.out_pixels();
  tile_rows_ =
      std::min(options_.tile_rows > 0 ? options_.tile_rows : default_tile_rows(g_, options_.filters), rows);
  std::size_t col_size = static_cast<std::size_t>(tile_rows_) * g_.col_cols();
  // dx by the flipped kernel only where dx has as many pixels as dy ('same', stride 1: for
  // 'valid' it would also multiply the zero border, cnn-deep's 7x7 -> 5x5 layer 7.9 -> 12.5
  // ms) and the layer has no more filters than input channels: its column matrix holds 9F
  // values a pixel against 9C for dcol + col2im, which is the faster way where F > C (layer
  // profile, both ways alternated: cnn's 32 -> 64 backward 4.2-4.3 -> 3.8-4.0 ms, cnn-deep's
  // 64 -> 128 14.3-14.4 -> 13.4-13.7 ms; at 64 -> 64 the flipped kernel 30.3-30.6 against
  // 30.8-31.2 ms).
  dx_by_convolution_ =
      options_.stride == 1 && options_.padding == Padding::kSame && options_.filters <= g_.channels;
  if (dx_by_convolution_) {
    // dy (out_h, out_w, F) as the image: output pixel (ih, iw) reads dy (ih + pad_top - kh,
    // iw + pad_left - kw) for tap (kh, kw), i.e. padding kernel - 1 - pad before it.
    dx_g_ = g_;
    dx_g_.channels = options_.filters;
    dx_g_.height = g_.out_h;
    dx_g_.width = g_.out_w;
    dx_g_.pad_top = g_.kernel_h - 1 - g_.pad_top;
    dx_g_.pad_left = g_.kernel_w - 1 - g_.pad_left;
    dx_g_.out_h = in.h;
    dx_g_.out_w = in.w;
    const int dx_rows = batch * in.h * in.w;
    dx_tile_rows_ =
        std::min(options_.tile_rows > 0 ? options_.tile_rows : default_tile_rows(dx_g_, in.c), dx_rows);
    col_size = std::max(col_size, static_cast<std::size_t>(dx_tile_rows_) * dx_g_.col_cols());
    flipped_.assign(static_cast<std::size_t>(dx_g_.col_cols()) * in.c, 0.0f);
  }
  col_.assign(col_size, 0.0f);
  // dcol from a copy of W^T where gemm() then runs it in small-kernel pieces (math/gemm.h):
  // cnn's second conv over its batch, in 784-row tiles, 1.36 ms with W^T by cblas against 1.07
  // ms in 53-row pieces. Not where the product stays whole: cnn-deep's 128 -> 256 'valid'
  // layer, whose copy is 1.2 MB, ran its backward in 7.0-7.2 ms that way against 6.3-6.5.
  dcol_from_transposed_kernel_ =
      !dx_by_convolution_ && gemm_pieces(Transpose::kNo, Transpose::kNo, tile_rows_, g_.col_cols(),
                                         options_.filters, gemm_piece_limit())
                                     .along != GemmPieces::kWhole;
  kernel_t_.assign(
      dcol_from_transposed_kernel_ ? static_cast<std::size_t>(g_.col_cols()) * options_.filters : 0, 0.0f);
  image_out_.clear();  // allocated by prepare_pool_fusion
}

// y (rows, F) = act(y + bias) in place: one pass over a tile's rows while the GEMM has just
// written them (in L2).
void Conv2D::add_bias_and_activate(float* y, int rows) const {
  const int filters = options_.filters;
  const float* __restrict bias = bias_.value;
  const float floor =
      options_.activation == Activation::kRelu ? 0.0f : -std::numeric_limits<float>::infinity();
  for (int r = 0; r < rows; ++r) {
    float* __restrict out = y + static_cast<std::size_t>(r) * filters;
#pragma omp simd
    for (int f = 0; f < filters; ++f) out[f] = std::max(out[f] + bias[f], floor);
  }
}

void Conv2D::forward(const Tensor& x, Tensor& y, const ForwardContext& /*ctx*/) {
  const int filters = options_.filters, k_cols = g_.col_cols();
  const long rows = static_cast<long>(x.shape().n) * g_.out_pixels();
  if (direct_) {
    direct_conv_forward(x.data(), x.shape().n, g_, kernel_.value, bias_.value, filters,
                        options_.activation == Activation::kRelu, col_.data(), y.data());
    return;
  }
  // Per tile of m output pixels: im2col, then y (m, F) = col (m, K) . W (K, F) straight into
  // the NHWC output, then bias + activation on the tile's rows.
  for (long first = 0; first < rows; first += tile_rows_) {
    const int m = static_cast<int>(std::min<long>(tile_rows_, rows - first));
    float* tile_y = y.data() + first * filters;
    im2col_batch_rows(x.data(), g_, first, m, col_.data());
    gemm(Transpose::kNo, Transpose::kNo, m, filters, k_cols, 1.0f, col_.data(), kernel_.value, 0.0f, tile_y);
    add_bias_and_activate(tile_y, m);
  }
}

void Conv2D::mask_and_sum_bias(const float* y, long rows, float* dy, float* db) const {
  const int filters = options_.filters;
  const bool relu = y != nullptr && options_.activation == Activation::kRelu;
  for (long r = 0; r < rows; ++r) {
    float* __restrict d = dy + r * filters;
    if (relu) {
      const float* __restrict out = y + r * filters;
#pragma omp simd
      for (int f = 0; f < filters; ++f) {
        d[f] = out[f] > 0.0f ? d[f] : 0.0f;
        db[f] += d[f];
      }
    } else {
#pragma omp simd
      for (int f = 0; f < filters; ++f) db[f] += d[f];
    }
  }
}

void Conv2D::backward(const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) {
  const int filters = options_.filters;
  const long rows = static_cast<long>(x.shape().n) * g_.out_pixels();
  float* __restrict db = bias_.grad;
  if (direct_) {
    const bool relu = options_.activation == Activation::kRelu;
    direct_conv_param_grads(x.data(), x.shape().n, g_, y.data(), relu, dy.data(), dx != nullptr, filters,
                            col_.data(), false, kernel_.grad, db);
    if (dx)
      direct_conv_input_grad(dy.data(), x.shape().n, g_, kernel_.value, filters, col_.data(), dx->data());
    return;
  }
  std::fill(db, db + filters, 0.0f);
  // Tiles of output pixels share input pixels at their edges: dx is zeroed once and every
  // tile's col2im adds into it (the flipped-kernel layers compute dx after the loop instead).
  if (dx && !dx_by_convolution_) {
    std::memset(dx->data(), 0, sizeof(float) * x.shape().numel());
    if (dcol_from_transposed_kernel_) transpose_kernel();
  }
  for (long first = 0; first < rows; first += tile_rows_) {
    const int m = static_cast<int>(std::min<long>(tile_rows_, rows - first));
    // dy tile (m, F) masked in place by the ReLU; db += its column sums.
    float* tile_dy = dy.data() + first * filters;
    mask_and_sum_bias(y.data() + first * filters, m, tile_dy, db);
    backward_tile(x, first, m, tile_dy, dx_by_convolution_ ? nullptr : dx);
  }
  if (dx && dx_by_convolution_) input_grad_by_convolution(dy, *dx);
}

void Conv2D::backward_tile(const Tensor& x, long first, int m, const float* tile_dy, Tensor* dx) {
  const int filters = options_.filters, k_cols = g_.col_cols();
  // dW (K, F) (+)= col^T (K, m) . dy (m, F): the first tile overwrites, the rest accumulate.
  im2col_batch_rows(x.data(), g_, first, m, col_.data());
  gemm(Transpose::kYes, Transpose::kNo, k_cols, filters, m, 1.0f, col_.data(), tile_dy,
       first == 0 ? 0.0f : 1.0f, kernel_.grad);
  if (!dx) return;
  // dcol (m, K) = dy (m, F) . W^T overwrites the tile, then col2im adds its rows into dx:
  // each kernel row of a pixel is one contiguous run of kernel_w * C floats in both. (The
  // transposed orientation, dcol^T = W . dy^T, ran its GEMM as fast but its col2im strided
  // through dx: cnn-2x64's 64 -> 64 'valid' backward 5.7-5.8 ms against 4.6-4.7 this way.)
  // W^T is read from kernel_t_ (F, K) where gemm() cuts that product into pieces (see setup).
  if (dcol_from_transposed_kernel_)
    gemm(Transpose::kNo, Transpose::kNo, m, k_cols, filters, 1.0f, tile_dy, kernel_t_.data(), 0.0f,
         col_.data());
  else
    gemm(Transpose::kNo, Transpose::kYes, m, k_cols, filters, 1.0f, tile_dy, kernel_.value, 0.0f,
         col_.data());
  col2im_batch_rows(col_.data(), g_, first, m, dx->data());
}

void Conv2D::transpose_kernel() {
  const int filters = options_.filters, k_cols = g_.col_cols();
  for (int r = 0; r < k_cols; ++r)
    for (int f = 0; f < filters; ++f)
      kernel_t_[static_cast<std::size_t>(f) * k_cols + r] =
          kernel_.value[static_cast<std::size_t>(r) * filters + f];
}

void Conv2D::input_grad_by_convolution(const Tensor& dy, Tensor& dx) {
  const int filters = options_.filters, channels = g_.channels, kh = g_.kernel_h, kw = g_.kernel_w;
  // flipped (kh', kw', f, c) = W (kh - 1 - kh', kw - 1 - kw', c, f).
  for (int a = 0; a < kh; ++a)
    for (int b = 0; b < kw; ++b) {
      const float* src =
          kernel_.value + static_cast<std::size_t>((kh - 1 - a) * kw + (kw - 1 - b)) * channels * filters;
      float* dst = flipped_.data() + static_cast<std::size_t>(a * kw + b) * filters * channels;
      for (int c = 0; c < channels; ++c)
        for (int f = 0; f < filters; ++f)
          dst[static_cast<std::size_t>(f) * channels + c] = src[c * filters + f];
    }
  const int k_cols = dx_g_.col_cols();
  const long rows = static_cast<long>(dx.shape().n) * dx_g_.out_pixels();
  for (long first = 0; first < rows; first += dx_tile_rows_) {
    const int m = static_cast<int>(std::min<long>(dx_tile_rows_, rows - first));
    im2col_batch_rows(dy.data(), dx_g_, first, m, col_.data());
    gemm(Transpose::kNo, Transpose::kNo, m, channels, k_cols, 1.0f, col_.data(), flipped_.data(), 0.0f,
         dx.data() + first * channels);
  }
}

bool Conv2D::prepare_pool_fusion(const MaxPool2D& pool) {
  if (pool.stride() != pool.pool() ||
      (options_.activation != Activation::kRelu && options_.activation != Activation::kLinear))
    return false;
  if (direct_) {  // image_out_ is allocated at setup
    direct_pool2_ = pool.pool() == 2 && direct_conv_pool2_applies(g_, options_.filters);
    return true;
  }
  // Tiles of whole images, and dx from each tile's dcol (the flipped-kernel dx reads all of dy).
  const int pixels = g_.out_pixels();
  if (dx_by_convolution_ || tile_rows_ % pixels != 0) return false;
  image_out_.assign(static_cast<std::size_t>(tile_rows_) * options_.filters, 0.0f);
  return true;
}

// Direct 3x3 layers with a 2x2 pool compute each window's four pixels in registers and store
// only the winner (cnn's first layer + pool in the benchmark's layer profile: forward 0.29 ->
// 0.11 ms, backward without dx 0.29 -> 0.16 ms, 12fd1f2 -> fb5f78b, with the frame fill and
// templated loops of direct_conv.cpp). Other direct layers, per image: the convolution into
// image_out_ (out_h, out_w, F: 100 KB for cnn's first layer, so it stays in L2), then the pool
// reads it from there. The layer's full output, (n, 28, 28, 32) = 3.2 MB at batch 32, is never
// written, nor read back by the pool.
// The im2col + GEMM layers do the same per tile of whole images (image_out_ holds the tile's
// GEMM output, 200 KB for cnn's second layer), and the pool adds the bias and activates as it
// reads the tile (MaxPool2D::forward_image_activated).
void Conv2D::forward_pooled(const Tensor& x, MaxPool2D& pool, Tensor& pooled) {
  const Shape out = output_shape(x.shape()).with_batch(1);
  const std::size_t image_size = x.shape().per_sample(), pooled_size = pooled.shape().per_sample();
  const bool relu = options_.activation == Activation::kRelu;
  const int n = x.shape().n;
  if (!direct_) {
    const int filters = options_.filters, pixels = g_.out_pixels(), tile_images = tile_rows_ / pixels;
    for (int first_image = 0; first_image < n; first_image += tile_images) {
      const int images = std::min(tile_images, n - first_image), m = images * pixels;
      im2col_batch_rows(x.data(), g_, static_cast<long>(first_image) * pixels, m, col_.data());
      gemm(Transpose::kNo, Transpose::kNo, m, filters, g_.col_cols(), 1.0f, col_.data(), kernel_.value, 0.0f,
           image_out_.data());
      for (int j = 0; j < images; ++j)  // the pool adds the bias and activates as it reads
        pool.forward_image_activated(image_out_.data() + static_cast<std::size_t>(j) * pixels * filters, out,
                                     first_image + j, bias_.value, relu,
                                     pooled.data() + (first_image + j) * pooled_size);
    }
    return;
  }
  if (direct_pool2_) {  // each window's four pixels in registers: image_out_ is not needed
    direct_conv_pool2_forward(x.data(), n, g_, kernel_.value, bias_.value, options_.filters, relu,
                              col_.data(), pooled.data(), pool.argmax());
    return;
  }
  for (int i = 0; i < n; ++i) {
    direct_conv_forward(x.data() + i * image_size, 1, g_, kernel_.value, bias_.value, options_.filters, relu,
                        col_.data(), image_out_.data());
    pool.forward_image(image_out_.data(), out, i, pooled.data() + i * pooled_size);
  }
}

// Per image: the pool routes dpooled into image_out_, then the parameter (and input)
// gradients read it. The ReLU mask needs no stored output: a gradient only reaches a window's
// winner, whose output is the pooled value, so masking dpooled where pooled <= 0 masks every
// pixel that gets a gradient exactly as the unfused layers do (ties at 0 included).
void Conv2D::backward_pooled(const Tensor& x, const MaxPool2D& pool, const Tensor& pooled, Tensor& dpooled,
                             Tensor* dx) {
  const Shape out = output_shape(x.shape()).with_batch(1);
  const std::size_t image_size = x.shape().per_sample(), pooled_size = pooled.shape().per_sample();
  const int filters = options_.filters;
  const int n = x.shape().n;
  if (n == 0) {  // the gradients are still overwritten
    std::fill(kernel_.grad, kernel_.grad + kernel_.size, 0.0f);
    std::fill(bias_.grad, bias_.grad + bias_.size, 0.0f);
  }
  // dpooled masked by the ReLU, then routed by the pool into image i's dy at `image_dy`.
  auto route = [&](int i, float* image_dy) {
    float* __restrict grad = dpooled.data() + i * pooled_size;
    if (options_.activation == Activation::kRelu) {
      const float* __restrict value = pooled.data() + i * pooled_size;
#pragma omp simd
      for (std::size_t k = 0; k < pooled_size; ++k) grad[k] = value[k] > 0.0f ? grad[k] : 0.0f;
    }
    pool.backward_image(grad, out, i, image_dy);
  };
  if (!direct_) {  // per tile of whole images: the tile's dy, then the unfused layer's tile step
    const int pixels = g_.out_pixels(), tile_images = tile_rows_ / pixels;
    float* db = bias_.grad;
    std::fill(db, db + filters, 0.0f);
    if (dx) {
      std::memset(dx->data(), 0, sizeof(float) * x.shape().numel());
      if (dcol_from_transposed_kernel_) transpose_kernel();
    }
    for (int first_image = 0; first_image < n; first_image += tile_images) {
      const int images = std::min(tile_images, n - first_image), m = images * pixels;
      float* tile_dy = image_out_.data();
      for (int j = 0; j < images; ++j)
        route(first_image + j, tile_dy + static_cast<std::size_t>(j) * pixels * filters);
      // db += the tile's dy summed over its pixels. The windows are disjoint, so each routed
      // value is one masked dpooled value: summed there, over 1/4 of the rows for a 2x2 pool
      // (the same values as the unfused layers sum, in another order).
      mask_and_sum_bias(nullptr, static_cast<long>(images) * (pooled_size / filters),
                        dpooled.data() + first_image * pooled_size, db);
      backward_tile(x, static_cast<long>(first_image) * pixels, m, tile_dy, dx);
    }
    return;
  }
  if (direct_pool2_ && !dx) {  // a first layer: routed and masked in registers
    const bool relu = options_.activation == Activation::kRelu;
    direct_conv_pool2_param_grads(x.data(), n, g_, relu ? pooled.data() : nullptr, dpooled.data(),
                                  pool.argmax(), filters, col_.data(), kernel_.grad, bias_.grad);
    return;
  }
  for (int i = 0; i < n; ++i) {
    route(i, image_out_.data());
    direct_conv_param_grads(x.data() + i * image_size, 1, g_, nullptr, false, image_out_.data(), false,
                            filters, col_.data(), i > 0, kernel_.grad, bias_.grad);
    if (dx)
      direct_conv_input_grad(image_out_.data(), 1, g_, kernel_.value, filters, col_.data(),
                             dx->data() + i * image_size);
  }
}

}  // namespace fmnist
