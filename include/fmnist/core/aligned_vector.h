// std::vector storage aligned to a cache line. glibc hands out large blocks 16 bytes past a
// page boundary, so with a plain std::vector<float> every 64-byte vector load or store of an
// activation, column tile or weight buffer touches two cache lines.
#pragma once

#include <cstddef>
#include <new>
#include <vector>

namespace fmnist {

constexpr std::size_t kCacheLineBytes = 64;

template <typename T>
struct CacheLineAllocator {
  using value_type = T;
  CacheLineAllocator() = default;
  template <typename U>
  CacheLineAllocator(const CacheLineAllocator<U>& /*other*/) {}
  T* allocate(std::size_t n) {
    return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t(kCacheLineBytes)));
  }
  void deallocate(T* p, std::size_t /*n*/) { ::operator delete(p, std::align_val_t(kCacheLineBytes)); }
  template <typename U>
  bool operator==(const CacheLineAllocator<U>& /*other*/) const {
    return true;
  }
  template <typename U>
  bool operator!=(const CacheLineAllocator<U>& /*other*/) const {
    return false;
  }
};

/// A std::vector whose data() is cache-line aligned.
template <typename T>
using AlignedVector = std::vector<T, CacheLineAllocator<T>>;

}  // namespace fmnist
