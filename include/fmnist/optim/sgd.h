// SGD with optional momentum and Nesterov momentum, as Keras' tf.keras.optimizers.SGD.
#pragma once

#include "fmnist/optim/optimizer.h"

namespace fmnist {

class Sgd : public Optimizer {
 public:
  Sgd(const OptimizerOptions& options, std::size_t size);
  std::string name() const override { return "sgd"; }
  void step(float* params, const float* grads, std::size_t size) override;
  std::vector<std::pair<std::string, std::vector<float>*>> state() override;

 private:
  std::vector<float> velocity_;  // arena-shaped; empty when momentum is 0
};

}  // namespace fmnist
