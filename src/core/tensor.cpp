// Tensor: shape bookkeeping over a reusable buffer.
#include "fmnist/core/tensor.h"

#include <stdexcept>

namespace fmnist {

std::string Shape::str() const {
  return "(" + std::to_string(n) + ", " + std::to_string(h) + ", " + std::to_string(w) + ", " +
         std::to_string(c) + ")";
}

void Tensor::resize(const Shape& shape) {
  if (view_ && shape.numel() > view_capacity_)
    throw std::logic_error("Tensor: a view of " + std::to_string(view_capacity_) + " floats resized to " +
                           shape.str());
  if (!view_ && shape.numel() > storage_.size()) storage_.resize(shape.numel(), 0.0f);
  shape_ = shape;
}

void Tensor::view_of(Tensor& other, const Shape& shape) {
  AlignedVector<float>().swap(storage_);
  view_capacity_ = other.capacity();
  view_ = other.data();
  resize(shape);
}

}  // namespace fmnist
