// MaxPool2D on NHWC batches: forward records which input value won each window; backward
// routes the gradient there (windows may overlap when stride < pool, so it accumulates).
#include "fmnist/nn/max_pool2d.h"

#include <algorithm>
#include <cstring>
#include <limits>

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

// A window position's value of channel ch: the input, or with kActivate the producer's output
// act(input + bias) (floor: 0 for a ReLU, -inf for linear), computed here instead of in a pass
// of its own over the producer's output.
template <bool kActivate>
inline __attribute__((always_inline)) float window_value(const float* __restrict in, int ch,
                                                         const float* __restrict bias, float floor) {
  return kActivate ? std::max(in[ch] + bias[ch], floor) : in[ch];
}

// best = max(best, candidate) channel by channel, and arg = offset + ch where the candidate
// wins. The index select is written with masks because gcc 12 will not vectorise `?:` on a
// float compare that picks an int.
template <bool kActivate>
inline __attribute__((always_inline)) void take_larger(const float* __restrict candidate, std::int32_t offset,
                                                       int channels, const float* __restrict bias,
                                                       float floor, float* __restrict best,
                                                       std::int32_t* __restrict arg) {
#pragma omp simd
  for (int ch = 0; ch < channels; ++ch) {
    const float v = window_value<kActivate>(candidate, ch, bias, floor), b = best[ch];
    const std::int32_t wins = -static_cast<std::int32_t>(v > b);  // all ones where v is larger
    best[ch] = std::max(b, v);
    arg[ch] = (arg[ch] & ~wins) | ((offset + ch) & wins);
  }
}

// out[ch] = grad[ch] where this window position (offset + ch) won, else 0.
inline __attribute__((always_inline)) void route_gradient(const float* __restrict grad,
                                                          const std::int32_t* __restrict arg,
                                                          std::int32_t offset, int channels,
                                                          float* __restrict out) {
#pragma omp simd
  for (int ch = 0; ch < channels; ++ch) {
    const float g = grad[ch];  // loaded unconditionally so the select vectorises
    out[ch] = arg[ch] == offset + ch ? g : 0.0f;
  }
}

// One sample; cloned below for AVX-512, AVX2 and the baseline: the loops over channels are the
// whole cost, and the baseline's 4-wide SSE ran cnn's first pool at a quarter of the width.
template <bool kActivate>
inline __attribute__((always_inline)) void pool_forward_body(const float* in, const Shape& s, const Shape& o,
                                                             int pool, int stride, const float* bias,
                                                             float floor, float* out,
                                                             std::int32_t* arg_sample) {
  const int c = s.c;
  for (int oh = 0; oh < o.h; ++oh) {
    for (int ow = 0; ow < o.w; ++ow) {
      const std::size_t at = (static_cast<std::size_t>(oh) * o.w + ow) * c;
      float* __restrict best = out + at;
      std::int32_t* __restrict arg = arg_sample + at;
      // NHWC: every window position is a contiguous run of c values, so the compare and
      // select run across channels in SIMD. Ties keep the first position in (kh, kw) order.
      const std::int32_t first = (oh * stride * s.w + ow * stride) * c;
#pragma omp simd
      for (int ch = 0; ch < c; ++ch) {
        best[ch] = window_value<kActivate>(in + first, ch, bias, floor);
        arg[ch] = first + ch;
      }
      for (int kh = 0; kh < pool; ++kh) {
        for (int kw = kh == 0 ? 1 : 0; kw < pool; ++kw) {
          const std::int32_t offset = ((oh * stride + kh) * s.w + ow * stride + kw) * c;
          take_larger<kActivate>(in + offset, offset, c, bias, floor, best, arg);
        }
      }
    }
  }
}

__attribute__((target_clones("avx512f", "avx2", "default"))) void pool_forward_sample(
    const float* in, const Shape& s, const Shape& o, int pool, int stride, float* out,
    std::int32_t* arg_sample) {
  pool_forward_body<false>(in, s, o, pool, stride, nullptr, 0.0f, out, arg_sample);
}

__attribute__((target_clones("avx512f", "avx2", "default"))) void pool_forward_sample_activated(
    const float* in, const Shape& s, const Shape& o, int pool, int stride, const float* bias, float floor,
    float* out, std::int32_t* arg_sample) {
  pool_forward_body<true>(in, s, o, pool, stride, bias, floor, out, arg_sample);
}

__attribute__((target_clones("avx512f", "avx2", "default"))) void pool_backward_sample(
    const float* dy, const std::int32_t* arg_sample, const Shape& s, const Shape& o, int pool, int stride,
    float* d) {
  const int c = s.c;
  const bool overlapping = stride < pool;
  const bool tiles_input = stride == pool && s.h == o.h * pool && s.w == o.w * pool;
  // Unless the windows tile the input exactly, some pixels get no write below: zero first.
  if (!tiles_input) std::memset(d, 0, sizeof(float) * s.per_sample());
  for (int oh = 0; oh < o.h; ++oh) {
    for (int ow = 0; ow < o.w; ++ow) {
      const std::size_t at = (static_cast<std::size_t>(oh) * o.w + ow) * c;
      const float* __restrict g = dy + at;
      const std::int32_t* __restrict arg = arg_sample + at;
      if (overlapping) {  // a pixel may win several windows: accumulate
        for (int ch = 0; ch < c; ++ch) d[arg[ch]] += g[ch];
        continue;
      }
      // Disjoint windows: write every pixel of the window once (the gradient or 0).
      for (int kh = 0; kh < pool; ++kh) {
        for (int kw = 0; kw < pool; ++kw) {
          const std::int32_t offset = ((oh * stride + kh) * s.w + ow * stride + kw) * c;
          route_gradient(g, arg, offset, c, d + offset);
        }
      }
    }
  }
}

}  // namespace

void MaxPool2D::setup(const Shape& in, int max_batch) {
  argmax_.assign(output_shape(in).with_batch(max_batch).numel(), 0);
}

void MaxPool2D::forward(const Tensor& x, Tensor& y, const ForwardContext& /*ctx*/) {
  const Shape& s = x.shape();
  const Shape o = y.shape();
  for (int i = 0; i < s.n; ++i)
    forward_image(x.data() + i * s.per_sample(), s, i, y.data() + i * o.per_sample());
}

void MaxPool2D::forward_image(const float* in, const Shape& in_shape, int image, float* out) {
  const Shape o = output_shape(in_shape);
  pool_forward_sample(in, in_shape, o, pool_, stride_, out,
                      argmax_.data() + static_cast<std::size_t>(image) * o.per_sample());
}

void MaxPool2D::forward_image_activated(const float* in, const Shape& in_shape, int image, const float* bias,
                                        bool relu, float* out) {
  const Shape o = output_shape(in_shape);
  pool_forward_sample_activated(in, in_shape, o, pool_, stride_, bias,
                                relu ? 0.0f : -std::numeric_limits<float>::infinity(), out,
                                argmax_.data() + static_cast<std::size_t>(image) * o.per_sample());
}

void MaxPool2D::backward(const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) {
  if (!dx) return;
  const Shape& s = x.shape();
  for (int i = 0; i < s.n; ++i)
    backward_image(dy.data() + i * y.shape().per_sample(), s, i, dx->data() + i * s.per_sample());
}

void MaxPool2D::backward_image(const float* dy, const Shape& in_shape, int image, float* dx) const {
  const Shape o = output_shape(in_shape);
  pool_backward_sample(dy, argmax_.data() + static_cast<std::size_t>(image) * o.per_sample(), in_shape, o,
                       pool_, stride_, dx);
}

}  // namespace fmnist
