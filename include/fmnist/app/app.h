// The fmnist_dist program: turns the parsed command line into a training, summary, evaluation,
// prediction, Keras export or benchmark run on every rank.
#pragma once

namespace fmnist {

class Communicator;

/// Runs the program on this rank; returns the process exit status (0, 1 or kExitPreempted).
/// Errors found while setting up (options, data, checkpoints) are agreed on by all ranks,
/// printed once as "[rank r] message" and returned as 1 on every rank. Errors thrown later,
/// inside collectives, propagate to main, which prints them and aborts the job.
int run_app(int argc, const char* const* argv, Communicator& comm);

}  // namespace fmnist
