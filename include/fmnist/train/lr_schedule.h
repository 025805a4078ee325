// Learning-rate schedules as Keras' (keras.optimizers.schedules and ReduceLROnPlateau).
// The per-step schedules are closed-form functions of the optimizer step, so they need no
// state; reduce-on-plateau changes the rate at epoch ends and its state is checkpointed.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "fmnist/train/monitor.h"

namespace fmnist {

enum class ScheduleKind { kConstant, kCosine, kExponential, kPiecewise, kPlateau };

/// "constant", "cosine", "exponential", "piecewise", "plateau"; throws Error naming --lr-schedule.
ScheduleKind parse_schedule_kind(const std::string& name);
const char* schedule_kind_name(ScheduleKind kind);

struct LrScheduleOptions {
  ScheduleKind kind = ScheduleKind::kConstant;
  // cosine (CosineDecay with warm-up: linear from warmup_start_lr to the base rate over
  // warmup_steps, then cosine over decay_steps down to alpha * base).
  std::int64_t warmup_steps = 0;
  double warmup_start_lr = 0.0;
  std::int64_t decay_steps = 0;  // cosine, exponential; cosine 0 = to the end of --epochs
  double alpha = 0.0;
  // exponential (ExponentialDecay): base * decay_rate ^ (step / decay_steps), floored if staircase.
  double decay_rate = 0.96;
  bool staircase = false;
  // piecewise (PiecewiseConstantDecay): values[i] while boundaries[i-1] < step <= boundaries[i].
  std::vector<std::int64_t> boundaries;
  std::vector<double> values;
  // plateau (ReduceLROnPlateau).
  Monitor plateau_monitor{"val_loss", MonitorMode::kAuto, 1e-4};
  double plateau_factor = 0.1;
  int plateau_patience = 10;
  int plateau_cooldown = 0;
  double plateau_min_lr = 0.0;
};

/// The rate of the per-step schedules at optimizer step `step` (0-based: the number of
/// steps already taken, as Keras' optimizer.iterations). constant and plateau return `base`.
double scheduled_learning_rate(const LrScheduleOptions& options, double base, std::int64_t step);

/// Keras' ReduceLROnPlateau: after `patience` epochs without improvement of the monitored
/// metric the rate becomes max(rate * factor, min_lr), then `cooldown` epochs pass before
/// waiting starts again.
class ReduceLrOnPlateau {
 public:
  ReduceLrOnPlateau(const LrScheduleOptions& options, double base);
  double learning_rate() const { return lr_; }
  /// One epoch end with the monitored metric's value.
  void on_epoch_end(double current);
  /// State as named doubles, for checkpoints ("plateau_lr", ...), and back.
  void save(std::map<std::string, double>& out) const;
  void load(const std::map<std::string, double>& in, const std::string& file);

 private:
  LrScheduleOptions options_;
  double lr_;
  double best_;
  std::int64_t wait_ = 0, cooldown_counter_ = 0;
};

}  // namespace fmnist
