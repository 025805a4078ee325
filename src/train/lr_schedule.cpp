// Keras' schedules (keras/src/optimizers/schedules/learning_rate_schedule.py) and
// ReduceLROnPlateau (keras/src/callbacks/reduce_lr_on_plateau.py), in double precision.
#include "fmnist/train/lr_schedule.h"

#include <algorithm>
#include <cmath>

#include "fmnist/core/error.h"

namespace fmnist {

ScheduleKind parse_schedule_kind(const std::string& name) {
  if (name == "constant") return ScheduleKind::kConstant;
  if (name == "cosine") return ScheduleKind::kCosine;
  if (name == "exponential") return ScheduleKind::kExponential;
  if (name == "piecewise") return ScheduleKind::kPiecewise;
  if (name == "plateau") return ScheduleKind::kPlateau;
  throw Error("--lr-schedule: expected constant, cosine, exponential, piecewise or plateau, found '" + name + "'");
}

const char* schedule_kind_name(ScheduleKind kind) {
  switch (kind) {
    case ScheduleKind::kCosine: return "cosine";
    case ScheduleKind::kExponential: return "exponential";
    case ScheduleKind::kPiecewise: return "piecewise";
    case ScheduleKind::kPlateau: return "plateau";
    case ScheduleKind::kConstant: break;
  }
  return "constant";
}

double scheduled_learning_rate(const LrScheduleOptions& o, double base, std::int64_t step) {
  const double s = static_cast<double>(step);
  switch (o.kind) {
    case ScheduleKind::kCosine: {
      // CosineDecay(initial_learning_rate=warmup_start_lr, warmup_target=base, ...); without
      // warm-up, CosineDecay(initial_learning_rate=base).
      if (step < o.warmup_steps)
        return o.warmup_start_lr + (base - o.warmup_start_lr) * s / static_cast<double>(o.warmup_steps);
      const double fraction =
          std::min(1.0, (s - static_cast<double>(o.warmup_steps)) / static_cast<double>(std::max<std::int64_t>(1, o.decay_steps)));
      const double cosine = 0.5 * (1.0 + std::cos(M_PI * fraction));
      return base * ((1.0 - o.alpha) * cosine + o.alpha);
    }
    case ScheduleKind::kExponential: {
      double p = s / static_cast<double>(o.decay_steps);
      if (o.staircase) p = std::floor(p);
      return base * std::pow(o.decay_rate, p);
    }
    case ScheduleKind::kPiecewise: {
      // Keras: values[0] for step <= boundaries[0], values[i] for boundaries[i-1] < step <= boundaries[i].
      std::size_t i = 0;
      while (i < o.boundaries.size() && step > o.boundaries[i]) ++i;
      return o.values[i];
    }
    case ScheduleKind::kConstant:
    case ScheduleKind::kPlateau:
      break;
  }
  return base;
}

ReduceLrOnPlateau::ReduceLrOnPlateau(const LrScheduleOptions& options, double base)
    : options_(options), lr_(base), best_(options.plateau_monitor.worst()) {}

void ReduceLrOnPlateau::on_epoch_end(double current) {
  const bool in_cooldown = cooldown_counter_ > 0;
  if (in_cooldown) {
    --cooldown_counter_;
    wait_ = 0;
  }
  if (options_.plateau_monitor.improves(current, best_)) {
    best_ = current;
    wait_ = 0;
  } else if (cooldown_counter_ <= 0) {
    ++wait_;
    if (wait_ >= options_.plateau_patience && lr_ > options_.plateau_min_lr) {
      lr_ = std::max(lr_ * options_.plateau_factor, options_.plateau_min_lr);
      cooldown_counter_ = options_.plateau_cooldown;
      wait_ = 0;
    }
  }
}

void ReduceLrOnPlateau::save(std::map<std::string, double>& out) const {
  out["plateau_lr"] = lr_;
  out["plateau_best"] = best_;
  out["plateau_wait"] = static_cast<double>(wait_);
  out["plateau_cooldown"] = static_cast<double>(cooldown_counter_);
}

void ReduceLrOnPlateau::load(const std::map<std::string, double>& in, const std::string& file) {
  for (const char* key : {"plateau_lr", "plateau_best", "plateau_wait", "plateau_cooldown"})
    if (!in.count(key)) throw Error(file + ": /callbacks has no '" + key + "' (the checkpoint is of a run without --lr-schedule plateau?)");
  lr_ = in.at("plateau_lr");
  best_ = in.at("plateau_best");
  wait_ = static_cast<std::int64_t>(in.at("plateau_wait"));
  cooldown_counter_ = static_cast<std::int64_t>(in.at("plateau_cooldown"));
}

}  // namespace fmnist
