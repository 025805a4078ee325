// The training command: set-up (collective error agreement), resume, fit, test evaluation.
#include "fmnist/app/train_command.h"

#include <filesystem>
#include <iostream>
#include <optional>
#include <sstream>

#include "fmnist/app/command_setup.h"
#include "fmnist/data/idx_reader.h"
#include "fmnist/io/checkpoint_dir.h"
#include "fmnist/io/history_file.h"
#include "fmnist/math/gemm.h"
#include "fmnist/train/checkpointing.h"
#include "fmnist/train/stop_signal.h"
#include "fmnist/train/trainer.h"

namespace fmnist {
namespace {

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

}  // namespace

int run_train_command(const CliOptions& cli, Communicator& comm) {
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
  if (outcome == FitOutcome::kDiverged) {
    if (comm.rank() == 0) {
      const std::optional<std::string> good = latest_checkpoint(config.output_dir + "/checkpoints");
      std::ostringstream loss;
      loss << trainer->diverged_loss();
      std::cerr << "[rank 0] error: diverged: the global loss of step " << trainer->position().global_step + 1
                << " is " << loss.str() << ", so training stopped (as Keras' TerminateOnNaN); "
                << (good ? "last good checkpoint: " + *good + " (--resume auto continues from it)"
                         : std::string("no checkpoint was written before it"))
                << std::endl;
    }
    return 1;
  }
  const EvalResult test = trainer->evaluate(trainer->data().test);
  if (log) print_test_line(*log, test);
  return 0;
}

}  // namespace fmnist
