// Dense: one GEMM per batch forward, two backward (dW and dx), bias and ReLU fused in the
// output pass. Shapes: x (n, in), W (in, units), y (n, units).
#include "fmnist/nn/dense.h"

#include <algorithm>
#include <cstring>

#include "fmnist/core/error.h"
#include "fmnist/math/gemm.h"

namespace fmnist {

std::string Dense::spec() const {
  return "dense" + std::to_string(units_) + (activation_ == Activation::kLinear ? "linear" : "");
}

Shape Dense::output_shape(const Shape& in) const { return Shape{in.n, units_, 1, 1}; }

std::vector<ParamSpec> Dense::param_specs(const Shape& in) const {
  const int fan_in = static_cast<int>(in.per_sample());
  return {ParamSpec{"kernel", {static_cast<std::size_t>(fan_in), static_cast<std::size_t>(units_)},
                    Init::kGlorotUniform, fan_in, units_},
          ParamSpec{"bias", {static_cast<std::size_t>(units_)}, Init::kZeros, 0, 0}};
}

void Dense::bind_params(const std::vector<ParamBinding>& params) {
  kernel_ = params.at(0);
  bias_ = params.at(1);
}

void Dense::setup(const Shape& in, int /*max_batch*/) { in_features_ = static_cast<int>(in.per_sample()); }

void Dense::forward(const Tensor& x, Tensor& y, const ForwardContext& /*ctx*/) {
  const int n = x.shape().n;
  float* out = y.data();
  // y = x W, then + b and the activation in one pass over y.
  gemm(Transpose::kNo, Transpose::kNo, n, units_, in_features_, 1.0f, x.data(), kernel_.value, 0.0f, out);
  const float* b = bias_.value;
  for (int i = 0; i < n; ++i) {
    float* row = out + static_cast<std::size_t>(i) * units_;
    if (activation_ == Activation::kRelu) {
      for (int j = 0; j < units_; ++j) row[j] = std::max(row[j] + b[j], 0.0f);
    } else {
      for (int j = 0; j < units_; ++j) row[j] += b[j];
    }
  }
}

void Dense::backward(const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) {
  const int n = x.shape().n;
  float* dz = dy.data();  // becomes dL/d(pre-activation), in place
  if (activation_ == Activation::kRelu) {
    const float* out = y.data();
    for (std::size_t i = 0, e = static_cast<std::size_t>(n) * units_; i < e; ++i)
      if (out[i] <= 0.0f) dz[i] = 0.0f;
  }
  // db = column sums of dz; dW (in, units) = x^T dz; dx (n, in) = dz W^T.
  float* db = bias_.grad;
  std::memset(db, 0, sizeof(float) * units_);
  for (int i = 0; i < n; ++i) {
    const float* row = dz + static_cast<std::size_t>(i) * units_;
    for (int j = 0; j < units_; ++j) db[j] += row[j];
  }
  gemm(Transpose::kYes, Transpose::kNo, in_features_, units_, n, 1.0f, x.data(), dz, 0.0f, kernel_.grad);
  if (dx) gemm(Transpose::kNo, Transpose::kYes, n, in_features_, units_, 1.0f, dz, kernel_.value, 0.0f, dx->data());
}

}  // namespace fmnist
