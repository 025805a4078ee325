// TrainConfig as text, in the same 'key = value' syntax that --config files use.
#include "fmnist/train/config.h"

#include <cmath>
#include <sstream>

namespace fmnist {

std::string config_to_text(const TrainConfig& c) {
  std::ostringstream out;
  out.precision(9);
  out << "model = " << c.model << "\n"
      << "epochs = " << c.epochs << "\n"
      << "batch-size = " << c.batch_size << "\n"
      << "optimizer = " << optimizer_kind_name(c.optimizer.kind) << "\n"
      << "lr = " << c.optimizer.learning_rate << "\n"
      << "momentum = " << c.optimizer.momentum << "\n"
      << "nesterov = " << (c.optimizer.nesterov ? "true" : "false") << "\n"
      << "weight-decay = " << c.optimizer.weight_decay << "\n"
      << "seed = " << c.seed << "\n"
      << "validation-split = " << c.validation_split << "\n"
      << "no-normalize = " << (c.normalize ? "false" : "true") << "\n"
      << "data-dir = " << c.data_dir << "\n"
      << "output-dir = " << c.output_dir << "\n"
      << "max-steps = " << c.max_steps << "\n"
      << "threads = " << c.threads << "\n"
      << "check-replicas = " << c.check_replicas << "\n"
      << "checkpoint-every = " << c.checkpoint_every << "\n"
      << "keep-checkpoints = " << c.keep_checkpoints << "\n"
      << "bucket-mb = " << c.bucket_mb << "\n"
      << "stall-warning = " << c.stall_warning << "\n"
      << "stall-timeout = " << c.stall_timeout << "\n";
  const LrScheduleOptions& s = c.schedule;
  std::string boundaries, values;
  for (std::int64_t b : s.boundaries) boundaries += (boundaries.empty() ? "" : ",") + std::to_string(b);
  for (double v : s.values) {
    std::ostringstream text;
    text.precision(9);
    text << v;
    values += (values.empty() ? "" : ",") + text.str();
  }
  const EarlyStoppingOptions& e = c.early_stopping;
  out << "augment = " << augment_text(c.augment) << "\n"
      << "label-smoothing = " << c.label_smoothing << "\n"
      << "lr-schedule = " << schedule_kind_name(s.kind) << "\n"
      << "warmup-steps = " << s.warmup_steps << "\n"
      << "warmup-start-lr = " << s.warmup_start_lr << "\n"
      << "decay-steps = " << s.decay_steps << "\n"
      << "lr-alpha = " << s.alpha << "\n"
      << "decay-rate = " << s.decay_rate << "\n"
      << "staircase = " << (s.staircase ? "true" : "false") << "\n"
      << "lr-boundaries = " << boundaries << "\n"
      << "lr-values = " << values << "\n"
      << "plateau-monitor = " << s.plateau_monitor.metric << "\n"
      << "plateau-mode = " << monitor_mode_name(s.plateau_monitor.mode) << "\n"
      << "plateau-factor = " << s.plateau_factor << "\n"
      << "plateau-patience = " << s.plateau_patience << "\n"
      << "plateau-min-delta = " << s.plateau_monitor.min_delta << "\n"
      << "plateau-cooldown = " << s.plateau_cooldown << "\n"
      << "plateau-min-lr = " << s.plateau_min_lr << "\n"
      << "early-stopping-monitor = " << (e.enabled ? e.monitor.metric : "") << "\n"
      << "early-stopping-mode = " << monitor_mode_name(e.monitor.mode) << "\n"
      << "early-stopping-patience = " << e.patience << "\n"
      << "early-stopping-min-delta = " << e.monitor.min_delta << "\n"
      << "early-stopping-baseline = ";
  if (!std::isnan(e.baseline)) out << e.baseline;
  out << "\n"
      << "restore-best-weights = " << (e.restore_best_weights ? "true" : "false") << "\n"
      << "best-checkpoint-monitor = " << (c.best_checkpoint ? c.best_checkpoint_monitor.metric : "") << "\n"
      << "best-checkpoint-mode = " << monitor_mode_name(c.best_checkpoint_monitor.mode) << "\n";
  return out.str();
}

const std::vector<std::string>& training_option_keys() {
  static const std::vector<std::string> keys = {
      "augment", "label-smoothing", "lr-schedule", "warmup-steps", "warmup-start-lr", "decay-steps", "lr-alpha",
      "decay-rate", "staircase", "lr-boundaries", "lr-values", "plateau-monitor", "plateau-mode", "plateau-factor",
      "plateau-patience", "plateau-min-delta", "plateau-cooldown", "plateau-min-lr", "early-stopping-monitor",
      "early-stopping-mode", "early-stopping-patience", "early-stopping-min-delta", "early-stopping-baseline",
      "restore-best-weights", "best-checkpoint-monitor", "best-checkpoint-mode"};
  return keys;
}

std::map<std::string, std::string> parse_config_text(const std::string& text) {
  std::map<std::string, std::string> values;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    const std::size_t eq = line.find(" = ");
    if (eq != std::string::npos) values[line.substr(0, eq)] = line.substr(eq + 3);
  }
  return values;
}

}  // namespace fmnist
