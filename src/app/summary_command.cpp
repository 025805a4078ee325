// --summary: Keras' model table (layers, output shapes, parameters), printed by rank 0.
#include "fmnist/app/summary_command.h"

#include <iostream>
#include <memory>

#include "fmnist/app/command_setup.h"
#include "fmnist/nn/model_spec.h"

namespace fmnist {

int run_summary_command(const CliOptions& cli, Communicator& comm) {
  std::string error;
  std::unique_ptr<Sequential> model;
  try {
    model = build_model(cli.config.model);
  } catch (const std::exception& e) {
    error = e.what();
  }
  if (any_setup_error(comm, error)) return 1;
  if (comm.rank() == 0) std::cout << model_summary(*model);
  return 0;
}

}  // namespace fmnist
