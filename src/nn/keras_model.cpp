// Keras layers and JSON config of a model (see keras_model.h). The JSON follows Keras 3's
// serialize_keras_object: {"module", "class_name", "config", "registered_name"} per object.
#include "fmnist/nn/keras_model.h"

#include <map>
#include <sstream>

#include "fmnist/core/error.h"
#include "fmnist/nn/batch_norm.h"
#include "fmnist/nn/conv2d.h"
#include "fmnist/nn/dense.h"
#include "fmnist/nn/dropout.h"
#include "fmnist/nn/max_pool2d.h"

namespace fmnist {
namespace {

std::string number(double value) {
  std::ostringstream out;
  out.precision(7);
  out << value;
  return out.str();
}

std::string pair(int value) { return "[" + std::to_string(value) + ", " + std::to_string(value) + "]"; }

std::string quoted(const std::string& text) { return "\"" + text + "\""; }

// Keras' initializer entries, as a Keras-built layer serialises its defaults.
std::string initializer(const std::string& class_name) {
  const bool random = class_name == "GlorotUniform";
  return "{\"module\": \"keras.initializers\", \"class_name\": \"" + class_name +
         "\", \"config\": " + (random ? "{\"seed\": null}" : "{}") + ", \"registered_name\": null}";
}

const char kDtypePolicy[] =
    "{\"module\": \"keras\", \"class_name\": \"DTypePolicy\", \"config\": {\"name\": \"float32\"}, "
    "\"registered_name\": null}";

std::string conv_config(const Conv2D& conv, const std::string& activation) {
  const Conv2DOptions& o = conv.options();
  return "\"filters\": " + std::to_string(o.filters) + ", \"kernel_size\": " + pair(o.kernel) +
         ", \"strides\": " + pair(o.stride) +
         ", \"padding\": " + quoted(o.padding == Padding::kSame ? "same" : "valid") +
         ", \"data_format\": \"channels_last\", \"dilation_rate\": [1, 1], \"groups\": 1, \"activation\": " +
         quoted(activation) +
         ", \"use_bias\": true, \"kernel_initializer\": " + initializer("GlorotUniform") +
         ", \"bias_initializer\": " + initializer("Zeros") +
         ", \"kernel_regularizer\": null, \"bias_regularizer\": null, \"activity_regularizer\": null, "
         "\"kernel_constraint\": null, \"bias_constraint\": null";
}

std::string dense_config(const Dense& dense, const std::string& activation) {
  return "\"units\": " + std::to_string(dense.units()) + ", \"activation\": " + quoted(activation) +
         ", \"use_bias\": true, \"kernel_initializer\": " + initializer("GlorotUniform") +
         ", \"bias_initializer\": " + initializer("Zeros") +
         ", \"kernel_regularizer\": null, \"bias_regularizer\": null, \"kernel_constraint\": null, "
         "\"bias_constraint\": null";
}

}  // namespace

std::vector<KerasLayer> keras_layers(const Sequential& model) {
  std::vector<KerasLayer> layers;
  std::map<std::string, int> counters;  // per snake-case class name, as Keras auto-names layers
  auto add = [&](const std::string& class_name, const std::string& snake, const std::string& config,
                 int source) {
    const int n = counters[snake]++;
    const std::string name = n == 0 ? snake : snake + "_" + std::to_string(n);
    layers.push_back({class_name, name,
                      "{\"name\": " + quoted(name) + ", \"trainable\": true, \"dtype\": " + kDtypePolicy +
                          ", " + config + "}",
                      source});
  };
  auto flatten = [&] { add("Flatten", "flatten", "\"data_format\": \"channels_last\"", -1); };
  const auto& ours = model.layers();
  bool spatial = true;  // Keras' tensor still has (h, w, c) axes
  for (std::size_t i = 0; i < ours.size(); ++i) {
    const Layer& layer = *ours[i];
    const bool last = i + 1 == ours.size();
    const int source = static_cast<int>(i);
    if (const auto* conv = dynamic_cast<const Conv2D*>(&layer)) {
      add("Conv2D", "conv2d", conv_config(*conv, activation_name(conv->options().activation)), source);
    } else if (const auto* dense = dynamic_cast<const Dense*>(&layer)) {
      if (spatial) flatten();
      spatial = false;
      add("Dense", "dense", dense_config(*dense, last ? "softmax" : activation_name(dense->activation())),
          source);
    } else if (const auto* pool = dynamic_cast<const MaxPool2D*>(&layer)) {
      add("MaxPooling2D", "max_pooling2d",
          "\"pool_size\": " + pair(pool->pool()) + ", \"padding\": \"valid\", \"strides\": " +
              pair(pool->stride()) + ", \"data_format\": \"channels_last\"",
          source);
    } else if (const auto* drop = dynamic_cast<const Dropout*>(&layer)) {
      add("Dropout", "dropout",
          "\"rate\": " + number(drop->rate()) + ", \"seed\": null, \"noise_shape\": null", source);
    } else if (const auto* bn = dynamic_cast<const BatchNorm*>(&layer)) {
      add("BatchNormalization", "batch_normalization",
          "\"axis\": -1, \"momentum\": " + number(bn->options().momentum) +
              ", \"epsilon\": " + number(bn->options().epsilon) +
              ", \"center\": true, \"scale\": true, \"beta_initializer\": " + initializer("Zeros") +
              ", \"gamma_initializer\": " + initializer("Ones") +
              ", \"moving_mean_initializer\": " + initializer("Zeros") +
              ", \"moving_variance_initializer\": " + initializer("Ones") + ", \"synchronized\": false",
          source);
    } else if (layer.type_name() == "Flatten") {
      spatial = false;
      add("Flatten", "flatten", "\"data_format\": \"channels_last\"", source);
    } else if (layer.type_name() == "GlobalAveragePooling2D") {
      spatial = false;
      add("GlobalAveragePooling2D", "global_average_pooling2d",
          "\"data_format\": \"channels_last\", \"keepdims\": false", source);
    } else if (layer.type_name() == "ReLU") {
      add("ReLU", "re_lu", "\"max_value\": null, \"negative_slope\": 0.0, \"threshold\": 0.0", source);
    } else {
      throw Error("Keras export: layer '" + layer.name() + "' (" + layer.type_name() +
                  ") has no Keras equivalent here");
    }
  }
  if (!dynamic_cast<const Dense*>(ours.back().get())) {
    if (spatial) flatten();
    add("Activation", "activation", "\"activation\": \"softmax\"", -1);
  }
  return layers;
}

std::string keras_model_json(const Sequential& model, const std::vector<KerasLayer>& layers) {
  const Shape& in = model.input_shape();
  std::string json =
      std::string("{\"module\": \"keras\", \"class_name\": \"Sequential\", \"config\": {\"name\": ") +
      "\"sequential\", \"trainable\": true, \"dtype\": " + kDtypePolicy + ", \"layers\": [";
  json +=
      "{\"module\": \"keras.layers\", \"class_name\": \"InputLayer\", \"config\": {\"batch_shape\": [null, " +
      std::to_string(in.h) + ", " + std::to_string(in.w) + ", " + std::to_string(in.c) +
      "], \"dtype\": \"float32\", \"sparse\": false, \"name\": \"input_layer\"}, \"registered_name\": null}";
  for (const KerasLayer& layer : layers)
    json += ", {\"module\": \"keras.layers\", \"class_name\": " + quoted(layer.class_name) +
            ", \"config\": " + layer.config + ", \"registered_name\": null}";
  json += "], \"build_input_shape\": [null, " + std::to_string(in.h) + ", " + std::to_string(in.w) + ", " +
          std::to_string(in.c) + "]}, \"registered_name\": null}";
  return json;
}

}  // namespace fmnist
