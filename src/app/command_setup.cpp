// Set-up helpers shared by the commands (see command_setup.h).
#include "fmnist/app/command_setup.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <vector>

#include "fmnist/math/blas_kernel.h"

namespace fmnist {

bool any_setup_error(Communicator& comm, const std::string& error) {
  const std::vector<std::uint64_t> failed = comm.allgather(error.empty() ? 0 : 1);
  for (std::size_t r = 0; r < failed.size(); ++r) {
    if (!failed[r]) continue;
    if (static_cast<int>(r) == comm.rank()) std::cerr << "[rank " << r << "] error: " << error << std::endl;
    return true;
  }
  return false;
}

std::string timestamp_dir() {
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  std::ostringstream out;
  out << "results/runs/" << std::put_time(&local, "%Y%m%d-%H%M%S");
  return out.str();
}

int choose_threads(const TrainConfig& config, const Topology& t) {
  if (config.threads > 0) return config.threads;
  return std::max(1, t.node_cores / t.node_size);
}

void print_layout(std::ostream& out, const Topology& t, int threads) {
  out << "fmnist_dist: " << t.size << (t.size == 1 ? " rank" : " ranks") << " on " << t.nodes
      << (t.nodes == 1 ? " node" : " nodes") << ", " << threads << " BLAS thread" << (threads == 1 ? "" : "s")
      << " per rank, " << t.node_cores << " cores per node, " << describe_blas_kernel(blas_kernel_status())
      << "\n";
  const std::string kernel_warning = blas_kernel_warning(blas_kernel_status(), detect_cpu_features());
  if (!kernel_warning.empty()) out << "warning: " << kernel_warning << "\n";
  if (threads > t.node_cores)
    out << "warning: --threads " << threads << " exceeds this node's " << t.node_cores << " cores\n";
  else if (t.node_size * threads > t.node_cores)
    out << "warning: " << t.node_size << " ranks x " << threads << " threads exceed the node's " << t.node_cores
        << " cores; the node is oversubscribed and steps will be slower\n";
}

/// Open MPI runs every rank on a pseudo-terminal, so isatty() cannot tell whether the user
/// watches a terminal; under mpirun, "auto" prints lines and the launch script asks for a bar.
bool live_progress(const std::string& mode) {
  if (mode != "auto") return mode == "bar";
  return isatty(STDOUT_FILENO) && std::getenv("OMPI_COMM_WORLD_SIZE") == nullptr;
}

void print_test_line(std::ostream& out, const EvalResult& test) {
  char line[96];
  std::snprintf(line, sizeof(line), "test_loss: %.4f - test_accuracy: %.4f", test.loss, test.accuracy);
  out << line << std::endl;
}

}  // namespace fmnist
