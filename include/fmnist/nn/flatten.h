// Flatten: (n, h, w, c) -> (n, h*w*c). Activations are NHWC, so features come out in Keras'
// (h, w, c) order and the next Dense kernel's rows mean what they mean in Keras.
#pragma once

#include <cstring>

#include "fmnist/nn/layer.h"

namespace fmnist {

class Flatten : public Layer {
 public:
  std::string type_name() const override { return "Flatten"; }
  std::string base_name() const override { return "flatten"; }
  std::string spec() const override { return "flatten"; }
  Shape output_shape(const Shape& in) const override {
    return Shape{in.n, static_cast<int>(in.per_sample()), 1, 1};
  }
  void setup(const Shape& /*in*/, int /*max_batch*/) override {}
  bool reshapes_only() const override { return true; }
  void forward(const Tensor& x, Tensor& y, const ForwardContext& /*ctx*/) override {
    std::memcpy(y.data(), x.data(), sizeof(float) * x.numel());
  }
  void backward(const Tensor& x, const Tensor& /*y*/, Tensor& dy, Tensor* dx) override {
    if (dx) std::memcpy(dx->data(), dy.data(), sizeof(float) * x.numel());
  }
};

}  // namespace fmnist
