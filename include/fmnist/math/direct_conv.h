// Direct convolution of single-channel NHWC images (a network's first layer on grey images).
// With one input channel the column matrix has K = kh*kw columns (9 for 3x3), too few for a
// GEMM to run near its peak: im2col writes 9 floats per pixel and the GEMM reads them back.
// These loops run across the F filters of each output pixel instead (a contiguous run of F
// floats in NHWC), in a clone built for the CPU's vector width (AVX-512, AVX2 + FMA or SSE2,
// chosen when the program loads).
#pragma once

#include <cstdint>

#include "fmnist/math/im2col.h"

namespace fmnist {

/// Floats of the scratch `frame` the functions below need: one zero-padded image.
long direct_conv_frame_size(const ConvGeometry& g);

/// y (n, out_h, out_w, filters) = act(conv(x) + bias) for x (n, h, w, 1), g.channels == 1;
/// kernel (kh, kw, 1, filters) as Keras stores it; relu: max(., 0), else linear.
void direct_conv_forward(const float* x, int n, const ConvGeometry& g, const float* kernel, const float* bias,
                         int filters, bool relu, float* frame, float* y);

/// The parameter gradients of dy (n, out_h, out_w, filters), overwriting dkernel (kh, kw, 1,
/// filters) and dbias (filters), or adding to them when accumulate. With relu, dy is first
/// masked where the output y was 0, and left masked for direct_conv_input_grad when
/// keep_masked (shapes off the 3x3 fast path always leave it masked); without relu, y is unused
/// and may be null.
void direct_conv_param_grads(const float* x, int n, const ConvGeometry& g, const float* y, bool relu, float* dy,
                             bool keep_masked, int filters, float* frame, bool accumulate, float* dkernel,
                             float* dbias);

/// dx (n, h, w, 1) = the adjoint of the convolution applied to dy, already masked (overwritten).
void direct_conv_input_grad(const float* dy, int n, const ConvGeometry& g, const float* kernel, int filters,
                            float* frame, float* dx);

/// The layer followed by a 2x2 max pool with stride 2, in one pass: 3x3 kernels with filters
/// in blocks of 16 (what the functions below handle).
bool direct_conv_pool2_applies(const ConvGeometry& g, int filters);

/// pooled (n, out_h / 2, out_w / 2, filters) = the 2x2 max pool of direct_conv_forward's y,
/// without y: each window's four pixels are computed in registers. argmax (same shape) gets
/// the offset of each window's winner within its (out_h, out_w, filters) sample, as
/// MaxPool2D's forward records it; the floats and the winners are those of the two layers.
void direct_conv_pool2_forward(const float* x, int n, const ConvGeometry& g, const float* kernel,
                               const float* bias, int filters, bool relu, float* frame, float* pooled,
                               std::int32_t* argmax);

/// dkernel and dbias, overwritten, from dpooled (n, out_h / 2, out_w / 2, filters) routed to
/// each window's winner by argmax, masked where mask_by (the pooled output of a ReLU layer) is
/// not above 0 unless mask_by is null: the floats of routing dy and direct_conv_param_grads.
void direct_conv_pool2_param_grads(const float* x, int n, const ConvGeometry& g, const float* mask_by,
                                   const float* dpooled, const std::int32_t* argmax, int filters,
                                   float* frame, float* dkernel, float* dbias);

}  // namespace fmnist
