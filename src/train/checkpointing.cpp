// Trainer <-> CheckpointState. Parameters and optimizer state are stored per named view
// (/model/<layer>/<param>, /optimizer/<state>/<layer>/<param>), never by address, so a file
// can be checked name by name and shape by shape before anything is loaded.
#include "fmnist/train/checkpointing.h"

#include <cstring>

#include "fmnist/core/error.h"

namespace fmnist {
namespace {

std::string shape_text(const std::vector<std::size_t>& shape) {
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + ")";
}

/// Finds `path` in `arrays` and checks its shape; throws Error naming the file otherwise.
const NamedArray& find_array(const std::vector<NamedArray>& arrays, const std::string& group,
                             const std::string& path, const std::vector<std::size_t>& shape,
                             const std::string& file) {
  for (const NamedArray& a : arrays) {
    if (a.path != path) continue;
    if (a.shape != shape)
      throw Error(file + ": /" + group + "/" + path + " has shape " + shape_text(a.shape) + ", the model expects " +
                  shape_text(shape));
    return a;
  }
  throw Error(file + ": /" + group + "/" + path + " is missing (the checkpoint is of another model?)");
}

// /model holds the trainable parameters and the non-trainable variables (BatchNormalization's
// moving statistics), each under its layer as Keras names them.
void check_model(const Sequential& model, const CheckpointState& state, const std::string& file) {
  if (state.model_spec != model.spec())
    throw Error(file + ": checkpoint model '" + state.model_spec + "' differs from --model '" + model.spec() + "'");
  std::size_t expected = 0;
  for (const ParamArena* arena : {&model.params(), &model.non_trainable()}) {
    for (const ParamView& v : arena->views()) find_array(state.model, "model", v.path, v.shape, file);
    expected += arena->views().size();
  }
  if (state.model.size() != expected)
    throw Error(file + ": holds " + std::to_string(state.model.size()) + " model arrays, the model has " +
                std::to_string(expected));
}

void load_parameters(Sequential& model, const CheckpointState& state, const std::string& file) {
  for (ParamArena* arena : {&model.params(), &model.non_trainable()})
    for (const ParamView& v : arena->views()) {
      const NamedArray& a = find_array(state.model, "model", v.path, v.shape, file);
      std::memcpy(arena->values() + v.offset, a.values.data(), sizeof(float) * v.size);
    }
}

}  // namespace

CheckpointState capture_checkpoint(Trainer& trainer) {
  CheckpointState state;
  const ParamArena& params = trainer.model().params();
  state.model_spec = trainer.model().spec();
  state.config = config_to_text(trainer.config());
  state.world_size = trainer.comm().size();
  state.epoch = trainer.position().epoch;
  state.step_in_epoch = trainer.position().step_in_epoch;
  state.global_step = trainer.position().global_step;
  // Shuffling and dropout are pure functions of (seed, epoch, sample): the seed is the state.
  state.rng_state = {trainer.config().seed};
  for (const ParamArena* arena : {&params, &static_cast<const Sequential&>(trainer.model()).non_trainable()})
    for (const ParamView& v : arena->views())
      state.model.push_back({v.path, v.shape,
                             std::vector<float>(arena->values() + v.offset, arena->values() + v.offset + v.size)});
  Optimizer& optimizer = trainer.optimizer();
  state.optimizer_name = optimizer.name();
  state.optimizer_counters = optimizer.counters();
  for (auto& [name, values] : optimizer.state())
    for (const ParamView& v : params.views())
      state.optimizer.push_back({name + "/" + v.path, v.shape,
                                 std::vector<float>(values->data() + v.offset, values->data() + v.offset + v.size)});
  const EpochSums& sums = trainer.epoch_sums();
  state.epoch_progress = {{"loss_sum", sums.loss},
                          {"correct", static_cast<double>(sums.correct)},
                          {"count", static_cast<double>(sums.count)},
                          {"seconds", sums.seconds}};
  state.history = trainer.history();
  state.callbacks = trainer.callback_state();
  // EarlyStopping's best weights, split by the same named views as /model.
  const std::vector<float>& best = trainer.best_weights();
  if (!best.empty()) {
    std::size_t offset = 0;
    for (const ParamArena* arena : {&params, &static_cast<const Sequential&>(trainer.model()).non_trainable()}) {
      for (const ParamView& v : arena->views())
        state.best_weights.push_back({v.path, v.shape,
                                      std::vector<float>(best.data() + offset + v.offset,
                                                         best.data() + offset + v.offset + v.size)});
      offset += arena->size();
    }
  }
  return state;
}

void restore_parameters(Sequential& model, const CheckpointState& state, const std::string& path) {
  check_model(model, state, path);
  load_parameters(model, state, path);
}

void restore_checkpoint(Trainer& trainer, const CheckpointState& state, const std::string& path) {
  // 1. Check everything.
  check_model(trainer.model(), state, path);
  Optimizer& optimizer = trainer.optimizer();
  if (state.optimizer_name != optimizer.name())
    throw Error(path + ": checkpoint optimizer '" + state.optimizer_name + "' differs from --optimizer '" +
                optimizer.name() + "'");
  const auto saved = parse_config_text(state.config);
  const auto current = parse_config_text(config_to_text(trainer.config()));
  auto check_same = [&](const std::string& key, const char* why) {
    auto it = saved.find(key);
    if (it == saved.end()) throw Error(path + ": config has no '" + key + "'");
    if (it->second != current.at(key))
      throw Error(path + ": --" + key + " '" + current.at(key) + "' differs from the checkpoint's '" + it->second +
                  "' (" + why + ")");
  };
  for (const char* key : {"batch-size", "seed", "validation-split", "no-normalize"})
    check_same(key, "it fixes the order of training samples");
  for (const std::string& key : training_option_keys()) check_same(key, "it changes the training");
  // EarlyStopping's best weights: assembled in arena order, every view present with its shape.
  std::vector<float> best_weights;
  if (!state.best_weights.empty()) {
    for (const ParamArena* arena : {&trainer.model().params(), &trainer.model().non_trainable()}) {
      const std::size_t base = best_weights.size();
      best_weights.resize(base + arena->size());
      for (const ParamView& v : arena->views()) {
        const NamedArray& a = find_array(state.best_weights, "best_weights", v.path, v.shape, path);
        std::memcpy(best_weights.data() + base + v.offset, a.values.data(), sizeof(float) * v.size);
      }
    }
  }
  const ParamArena& params = trainer.model().params();
  for (auto& [name, values] : optimizer.state())
    for (const ParamView& v : params.views()) find_array(state.optimizer, "optimizer", name + "/" + v.path, v.shape, path);
  for (const char* key : {"loss_sum", "correct", "count", "seconds"})
    if (!state.epoch_progress.count(key)) throw Error(path + ": /progress has no '" + key + "'");
  if (state.epoch < 0 || state.step_in_epoch < 0 || state.global_step < state.step_in_epoch)
    throw Error(path + ": inconsistent position (epoch " + std::to_string(state.epoch) + ", step " +
                std::to_string(state.step_in_epoch) + ", global step " + std::to_string(state.global_step) + ")");

  // 2. Load (the callback state first: it is the last thing that can still throw).
  trainer.set_callback_state(state.callbacks, std::move(best_weights), path);
  load_parameters(trainer.model(), state, path);
  for (auto& [name, values] : optimizer.state())
    for (const ParamView& v : params.views()) {
      const NamedArray& a = find_array(state.optimizer, "optimizer", name + "/" + v.path, v.shape, path);
      std::memcpy(values->data() + v.offset, a.values.data(), sizeof(float) * v.size);
    }
  optimizer.set_counters(state.optimizer_counters);
  trainer.position() = TrainPosition{state.epoch, state.step_in_epoch, state.global_step};
  const auto& p = state.epoch_progress;
  trainer.epoch_sums() = EpochSums{p.at("loss_sum"), static_cast<std::int64_t>(p.at("correct")),
                                   static_cast<std::int64_t>(p.at("count")), p.at("seconds")};
  trainer.history() = state.history;
}

}  // namespace fmnist
