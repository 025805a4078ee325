// Presets, the spec parser and the Keras-style summary.
#include "fmnist/nn/model_spec.h"

#include <iomanip>
#include <regex>
#include <sstream>

#include "fmnist/core/error.h"
#include "fmnist/core/memory.h"
#include "fmnist/nn/batch_norm.h"
#include "fmnist/nn/conv2d.h"
#include "fmnist/nn/dense.h"
#include "fmnist/nn/dropout.h"
#include "fmnist/nn/flatten.h"
#include "fmnist/nn/global_average_pool2d.h"
#include "fmnist/nn/max_pool2d.h"
#include "fmnist/nn/relu.h"

namespace fmnist {
namespace {

constexpr int kImageSize = 28;
constexpr int kNumClasses = 10;
const char* const kGrammar =
    "conv<F>x<K>[s<S>][same|valid][linear], dense<N>[linear], pool<P>[s<S>], gap, flatten, relu, drop<R>, bn";

std::vector<std::string> split(const std::string& spec) {
  std::vector<std::string> tokens;
  std::string token;
  std::istringstream in(spec);
  while (std::getline(in, token, '-')) tokens.push_back(token);
  return tokens;
}

int positive(const std::string& digits, const std::string& token) {
  long value = 0;
  try {
    value = std::stol(digits);
  } catch (const std::exception&) {
    value = 0;
  }
  if (value <= 0 || value > 65536)
    throw Error("model spec token '" + token + "': expected a positive size, found '" + digits + "'");
  return static_cast<int>(value);
}

std::unique_ptr<Layer> parse_layer(const std::string& token, bool last) {
  static const std::regex conv(R"(conv(\d+)x(\d+)(?:s(\d+))?(same|valid)?(linear)?)");
  static const std::regex dense(R"(dense(\d+)(linear)?)");
  static const std::regex pool(R"(pool(\d+)(?:s(\d+))?)");
  static const std::regex drop(R"(drop(\d*\.?\d+))");
  std::smatch m;
  if (std::regex_match(token, m, conv)) {
    Conv2DOptions options;
    options.filters = positive(m[1], token);
    options.kernel = positive(m[2], token);
    // No layer input is larger than the image, and the fan-in/out products (kernel^2 x
    // channels, in int) stay far from overflowing (found by tests/fuzz/fuzz_config_file).
    if (options.kernel > kImageSize)
      throw Error("model spec token '" + token + "': expected a kernel of at most " + std::to_string(kImageSize) +
                  " (the image side), found " + std::to_string(options.kernel));
    options.stride = m[3].matched ? positive(m[3], token) : 1;
    options.padding = m[4] == "same" ? Padding::kSame : Padding::kValid;
    options.activation = (m[5].matched || last) ? Activation::kLinear : Activation::kRelu;
    return std::make_unique<Conv2D>(options);
  }
  if (std::regex_match(token, m, dense))
    return std::make_unique<Dense>(positive(m[1], token),
                                   (m[2].matched || last) ? Activation::kLinear : Activation::kRelu);
  if (std::regex_match(token, m, pool)) {
    const int size = positive(m[1], token);
    return std::make_unique<MaxPool2D>(size, m[2].matched ? positive(m[2], token) : size);
  }
  if (std::regex_match(token, m, drop)) {
    const float rate = std::stof(m[1]);
    if (!(rate >= 0.0f && rate < 1.0f))
      throw Error("model spec token '" + token + "': expected a dropout rate in [0, 1), found " + std::string(m[1]));
    return std::make_unique<Dropout>(rate);
  }
  if (token == "gap") return std::make_unique<GlobalAveragePool2D>();
  if (token == "flatten") return std::make_unique<Flatten>();
  if (token == "relu") return std::make_unique<Relu>();
  if (token == "bn") return std::make_unique<BatchNorm>();
  throw Error("model spec token '" + token + "' is not a layer; expected one of: " + kGrammar);
}

}  // namespace

const std::vector<Preset>& presets() {
  static const std::vector<Preset> all = {
      {"mlp", "flatten-dense128-dense10", "Flatten, Dense(128, relu), Dense(10): the basic classification tutorial"},
      {"mlp-300-100", "flatten-dense300-dense100-dense10", "Flatten, Dense(300), Dense(100), Dense(10): the SGD tutorial"},
      {"cnn", "conv32x3same-pool2-conv64x3same-pool2-flatten-dense128-dense10", "two same-padded convs with pooling, Dense(128)"},
      {"cnn-gap", "conv32x3-pool2-conv64x3-gap-dense10", "two valid convs, global average pooling"},
      {"cnn-deep",
       "conv64x3same-conv64x3same-drop0.5-pool2-conv128x3same-drop0.5-pool2-conv256x3-drop0.5-gap-dense10",
       "four convs with dropout and global average pooling"},
      {"cnn-2x64", "conv64x3-pool2-conv64x3-pool2-flatten-dense128-dense10", "two valid 64-filter convs, Dense(128)"},
      {"cnn-bn", "conv32x3samelinear-bn-relu-pool2-conv64x3samelinear-bn-relu-pool2-flatten-dense128-dense10",
       "the benchmark's '2 conv + BatchNorm': cnn with BatchNormalization before each conv's ReLU"},
      {"vgg-bn",
       "conv32x3samelinear-bn-relu-conv32x3samelinear-bn-relu-pool2-conv64x3samelinear-bn-relu-conv64x3samelinear-bn-"
       "relu-pool2-flatten-dense256linear-bn-relu-drop0.5-dense10",
       "VGG-style: two blocks of two BN convs (32, 64) with pooling, Dense(256) with BN and dropout"},
  };
  return all;
}

std::string resolve_model_spec(const std::string& name_or_spec) {
  for (const Preset& p : presets())
    if (p.name == name_or_spec) return p.spec;
  if (name_or_spec.find_first_of("-0123456789") == std::string::npos && name_or_spec != "flatten" &&
      name_or_spec != "gap") {
    std::string names;
    for (const Preset& p : presets()) names += (names.empty() ? "" : ", ") + p.name;
    throw Error("--model: unknown model '" + name_or_spec + "'; expected a preset (" + names +
                ") or a spec such as flatten-dense128-dense10");
  }
  return name_or_spec;
}

namespace {

std::vector<std::unique_ptr<Layer>> parse_layers(const std::string& spec) {
  const std::vector<std::string> tokens = split(spec);
  std::vector<std::unique_ptr<Layer>> layers;
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i].empty()) throw Error("model spec '" + spec + "': empty layer between '-' separators");
    layers.push_back(parse_layer(tokens[i], i + 1 == tokens.size()));
  }
  if (layers.empty()) throw Error("model spec '" + spec + "': no layers");
  return layers;
}

