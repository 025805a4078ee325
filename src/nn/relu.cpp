// ReLU: y = max(x, 0); dx = dy where x > 0, else 0.
#include "fmnist/nn/relu.h"

#include <algorithm>

namespace fmnist {

void Relu::forward(const Tensor& x, Tensor& y, const ForwardContext& /*ctx*/) {
  for (std::size_t i = 0, n = x.numel(); i < n; ++i) y[i] = std::max(x[i], 0.0f);
}

void Relu::backward(const Tensor& x, const Tensor& /*y*/, Tensor& dy, Tensor* dx) {
  if (!dx) return;
  for (std::size_t i = 0, n = x.numel(); i < n; ++i) (*dx)[i] = x[i] > 0.0f ? dy[i] : 0.0f;
}

}  // namespace fmnist
