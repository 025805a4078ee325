// Keras' EarlyStopping callback: stop when the monitored metric has not improved for
// `patience` epochs, optionally restoring the weights of the best epoch.
#pragma once

#include <cmath>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "fmnist/nn/param_arena.h"
#include "fmnist/train/monitor.h"

namespace fmnist {

struct EarlyStoppingOptions {
  bool enabled = false;                 // on when --early-stopping-monitor is given
  Monitor monitor{"val_loss", MonitorMode::kAuto, 0.0};
  int patience = 0;
  double baseline = NAN;                // NaN: none; else the wait only resets on beating it
  bool restore_best_weights = false;
};

class EarlyStopping {
 public:
  explicit EarlyStopping(const EarlyStoppingOptions& options);
  /// One epoch end (`epoch` 0-based) with the metric's value. `arenas` hold the model's
  /// variables (trainable, then non-trainable); their values are kept, concatenated, when they
  /// are the best so far and restore_best_weights is on. Returns true when training must stop,
  /// after writing the best weights back into `arenas` if restore_best_weights is on.
  bool on_epoch_end(std::int64_t epoch, double current, const std::vector<ParamArena*>& arenas);
  bool stopped() const { return stopped_epoch_ >= 0; }
  std::int64_t stopped_epoch() const { return stopped_epoch_; }
  std::int64_t best_epoch() const { return best_epoch_; }
  double best() const { return best_; }
  const std::vector<float>& best_weights() const { return best_weights_; }

  /// State as named doubles for checkpoints ("early_stopping_best", ...) and the best weights.
  void save(std::map<std::string, double>& out) const;
  void load(const std::map<std::string, double>& in, std::vector<float> best_weights, const std::string& file);

 private:
  EarlyStoppingOptions options_;
  double best_;
  std::int64_t wait_ = 0, best_epoch_ = 0, stopped_epoch_ = -1;
  std::vector<float> best_weights_;  // all variables of the best epoch; empty until the first epoch
};

}  // namespace fmnist
