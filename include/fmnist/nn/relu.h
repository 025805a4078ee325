// ReLU as a layer of its own, for specs that separate it (Dense and Conv2D fuse it instead).
#pragma once

#include "fmnist/nn/layer.h"

namespace fmnist {

class Relu : public Layer {
 public:
  std::string type_name() const override { return "ReLU"; }
  std::string base_name() const override { return "re_lu"; }
  std::string spec() const override { return "relu"; }
  Shape output_shape(const Shape& in) const override { return in; }
  void setup(const Shape& /*in*/, int /*max_batch*/) override {}
  void forward(const Tensor& x, Tensor& y, const ForwardContext& ctx) override;
  void backward(const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) override;
};

}  // namespace fmnist
