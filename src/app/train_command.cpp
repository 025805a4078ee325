// The training command: set-up (collective error agreement), resume, fit, test evaluation.
#include "fmnist/app/train_command.h"

#include <filesystem>
#include <iostream>
#include <optional>
#include <sstream>
#include <vector>

#include "fmnist/app/command_setup.h"
#include "fmnist/app/run_outputs.h"
#include "fmnist/data/idx_reader.h"
#include "fmnist/io/checkpoint_dir.h"
#include "fmnist/io/checkpoint_file.h"
#include "fmnist/io/history_file.h"
#include "fmnist/io/keras_weights_file.h"
#include "fmnist/math/gemm.h"
#include "fmnist/train/checkpointing.h"
#include "fmnist/train/keras_weights.h"
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

/// Rank 0 writes checkpoints/best.h5 (Keras' ModelCheckpoint(save_best_only=True)), a full
/// checkpoint of the epoch whose monitored metric is the best so far, replaced atomically.
void save_best_checkpoint(Trainer& trainer, std::ostream* log) {
  if (trainer.comm().rank() != 0) return;
  const std::string dir = trainer.config().output_dir + "/checkpoints";
  std::filesystem::create_directories(dir);
  write_checkpoint(dir + "/best.h5", capture_checkpoint(trainer));
  if (log) *log << "best " << trainer.config().best_checkpoint_monitor.metric << " so far: " << dir << "/best.h5\n";
}

}  // namespace

int run_train_command(const CliOptions& cli, Communicator& comm) {
  std::ostream* log = comm.rank() == 0 ? &std::cout : nullptr;
  std::string error;
  std::optional<Trainer> trainer;
  TrainConfig config = cli.config;
  std::int64_t resumed = 0, imported = 0;
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
      } else if (!cli.init_from.empty()) {
        // A resumed run has moved on from the imported weights: only a fresh start takes them.
        load_keras_weights(trainer->model(), read_keras_weights(cli.init_from), cli.init_from);
        imported = 1;
        *log << "initialised from Keras weights " << cli.init_from << "\n";
      }
    }
  } catch (const std::exception& e) {
    error = e.what();
  }
  if (any_setup_error(comm, error)) return 1;

  std::int64_t loaded[2] = {resumed, imported};
  comm.broadcast(loaded, 2, 0);
  if (loaded[0] || loaded[1]) {
    trainer->broadcast_state(0);
  } else {
    trainer->initialize_parameters();
  }
  std::size_t history_rows_written = 0;  // none yet in this run, whatever the folder holds
  const FitOutcome outcome = trainer->fit([&] { save_run_state(*trainer, log, history_rows_written); },
                                          [&] { save_best_checkpoint(*trainer, log); });
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
  // The files first: the Keras-style test line stays the run's last line. One pass over the
  // test set gives both the evaluation and the predictions.
  std::vector<float> probabilities;
  const EvalResult test =
      evaluate_and_write(*trainer, trainer->data().test, config.output_dir, log, false, &probabilities);
  PredictionInput input;
  input.images = &trainer->data().test;
  input.has_labels = true;
  input.train = &trainer->data().train;
  input.source = "test set";
  predict_and_write(*trainer, input, config.output_dir, log, 0, &probabilities);
  if (log) print_test_line(*log, test);
  return 0;
}

}  // namespace fmnist
