// What every command shares while it sets up: agreeing on set-up errors across ranks, BLAS
// threads per rank, the layout line, the progress mode and the Keras-style test line.
#pragma once

#include <ostream>
#include <string>

#include "fmnist/dist/communicator.h"
#include "fmnist/train/config.h"
#include "fmnist/train/trainer.h"

namespace fmnist {

/// Every rank calls this with its own set-up error (empty if none). If any rank failed, the
/// lowest failing rank prints its message and every rank gets true, so all can exit at once.
bool any_setup_error(Communicator& comm, const std::string& error);

/// "results/runs/<local time YYYYmmdd-HHMMSS>", the default --output-dir.
std::string timestamp_dir();

/// BLAS threads per rank: --threads, else the node's cores shared by its ranks.
int choose_threads(const TrainConfig& config, const Topology& t);

/// The "N ranks on M nodes, T BLAS threads" line, and a warning when the node is oversubscribed.
void print_layout(std::ostream& out, const Topology& t, int threads);

/// Whether --progress MODE means a live bar on this process.
bool live_progress(const std::string& mode);

/// "test_loss: 0.3512 - test_accuracy: 0.8732", as Keras' evaluate prints it.
void print_test_line(std::ostream& out, const EvalResult& test);

}  // namespace fmnist
