// The size of this CPU's caches, for code that blocks its work to fit them.
#pragma once

#include <cstddef>

namespace fmnist {

/// Bytes of the level-2 cache of one core: sysconf(_SC_LEVEL2_CACHE_SIZE), else
/// /sys/devices/system/cpu/cpu0/cache/index2/size, else 512 KiB when neither says.
std::size_t l2_cache_bytes();

}  // namespace fmnist
