// Optimizers update the whole parameter arena in one pass. Their state (momenta, Adam
// moments) is arena-shaped, so it can be saved per named parameter view.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace fmnist {

enum class OptimizerKind { kSgd, kAdam };

struct OptimizerOptions {
  OptimizerKind kind = OptimizerKind::kAdam;
  float learning_rate = 1e-3f;
  float momentum = 0.0f;      // SGD only
  bool nesterov = false;      // SGD only
  float weight_decay = 0.0f;  // decoupled, as Keras' optimizers' weight_decay: w -= lr * wd * w
  float beta1 = 0.9f, beta2 = 0.999f, epsilon = 1e-7f;  // Adam, Keras defaults
};

/// "sgd" / "adam" -> kind; throws Error naming the option otherwise.
OptimizerKind parse_optimizer_kind(const std::string& name);
const char* optimizer_kind_name(OptimizerKind kind);

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  virtual std::string name() const = 0;
  /// One update of `size` parameters from their (already averaged) gradients.
  virtual void step(float* params, const float* grads, std::size_t size) = 0;
  /// Arena-shaped state arrays by name ("velocity", or "m" and "v"), for checkpoints.
  virtual std::vector<std::pair<std::string, std::vector<float>*>> state() = 0;
  /// Integer state by name (Adam's "iterations"), for checkpoints.
  virtual std::map<std::string, std::int64_t> counters() const { return {}; }
  virtual void set_counters(const std::map<std::string, std::int64_t>& /*counters*/) {}

  float learning_rate() const { return options_.learning_rate; }
  /// The rate of the next steps (set by the learning-rate schedule before each step).
  void set_learning_rate(float rate) { options_.learning_rate = rate; }

 protected:
  explicit Optimizer(const OptimizerOptions& options) : options_(options) {}
  OptimizerOptions options_;
};

/// Builds the optimizer for an arena of `size` parameters (state zero-initialised).
std::unique_ptr<Optimizer> make_optimizer(const OptimizerOptions& options, std::size_t size);

}  // namespace fmnist
