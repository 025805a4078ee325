// Tests of SGD and Adam against reference updates written here in double from the Keras
// formulas (tf.keras.optimizers.SGD / Adam, with decoupled weight decay w -= lr * wd * w
// applied before the update, as Keras' base optimizer does), over several steps with changing
// gradients; plus Adam minimising a quadratic and a resume through state()/counters().
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <random>
#include <vector>

#include "fmnist/core/error.h"
#include "fmnist/optim/adam.h"
#include "fmnist/optim/optimizer.h"
#include "fmnist/optim/sgd.h"

namespace fmnist {
namespace {

constexpr std::size_t kSize = 37;
constexpr int kSteps = 6;

// Gradients for step t: a different random vector each step, some entries large, one zero.
std::vector<std::vector<float>> gradient_sequence(std::uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<std::vector<float>> out(kSteps, std::vector<float>(kSize));
  for (int t = 0; t < kSteps; ++t)
    for (std::size_t i = 0; i < kSize; ++i) out[t][i] = (i % 5 == 0 ? 10.0f : 1.0f) * dist(gen);
  for (auto& g : out) g[3] = 0.0f;
  return out;
}

std::vector<float> initial_weights() {
  std::mt19937 gen(4321);
  std::uniform_real_distribution<float> dist(-2.0f, 2.0f);
  std::vector<float> w(kSize);
  for (float& v : w) v = dist(gen);
  return w;
}

// Keras SGD: w -= lr wd w; then plain w -= lr g, or v = mu v - lr g; w += v
// (Nesterov: w += mu v - lr g).
std::vector<double> reference_sgd(const OptimizerOptions& o, std::vector<double> w,
                                  const std::vector<std::vector<float>>& grads) {
  std::vector<double> v(w.size(), 0.0);
  const double lr = o.learning_rate, mu = o.momentum, wd = o.weight_decay;
  for (const auto& g : grads)
    for (std::size_t i = 0; i < w.size(); ++i) {
      w[i] -= lr * wd * w[i];
      if (mu == 0.0) {
        w[i] -= lr * g[i];
        continue;
      }
      v[i] = mu * v[i] - lr * g[i];
      w[i] += o.nesterov ? mu * v[i] - lr * g[i] : v[i];
    }
  return w;
}

// Keras Adam: m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
// alpha = lr sqrt(1 - b2^t) / (1 - b1^t); w -= alpha m / (sqrt(v) + eps); after w -= lr wd w.
std::vector<double> reference_adam(const OptimizerOptions& o, std::vector<double> w,
                                   const std::vector<std::vector<float>>& grads) {
  std::vector<double> m(w.size(), 0.0), v(w.size(), 0.0);
  const double lr = o.learning_rate, b1 = o.beta1, b2 = o.beta2, eps = o.epsilon, wd = o.weight_decay;
  int t = 0;
  for (const auto& g : grads) {
    ++t;
    const double alpha = lr * std::sqrt(1.0 - std::pow(b2, t)) / (1.0 - std::pow(b1, t));
    for (std::size_t i = 0; i < w.size(); ++i) {
      w[i] -= lr * wd * w[i];
      m[i] = b1 * m[i] + (1.0 - b1) * g[i];
      v[i] = b2 * v[i] + (1.0 - b2) * static_cast<double>(g[i]) * g[i];
      w[i] -= alpha * m[i] / (std::sqrt(v[i]) + eps);
    }
  }
  return w;
}

void compare(const OptimizerOptions& o, const char* label) {
  SCOPED_TRACE(label);
  const auto grads = gradient_sequence(static_cast<std::uint32_t>(o.learning_rate * 1e4f) + 1);
  const std::vector<float> w0 = initial_weights();
  std::vector<float> w = w0;
  std::unique_ptr<Optimizer> opt = make_optimizer(o, kSize);
  EXPECT_EQ(opt->name(), o.kind == OptimizerKind::kSgd ? "sgd" : "adam");
  for (const auto& g : grads) opt->step(w.data(), g.data(), kSize);
  const std::vector<double> start(w0.begin(), w0.end());
  const std::vector<double> want =
      o.kind == OptimizerKind::kSgd ? reference_sgd(o, start, grads) : reference_adam(o, start, grads);
  for (std::size_t i = 0; i < kSize; ++i) {
    EXPECT_NEAR(w[i], want[i], 2e-5 * (1.0 + std::abs(want[i]))) << "weight " << i;
    // The test is sensitive: every weight with a gradient or decay actually moved.
    if (i != 3 || o.weight_decay != 0.0f) {
      EXPECT_GT(std::abs(want[i] - w0[i]), 1e-4) << "weight " << i;
    }
  }
}

TEST(Optimizers, SgdPlain) {
  OptimizerOptions o;
  o.kind = OptimizerKind::kSgd;
  o.learning_rate = 0.01f;
  compare(o, "sgd");
  EXPECT_TRUE(make_optimizer(o, kSize)->state().empty());  // no velocity without momentum
}

TEST(Optimizers, SgdMomentum) {
  OptimizerOptions o;
  o.kind = OptimizerKind::kSgd;
  o.learning_rate = 0.02f;
  o.momentum = 0.9f;
  compare(o, "sgd momentum");
}

TEST(Optimizers, SgdNesterov) {
  OptimizerOptions o;
  o.kind = OptimizerKind::kSgd;
  o.learning_rate = 0.03f;
  o.momentum = 0.8f;
  o.nesterov = true;
  compare(o, "sgd nesterov");
}

TEST(Optimizers, SgdWeightDecay) {
  OptimizerOptions o;
  o.kind = OptimizerKind::kSgd;
  o.learning_rate = 0.05f;
  o.weight_decay = 0.1f;
  compare(o, "sgd wd");
  o.momentum = 0.9f;
  compare(o, "sgd momentum wd");
  o.nesterov = true;
  compare(o, "sgd nesterov wd");
}

TEST(Optimizers, Adam) {
  OptimizerOptions o;
  o.kind = OptimizerKind::kAdam;
  o.learning_rate = 1e-3f;
  compare(o, "adam defaults");
  o.learning_rate = 0.05f;
  o.beta1 = 0.8f;
  o.beta2 = 0.99f;
  o.epsilon = 1e-3f;
  compare(o, "adam custom betas/eps");
}

TEST(Optimizers, AdamWeightDecay) {
  OptimizerOptions o;
  o.kind = OptimizerKind::kAdam;
  o.learning_rate = 0.01f;
  o.weight_decay = 0.2f;
  compare(o, "adam wd");
}

// Resuming from state() and counters() continues exactly as an uninterrupted run.
TEST(Optimizers, AdamResumesFromState) {
  OptimizerOptions o;
  o.kind = OptimizerKind::kAdam;
  o.learning_rate = 0.01f;
  const auto grads = gradient_sequence(99);
  std::vector<float> straight = initial_weights(), resumed = straight;
  Adam a(o, kSize);
  for (const auto& g : grads) a.step(straight.data(), g.data(), kSize);

  Adam first(o, kSize);
  for (int t = 0; t < 3; ++t) first.step(resumed.data(), grads[t].data(), kSize);
  Adam second(o, kSize);
  auto from = first.state(), to = second.state();
  ASSERT_EQ(from.size(), 2u);
  ASSERT_EQ(to.size(), from.size());
  for (std::size_t s = 0; s < from.size(); ++s) {
    EXPECT_EQ(from[s].first, to[s].first);
    *to[s].second = *from[s].second;
  }
  EXPECT_EQ(first.counters().at("iterations"), 3);
  second.set_counters(first.counters());
  for (int t = 3; t < kSteps; ++t) second.step(resumed.data(), grads[t].data(), kSize);
  for (std::size_t i = 0; i < kSize; ++i) EXPECT_EQ(resumed[i], straight[i]) << "weight " << i;
}

TEST(Optimizers, AdamMinimisesQuadratic) {
  // f(w) = 1/2 sum a_i (w_i - c_i)^2, gradient a_i (w_i - c_i), very different curvatures.
  const std::vector<float> a = {0.1f, 1.0f, 10.0f, 100.0f, 3.0f};
  const std::vector<float> c = {1.0f, -2.0f, 0.5f, 3.0f, -0.25f};
  std::vector<float> w(a.size(), 0.0f), g(a.size());
  OptimizerOptions o;
  o.kind = OptimizerKind::kAdam;
  o.learning_rate = 0.05f;
  Adam adam(o, w.size());
  auto f = [&] {
    double s = 0.0;
    for (std::size_t i = 0; i < w.size(); ++i) s += 0.5 * a[i] * (w[i] - c[i]) * (w[i] - c[i]);
    return s;
  };
  const double f0 = f();
  for (int step = 0; step < 2000; ++step) {
    for (std::size_t i = 0; i < w.size(); ++i) g[i] = a[i] * (w[i] - c[i]);
    adam.step(w.data(), g.data(), w.size());
  }
  EXPECT_LT(f(), 1e-4 * f0);
  for (std::size_t i = 0; i < w.size(); ++i) EXPECT_NEAR(w[i], c[i], 2e-2) << "coordinate " << i;
}

TEST(Optimizers, KindNames) {
  EXPECT_EQ(parse_optimizer_kind("sgd"), OptimizerKind::kSgd);
  EXPECT_EQ(parse_optimizer_kind("adam"), OptimizerKind::kAdam);
  EXPECT_THROW(parse_optimizer_kind("rmsprop"), Error);
  EXPECT_STREQ(optimizer_kind_name(OptimizerKind::kSgd), "sgd");
  EXPECT_STREQ(optimizer_kind_name(OptimizerKind::kAdam), "adam");
}

}  // namespace
}  // namespace fmnist
