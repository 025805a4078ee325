// loss_i = logsumexp(z_i) - z_i[y_i]; dloss_i/dz_i = softmax(z_i) - onehot(y_i).
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
                               Tensor* dlogits) {
  const int n = logits.shape().n;
  const int classes = static_cast<int>(logits.shape().per_sample());
  LossSums sums;
  sums.count = n;
  for (int i = 0; i < n; ++i) {
    const float* z = logits.data() + static_cast<std::size_t>(i) * classes;
    const int best = predicted_class(z, classes);
    const double max_logit = z[best];
    double denom = 0.0;
    for (int k = 0; k < classes; ++k) denom += std::exp(static_cast<double>(z[k]) - max_logit);
    const double log_denom = std::log(denom) + max_logit;
    sums.loss += log_denom - z[labels[i]];
    if (best == labels[i]) ++sums.correct;
    if (dlogits) {
      float* d = dlogits->data() + static_cast<std::size_t>(i) * classes;
      for (int k = 0; k < classes; ++k) {
        const double p = std::exp(static_cast<double>(z[k]) - log_denom);
        d[k] = gradient_scale * static_cast<float>(p - (k == labels[i] ? 1.0 : 0.0));
      }
    }
  }
  return sums;
}

}  // namespace fmnist
