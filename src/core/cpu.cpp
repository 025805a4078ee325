// CPU features (cpuid), the nominal single-precision peak per core, and the clock it is taken at.
#include "fmnist/core/cpu.h"

#include <cpuid.h>

#include <fstream>
#include <sstream>

namespace fmnist {

CpuFeatures detect_cpu_features() {
  __builtin_cpu_init();
  CpuFeatures cpu;
  cpu.amd = __builtin_cpu_is("amd");
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid(1, &eax, &ebx, &ecx, &edx)) {
    const int base_family = (eax >> 8) & 0xf, base_model = (eax >> 4) & 0xf;
    cpu.family = base_family == 0xf ? base_family + static_cast<int>((eax >> 20) & 0xff) : base_family;
    cpu.model = base_family == 0xf || base_family == 6
                    ? base_model | static_cast<int>(((eax >> 16) & 0xf) << 4)
                    : base_model;
  }
  cpu.sse3 = __builtin_cpu_supports("sse3");
  cpu.sse4_2 = __builtin_cpu_supports("sse4.2");
  cpu.avx = __builtin_cpu_supports("avx");  // these also check that the OS saves the registers
  cpu.avx2 = __builtin_cpu_supports("avx2");
  cpu.fma = __builtin_cpu_supports("fma");
  cpu.avx512f = __builtin_cpu_supports("avx512f");
  cpu.avx512bw = __builtin_cpu_supports("avx512bw");
  cpu.avx512dq = __builtin_cpu_supports("avx512dq");
  cpu.avx512vl = __builtin_cpu_supports("avx512vl");
  cpu.avx512_bf16 = __builtin_cpu_supports("avx512bf16");
  return cpu;
}

PeakRate single_precision_peak(const CpuFeatures& cpu) {
  if (cpu.avx512f) {
    if (cpu.amd && cpu.family == 25)
      return {32, "AVX-512 on Zen 4: 512-bit FMAs on 2 x 256-bit units, 2 x 8 floats x 2"};
    return {64, "AVX-512: 2 FMA units x 16 floats x 2 (CPUs with one 512-bit FMA unit reach half)"};
  }
  if (cpu.avx2 && cpu.fma) {
    if (cpu.amd && cpu.family == 23 && cpu.model < 0x30)
      return {16, "AVX2 + FMA on Zen 1/Zen+: 2 x 128-bit FMA units, 2 x 4 floats x 2"};
    return {32, "AVX2 + FMA: 2 FMA units x 8 floats x 2"};
  }
  if (cpu.avx) return {16, "AVX without FMA: one 8-wide add + one 8-wide multiply"};
  return {8, "SSE: one 4-wide add + one 4-wide multiply"};
}

double cpuinfo_ghz(const std::string& cpuinfo) {
  std::istringstream lines(cpuinfo);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind("cpu MHz", 0) != 0) continue;
    const std::size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    try {
      return std::stod(line.substr(colon + 1)) / 1000.0;
    } catch (const std::exception&) {
      return 0.0;
    }
  }
  return 0.0;
}

CpuClock cpu_clock() {
  std::ifstream max_freq("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq");
  double khz = 0.0;
  if (max_freq >> khz && khz > 0) return {khz / 1e6, "cpufreq cpuinfo_max_freq"};
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::ostringstream text;
  text << cpuinfo.rdbuf();
  const double ghz = cpuinfo_ghz(text.str());
  if (ghz > 0) return {ghz, "/proc/cpuinfo cpu MHz"};
  return {0.0, "unknown"};
}

}  // namespace fmnist
