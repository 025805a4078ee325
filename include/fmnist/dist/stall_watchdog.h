// The stall watchdog: a deadline on the collectives of a training step. While a step is armed,
// the Communicator waits on its collectives through wait() (MPI_Test in a loop) instead of
// blocking in MPI; a rank blocked for long sends heartbeats (its step) every 0.5 s, to rank 0
// from the others and from rank 0 to the others, so a stall names the ranks that went silent;
// rank 0 warns, and ends the job. A healthy step sends no message.
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

  /// Arms the deadline for step `step`'s collectives.
  void begin_step(std::int64_t step);
  /// Disarms it: what follows (checkpoint, evaluation) may take as long as it needs.
  void end_step() { armed_ = false; }
  /// While suspended, begin_step() does not arm: the collectives block in MPI as without a
  /// watchdog. For `--benchmark-watchdog`, which times steps both ways in one run.
  void suspend(bool suspended) { suspended_ = suspended; }
  bool armed() const { return armed_; }

  /// Waits for `op` (started on the Communicator) under the deadline. Throws Error with exit
  /// code kExitStalled, naming the silent ranks, once it has waited --stall-timeout.
  void wait(PendingCollective& op, const char* what);

 private:
  struct PeerReport {
    std::int64_t step = -1;  // step of the peer's last heartbeat (-1: none yet)
    std::chrono::steady_clock::time_point heard{};  // when it arrived
  };
  void poll_reports();
  void send_heartbeat();
  /// The peers that sent nothing since max(their last message, wait_start) for long enough.
  std::string silent_ranks(std::chrono::steady_clock::time_point now,
                           std::chrono::steady_clock::time_point wait_start) const;
  [[noreturn]] void time_out(const char* what, std::chrono::steady_clock::time_point wait_start);

  Communicator& comm_;
  StallLimits limits_;
  std::ostream* log_;
  bool enabled_ = false;
  bool armed_ = false;
  bool suspended_ = false;
  bool oversubscribed_ = false;  // more ranks on this node than cores: yield while waiting
  std::int64_t step_ = 0;
  std::chrono::steady_clock::time_point started_{};  // construction: "silent since the start"
  // Rank 0 listens to every other rank, every other rank to rank 0; one receive and one send
  // in flight per peer, all preallocated (waiting allocates nothing).
  std::vector<int> peers_;
  std::vector<PendingCollective> receives_, sends_;
  std::vector<std::int64_t> receive_buffers_, send_buffers_;  // one step number per peer
  std::vector<PeerReport> reports_;
};

}  // namespace fmnist
