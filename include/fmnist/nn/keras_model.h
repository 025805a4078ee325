// The Keras 3 Sequential that rebuilds a model: its layers, Keras' names for them, and the
// JSON config keras.models.model_from_json reads.
#pragma once

#include <string>
#include <vector>

#include "fmnist/nn/sequential.h"

namespace fmnist {

/// One layer of the Keras model.
struct KerasLayer {
  std::string class_name;  // Keras class, e.g. "Conv2D"
  std::string name;        // Keras' name: class in snake case with a per-class counter ("conv2d_1")
  std::string config;      // the layer's "config" JSON object
  int source = -1;         // index of the model layer whose variables it holds; -1 when none
};

/// The model as Keras layers, in order. Our logits become probabilities: a last Dense gets
/// "activation": "softmax", any other last layer is followed by Activation("softmax"), so
/// Keras' predict gives probabilities and evaluate takes sparse_categorical_crossentropy.
/// Where Keras would keep spatial axes that we flatten (a Dense after a Conv2D/pooling, or
/// the logits of a last Conv2D), a Flatten is inserted, as our Dense flattens its input.
std::vector<KerasLayer> keras_layers(const Sequential& model);

/// Keras 3's JSON config of the Sequential made of `layers` (an InputLayer of batch_shape
/// [null, 28, 28, 1] first), as model.to_json() writes it and model_from_json reads it.
std::string keras_model_json(const Sequential& model, const std::vector<KerasLayer>& layers);

}  // namespace fmnist
