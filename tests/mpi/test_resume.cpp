// Resume exactness, under mpiexec at 1, 2 and 4 ranks: training straight through equals
// training to a checkpoint, writing it to disk, reading it back and training on, bit for
// bit at the same number of ranks and to float tolerance when one process resumes a run of
// N ranks.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>

#include <unistd.h>

#include "fmnist/core/error.h"
#include "fmnist/dist/communicator.h"
#include "fmnist/io/checkpoint_file.h"
#include "fmnist/train/checkpointing.h"
#include "fmnist/train/trainer.h"
#include "support/synthetic_data.h"

namespace fmnist {
namespace {

TrainConfig resume_config() {
  TrainConfig c;
  // BN first: moving statistics in the state, and no bias feeding a BN (whose zero gradient
  // Adam would turn into noise-driven steps; see test_data_parallel.cpp).
  c.model = "bn-conv4x3same-pool2-flatten-dense16-drop0.3-dense10";
  c.batch_size = 24;  // 200 samples: 9 steps per epoch, the last one of 8 samples
  c.epochs = 3;
  c.seed = 11;
  c.checkpoint_every = 5;
  c.bucket_mb = 0.005;
  return c;
}

/// A folder every rank agrees on (rank 0 names it).
std::string shared_temp_dir(Communicator& comm) {
  std::string dir;
  if (comm.rank() == 0) {
    dir = (std::filesystem::temp_directory_path() / ("fmnist_resume_" + std::to_string(::getpid()))).string();
    std::filesystem::create_directories(dir);
  }
  comm.broadcast(dir, 0);
  return dir;
}

/// Trains straight through; rank 0 writes a checkpoint file when global step `at` is saved.
std::unique_ptr<Trainer> train_straight(Communicator& comm, const DataSplits& data, std::int64_t at,
                                        const std::string& file) {
  auto trainer = std::make_unique<Trainer>(resume_config(), data, comm, nullptr);
  trainer->initialize_parameters();
  Trainer& t = *trainer;
  trainer->fit([&] {
    if (t.position().global_step == at && comm.rank() == 0) write_checkpoint(file, capture_checkpoint(t));
  });
  comm.barrier();
  return trainer;
}

/// Resumes from `file` as the app does: rank 0 reads and restores, then broadcasts.
std::unique_ptr<Trainer> train_resumed(Communicator& comm, const DataSplits& data, const std::string& file) {
  auto trainer = std::make_unique<Trainer>(resume_config(), data, comm, nullptr);
  if (comm.rank() == 0) restore_checkpoint(*trainer, read_checkpoint(file), file);
  trainer->broadcast_state(0);
  trainer->fit();
  return trainer;
}

class ResumeAt : public ::testing::TestWithParam<std::int64_t> {};

TEST_P(ResumeAt, SameRanksIsBitwiseExact) {
  Communicator world;
  const DataSplits data = testing::synthetic_splits(200, 40, 0);
  const std::string file = shared_temp_dir(world) + "/ckpt.h5";
  auto straight = train_straight(world, data, GetParam(), file);
  auto resumed = train_resumed(world, data, file);

  const ParamArena& a = straight->model().params();
  const ParamArena& b = resumed->model().params();
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(0, std::memcmp(a.values(), b.values(), sizeof(float) * a.size())) << "parameters differ";
  const ParamArena& sa = straight->model().non_trainable();
  const ParamArena& sb = resumed->model().non_trainable();
  ASSERT_GT(sa.size(), 0u);
  EXPECT_EQ(0, std::memcmp(sa.values(), sb.values(), sizeof(float) * sa.size())) << "moving statistics differ";
  EXPECT_EQ(straight->position().global_step, resumed->position().global_step);
  if (world.rank() != 0) return;  // only rank 0 keeps (and writes) the history
  const History& ha = straight->history();
  const History& hb = resumed->history();
  ASSERT_EQ(ha.rows(), 3u);
  ASSERT_EQ(hb.rows(), 3u);
  for (const char* key : {"loss", "accuracy", "val_loss", "val_accuracy", "lr"})
    for (std::size_t e = 0; e < 3; ++e)
      EXPECT_EQ(ha.column(key)[e], hb.column(key)[e]) << key << " epoch " << e + 1;  // bit for bit
  std::filesystem::remove_all(std::filesystem::path(file).parent_path());
}

// Step 9 is an epoch boundary; step 10 and 15 are inside epochs 2 (checkpoint_every = 5).
INSTANTIATE_TEST_SUITE_P(Steps, ResumeAt, ::testing::Values(9, 10, 15));

// --max-steps inside an epoch leaves a checkpoint, and going on from it equals never stopping.
TEST(Resume, MaxStepsInsideAnEpochLeavesACheckpointToGoOnFrom) {
  Communicator world;
  const DataSplits data = testing::synthetic_splits(200, 40, 0);
  const std::string file = shared_temp_dir(world) + "/ckpt.h5";
  TrainConfig limited = resume_config();
  limited.max_steps = 12;  // inside epoch 2 (9 steps per epoch), not a multiple of checkpoint_every
  Trainer stopped(limited, data, world, nullptr);
  stopped.initialize_parameters();
  std::int64_t last_checkpoint_step = -1;
  const FitOutcome outcome = stopped.fit([&] {
    last_checkpoint_step = stopped.position().global_step;
    if (world.rank() == 0) write_checkpoint(file, capture_checkpoint(stopped));
  });
  world.barrier();
  EXPECT_EQ(outcome, FitOutcome::kMaxSteps);
  EXPECT_EQ(last_checkpoint_step, 12);

  auto resumed = train_resumed(world, data, file);  // resume_config(): no step limit
  auto straight = std::make_unique<Trainer>(resume_config(), data, world, nullptr);
  straight->initialize_parameters();
  straight->fit();
  const ParamArena& a = straight->model().params();
  const ParamArena& b = resumed->model().params();
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(0, std::memcmp(a.values(), b.values(), sizeof(float) * a.size())) << "parameters differ";
  world.barrier();
  if (world.rank() == 0) std::filesystem::remove_all(std::filesystem::path(file).parent_path());
}

TEST(Resume, OneProcessContinuesAnNRankRunWithinTolerance) {
  Communicator world;
  Communicator self(CommScope::kSelf);
  const DataSplits data = testing::synthetic_splits(200, 40, 0);
  const std::string file = shared_temp_dir(world) + "/ckpt.h5";
  auto straight = train_straight(world, data, 10, file);
  auto resumed = train_resumed(self, data, file);  // every rank resumes alone
  const ParamArena& a = straight->model().params();
  const ParamArena& b = resumed->model().params();
  double diff = 0.0, scale = 1e-30;
  for (std::size_t i = 0; i < a.size(); ++i) {
    diff = std::max(diff, std::fabs(static_cast<double>(a.values()[i]) - b.values()[i]));
    scale = std::max(scale, std::fabs(static_cast<double>(a.values()[i])));
  }
  if (world.rank() == 0)
    std::printf("[ resume np=%d -> 1 ] largest parameter difference: %.3g (relative)\n", world.size(), diff / scale);
  EXPECT_LT(diff / scale, 1e-5);
  world.barrier();
  if (world.rank() == 0) std::filesystem::remove_all(std::filesystem::path(file).parent_path());
}

// Augmentation, reduce-on-plateau, EarlyStopping with restore_best_weights and a best
// checkpoint, resumed from a mid-epoch checkpoint at the same np: parameters, moving
// statistics, callback state, best weights, the history and the last best checkpoint all
// equal the straight run's bit for bit. Monitoring val_loss with mode max makes every later
// epoch a non-improvement, so the plateau reduces and EarlyStopping stops within the run.
TrainConfig callbacks_config() {
  TrainConfig c = resume_config();
  c.epochs = 6;
  c.augment = parse_augment("flip,shift2,erase");
  c.label_smoothing = 0.1f;
  c.schedule.kind = ScheduleKind::kPlateau;
  c.schedule.plateau_monitor = Monitor{"val_loss", MonitorMode::kMax, 0.0};
  c.schedule.plateau_patience = 1;
  c.schedule.plateau_factor = 0.5;
  c.early_stopping.enabled = true;
  c.early_stopping.monitor = Monitor{"val_loss", MonitorMode::kMax, 0.0};
  c.early_stopping.patience = 3;
  c.early_stopping.restore_best_weights = true;
  c.best_checkpoint = true;
  c.best_checkpoint_monitor = Monitor{"val_accuracy", MonitorMode::kAuto, 0.0};
  return c;
}

/// Every checkpointed array and number of `s` but the wall-clock ones, as float arrays. The
/// history only with `with_history` (a resumed run keeps it on rank 0, the one that writes it).
std::vector<NamedArray> comparable(const CheckpointState& s, bool with_history) {
  std::vector<NamedArray> out = s.model;
  out.insert(out.end(), s.optimizer.begin(), s.optimizer.end());
  for (const NamedArray& a : s.best_weights) out.push_back({"best_weights/" + a.path, a.shape, a.values});
  for (const auto& [key, value] : s.callbacks) out.push_back({"callbacks/" + key, {1}, {static_cast<float>(value)}});
  for (std::size_t k = 0; with_history && k < s.history.keys.size(); ++k) {
    if (s.history.keys[k] == "epoch_seconds" || s.history.keys[k] == "samples_per_second") continue;
    std::vector<float> values(s.history.columns[k].begin(), s.history.columns[k].end());
    out.push_back({"history/" + s.history.keys[k], {values.size()}, values});
  }
  out.push_back({"position", {3}, {static_cast<float>(s.epoch), static_cast<float>(s.step_in_epoch),
                                   static_cast<float>(s.global_step)}});
  return out;
}

void expect_same(const CheckpointState& a, const CheckpointState& b, const char* what, bool with_history) {
  const std::vector<NamedArray> x = comparable(a, with_history), y = comparable(b, with_history);
  ASSERT_EQ(x.size(), y.size()) << what;
  for (std::size_t i = 0; i < x.size(); ++i) {
    EXPECT_EQ(x[i].path, y[i].path) << what;
    EXPECT_EQ(0, std::memcmp(x[i].values.data(), y[i].values.data(), sizeof(float) * x[i].values.size()))
        << what << ": " << x[i].path << " differs";
  }
  EXPECT_EQ(a.callbacks, b.callbacks) << what;  // the doubles themselves, not only as floats
}

TEST(Resume, CallbacksAndScheduleResumeBitwiseFromMidEpoch) {
  Communicator world;
  const DataSplits data = testing::synthetic_splits(200, 40, 0);
  const std::string file = shared_temp_dir(world) + "/ckpt.h5";
  const std::int64_t at = 15;  // inside epoch 2 (9 steps per epoch)

  Trainer straight(callbacks_config(), data, world, nullptr);
  straight.initialize_parameters();
  CheckpointState straight_best;
  straight.fit([&] {
    if (straight.position().global_step == at && world.rank() == 0) write_checkpoint(file, capture_checkpoint(straight));
  }, [&] { straight_best = capture_checkpoint(straight); });
  world.barrier();
  ASSERT_TRUE(straight.early_stopped()) << "the test should exercise EarlyStopping";
  ASSERT_LT(straight.position().epoch, 6);
  ASSERT_FALSE(straight.best_weights().empty());
  const std::vector<double>& lr = straight.history().column("lr");
  ASSERT_LT(lr.back(), lr.front()) << "the test should exercise the plateau";

  Trainer resumed(callbacks_config(), data, world, nullptr);
  if (world.rank() == 0) restore_checkpoint(resumed, read_checkpoint(file), file);
  resumed.broadcast_state(0);
  CheckpointState resumed_best;
  bool resumed_saved_best = false;
  resumed.fit({}, [&] {
    resumed_best = capture_checkpoint(resumed);
    resumed_saved_best = true;
  });
  EXPECT_TRUE(resumed.early_stopped());
  const bool root = world.rank() == 0;
  expect_same(capture_checkpoint(straight), capture_checkpoint(resumed), "final state", root);
  if (resumed_saved_best && straight_best.global_step > at)
    expect_same(straight_best, resumed_best, "best checkpoint", root);
  // A run EarlyStopping ended does not train again when resumed.
  const std::int64_t steps = resumed.position().global_step;
  EXPECT_EQ(resumed.fit(), FitOutcome::kCompleted);
  EXPECT_EQ(resumed.position().global_step, steps);
  world.barrier();
  if (world.rank() == 0) std::filesystem::remove_all(std::filesystem::path(file).parent_path());
}

TEST(Resume, MismatchedCheckpointIsRejectedAndNothingLoaded) {
  Communicator self(CommScope::kSelf);
  const DataSplits data = testing::synthetic_splits(48, 0, 0);
  TrainConfig other = resume_config();
  other.model = "flatten-dense8-dense10";
  Trainer source(other, data, self, nullptr);
  source.initialize_parameters();
  const CheckpointState state = capture_checkpoint(source);

  Trainer target(resume_config(), data, self, nullptr);
  target.initialize_parameters();
  const std::vector<float> before(target.model().params().values(),
                                  target.model().params().values() + target.model().params().size());
  try {
    restore_checkpoint(target, state, "other.h5");
    FAIL() << "a checkpoint of another model was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("other.h5"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("flatten-dense8-dense10"), std::string::npos) << e.what();
  }
  EXPECT_EQ(0, std::memcmp(before.data(), target.model().params().values(), sizeof(float) * before.size()));

  TrainConfig batch = resume_config();
  batch.batch_size = 32;
  Trainer different_batch(batch, data, self, nullptr);
  Trainer same_model(resume_config(), data, self, nullptr);
  same_model.initialize_parameters();
  EXPECT_THROW(restore_checkpoint(different_batch, capture_checkpoint(same_model), "b.h5"), Error);

  // An option that changes the training (here the augmentation) must match too.
  TrainConfig augmented = resume_config();
  augmented.augment = parse_augment("flip");
  Trainer different_augment(augmented, data, self, nullptr);
  try {
    restore_checkpoint(different_augment, capture_checkpoint(same_model), "c.h5");
    FAIL() << "a checkpoint without augmentation was accepted by an augmented run";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--augment"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace fmnist
