// --evaluate PATH: the checkpoint's model and parameters on the test set, sharded over ranks.
#include "fmnist/app/evaluate_command.h"

#include <iostream>
#include <optional>

#include "fmnist/app/command_setup.h"
#include "fmnist/data/idx_reader.h"
#include "fmnist/math/gemm.h"
#include "fmnist/train/checkpointing.h"
#include "fmnist/train/trainer.h"

namespace fmnist {

int run_evaluate_command(const CliOptions& cli, Communicator& comm) {
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

}  // namespace fmnist
