// Direct convolution of single-channel NHWC images. Per image, the input is first copied into
// a zero-padded frame, so every tap of every output pixel reads inside it without bounds
// tests. 3x3 kernels with a multiple of 16 filters (every preset's first layer) then take a
// register-blocked path (also with a following 2x2 max pool, computed in registers: a window's
// four pixels, then its winner); any other shape a plain loop over pixels, taps and filters. Each
// entry point is cloned for AVX-512, AVX2 + FMA and the baseline, so the F-wide loops use the
// widest vectors the CPU has.
#include "fmnist/math/direct_conv.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace fmnist {
namespace {

// The fast path: 3x3 kernels and filters in blocks of kBlock, one vector register of
// AVX-512 (two of AVX2). Per block of filters, the 9 taps' weights (forward) or the 9 taps'
// gradient sums (backward) stay in registers while the loop runs over the image's pixels.
constexpr int kBlock = 16;
constexpr int kTaps = 9;

bool takes_fast_path(const ConvGeometry& g, int filters) {
  return g.kernel_h == 3 && g.kernel_w == 3 && filters % kBlock == 0;
}

// frame (frame_h, frame_w) = the image with pad_top / pad_left zeros before it and zeros after.
inline __attribute__((always_inline)) void fill_frame(const float* image, const ConvGeometry& g, int frame_h,
                                                      int frame_w, float* frame) {
  // Per row: the left padding, the image row (or zeros above and below the image), the rest.
  const int left = std::min(g.pad_left, frame_w), inside = std::clamp(g.width, 0, frame_w - left);
  for (int r = 0; r < frame_h; ++r) {
    const int ih = r - g.pad_top;
    float* __restrict out = frame + static_cast<long>(r) * frame_w;
    for (int c = 0; c < left; ++c) out[c] = 0.0f;
    if (ih >= 0 && ih < g.height) {
      const float* __restrict in = image + static_cast<long>(ih) * g.width;
      for (int c = 0; c < inside; ++c) out[left + c] = in[c];
    } else {
      for (int c = 0; c < inside; ++c) out[left + c] = 0.0f;
    }
    for (int c = left + inside; c < frame_w; ++c) out[c] = 0.0f;
  }
}

inline int frame_rows(const ConvGeometry& g) { return (g.out_h - 1) * g.stride + g.kernel_h; }
inline int frame_cols(const ConvGeometry& g) { return (g.out_w - 1) * g.stride + g.kernel_w; }

// Offset in the frame of output pixel p's top-left tap.
inline long frame_offset(const ConvGeometry& g, int frame_w, int p) {
  const int oh = p / g.out_w, ow = p - oh * g.out_w;
  return static_cast<long>(oh) * g.stride * frame_w + ow * g.stride;
}

// kBlock floats as one value: GCC / clang vector extensions, lowered to whatever registers the
// clone's target has (one zmm, two ymm or four xmm). Loaded and stored with memcpy, which
// compiles to unaligned vector moves.
typedef float Vec __attribute__((vector_size(sizeof(float) * kBlock)));
// gcc and clang note that passing a 64-byte vector to or from a function built for the
// baseline differs between ABIs; these helpers are always inlined into the clones, so no call
// crosses that line. No lambda may take or return a Vec: a lambda is built for the baseline,
// and clang then passes the vector in SSE registers, losing 12 of its 16 lanes.
#pragma GCC diagnostic ignored "-Wpsabi"

inline __attribute__((always_inline)) Vec load(const float* p) {
  Vec v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}
inline __attribute__((always_inline)) void store(float* p, Vec v) { std::memcpy(p, &v, sizeof(v)); }

inline __attribute__((always_inline)) void forward_3x3(const float* frame, int frame_w, const ConvGeometry& g,
                                                       const float* kernel, const float* bias, int filters,
                                                       bool relu, float* y_image) {
  const Vec zero = {};
  const long row_step = static_cast<long>(g.stride) * frame_w;
  for (int f0 = 0; f0 < filters; f0 += kBlock) {
    Vec w[kTaps];
    for (int t = 0; t < kTaps; ++t) w[t] = load(kernel + t * filters + f0);
    const Vec b = load(bias + f0);
    float* out = y_image + f0;
    for (int oh = 0; oh < g.out_h; ++oh) {
      const float* row = frame + oh * row_step;
      for (int ow = 0; ow < g.out_w; ++ow, out += filters) {
        const float* at = row + ow * g.stride;
        Vec acc = b;
        for (int kh = 0; kh < 3; ++kh)
          for (int kw = 0; kw < 3; ++kw) acc += at[kh * frame_w + kw] * w[kh * 3 + kw];
        if (relu) acc = acc > zero ? acc : zero;
        store(out, acc);
      }
    }
  }
}

// One pixel's gradient for a block of filters, masked where the ReLU output was 0 (and written
// back masked when keep_masked). y_image is read only with relu (the fused pool path passes null).
inline __attribute__((always_inline)) Vec masked_grad(float* dy_image, const float* y_image, long at, bool relu,
                                                      bool keep_masked) {
  float* grad_at = dy_image + at;
  Vec grad = load(grad_at);
  if (relu) {
    const Vec zero = {};
    grad = load(y_image + at) > zero ? grad : zero;
    if (keep_masked) store(grad_at, grad);
  }
  return grad;
}

// A block of filters' dkernel and dbias sums, in two sets for even and odd output columns:
// each sum then waits on its own FMA every other pixel, not every pixel (the FMA latency, not
// its throughput, bounded the loop). The even set starts from the sums so far.
struct GradSums {
  Vec even[kTaps], odd[kTaps], bias_even, bias_odd;
};
inline __attribute__((always_inline)) void load_sums(const float* dkernel, const float* dbias, int filters,
                                                     int f0, GradSums& sums) {
  const Vec zero = {};
  for (int t = 0; t < kTaps; ++t) {
    sums.even[t] = load(dkernel + t * filters + f0);
    sums.odd[t] = zero;
  }
  sums.bias_even = load(dbias + f0);
  sums.bias_odd = zero;
}
inline __attribute__((always_inline)) void store_sums(const GradSums& sums, int filters, int f0,
                                                      float* dkernel, float* dbias) {
  for (int t = 0; t < kTaps; ++t) store(dkernel + t * filters + f0, sums.even[t] + sums.odd[t]);
  store(dbias + f0, sums.bias_even + sums.bias_odd);
}

// dkernel and dbias += this image's sums; dy masked by the ReLU on the fly (and written back
// masked when keep_masked).
inline __attribute__((always_inline)) void param_grads_3x3(const float* frame, int frame_w,
                                                           const ConvGeometry& g, const float* y_image,
                                                           bool relu, float* dy_image, bool keep_masked,
                                                           int filters, float* dkernel, float* dbias) {
  const long row_step = static_cast<long>(g.stride) * frame_w;
  for (int f0 = 0; f0 < filters; f0 += kBlock) {
    GradSums sums;
    load_sums(dkernel, dbias, filters, f0, sums);
    for (int oh = 0; oh < g.out_h; ++oh) {
      const float* row = frame + oh * row_step;
      const long p0 = static_cast<long>(oh) * g.out_w;
      int ow = 0;
      for (; ow + 1 < g.out_w; ow += 2) {
        const float* at = row + ow * g.stride;
        const float* next = at + g.stride;
        const long p = p0 + ow;
        const Vec grad = masked_grad(dy_image, y_image, p * filters + f0, relu, keep_masked);
        const Vec grad_next = masked_grad(dy_image, y_image, (p + 1) * filters + f0, relu, keep_masked);
        sums.bias_even += grad;
        sums.bias_odd += grad_next;
        for (int kh = 0; kh < 3; ++kh)
          for (int kw = 0; kw < 3; ++kw) {
            sums.even[kh * 3 + kw] += at[kh * frame_w + kw] * grad;
            sums.odd[kh * 3 + kw] += next[kh * frame_w + kw] * grad_next;
          }
      }
      if (ow < g.out_w) {
        const float* at = row + ow * g.stride;
        const long p = p0 + ow;
        const Vec grad = masked_grad(dy_image, y_image, p * filters + f0, relu, keep_masked);
        sums.bias_even += grad;
        for (int kh = 0; kh < 3; ++kh)
          for (int kw = 0; kw < 3; ++kw) sums.even[kh * 3 + kw] += at[kh * frame_w + kw] * grad;
      }
    }
    store_sums(sums, filters, f0, dkernel, dbias);
  }
}

typedef std::int32_t VecI __attribute__((vector_size(sizeof(std::int32_t) * kBlock)));

inline __attribute__((always_inline)) VecI load_index(const std::int32_t* p) {
  VecI v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}
inline __attribute__((always_inline)) void store_index(std::int32_t* p, VecI v) {
  std::memcpy(p, &v, sizeof(v));
}

// {0, 1, ..., kBlock - 1}: added to a pixel's offset, the offsets of a block's channels.
inline __attribute__((always_inline)) VecI lane_offsets() {
  VecI lanes;
  for (int l = 0; l < kBlock; ++l) lanes[l] = l;
  return lanes;
}

// The 2x2-pooled forward: per window, its four output pixels in registers (four independent
// FMA chains), each summed in forward_3x3's order, then MaxPool2D's compare in (kh, kw) order
// (a later pixel wins only when larger), so the pooled values and winners are the unfused
// layers' own. Only the window's winner and its offset are stored. The activation and a
// stride of 1 are template arguments, so the loop has no branch and its 16 loads per window
// are four row pointers with constant offsets (kStride 0: g.stride at run time).
template <bool kRelu, int kStride>
inline __attribute__((always_inline)) void forward_pool2_3x3(const float* frame, int frame_w,
                                                             const ConvGeometry& g, const float* kernel,
                                                             const float* bias, int filters, float* pooled,
                                                             std::int32_t* argmax) {
  const Vec zero = {};
  const int stride = kStride > 0 ? kStride : g.stride;
  const long row_step = static_cast<long>(stride) * frame_w;
  const int pooled_h = g.out_h / 2, pooled_w = g.out_w / 2;
  // Offsets of the window's pixels (0, 1), (1, 0), (1, 1) from its pixel (0, 0) in the output.
  const std::int32_t below = g.out_w * filters, winner_offset[4] = {0, filters, below, below + filters};
  for (int f0 = 0; f0 < filters; f0 += kBlock) {
    Vec w[kTaps];
    for (int t = 0; t < kTaps; ++t) w[t] = load(kernel + t * filters + f0);
    const Vec b = load(bias + f0);
    for (int ph = 0; ph < pooled_h; ++ph) {
      const float* top = frame + 2 * ph * row_step;
      VecI first = lane_offsets() + (2 * ph * g.out_w * filters + f0);
      const long q0 = static_cast<long>(ph) * pooled_w * filters + f0;
      for (int pw = 0; pw < pooled_w; ++pw, top += 2 * stride, first += 2 * filters) {
        Vec v[4];
        for (int k = 0; k < 4; ++k) {
          const float* at = top + (k / 2) * row_step + (k % 2) * stride;
          Vec acc = b;
          for (int kh = 0; kh < 3; ++kh)
            for (int kw = 0; kw < 3; ++kw) acc += at[kh * frame_w + kw] * w[kh * 3 + kw];
          v[k] = kRelu ? (acc > zero ? acc : zero) : acc;
        }
        Vec best = v[0];
        VecI arg = first;
        for (int k = 1; k < 4; ++k) {
          const VecI wins = v[k] > best;
          best = wins ? v[k] : best;
          arg = wins ? first + winner_offset[k] : arg;
        }
        store(pooled + q0 + pw * filters, best);
        store_index(argmax + q0 + pw * filters, arg);
      }
    }
  }
}

// The 2x2-pooled parameter gradients: each window's gradient (masked where the pooled value
// is not above 0, with kMask) goes to its winner's channels and is 0 elsewhere; the pixels
// are visited row by row in pairs of columns, as param_grads_3x3 visits them, into the same
// even / odd sums, so the floats are those of routing dy and calling it. Pixels in no window
// (the last row or column of an odd size) have no gradient and are skipped.
template <bool kMask, int kStride>
inline __attribute__((always_inline)) void param_grads_pool2_3x3(const float* frame, int frame_w,
                                                                 const ConvGeometry& g, const float* mask_by,
                                                                 const float* dpooled,
                                                                 const std::int32_t* argmax, int filters,
                                                                 float* dkernel, float* dbias) {
  const Vec zero = {};
  const int stride = kStride > 0 ? kStride : g.stride;
  const long row_step = static_cast<long>(stride) * frame_w;
  const int pooled_h = g.out_h / 2, pooled_w = g.out_w / 2;
  for (int f0 = 0; f0 < filters; f0 += kBlock) {
    GradSums sums;
    load_sums(dkernel, dbias, filters, f0, sums);
    for (int oh = 0; oh < 2 * pooled_h; ++oh) {
      const float* at = frame + oh * row_step;
      VecI left = lane_offsets() + (oh * g.out_w * filters + f0);
      const long q0 = static_cast<long>(oh / 2) * pooled_w * filters + f0;
      for (int pw = 0; pw < pooled_w; ++pw, at += 2 * stride, left += 2 * filters) {
        const long q = q0 + pw * filters;
        Vec grad = load(dpooled + q);
        if (kMask) grad = load(mask_by + q) > zero ? grad : zero;
        const VecI arg = load_index(argmax + q);
        const Vec grad_left = arg == left ? grad : zero;
        const Vec grad_right = arg == left + filters ? grad : zero;
        sums.bias_even += grad_left;
        sums.bias_odd += grad_right;
        const float* next = at + stride;
        for (int kh = 0; kh < 3; ++kh)
          for (int kw = 0; kw < 3; ++kw) {
            sums.even[kh * 3 + kw] += at[kh * frame_w + kw] * grad_left;
            sums.odd[kh * 3 + kw] += next[kh * frame_w + kw] * grad_right;
          }
      }
    }
    store_sums(sums, filters, f0, dkernel, dbias);
  }
}

}  // namespace

