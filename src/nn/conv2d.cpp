// Conv2D forward/backward on NHWC batches. One GEMM per batch in each direction:
//   forward   y (n*P, F)    = col (n*P, K) . W (K, F),   P = oh*ow, K = kh*kw*c
//   backward  dW (K, F)     = col^T (K, n*P) . dy (n*P, F)
//             dcol (n*P, K) = dy (n*P, F) . W^T (F, K),  then col2im per image
// With NHWC activations the GEMM output is the layer output: no transposed copies, and the
// bias, ReLU and ReLU mask are short passes over contiguous rows of F values.
#include "fmnist/nn/conv2d.h"

#include <algorithm>
#include <cstring>

#include "fmnist/core/error.h"
#include "fmnist/math/gemm.h"

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

void Conv2D::setup(const Shape& in, int max_batch) {
  g_ = geometry(in);
  const std::size_t rows = static_cast<std::size_t>(max_batch) * g_.out_pixels();
  col_.assign(rows * g_.col_cols(), 0.0f);
}

void Conv2D::forward(const Tensor& x, Tensor& y, const ForwardContext& /*ctx*/) {
  const int n = x.shape().n, filters = options_.filters, k_cols = g_.col_cols();
  const int rows = n * g_.out_pixels();
  const std::size_t image_size = x.shape().per_sample();
  const std::size_t col_size = static_cast<std::size_t>(g_.out_pixels()) * k_cols;
  for (int i = 0; i < n; ++i) im2col(x.data() + i * image_size, g_, col_.data() + i * col_size);

  // y (n*P, F) is already NHWC: no reorder, only bias and activation in place.
  gemm(Transpose::kNo, Transpose::kNo, rows, filters, k_cols, 1.0f, col_.data(), kernel_.value, 0.0f,
       y.data());
  const float* __restrict bias = bias_.value;
  const bool relu = options_.activation == Activation::kRelu;
  for (int r = 0; r < rows; ++r) {
    float* __restrict out = y.data() + static_cast<std::size_t>(r) * filters;
    if (relu) {
#pragma omp simd
      for (int f = 0; f < filters; ++f) out[f] = std::max(out[f] + bias[f], 0.0f);
    } else {
#pragma omp simd
      for (int f = 0; f < filters; ++f) out[f] += bias[f];
    }
  }
}

void Conv2D::backward(const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) {
  const int n = x.shape().n, filters = options_.filters, k_cols = g_.col_cols();
  const int rows = n * g_.out_pixels();
  const bool relu = options_.activation == Activation::kRelu;

  // dy (n*P, F) masked in place by the ReLU; db = column sums of the masked dy.
  float* __restrict db = bias_.grad;
  std::fill(db, db + filters, 0.0f);
  for (int r = 0; r < rows; ++r) {
    float* __restrict d = dy.data() + static_cast<std::size_t>(r) * filters;
    const float* __restrict out = y.data() + static_cast<std::size_t>(r) * filters;
    if (relu) {
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

  // dW (K, F) = col^T (K, n*P) . dy (n*P, F); col_ still holds im2col(x) from forward.
  gemm(Transpose::kYes, Transpose::kNo, k_cols, filters, rows, 1.0f, col_.data(), dy.data(), 0.0f,
       kernel_.grad);
  if (!dx) return;
  // dcol (n*P, K) = dy (n*P, F) . W^T (F, K) overwrites col_, which is no longer needed.
  gemm(Transpose::kNo, Transpose::kYes, rows, k_cols, filters, 1.0f, dy.data(), kernel_.value, 0.0f,
       col_.data());
  const std::size_t image_size = x.shape().per_sample();
  const std::size_t col_size = static_cast<std::size_t>(g_.out_pixels()) * k_cols;
  std::memset(dx->data(), 0, sizeof(float) * image_size * n);
  for (int i = 0; i < n; ++i) col2im(col_.data() + i * col_size, g_, dx->data() + i * image_size);
}

}  // namespace fmnist
