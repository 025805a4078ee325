// Conv2D through im2col + one GEMM per batch, with bias and activation fused.
#pragma once

#include "fmnist/math/im2col.h"
#include "fmnist/nn/activation.h"
#include "fmnist/nn/layer.h"

namespace fmnist {

struct Conv2DOptions {
  int filters = 0;
  int kernel = 3;  // square kernel_size
  int stride = 1;
  Padding padding = Padding::kValid;
  Activation activation = Activation::kRelu;
};

/// Keras Conv2D on NHWC input. kernel (kh, kw, in_channels, filters) as Keras stores it,
/// which read as a (kh*kw*c, filters) matrix matches the im2col column order; bias (filters).
class Conv2D : public Layer {
 public:
  explicit Conv2D(const Conv2DOptions& options) : options_(options) {}

  std::string type_name() const override { return "Conv2D"; }
  std::string base_name() const override { return "conv2d"; }
  std::string spec() const override;
  Shape output_shape(const Shape& in) const override;
  std::vector<ParamSpec> param_specs(const Shape& in) const override;
  void bind_params(const std::vector<ParamBinding>& params) override;
  void setup(const Shape& in, int max_batch) override;
  void forward(const Tensor& x, Tensor& y, const ForwardContext& ctx) override;
  void backward(const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) override;

  const Conv2DOptions& options() const { return options_; }

 private:
  ConvGeometry geometry(const Shape& in) const;

  Conv2DOptions options_;
  ConvGeometry g_;
  ParamBinding kernel_;           // (kh, kw, c, filters) = (K, filters), K = kh*kw*c
  ParamBinding bias_;             // (filters)
  std::vector<float> col_;        // (n*oh*ow, K): im2col of the batch; reused for dcol in backward
};

}  // namespace fmnist
