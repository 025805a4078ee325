// im2col / col2im on NCHW images. Each column-matrix row is a shifted, strided copy of one
// input channel plane, so the inner loops copy contiguous runs of out_w pixels.
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

// For kernel offset k, the output positions o in [first, last) read input o*s + k - pad
// inside [0, size). Everything outside that range reads padding.
void valid_range(int k, int pad, int stride, int size, int out, int* first, int* last) {
  const int shift = k - pad;  // input index = o * stride + shift
  int lo = shift >= 0 ? 0 : (-shift + stride - 1) / stride;
  int hi = size - shift > 0 ? (size - shift - 1) / stride + 1 : 0;
  *first = std::min(lo, out);
  *last = std::max(std::min(hi, out), *first);
}

}  // namespace

void im2col(const float* image, const ConvGeometry& g, float* col, int col_stride) {
  const int oh_n = g.out_h, ow_n = g.out_w, s = g.stride;
  for (int kh = 0; kh < g.kernel_h; ++kh) {
    int oh_first, oh_last;
    valid_range(kh, g.pad_top, s, g.height, oh_n, &oh_first, &oh_last);
    for (int kw = 0; kw < g.kernel_w; ++kw) {
      int ow_first, ow_last;
      valid_range(kw, g.pad_left, s, g.width, ow_n, &ow_first, &ow_last);
      for (int c = 0; c < g.channels; ++c) {
        const int row = (kh * g.kernel_w + kw) * g.channels + c;
        float* out = col + static_cast<long>(row) * col_stride;
        const float* plane = image + static_cast<long>(c) * g.height * g.width;
        // Rows entirely in the padding.
        std::fill(out, out + oh_first * ow_n, 0.0f);
        std::fill(out + oh_last * ow_n, out + oh_n * ow_n, 0.0f);
        for (int oh = oh_first; oh < oh_last; ++oh) {
          float* dst = out + oh * ow_n;
          const float* src = plane + (oh * s + kh - g.pad_top) * g.width + (kw - g.pad_left);
          std::fill(dst, dst + ow_first, 0.0f);
          if (s == 1) {
            std::memcpy(dst + ow_first, src + ow_first, sizeof(float) * (ow_last - ow_first));
          } else {
            for (int ow = ow_first; ow < ow_last; ++ow) dst[ow] = src[ow * s];
          }
          std::fill(dst + ow_last, dst + ow_n, 0.0f);
        }
      }
    }
  }
}

void col2im(const float* col, const ConvGeometry& g, int col_stride, float* image) {
  const int ow_n = g.out_w, s = g.stride;
  for (int kh = 0; kh < g.kernel_h; ++kh) {
    int oh_first, oh_last;
    valid_range(kh, g.pad_top, s, g.height, g.out_h, &oh_first, &oh_last);
    for (int kw = 0; kw < g.kernel_w; ++kw) {
      int ow_first, ow_last;
      valid_range(kw, g.pad_left, s, g.width, ow_n, &ow_first, &ow_last);
      for (int c = 0; c < g.channels; ++c) {
        const int row = (kh * g.kernel_w + kw) * g.channels + c;
        const float* in = col + static_cast<long>(row) * col_stride;
        float* plane = image + static_cast<long>(c) * g.height * g.width;
        for (int oh = oh_first; oh < oh_last; ++oh) {
          const float* src = in + oh * ow_n;
          float* dst = plane + (oh * s + kh - g.pad_top) * g.width + (kw - g.pad_left);
          if (s == 1) {
            for (int ow = ow_first; ow < ow_last; ++ow) dst[ow] += src[ow];
          } else {
            for (int ow = ow_first; ow < ow_last; ++ow) dst[ow * s] += src[ow];
          }
        }
      }
    }
  }
}

}  // namespace fmnist
