// Denormals flushed: a product that would be subnormal comes out 0, and a subnormal input
// counts as 0; restore_float_mode() gives back IEEE gradual underflow. The values are checked
// against std::fpclassify, not against the code's own arithmetic.
#include <gtest/gtest.h>

#include <cmath>

#include "fmnist/core/float_mode.h"

namespace fmnist {
namespace {

float multiply(float a, float b) {
  volatile float x = a, y = b;  // computed at run time, under the thread's current mode
  return x * y;
}

TEST(FloatMode, FlushesDenormalResultsAndInputsThenRestores) {
#if defined(__SSE2__)
  const float tiny = 1e-30f, small = 1e-10f;  // product 1e-40: below FLT_MIN (1.18e-38)
  const float subnormal = multiply(tiny, small);
  ASSERT_EQ(std::fpclassify(subnormal), FP_SUBNORMAL) << "this thread already flushes denormals";

  const unsigned previous = flush_denormals_to_zero();
  EXPECT_TRUE(denormals_flushed());
  EXPECT_EQ(multiply(tiny, small), 0.0f);     // flush-to-zero
  EXPECT_EQ(multiply(subnormal, 1.0f), 0.0f);  // denormals-are-zero
  EXPECT_EQ(multiply(1e-20f, 1e-10f), 1e-20f * 1e-10f) << "normal results must not change";

  restore_float_mode(previous);
  EXPECT_FALSE(denormals_flushed());
  EXPECT_EQ(std::fpclassify(multiply(tiny, small)), FP_SUBNORMAL);
#else
  GTEST_SKIP() << "no SSE: the float mode is left as it is";
#endif
}

}  // namespace
}  // namespace fmnist
