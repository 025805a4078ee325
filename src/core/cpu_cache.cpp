// Cache sizes from glibc's sysconf, with the kernel's sysfs description as the fallback
// (sysconf returns 0 on some CPUs and in some containers).
#include "fmnist/core/cpu_cache.h"

#include <unistd.h>

#include <fstream>
#include <string>

namespace fmnist {

namespace {

constexpr std::size_t kDefaultL2 = 512 * 1024;

// sysfs writes sizes such as "512K" or "1M".
std::size_t sysfs_l2_bytes() {
  std::ifstream in("/sys/devices/system/cpu/cpu0/cache/index2/size");
  std::size_t value = 0;
  std::string unit;
  if (!(in >> value) || value == 0) return 0;
  in >> unit;
  if (unit == "K") return value * 1024;
  if (unit == "M") return value * 1024 * 1024;
  return unit.empty() ? value : 0;
}

}  // namespace

std::size_t l2_cache_bytes() {
  static const std::size_t bytes = [] {
    const long reported = sysconf(_SC_LEVEL2_CACHE_SIZE);
    if (reported > 0) return static_cast<std::size_t>(reported);
    const std::size_t from_sysfs = sysfs_l2_bytes();
    return from_sysfs > 0 ? from_sysfs : kDefaultL2;
  }();
  return bytes;
}

}  // namespace fmnist
