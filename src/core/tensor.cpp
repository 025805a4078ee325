// Tensor: shape bookkeeping over a reusable buffer.
#include "fmnist/core/tensor.h"

namespace fmnist {

std::string Shape::str() const {
  return "(" + std::to_string(n) + ", " + std::to_string(h) + ", " + std::to_string(w) + ", " +
         std::to_string(c) + ")";
}

void Tensor::resize(const Shape& shape) {
  if (shape.numel() > storage_.size()) storage_.resize(shape.numel(), 0.0f);
  shape_ = shape;
}

}  // namespace fmnist
