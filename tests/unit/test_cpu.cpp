// The nominal peak: FLOPs per cycle from hand-written feature sets (the FMA widths are the
// vendors' published figures), and the clock parsed from /proc/cpuinfo text.
#include <gtest/gtest.h>

#include "fmnist/core/cpu.h"

namespace fmnist {
namespace {

CpuFeatures avx2_fma(bool amd, int family, int model) {
  CpuFeatures cpu;
  cpu.amd = amd;
  cpu.family = family;
  cpu.model = model;
  cpu.sse3 = cpu.sse4_2 = cpu.avx = cpu.avx2 = cpu.fma = true;
  return cpu;
}

TEST(CpuPeak, FlopsPerCycleFromTheIsa) {
  EXPECT_EQ(single_precision_peak(avx2_fma(true, 23, 1)).flops_per_cycle, 16);     // Zen 1: 2 x 128-bit FMA
  EXPECT_EQ(single_precision_peak(avx2_fma(true, 23, 0x08)).flops_per_cycle, 16);  // Zen+
  EXPECT_EQ(single_precision_peak(avx2_fma(true, 23, 0x31)).flops_per_cycle, 32);  // Zen 2: 2 x 256-bit
  EXPECT_EQ(single_precision_peak(avx2_fma(false, 6, 0x55)).flops_per_cycle, 32);  // Intel AVX2: 2 x 8 x 2
  CpuFeatures xeon = avx2_fma(false, 6, 207);
  xeon.avx512f = xeon.avx512bw = xeon.avx512dq = xeon.avx512vl = xeon.avx512_bf16 = true;
  EXPECT_EQ(single_precision_peak(xeon).flops_per_cycle, 64);  // 2 x 16 x 2
  CpuFeatures zen4 = xeon;
  zen4.amd = true;
  zen4.family = 25;
  EXPECT_EQ(single_precision_peak(zen4).flops_per_cycle, 32);
  CpuFeatures sandy = avx2_fma(false, 6, 42);
  sandy.avx2 = sandy.fma = false;
  EXPECT_EQ(single_precision_peak(sandy).flops_per_cycle, 16);  // 8-wide add + 8-wide mul
  EXPECT_EQ(single_precision_peak(CpuFeatures{}).flops_per_cycle, 8);
  EXPECT_FALSE(single_precision_peak(xeon).assumption.empty());
}

TEST(CpuPeak, ClockFromCpuinfo) {
  EXPECT_DOUBLE_EQ(
      cpuinfo_ghz("processor\t: 0\nmodel name\t: AMD EPYC\ncpu MHz\t\t: 1996.248\ncache size\t: 512 KB\n"
                  "processor\t: 1\ncpu MHz\t\t: 2400.000\n"),
      1.996248);
  EXPECT_DOUBLE_EQ(cpuinfo_ghz("processor\t: 0\nmodel name\t: something\n"), 0.0);
  EXPECT_DOUBLE_EQ(cpuinfo_ghz("cpu MHz\t\t: unknown\n"), 0.0);
}

TEST(CpuPeak, DetectedFeaturesAreConsistent) {
  const CpuFeatures cpu = detect_cpu_features();  // whatever runs the test: implications hold
  EXPECT_TRUE(!cpu.avx2 || cpu.avx);
  EXPECT_TRUE(!cpu.avx || cpu.sse4_2);
  EXPECT_TRUE(!cpu.avx512bw || cpu.avx512f);
  EXPECT_GT(cpu.family, 0);
}

}  // namespace
}  // namespace fmnist
