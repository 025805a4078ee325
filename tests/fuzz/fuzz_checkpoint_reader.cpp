// libFuzzer target: the checkpoint reader. Every checkpoint carries a CRC-32 seal over the
// whole file (bytes 0-23 of its 512-byte user block), which a mutated input would almost never
// match; so this target RE-SEALS each input (magic, size, CRC as the writer computes them,
// checkpoint_file.cpp) before reading, and the fuzzer reaches the HDF5 parsing and the checks
// behind the seal. Inputs shorter than the user block are read as they are (the seal check).
#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "fmnist/core/error.h"
#include "fmnist/io/checkpoint_file.h"
#include "fuzz_input.h"

namespace {

constexpr std::size_t kSealBytes = 512;
constexpr std::size_t kSealSizeOffset = 8, kSealCrcOffset = 16;

void put_u64(std::uint8_t* out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out[i] = static_cast<std::uint8_t>((v >> (8 * i)) & 0xFF);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::vector<std::uint8_t> file(data, data + size);
  if (size >= kSealBytes) {
    std::memcpy(file.data(), "FMNISTCK", 8);
    put_u64(file.data() + kSealSizeOffset, size);
    put_u64(file.data() + kSealCrcOffset, 0);
    const uLong crc = crc32(crc32(0L, Z_NULL, 0), file.data(), static_cast<uInt>(size));
    put_u64(file.data() + kSealCrcOffset, crc);
  }
  const std::string& path = fmnist::write_fuzz_input(file.data(), file.size());
  try {
    fmnist::read_checkpoint(path);
  } catch (const fmnist::Error&) {
  }
  return 0;
}
