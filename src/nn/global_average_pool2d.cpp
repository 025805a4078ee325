// GlobalAveragePooling2D: y[n,c] = mean(x[n,c,:,:]); backward spreads dy / (h*w) evenly.
#include "fmnist/nn/global_average_pool2d.h"

namespace fmnist {

void GlobalAveragePool2D::forward(const Tensor& x, Tensor& y, const ForwardContext& /*ctx*/) {
  const Shape& s = x.shape();
  const std::size_t plane = static_cast<std::size_t>(s.h) * s.w;
  const float inv = 1.0f / static_cast<float>(plane);
  for (int p = 0; p < s.n * s.c; ++p) {
    const float* in = x.data() + p * plane;
    float sum = 0.0f;
    for (std::size_t i = 0; i < plane; ++i) sum += in[i];
    y[p] = sum * inv;
  }
}

void GlobalAveragePool2D::backward(const Tensor& x, const Tensor& /*y*/, Tensor& dy, Tensor* dx) {
  if (!dx) return;
  const Shape& s = x.shape();
  const std::size_t plane = static_cast<std::size_t>(s.h) * s.w;
  const float inv = 1.0f / static_cast<float>(plane);
  for (int p = 0; p < s.n * s.c; ++p) {
    const float g = dy[p] * inv;
    float* d = dx->data() + p * plane;
    for (std::size_t i = 0; i < plane; ++i) d[i] = g;
  }
}

}  // namespace fmnist
