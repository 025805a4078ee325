// Model specs: the built-in presets of the Keras tutorials and a compact text grammar for
// custom Sequential models.
//
// Grammar: layers joined by '-', e.g. "conv32x3same-pool2-conv64x3same-pool2-flatten-dense128-dense10".
//   conv<F>x<K>[s<S>][same|valid][linear]  Conv2D, F filters, KxK kernel, stride S (default 1),
//                                          padding (default valid), ReLU unless "linear"
//   dense<N>[linear]                       Dense, N units, ReLU unless "linear"
//   pool<P>[s<S>]                          MaxPooling2D, PxP window, stride S (default P)
//   gap                                    GlobalAveragePooling2D
//   flatten                                Flatten
//   relu                                   ReLU
//   drop<R>                                Dropout with rate R in [0, 1)
//   bn                                     BatchNormalization over the channels (Keras defaults)
// The LAST layer is always linear: it outputs the logits, and the softmax is fused into the
// loss. It must output 10 values, one per class.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "fmnist/nn/sequential.h"

namespace fmnist {

struct Preset {
  std::string name;
  std::string spec;
  std::string description;
};

/// The six presets of the Keras tutorials (mlp, mlp-300-100, cnn, cnn-gap, cnn-deep, cnn-2x64)
/// and two with BatchNormalization (cnn-bn, vgg-bn).
const std::vector<Preset>& presets();

/// The spec for a preset name or a spec string; throws Error for an unknown name or a
/// malformed spec, naming the offending token and the valid forms.
std::string resolve_model_spec(const std::string& name_or_spec);

/// What a model will need, known from its spec before anything is allocated (floats).
struct ModelSize {
  std::size_t params = 0;         // trainable: values, and as many gradients and moments
  std::size_t non_trainable = 0;  // BatchNormalization's moving statistics
  std::size_t input_per_sample = 0;
  std::size_t outputs_per_sample = 0;  // sum over the layers of one sample's output size
};

/// Checks the spec (or preset name) as build_model does, without allocating the model.
ModelSize model_size(const std::string& name_or_spec);

/// Builds the model for a spec (or preset name) on 28x28 grey images. Throws Error, before
/// allocating, when its parameters and gradients do not fit in the memory available.
std::unique_ptr<Sequential> build_model(const std::string& name_or_spec);

/// Keras' model.summary() table, ending with "Total params: N" (comma-grouped).
std::string model_summary(const Sequential& model);

/// 421642 -> "421,642".
std::string group_thousands(long long value);

}  // namespace fmnist
