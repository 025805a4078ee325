// im2col / col2im on NHWC images. A column-matrix row is one output pixel's receptive field;
// within it, each kernel row (kh) reads kernel_w * c values that are contiguous in the image
// when the stride is 1, so the inner loops copy runs of c (or kernel_w * c) floats.
#include "fmnist/math/im2col.h"

#include <algorithm>
#include <cstring>

namespace fmnist {

ConvGeometry make_conv_geometry(int channels, int height, int width, int kernel_h, int kernel_w,
                                int stride, Padding padding) {
  ConvGeometry g;
  g.channels = channels;
  g.height = height;
  g.width = width;
  g.kernel_h = kernel_h;
  g.kernel_w = kernel_w;
  g.stride = stride;
  if (padding == Padding::kValid) {
    g.out_h = height >= kernel_h ? (height - kernel_h) / stride + 1 : 0;
    g.out_w = width >= kernel_w ? (width - kernel_w) / stride + 1 : 0;
  } else {
    // TensorFlow 'SAME': out = ceil(in / s), total pad = max((out - 1) * s + k - in, 0).
    g.out_h = (height + stride - 1) / stride;
    g.out_w = (width + stride - 1) / stride;
    g.pad_top = std::max((g.out_h - 1) * stride + kernel_h - height, 0) / 2;
    g.pad_left = std::max((g.out_w - 1) * stride + kernel_w - width, 0) / 2;
  }
  return g;
}

namespace {

// For output column ow, the kernel columns kw in [first, last) read input columns inside the
// image; the others read padding.
void kernel_range(int ow, const ConvGeometry& g, int* first, int* last) {
  const int left = ow * g.stride - g.pad_left;  // input column under kw = 0
  *first = std::clamp(-left, 0, g.kernel_w);
  *last = std::clamp(g.width - left, *first, g.kernel_w);
}

// Copies runs that are often only a few floats long (c = 1 in a first layer): a plain loop
// beats a memmove call there.
inline void copy_run(const float* __restrict src, int len, float* __restrict dst) {
  for (int j = 0; j < len; ++j) dst[j] = src[j];
}

inline void fill_zero(float* dst, int len) {
  for (int j = 0; j < len; ++j) dst[j] = 0.0f;
}

}  // namespace

void im2col(const float* image, const ConvGeometry& g, float* col) {
  const int c = g.channels, k_cols = g.col_cols(), row_len = g.kernel_w * c;
  for (int oh = 0; oh < g.out_h; ++oh) {
    for (int ow = 0; ow < g.out_w; ++ow) {
      float* __restrict row = col + (static_cast<long>(oh) * g.out_w + ow) * k_cols;
      int kw_first, kw_last;
      kernel_range(ow, g, &kw_first, &kw_last);
      const int left = ow * g.stride - g.pad_left;
      for (int kh = 0; kh < g.kernel_h; ++kh) {
        float* __restrict dst = row + kh * row_len;
        const int ih = oh * g.stride + kh - g.pad_top;
        if (ih < 0 || ih >= g.height) {
          fill_zero(dst, row_len);
          continue;
        }
        const float* __restrict image_row = image + static_cast<long>(ih) * g.width * c;
        fill_zero(dst, kw_first * c);
        if (g.stride == 1) {  // kernel columns kw_first..kw_last read one contiguous run
          const float* src = image_row + static_cast<long>(left + kw_first) * c;
          copy_run(src, (kw_last - kw_first) * c, dst + kw_first * c);
        } else {
          for (int kw = kw_first; kw < kw_last; ++kw) {
            const float* src = image_row + static_cast<long>(left + kw) * c;
            copy_run(src, c, dst + kw * c);
          }
        }
        fill_zero(dst + kw_last * c, row_len - kw_last * c);
      }
    }
  }
}

void col2im(const float* col, const ConvGeometry& g, float* image) {
  const int c = g.channels, k_cols = g.col_cols(), row_len = g.kernel_w * c;
  for (int oh = 0; oh < g.out_h; ++oh) {
    for (int ow = 0; ow < g.out_w; ++ow) {
      const float* __restrict row = col + (static_cast<long>(oh) * g.out_w + ow) * k_cols;
      int kw_first, kw_last;
      kernel_range(ow, g, &kw_first, &kw_last);
      const int left = ow * g.stride - g.pad_left;
      for (int kh = 0; kh < g.kernel_h; ++kh) {
        const int ih = oh * g.stride + kh - g.pad_top;
        if (ih < 0 || ih >= g.height) continue;
        float* __restrict image_row = image + static_cast<long>(ih) * g.width * c;
        const float* __restrict src = row + kh * row_len;
        if (g.stride == 1) {
          float* dst = image_row + static_cast<long>(left + kw_first) * c;
          const float* from = src + kw_first * c;
          const int len = (kw_last - kw_first) * c;
          for (int j = 0; j < len; ++j) dst[j] += from[j];
        } else {
          for (int kw = kw_first; kw < kw_last; ++kw) {
            float* dst = image_row + static_cast<long>(left + kw) * c;
            const float* from = src + kw * c;
            for (int ci = 0; ci < c; ++ci) dst[ci] += from[ci];
          }
        }
      }
    }
  }
}

}  // namespace fmnist
