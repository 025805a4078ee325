// Buffers that the vector loops and OpenBLAS stream through start on a cache line: a plain
// std::vector<float> of a few hundred KiB starts 16 bytes past one (glibc's large blocks), so
// these checks fail without the aligned allocator.
#include <gtest/gtest.h>

#include <cstdint>

#include "fmnist/core/aligned_vector.h"
#include "fmnist/core/tensor.h"
#include "fmnist/nn/model_spec.h"
#include "fmnist/nn/sequential.h"

namespace fmnist {
namespace {

bool on_cache_line(const void* p) { return reinterpret_cast<std::uintptr_t>(p) % kCacheLineBytes == 0; }

TEST(AlignedVector, StartsOnACacheLineAtEverySize) {
  for (std::size_t n : {1u, 3u, 17u, 1000u, 50000u, 226000u, 1u << 22}) {
    AlignedVector<float> v(n, 1.0f);
    EXPECT_TRUE(on_cache_line(v.data())) << n << " floats";
    v.resize(2 * n + 5);  // reallocates
    EXPECT_TRUE(on_cache_line(v.data())) << 2 * n + 5 << " floats";
    EXPECT_EQ(v[0], 1.0f);
  }
  AlignedVector<std::int32_t> indices(300000, 7);
  EXPECT_TRUE(on_cache_line(indices.data()));
}

TEST(AlignedVector, TensorsAndParameterArenasUseIt) {
  Tensor t(Shape{32, 64, 14, 14});
  EXPECT_TRUE(on_cache_line(t.data()));
  t.resize(Shape{64, 64, 14, 14});  // grows
  EXPECT_TRUE(on_cache_line(t.data()));
  std::unique_ptr<Sequential> model = build_model("conv32x3same-pool2-flatten-dense128-dense10");
  EXPECT_TRUE(on_cache_line(model->params().values()));
  EXPECT_TRUE(on_cache_line(model->params().grads()));
}

}  // namespace
}  // namespace fmnist