long direct_conv_frame_size(const ConvGeometry& g) {
  return static_cast<long>(frame_rows(g)) * frame_cols(g);
}

__attribute__((target_clones("avx512f", "fma", "default"))) void direct_conv_forward(
    const float* x, int n, const ConvGeometry& g, const float* kernel, const float* bias, int filters,
    bool relu, float* frame, float* y) {
  const long image_size = static_cast<long>(g.height) * g.width,
             out_size = static_cast<long>(g.out_pixels()) * filters;
  const int frame_h = frame_rows(g), frame_w = frame_cols(g), pixels = g.out_pixels();
  for (int i = 0; i < n; ++i) {
    fill_frame(x + i * image_size, g, frame_h, frame_w, frame);
    float* y_image = y + i * out_size;
    if (takes_fast_path(g, filters)) {
      forward_3x3(frame, frame_w, g, kernel, bias, filters, relu, y_image);
      continue;
    }
    for (int p = 0; p < pixels; ++p) {
      const float* at = frame + frame_offset(g, frame_w, p);
      float* __restrict out = y_image + static_cast<long>(p) * filters;
      std::memcpy(out, bias, sizeof(float) * filters);
      for (int kh = 0; kh < g.kernel_h; ++kh)
        for (int kw = 0; kw < g.kernel_w; ++kw) {
          const float v = at[kh * frame_w + kw];
          const float* __restrict tap = kernel + (kh * g.kernel_w + kw) * filters;
          for (int f = 0; f < filters; ++f) out[f] += v * tap[f];
        }
      if (relu)
        for (int f = 0; f < filters; ++f) out[f] = std::max(out[f], 0.0f);
    }
  }
}

