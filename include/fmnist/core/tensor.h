// Tensor: an NHWC float batch with a fixed capacity, so the training step can change the
// batch size (last batch, uneven shards) without allocating.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "fmnist/core/aligned_vector.h"

namespace fmnist {

/// Sizes of a batch. Memory order is NHWC (channels last, as Keras): element (i, y, x, ch)
/// is at ((i * h + y) * w + x) * c + ch. Dense activations are (n, features, 1, 1), i.e.
/// c = features. The fields are listed n, c, h, w, so Shape{n, c, h, w} names the sizes.
struct Shape {
  int n = 0, c = 0, h = 0, w = 0;

  std::size_t per_sample() const { return static_cast<std::size_t>(c) * h * w; }
  std::size_t numel() const { return static_cast<std::size_t>(n) * per_sample(); }
  Shape with_batch(int batch) const { return Shape{batch, c, h, w}; }
  bool same_sample_shape(const Shape& other) const {
    return c == other.c && h == other.h && w == other.w;
  }
  /// Memory order, as used in messages: "(n, h, w, c)".
  std::string str() const;
};

/// Owns a float buffer of `capacity` elements and views its first numel() as `shape`.
/// resize() only allocates when the capacity grows, which the trainer does once at setup.
/// A view (view_of) owns nothing and reads another tensor's buffer under its own shape.
class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(const Shape& shape) { resize(shape); }

  /// Sets the shape; allocates (zero-filled) only if numel() exceeds the capacity.
  void resize(const Shape& shape);
  /// Sets the batch size, keeping the per-sample shape.
  void set_batch(int n) { resize(shape_.with_batch(n)); }

  const Shape& shape() const { return shape_; }
  std::size_t numel() const { return shape_.numel(); }
  float* data() { return view_ ? view_ : storage_.data(); }
  const float* data() const { return view_ ? view_ : storage_.data(); }
  float& operator[](std::size_t i) { return data()[i]; }
  float operator[](std::size_t i) const { return data()[i]; }
  /// Floats this tensor can hold without allocating.
  std::size_t capacity() const { return view_ ? view_capacity_ : storage_.size(); }

  /// Makes this tensor a view of `other`'s buffer as `shape`: the same floats under another
  /// shape, for a layer that only reshapes (Flatten). `other` must keep its buffer while the
  /// view is used; resizing the view past other's capacity throws std::logic_error.
  void view_of(Tensor& other, const Shape& shape);

 private:
  AlignedVector<float> storage_;
  Shape shape_;
  float* view_ = nullptr;  // a view: other's buffer, view_capacity_ floats
  std::size_t view_capacity_ = 0;
};

}  // namespace fmnist
