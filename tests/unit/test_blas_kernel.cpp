// The features -> OpenBLAS kernel decision, on feature sets written out by hand for the CPUs
// it must handle (an AVX-512 BF16 Xeon that OpenBLAS 0.3.21 does not know, this Zen, ...).
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "fmnist/math/blas_kernel.h"

namespace fmnist {
namespace {

CpuFeatures sse3_only() {
  CpuFeatures cpu;
  cpu.sse3 = true;
  return cpu;
}
CpuFeatures sse4_2() {
  CpuFeatures cpu = sse3_only();
  cpu.sse4_2 = true;
  return cpu;
}
CpuFeatures avx() {
  CpuFeatures cpu = sse4_2();
  cpu.avx = true;
  return cpu;
}
CpuFeatures avx2_fma(bool amd) {
  CpuFeatures cpu = avx();
  cpu.avx2 = cpu.fma = true;
  cpu.amd = amd;
  return cpu;
}
CpuFeatures avx512(bool bf16) {
  CpuFeatures cpu = avx2_fma(false);
  cpu.avx512f = cpu.avx512bw = cpu.avx512dq = cpu.avx512vl = true;
  cpu.avx512_bf16 = bf16;
  return cpu;
}

using Names = std::vector<std::string>;

TEST(BlasKernel, CandidatesFollowTheFeatures) {
  EXPECT_EQ(blas_kernel_candidates(avx512(true)),
            (Names{"Cooperlake", "SkylakeX", "Haswell", "Zen", "Sandybridge", "Nehalem", "Prescott"}));
  EXPECT_EQ(blas_kernel_candidates(avx512(false)),
            (Names{"SkylakeX", "Haswell", "Zen", "Sandybridge", "Nehalem", "Prescott"}));
  EXPECT_EQ(blas_kernel_candidates(avx2_fma(true)),
            (Names{"Zen", "Haswell", "Sandybridge", "Nehalem", "Prescott"}));
  EXPECT_EQ(blas_kernel_candidates(avx2_fma(false)),
            (Names{"Haswell", "Zen", "Sandybridge", "Nehalem", "Prescott"}));
  EXPECT_EQ(blas_kernel_candidates(avx()), (Names{"Sandybridge", "Nehalem", "Prescott"}));
  EXPECT_EQ(blas_kernel_candidates(sse4_2()), (Names{"Nehalem", "Prescott"}));
  EXPECT_EQ(blas_kernel_candidates(sse3_only()), (Names{"Prescott"}));
  EXPECT_TRUE(blas_kernel_candidates(CpuFeatures{}).empty());
}

TEST(BlasKernel, AvxAloneOrFmaAloneIsNotHaswell) {
  CpuFeatures cpu = avx();
  cpu.fma = true;  // FMA without AVX2 (AMD Piledriver-like)
  EXPECT_FALSE(cpu_can_run_blas_kernel(cpu, "Haswell"));
  cpu = avx2_fma(false);
  cpu.avx512dq = cpu.avx512f = true;  // partial AVX-512 (no BW/VL) is not SkylakeX
  EXPECT_FALSE(cpu_can_run_blas_kernel(cpu, "SkylakeX"));
  EXPECT_FALSE(cpu_can_run_blas_kernel(avx512(false), "Cooperlake"));
  EXPECT_TRUE(cpu_can_run_blas_kernel(avx512(true), "cooperlake"));    // OpenBLAS ignores case too
  EXPECT_FALSE(cpu_can_run_blas_kernel(avx2_fma(true), "Bulldozer"));  // never chosen: not vouched for
}

TEST(BlasKernel, PrescottFallbackOnANewXeonIsUpgraded) {
  // The Xeon (family 6 model 207): OpenBLAS 0.3.21 does not know it and loads Prescott.
  EXPECT_EQ(better_blas_kernel(avx512(true), "Prescott", {}), std::optional<std::string>("Cooperlake"));
  // This OpenBLAS lacks Cooperlake (the re-exec got something else): the next best.
  EXPECT_EQ(better_blas_kernel(avx512(true), "Prescott", {"Cooperlake"}),
            std::optional<std::string>("SkylakeX"));
  EXPECT_EQ(better_blas_kernel(avx512(true), "Haswell", {"Cooperlake", "SkylakeX"}), std::nullopt);
  EXPECT_EQ(better_blas_kernel(avx512(false), "Haswell", {}), std::optional<std::string>("SkylakeX"));
}

TEST(BlasKernel, OpenBlasOwnSkylakeXOnABf16XeonIsLeftAlone) {
  // A Xeon with AVX512-BF16 (and AMX) that OpenBLAS 0.3.21 takes for SkylakeX: Cooperlake would
  // run the same sgemm, so a re-exec would buy nothing.
  EXPECT_EQ(better_blas_kernel(avx512(true), "SkylakeX", {}), std::nullopt);
  EXPECT_EQ(better_blas_kernel(avx512(true), "Cooperlake", {}), std::nullopt);
  EXPECT_EQ(better_blas_kernel(avx512(false), "SkylakeX", {}), std::nullopt);
}

TEST(BlasKernel, AvxTwoMachines) {
  EXPECT_EQ(better_blas_kernel(avx2_fma(true), "Prescott", {}), std::optional<std::string>("Zen"));
  EXPECT_EQ(better_blas_kernel(avx2_fma(false), "Nehalem", {}), std::optional<std::string>("Haswell"));
  EXPECT_EQ(better_blas_kernel(avx2_fma(true), "Zen", {}), std::nullopt);
  EXPECT_EQ(better_blas_kernel(avx2_fma(true), "Haswell", {}), std::nullopt);  // same level: left alone
  EXPECT_EQ(better_blas_kernel(avx2_fma(false), "Excavator", {}), std::nullopt);
}

TEST(BlasKernel, OlderMachinesAndUnknownCores) {
  EXPECT_EQ(better_blas_kernel(avx(), "Core2", {}), std::optional<std::string>("Sandybridge"));
  EXPECT_EQ(better_blas_kernel(sse4_2(), "Prescott", {}), std::optional<std::string>("Nehalem"));
  EXPECT_EQ(better_blas_kernel(sse3_only(), "Prescott", {}), std::nullopt);  // generic is all it can do
  // A core newer than this table (a later OpenBLAS): trust OpenBLAS, never downgrade.
  EXPECT_EQ(better_blas_kernel(avx512(true), "GraniteRapids", {}), std::nullopt);
  EXPECT_EQ(better_blas_kernel(avx512(true), "SapphireRapids", {}), std::nullopt);
}

TEST(BlasKernel, LevelsOrderTheIsas) {
  EXPECT_EQ(blas_kernel_level("Prescott"), 0);
  EXPECT_EQ(blas_kernel_level("NEHALEM"), 1);
  EXPECT_EQ(blas_kernel_level("Sandybridge"), 2);
  EXPECT_EQ(blas_kernel_level("Zen"), blas_kernel_level("Haswell"));
  EXPECT_EQ(blas_kernel_level("SkylakeX"), 4);
  EXPECT_EQ(blas_kernel_level("Cooperlake"), 4);  // SkylakeX's sgemm; only BF16 routines differ
  EXPECT_EQ(blas_kernel_level("unknown"), std::nullopt);
}

TEST(BlasKernel, DescriptionNamesKernelAndSource) {
  BlasKernelStatus status;
  status.in_use = "Cooperlake";
  status.openblas_choice = "Prescott";
  status.source = BlasKernelSource::kUpgraded;
  const std::string text = describe_blas_kernel(status);
  EXPECT_NE(text.find("Cooperlake"), std::string::npos) << text;
  EXPECT_NE(text.find("Prescott"), std::string::npos) << text;
}

TEST(BlasKernel, WarnsForGenericKernelsAndUserDowngrades) {
  BlasKernelStatus status;
  status.in_use = status.openblas_choice = "Prescott";
  status.generic = true;
  EXPECT_NE(blas_kernel_warning(status, sse3_only()).find("generic Prescott"), std::string::npos);
  status.in_use = "Nehalem";
  status.generic = false;
  status.source = BlasKernelSource::kUser;
  EXPECT_NE(blas_kernel_warning(status, avx2_fma(true)).find("(Zen)"), std::string::npos);
  EXPECT_EQ(blas_kernel_warning(status, sse4_2()), "");  // the best this CPU can run
  status.in_use = "Zen";
  status.source = BlasKernelSource::kOpenBlas;
  EXPECT_EQ(blas_kernel_warning(status, avx2_fma(true)), "");
}

}  // namespace
}  // namespace fmnist
