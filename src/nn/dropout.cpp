// Dropout masks are a pure function of (seed, epoch, layer stream, global sample index,
// unit), so a sample gets the same mask whichever rank computes it.
#include "fmnist/nn/dropout.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "fmnist/core/error.h"
#include "fmnist/core/rng.h"

namespace fmnist {

std::string Dropout::spec() const {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "drop%g", static_cast<double>(rate_));
  return buffer;
}

namespace {

// Units per block of draws: 1 KiB of 32-bit draws stays in L1 between the two passes.
constexpr std::size_t kDrawBlock = 256;

// Draws for units u0..u0+count-1 of one sample, four 16-bit draws per 64-bit hash: unit u takes
// bits 16*(u%4).. of mix64(base + u/4). `u0` is a multiple of 4.
inline void fill_draws(std::uint64_t base, std::size_t u0, std::size_t count, std::uint32_t* draws) {
  for (std::size_t q = 0; 4 * q < count; ++q) {
    const std::uint64_t bits = mix64(base + u0 / 4 + q);
    for (int j = 0; j < 4; ++j) draws[4 * q + j] = static_cast<std::uint32_t>((bits >> (16 * j)) & 0xFFFFu);
  }
}

// mask = keep_scale where draw >= threshold, else 0; out = in * mask. Selected with integer AND,
// never a branch (the compiler turned `float(draw >= t) * scale` into one, mispredicted half
// the time at rate 0.5), so the loop vectorises.
inline void keep_or_drop(const std::uint32_t* __restrict draws, std::size_t count, std::uint32_t threshold,
                         std::uint32_t scale_bits, const float* __restrict in, float* __restrict mask,
                         float* __restrict out) {
  for (std::size_t j = 0; j < count; ++j) {
    const std::uint32_t keep = 0u - static_cast<std::uint32_t>(draws[j] >= threshold);
    const std::uint32_t m_bits = keep & scale_bits;
    float m;
    std::memcpy(&m, &m_bits, sizeof(m));
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
  std::uint32_t scale_bits;
  std::memcpy(&scale_bits, &keep_scale, sizeof(scale_bits));
  alignas(64) std::uint32_t draws[kDrawBlock];
  for (int i = 0; i < x.shape().n; ++i) {
    const std::uint64_t base = hash_of({ctx.seed, static_cast<std::uint64_t>(ctx.epoch), stream_,
                                        static_cast<std::uint64_t>(ctx.sample_ids[i])});
    const std::size_t offset = static_cast<std::size_t>(i) * per_sample;
    for (std::size_t u0 = 0; u0 < per_sample; u0 += kDrawBlock) {
      const std::size_t count = std::min(kDrawBlock, per_sample - u0);
      fill_draws(base, u0, count, draws);
      keep_or_drop(draws, count, threshold, scale_bits, x.data() + offset + u0, mask_.data() + offset + u0,
                   y.data() + offset + u0);
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
