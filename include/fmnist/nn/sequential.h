// Sequential model: an ordered list of layers, their activations, and the parameter arena.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "fmnist/nn/layer.h"
#include "fmnist/nn/param_arena.h"

namespace fmnist {

class Sequential {
 public:
  /// Names the layers Keras-style (conv2d, conv2d_1, ...), checks the shapes chain from
  /// `input` (a sample shape, e.g. (1, 1, 28, 28)), and lays out the parameter arena.
  /// Throws Error naming the layer whose input does not fit.
  Sequential(std::vector<std::unique_ptr<Layer>> layers, const Shape& input);

  /// Allocates activations and every layer's scratch for batches of up to `max_batch`.
  /// Where a Conv2D can run together with the MaxPool2D after it (Conv2D::prepare_pool_fusion),
  /// forward and backward run the pair as one, unless set_fuse_layers(false) came first.
  void setup(int max_batch);
  /// Tests compare fused pairs against the layers run one by one. Call before setup().
  void set_fuse_layers(bool fuse) { fuse_layers_ = fuse; }
  /// Whether layer i runs fused with layer i + 1 (after setup).
  bool fused_with_next(std::size_t i) const { return i < fused_pool_.size() && fused_pool_[i]; }
  /// For fused_with_next(i): layers i and i + 1 as one, x (layer i's input) -> pooled (layer
  /// i + 1's output); and their backward from dpooled (clobbered) to layer i's parameter
  /// gradients and, unless null, dx. forward() and backward() run pairs through these.
  void forward_fused(std::size_t i, const Tensor& x, Tensor& pooled);
  void backward_fused(std::size_t i, const Tensor& x, const Tensor& pooled, Tensor& dpooled, Tensor* dx);
  int max_batch() const { return max_batch_; }
  /// Whether layer i's backward computes dx: some layer before it takes a gradient, i.e. not
  /// only reshaping layers come first (the first Dense after Flatten computes none).
  bool computes_input_grad(std::size_t i) const;

  /// The input batch (n, h, w, c): callers gather samples straight into it.
  Tensor& input() { return activations_.front(); }
  /// Runs every layer on input() (batch n = input().shape().n); returns the logits (n, classes).
  /// In evaluation, layers that are the identity there (Layer::identity_in_evaluation) are
  /// skipped. A layer that only reshapes (Layer::reshapes_only) is skipped always: its output
  /// is a view of its input's buffer (after skipped layers it copies into that buffer).
  const Tensor& forward(const ForwardContext& ctx);
  /// The buffer for dL/dlogits, sized like the last forward's logits.
  Tensor& logits_grad() { return activation_grads_.back(); }
  /// Backpropagates logits_grad() through every layer, last to first. After each layer,
  /// calls `on_grads_ready(offset)`: every parameter gradient at arena offset >= `offset`
  /// is final (the gradient-sync buckets start their allreduce from this).
  void backward(const std::function<void(std::size_t)>& on_grads_ready);
  /// A training step on a rank whose share of the global batch is empty: every layer takes
  /// part in the collectives its forward and backward would make, in the same order, with
  /// `on_grads_ready` called as backward() would. Parameter gradients must already be zero.
  void step_without_data(const ForwardContext& ctx, const std::function<void(std::size_t)>& on_grads_ready);

  ParamArena& params() { return params_; }
  const ParamArena& params() const { return params_; }
  /// Non-trainable variables (BatchNormalization's moving statistics), e.g.
  /// "batch_normalization/moving_mean"; their grads are unused and the optimizer never sees them.
  ParamArena& non_trainable() { return non_trainable_; }
  const ParamArena& non_trainable() const { return non_trainable_; }
  const std::vector<std::unique_ptr<Layer>>& layers() const { return layers_; }
  /// Output sample shape of each layer (n = 1).
  const std::vector<Shape>& output_shapes() const { return output_shapes_; }
  const Shape& input_shape() const { return input_shape_; }
  int num_classes() const { return static_cast<int>(output_shapes_.back().per_sample()); }
  /// Canonical spec string, e.g. "flatten-dense128-dense10".
  std::string spec() const;
  /// Arena offset of the first parameter of each layer (size() for layers without any).
  const std::vector<std::size_t>& layer_param_offsets() const { return layer_param_offsets_; }

 private:
  std::vector<std::unique_ptr<Layer>> layers_;
  Shape input_shape_;
  std::vector<Shape> output_shapes_;
  std::vector<std::size_t> layer_param_offsets_;
  ParamArena params_;
  ParamArena non_trainable_;
  std::vector<Tensor> activations_;       // [0] input, [i + 1] output of layer i
  std::vector<Tensor> activation_grads_;  // [i + 1] dL/d(output of layer i); [0] unused
  int max_batch_ = 0;
  bool fuse_layers_ = true;
  std::vector<bool> fused_pool_;  // [i]: Conv2D i runs with MaxPool2D i + 1
};

}  // namespace fmnist
