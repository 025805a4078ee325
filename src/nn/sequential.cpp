// Sequential: shape inference, Keras-style naming, arena layout and the layer loop.
#include "fmnist/nn/sequential.h"

#include <map>

#include "fmnist/core/error.h"
#include "fmnist/nn/conv2d.h"
#include "fmnist/nn/dropout.h"
#include "fmnist/nn/max_pool2d.h"

namespace fmnist {

Sequential::Sequential(std::vector<std::unique_ptr<Layer>> layers, const Shape& input)
    : layers_(std::move(layers)), input_shape_(input.with_batch(1)) {
  if (layers_.empty()) throw Error("model: no layers");
  std::map<std::string, int> seen;
  Shape shape = input_shape_;
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    Layer& layer = *layers_[i];
    const int count = seen[layer.base_name()]++;
    layer.set_name(count == 0 ? layer.base_name() : layer.base_name() + "_" + std::to_string(count));
    if (auto* dropout = dynamic_cast<Dropout*>(&layer)) dropout->set_stream(i);
    for (const ParamSpec& spec : layer.param_specs(shape))
      params_.add(layer.name(), static_cast<int>(i), spec);
    for (const ParamSpec& spec : layer.state_specs(shape))
      non_trainable_.add(layer.name(), static_cast<int>(i), spec);
    shape = layer.output_shape(shape);
    output_shapes_.push_back(shape);
  }
  const std::vector<ParamBinding> bindings = params_.allocate();
  // Hand each layer its bindings, and note where its parameters start.
  layer_param_offsets_.assign(layers_.size(), params_.size());
  const auto& views = params_.views();
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    std::vector<ParamBinding> mine;
    for (std::size_t p = 0; p < views.size(); ++p) {
      if (views[p].layer_index != static_cast<int>(i)) continue;
      if (mine.empty()) layer_param_offsets_[i] = views[p].offset;
      mine.push_back(bindings[p]);
    }
    if (!mine.empty()) layers_[i]->bind_params(mine);
  }
  const std::vector<ParamBinding> state = non_trainable_.allocate();
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    std::vector<ParamBinding> mine;
    for (std::size_t p = 0; p < state.size(); ++p)
      if (non_trainable_.views()[p].layer_index == static_cast<int>(i)) mine.push_back(state[p]);
    if (!mine.empty()) layers_[i]->bind_state(mine);
  }
  // A layer without parameters is "ready" from the offset of the next layer that has some.
  for (std::size_t i = layers_.size(); i-- > 1;)
    if (layer_param_offsets_[i - 1] == params_.size()) layer_param_offsets_[i - 1] = layer_param_offsets_[i];
}

void Sequential::setup(int max_batch) {
  max_batch_ = max_batch;
  activations_.assign(layers_.size() + 1, Tensor());
  activation_grads_.assign(layers_.size() + 1, Tensor());
  activations_[0].resize(input_shape_.with_batch(max_batch));
  Shape in = input_shape_;
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    layers_[i]->setup(in, max_batch);
    in = output_shapes_[i];
  }
  // A Conv2D that runs with the MaxPool2D after it (Conv2D::forward_pooled) never fills its
  // own output or its gradient, so those two tensors stay empty.
  fused_pool_.assign(layers_.size(), false);
  for (std::size_t i = 0; fuse_layers_ && i + 1 < layers_.size(); ++i) {
    auto* conv = dynamic_cast<Conv2D*>(layers_[i].get());
    const auto* pool = dynamic_cast<const MaxPool2D*>(layers_[i + 1].get());
    fused_pool_[i] = conv && pool && conv->prepare_pool_fusion(*pool);
  }
  // A reshaping layer's output (Flatten's (n, h*w*c)) is its input's buffer: no copy either way.
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    if (fused_pool_[i]) continue;
    const Shape out = output_shapes_[i].with_batch(max_batch);
    if (layers_[i]->reshapes_only()) {
      activations_[i + 1].view_of(activations_[i], out);
      if (computes_input_grad(i))
        activation_grads_[i + 1].view_of(activation_grads_[i], out);
      else  // no layer before takes a gradient: a buffer of its own, never passed on
        activation_grads_[i + 1].resize(out);
    } else {
      activations_[i + 1].resize(out);
      activation_grads_[i + 1].resize(out);
    }
  }
}

