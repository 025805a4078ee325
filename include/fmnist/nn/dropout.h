// Inverted dropout (Keras Dropout): in training, zero each unit with probability `rate` and
// scale the survivors by 1 / (1 - rate); identity in evaluation.
#pragma once

#include <cstdint>

#include "fmnist/nn/layer.h"

namespace fmnist {

class Dropout : public Layer {
 public:
  explicit Dropout(float rate) : rate_(rate) {}

  std::string type_name() const override { return "Dropout"; }
  std::string base_name() const override { return "dropout"; }
  std::string spec() const override;
  Shape output_shape(const Shape& in) const override { return in; }
  void setup(const Shape& in, int max_batch) override;
  void forward(const Tensor& x, Tensor& y, const ForwardContext& ctx) override;
  bool identity_in_evaluation() const override { return true; }
  void backward(const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) override;

  /// Distinguishes this layer's masks from other Dropout layers' (set by the model).
  void set_stream(std::uint64_t stream) { stream_ = stream; }
  float rate() const { return rate_; }

 private:
  float rate_;
  std::uint64_t stream_ = 0;
  bool training_ = false;
  AlignedVector<float> mask_;  // (n, h, w, c): 0 or 1 / (1 - rate), from the last training forward
};

}  // namespace fmnist
