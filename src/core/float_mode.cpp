// Flush-to-zero (results) and denormals-are-zero (inputs): the MXCSR bits 15 and 6.
#include "fmnist/core/float_mode.h"

#if defined(__SSE2__)
#include <xmmintrin.h>
#endif

namespace fmnist {

#if defined(__SSE2__)
namespace {
constexpr unsigned kFlushToZero = 0x8000;
constexpr unsigned kDenormalsAreZero = 0x0040;
}  // namespace

unsigned flush_denormals_to_zero() {
  const unsigned previous = _mm_getcsr();
  _mm_setcsr(previous | kFlushToZero | kDenormalsAreZero);
  return previous;
}

void restore_float_mode(unsigned mode) { _mm_setcsr(mode); }

bool denormals_flushed() {
  const unsigned mode = _mm_getcsr();
  return (mode & kFlushToZero) != 0 && (mode & kDenormalsAreZero) != 0;
}
#else
unsigned flush_denormals_to_zero() { return 0; }
void restore_float_mode(unsigned) {}
bool denormals_flushed() { return false; }
#endif

}  // namespace fmnist
