// run_app: parses the command line (errors agreed on by all ranks), then dispatches to the
// chosen command, each in its own file.
#include "fmnist/app/app.h"

#include <iostream>

#include "fmnist/app/benchmark_command.h"
#include "fmnist/app/cli.h"
#include "fmnist/app/command_setup.h"
#include "fmnist/app/evaluate_command.h"
#include "fmnist/app/export_command.h"
#include "fmnist/app/predict_command.h"
#include "fmnist/app/summary_command.h"
#include "fmnist/app/train_command.h"
#include "fmnist/train/stop_signal.h"

namespace fmnist {

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

  switch (cli.command) {
    case Command::kHelp:
      if (comm.rank() == 0) std::cout << cli.help;
      return 0;
    case Command::kSummary:
      return run_summary_command(cli, comm);
    case Command::kEvaluate:
      return run_evaluate_command(cli, comm);
    case Command::kPredict:
      return run_predict_command(cli, comm);
    case Command::kExportKeras:
      return run_export_command(cli, comm);
    case Command::kBenchmark:
      return run_benchmark_command(cli, comm);
    case Command::kTrain:
      break;
  }
  return run_train_command(cli, comm);
}

}  // namespace fmnist
