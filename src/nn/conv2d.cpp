// Conv2D forward/backward. One GEMM per batch in each direction:
//   forward   out (F, n*P) = W^T (F, K) . col (K, n*P),   P = oh*ow, K = kh*kw*c
//   backward  dW (K, F)    = col (K, n*P) . dout^T (n*P, F)
//             dcol (K, n*P) = W (K, F) . dout (F, n*P),  then col2im per image
// The GEMM works channel-major over the whole batch; a cheap pass reorders to NCHW and
// fuses the bias and activation (and, backward, the ReLU mask).
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
  return {ParamSpec{"kernel", {k, k, static_cast<std::size_t>(in.c), f}, Init::kGlorotUniform,
                    receptive * in.c, receptive * options_.filters},
          ParamSpec{"bias", {f}, Init::kZeros, 0, 0}};
}

void Conv2D::bind_params(const std::vector<ParamBinding>& params) {
  kernel_ = params.at(0);
  bias_ = params.at(1);
}

void Conv2D::setup(const Shape& in, int max_batch) {
  g_ = geometry(in);
  const std::size_t columns = static_cast<std::size_t>(max_batch) * g_.out_pixels();
  col_.assign(static_cast<std::size_t>(g_.col_rows()) * columns, 0.0f);
  channel_major_.assign(static_cast<std::size_t>(options_.filters) * columns, 0.0f);
}

void Conv2D::forward(const Tensor& x, Tensor& y, const ForwardContext& /*ctx*/) {
  const int n = x.shape().n, filters = options_.filters, pixels = g_.out_pixels();
  const int columns = n * pixels;
  const std::size_t image_size = x.shape().per_sample();
  for (int i = 0; i < n; ++i) im2col(x.data() + i * image_size, g_, col_.data() + i * pixels, columns);

  gemm(Transpose::kYes, Transpose::kNo, filters, columns, g_.col_rows(), 1.0f, kernel_.value,
       col_.data(), 0.0f, channel_major_.data());

  // (F, n, P) -> (n, F, P) with bias and activation.
  const bool relu = options_.activation == Activation::kRelu;
  for (int f = 0; f < filters; ++f) {
    const float b = bias_.value[f];
    for (int i = 0; i < n; ++i) {
      const float* __restrict src = channel_major_.data() + static_cast<std::size_t>(f) * columns + i * pixels;
      float* __restrict dst = y.data() + (static_cast<std::size_t>(i) * filters + f) * pixels;
      if (relu) {
        for (int p = 0; p < pixels; ++p) dst[p] = std::max(src[p] + b, 0.0f);
      } else {
        for (int p = 0; p < pixels; ++p) dst[p] = src[p] + b;
      }
    }
  }
}

void Conv2D::backward(const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) {
  const int n = x.shape().n, filters = options_.filters, pixels = g_.out_pixels();
  const int columns = n * pixels;
  const bool relu = options_.activation == Activation::kRelu;

  // dout (F, n*P) from dy (n, F, P), masked by the ReLU; db = row sums of dout.
  float* db = bias_.grad;
  for (int f = 0; f < filters; ++f) {
    float sum = 0.0f;
    for (int i = 0; i < n; ++i) {
      const std::size_t offset = (static_cast<std::size_t>(i) * filters + f) * pixels;
      const float* __restrict src = dy.data() + offset;
      const float* __restrict out = y.data() + offset;
      float* __restrict dst = channel_major_.data() + static_cast<std::size_t>(f) * columns + i * pixels;
      if (relu) {
#pragma omp simd reduction(+ : sum)
        for (int p = 0; p < pixels; ++p) {
          const float g = src[p];  // loaded unconditionally so the select vectorises
          const float d = out[p] > 0.0f ? g : 0.0f;
          dst[p] = d;
          sum += d;
        }
      } else {
#pragma omp simd reduction(+ : sum)
        for (int p = 0; p < pixels; ++p) {
          dst[p] = src[p];
          sum += src[p];
        }
      }
    }
    db[f] = sum;
  }

  // col_ still holds im2col(x) from forward.
  gemm(Transpose::kNo, Transpose::kYes, g_.col_rows(), filters, columns, 1.0f, col_.data(),
       channel_major_.data(), 0.0f, kernel_.grad);
  if (!dx) return;
  // dcol overwrites col_, which is no longer needed.
  gemm(Transpose::kNo, Transpose::kNo, g_.col_rows(), columns, filters, 1.0f, kernel_.value,
       channel_major_.data(), 0.0f, col_.data());
  const std::size_t image_size = x.shape().per_sample();
  std::memset(dx->data(), 0, sizeof(float) * image_size * n);
  for (int i = 0; i < n; ++i) col2im(col_.data() + i * pixels, g_, columns, dx->data() + i * image_size);
}

}  // namespace fmnist
