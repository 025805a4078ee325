// Conv2D through im2col + GEMM in cache-sized tiles of output pixels, with bias and
// activation applied while a tile is hot; a single-channel input layer by direct loops.
#pragma once

#include "fmnist/core/aligned_vector.h"
#include "fmnist/math/im2col.h"
#include "fmnist/nn/activation.h"
#include "fmnist/nn/layer.h"

namespace fmnist {

class MaxPool2D;

/// How a Conv2D computes. kAuto: direct loops for a single input channel (see
/// math/direct_conv.h), else im2col + GEMM in tiles. Tests force either.
enum class ConvAlgorithm { kAuto, kIm2colGemm, kDirect };

struct Conv2DOptions {
  int filters = 0;
  int kernel = 3;  // square kernel_size
  int stride = 1;
  Padding padding = Padding::kValid;
  Activation activation = Activation::kRelu;
  /// Output pixels (rows of the batch's column matrix) per tile; 0 derives it from the L2
  /// cache size and the layer's shape. Tests set it to force many tiles.
  int tile_rows = 0;
  /// kDirect needs a single input channel.
  ConvAlgorithm algorithm = ConvAlgorithm::kAuto;
};

/// Keras Conv2D on NHWC input. kernel (kh, kw, in_channels, filters) as Keras stores it,
/// which read as a (kh*kw*c, filters) matrix matches the im2col column order; bias (filters).
class Conv2D : public Layer {
 public:
  explicit Conv2D(const Conv2DOptions& options) : options_(options) {}

  std::string type_name() const override { return "Conv2D"; }
  std::string base_name() const override { return "conv2d"; }
  std::string spec() const override;
  Shape output_shape(const Shape& in) const override;
  std::vector<ParamSpec> param_specs(const Shape& in) const override;
  void bind_params(const std::vector<ParamBinding>& params) override;
  void setup(const Shape& in, int max_batch) override;
  void forward(const Tensor& x, Tensor& y, const ForwardContext& ctx) override;
  void backward(const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) override;

  const Conv2DOptions& options() const { return options_; }

  /// Whether this layer can run together with `pool`, the MaxPool2D that follows it
  /// (Sequential then calls the two functions below instead of both layers' forward and
  /// backward), and if so allocates the pair's buffer: ReLU or linear activation, disjoint
  /// windows, and either direct loops or im2col tiles of whole images with dx by dcol. Call
  /// after setup.
  bool prepare_pool_fusion(const MaxPool2D& pool);
  /// pooled = pool.forward(this->forward(x)), one image (direct) or one tile of images at a
  /// time, without this layer's output tensor; records pool's argmax as its forward would.
  void forward_pooled(const Tensor& x, MaxPool2D& pool, Tensor& pooled);
  /// backward of both layers from dpooled (clobbered) after forward_pooled: this layer's
  /// parameter gradients and, unless null, dx; the same values as the two backward calls (an
  /// im2col layer sums its bias gradient over dpooled: the same terms in another order).
  void backward_pooled(const Tensor& x, const MaxPool2D& pool, const Tensor& pooled, Tensor& dpooled,
                       Tensor* dx);

 private:
  ConvGeometry geometry(const Shape& in) const;
  void add_bias_and_activate(float* y, int rows) const;
  /// dy rows (rows, F) masked in place where the ReLU output y was 0 (y null: not masked); db
  /// += their column sums.
  void mask_and_sum_bias(const float* y, long rows, float* dy, float* db) const;
  /// One tile of output pixels [first, first + m) from its masked dy (m, F): dW (+)= its share
  /// (overwritten at first == 0) and, unless dx is null, its dcol added into dx.
  void backward_tile(const Tensor& x, long first, int m, const float* tile_dy, Tensor* dx);
  /// kernel_t_ = W^T, for the dcol products of a backward pass.
  void transpose_kernel();
  /// dx = the convolution of the (masked) dy with the flipped kernel, for 'same' stride 1.
  void input_grad_by_convolution(const Tensor& dy, Tensor& dx);

  Conv2DOptions options_;
  ConvGeometry g_;
  ParamBinding kernel_;           // (kh, kw, c, filters) = (K, filters), K = kh*kw*c
  ParamBinding bias_;             // (filters)
  bool direct_ = false;           // direct loops instead of im2col + GEMM, fixed at setup
  bool direct_pool2_ = false;     // direct, fused with a 2x2 pool computed in registers
  int tile_rows_ = 0;             // output pixels per tile, fixed at setup
  // 'Same', stride 1, F <= C: dx (n*h*w, C) = im2col of dy under dx_g_ (n*h*w, kh*kw*F) . flipped_
  // (kh*kw*F, C), in tiles of dx_tile_rows_ input pixels, instead of dcol + col2im's adds.
  bool dx_by_convolution_ = false;
  ConvGeometry dx_g_;
  int dx_tile_rows_ = 0;
  AlignedVector<float> flipped_;    // (kh, kw, F, C): the kernel rotated 180 degrees, F and C swapped
  bool dcol_from_transposed_kernel_ = false;  // dcol = dy . kernel_t_, fixed at setup
  AlignedVector<float> kernel_t_;             // (F, K): W^T, refreshed each backward pass, where used
  AlignedVector<float> col_;        // (tile_rows_, K): im2col of one tile, then its dcol;
                                    // direct: one zero-padded input image
  AlignedVector<float> image_out_;  // fused with a pool: (out_h, out_w, F), one image's output or its
                                    // gradient (direct), or (tile_rows_, F), one tile's (im2col)
};

}  // namespace fmnist
