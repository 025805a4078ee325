// Dropout masks are a pure function of (seed, epoch, layer stream, global sample index,
// unit), so a sample gets the same mask whichever rank computes it.
#include "fmnist/nn/dropout.h"

#include <cstdio>

#include "fmnist/core/error.h"
#include "fmnist/core/rng.h"

namespace fmnist {

std::string Dropout::spec() const {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "drop%g", static_cast<double>(rate_));
  return buffer;
}

void Dropout::setup(const Shape& in, int max_batch) {
  if (!(rate_ >= 0.0f && rate_ < 1.0f)) throw Error("layer " + spec() + ": dropout rate must be in [0, 1)");
  mask_.assign(in.with_batch(max_batch).numel(), 0.0f);
}

void Dropout::forward(const Tensor& x, Tensor& y, const ForwardContext& ctx) {
  training_ = ctx.mode == Mode::kTrain && rate_ > 0.0f;
  const std::size_t total = x.numel();
  if (!training_) {
    for (std::size_t i = 0; i < total; ++i) y[i] = x[i];
    return;
  }
  if (!ctx.sample_ids) throw Error("dropout: training forward without sample ids");
  const float keep_scale = 1.0f / (1.0f - rate_);
  const std::size_t per_sample = x.shape().per_sample();
  for (int i = 0; i < x.shape().n; ++i) {
    const std::uint64_t base = hash_of({ctx.seed, static_cast<std::uint64_t>(ctx.epoch), stream_,
                                        static_cast<std::uint64_t>(ctx.sample_ids[i])});
    for (std::size_t u = 0; u < per_sample; ++u) {
      const std::size_t k = i * per_sample + u;
      const float m = unit_float(mix64(base + u)) < rate_ ? 0.0f : keep_scale;
      mask_[k] = m;
      y[k] = x[k] * m;
    }
  }
}

void Dropout::backward(const Tensor& x, const Tensor& /*y*/, Tensor& dy, Tensor* dx) {
  if (!dx) return;
  const std::size_t total = x.numel();
  if (!training_) {
    for (std::size_t i = 0; i < total; ++i) (*dx)[i] = dy[i];
    return;
  }
  for (std::size_t i = 0; i < total; ++i) (*dx)[i] = dy[i] * mask_[i];
}

}  // namespace fmnist
