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
#include "fmnist/io/checkpoint_dir.h"
#include "fmnist/io/history_file.h"
#include "fmnist/math/blas_kernel.h"
#include "fmnist/math/gemm.h"
#include "fmnist/nn/model_spec.h"
#include "fmnist/train/benchmark.h"
#include "fmnist/train/checkpointing.h"
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
      << " per rank, " << t.node_cores << " cores per node, " << describe_blas_kernel(blas_kernel_status())
      << "\n";
  const std::string kernel_warning = blas_kernel_warning(blas_kernel_status(), detect_cpu_features());
  if (!kernel_warning.empty()) out << "warning: " << kernel_warning << "\n";
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

/// Finds the checkpoint --resume asks for: a path, or "auto" for the newest in the run's
/// checkpoint folder (none: start fresh). Rank 0 only.
std::optional<std::string> resume_path(const TrainConfig& config) {
  if (config.resume.empty()) return std::nullopt;
  if (config.resume != "auto") return config.resume;
  return latest_checkpoint(config.output_dir + "/checkpoints");
}

/// Rank 0 writes the checkpoint, and the history files when they lack rows (the history only
/// grows at epoch ends, so mid-epoch checkpoints rarely need to rewrite them);
/// `history_rows_written` is what this run last wrote. Other ranks have nothing to do (their
/// state is identical, which --check-replicas verifies).
void save_run_state(Trainer& trainer, std::ostream* log, std::size_t& history_rows_written) {
  if (trainer.comm().rank() != 0) return;
  const TrainConfig& config = trainer.config();
  const std::string path = save_checkpoint(config.output_dir + "/checkpoints", capture_checkpoint(trainer),
                                           config.keep_checkpoints);
  const std::size_t rows = trainer.history().rows();
  if (rows > 0 && rows != history_rows_written) {
    write_history(config.output_dir + "/history.h5", config.output_dir + "/history.csv", trainer.history());
    history_rows_written = rows;
  }
  if (log && trainer.position().step_in_epoch > 0) *log << "checkpoint: " << path << "\n";
}

int run_training(const CliOptions& cli, Communicator& comm) {
  std::ostream* log = comm.rank() == 0 ? &std::cout : nullptr;
  std::string error;
  std::optional<Trainer> trainer;
  TrainConfig config = cli.config;
  std::int64_t resumed = 0;
  try {
    if (config.output_dir.empty()) config.output_dir = timestamp_dir();
    comm.broadcast(config.output_dir, 0);
    const int threads = choose_threads(config, comm.topology());
    set_blas_threads(threads);
    if (log) print_layout(*log, comm.topology(), threads);
    DataSplits splits = make_splits(load_fashion_mnist(config.data_dir), config.validation_split);
    trainer.emplace(config, std::move(splits), comm, log);
    trainer->set_live_progress(log && live_progress(cli.progress));
    if (comm.rank() == 0) {
      std::filesystem::create_directories(config.output_dir);
      if (const std::optional<std::string> path = resume_path(config)) {
        restore_checkpoint(*trainer, read_checkpoint(*path), *path);
        resumed = 1;
        *log << "resumed from " << *path << " at epoch " << trainer->position().epoch + 1 << ", step "
             << trainer->position().step_in_epoch << " (global step " << trainer->position().global_step << ")\n";
      }
    }
  } catch (const std::exception& e) {
    error = e.what();
  }
  if (any_setup_error(comm, error)) return 1;

  comm.broadcast(&resumed, 1, 0);
  if (resumed) {
    trainer->broadcast_state(0);
  } else {
    trainer->initialize_parameters();
  }
  std::size_t history_rows_written = 0;  // none yet in this run, whatever the folder holds
  const FitOutcome outcome = trainer->fit([&] { save_run_state(*trainer, log, history_rows_written); });
  if (outcome == FitOutcome::kStopSignal) {
    if (log)
      *log << "\nstopped by SIGTERM/SIGUSR1 (received by " << (stop_signal_received() ? "rank 0" : "another rank")
           << ") at global step " << trainer->position().global_step << "; checkpoint written, exit status "
           << kExitPreempted << " (resume with --resume auto)\n";
    return kExitPreempted;
  }
  const EvalResult test = trainer->evaluate(trainer->data().test);
  if (log) print_test_line(*log, test);
  return 0;
}

/// --evaluate PATH: the checkpoint's model and parameters on the test set.
int run_evaluate(const CliOptions& cli, Communicator& comm) {
  std::ostream* log = comm.rank() == 0 ? &std::cout : nullptr;
  std::string error;
  std::optional<Trainer> trainer;
  try {
    // Rank 0 reads the checkpoint; the others get the model spec and options from it.
    CheckpointState state;
    if (comm.rank() == 0) state = read_checkpoint(cli.evaluate_path);
    std::string spec = state.model_spec, config_text = state.config;
    comm.broadcast(spec, 0);
    comm.broadcast(config_text, 0);
    TrainConfig config = cli.config;
    config.model = spec;
    config.normalize = parse_config_text(config_text)["no-normalize"] != "true";
    set_blas_threads(choose_threads(config, comm.topology()));
    DataSplits splits;
    splits.test = make_splits(load_fashion_mnist(config.data_dir), 0).test;
    trainer.emplace(config, std::move(splits), comm, log);
    if (comm.rank() == 0) restore_parameters(trainer->model(), state, cli.evaluate_path);
  } catch (const std::exception& e) {
    error = e.what();
  }
  if (any_setup_error(comm, error)) return 1;
  trainer->broadcast_state(0);
  const EvalResult test = trainer->evaluate(trainer->data().test);
  if (log) print_test_line(*log, test);
  return 0;
}

/// --benchmark: timed steps of --model on the real training data.
int run_benchmark_command(const CliOptions& cli, Communicator& comm) {
  std::string error;
  DataSplits splits;
  try {
    const int threads = choose_threads(cli.config, comm.topology());
    set_blas_threads(threads);
    if (comm.rank() == 0) print_layout(std::cout, comm.topology(), threads);
    splits = make_splits(load_fashion_mnist(cli.config.data_dir), cli.config.validation_split);
  } catch (const std::exception& e) {
    error = e.what();
  }
  if (any_setup_error(comm, error)) return 1;
  BenchmarkOptions options;
  options.warmup_steps = cli.benchmark_warmup;
  options.timed_steps = cli.benchmark_steps;
  options.json_path = cli.benchmark_json;
  options.layer_profile = cli.benchmark_layers;
  run_benchmark(cli.config, std::move(splits), comm, options, comm.rank() == 0 ? &std::cout : nullptr);
  return 0;
}

}  // namespace

int run_app(int argc, const char* const* argv, Communicator& comm) {
  // First of all: a SIGUSR1 that arrives while the data loads must set the flag, not kill.
  install_stop_signal_handlers();
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
      return run_evaluate(cli, comm);
    case Command::kBenchmark:
      return run_benchmark_command(cli, comm);
    case Command::kTrain:
      break;
  }
  return run_training(cli, comm);
}

}  // namespace fmnist
