// Model <-> Keras weight files (see keras_weights.h).
#include "fmnist/train/keras_weights.h"

#include <cstring>

#include "fmnist/core/error.h"

namespace fmnist {
namespace {

std::string shape_text(const std::vector<std::size_t>& shape) {
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + (shape.size() == 1 ? ",)" : ")");
}

/// Where one Keras variable of a model layer lives.
struct VariableSlot {
  bool trainable;  // in params(), else in non_trainable()
  const ParamView* view;
};

/// Keras' order of a layer's variables: trainable (our params arena), then non-trainable.
std::vector<VariableSlot> slots_of(const Sequential& model, int layer_index) {
  std::vector<VariableSlot> slots;
  for (bool trainable : {true, false})
    for (const ParamView& v : (trainable ? model.params() : model.non_trainable()).views())
      if (v.layer_index == layer_index) slots.push_back({trainable, &v});
  return slots;
}

}  // namespace

std::vector<KerasLayerWeights> capture_keras_weights(const Sequential& model,
                                                     const std::vector<KerasLayer>& layers) {
  std::vector<KerasLayerWeights> out;
  for (const KerasLayer& layer : layers) {
    KerasLayerWeights entry;
    entry.name = layer.name;
    if (layer.source >= 0)
      for (VariableSlot slot : slots_of(model, layer.source)) {
        const float* values =
            (slot.trainable ? model.params() : model.non_trainable()).values() + slot.view->offset;
        entry.variables.push_back({std::to_string(entry.variables.size()), slot.view->shape,
                                   std::vector<float>(values, values + slot.view->size)});
      }
    out.push_back(std::move(entry));
  }
  return out;
}

void load_keras_weights(Sequential& model, const KerasWeights& weights, const std::string& path) {
  // Pair each model layer that has variables with its file entry.
  std::vector<std::pair<int, const KerasLayerWeights*>> pairs;
  std::size_t next_legacy = 0;
  const auto& layers = model.layers();
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const int index = static_cast<int>(i);
    if (slots_of(model, index).empty()) continue;
    const std::string& name = layers[i]->name();
    const KerasLayerWeights* found = nullptr;
    if (weights.format == KerasWeightsFormat::kKeras3) {
      for (const KerasLayerWeights& entry : weights.layers)
        if (entry.name == name) found = &entry;
      if (!found)
        throw Error(path + ": layer '" + name + "' (" + layers[i]->type_name() + ") has no /layers/" + name +
                    " in the file (weights of another architecture?)");
    } else {
      if (next_legacy == weights.layers.size())
        throw Error(path + ": layer '" + name + "' (" + layers[i]->type_name() +
                    ") has no weights in the file, which has " + std::to_string(weights.layers.size()) +
                    " layers with weights (another architecture?)");
      found = &weights.layers[next_legacy++];
    }
    pairs.emplace_back(index, found);
  }
  if (weights.format == KerasWeightsFormat::kLegacy && next_legacy != weights.layers.size())
    throw Error(path + ": holds " + std::to_string(weights.layers.size()) +
                " layers with weights, --model '" + model.spec() + "' has " + std::to_string(next_legacy) +
                " (another architecture?)");

  // Check every variable, then copy.
  for (const auto& [index, entry] : pairs) {
    const std::vector<VariableSlot> slots = slots_of(model, index);
    const std::string& name = layers[static_cast<std::size_t>(index)]->name();
    if (entry->variables.size() != slots.size())
      throw Error(path + ": layer '" + name + "' expects " + std::to_string(slots.size()) +
                  " variables, the file's '" + entry->name + "' has " +
                  std::to_string(entry->variables.size()));
    for (std::size_t v = 0; v < slots.size(); ++v)
      if (entry->variables[v].shape != slots[v].view->shape)
        throw Error(path + ": layer '" + name + "' " + slots[v].view->spec.name + " has shape " +
                    shape_text(slots[v].view->shape) + " in --model, " +
                    shape_text(entry->variables[v].shape) + " in the file ('" + entry->name + "/" +
                    entry->variables[v].path + "')");
  }
  for (const auto& [index, entry] : pairs) {
    const std::vector<VariableSlot> slots = slots_of(model, index);
    for (std::size_t v = 0; v < slots.size(); ++v)
      std::memcpy(
          (slots[v].trainable ? model.params() : model.non_trainable()).values() + slots[v].view->offset,
          entry->variables[v].values.data(), sizeof(float) * slots[v].view->size);
  }
}

}  // namespace fmnist