__attribute__((target_clones("avx512f", "fma", "default"))) void direct_conv_param_grads(
    const float* x, int n, const ConvGeometry& g, const float* y, bool relu, float* dy, bool keep_masked,
    int filters, float* frame, bool accumulate, float* dkernel, float* dbias) {
  const long image_size = static_cast<long>(g.height) * g.width,
             out_size = static_cast<long>(g.out_pixels()) * filters;
  const int frame_h = frame_rows(g), frame_w = frame_cols(g), pixels = g.out_pixels();
  if (!accumulate) {
    std::memset(dkernel, 0, sizeof(float) * g.kernel_h * g.kernel_w * filters);
    std::memset(dbias, 0, sizeof(float) * filters);
  }
  for (int i = 0; i < n; ++i) {
    fill_frame(x + i * image_size, g, frame_h, frame_w, frame);
    float* dy_image = dy + i * out_size;
    const float* y_image = relu ? y + i * out_size : nullptr;  // y may be null without relu
    if (takes_fast_path(g, filters)) {
      param_grads_3x3(frame, frame_w, g, y_image, relu, dy_image, keep_masked, filters, dkernel, dbias);
      continue;
    }
    for (int p = 0; p < pixels; ++p) {
      const float* at = frame + frame_offset(g, frame_w, p);
      float* __restrict grad = dy_image + static_cast<long>(p) * filters;
      if (relu) {
        const float* __restrict out = y_image + static_cast<long>(p) * filters;
        for (int f = 0; f < filters; ++f)
          if (!(out[f] > 0.0f)) grad[f] = 0.0f;
      }
      for (int f = 0; f < filters; ++f) dbias[f] += grad[f];
      for (int kh = 0; kh < g.kernel_h; ++kh)
        for (int kw = 0; kw < g.kernel_w; ++kw) {
          const float v = at[kh * frame_w + kw];
          float* __restrict tap = dkernel + (kh * g.kernel_w + kw) * filters;
          for (int f = 0; f < filters; ++f) tap[f] += v * grad[f];
        }
    }
  }
}