void require_class_logits(const std::string& spec, const Shape& out) {
  if (out.per_sample() != static_cast<std::size_t>(kNumClasses))
    throw Error("model spec '" + spec + "': the last layer must output " + std::to_string(kNumClasses) +
                " class logits, found " + std::to_string(out.per_sample()) + " values");
}

std::size_t element_count(const std::vector<ParamSpec>& specs) {
  std::size_t total = 0;
  for (const ParamSpec& p : specs) {
    std::size_t n = 1;
    for (std::size_t d : p.shape) n *= d;
    total += n;
  }
  return total;
}

}  // namespace

ModelSize model_size(const std::string& name_or_spec) {
  const std::string spec = resolve_model_spec(name_or_spec);
  ModelSize size;
  Shape shape{1, 1, kImageSize, kImageSize};
  size.input_per_sample = shape.per_sample();
  for (const std::unique_ptr<Layer>& layer : parse_layers(spec)) {
    size.params += element_count(layer->param_specs(shape));
    size.non_trainable += element_count(layer->state_specs(shape));
    shape = layer->output_shape(shape);
    size.outputs_per_sample += shape.per_sample();
  }
  require_class_logits(spec, shape);
  return size;
}

std::unique_ptr<Sequential> build_model(const std::string& name_or_spec) {
  const std::string spec = resolve_model_spec(name_or_spec);
  const ModelSize size = model_size(spec);
  require_memory(4.0 * (2.0 * static_cast<double>(size.params) + static_cast<double>(size.non_trainable)),
                 "--model " + name_or_spec + ": " + group_thousands(static_cast<long long>(size.params)) +
                     " parameters (values and gradients)");
  auto model = std::make_unique<Sequential>(parse_layers(spec), Shape{1, 1, kImageSize, kImageSize});
  require_class_logits(spec, model->output_shapes().back());
  return model;
}

std::string group_thousands(long long value) {
  std::string digits = std::to_string(value < 0 ? -value : value);
  for (int i = static_cast<int>(digits.size()) - 3; i > 0; i -= 3) digits.insert(static_cast<std::size_t>(i), ",");
  return value < 0 ? "-" + digits : digits;
}

std::string model_summary(const Sequential& model) {
  // Keras prints shapes channels-last, (None, h, w, c), whatever the internal layout.
  auto keras_shape = [](const Shape& s) {
    if (s.h == 1 && s.w == 1) return "(None, " + std::to_string(s.c) + ")";
    return "(None, " + std::to_string(s.h) + ", " + std::to_string(s.w) + ", " + std::to_string(s.c) + ")";
  };
  std::ostringstream out;
  const std::string thin(65, '_'), thick(65, '=');
  out << "Model: \"sequential\"\n" << thin << "\n";
  out << std::left << std::setw(29) << "Layer (type)" << std::setw(26) << "Output Shape" << "Param #\n";
  out << thick << "\n";
  std::vector<std::size_t> counts(model.layers().size(), 0);
  for (const ParamView& v : model.params().views()) counts[static_cast<std::size_t>(v.layer_index)] += v.size;
  for (const ParamView& v : model.non_trainable().views()) counts[static_cast<std::size_t>(v.layer_index)] += v.size;
  for (std::size_t i = 0; i < model.layers().size(); ++i) {
    const Layer& layer = *model.layers()[i];
    std::string label = layer.name() + " (" + layer.type_name() + ")";
    if (label.size() > 28) label = label.substr(0, 28);
    out << std::setw(29) << label << std::setw(26) << keras_shape(model.output_shapes()[i]) << counts[i] << "\n";
  }
  const auto trainable = static_cast<long long>(model.params().size());
  const auto non_trainable = static_cast<long long>(model.non_trainable().size());
  out << thick << "\n";
  out << "Total params: " << group_thousands(trainable + non_trainable) << "\n";
  out << "Trainable params: " << group_thousands(trainable) << "\n";
  out << "Non-trainable params: " << group_thousands(non_trainable) << "\n" << thin << "\n";
  return out.str();
}

}  // namespace fmnist
