// The Layer interface: a forward/backward pair on NHWC batches with explicit shapes.
// Parameters live in the model's arena (param_arena.h); a layer only holds views into it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fmnist/core/tensor.h"

namespace fmnist {

enum class Mode { kTrain, kEval };

/// Sums per-channel statistics over every process that holds a share of the global batch
/// (BatchNormalization's batch statistics are those of the GLOBAL batch). Implemented in
/// dist/ over the Communicator; null in a ForwardContext means this process alone.
class ChannelStatsReducer {
 public:
  virtual ~ChannelStatsReducer() = default;
  /// In-place sum of data[0, count) over the processes; must allocate nothing.
  virtual void sum(double* data, std::size_t count) = 0;
};

/// What a forward pass needs to know beyond its input.
struct ForwardContext {
  Mode mode = Mode::kEval;
  std::uint64_t seed = 0;
  std::int64_t epoch = 0;
  /// Global dataset index of each sample of the batch, (n): dropout masks are drawn from
  /// (seed, epoch, layer, sample index) so they do not depend on how the batch is sharded.
  const std::int32_t* sample_ids = nullptr;
  /// Reduces batch statistics across ranks in training (BatchNormalization); null: local.
  ChannelStatsReducer* stats = nullptr;
};

/// How a parameter is initialised (Keras defaults: Glorot-uniform kernels, zero biases;
/// BatchNormalization's gamma and moving_variance start at one).
enum class Init { kGlorotUniform, kZeros, kOnes };

/// A parameter a layer asks the arena for.
struct ParamSpec {
  std::string name;                 // "kernel", "bias", "gamma", "moving_mean", ...
  std::vector<std::size_t> shape;   // e.g. Dense kernel (in, out)
  Init init = Init::kZeros;
  int fan_in = 0, fan_out = 0;      // for Glorot: limit = sqrt(6 / (fan_in + fan_out))
};

/// A parameter's storage, bound by the arena: `value` and `grad` each hold `size` floats.
struct ParamBinding {
  float* value = nullptr;
  float* grad = nullptr;
  std::size_t size = 0;
};

class Layer {
 public:
  virtual ~Layer() = default;

  /// Keras class name shown by the summary, e.g. "Conv2D".
  virtual std::string type_name() const = 0;
  /// Keras snake-case base for instance names, e.g. "conv2d" (then "conv2d_1", ...).
  virtual std::string base_name() const = 0;
  /// This layer in the model-spec grammar, e.g. "conv32x3same".
  virtual std::string spec() const = 0;

  /// Output sample shape for an input sample shape (n is ignored); throws Error if invalid.
  virtual Shape output_shape(const Shape& in) const = 0;
  /// Parameters for an input sample shape, in storage order. Default: none.
  virtual std::vector<ParamSpec> param_specs(const Shape& /*in*/) const { return {}; }
  /// Receives storage for the parameters, in param_specs() order.
  virtual void bind_params(const std::vector<ParamBinding>& /*params*/) {}
  /// Non-trainable variables (Keras' non_trainable_weights, e.g. BatchNormalization's moving
  /// statistics): updated by forward in training, never by the optimizer. Default: none.
  virtual std::vector<ParamSpec> state_specs(const Shape& /*in*/) const { return {}; }
  /// Receives storage for the non-trainable variables, in state_specs() order (grad unused).
  virtual void bind_state(const std::vector<ParamBinding>& /*state*/) {}
  /// Allocates every scratch buffer for batches of up to `max_batch` samples of shape `in`.
  /// Called once before training; forward/backward then allocate nothing.
  virtual void setup(const Shape& in, int max_batch) = 0;

  /// y = f(x). `y` has been sized to output_shape(x) with x's batch size.
  virtual void forward(const Tensor& x, Tensor& y, const ForwardContext& ctx) = 0;
  /// True for a layer whose evaluation forward would copy x to y unchanged (Dropout): the
  /// model then skips it in evaluation and hands x on to the next layer. Default: false.
  virtual bool identity_in_evaluation() const { return false; }
  /// True for a layer whose output is its input's floats under another shape (Flatten): the
  /// model makes its output and output gradient views of its input's buffers and skips its
  /// forward and backward. Default: false.
  virtual bool reshapes_only() const { return false; }
  /// Given x, y = f(x) and dy = dL/dy: OVERWRITES `*dx` with dL/dx (skipped when dx is
  /// null, for the first layer) and OVERWRITES this layer's parameter gradients (each
  /// parameter is used once per step, so no zeroing is needed). `dy` may be clobbered.
  virtual void backward(const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) = 0;

  /// For a rank whose share of a training batch is empty: take part in the collectives that
  /// forward / backward would make, contributing nothing, and update any non-trainable state
  /// as the other ranks do. Default: no collectives, nothing to do.
  virtual void forward_without_data(const ForwardContext& /*ctx*/) {}
  virtual void backward_without_data() {}

  /// Instance name, e.g. "conv2d_1"; set by the model.
  const std::string& name() const { return name_; }
  void set_name(std::string name) { name_ = std::move(name); }

 private:
  std::string name_;
};

}  // namespace fmnist
