// MaxPool2D on NHWC batches: forward records which input value won each window; backward
// routes the gradient there (windows may overlap when stride < pool, so it accumulates).
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

namespace {

// best = max(best, candidate) channel by channel, and arg = offset + ch where the candidate
// wins. The index select is written with masks because gcc 12 will not vectorise `?:` on a
// float compare that picks an int.
void take_larger(const float* __restrict candidate, std::int32_t offset, int channels, float* __restrict best,
                 std::int32_t* __restrict arg) {
#pragma omp simd
  for (int ch = 0; ch < channels; ++ch) {
    const float v = candidate[ch], b = best[ch];
    const std::int32_t wins = -static_cast<std::int32_t>(v > b);  // all ones where v is larger
    best[ch] = std::max(b, v);
    arg[ch] = (arg[ch] & ~wins) | ((offset + ch) & wins);
  }
}

// out[ch] = grad[ch] where this window position (offset + ch) won, else 0.
void route_gradient(const float* __restrict grad, const std::int32_t* __restrict arg, std::int32_t offset,
                    int channels, float* __restrict out) {
#pragma omp simd
  for (int ch = 0; ch < channels; ++ch) {
    const float g = grad[ch];  // loaded unconditionally so the select vectorises
    out[ch] = arg[ch] == offset + ch ? g : 0.0f;
  }
}

}  // namespace

void MaxPool2D::setup(const Shape& in, int max_batch) {
  argmax_.assign(output_shape(in).with_batch(max_batch).numel(), 0);
}

void MaxPool2D::forward(const Tensor& x, Tensor& y, const ForwardContext& /*ctx*/) {
  const Shape& s = x.shape();
  const Shape o = y.shape();
  const int c = s.c;
  for (int i = 0; i < s.n; ++i) {
    const float* in = x.data() + i * s.per_sample();
    for (int oh = 0; oh < o.h; ++oh) {
      for (int ow = 0; ow < o.w; ++ow) {
        const std::size_t at = i * o.per_sample() + (static_cast<std::size_t>(oh) * o.w + ow) * c;
        float* __restrict best = y.data() + at;
        std::int32_t* __restrict arg = argmax_.data() + at;
        // NHWC: every window position is a contiguous run of c values, so the compare and
        // select run across channels in SIMD. Ties keep the first position in (kh, kw) order.
        const std::int32_t first = (oh * stride_ * s.w + ow * stride_) * c;
#pragma omp simd
        for (int ch = 0; ch < c; ++ch) {
          best[ch] = in[first + ch];
          arg[ch] = first + ch;
        }
        for (int kh = 0; kh < pool_; ++kh) {
          for (int kw = kh == 0 ? 1 : 0; kw < pool_; ++kw) {
            const std::int32_t offset = ((oh * stride_ + kh) * s.w + ow * stride_ + kw) * c;
            take_larger(in + offset, offset, c, best, arg);
          }
        }
      }
    }
  }
}

void MaxPool2D::backward(const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) {
  if (!dx) return;
  const Shape& s = x.shape();
  const Shape o = y.shape();
  const int c = s.c;
  const bool overlapping = stride_ < pool_;
  const bool tiles_input = stride_ == pool_ && s.h == o.h * pool_ && s.w == o.w * pool_;
  // Unless the windows tile the input exactly, some pixels get no write below: zero first.
  if (!tiles_input) std::memset(dx->data(), 0, sizeof(float) * x.numel());
  for (int i = 0; i < s.n; ++i) {
    float* d = dx->data() + i * s.per_sample();
    for (int oh = 0; oh < o.h; ++oh) {
      for (int ow = 0; ow < o.w; ++ow) {
        const std::size_t at = i * o.per_sample() + (static_cast<std::size_t>(oh) * o.w + ow) * c;
        const float* __restrict g = dy.data() + at;
        const std::int32_t* __restrict arg = argmax_.data() + at;
        if (overlapping) {  // a pixel may win several windows: accumulate
          for (int ch = 0; ch < c; ++ch) d[arg[ch]] += g[ch];
          continue;
        }
        // Disjoint windows: write every pixel of the window once (the gradient or 0).
        for (int kh = 0; kh < pool_; ++kh) {
          for (int kw = 0; kw < pool_; ++kw) {
            const std::int32_t offset = ((oh * stride_ + kh) * s.w + ow * stride_ + kw) * c;
            route_gradient(g, arg, offset, c, d + offset);
          }
        }
      }
    }
  }
}

}  // namespace fmnist
