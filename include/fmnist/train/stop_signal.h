// SIGTERM / SIGUSR1 (what Slurm sends before a time limit or a preemption) only set a flag;
// the ranks agree on it at the next step boundary and checkpoint together.
#pragma once

namespace fmnist {

/// Exit status of a run stopped by a signal after writing its checkpoint (EX_TEMPFAIL:
/// "try again later"); the Slurm script requeues the job on it.
constexpr int kExitPreempted = 75;

/// Installs the handlers for SIGTERM and SIGUSR1.
void install_stop_signal_handlers();
/// True once SIGTERM or SIGUSR1 has arrived in this process.
bool stop_signal_received();

}  // namespace fmnist
