// A small, learnable stand-in for Fashion-MNIST for tests: each class is a random 28x28
// prototype; a sample is its class prototype plus noise, stored as uint8 like the real data.
#pragma once

#include <cstdint>

#include "fmnist/core/rng.h"
#include "fmnist/data/dataset.h"

namespace fmnist::testing {

inline Dataset synthetic_dataset(int count, std::uint64_t seed, int classes = 10) {
  Dataset d;
  d.count = count;
  d.rows = 28;
  d.cols = 28;
  d.pixels.resize(static_cast<std::size_t>(count) * 28 * 28);
  d.labels.resize(static_cast<std::size_t>(count));
  Rng prototypes(0xC0FFEE);  // the same classes for every seed
  std::vector<float> prototype(static_cast<std::size_t>(classes) * 28 * 28);
  for (float& p : prototype) p = prototypes.uniform(0.0f, 1.0f);
  Rng rng(seed);
  for (int i = 0; i < count; ++i) {
    const int label = static_cast<int>(rng.below(static_cast<std::uint64_t>(classes)));
    d.labels[static_cast<std::size_t>(i)] = label;
    for (int p = 0; p < 28 * 28; ++p) {
      const float value = 0.6f * prototype[static_cast<std::size_t>(label) * 784 + p] + 0.4f * rng.uniform(0.0f, 1.0f);
      d.pixels[static_cast<std::size_t>(i) * 784 + p] = static_cast<std::uint8_t>(255.0f * value);
    }
  }
  return d;
}

inline DataSplits synthetic_splits(int train, int validation, int test) {
  DataSplits s;
  s.train = synthetic_dataset(train, 1);
  s.validation = synthetic_dataset(validation, 2);
  s.test = synthetic_dataset(test, 3);
  return s;
}

}  // namespace fmnist::testing
