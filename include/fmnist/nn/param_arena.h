// One contiguous arena for all parameters and one for their gradients (llm.c, Caffe's
// "one consecutive array"): gradient sync is then one buffer, and a checkpoint is a loop
// over named views.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "fmnist/nn/layer.h"

namespace fmnist {

/// A named parameter inside the arena, e.g. path "conv2d/kernel".
struct ParamView {
  std::string path;                 // "<layer name>/<param name>"
  std::vector<std::size_t> shape;
  std::size_t offset = 0;           // into values() and grads()
  std::size_t size = 0;
  int layer_index = 0;
  ParamSpec spec;
};

class ParamArena {
 public:
  /// Floats kept after the gradients, in the same buffer: values that travel with them in the
  /// gradient allreduce (the step's loss, correct, count and stop flag) at no extra message.
  static constexpr std::size_t kGradientTail = 4;

  /// Appends a parameter; offsets are assigned in call order. Must precede allocate().
  void add(const std::string& layer_name, int layer_index, const ParamSpec& spec);
  /// Allocates values and gradients (zeroed) and returns their bindings in add() order.
  std::vector<ParamBinding> allocate();
  /// Fills every parameter as its spec says (Glorot-uniform, zeros or ones) from `seed`.
  void initialize(std::uint64_t seed);

  std::size_t size() const { return values_.size(); }
  float* values() { return values_.data(); }
  const float* values() const { return values_.data(); }
  float* grads() { return grads_.data(); }
  const float* grads() const { return grads_.data(); }
  /// The kGradientTail floats right after grads()[size() - 1].
  float* gradient_tail() { return grads_.data() + values_.size(); }
  const std::vector<ParamView>& views() const { return views_; }
  /// The view with this path, or nullptr.
  const ParamView* find(const std::string& path) const;

 private:
  std::vector<ParamView> views_;
  AlignedVector<float> values_;
  AlignedVector<float> grads_;
  std::size_t pending_size_ = 0;
};

}  // namespace fmnist
