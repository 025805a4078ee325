// run_app: set-up (collective error agreement), then the chosen command.
#include "fmnist/app/app.h"

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <optional>
#include <sstream>

#include "fmnist/app/cli.h"
#include "fmnist/core/error.h"
#include "fmnist/data/idx_reader.h"
#include "fmnist/dist/communicator.h"
#include "fmnist/math/gemm.h"
#include "fmnist/nn/model_spec.h"
#include "fmnist/train/stop_signal.h"
#include "fmnist/train/trainer.h"

namespace fmnist {
namespace {

/// Every rank calls this with its own set-up error (empty if none). If any rank failed, the
/// lowest failing rank prints its message and every rank gets true, so all can exit at once.
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

/// BLAS threads per rank: --threads, else the node's cores shared by its ranks.
int choose_threads(const TrainConfig& config, const Topology& t) {
  if (config.threads > 0) return config.threads;
  return std::max(1, t.node_cores / t.node_size);
}

void print_layout(std::ostream& out, const Topology& t, int threads) {
  out << "fmnist_dist: " << t.size << (t.size == 1 ? " rank" : " ranks") << " on " << t.nodes
      << (t.nodes == 1 ? " node" : " nodes") << ", " << threads << " BLAS thread" << (threads == 1 ? "" : "s")
      << " per rank, " << t.node_cores << " cores per node\n";
  if (t.node_size * threads > t.node_cores)
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

int run_training(const CliOptions& cli, Communicator& comm) {
  std::ostream* log = comm.rank() == 0 ? &std::cout : nullptr;
  std::string error;
  std::optional<Trainer> trainer;
  TrainConfig config = cli.config;
  try {
    if (config.output_dir.empty()) config.output_dir = timestamp_dir();
    comm.broadcast(config.output_dir, 0);
    const int threads = choose_threads(config, comm.topology());
    set_blas_threads(threads);
    if (log) print_layout(*log, comm.topology(), threads);
    DataSplits splits = make_splits(load_fashion_mnist(config.data_dir), config.validation_split);
    trainer.emplace(config, std::move(splits), comm, log);
    trainer->set_live_progress(log && live_progress(cli.progress));
  } catch (const std::exception& e) {
    error = e.what();
  }
  if (any_setup_error(comm, error)) return 1;

  trainer->initialize_parameters();
  install_stop_signal_handlers();
  const FitOutcome outcome = trainer->fit();
  if (outcome == FitOutcome::kStopSignal) {
    if (log) *log << "stopped by signal " << stop_signal_number() << " at step " << trainer->position().global_step << "\n";
    return kExitPreempted;
  }
  const EvalResult test = trainer->evaluate(trainer->data().test);
  if (log) print_test_line(*log, test);
  return 0;
}

}  // namespace

int run_app(int argc, const char* const* argv, Communicator& comm) {
  CliOptions cli;
  std::string error;
  try {
    cli = parse_command_line(argc, argv);
  } catch (const std::exception& e) {
    error = e.what();
  }
  if (any_setup_error(comm, error)) return 1;
  std::ostream* log = comm.rank() == 0 ? &std::cout : nullptr;

  switch (cli.command) {
    case Command::kHelp:
      if (log) *log << cli.help;
      return 0;
    case Command::kSummary: {
      std::unique_ptr<Sequential> model;
      try {
        model = build_model(cli.config.model);
      } catch (const std::exception& e) {
        error = e.what();
      }
      if (any_setup_error(comm, error)) return 1;
      if (log) *log << model_summary(*model);
      return 0;
    }
    case Command::kEvaluate:
    case Command::kBenchmark:
    case Command::kTrain:
      break;
  }
  return run_training(cli, comm);
}

}  // namespace fmnist
