// GlobalAveragePooling2D: (n, h, w, c) -> (n, c), the mean of each channel over the pixels.
#pragma once

#include "fmnist/nn/layer.h"

namespace fmnist {

class GlobalAveragePool2D : public Layer {
 public:
  std::string type_name() const override { return "GlobalAveragePooling2D"; }
  std::string base_name() const override { return "global_average_pooling2d"; }
  std::string spec() const override { return "gap"; }
  Shape output_shape(const Shape& in) const override { return Shape{in.n, in.c, 1, 1}; }
  void setup(const Shape& /*in*/, int /*max_batch*/) override {}
  void forward(const Tensor& x, Tensor& y, const ForwardContext& ctx) override;
  void backward(const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) override;
};

}  // namespace fmnist
