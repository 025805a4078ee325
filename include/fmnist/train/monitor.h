// A monitored metric as Keras' callbacks see it (EarlyStopping, ReduceLROnPlateau,
// ModelCheckpoint): its name, whether bigger is better, and what counts as an improvement.
#pragma once

#include <string>

namespace fmnist {

enum class MonitorMode { kAuto, kMin, kMax };

/// "auto" / "min" / "max" -> mode; throws Error naming `option` otherwise.
MonitorMode parse_monitor_mode(const std::string& option, const std::string& text);
const char* monitor_mode_name(MonitorMode mode);

/// The epoch metrics a callback may monitor: loss, accuracy, and val_loss, val_accuracy
/// when there is a validation set. Throws Error naming `option` and the choices otherwise.
void check_monitored_metric(const std::string& option, const std::string& metric, bool has_validation);

struct Monitor {
  std::string metric = "val_loss";
  MonitorMode mode = MonitorMode::kAuto;
  double min_delta = 0.0;  // an improvement must beat the best by more than this (Keras' abs(min_delta))

  /// Keras' auto mode: metrics whose name contains "acc" are maximised, the rest minimised.
  bool maximizes() const;
  /// The starting "best": +inf when minimising, -inf when maximising.
  double worst() const;
  /// Keras: min: current < reference - min_delta; max: current > reference + min_delta.
  bool improves(double current, double reference) const;
};

}  // namespace fmnist
