// BatchNormalization forward/backward over NHWC rows of c channels. Reference: Ioffe &
// Szegedy (2015); Keras 3 keras.layers.BatchNormalization: biased batch variance
// (ops.moments) both to normalise and to update moving_variance, momentum 0.99, eps 1e-3.
//
// Data-parallel: the statistics are those of the global batch. Each rank sums x and x^2 per
// channel over its rows, the sums (and the row count) are allreduced in double, and every
// rank derives the same mean and variance. Backward needs the global sums of dy and
// dy * xhat: with M values per channel,
//   dx = gamma / sqrt(var + eps) * (dy - sum(dy) / M - xhat * sum(dy * xhat) / M).
#include "fmnist/nn/batch_norm.h"

#include <algorithm>
#include <cmath>

#include "fmnist/core/error.h"

namespace fmnist {

std::vector<ParamSpec> BatchNorm::param_specs(const Shape& in) const {
  const auto c = static_cast<std::size_t>(in.c);
  return {ParamSpec{"gamma", {c}, Init::kOnes, 0, 0}, ParamSpec{"beta", {c}, Init::kZeros, 0, 0}};
}

void BatchNorm::bind_params(const std::vector<ParamBinding>& params) {
  gamma_ = params.at(0);
  beta_ = params.at(1);
}

std::vector<ParamSpec> BatchNorm::state_specs(const Shape& in) const {
  const auto c = static_cast<std::size_t>(in.c);
  return {ParamSpec{"moving_mean", {c}, Init::kZeros, 0, 0}, ParamSpec{"moving_variance", {c}, Init::kOnes, 0, 0}};
}

void BatchNorm::bind_state(const std::vector<ParamBinding>& state) {
  moving_mean_ = state.at(0);
  moving_variance_ = state.at(1);
}

void BatchNorm::setup(const Shape& in, int /*max_batch*/) {
  channels_ = in.c;
  if (!gamma_.value || !moving_mean_.value) throw Error("layer bn: setup before its variables were bound");
  const auto c = static_cast<std::size_t>(channels_);
  sums_.assign(2 * c + 1, 0.0);
  grad_sums_.assign(2 * c, 0.0);
  mean_.assign(c, 0.0f);
  inv_std_.assign(c, 1.0f);
  coef_.assign(3 * c, 0.0f);
}

void BatchNorm::use_batch_statistics() {
  const int c = channels_;
  count_ = sums_[2 * static_cast<std::size_t>(c)];
  if (!(count_ > 0)) throw Error("layer bn: a training batch with no values");
  const float keep = options_.momentum, take = 1.0f - options_.momentum;
  for (int ch = 0; ch < c; ++ch) {
    const double mean = sums_[ch] / count_;
    // E[x^2] - E[x]^2 in double: exact enough for float activations, and one pass.
    const double variance = std::max(sums_[c + ch] / count_ - mean * mean, 0.0);
    mean_[ch] = static_cast<float>(mean);
    inv_std_[ch] = static_cast<float>(1.0 / std::sqrt(variance + options_.epsilon));
    moving_mean_.value[ch] = moving_mean_.value[ch] * keep + static_cast<float>(mean) * take;
    moving_variance_.value[ch] = moving_variance_.value[ch] * keep + static_cast<float>(variance) * take;
  }
}

void BatchNorm::forward(const Tensor& x, Tensor& y, const ForwardContext& ctx) {
  const int c = channels_;
  const std::size_t rows = x.numel() / static_cast<std::size_t>(c);
  const float* in = x.data();
  training_ = ctx.mode == Mode::kTrain;
  if (training_) {
    stats_ = ctx.stats;
    std::fill(sums_.begin(), sums_.end(), 0.0);
    double* sum = sums_.data();
    double* sum_sq = sums_.data() + c;
    for (std::size_t r = 0; r < rows; ++r) {
      const float* row = in + r * c;
      for (int ch = 0; ch < c; ++ch) {
        const double v = row[ch];
        sum[ch] += v;
        sum_sq[ch] += v * v;
      }
    }
    sums_[2 * static_cast<std::size_t>(c)] = static_cast<double>(rows);
    if (stats_) stats_->sum(sums_.data(), sums_.size());
    use_batch_statistics();
  } else {
    for (int ch = 0; ch < c; ++ch) {
      mean_[ch] = moving_mean_.value[ch];
      inv_std_[ch] = 1.0f / std::sqrt(moving_variance_.value[ch] + options_.epsilon);
    }
  }
  // y = (x - mean) * inv_std * gamma + beta = x * scale + shift
  float* scale = coef_.data();
  float* shift = coef_.data() + c;
  for (int ch = 0; ch < c; ++ch) {
    scale[ch] = inv_std_[ch] * gamma_.value[ch];
    shift[ch] = beta_.value[ch] - mean_[ch] * scale[ch];
  }
  float* out = y.data();
  for (std::size_t r = 0; r < rows; ++r) {
    const float* row = in + r * c;
    float* o = out + r * c;
    for (int ch = 0; ch < c; ++ch) o[ch] = row[ch] * scale[ch] + shift[ch];
  }
}

void BatchNorm::forward_without_data(const ForwardContext& ctx) {
  if (ctx.mode != Mode::kTrain) return;
  training_ = true;
  stats_ = ctx.stats;
  std::fill(sums_.begin(), sums_.end(), 0.0);
  if (stats_) stats_->sum(sums_.data(), sums_.size());
  use_batch_statistics();
}

void BatchNorm::backward(const Tensor& x, const Tensor& /*y*/, Tensor& dy, Tensor* dx) {
  const int c = channels_;
  const std::size_t rows = x.numel() / static_cast<std::size_t>(c);
  const float* in = x.data();
  const float* g = dy.data();
  std::fill(grad_sums_.begin(), grad_sums_.end(), 0.0);
  double* sum_dy = grad_sums_.data();
  double* sum_dy_xhat = grad_sums_.data() + c;
  for (std::size_t r = 0; r < rows; ++r) {
    const float* row = in + r * c;
    const float* grow = g + r * c;
    for (int ch = 0; ch < c; ++ch) {
      const double xhat = (row[ch] - mean_[ch]) * inv_std_[ch];
      sum_dy[ch] += grow[ch];
      sum_dy_xhat[ch] += grow[ch] * xhat;
    }
  }
  // This rank's share of the parameter gradients; the gradient sync sums them over ranks.
  for (int ch = 0; ch < c; ++ch) {
    beta_.grad[ch] = static_cast<float>(sum_dy[ch]);
    gamma_.grad[ch] = static_cast<float>(sum_dy_xhat[ch]);
  }
  if (!training_) {
    // Evaluation: the statistics are constants, dx = dy * gamma * inv_std.
    if (!dx) return;
    for (std::size_t r = 0; r < rows; ++r)
      for (int ch = 0; ch < c; ++ch) (*dx)[r * c + ch] = g[r * c + ch] * gamma_.value[ch] * inv_std_[ch];
    return;
  }
  if (stats_) stats_->sum(grad_sums_.data(), grad_sums_.size());
  if (!dx) return;
  // Per channel, dx = a * dy + b * x + d with a = gamma * inv_std,
  // b = -a * inv_std * mean(dy * xhat), d = -a * mean(dy) - b * mean.
  float* a = coef_.data();
  float* b = coef_.data() + c;
  float* d = coef_.data() + 2 * static_cast<std::size_t>(c);
  for (int ch = 0; ch < c; ++ch) {
    const double scale = static_cast<double>(gamma_.value[ch]) * inv_std_[ch];
    const double slope = -scale * inv_std_[ch] * (sum_dy_xhat[ch] / count_);
    a[ch] = static_cast<float>(scale);
    b[ch] = static_cast<float>(slope);
    d[ch] = static_cast<float>(-scale * (sum_dy[ch] / count_) - slope * mean_[ch]);
  }
  float* out = dx->data();
  for (std::size_t r = 0; r < rows; ++r) {
    const float* row = in + r * c;
    const float* grow = g + r * c;
    float* o = out + r * c;
    for (int ch = 0; ch < c; ++ch) o[ch] = a[ch] * grow[ch] + b[ch] * row[ch] + d[ch];
  }
}

void BatchNorm::backward_without_data() {
  if (!training_) return;
  std::fill(gamma_.grad, gamma_.grad + channels_, 0.0f);
  std::fill(beta_.grad, beta_.grad + channels_, 0.0f);
  std::fill(grad_sums_.begin(), grad_sums_.end(), 0.0);
  if (stats_) stats_->sum(grad_sums_.data(), grad_sums_.size());
}

}  // namespace fmnist
