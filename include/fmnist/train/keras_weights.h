// A model's parameters <-> Keras weight files: the variables of each layer in Keras' order,
// and loading a file read by io/keras_weights_file.h into --model with every shape checked.
#pragma once

#include <string>
#include <vector>

#include "fmnist/io/keras_weights_file.h"
#include "fmnist/nn/keras_model.h"
#include "fmnist/nn/sequential.h"

namespace fmnist {

/// The variables of every Keras layer of `layers` (keras_layers(model)), from `model`:
/// trainable ones then non-trainable ones, each in creation order (Keras' variable order).
std::vector<KerasLayerWeights> capture_keras_weights(const Sequential& model,
                                                     const std::vector<KerasLayer>& layers);

/// Copies `weights` (read from `path`) into `model`: a Keras 3 file by layer name, a legacy
/// file by position among the layers that have weights. Everything is checked before
/// anything is copied; throws one-line Error naming `path`, the layer and both shapes (or
/// counts) at the first mismatch.
void load_keras_weights(Sequential& model, const KerasWeights& weights, const std::string& path);

}  // namespace fmnist
