// Keras weight files in HDF5: Keras 3's `.weights.h5` (written and read) and legacy tf.keras
// `.h5` weights (read), as model.save_weights / model.load_weights use them.
#pragma once

#include <string>
#include <vector>

#include "fmnist/io/checkpoint_file.h"

namespace fmnist {

/// One layer's variables in Keras' order (Conv2D/Dense: kernel, bias; BatchNormalization:
/// gamma, beta, moving_mean, moving_variance). Each NamedArray's path is the variable's name
/// in the file ("0", "1", ... in Keras 3; "conv2d/kernel:0" in legacy files).
struct KerasLayerWeights {
  std::string name;  // the layer's group, e.g. "conv2d_1"
  std::vector<NamedArray> variables;
};

enum class KerasWeightsFormat {
  kKeras3,  // /layers/<name>/vars/<i>: matched to a model by layer name
  kLegacy,  // root (or /model_weights) attribute layer_names: matched by position
};

struct KerasWeights {
  KerasWeightsFormat format = KerasWeightsFormat::kKeras3;
  /// Keras 3: every group under /layers, by name. Legacy: the layers of layer_names, in that
  /// order, that have weights.
  std::vector<KerasLayerWeights> layers;
};

/// Writes a Keras 3 `.weights.h5` file: an empty /vars group, then for each layer in model
/// order /layers/<name>/vars/<i> (contiguous float32, i = 0.. in `variables` order; an empty
/// vars group for a layer without variables). Atomic; throws Error naming `path`.
void write_keras_weights(const std::string& path, const std::vector<KerasLayerWeights>& layers);

/// Writes the model's Keras JSON config (nn/keras_model.h) to `path`, atomically.
void write_keras_model_json(const std::string& path, const std::string& json);

/// Reads either format (Keras 3 when the root has a /layers group, else legacy layer_names at
/// the root or under /model_weights). Throws Error naming `path` when it is missing, not HDF5,
/// has neither layout, or a variable is not a float32 array.
KerasWeights read_keras_weights(const std::string& path);

/// Whether `path` is an HDF5 file in one of the Keras layouts (rather than our checkpoint).
/// Throws Error naming `path` when it is missing or not HDF5.
bool is_keras_weights_file(const std::string& path);

}  // namespace fmnist
