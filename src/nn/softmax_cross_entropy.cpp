// loss_i = logsumexp(z_i) - sum_k t_k z_i[k] with targets t = onehot(y_i) (1 - ls) + ls / K
// (Keras' label smoothing; sum_k t_k = 1); dloss_i/dz_i = softmax(z_i) - t.
// Computed in double per sample so the log-sum-exp is accurate for large logits.
#include "fmnist/nn/softmax_cross_entropy.h"

#include <cmath>

namespace fmnist {

int predicted_class(const float* z, int classes) {
  int best = 0;
  for (int k = 1; k < classes; ++k)
    if (z[k] > z[best]) best = k;
  return best;
}

void softmax_probabilities(const Tensor& logits, float* probabilities) {
  const int n = logits.shape().n;
  const int classes = static_cast<int>(logits.shape().per_sample());
  for (int i = 0; i < n; ++i) {
    const float* z = logits.data() + static_cast<std::size_t>(i) * classes;
    float* p = probabilities + static_cast<std::size_t>(i) * classes;
    const int best = predicted_class(z, classes);
    double denom = 0.0;
    for (int k = 0; k < classes; ++k) denom += std::exp(static_cast<double>(z[k]) - z[best]);
    for (int k = 0; k < classes; ++k) p[k] = static_cast<float>(std::exp(static_cast<double>(z[k]) - z[best]) / denom);
    // Logits closer than float resolution can round to the same probability; keep the
    // prediction the arg-max of the stored row (np.argmax takes the first maximum).
    for (int k = 0; k < classes; ++k)
      if (k != best && p[k] >= p[best]) p[k] = std::nextafter(p[best], 0.0f);
  }
}

LossSums softmax_cross_entropy(const Tensor& logits, const std::int32_t* labels, float gradient_scale,
                               Tensor* dlogits, float label_smoothing) {
  const int n = logits.shape().n;
  const int classes = static_cast<int>(logits.shape().per_sample());
  LossSums sums;
  sums.count = n;
  const double off_target = static_cast<double>(label_smoothing) / classes;
  const double on_target = 1.0 - static_cast<double>(label_smoothing) + off_target;
  for (int i = 0; i < n; ++i) {
    const float* z = logits.data() + static_cast<std::size_t>(i) * classes;
    const int best = predicted_class(z, classes);
    const double max_logit = z[best];
    double denom = 0.0;
    for (int k = 0; k < classes; ++k) denom += std::exp(static_cast<double>(z[k]) - max_logit);
    const double log_denom = std::log(denom) + max_logit;
    double target_logit = 0.0;  // sum_k t_k z_k
    if (label_smoothing == 0.0f) {
      target_logit = z[labels[i]];
    } else {
      for (int k = 0; k < classes; ++k) target_logit += (k == labels[i] ? on_target : off_target) * z[k];
    }
    sums.loss += log_denom - target_logit;
    if (best == labels[i]) ++sums.correct;
    if (dlogits) {
      float* d = dlogits->data() + static_cast<std::size_t>(i) * classes;
      for (int k = 0; k < classes; ++k) {
        const double p = std::exp(static_cast<double>(z[k]) - log_denom);
        d[k] = gradient_scale * static_cast<float>(p - (k == labels[i] ? on_target : off_target));
      }
    }
  }
  return sums;
}

}  // namespace fmnist
