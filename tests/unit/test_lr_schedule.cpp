// Learning-rate schedules and callbacks (train/lr_schedule.h, train/early_stopping.h,
// train/monitor.h) against Keras' closed forms and hand-traced epoch sequences.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "fmnist/core/error.h"
#include "fmnist/train/early_stopping.h"
#include "fmnist/train/lr_schedule.h"

namespace fmnist {
namespace {

// keras.optimizers.schedules.CosineDecay(initial, decay_steps, alpha, warmup_target, warmup_steps)
// as written in its docstring.
double keras_cosine(double initial, double decay_steps, double alpha, double warmup_target, double warmup_steps,
                    double step) {
  if (step < warmup_steps) return initial + (warmup_target - initial) * step / warmup_steps;
  const double s = std::min(step, decay_steps + warmup_steps) - warmup_steps;
  return warmup_target * ((1 - alpha) * 0.5 * (1 + std::cos(M_PI * s / decay_steps)) + alpha);
}

TEST(LrSchedule, CosineWithWarmupIsKerasCosineDecay) {
  LrScheduleOptions o;
  o.kind = ScheduleKind::kCosine;
  o.warmup_steps = 100;
  o.warmup_start_lr = 1e-4;
  o.decay_steps = 900;
  o.alpha = 0.05;
  for (std::int64_t step : {0, 1, 50, 99, 100, 101, 400, 550, 999, 1000, 1001, 5000})
    EXPECT_NEAR(scheduled_learning_rate(o, 2e-3, step), keras_cosine(1e-4, 900, 0.05, 2e-3, 100, step), 1e-15)
        << "step " << step;
  // Anchors: the start, the peak, half-way down the cosine, the floor.
  EXPECT_DOUBLE_EQ(scheduled_learning_rate(o, 2e-3, 0), 1e-4);
  EXPECT_DOUBLE_EQ(scheduled_learning_rate(o, 2e-3, 100), 2e-3);
  EXPECT_NEAR(scheduled_learning_rate(o, 2e-3, 550), 2e-3 * (0.95 * 0.5 + 0.05), 1e-15);
  EXPECT_NEAR(scheduled_learning_rate(o, 2e-3, 2000), 2e-3 * 0.05, 1e-15);
  // Without warm-up: CosineDecay(initial_learning_rate=base).
  o.warmup_steps = 0;
  o.alpha = 0.0;
  EXPECT_DOUBLE_EQ(scheduled_learning_rate(o, 1e-3, 0), 1e-3);
  EXPECT_NEAR(scheduled_learning_rate(o, 1e-3, 300), 1e-3 * 0.5 * (1 + std::cos(M_PI / 3)), 1e-15);
}

TEST(LrSchedule, ExponentialDecayWithAndWithoutStaircase) {
  LrScheduleOptions o;
  o.kind = ScheduleKind::kExponential;
  o.decay_steps = 1000;
  o.decay_rate = 0.5;
  EXPECT_DOUBLE_EQ(scheduled_learning_rate(o, 1e-2, 0), 1e-2);
  EXPECT_NEAR(scheduled_learning_rate(o, 1e-2, 500), 1e-2 / std::sqrt(2.0), 1e-15);
  EXPECT_NEAR(scheduled_learning_rate(o, 1e-2, 2000), 2.5e-3, 1e-15);
  o.staircase = true;  // step decay: halves at 1000, 2000, ...
  EXPECT_DOUBLE_EQ(scheduled_learning_rate(o, 1e-2, 999), 1e-2);
  EXPECT_DOUBLE_EQ(scheduled_learning_rate(o, 1e-2, 1000), 5e-3);
  EXPECT_DOUBLE_EQ(scheduled_learning_rate(o, 1e-2, 2999), 2.5e-3);
}

TEST(LrSchedule, PiecewiseConstantUsesKerasBoundaries) {
  // keras.optimizers.schedules.PiecewiseConstantDecay([100, 200], [1.0, 0.5, 0.1]):
  // 1.0 for step <= 100, 0.5 for 100 < step <= 200, 0.1 after.
  LrScheduleOptions o;
  o.kind = ScheduleKind::kPiecewise;
  o.boundaries = {100, 200};
  o.values = {1.0, 0.5, 0.1};
  const std::vector<std::pair<std::int64_t, double>> expected = {{0, 1.0},   {100, 1.0}, {101, 0.5},
                                                                 {200, 0.5}, {201, 0.1}, {10000, 0.1}};
  for (const auto& [step, lr] : expected) EXPECT_DOUBLE_EQ(scheduled_learning_rate(o, 7.0, step), lr) << step;
  o.kind = ScheduleKind::kConstant;
  EXPECT_DOUBLE_EQ(scheduled_learning_rate(o, 7.0, 12345), 7.0);
}

LrScheduleOptions plateau_options() {
  LrScheduleOptions o;
  o.kind = ScheduleKind::kPlateau;
  o.plateau_monitor = Monitor{"val_loss", MonitorMode::kAuto, 0.01};
  o.plateau_factor = 0.5;
  o.plateau_patience = 2;
  o.plateau_cooldown = 1;
  o.plateau_min_lr = 0.1;
  return o;
}

// Traced by hand through keras.callbacks.ReduceLROnPlateau.on_epoch_end (min mode, min_delta
// 0.01, patience 2, cooldown 1, factor 0.5, min_lr 0.1).
TEST(LrSchedule, ReduceOnPlateauFollowsKerasEpochByEpoch) {
  const std::vector<double> metric = {1.0, 0.995, 0.99, 0.98, 0.98, 0.98, 0.98, 0.98, 0.98, 0.98, 0.98, 0.98, 0.98};
  const std::vector<double> lr_after = {1, 1, 0.5, 0.5, 0.5, 0.25, 0.25, 0.125, 0.125, 0.1, 0.1, 0.1, 0.1};
  ReduceLrOnPlateau plateau(plateau_options(), 1.0);
  for (std::size_t e = 0; e < metric.size(); ++e) {
    plateau.on_epoch_end(metric[e]);
    EXPECT_DOUBLE_EQ(plateau.learning_rate(), lr_after[e]) << "after epoch " << e;
  }
}

TEST(LrSchedule, ReduceOnPlateauStateRoundTripsMidway) {
  const std::vector<double> metric = {1.0, 0.995, 0.99, 0.98, 0.98, 0.98, 0.98, 0.98};
  ReduceLrOnPlateau straight(plateau_options(), 1.0), first(plateau_options(), 1.0), second(plateau_options(), 1.0);
  for (std::size_t e = 0; e < metric.size(); ++e) straight.on_epoch_end(metric[e]);
  for (std::size_t e = 0; e < 4; ++e) first.on_epoch_end(metric[e]);
  std::map<std::string, double> saved;
  first.save(saved);
  second.load(saved, "test");
  for (std::size_t e = 4; e < metric.size(); ++e) second.on_epoch_end(metric[e]);
  EXPECT_EQ(second.learning_rate(), straight.learning_rate());
  EXPECT_THROW(second.load({}, "test"), Error);
}

TEST(Monitor, AutoModeAndMinDelta) {
  Monitor loss{"val_loss", MonitorMode::kAuto, 0.1};
  Monitor accuracy{"val_accuracy", MonitorMode::kAuto, 0.1};
  EXPECT_FALSE(loss.maximizes());
  EXPECT_TRUE(accuracy.maximizes());
  EXPECT_TRUE(loss.improves(0.89, 1.0));
  EXPECT_FALSE(loss.improves(0.9, 1.0));
  EXPECT_TRUE(accuracy.improves(1.11, 1.0));
  EXPECT_FALSE(accuracy.improves(1.1, 1.0));
  EXPECT_TRUE(Monitor({"val_loss", MonitorMode::kMax, 0.0}).improves(2.0, 1.0));
  EXPECT_THROW(check_monitored_metric("early-stopping-monitor", "val_acc", true), Error);
  EXPECT_THROW(check_monitored_metric("early-stopping-monitor", "val_loss", false), Error);
  EXPECT_NO_THROW(check_monitored_metric("early-stopping-monitor", "accuracy", false));
}

struct Weights {
  ParamArena arena;
  Weights() {
    arena.add("dense", 0, ParamSpec{"kernel", {3}, Init::kZeros, 0, 0});
    arena.allocate();
  }
  void set(float v) { std::fill(arena.values(), arena.values() + arena.size(), v); }
};

EarlyStoppingOptions stopping(double min_delta, int patience, bool restore) {
  EarlyStoppingOptions o;
  o.enabled = true;
  o.monitor = Monitor{"val_accuracy", MonitorMode::kMax, min_delta};
  o.patience = patience;
  o.restore_best_weights = restore;
  return o;
}

// Traced by hand through keras.callbacks.EarlyStopping.on_epoch_end (max mode, min_delta 0.01,
// patience 2): improvements at epochs 0 and 2, stop at epoch 4 restoring epoch 2's weights.
TEST(EarlyStopping, StopsAfterPatienceAndRestoresTheBestWeights) {
  const std::vector<double> metric = {0.5, 0.505, 0.52, 0.52, 0.525, 0.9};
  Weights w;
  EarlyStopping es(stopping(0.01, 2, true));
  std::int64_t stopped = -1;
  for (std::size_t e = 0; e < metric.size() && stopped < 0; ++e) {
    w.set(static_cast<float>(e));  // the weights "of epoch e"
    if (es.on_epoch_end(static_cast<std::int64_t>(e), metric[e], {&w.arena})) stopped = static_cast<std::int64_t>(e);
  }
  EXPECT_EQ(stopped, 4);
  EXPECT_TRUE(es.stopped());
  EXPECT_EQ(es.best_epoch(), 2);
  EXPECT_DOUBLE_EQ(es.best(), 0.52);
  EXPECT_EQ(w.arena.values()[0], 2.0f);
  EXPECT_EQ(w.arena.values()[2], 2.0f);
}

TEST(EarlyStopping, BaselineKeepsTheWaitGoingAndStateRoundTrips) {
  // Improvements that do not beat the baseline 0.6 do not reset the wait.
  EarlyStoppingOptions with_baseline = stopping(0.0, 2, false);
  with_baseline.baseline = 0.6;
  Weights w;
  EarlyStopping a(with_baseline), b(stopping(0.0, 2, false));
  const std::vector<double> metric = {0.5, 0.55, 0.55};
  bool stop_a = false, stop_b = false;
  for (std::size_t e = 0; e < metric.size(); ++e) {
    stop_a = a.on_epoch_end(static_cast<std::int64_t>(e), metric[e], {&w.arena});
    stop_b = b.on_epoch_end(static_cast<std::int64_t>(e), metric[e], {&w.arena});
  }
  EXPECT_TRUE(stop_a);
  EXPECT_FALSE(stop_b);

  // Saved after epoch 2 and loaded into a fresh callback, the run goes on identically.
  EarlyStopping straight(stopping(0.01, 2, true)), first(stopping(0.01, 2, true)), second(stopping(0.01, 2, true));
  const std::vector<double> run = {0.5, 0.505, 0.52, 0.52, 0.525};
  for (std::size_t e = 0; e < run.size(); ++e) {
    w.set(static_cast<float>(e));
    straight.on_epoch_end(static_cast<std::int64_t>(e), run[e], {&w.arena});
    if (e < 3) first.on_epoch_end(static_cast<std::int64_t>(e), run[e], {&w.arena});
  }
  std::map<std::string, double> saved;
  first.save(saved);
  second.load(saved, first.best_weights(), "test");
  for (std::size_t e = 3; e < run.size(); ++e) {
    w.set(static_cast<float>(e));
    second.on_epoch_end(static_cast<std::int64_t>(e), run[e], {&w.arena});
  }
  EXPECT_EQ(second.stopped_epoch(), straight.stopped_epoch());
  EXPECT_EQ(second.best_weights(), straight.best_weights());
  EXPECT_EQ(w.arena.values()[0], 2.0f);
}

}  // namespace
}  // namespace fmnist
