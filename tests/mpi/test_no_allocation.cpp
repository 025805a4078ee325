// The training step allocates nothing once warmed up: every buffer is sized at setup.
// Counts C++ heap allocations (global operator new) across steady-state steps of every
// layer type, under mpiexec at 1, 2 and 4 ranks (MPI's own C allocations are not counted).
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "fmnist/core/rng.h"
#include "fmnist/dist/communicator.h"
#include "fmnist/train/trainer.h"
#include "support/synthetic_data.h"

namespace {
std::atomic<long> g_allocations{0};
}  // namespace

void* operator new(std::size_t size) {
  ++g_allocations;
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace fmnist {
namespace {

class NoAllocation : public ::testing::TestWithParam<const char*> {};

TEST_P(NoAllocation, SteadyStateStepsAllocateNothing) {
  Communicator world;
  TrainConfig config;
  config.model = GetParam();
  config.batch_size = 30;  // uneven shards at 4 ranks
  config.bucket_mb = 0.01;
  Trainer trainer(config, testing::synthetic_splits(300, 0, 0), world, nullptr);
  trainer.initialize_parameters();
  const std::vector<std::int32_t> order = epoch_permutation(config.seed, 0, 300);
  bool stop = false;
  trainer.train_step(order.data(), 30, &stop);  // the first step may allocate
  const long before = g_allocations.load();
  for (int step = 1; step < 6; ++step) trainer.train_step(order.data() + step * 30, 30, &stop);
  trainer.train_step(order.data() + 270, 20, &stop);  // a smaller last batch reuses the buffers
  EXPECT_EQ(g_allocations.load() - before, 0) << "allocations in 6 training steps of " << GetParam();
}

// Augmentation, a schedule and label smoothing add no allocation to the step.
TEST(NoAllocationAugmented, SteadyStateStepsAllocateNothing) {
  Communicator world;
  TrainConfig config;
  config.model = "conv4x3samelinear-bn-relu-pool2-flatten-dense16-dense10";
  config.batch_size = 30;
  config.bucket_mb = 0.01;
  config.augment = parse_augment("flip,shift2,erase");
  config.schedule.kind = ScheduleKind::kCosine;
  config.schedule.warmup_steps = 3;
  config.label_smoothing = 0.1f;
  Trainer trainer(config, testing::synthetic_splits(300, 0, 0), world, nullptr);
  trainer.initialize_parameters();
  const std::vector<std::int32_t> order = epoch_permutation(config.seed, 0, 300);
  bool stop = false;
  trainer.train_step(order.data(), 30, &stop);
  const long before = g_allocations.load();
  for (int step = 1; step < 6; ++step) trainer.train_step(order.data() + step * 30, 30, &stop);
  trainer.train_step(order.data() + 270, 20, &stop);
  EXPECT_EQ(g_allocations.load() - before, 0) << "allocations in 6 augmented training steps";
}

INSTANTIATE_TEST_SUITE_P(Models, NoAllocation,
                         ::testing::Values("conv4x3same-pool2-conv8x3-flatten-dense16-drop0.3-dense10",
                                           "conv4x3s2same-relu-gap-dense10", "flatten-dense32-dense10",
                                           "conv4x3samelinear-bn-relu-pool2-flatten-dense16-bn-dense10"));

}  // namespace
}  // namespace fmnist
