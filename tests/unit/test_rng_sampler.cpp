// Tests of the epoch permutation (core/rng.h) and the rank sharding of a global batch
// (data/sampler.h): permutation properties, determinism, and that shards partition the batch.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <vector>

#include "fmnist/core/rng.h"
#include "fmnist/data/sampler.h"

namespace fmnist {
namespace {

bool is_permutation_of_range(const std::vector<std::int32_t>& p, std::int32_t count) {
  if (static_cast<std::int32_t>(p.size()) != count) return false;
  std::vector<char> seen(static_cast<std::size_t>(count), 0);
  for (std::int32_t v : p) {
    if (v < 0 || v >= count || seen[static_cast<std::size_t>(v)]) return false;
    seen[static_cast<std::size_t>(v)] = 1;
  }
  return true;
}

TEST(EpochPermutation, IsAPermutation) {
  for (std::int32_t count : {0, 1, 2, 3, 10, 97, 1000, 60000}) {
    const auto p = epoch_permutation(42, 0, count);
    EXPECT_TRUE(is_permutation_of_range(p, count)) << "count " << count;
  }
}

TEST(EpochPermutation, DeterministicPerSeedAndEpoch) {
  const std::int32_t count = 5000;
  const auto a = epoch_permutation(7, 3, count);
  EXPECT_EQ(a, epoch_permutation(7, 3, count));
  EXPECT_NE(a, epoch_permutation(7, 4, count));
  EXPECT_NE(a, epoch_permutation(8, 3, count));
  EXPECT_NE(epoch_permutation(7, 0, count), epoch_permutation(7, 1, count));
  // Not the identity, and well mixed: few fixed points (about 1 expected for a random one).
  std::vector<std::int32_t> identity(count);
  std::iota(identity.begin(), identity.end(), 0);
  EXPECT_NE(a, identity);
  int fixed = 0;
  for (std::int32_t i = 0; i < count; ++i) fixed += a[i] == i;
  EXPECT_LT(fixed, 10);
  // Different epochs share only a chance fraction of positions.
  const auto b = epoch_permutation(7, 4, count);
  int same = 0;
  for (std::int32_t i = 0; i < count; ++i) same += a[i] == b[i];
  EXPECT_LT(same, 10);
}

TEST(EpochPermutation, FirstPositionRoughlyUniform) {
  // Over many epochs, where element 0 lands is spread over all of [0, 8).
  std::vector<int> hits(8, 0);
  for (std::int64_t epoch = 0; epoch < 4000; ++epoch) {
    const auto p = epoch_permutation(1, epoch, 8);
    ++hits[static_cast<std::size_t>(std::find(p.begin(), p.end(), 0) - p.begin())];
  }
  for (int h : hits) EXPECT_NEAR(h, 500, 100);
}

TEST(RngBelow, StaysInRange) {
  Rng rng(3);
  for (std::uint64_t bound : {1ull, 2ull, 3ull, 7ull, 1000ull, 1ull << 40})
    for (int i = 0; i < 1000; ++i) ASSERT_LT(rng.below(bound), bound);
}

TEST(Sampler, ShardsPartitionTheBatch) {
  for (int batch = 0; batch <= 70; ++batch)
    for (int world = 1; world <= 9; ++world) {
      int expected_begin = 0, smallest = batch + 1, largest = -1;
      for (int rank = 0; rank < world; ++rank) {
        const Shard s = shard_of(batch, world, rank);
        // Contiguous and in rank order: each share starts where the previous ended.
        ASSERT_EQ(s.begin, expected_begin) << "batch " << batch << " world " << world << " rank " << rank;
        ASSERT_LE(s.begin, s.end);
        ASSERT_EQ(s.size(), s.end - s.begin);
        expected_begin = s.end;
        smallest = std::min(smallest, s.size());
        largest = std::max(largest, s.size());
        ASSERT_LE(s.size(), max_shard(batch, world));
      }
      ASSERT_EQ(expected_begin, batch) << "batch " << batch << " world " << world;  // covers [0, batch)
      ASSERT_LE(largest - smallest, 1) << "batch " << batch << " world " << world;
      ASSERT_EQ(largest, max_shard(batch, world)) << "batch " << batch << " world " << world;
    }
  // Large global batches do not overflow.
  const Shard last = shard_of(2000000000, 7, 6);
  EXPECT_EQ(last.end, 2000000000);
}

TEST(Sampler, StepsPerEpochRoundsUp) {
  EXPECT_EQ(steps_per_epoch(60000, 32), 1875);
  EXPECT_EQ(steps_per_epoch(55000, 64), 860);  // 859.375
  EXPECT_EQ(steps_per_epoch(1, 32), 1);
  EXPECT_EQ(steps_per_epoch(0, 32), 0);
  for (std::int64_t samples = 1; samples < 300; ++samples)
    for (std::int64_t batch = 1; batch < 40; ++batch) {
      const std::int64_t steps = steps_per_epoch(samples, batch);
      ASSERT_GE(steps * batch, samples);
      ASSERT_LT((steps - 1) * batch, samples);
    }
}

}  // namespace
}  // namespace fmnist
