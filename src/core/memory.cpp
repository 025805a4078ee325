// Available memory from /proc/meminfo and the cgroup files (v2, then v1).
#include "fmnist/core/memory.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "fmnist/core/error.h"

namespace fmnist {
namespace {

/// The first number in `path` ("max" or an unreadable file: 0).
std::uint64_t read_number(const std::string& path) {
  std::ifstream in(path);
  std::uint64_t value = 0;
  if (!(in >> value)) return 0;
  return value;
}

std::uint64_t mem_available() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  std::uint64_t kib = 0;
  std::string unit;
  while (in >> key >> kib) {
    std::getline(in, unit);
    if (key == "MemAvailable:") return kib * 1024;
  }
  return 0;
}

/// Limit minus usage of this process's cgroup; 0 when there is no limit.
std::uint64_t cgroup_headroom() {
  const std::pair<const char*, const char*> files[] = {
      {"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"},
      {"/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes"}};
  for (const auto& [limit_file, usage_file] : files) {
    const std::uint64_t limit = read_number(limit_file);
    // v1 reports "no limit" as a huge number near 2^63.
    if (limit == 0 || limit >= (std::uint64_t{1} << 60)) continue;
    const std::uint64_t usage = read_number(usage_file);
    return limit > usage ? limit - usage : 1;
  }
  return 0;
}

}  // namespace

std::uint64_t available_memory_bytes() {
  const std::uint64_t meminfo = mem_available();
  const std::uint64_t cgroup = cgroup_headroom();
  if (meminfo == 0) return cgroup;
  if (cgroup == 0) return meminfo;
  return std::min(meminfo, cgroup);
}

std::string bytes_text(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  int unit = 0;
  while (bytes >= 1024.0 && unit < 6) {
    bytes /= 1024.0;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof(text), unit == 0 ? "%.0f %s" : "%.1f %s", bytes, units[unit]);
  return text;
}

void require_memory(double needed_bytes, const std::string& what) {
  const std::uint64_t available = available_memory_bytes();
  if (available == 0 || needed_bytes <= static_cast<double>(available)) return;
  throw Error(what + " needs about " + bytes_text(needed_bytes) + ", this node has " +
              bytes_text(static_cast<double>(available)) + " available (MemAvailable, cgroup limit)");
}

}  // namespace fmnist
