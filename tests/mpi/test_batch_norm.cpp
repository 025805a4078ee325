// BatchNormalization across ranks, under mpiexec at 1, 2 and 4 ranks: each rank holds a
// contiguous share of one global batch and normalises with the GLOBAL statistics. Checked
// against a single-process BatchNorm over the whole batch (outputs, dx, moving statistics)
// and against central differences of the global loss (each perturbation is a collective
// forward on every rank).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>

#include "fmnist/data/sampler.h"
#include "fmnist/dist/channel_stats_allreduce.h"
#include "fmnist/dist/communicator.h"
#include "fmnist/nn/batch_norm.h"

namespace fmnist {
namespace {

/// A BatchNorm with its own variables: gamma, beta drawn from `seed`, moving stats (0, 1).
struct BnUnderTest {
  std::vector<float> params, grads, state;
  BatchNorm layer;

  BnUnderTest(const Shape& sample, int max_batch, std::uint32_t seed) {
    const auto c = static_cast<std::size_t>(sample.c);
    std::mt19937 gen(seed);
    std::uniform_real_distribution<float> dist(0.5f, 1.5f);
    params.resize(2 * c);
    for (float& v : params) v = dist(gen);
    grads.assign(2 * c, 0.0f);
    state.assign(2 * c, 0.0f);
    std::fill(state.begin() + static_cast<std::ptrdiff_t>(c), state.end(), 1.0f);
    layer.bind_params({ParamBinding{params.data(), grads.data(), c}, ParamBinding{params.data() + c, grads.data() + c, c}});
    layer.bind_state({ParamBinding{state.data(), nullptr, c}, ParamBinding{state.data() + c, nullptr, c}});
    layer.setup(sample, max_batch);
  }
};

/// The global batch (n, h, w, c), the same on every rank: per-channel offsets and scales.
std::vector<float> global_batch(const Shape& shape) {
  std::mt19937 gen(123);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> x(shape.numel());
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = dist(gen) * (1.0f + i % shape.c) + 0.3f * (i % shape.c);
  return x;
}

void check_global_batch(int batch) {
  Communicator world;
  ChannelStatsAllreduce reducer(world);
  const Shape sample{1, 3, 3, 2};
  const Shape full = sample.with_batch(batch);
  const std::size_t per = sample.per_sample();
  const Shard shard = shard_of(batch, world.size(), world.rank());
  const std::vector<float> x_all = global_batch(full);
  std::vector<float> r_all(full.numel());  // dL/dy: L = sum(y * R) over the global batch
  {
    std::mt19937 gen(7);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    for (float& v : r_all) v = dist(gen);
  }

  // Single-process reference over the whole batch.
  BnUnderTest single(sample, batch, 5);
  Tensor xs(full), ys(full), dys(full), dxs(full);
  std::copy(x_all.begin(), x_all.end(), xs.data());
  ForwardContext train;
  train.mode = Mode::kTrain;
  single.layer.forward(xs, ys, train);
  std::copy(r_all.begin(), r_all.end(), dys.data());
  single.layer.backward(xs, ys, dys, &dxs);

  // This rank's share, statistics reduced across ranks.
  BnUnderTest mine(sample, std::max(shard.size(), 1), 5);
  ForwardContext dist_ctx = train;
  dist_ctx.stats = &reducer;
  const Shape local = sample.with_batch(shard.size());
  Tensor x(local), y(local), dy(local), dx(local);
  std::copy(x_all.begin() + shard.begin * per, x_all.begin() + shard.end * per, x.data());
  auto forward = [&] {
    if (shard.size() > 0) {
      mine.layer.forward(x, y, dist_ctx);
    } else {
      mine.layer.forward_without_data(dist_ctx);
    }
  };
  forward();
  std::copy(r_all.begin() + shard.begin * per, r_all.begin() + shard.end * per, dy.data());
  if (shard.size() > 0) {
    mine.layer.backward(x, y, dy, &dx);
  } else {
    mine.layer.backward_without_data();
  }

  // 1. Against the single process: outputs, dx, moving statistics, summed parameter grads.
  for (std::size_t i = 0; i < local.numel(); ++i) {
    ASSERT_NEAR(y[i], ys[shard.begin * per + i], 1e-5) << "y at " << i;
    ASSERT_NEAR(dx[i], dxs[shard.begin * per + i], 1e-5) << "dx at " << i;
  }
  for (std::size_t i = 0; i < mine.state.size(); ++i) EXPECT_NEAR(mine.state[i], single.state[i], 1e-6) << "state " << i;
  std::vector<float> summed = mine.grads;
  world.allreduce_sum(summed.data(), summed.size());
  for (std::size_t i = 0; i < summed.size(); ++i) EXPECT_NEAR(summed[i], single.grads[i], 1e-4) << "grad " << i;

  // 2. Central differences of the global loss, every rank stepping through the same
  // elements; the owner of an element perturbs it, all ranks run the forward.
  const std::vector<float> analytic_dx(dx.data(), dx.data() + local.numel());
  const std::vector<float> analytic_grads = summed;
  auto global_loss = [&] {
    forward();
    double loss = 0.0;
    for (std::size_t i = 0; i < local.numel(); ++i) loss += static_cast<double>(y[i]) * dy[i];
    world.allreduce_sum(&loss, 1);
    return loss;
  };
  auto central = [&](float* v) {  // v may be null on ranks that do not own the variable
    const float h = 1e-2f;
    double up = 0, down = 0;
    float original = 0;
    if (v) {
      original = *v;
      *v = original + h;
      up = *v;
    }
    const double plus = global_loss();
    if (v) {
      *v = original - h;
      down = *v;
    }
    const double minus = global_loss();
    if (v) *v = original;
    return v ? (plus - minus) / (up - down) : 0.0;
  };
  int failures = 0;
  double worst = 0.0;
  auto compare = [&](double analytic, double numeric, const char* what, std::size_t i) {
    const double e = std::abs(analytic - numeric) / std::max({std::abs(analytic), std::abs(numeric), 1e-3});
    worst = std::max(worst, e);
    if (!(e < 1e-2) && ++failures <= 5)
      ADD_FAILURE() << what << "[" << i << "]: analytic " << analytic << " numeric " << numeric;
  };
  for (std::size_t g = 0; g < full.numel(); ++g) {
    const bool owned = g >= shard.begin * per && g < shard.end * per;
    const double n = central(owned ? &x[g - shard.begin * per] : nullptr);
    if (owned) compare(analytic_dx[g - shard.begin * per], n, "dx", g);
  }
  for (std::size_t p = 0; p < mine.params.size(); ++p) {
    // A parameter is replicated: every rank perturbs its copy, as an update would.
    const double n = central(&mine.params[p]);
    compare(analytic_grads[p], n, "dparam", p);
  }
  std::int64_t total_failures = failures;
  world.allreduce_sum(&total_failures, 1);
  EXPECT_EQ(total_failures, 0);
  if (world.rank() == 0)
    std::printf("[ bn ] np=%d batch %d: max rel err %.2e (central differences of the global loss)\n", world.size(),
                batch, worst);
}

TEST(BatchNormAcrossRanks, EqualsOneProcessOverTheGlobalBatchAndPassesGradientCheck) { check_global_batch(6); }

// Fewer samples than ranks at np=4: ranks with an empty share still take part.
TEST(BatchNormAcrossRanks, RanksWithoutSamplesJoinTheReductions) { check_global_batch(3); }

}  // namespace
}  // namespace fmnist
