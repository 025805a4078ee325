// MaxPool2D ('valid' padding) that keeps the argmax of every window for backward.
#pragma once

#include <cstdint>

#include "fmnist/nn/layer.h"

namespace fmnist {

/// Keras MaxPooling2D(pool_size, strides=pool_size by default, padding='valid').
class MaxPool2D : public Layer {
 public:
  MaxPool2D(int pool, int stride) : pool_(pool), stride_(stride) {}

  std::string type_name() const override { return "MaxPooling2D"; }
  std::string base_name() const override { return "max_pooling2d"; }
  std::string spec() const override;
  Shape output_shape(const Shape& in) const override;
  void setup(const Shape& in, int max_batch) override;
  void forward(const Tensor& x, Tensor& y, const ForwardContext& ctx) override;
  void backward(const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) override;
  int pool() const { return pool_; }
  int stride() const { return stride_; }

  /// forward / backward for one sample `image` of the batch (its argmax slot), on buffers of one
  /// sample: in (h, w, c) of shape in_shape, out (oh, ow, c). For a layer that produces its
  /// input one image at a time and pools it while it is in cache (Conv2D::forward_pooled).
  void forward_image(const float* in, const Shape& in_shape, int image, float* out);
  /// forward_image of act(in + bias) (bias per channel; relu: max(., 0), else linear), for a
  /// producer that leaves its bias and activation to the pool: the same floats as activating
  /// `in` first, without that pass over it.
  void forward_image_activated(const float* in, const Shape& in_shape, int image, const float* bias,
                               bool relu, float* out);
  /// dx (h, w, c) of sample `image` from its dy (oh, ow, c): overwritten.
  void backward_image(const float* dy, const Shape& in_shape, int image, float* dx) const;
  /// The batch's argmax (n, oh, ow, c), for a layer that pools its own output in registers
  /// (Conv2D's direct 3x3 loops with a 2x2 pool) and records the winners as forward would.
  std::int32_t* argmax() { return argmax_.data(); }
  const std::int32_t* argmax() const { return argmax_.data(); }

 private:
  int pool_, stride_;
  AlignedVector<std::int32_t> argmax_;  // (n, oh, ow, c): offset of the max within its (h, w, c) sample
};

}  // namespace fmnist
