// Dense (fully connected) layer with a fused activation: y = act(x W + b).
#pragma once

#include "fmnist/nn/activation.h"
#include "fmnist/nn/layer.h"

namespace fmnist {

/// Keras Dense(units, activation). Input (n, in) taken as the flattened sample;
/// kernel (in, units) as Keras stores it, bias (units).
class Dense : public Layer {
 public:
  Dense(int units, Activation activation) : units_(units), activation_(activation) {}

  std::string type_name() const override { return "Dense"; }
  std::string base_name() const override { return "dense"; }
  std::string spec() const override;
  Shape output_shape(const Shape& in) const override;
  std::vector<ParamSpec> param_specs(const Shape& in) const override;
  void bind_params(const std::vector<ParamBinding>& params) override;
  void setup(const Shape& in, int max_batch) override;
  void forward(const Tensor& x, Tensor& y, const ForwardContext& ctx) override;
  void backward(const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) override;

  int units() const { return units_; }
  Activation activation() const { return activation_; }

 private:
  int units_;
  Activation activation_;
  int in_features_ = 0;
  ParamBinding kernel_;  // (in_features, units)
  ParamBinding bias_;    // (units)
};

}  // namespace fmnist
