// Keras Adam update (tf.keras.optimizers.Adam):
//   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
//   alpha = lr * sqrt(1 - b2^t) / (1 - b1^t);  w -= alpha * m / (sqrt(v) + eps)
#include "fmnist/optim/adam.h"

#include <cmath>

namespace fmnist {

Adam::Adam(const OptimizerOptions& options, std::size_t size)
    : Optimizer(options), m_(size, 0.0f), v_(size, 0.0f) {}

void Adam::step(float* params, const float* grads, std::size_t size) {
  ++iterations_;
  const double t = static_cast<double>(iterations_);
  const float b1 = options_.beta1, b2 = options_.beta2, eps = options_.epsilon;
  const float alpha = static_cast<float>(options_.learning_rate * std::sqrt(1.0 - std::pow(b2, t)) /
                                         (1.0 - std::pow(b1, t)));
  const float decay = options_.learning_rate * options_.weight_decay;
  float* m = m_.data();
  float* v = v_.data();
  for (std::size_t i = 0; i < size; ++i) {
    const float g = grads[i];
    m[i] = b1 * m[i] + (1.0f - b1) * g;
    v[i] = b2 * v[i] + (1.0f - b2) * g * g;
    params[i] -= decay * params[i] + alpha * m[i] / (std::sqrt(v[i]) + eps);
  }
}

std::vector<std::pair<std::string, std::vector<float>*>> Adam::state() { return {{"m", &m_}, {"v", &v_}}; }

void Adam::set_counters(const std::map<std::string, std::int64_t>& counters) {
  auto it = counters.find("iterations");
  iterations_ = it == counters.end() ? 0 : it->second;
}

}  // namespace fmnist
