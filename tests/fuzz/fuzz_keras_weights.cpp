// libFuzzer target: the Keras weights reader (Keras 3 `.weights.h5` and legacy tf.keras `.h5`),
// what `--init-from`, `--evaluate` and `--predict` read from files made elsewhere. The reader
// must throw fmnist::Error, never crash, for any input.
#include <cstddef>
#include <cstdint>

#include "fmnist/core/error.h"
#include "fmnist/io/keras_weights_file.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string& path = fmnist::write_fuzz_input(data, size);
  try {
    if (fmnist::is_keras_weights_file(path)) fmnist::read_keras_weights(path);
  } catch (const fmnist::Error&) {
  }
  return 0;
}