__attribute__((target_clones("avx512f", "fma", "default"))) void direct_conv_input_grad(
    const float* dy, int n, const ConvGeometry& g, const float* kernel, int filters, float* frame,
    float* dx) {
  const long image_size = static_cast<long>(g.height) * g.width,
             out_size = static_cast<long>(g.out_pixels()) * filters;
  const int frame_h = frame_rows(g), frame_w = frame_cols(g), pixels = g.out_pixels();
  for (int i = 0; i < n; ++i) {
    // The gradient of the whole frame, then its part inside the image (the padding has none).
    std::memset(frame, 0, sizeof(float) * frame_h * frame_w);
    for (int p = 0; p < pixels; ++p) {
      float* at = frame + frame_offset(g, frame_w, p);
      const float* __restrict grad = dy + i * out_size + static_cast<long>(p) * filters;
      for (int kh = 0; kh < g.kernel_h; ++kh)
        for (int kw = 0; kw < g.kernel_w; ++kw) {
          const float* __restrict tap = kernel + (kh * g.kernel_w + kw) * filters;
          float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
          for (int f = 0; f < filters; ++f) sum += grad[f] * tap[f];
          at[kh * frame_w + kw] += sum;
        }
    }
    float* image = dx + i * image_size;
    for (int ih = 0; ih < g.height; ++ih)
      for (int iw = 0; iw < g.width; ++iw) {
        const int r = ih + g.pad_top, c = iw + g.pad_left;
        image[ih * g.width + iw] =
            (r < frame_h && c < frame_w) ? frame[static_cast<long>(r) * frame_w + c] : 0.0f;
      }
  }
}

