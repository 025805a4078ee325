// im2col / col2im on NHWC images. A column-matrix row is one output pixel's receptive field;
// within it, each kernel row (kh) reads kernel_w * c values that are contiguous in the image
// when the stride is 1, so the inner loops copy runs of c (or kernel_w * c) floats.
#include "fmnist/math/im2col.h"

#include <algorithm>

namespace fmnist {

ConvGeometry make_conv_geometry(int channels, int height, int width, int kernel_h, int kernel_w, int stride,
                                Padding padding) {
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

// For kernel column kw, the output columns ow in [first, last) read input columns inside the
// image (the inverse of kernel_range); the others read padding.
void output_range(int kw, const ConvGeometry& g, int* first, int* last) {
  const int shift = kw - g.pad_left;  // input column = ow * stride + shift
  *first = std::min(shift >= 0 ? 0 : (-shift + g.stride - 1) / g.stride, g.out_w);
  const int end = g.width - shift > 0 ? (g.width - shift - 1) / g.stride + 1 : 0;
  *last = std::clamp(end, *first, g.out_w);
}

// A receptive-field row shorter than this many floats (kernel_w * c; 3 for a first layer on
// grey images) is written element by element: a memmove call per run would cost more than
// the copy.
constexpr int kShortRow = 16;

// im2col for short rows, one column of the matrix at a time: for a fixed (oh, kh, kw, ci)
// the out_w entries read one image row, contiguous for stride 1, and are stored k_cols apart.
void im2col_short_rows(const float* image, const ConvGeometry& g, float* col) {
  const int c = g.channels, k_cols = g.col_cols();
  for (int oh = 0; oh < g.out_h; ++oh) {
    float* out_row = col + static_cast<long>(oh) * g.out_w * k_cols;
    for (int kh = 0; kh < g.kernel_h; ++kh) {
      const int ih = oh * g.stride + kh - g.pad_top;
      const bool row_inside = ih >= 0 && ih < g.height;
      for (int kw = 0; kw < g.kernel_w; ++kw) {
        int first, last;
        output_range(kw, g, &first, &last);
        if (!row_inside) last = first;  // the whole kernel row reads padding
        const int shift = kw - g.pad_left;
        for (int ci = 0; ci < c; ++ci) {
          float* __restrict dst = out_row + (kh * g.kernel_w + kw) * c + ci;
          const float* __restrict src = image + static_cast<long>(row_inside ? ih : 0) * g.width * c + ci;
          for (int ow = 0; ow < first; ++ow) dst[ow * k_cols] = 0.0f;
          for (int ow = first; ow < last; ++ow) dst[ow * k_cols] = src[(ow * g.stride + shift) * c];
          for (int ow = last; ow < g.out_w; ++ow) dst[ow * k_cols] = 0.0f;
        }
      }
    }
  }
}

}  // namespace

void im2col(const float* image, const ConvGeometry& g, float* col) {
  const int c = g.channels, k_cols = g.col_cols(), row_len = g.kernel_w * c;
  if (row_len < kShortRow) {
    im2col_short_rows(image, g, col);
    return;
  }
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
          std::fill(dst, dst + row_len, 0.0f);
          continue;
        }
        const float* __restrict image_row = image + static_cast<long>(ih) * g.width * c;
        std::fill(dst, dst + kw_first * c, 0.0f);
        if (g.stride == 1) {  // kernel columns kw_first..kw_last read one contiguous run
          const float* src = image_row + static_cast<long>(left + kw_first) * c;
          std::copy(src, src + (kw_last - kw_first) * c, dst + kw_first * c);
        } else {
          for (int kw = kw_first; kw < kw_last; ++kw) {
            const float* src = image_row + static_cast<long>(left + kw) * c;
            std::copy(src, src + c, dst + kw * c);
          }
        }
        std::fill(dst + kw_last * c, dst + row_len, 0.0f);
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