const Tensor& Sequential::forward(const ForwardContext& ctx) {
  const int n = activations_[0].shape().n;
  const bool evaluation = ctx.mode != Mode::kTrain;
  // Layer i's input: the previous layer's output, or further back past skipped identities
  // (cnn-deep's three Dropouts would otherwise copy 2.6 M floats a batch in evaluation).
  const Tensor* x = &activations_[0];
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    if (fused_pool_[i]) {
      activations_[i + 2].set_batch(n);
      forward_fused(i, *x, activations_[i + 2]);
      ++i;
    } else if (evaluation && layers_[i]->identity_in_evaluation()) {
      continue;
    } else if (layers_[i]->reshapes_only()) {
      activations_[i + 1].set_batch(n);  // a view of activations_[i]
      if (x != &activations_[i]) layers_[i]->forward(*x, activations_[i + 1], ctx);  // after skipped layers
    } else {
      activations_[i + 1].set_batch(n);
      layers_[i]->forward(*x, activations_[i + 1], ctx);
    }
    x = &activations_[i + 1];
  }
  activation_grads_.back().set_batch(n);
  return *x;
}

void Sequential::backward(const std::function<void(std::size_t)>& on_grads_ready) {
  const int n = activations_[0].shape().n;
  for (std::size_t i = layers_.size(); i-- > 0;) {
    const bool pooled = i > 0 && fused_pool_[i - 1];  // layer i is the pool of a fused pair
    const std::size_t first = pooled ? i - 1 : i;     // the pair's conv, or layer i alone
    Tensor* dx = nullptr;
    if (computes_input_grad(first)) {
      activation_grads_[first].set_batch(n);
      dx = &activation_grads_[first];
    }
    if (layers_[i]->reshapes_only()) {
      // dy is already dx: activation_grads_[i + 1] is a view of activation_grads_[i].
    } else if (pooled) {
      backward_fused(first, activations_[first], activations_[i + 1], activation_grads_[i + 1], dx);
      if (on_grads_ready) on_grads_ready(layer_param_offsets_[i]);
      i = first;
    } else {
      layers_[i]->backward(activations_[i], activations_[i + 1], activation_grads_[i + 1], dx);
    }
    if (on_grads_ready) on_grads_ready(layer_param_offsets_[i]);
  }
}

void Sequential::forward_fused(std::size_t i, const Tensor& x, Tensor& pooled) {
  static_cast<Conv2D&>(*layers_[i]).forward_pooled(x, static_cast<MaxPool2D&>(*layers_[i + 1]), pooled);
}

void Sequential::backward_fused(std::size_t i, const Tensor& x, const Tensor& pooled, Tensor& dpooled,
                                Tensor* dx) {
  static_cast<Conv2D&>(*layers_[i]).backward_pooled(x, static_cast<const MaxPool2D&>(*layers_[i + 1]), pooled,
                                                    dpooled, dx);
}

bool Sequential::computes_input_grad(std::size_t i) const {
  for (std::size_t j = 0; j < i && j < layers_.size(); ++j)
    if (!layers_[j]->reshapes_only()) return true;
  return false;
}

void Sequential::step_without_data(const ForwardContext& ctx,
                                   const std::function<void(std::size_t)>& on_grads_ready) {
  for (const auto& layer : layers_) layer->forward_without_data(ctx);
  for (std::size_t i = layers_.size(); i-- > 0;) {
    layers_[i]->backward_without_data();
    if (on_grads_ready) on_grads_ready(layer_param_offsets_[i]);
  }
}

std::string Sequential::spec() const {
  std::string s;
  for (const auto& layer : layers_) s += (s.empty() ? "" : "-") + layer->spec();
  return s;
}

}  // namespace fmnist
