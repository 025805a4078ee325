// Global-batch sampling that does not depend on the number of ranks: one permutation per
// epoch from (seed, epoch); step s takes positions [s*B, (s+1)*B) of it; rank r takes a
// contiguous floor/ceil share of those.
#pragma once

#include <cstdint>

namespace fmnist {

/// Positions [begin, end) of a global batch owned by one rank.
struct Shard {
  int begin = 0, end = 0;
  int size() const { return end - begin; }
};

/// Rank `rank`'s share of a batch of `batch` samples over `world` ranks: shares differ by at
/// most one sample, are disjoint and cover [0, batch) in rank order.
inline Shard shard_of(int batch, int world, int rank) {
  const auto b = static_cast<std::int64_t>(batch);
  return Shard{static_cast<int>(b * rank / world), static_cast<int>(b * (rank + 1) / world)};
}

/// Optimizer steps in an epoch of `samples` with global batch `batch`: the last, partial
/// batch is trained (Keras' behaviour), so this rounds up.
inline std::int64_t steps_per_epoch(std::int64_t samples, std::int64_t batch) {
  return (samples + batch - 1) / batch;
}

/// The largest share any rank gets of a `batch`-sample batch.
inline int max_shard(int batch, int world) { return (batch + world - 1) / world; }

}  // namespace fmnist
