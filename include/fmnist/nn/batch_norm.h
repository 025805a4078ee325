// Batch normalization (Keras BatchNormalization, axis = -1): normalises each channel over
// every other axis (batch, height, width) with the statistics of the GLOBAL batch in
// training, and with the moving statistics in evaluation.
#pragma once

#include <vector>

#include "fmnist/nn/layer.h"

namespace fmnist {

/// Keras' defaults.
struct BatchNormOptions {
  float momentum = 0.99f;  // moving = moving * momentum + batch * (1 - momentum)
  float epsilon = 1e-3f;
};

/// Input and output (n, h, w, c), channels last; Dense outputs (n, c, 1, 1) too.
/// Trainable gamma (c) and beta (c) live in the parameter arena (so they are allreduced with
/// every other gradient); moving_mean (c) and moving_variance (c) are non-trainable state.
class BatchNorm : public Layer {
 public:
  explicit BatchNorm(const BatchNormOptions& options = {}) : options_(options) {}

  std::string type_name() const override { return "BatchNormalization"; }
  std::string base_name() const override { return "batch_normalization"; }
  std::string spec() const override { return "bn"; }
  Shape output_shape(const Shape& in) const override { return in; }
  std::vector<ParamSpec> param_specs(const Shape& in) const override;
  void bind_params(const std::vector<ParamBinding>& params) override;
  std::vector<ParamSpec> state_specs(const Shape& in) const override;
  void bind_state(const std::vector<ParamBinding>& state) override;
  void setup(const Shape& in, int max_batch) override;
  /// Training: y = gamma * (x - mean) / sqrt(var + eps) + beta with the batch mean and biased
  /// variance, reduced over ranks through ctx.stats (one allreduce of 2c + 1 doubles), and
  /// the moving statistics updated. Evaluation: the moving statistics instead.
  void forward(const Tensor& x, Tensor& y, const ForwardContext& ctx) override;
  /// Overwrites dx, dgamma (this rank's sum of dy * xhat) and dbeta (this rank's sum of dy);
  /// in training, dx needs the global sums of both, so this makes one allreduce of 2c doubles.
  void backward(const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) override;
  void forward_without_data(const ForwardContext& ctx) override;
  void backward_without_data() override;
  const BatchNormOptions& options() const { return options_; }

 private:
  // Turns sums_ (global after the reduction) into mean_ / inv_std_ and updates the moving
  // statistics: the part of a training forward every rank does, with or without data.
  void use_batch_statistics();

  BatchNormOptions options_;
  int channels_ = 0;
  ParamBinding gamma_, beta_;                   // (c) each, trainable
  ParamBinding moving_mean_, moving_variance_;  // (c) each, non-trainable
  bool training_ = false;                       // mode of the last forward
  ChannelStatsReducer* stats_ = nullptr;        // reducer of the last training forward
  std::vector<double> sums_;     // (2c + 1): sum x, sum x^2 per channel, then the sample count
  std::vector<double> grad_sums_;  // (2c): sum dy, sum dy * xhat per channel
  std::vector<float> mean_;      // (c) mean used by the last forward
  std::vector<float> inv_std_;   // (c) 1 / sqrt(var + eps) used by the last forward
  std::vector<float> coef_;      // (3c) per-channel coefficients of the output pass
  double count_ = 0;             // values per channel the statistics were taken over (global)
};

}  // namespace fmnist
