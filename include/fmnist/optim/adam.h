// Adam (Kingma & Ba, 2015) with Keras' defaults and Keras' epsilon placement.
#pragma once

#include "fmnist/optim/optimizer.h"

namespace fmnist {

class Adam : public Optimizer {
 public:
  Adam(const OptimizerOptions& options, std::size_t size);
  std::string name() const override { return "adam"; }
  void step(float* params, const float* grads, std::size_t size) override;
  std::vector<std::pair<std::string, std::vector<float>*>> state() override;
  std::map<std::string, std::int64_t> counters() const override { return {{"iterations", iterations_}}; }
  void set_counters(const std::map<std::string, std::int64_t>& counters) override;

 private:
  std::vector<float> m_;  // first moment, arena-shaped
  std::vector<float> v_;  // second moment, arena-shaped
  std::int64_t iterations_ = 0;
};

}  // namespace fmnist
