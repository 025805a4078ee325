// im2col / col2im for 2-D convolution on NHWC images. One image's column matrix is
// (out_h*out_w, kh*kw*c): one row per output pixel, holding its receptive field in Keras'
// kernel order, so a batch's matrices stack into one (n*out_h*out_w, K) matrix, and any block
// of its rows times the (K, filters) kernel gives the same rows of the NHWC output. A tiled
// convolution builds one block of rows (a tile) at a time, never the whole matrix.
#pragma once

namespace fmnist {

/// Geometry of one Conv2D applied to an (h, w, c) image.
struct ConvGeometry {
  int channels = 0, height = 0, width = 0;
  int kernel_h = 0, kernel_w = 0;
  int stride = 1;
  int pad_top = 0, pad_left = 0;  // zero padding; bottom/right padding is implied by out_*
  int out_h = 0, out_w = 0;

  /// Columns of the column matrix, K: one per (kh, kw, c), in that order (Keras' kernel layout).
  int col_cols() const { return kernel_h * kernel_w * channels; }
  int out_pixels() const { return out_h * out_w; }
};

enum class Padding { kValid, kSame };

/// Keras' rules: 'valid' uses no padding, out = floor((in - k) / s) + 1; 'same' gives
/// out = ceil(in / s) and splits the padding with the extra pixel at the bottom/right.
ConvGeometry make_conv_geometry(int channels, int height, int width, int kernel_h, int kernel_w,
                                int stride, Padding padding);

/// Writes `image` (h, w, c) as the (out_pixels, K) row-major matrix `col`.
/// Entry (oh * out_w + ow, (kh * kernel_w + kw) * c + ci) holds input pixel
/// (oh*s + kh - pad_top, ow*s + kw - pad_left, ci), or 0 where that lies in the padding.
void im2col(const float* image, const ConvGeometry& g, float* col);

/// The adjoint of im2col: ACCUMULATES every entry of `col` (out_pixels, K) back into
/// `image` (h, w, c). The caller zeroes `image` first when it wants the plain gradient.
void col2im(const float* col, const ConvGeometry& g, float* image);

/// Writes rows [first_row, first_row + rows) of the (n * out_pixels, K) column matrix of the
/// NHWC batch `batch` (n, h, w, c) into `col` (rows, K). Row r is pixel r % out_pixels of image
/// r / out_pixels; a range may start and end inside an image and span several.
void im2col_batch_rows(const float* batch, const ConvGeometry& g, long first_row, int rows, float* col);

/// The adjoint of im2col_batch_rows: ACCUMULATES `col` (rows, K), rows [first_row, first_row +
/// rows) of the column matrix, into `batch` (n, h, w, c). Neighbouring ranges share input
/// pixels at their boundaries, so zero the batch once, then add every range.
void col2im_batch_rows(const float* col, const ConvGeometry& g, long first_row, int rows, float* batch);

}  // namespace fmnist
