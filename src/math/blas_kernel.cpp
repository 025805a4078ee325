// The OpenBLAS kernel: what the CPU can run, what OpenBLAS loaded, and the re-exec that
// makes OpenBLAS load the best one (OpenBLAS reads OPENBLAS_CORETYPE once, when it loads).
#include "fmnist/math/blas_kernel.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <sstream>

extern "C" char* openblas_get_corename(void);  // OpenBLAS' own API (cblas.h stays in gemm.cpp)

namespace fmnist {
namespace {

/// Set (with OPENBLAS_CORETYPE) by the re-exec: "<OpenBLAS' own choice>><tried>,<tried>...".
/// Its presence tells our own OPENBLAS_CORETYPE from the user's and bounds the retries.
constexpr const char* kMarker = "FMNIST_BLAS_KERNEL_TRIED";

std::string lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

bool same_name(const std::string& a, const std::string& b) { return lower(a) == lower(b); }

struct Marker {
  std::string openblas_choice;
  std::vector<std::string> tried;
};

std::optional<Marker> read_marker() {
  const char* text = std::getenv(kMarker);
  if (!text) return std::nullopt;
  Marker marker;
  const std::string value = text;
  const std::size_t arrow = value.find('>');
  marker.openblas_choice = value.substr(0, arrow);
  if (arrow != std::string::npos) {
    std::istringstream names(value.substr(arrow + 1));
    std::string name;
    while (std::getline(names, name, ','))
      if (!name.empty()) marker.tried.push_back(name);
  }
  return marker;
}

/// The user's OPENBLAS_CORETYPE (empty when unset or empty: OpenBLAS then picks by itself).
std::string user_coretype() {
  const char* value = std::getenv("OPENBLAS_CORETYPE");
  return value && !read_marker() ? value : "";
}

}  // namespace

std::optional<int> blas_kernel_level(const std::string& core) {
  // OpenBLAS' x86-64 core names (driver/others/dynamic.c), by the widest ISA their sgemm uses.
  static const std::pair<const char*, int> kLevels[] = {
      {"katmai", 0},       {"coppermine", 0}, {"northwood", 0},  {"prescott", 0},    {"banias", 0},
      {"core2", 0},        {"penryn", 0},     {"dunnington", 0}, {"atom", 0},        {"opteron", 0},
      {"opteron_sse3", 0}, {"barcelona", 0},  {"bobcat", 0},     {"nano", 0},        {"nehalem", 1},
      {"sandybridge", 2},  {"bulldozer", 2},  {"piledriver", 2}, {"steamroller", 2}, {"haswell", 3},
      {"zen", 3},          {"excavator", 3},  {"skylakex", 4},   {"cooperlake", 4},  {"sapphirerapids", 6},
  };
  const std::string name = lower(core);
  for (const auto& [known, level] : kLevels)
    if (name == known) return level;
  return std::nullopt;
}

bool cpu_can_run_blas_kernel(const CpuFeatures& cpu, const std::string& core) {
  // Only the kernels fmnist_dist itself may choose; the AMD FMA4/XOP ones and the rest are
  // never chosen, so they count as not runnable rather than guessed at.
  const std::string name = lower(core);
  const bool avx512 = cpu.avx512f && cpu.avx512bw && cpu.avx512dq && cpu.avx512vl;
  if (name == "cooperlake") return avx512 && cpu.avx512_bf16;
  if (name == "skylakex") return avx512;
  if (name == "haswell" || name == "zen") return cpu.avx2 && cpu.fma;
  if (name == "sandybridge") return cpu.avx;
  if (name == "nehalem") return cpu.sse4_2;
  if (name == "prescott") return cpu.sse3;
  return false;
}

std::vector<std::string> blas_kernel_candidates(const CpuFeatures& cpu) {
  std::vector<std::string> order = {"Cooperlake",  "SkylakeX", "Haswell", "Zen",
                                    "Sandybridge", "Nehalem",  "Prescott"};
  if (cpu.amd) std::swap(order[2], order[3]);  // same ISA level; OpenBLAS tunes Zen's blocking for AMD caches
  std::vector<std::string> candidates;
  for (const std::string& name : order)
    if (cpu_can_run_blas_kernel(cpu, name)) candidates.push_back(name);
  return candidates;
}

std::optional<std::string> better_blas_kernel(const CpuFeatures& cpu, const std::string& in_use,
                                              const std::vector<std::string>& already_tried) {
  const std::optional<int> current = blas_kernel_level(in_use);
  if (!current) return std::nullopt;  // a core newer than this table: OpenBLAS knows better
  for (const std::string& name : blas_kernel_candidates(cpu)) {
    if (*blas_kernel_level(name) <= *current) break;  // candidates are ordered best first
    const bool tried = std::any_of(already_tried.begin(), already_tried.end(),
                                   [&](const std::string& t) { return same_name(t, name); });
    if (!tried) return name;
  }
  return std::nullopt;
}

BlasKernelStatus blas_kernel_status() {
  BlasKernelStatus status;
  status.in_use = openblas_get_corename();
  status.openblas_choice = status.in_use;
  if (!user_coretype().empty()) {
    status.source = BlasKernelSource::kUser;
  } else if (const std::optional<Marker> marker = read_marker()) {
    if (!same_name(marker->openblas_choice, status.in_use)) {
      status.source = BlasKernelSource::kUpgraded;
      status.openblas_choice = marker->openblas_choice;
    }
  }
  const std::optional<int> level = blas_kernel_level(status.in_use);
  status.generic = level && *level == 0;
  return status;
}

std::string describe_blas_kernel(const BlasKernelStatus& status) {
  std::string text = "OpenBLAS kernel " + status.in_use;
  switch (status.source) {
    case BlasKernelSource::kOpenBlas:
      return text + " (OpenBLAS' own choice)";
    case BlasKernelSource::kUpgraded:
      return text + " (chosen by fmnist_dist for this CPU; OpenBLAS alone picked " + status.openblas_choice +
             ")";
    case BlasKernelSource::kUser:
      break;
  }
  return text + " (OPENBLAS_CORETYPE=" + user_coretype() + ")";
}

std::string blas_kernel_warning(const BlasKernelStatus& status, const CpuFeatures& cpu) {
  const std::vector<std::string> candidates = blas_kernel_candidates(cpu);
  const std::string best = candidates.empty() ? "none" : candidates.front();
  if (status.generic)
    return "OpenBLAS runs its generic " + status.in_use + " kernel (SSE only; the best for this CPU is " +
           best + "): GEMMs run several times slower than on an AVX2 machine";
  const std::optional<int> level = blas_kernel_level(status.in_use);
  if (status.source == BlasKernelSource::kUser && level && !candidates.empty() &&
      *level < *blas_kernel_level(best))
    return "OPENBLAS_CORETYPE=" + status.in_use + " is below the best OpenBLAS kernel for this CPU (" + best +
           ")";
  return "";
}

void use_best_blas_kernel(char** argv) {
  if (!user_coretype().empty()) return;  // the user's choice stands
  const std::string in_use = openblas_get_corename();
  Marker marker = read_marker().value_or(Marker{in_use, {}});
  const std::optional<std::string> next = better_blas_kernel(detect_cpu_features(), in_use, marker.tried);
  if (!next) return;
  marker.tried.push_back(*next);
  std::string value = marker.openblas_choice + ">";
  for (std::size_t i = 0; i < marker.tried.size(); ++i) value += (i ? "," : "") + marker.tried[i];
  setenv("OPENBLAS_CORETYPE", next->c_str(), 1);
  setenv(kMarker, value.c_str(), 1);
  execv("/proc/self/exe", argv);
  // The exec failed (no /proc?): go on with OpenBLAS' kernel, and say so through the status.
  unsetenv("OPENBLAS_CORETYPE");
  unsetenv(kMarker);
}

}  // namespace fmnist
