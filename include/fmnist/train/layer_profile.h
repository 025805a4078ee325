// fmnist_dist --benchmark --benchmark-layers: where a step's time goes, layer by layer.
#pragma once

#include <iosfwd>

#include "fmnist/nn/sequential.h"

namespace fmnist {

/// Times each layer's forward and backward on its own (outside the training step, on random
/// inputs of the real shapes) for `reps` repetitions of a batch of `batch`, and prints a
/// Markdown table: layer, output shape, median forward/backward ms, and for Dense and Conv2D
/// the GEMM FLOPs divided by the layer's whole time (im2col, bias, ReLU included). A Conv2D
/// fused with its MaxPool2D (Sequential::fused_with_next) is timed as the pair, on the conv's
/// row; the pool's row reads 0 and names the conv. Allocates its own activations; the model's
/// scratch buffers are reused, so call it only between training steps.
void print_layer_profile(Sequential& model, int batch, int reps, std::ostream& log);

}  // namespace fmnist
