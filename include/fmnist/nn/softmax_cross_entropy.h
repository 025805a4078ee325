// Softmax fused with sparse categorical cross-entropy (Keras'
// SparseCategoricalCrossentropy(from_logits=True)), numerically stable via log-sum-exp.
#pragma once

#include <cstdint>

#include "fmnist/core/tensor.h"

namespace fmnist {

/// Sums over the samples of one batch (or shard), reduced across ranks as they are.
struct LossSums {
  double loss = 0.0;        // sum of per-sample cross-entropy
  std::int64_t correct = 0; // samples whose arg-max logit is the label
  std::int64_t count = 0;   // samples
};

/// logits (n, classes), labels (n) in [0, classes). With label smoothing ls (Keras'
/// label_smoothing), the target is y = onehot * (1 - ls) + ls / classes and the loss
/// -sum_k y_k log softmax_k; ls = 0 is the plain sparse cross-entropy.
/// If `dlogits` is not null it is OVERWRITTEN with gradient_scale * (softmax - y),
/// i.e. the gradient of gradient_scale * sum of losses. The trainer passes
/// 1 / global_batch, so gradients summed over ranks are exactly the global-batch mean.
/// The predicted class of one sample's logits z (classes): the first index of the largest
/// logit. softmax_cross_entropy counts a sample correct when this equals its label.
int predicted_class(const float* z, int classes);

/// Keras' softmax of logits (n, classes) into probabilities (n * classes floats, row-major),
/// computed in double and rounded to float. Where rounding ties a class with the predicted
/// one, that class is set one float below it, so the first arg-max of every row of
/// `probabilities` is predicted_class() of its logits.
void softmax_probabilities(const Tensor& logits, float* probabilities);

LossSums softmax_cross_entropy(const Tensor& logits, const std::int32_t* labels, float gradient_scale,
                               Tensor* dlogits, float label_smoothing = 0.0f);

}  // namespace fmnist
