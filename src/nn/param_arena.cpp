// The parameter arena: layout, binding and Keras-default initialisation.
#include "fmnist/nn/param_arena.h"

#include <cmath>
#include <numeric>

#include "fmnist/core/rng.h"

namespace fmnist {

void ParamArena::add(const std::string& layer_name, int layer_index, const ParamSpec& spec) {
  ParamView view;
  view.path = layer_name + "/" + spec.name;
  view.shape = spec.shape;
  view.size = std::accumulate(spec.shape.begin(), spec.shape.end(), std::size_t{1}, std::multiplies<>());
  view.offset = pending_size_;
  view.layer_index = layer_index;
  view.spec = spec;
  pending_size_ += view.size;
  views_.push_back(std::move(view));
}

std::vector<ParamBinding> ParamArena::allocate() {
  values_.assign(pending_size_, 0.0f);
  grads_.assign(pending_size_ + kGradientTail, 0.0f);
  std::vector<ParamBinding> bindings;
  for (const ParamView& v : views_)
    bindings.push_back(ParamBinding{values_.data() + v.offset, grads_.data() + v.offset, v.size});
  return bindings;
}

void ParamArena::initialize(std::uint64_t seed) {
  for (std::size_t p = 0; p < views_.size(); ++p) {
    const ParamView& v = views_[p];
    float* w = values_.data() + v.offset;
    if (v.spec.init != Init::kGlorotUniform) {
      std::fill(w, w + v.size, v.spec.init == Init::kOnes ? 1.0f : 0.0f);
      continue;
    }
    // Glorot & Bengio (2010): U(-limit, limit), limit = sqrt(6 / (fan_in + fan_out)).
    const float limit = std::sqrt(6.0f / static_cast<float>(v.spec.fan_in + v.spec.fan_out));
    Rng rng(hash_of({seed, 0x494E4954ull /* "INIT" */, p}));
    for (std::size_t i = 0; i < v.size; ++i) w[i] = rng.uniform(-limit, limit);
  }
}

const ParamView* ParamArena::find(const std::string& path) const {
  for (const ParamView& v : views_)
    if (v.path == path) return &v;
  return nullptr;
}

}  // namespace fmnist
