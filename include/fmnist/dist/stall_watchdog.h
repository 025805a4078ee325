// The stall watchdog: a deadline on the collectives of a training step. While a step is armed,
// the Communicator waits on its collectives through wait() (MPI_Test in a loop) instead of
// blocking in MPI; a rank blocked for long sends heartbeats, rank 0 learns from them and from
// one small progress message per step which ranks went silent, warns, and ends the job.
#pragma once

#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <vector>

#include "fmnist/dist/communicator.h"

namespace fmnist {

/// Exit status of a job ended by the watchdog (a rank stopped taking part in the collectives).
/// The checkpoints are intact: resume with --resume auto.
constexpr int kExitStalled = 76;

/// --stall-warning and --stall-timeout, in seconds; 0 turns each off.
struct StallLimits {
  double warning_seconds = 60;
  double timeout_seconds = 300;
};

class StallWatchdog {
 public:
  /// Collective over `comm` (duplicates it for its own messages). `log` (rank 0) gets the
  /// warnings. With both limits 0 it does nothing and sends nothing.
  StallWatchdog(Communicator& comm, StallLimits limits, std::ostream* log);
  ~StallWatchdog();
  StallWatchdog(const StallWatchdog&) = delete;
  StallWatchdog& operator=(const StallWatchdog&) = delete;

  /// Arms the deadline for step `step`'s collectives and reports the step to rank 0.
  void begin_step(std::int64_t step);
  /// Disarms it: what follows (checkpoint, evaluation) may take as long as it needs.
  void end_step() { armed_ = false; }
  bool armed() const { return armed_; }

  /// Waits for `op` (started on the Communicator) under the deadline. Throws Error with exit
  /// code kExitStalled, naming the silent ranks, once it has waited --stall-timeout.
  void wait(PendingCollective& op, const char* what);

 private:
  struct PeerReport {
    std::int64_t step = -1;   // last step the peer reported (-1: none yet)
    std::int64_t waiting = 0; // 1 if its last message was a heartbeat from inside a wait
    std::chrono::steady_clock::time_point heard{};  // when it arrived
  };
  void poll_reports();
  void send_report(std::int64_t waiting);
  std::string silent_ranks(std::chrono::steady_clock::time_point now, double silent_seconds) const;
  [[noreturn]] void time_out(const char* what, double waited);

  Communicator& comm_;
  StallLimits limits_;
  std::ostream* log_;
  bool enabled_ = false;
  bool armed_ = false;
  std::int64_t step_ = 0;
  std::chrono::steady_clock::time_point started_{};  // construction: "silent since the start"
  void* comm_handle_ = nullptr;  // owned MPI_Comm for the reports
  // Rank 0 listens to every other rank, every other rank to rank 0; one receive and one send
  // in flight per peer, all preallocated (the training step allocates nothing).
  std::vector<int> peers_;
  std::vector<PendingCollective> receives_, sends_;
  std::vector<std::int64_t> receive_buffers_, send_buffers_;  // 2 values per peer: step, waiting
  std::vector<PeerReport> reports_;
};

}  // namespace fmnist
