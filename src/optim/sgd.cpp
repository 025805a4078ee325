// Keras SGD: v = momentum * v - lr * g;  w += v  (Nesterov: w += momentum * v - lr * g).
// Plain SGD (momentum 0): w -= lr * g. Weight decay is decoupled: w -= lr * wd * w first.
#include "fmnist/optim/sgd.h"

namespace fmnist {

Sgd::Sgd(const OptimizerOptions& options, std::size_t size) : Optimizer(options) {
  if (options.momentum > 0.0f) velocity_.assign(size, 0.0f);
}

void Sgd::step(float* params, const float* grads, std::size_t size) {
  const float lr = options_.learning_rate, mu = options_.momentum, decay = lr * options_.weight_decay;
  if (decay != 0.0f)
    for (std::size_t i = 0; i < size; ++i) params[i] -= decay * params[i];
  if (velocity_.empty()) {
    for (std::size_t i = 0; i < size; ++i) params[i] -= lr * grads[i];
    return;
  }
  float* v = velocity_.data();
  if (options_.nesterov) {
    for (std::size_t i = 0; i < size; ++i) {
      v[i] = mu * v[i] - lr * grads[i];
      params[i] += mu * v[i] - lr * grads[i];
    }
  } else {
    for (std::size_t i = 0; i < size; ++i) {
      v[i] = mu * v[i] - lr * grads[i];
      params[i] += v[i];
    }
  }
}

std::vector<std::pair<std::string, std::vector<float>*>> Sgd::state() {
  if (velocity_.empty()) return {};
  return {{"velocity", &velocity_}};
}

}  // namespace fmnist
