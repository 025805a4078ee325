// Counter-based randomness: bounded integers and per-epoch permutations.
#include "fmnist/core/rng.h"

#include <numeric>

namespace fmnist {

std::uint64_t Rng::below(std::uint64_t bound) {
  // Lemire (2019), "Fast random integer generation in an interval".
  __uint128_t product = static_cast<__uint128_t>(next()) * bound;
  std::uint64_t low = static_cast<std::uint64_t>(product);
  if (low < bound) {
    const std::uint64_t threshold = (0 - bound) % bound;
    while (low < threshold) {
      product = static_cast<__uint128_t>(next()) * bound;
      low = static_cast<std::uint64_t>(product);
    }
  }
  return static_cast<std::uint64_t>(product >> 64);
}

std::vector<std::int32_t> epoch_permutation(std::uint64_t seed, std::int64_t epoch,
                                            std::int32_t count) {
  std::vector<std::int32_t> order(static_cast<std::size_t>(count));
  std::iota(order.begin(), order.end(), 0);
  Rng rng(hash_of({seed, static_cast<std::uint64_t>(epoch), 0x5348554646ull /* "SHUFF" */}));
  for (std::int32_t i = count - 1; i > 0; --i) {
    const auto j = static_cast<std::int32_t>(rng.below(static_cast<std::uint64_t>(i) + 1));
    std::swap(order[i], order[j]);
  }
  return order;
}

}  // namespace fmnist
