// Dropout masks are a pure function of (seed, epoch, layer stream, global sample index,
// unit), so a sample gets the same mask whichever rank computes it.
#include "fmnist/nn/dropout.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "fmnist/core/error.h"
#include "fmnist/core/rng.h"

namespace fmnist {

std::string Dropout::spec() const {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "drop%g", static_cast<double>(rate_));
  return buffer;
}

namespace {

// Units u..u+N-1 from the N 16-bit draws in `bits` (lowest first); N is fixed so the shifts
// are constants and the loop unrolls.
template <int N>
inline void keep_or_drop(std::uint64_t bits, std::uint32_t threshold, float keep_scale,
                         const float* __restrict in, float* __restrict mask, float* __restrict out) {
  for (int j = 0; j < N; ++j) {
    const auto draw = static_cast<std::uint32_t>((bits >> (16 * j)) & 0xFFFFu);
    // Arithmetic, not a branch: at rate 0.5 a branch is mispredicted half the time.
    const float m = static_cast<float>(draw >= threshold) * keep_scale;
    mask[j] = m;
    out[j] = in[j] * m;
  }
}

}  // namespace

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
  // Each 64-bit hash gives four 16-bit draws; a unit is dropped when its draw < rate * 2^16,
  // so the rate is applied to 1/65536. One hash per unit cost ~7 ns per unit, which made
  // Dropout as slow as a convolution in cnn-deep.
  const auto threshold = static_cast<std::uint32_t>(std::lround(static_cast<double>(rate_) * 65536.0));
  const std::size_t per_sample = x.shape().per_sample();
  for (int i = 0; i < x.shape().n; ++i) {
    const std::uint64_t base = hash_of({ctx.seed, static_cast<std::uint64_t>(ctx.epoch), stream_,
                                        static_cast<std::uint64_t>(ctx.sample_ids[i])});
    const float* __restrict in = x.data() + i * per_sample;
    float* __restrict out = y.data() + i * per_sample;
    float* __restrict mask = mask_.data() + i * per_sample;
    for (std::size_t u0 = 0; u0 < per_sample; u0 += 4) {
      const std::uint64_t bits = mix64(base + u0 / 4);
      if (u0 + 4 <= per_sample) {
        keep_or_drop<4>(bits, threshold, keep_scale, in + u0, mask + u0, out + u0);
      } else {
        for (std::size_t j = 0; u0 + j < per_sample; ++j)
          keep_or_drop<1>(bits >> (16 * j), threshold, keep_scale, in + u0 + j, mask + u0 + j, out + u0 + j);
      }
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
