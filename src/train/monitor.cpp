// Improvement tests shared by the callbacks (Keras' monitor_op with min_delta).
#include "fmnist/train/monitor.h"

#include <limits>

#include "fmnist/core/error.h"

namespace fmnist {

MonitorMode parse_monitor_mode(const std::string& option, const std::string& text) {
  if (text == "auto") return MonitorMode::kAuto;
  if (text == "min") return MonitorMode::kMin;
  if (text == "max") return MonitorMode::kMax;
  throw Error("--" + option + ": expected auto, min or max, found '" + text + "'");
}

const char* monitor_mode_name(MonitorMode mode) {
  return mode == MonitorMode::kMin ? "min" : mode == MonitorMode::kMax ? "max" : "auto";
}

void check_monitored_metric(const std::string& option, const std::string& metric, bool has_validation) {
  if (metric == "loss" || metric == "accuracy") return;
  if (metric == "val_loss" || metric == "val_accuracy") {
    if (has_validation) return;
    throw Error("--" + option + ": metric '" + metric + "' does not exist with --validation-split 0; expected loss or accuracy");
  }
  throw Error("--" + option + ": metric '" + metric + "' does not exist; expected loss, accuracy, val_loss or val_accuracy");
}

bool Monitor::maximizes() const {
  if (mode != MonitorMode::kAuto) return mode == MonitorMode::kMax;
  return metric.find("acc") != std::string::npos;
}

double Monitor::worst() const {
  return maximizes() ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
}

bool Monitor::improves(double current, double reference) const {
  return maximizes() ? current > reference + min_delta : current < reference - min_delta;
}

}  // namespace fmnist
