// The floating-point mode of the calling thread. Denormal floats (below 1.2e-38) take a slow
// microcode path on x86: Adam's moments of weights whose gradient is always zero (Fashion-MNIST's
// blank border pixels) decay into that range after ~800 steps, and the update then runs
// several times slower. TensorFlow, and so Keras, computes with denormals flushed to zero on
// the CPU; fmnist_dist does the same.
#pragma once

namespace fmnist {

/// Sets flush-to-zero and denormals-are-zero for this thread (MXCSR on x86; a no-op elsewhere).
/// Returns the previous mode, to give to restore_float_mode().
unsigned flush_denormals_to_zero();
/// Puts back a mode returned by flush_denormals_to_zero().
void restore_float_mode(unsigned mode);
/// Whether this thread flushes denormals now.
bool denormals_flushed();

}  // namespace fmnist
