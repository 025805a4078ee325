// EarlyStopping as keras/src/callbacks/early_stopping.py (Keras 3): the wait grows every
// epoch and resets on an improvement (that also beats the baseline, if any); training stops
// once wait >= patience, never after the first epoch.
#include "fmnist/train/early_stopping.h"

#include <algorithm>

#include "fmnist/core/error.h"

namespace fmnist {

EarlyStopping::EarlyStopping(const EarlyStoppingOptions& options)
    : options_(options), best_(options.monitor.worst()) {}

bool EarlyStopping::on_epoch_end(std::int64_t epoch, double current, const std::vector<ParamArena*>& arenas) {
  auto copy_weights = [&] {
    best_weights_.clear();
    for (const ParamArena* a : arenas) best_weights_.insert(best_weights_.end(), a->values(), a->values() + a->size());
  };
  // Keras keeps the first epoch's weights as the best until something beats them.
  if (options_.restore_best_weights && best_weights_.empty()) copy_weights();
  ++wait_;
  if (options_.monitor.improves(current, best_)) {
    best_ = current;
    best_epoch_ = epoch;
    if (options_.restore_best_weights) copy_weights();
    if (std::isnan(options_.baseline) || options_.monitor.improves(current, options_.baseline)) wait_ = 0;
    return false;
  }
  if (wait_ >= options_.patience && epoch > 0) {
    stopped_epoch_ = epoch;
    if (options_.restore_best_weights && !best_weights_.empty()) {
      std::size_t offset = 0;
      for (ParamArena* a : arenas) {
        std::copy_n(best_weights_.data() + offset, a->size(), a->values());
        offset += a->size();
      }
    }
    return true;
  }
  return false;
}

void EarlyStopping::save(std::map<std::string, double>& out) const {
  out["early_stopping_best"] = best_;
  out["early_stopping_wait"] = static_cast<double>(wait_);
  out["early_stopping_best_epoch"] = static_cast<double>(best_epoch_);
  out["early_stopping_stopped_epoch"] = static_cast<double>(stopped_epoch_);
}

void EarlyStopping::load(const std::map<std::string, double>& in, std::vector<float> best_weights,
                         const std::string& file) {
  for (const char* key : {"early_stopping_best", "early_stopping_wait", "early_stopping_best_epoch",
                          "early_stopping_stopped_epoch"})
    if (!in.count(key))
      throw Error(file + ": /callbacks has no '" + key + "' (the checkpoint is of a run without early stopping?)");
  best_ = in.at("early_stopping_best");
  wait_ = static_cast<std::int64_t>(in.at("early_stopping_wait"));
  best_epoch_ = static_cast<std::int64_t>(in.at("early_stopping_best_epoch"));
  stopped_epoch_ = static_cast<std::int64_t>(in.at("early_stopping_stopped_epoch"));
  best_weights_ = std::move(best_weights);
}

}  // namespace fmnist
