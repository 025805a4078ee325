// The CPU this process runs on: the instruction sets that decide which BLAS kernels it can
// run, and its nominal single-precision peak (FLOPs per cycle from the ISA x clock).
#pragma once

#include <string>

namespace fmnist {

/// The instruction sets that matter for sgemm (as the OS enables them), vendor and family.
struct CpuFeatures {
  bool amd = false;  // vendor: AMD's cores differ from Intel's at the same ISA level
  int family = 0;    // cpuid family and model, extended fields included (Zen1: 23, 1)
  int model = 0;
  bool sse3 = false;
  bool sse4_2 = false;
  bool avx = false;
  bool avx2 = false;
  bool fma = false;
  bool avx512f = false;
  bool avx512bw = false;
  bool avx512dq = false;
  bool avx512vl = false;
  bool avx512_bf16 = false;
};

/// This CPU's features (cpuid, and the compiler's __builtin_cpu_supports for OS support).
CpuFeatures detect_cpu_features();

/// Single-precision FLOPs one core can start per cycle with its widest FMA (or add + mul),
/// and the assumption behind the figure in words.
struct PeakRate {
  int flops_per_cycle = 0;
  std::string assumption;
};

/// From the ISA and the microarchitecture family: AVX-512 on Intel 2 FMA units x 16 floats x 2
/// = 64 (1-unit SKUs reach half), on AMD Zen 4 32 (512-bit ops on 256-bit units); AVX2 + FMA
/// 2 x 8 x 2 = 32, except Zen 1/Zen+ (family 23, model < 0x30): 2 x 128-bit units = 16; AVX
/// one 8-wide add + one 8-wide mul = 16; SSE 4 + 4 = 8.
PeakRate single_precision_peak(const CpuFeatures& cpu);

/// The clock a nominal peak is taken at, in GHz, and where it came from; 0 when unknown.
struct CpuClock {
  double ghz = 0.0;
  std::string source;
};

/// cpufreq's cpuinfo_max_freq (the highest clock) where /sys has it, else /proc/cpuinfo's
/// "cpu MHz" of the first CPU (what a VM reports as its clock).
CpuClock cpu_clock();

/// The first "cpu MHz" value of a /proc/cpuinfo text in GHz; 0 when there is none.
double cpuinfo_ghz(const std::string& cpuinfo);

}  // namespace fmnist
