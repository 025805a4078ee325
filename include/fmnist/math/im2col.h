// im2col / col2im for 2-D convolution on NCHW images, writing one image's columns into a
// batch-wide column matrix so a whole batch is convolved by a single GEMM.
#pragma once

namespace fmnist {

/// Geometry of one Conv2D (or pooling window) applied to a (c, h, w) image.
struct ConvGeometry {
  int channels = 0, height = 0, width = 0;
  int kernel_h = 0, kernel_w = 0;
  int stride = 1;
  int pad_top = 0, pad_left = 0;  // zero padding; bottom/right padding is implied by out_*
  int out_h = 0, out_w = 0;

  /// Rows of the column matrix: one per (kh, kw, c), in that order (Keras' kernel layout).
  int col_rows() const { return kernel_h * kernel_w * channels; }
  int out_pixels() const { return out_h * out_w; }
};

enum class Padding { kValid, kSame };

/// Keras' rules: 'valid' uses no padding, out = floor((in - k) / s) + 1; 'same' gives
/// out = ceil(in / s) and splits the padding with the extra pixel at the bottom/right.
ConvGeometry make_conv_geometry(int channels, int height, int width, int kernel_h, int kernel_w,
                                int stride, Padding padding);

/// Writes `image` (c, h, w) into columns [0, out_pixels) of `col`, a row-major matrix of
/// col_rows() rows whose row stride is `col_stride` (= batch * out_pixels for a batch).
/// Row (kh * kernel_w + kw) * c + ci holds input pixel (ci, oh*s + kh - pad_top, ow*s + kw - pad_left),
/// or 0 where that lies in the padding.
void im2col(const float* image, const ConvGeometry& g, float* col, int col_stride);

/// The adjoint of im2col: ACCUMULATES every column entry back into `image` (c, h, w).
/// The caller zeroes `image` first when it wants the plain gradient.
void col2im(const float* col, const ConvGeometry& g, int col_stride, float* image);

}  // namespace fmnist
