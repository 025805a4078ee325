// im2col / col2im on NHWC images, for any range of rows of a batch's column matrix (one tile
// of a tiled convolution). A column-matrix row is one output pixel's receptive field; within
// it, each kernel row (kh) reads kernel_w * c values that are contiguous in the image when the
// stride is 1, so the inner loops copy runs of c (or kernel_w * c) floats.
#include "fmnist/math/im2col.h"

#include <algorithm>
#include <cstring>

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

// For output row oh, the output columns of pixels [first_pixel, end_pixel) (row-major pixel
// index oh * out_w + ow) are [*lo, *hi).
void columns_in_range(int oh, const ConvGeometry& g, int first_pixel, int end_pixel, int* lo, int* hi) {
  *lo = std::max(first_pixel - oh * g.out_w, 0);
  *hi = std::min(end_pixel - oh * g.out_w, g.out_w);
}

// im2col for short rows, one column of the matrix at a time: for a fixed (oh, kh, kw, ci)
// the output columns read one image row, contiguous for stride 1, and are stored k_cols apart.
void im2col_short_rows(const float* image, const ConvGeometry& g, int first_pixel, int end_pixel, float* col) {
  const int c = g.channels, k_cols = g.col_cols();
  for (int oh = first_pixel / g.out_w; oh * g.out_w < end_pixel; ++oh) {
    int lo, hi;
    columns_in_range(oh, g, first_pixel, end_pixel, &lo, &hi);
    float* out_row = col + static_cast<long>(oh * g.out_w + lo - first_pixel) * k_cols;  // pixel (oh, lo)
    for (int kh = 0; kh < g.kernel_h; ++kh) {
      const int ih = oh * g.stride + kh - g.pad_top;
      const bool row_inside = ih >= 0 && ih < g.height;
      for (int kw = 0; kw < g.kernel_w; ++kw) {
        int first, last;
        output_range(kw, g, &first, &last);
        if (!row_inside) last = first;  // the whole kernel row reads padding
        first = std::clamp(first, lo, hi);
        last = std::clamp(last, first, hi);
        const int shift = kw - g.pad_left;
        for (int ci = 0; ci < c; ++ci) {
          float* __restrict dst = out_row + (kh * g.kernel_w + kw) * c + ci;
          const float* __restrict src = image + static_cast<long>(row_inside ? ih : 0) * g.width * c + ci;
          for (int ow = lo; ow < first; ++ow) dst[(ow - lo) * k_cols] = 0.0f;
          for (int ow = first; ow < last; ++ow) dst[(ow - lo) * k_cols] = src[(ow * g.stride + shift) * c];
          for (int ow = last; ow < hi; ++ow) dst[(ow - lo) * k_cols] = 0.0f;
        }
      }
    }
  }
}

// Runs of kernel_w * c floats (96 for cnn's second layer), copied or added 16 at a time as one
// vector value: GCC / clang vector extensions, one zmm in the AVX-512 clones below, two ymm in
// the AVX2 ones, four xmm in the baseline. A std::copy per run was a memmove call each, and the
// calls' overhead, not the bytes, made up most of im2col's time (cnn: 37,000 runs a step).
typedef float Run16 __attribute__((vector_size(16 * sizeof(float))));
// As in direct_conv.cpp: Run16 never crosses a call (these helpers are always inlined into
// the clones), so the ABI note gcc gives for 64-byte vectors does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"

inline __attribute__((always_inline)) void copy_run(const float* __restrict src, int len,
                                                    float* __restrict dst) {
  int j = 0;
  for (; j + 16 <= len; j += 16) {
    Run16 v;
    std::memcpy(&v, src + j, sizeof(v));
    std::memcpy(dst + j, &v, sizeof(v));
  }
  for (; j < len; ++j) dst[j] = src[j];
}

inline __attribute__((always_inline)) void add_run(const float* __restrict src, int len,
                                                   float* __restrict dst) {
  int j = 0;
  for (; j + 16 <= len; j += 16) {
    Run16 a, b;
    std::memcpy(&a, src + j, sizeof(a));
    std::memcpy(&b, dst + j, sizeof(b));
    b += a;
    std::memcpy(dst + j, &b, sizeof(b));
  }
  for (; j < len; ++j) dst[j] += src[j];
}

// Calls visit(image index, first pixel, pixel count, row offset within the range) for each
// image's share of the rows [first_row, first_row + rows) of a batch's (n * out_pixels, K)
// column matrix: a tile of rows may start and end inside an image and span several.
template <typename Visit>
void for_each_image_share(const ConvGeometry& g, long first_row, int rows, Visit visit) {
  const long pixels = g.out_pixels();
  for (long row = first_row, end = first_row + rows; row < end;) {
    const long image = row / pixels;
    const int pixel = static_cast<int>(row - image * pixels);
    const int count = static_cast<int>(std::min(pixels - pixel, end - row));
    visit(image, pixel, count, static_cast<int>(row - first_row));
    row += count;
  }
}

