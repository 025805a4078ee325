// Per-layer timing for the benchmark. Each layer runs forward then, after the whole forward
// pass, backward, as in training; medians over the repetitions (the machine is shared). A
// Conv2D that training runs together with its MaxPool2D (Sequential::fused_with_next) is timed
// that way too: the pair's time goes on the conv's row and the pool's row says so. A layer that
// only reshapes (Flatten) is a view there and does not run: its row says so, with no time.
#include "fmnist/train/layer_profile.h"

#include <chrono>
#include <cstdio>
#include <numeric>
#include <ostream>
#include <vector>

#include "fmnist/core/rng.h"
#include "fmnist/train/benchmark.h"

namespace fmnist {
namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

void print_layer_profile(Sequential& model, int batch, int reps, std::ostream& log) {
  const auto& layers = model.layers();
  const std::size_t count = layers.size();
  std::vector<Tensor> activations(count + 1), grads(count + 1);
  activations[0].resize(model.input_shape().with_batch(batch));
  grads[0].resize(model.input_shape().with_batch(batch));
  // As in training: a reshaping layer's output is a view, and a layer takes no dx when only
  // reshaping layers come before it (Sequential::computes_input_grad).
  for (std::size_t i = 0; i < count; ++i) {
    const Shape out = model.output_shapes()[i].with_batch(batch);
    if (layers[i]->reshapes_only()) {
      activations[i + 1].view_of(activations[i], out);
      grads[i + 1].view_of(grads[i], out);
    } else {
      activations[i + 1].resize(out);
      grads[i + 1].resize(out);
    }
  }
  Rng rng(7);
  for (std::size_t j = 0; j < activations[0].numel(); ++j) activations[0][j] = rng.uniform(0.0f, 1.0f);
  std::vector<std::int32_t> ids(static_cast<std::size_t>(batch));
  std::iota(ids.begin(), ids.end(), 0);
  ForwardContext ctx;
  ctx.mode = Mode::kTrain;
  ctx.sample_ids = ids.data();

  std::vector<std::vector<double>> forward(count), backward(count);
  for (int rep = 0; rep < reps; ++rep) {
    for (std::size_t i = 0; i < count; ++i) {
      const Clock::time_point start = Clock::now();
      if (model.fused_with_next(i)) {
        model.forward_fused(i, activations[i], activations[i + 2]);
        forward[i].push_back(std::chrono::duration<double>(Clock::now() - start).count());
        forward[++i].push_back(0.0);
        continue;
      }
      if (!layers[i]->reshapes_only()) layers[i]->forward(activations[i], activations[i + 1], ctx);
      forward[i].push_back(std::chrono::duration<double>(Clock::now() - start).count());
    }
    Tensor& top = grads[count];
    for (std::size_t j = 0; j < top.numel(); ++j) top[j] = rng.uniform(-0.5f, 0.5f);
    for (std::size_t i = count; i-- > 0;) {
      const Clock::time_point start = Clock::now();
      if (i > 0 && model.fused_with_next(i - 1)) {
        backward[i].push_back(0.0);
        --i;
        model.backward_fused(i, activations[i], activations[i + 2], grads[i + 2],
                             model.computes_input_grad(i) ? &grads[i] : nullptr);
      } else if (!layers[i]->reshapes_only()) {
        layers[i]->backward(activations[i], activations[i + 1], grads[i + 1],
                            model.computes_input_grad(i) ? &grads[i] : nullptr);
      }
      backward[i].push_back(std::chrono::duration<double>(Clock::now() - start).count());
    }
  }

  log << "| layer | output (n, h, w, c) | forward ms | backward ms | forward GFLOP/s | backward GFLOP/s |\n"
      << "|---|---|---|---|---|---|\n";
  double total_forward = 0.0, total_backward = 0.0;
  Shape in = model.input_shape();
  for (std::size_t i = 0; i < count; ++i) {
    const Shape out = model.output_shapes()[i];
    const double f = median(forward[i]), b = median(backward[i]);
    total_forward += f;
    total_backward += b;
    const double flops = forward_gemm_flops(*layers[i], in, out) * batch;
    char rates[64] = "| | |";
    // Backward does the weight gradient, plus the input gradient where a layer before takes it.
    if (flops > 0.0)
      std::snprintf(rates, sizeof(rates), "| %.1f | %.1f |", flops / f * 1e-9,
                    flops * (model.computes_input_grad(i) ? 2 : 1) / b * 1e-9);
    const std::string with = i > 0 && model.fused_with_next(i - 1) ? ", run with " + layers[i - 1]->name()
                             : layers[i]->reshapes_only()          ? ", a view: not run"
                                                                   : "";
    char row[320];
    std::snprintf(row, sizeof(row), "| %s (%s%s) | %s | %.3f | %.3f %s\n", layers[i]->name().c_str(),
                  layers[i]->spec().c_str(), with.c_str(), out.with_batch(batch).str().c_str(), f * 1e3,
                  b * 1e3, rates);
    log << row;
    in = out;
  }
  char row[128];
  std::snprintf(row, sizeof(row), "| total | | %.3f | %.3f | | |\n", total_forward * 1e3,
                total_backward * 1e3);
  log << row;
}

}  // namespace fmnist
