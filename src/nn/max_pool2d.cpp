// MaxPool2D: forward records which input pixel won each window; backward routes the
// gradient there (windows may overlap when stride < pool, so it accumulates).
#include "fmnist/nn/max_pool2d.h"

#include <algorithm>
#include <cstring>

#include "fmnist/core/error.h"

namespace fmnist {

std::string MaxPool2D::spec() const {
  return "pool" + std::to_string(pool_) + (stride_ != pool_ ? "s" + std::to_string(stride_) : "");
}

Shape MaxPool2D::output_shape(const Shape& in) const {
  if (in.h < pool_ || in.w < pool_)
    throw Error("layer " + spec() + ": pool size " + std::to_string(pool_) + " is larger than its input " +
                std::to_string(in.h) + "x" + std::to_string(in.w));
  return Shape{in.n, in.c, (in.h - pool_) / stride_ + 1, (in.w - pool_) / stride_ + 1};
}

void MaxPool2D::setup(const Shape& in, int max_batch) {
  argmax_.assign(output_shape(in).with_batch(max_batch).numel(), 0);
}

void MaxPool2D::forward(const Tensor& x, Tensor& y, const ForwardContext& /*ctx*/) {
  const Shape& s = x.shape();
  const Shape o = y.shape();
  const int planes = s.n * s.c;
  for (int p = 0; p < planes; ++p) {
    const float* in = x.data() + static_cast<std::size_t>(p) * s.h * s.w;
    float* out = y.data() + static_cast<std::size_t>(p) * o.h * o.w;
    std::int32_t* arg = argmax_.data() + static_cast<std::size_t>(p) * o.h * o.w;
    if (pool_ == 2 && stride_ == 2) {  // the common case: branch-free selects that vectorise
      for (int oh = 0; oh < o.h; ++oh) {
        const float* __restrict top = in + 2 * oh * s.w;
        const float* __restrict bottom = top + s.w;
        float* __restrict row_out = out + oh * o.w;
        std::int32_t* __restrict row_arg = arg + oh * o.w;
        const int row_start = 2 * oh * s.w;
#pragma omp simd
        for (int ow = 0; ow < o.w; ++ow) {
          const float a = top[2 * ow], b = top[2 * ow + 1], c = bottom[2 * ow], d = bottom[2 * ow + 1];
          const int right_up = static_cast<int>(b > a), right_down = static_cast<int>(d > c);
          const float upper = std::max(a, b), lower = std::max(c, d);
          const int down = static_cast<int>(lower > upper);
          row_out[ow] = std::max(upper, lower);
          // Offset in the window: 0, 1 (top row) or w, w + 1 (bottom row); ties keep the first.
          row_arg[ow] = row_start + 2 * ow + down * (s.w + right_down) + (1 - down) * right_up;
        }
      }
      continue;
    }
    for (int oh = 0; oh < o.h; ++oh) {
      for (int ow = 0; ow < o.w; ++ow) {
        int best = oh * stride_ * s.w + ow * stride_;
        float best_value = in[best];
        for (int kh = 0; kh < pool_; ++kh) {
          const int row = (oh * stride_ + kh) * s.w + ow * stride_;
          for (int kw = 0; kw < pool_; ++kw) {
            if (in[row + kw] > best_value) {
              best_value = in[row + kw];
              best = row + kw;
            }
          }
        }
        out[oh * o.w + ow] = best_value;
        arg[oh * o.w + ow] = best;
      }
    }
  }
}

void MaxPool2D::backward(const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) {
  if (!dx) return;
  const Shape& s = x.shape();
  const std::size_t out_plane = static_cast<std::size_t>(y.shape().h) * y.shape().w;
  const std::size_t in_plane = static_cast<std::size_t>(s.h) * s.w;
  const int planes = s.n * s.c;
  if (pool_ == 2 && stride_ == 2 && s.h % 2 == 0 && s.w % 2 == 0) {
    // Windows tile the plane exactly: write every input pixel once, no zero-fill pass.
    const int oh_n = y.shape().h, ow_n = y.shape().w;
    for (int p = 0; p < planes; ++p) {
      for (int oh = 0; oh < oh_n; ++oh) {
        const float* __restrict g = dy.data() + p * out_plane + oh * ow_n;
        const std::int32_t* __restrict arg = argmax_.data() + p * out_plane + oh * ow_n;
        float* __restrict top = dx->data() + p * in_plane + 2 * oh * s.w;
        float* __restrict bottom = top + s.w;
        const int row_start = 2 * oh * s.w;
#pragma omp simd
        for (int ow = 0; ow < ow_n; ++ow) {
          const int at = arg[ow] - row_start - 2 * ow;  // 0, 1, w or w + 1 within the window
          const float grad = g[ow];
          top[2 * ow] = at == 0 ? grad : 0.0f;
          top[2 * ow + 1] = at == 1 ? grad : 0.0f;
          bottom[2 * ow] = at == s.w ? grad : 0.0f;
          bottom[2 * ow + 1] = at == s.w + 1 ? grad : 0.0f;
        }
      }
    }
    return;
  }
  std::memset(dx->data(), 0, sizeof(float) * x.numel());
  for (int p = 0; p < planes; ++p) {
    const float* g = dy.data() + p * out_plane;
    const std::int32_t* arg = argmax_.data() + p * out_plane;
    float* d = dx->data() + p * in_plane;
    for (std::size_t i = 0; i < out_plane; ++i) d[arg[i]] += g[i];
  }
}

}  // namespace fmnist
