// How much memory this node can still give: the kernel's MemAvailable, capped by the cgroup
// limit a scheduler or container put on this job. Sizes are checked against it before
// anything large is allocated, so an impossible size is an error message, not bad_alloc or
// the OOM killer.
#pragma once

#include <cstdint>
#include <string>

namespace fmnist {

/// Bytes available to this process: min(MemAvailable of /proc/meminfo, cgroup memory limit
/// minus usage (v2 memory.max / v1 memory.limit_in_bytes)). 0 if none of them can be read.
std::uint64_t available_memory_bytes();

/// 1536 -> "1.5 KiB", 137438953472 -> "128.0 GiB".
std::string bytes_text(double bytes);

/// Throws Error "<what> needs about <needed>, this node has <available> available (...)"
/// when `needed_bytes` exceeds available_memory_bytes() (nothing when that is unknown).
void require_memory(double needed_bytes, const std::string& what);

}  // namespace fmnist
