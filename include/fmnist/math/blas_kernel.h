// Which OpenBLAS kernel runs, and making it the best one the CPU can run. A distribution's
// OpenBLAS does not know CPUs newer than itself and falls back to its generic Prescott (SSE3)
// kernels on them; OpenBLAS reads OPENBLAS_CORETYPE only when it loads, so the fix is to
// re-execute the program with that variable set, before MPI_Init.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "fmnist/core/cpu.h"

namespace fmnist {

/// ISA level of an OpenBLAS x86-64 core name (case-insensitive): 0 for the generic SSE/SSE3
/// kernels (Prescott, Core2, Atom, ...), 1 SSE4.2 (Nehalem), 2 AVX (Sandybridge, Bulldozer),
/// 3 AVX2+FMA (Haswell, Zen), 4 AVX-512 (SkylakeX, and Cooperlake: its sgemm is SkylakeX's, the
/// same 34,407-byte kernel in Debian's 0.3.21, its BF16 routines are not used here), 6 AMX
/// (SapphireRapids); nullopt for a name this table does not know.
std::optional<int> blas_kernel_level(const std::string& core);

/// True when the CPU has every instruction set the named kernel uses (false for unknown names).
bool cpu_can_run_blas_kernel(const CpuFeatures& cpu, const std::string& core);

/// The kernels fmnist_dist may ask OpenBLAS 0.3.x for on this CPU, best first: Cooperlake,
/// SkylakeX, Zen/Haswell (Zen first on AMD), Sandybridge, Nehalem, Prescott, each only when
/// the CPU can run it.
std::vector<std::string> blas_kernel_candidates(const CpuFeatures& cpu);

/// The kernel to ask for instead of `in_use`: the best candidate above its level that was not
/// `already_tried` (this OpenBLAS lacked it); nullopt when `in_use` is as good or unknown.
std::optional<std::string> better_blas_kernel(const CpuFeatures& cpu, const std::string& in_use,
                                              const std::vector<std::string>& already_tried);

/// How the kernel in use came about.
enum class BlasKernelSource {
  kOpenBlas,  // OpenBLAS' own choice, already the best it has for this CPU
  kUpgraded,  // fmnist_dist set OPENBLAS_CORETYPE and re-executed itself
  kUser,      // the user's OPENBLAS_CORETYPE, respected as it is
};

struct BlasKernelStatus {
  std::string in_use;           // openblas_get_corename()
  std::string openblas_choice;  // what OpenBLAS picked by itself (kUpgraded), else in_use
  BlasKernelSource source = BlasKernelSource::kOpenBlas;
  bool generic = false;  // level 0: the SSE kernels, far below what AVX machines do
};

/// The kernel this process runs and how it was chosen (after use_best_blas_kernel).
BlasKernelStatus blas_kernel_status();

/// One line for the layout print: "OpenBLAS kernel Zen (OpenBLAS' choice)" and the like.
std::string describe_blas_kernel(const BlasKernelStatus& status);

/// Why the kernel in use is slower than this CPU allows, or "" when it is not: a generic
/// (SSE) kernel, or a user's OPENBLAS_CORETYPE below the best candidate for `cpu`.
std::string blas_kernel_warning(const BlasKernelStatus& status, const CpuFeatures& cpu);

/// Call first thing in main, before MPI_Init: when OpenBLAS loaded a worse kernel than this
/// CPU can run and the user did not set OPENBLAS_CORETYPE, re-executes /proc/self/exe with the
/// same argv and OPENBLAS_CORETYPE set (a marker variable bounds the retries, so there is no
/// exec loop). Returns normally when nothing is to be done or the exec fails.
void use_best_blas_kernel(char** argv);

}  // namespace fmnist
