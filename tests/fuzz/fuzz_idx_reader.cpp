// libFuzzer target: the IDX readers (images and labels, raw or gzip) on arbitrary bytes. Any
// outcome but a result or fmnist::Error (a crash, a sanitizer report, another exception such as
// bad_alloc) is a bug.
#include <cstddef>
#include <cstdint>

#include "fmnist/core/error.h"
#include "fmnist/data/idx_reader.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string& path = fmnist::write_fuzz_input(data, size);
  try {
    fmnist::read_idx_images(path);
  } catch (const fmnist::Error&) {
  }
  try {
    fmnist::read_idx_labels(path);
  } catch (const fmnist::Error&) {
  }
  return 0;
}
