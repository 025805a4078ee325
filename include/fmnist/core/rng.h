// Counter-based random numbers: every random draw is a pure function of (seed, stream,
// counter), so shuffling and dropout do not depend on the number of ranks or on how far a
// resumed run has got. No RNG object carries hidden state between steps.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <vector>

namespace fmnist {

/// SplitMix64 finaliser: a bijective 64-bit mix (Steele et al., "Fast splittable PRNGs").
inline std::uint64_t mix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

/// Hash of a tuple of integers, e.g. hash_of({seed, epoch, sample}).
inline std::uint64_t hash_of(std::initializer_list<std::uint64_t> keys) {
  std::uint64_t h = 0x6A09E667F3BCC909ull;
  for (std::uint64_t k : keys) h = mix64(h ^ mix64(k));
  return h;
}

/// Uniform float in [0, 1) from 24 random bits.
inline float unit_float(std::uint64_t bits) {
  return static_cast<float>(bits >> 40) * (1.0f / 16777216.0f);
}

/// A small sequential generator (SplitMix64 stream) for initialisation and permutations.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    state_ += 0x9E3779B97F4A7C15ull;
    return mix64(state_);
  }
  float uniform(float lo, float hi) { return lo + (hi - lo) * unit_float(next()); }
  /// Uniform integer in [0, bound), without modulo bias (Lemire's multiply-shift + rejection).
  std::uint64_t below(std::uint64_t bound);

 private:
  std::uint64_t state_;
};

/// The permutation of [0, count) for one epoch: Fisher-Yates driven by Rng(hash(seed, epoch)).
std::vector<std::int32_t> epoch_permutation(std::uint64_t seed, std::int64_t epoch, std::int32_t count);

}  // namespace fmnist
