// GlobalAveragePooling2D on NHWC: y[n, c] = mean over pixels of x[n, :, :, c]; backward
// spreads dy / (h*w) evenly. Pixels are the outer loop, so the channel loop is contiguous.
#include "fmnist/nn/global_average_pool2d.h"

#include <algorithm>

namespace fmnist {

void GlobalAveragePool2D::forward(const Tensor& x, Tensor& y, const ForwardContext& /*ctx*/) {
  const Shape& s = x.shape();
  const int pixels = s.h * s.w, c = s.c;
  const float inv = 1.0f / static_cast<float>(pixels);
  for (int i = 0; i < s.n; ++i) {
    const float* in = x.data() + i * s.per_sample();
    float* __restrict mean = y.data() + static_cast<std::size_t>(i) * c;
    std::fill(mean, mean + c, 0.0f);
    for (int p = 0; p < pixels; ++p) {
      const float* __restrict pixel = in + static_cast<std::size_t>(p) * c;
#pragma omp simd
      for (int ch = 0; ch < c; ++ch) mean[ch] += pixel[ch];
    }
    for (int ch = 0; ch < c; ++ch) mean[ch] *= inv;
  }
}

void GlobalAveragePool2D::backward(const Tensor& x, const Tensor& /*y*/, Tensor& dy, Tensor* dx) {
  if (!dx) return;
  const Shape& s = x.shape();
  const int pixels = s.h * s.w, c = s.c;
  const float inv = 1.0f / static_cast<float>(pixels);
  for (int i = 0; i < s.n; ++i) {
    const float* __restrict g = dy.data() + static_cast<std::size_t>(i) * c;
    float* d = dx->data() + i * s.per_sample();
    for (int p = 0; p < pixels; ++p) {
      float* __restrict pixel = d + static_cast<std::size_t>(p) * c;
#pragma omp simd
      for (int ch = 0; ch < c; ++ch) pixel[ch] = g[ch] * inv;
    }
  }
}

}  // namespace fmnist
