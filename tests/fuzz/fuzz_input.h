// Shared by the fuzz targets: the readers under test take a path, so each input is written to
// one temporary file per process (in /dev/shm when it exists: memory, not disk).
#pragma once

#include <stdlib.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

namespace fmnist {

/// Overwrites this process's temporary file with data[0, size) and returns its path.
inline const std::string& write_fuzz_input(const std::uint8_t* data, std::size_t size) {
  static const std::string path = [] {
    std::string pattern = (access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp") + std::string("/fmnist_fuzz_XXXXXX");
    const int fd = mkstemp(pattern.data());
    if (fd < 0) abort();
    close(fd);
    return pattern;
  }();
  FILE* file = std::fopen(path.c_str(), "wb");
  if (!file) abort();
  if (size > 0 && std::fwrite(data, 1, size, file) != size) abort();
  std::fclose(file);
  return path;
}

}  // namespace fmnist