// im2col of pixels [first_pixel, first_pixel + pixels) of one image into (pixels, K) rows.
__attribute__((target_clones("avx512f", "avx2", "default"))) void im2col_pixels(const float* image,
                                                                                const ConvGeometry& g,
                                                                                int first_pixel, int pixels,
                                                                                float* col) {
  const int c = g.channels, k_cols = g.col_cols(), row_len = g.kernel_w * c;
  const int end_pixel = first_pixel + pixels;
  if (pixels <= 0) return;
  if (row_len < kShortRow) {
    im2col_short_rows(image, g, first_pixel, end_pixel, col);
    return;
  }
  for (int oh = first_pixel / g.out_w; oh * g.out_w < end_pixel; ++oh) {
    int lo, hi;
    columns_in_range(oh, g, first_pixel, end_pixel, &lo, &hi);
    for (int ow = lo; ow < hi; ++ow) {
      float* __restrict row = col + static_cast<long>(oh * g.out_w + ow - first_pixel) * k_cols;
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
          copy_run(image_row + static_cast<long>(left + kw_first) * c, (kw_last - kw_first) * c,
                   dst + kw_first * c);
        } else {
          for (int kw = kw_first; kw < kw_last; ++kw)
            copy_run(image_row + static_cast<long>(left + kw) * c, c, dst + kw * c);
        }
        std::fill(dst + kw_last * c, dst + row_len, 0.0f);
      }
    }
  }
}

// The adjoint of im2col_pixels: accumulates (pixels, K) rows into the image.
__attribute__((target_clones("avx512f", "avx2", "default"))) void col2im_pixels(const float* col,
                                                                                const ConvGeometry& g,
                                                                                int first_pixel, int pixels,
                                                                                float* image) {
  const int c = g.channels, k_cols = g.col_cols(), row_len = g.kernel_w * c;
  const int end_pixel = first_pixel + pixels;
  if (pixels <= 0) return;
  for (int oh = first_pixel / g.out_w; oh * g.out_w < end_pixel; ++oh) {
    int lo, hi;
    columns_in_range(oh, g, first_pixel, end_pixel, &lo, &hi);
    for (int ow = lo; ow < hi; ++ow) {
      const float* __restrict row = col + static_cast<long>(oh * g.out_w + ow - first_pixel) * k_cols;
      int kw_first, kw_last;
      kernel_range(ow, g, &kw_first, &kw_last);
      const int left = ow * g.stride - g.pad_left;
      for (int kh = 0; kh < g.kernel_h; ++kh) {
        const int ih = oh * g.stride + kh - g.pad_top;
        if (ih < 0 || ih >= g.height) continue;
        float* __restrict image_row = image + static_cast<long>(ih) * g.width * c;
        const float* __restrict src = row + kh * row_len;
        if (g.stride == 1) {
          add_run(src + kw_first * c, (kw_last - kw_first) * c,
                  image_row + static_cast<long>(left + kw_first) * c);
        } else {
          for (int kw = kw_first; kw < kw_last; ++kw)
            add_run(src + kw * c, c, image_row + static_cast<long>(left + kw) * c);
        }
      }
    }
  }
}

}  // namespace

void im2col(const float* image, const ConvGeometry& g, float* col) {
  im2col_pixels(image, g, 0, g.out_pixels(), col);
}

void col2im(const float* col, const ConvGeometry& g, float* image) {
  col2im_pixels(col, g, 0, g.out_pixels(), image);
}

void im2col_batch_rows(const float* batch, const ConvGeometry& g, long first_row, int rows, float* col) {
  const long image_size = static_cast<long>(g.height) * g.width * g.channels;
  for_each_image_share(g, first_row, rows, [&](long image, int pixel, int count, int offset) {
    im2col_pixels(batch + image * image_size, g, pixel, count, col + static_cast<long>(offset) * g.col_cols());
  });
}

void col2im_batch_rows(const float* col, const ConvGeometry& g, long first_row, int rows, float* batch) {
  const long image_size = static_cast<long>(g.height) * g.width * g.channels;
  for_each_image_share(g, first_row, rows, [&](long image, int pixel, int count, int offset) {
    col2im_pixels(col + static_cast<long>(offset) * g.col_cols(), g, pixel, count,
                  batch + image * image_size);
  });
}

}  // namespace fmnist