bool direct_conv_pool2_applies(const ConvGeometry& g, int filters) {
  return takes_fast_path(g, filters) && g.out_h >= 2 && g.out_w >= 2;
}

__attribute__((target_clones("avx512f", "fma", "default"))) void direct_conv_pool2_forward(
    const float* x, int n, const ConvGeometry& g, const float* kernel, const float* bias, int filters,
    bool relu, float* frame, float* pooled, std::int32_t* argmax) {
  const long image_size = static_cast<long>(g.height) * g.width,
             pooled_size = static_cast<long>(g.out_h / 2) * (g.out_w / 2) * filters;
  const int frame_h = frame_rows(g), frame_w = frame_cols(g);
  for (int i = 0; i < n; ++i) {
    fill_frame(x + i * image_size, g, frame_h, frame_w, frame);
    float* out = pooled + i * pooled_size;
    std::int32_t* winners = argmax + i * pooled_size;
    if (g.stride == 1 && relu)
      forward_pool2_3x3<true, 1>(frame, frame_w, g, kernel, bias, filters, out, winners);
    else if (g.stride == 1)
      forward_pool2_3x3<false, 1>(frame, frame_w, g, kernel, bias, filters, out, winners);
    else if (relu)
      forward_pool2_3x3<true, 0>(frame, frame_w, g, kernel, bias, filters, out, winners);
    else
      forward_pool2_3x3<false, 0>(frame, frame_w, g, kernel, bias, filters, out, winners);
  }
}

__attribute__((target_clones("avx512f", "fma", "default"))) void direct_conv_pool2_param_grads(
    const float* x, int n, const ConvGeometry& g, const float* mask_by, const float* dpooled,
    const std::int32_t* argmax, int filters, float* frame, float* dkernel, float* dbias) {
  const long image_size = static_cast<long>(g.height) * g.width,
             pooled_size = static_cast<long>(g.out_h / 2) * (g.out_w / 2) * filters;
  const int frame_h = frame_rows(g), frame_w = frame_cols(g);
  std::memset(dkernel, 0, sizeof(float) * kTaps * filters);
  std::memset(dbias, 0, sizeof(float) * filters);
  for (int i = 0; i < n; ++i) {
    fill_frame(x + i * image_size, g, frame_h, frame_w, frame);
    const float* mask = mask_by ? mask_by + i * pooled_size : nullptr;
    const float* grad = dpooled + i * pooled_size;
    const std::int32_t* winners = argmax + i * pooled_size;
    if (g.stride == 1 && mask)
      param_grads_pool2_3x3<true, 1>(frame, frame_w, g, mask, grad, winners, filters, dkernel, dbias);
    else if (g.stride == 1)
      param_grads_pool2_3x3<false, 1>(frame, frame_w, g, mask, grad, winners, filters, dkernel, dbias);
    else if (mask)
      param_grads_pool2_3x3<true, 0>(frame, frame_w, g, mask, grad, winners, filters, dkernel, dbias);
    else
      param_grads_pool2_3x3<false, 0>(frame, frame_w, g, mask, grad, winners, filters, dkernel, dbias);
  }
}

}  // namespace fmnist
