// StallWatchdog: waits by MPI_Test under a deadline; a rank blocked for long heartbeats, so a
// stall names the ranks that went silent. A healthy step sends no message at all.
#include "fmnist/dist/stall_watchdog.h"

#include <sched.h>

#include <algorithm>
#include <ostream>
#include <sstream>

#include "fmnist/core/error.h"

namespace fmnist {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kReportTag = 0x5741;          // tag of the watchdog's messages on the communicator
constexpr double kHeartbeatSeconds = 0.5;   // a rank blocked in a wait says so this often
constexpr double kSilentSeconds = 1.5;      // no message for this long: the rank is silent
// Non-zero ranks give rank 0 this long to end the job (and name the ranks) before they end it
// themselves: then rank 0 itself is the one that stopped.
constexpr double kPeerGraceSeconds = 5.0;
constexpr double kSpinSeconds = 0.01;

double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

std::string seconds_text(double s) {
  std::ostringstream out;
  out.precision(s < 10 ? 2 : 3);
  out << s << " s";
  return out.str();
}

}  // namespace

StallWatchdog::StallWatchdog(Communicator& comm, StallLimits limits, std::ostream* log)
    : comm_(comm), limits_(limits), log_(log), started_(Clock::now()) {
  enabled_ = comm_.size() > 1 && (limits_.warning_seconds > 0 || limits_.timeout_seconds > 0);
  oversubscribed_ = comm_.topology().node_size > comm_.topology().node_cores;
  if (!enabled_) return;
  if (comm_.rank() == 0) {
    for (int r = 1; r < comm_.size(); ++r) peers_.push_back(r);
  } else {
    peers_.push_back(0);
  }
  const std::size_t n = peers_.size();
  receives_.resize(n);
  sends_.resize(n);
  receive_buffers_.assign(n, 0);
  send_buffers_.assign(n, 0);
  reports_.assign(n, PeerReport{-1, started_});
  for (std::size_t i = 0; i < n; ++i)
    receives_[i] = comm_.start_receive(&receive_buffers_[i], 1, peers_[i], kReportTag);
}

StallWatchdog::~StallWatchdog() {
  if (comm_.size() <= 1) return;
  try {
    for (PendingCollective& op : receives_) comm_.cancel_receive(op);
    for (PendingCollective& op : sends_) comm_.release_send(op);
  } catch (const Error&) {
    // MPI is going down with the job; nothing left to tidy.
  }
}

void StallWatchdog::begin_step(std::int64_t step) {
  step_ = step;
  armed_ = enabled_ && !suspended_;
}

void StallWatchdog::poll_reports() {
  const Clock::time_point now = Clock::now();
  for (std::size_t i = 0; i < peers_.size(); ++i) {
    while (comm_.test(receives_[i])) {
      reports_[i] = PeerReport{receive_buffers_[i], now};
      receives_[i] = comm_.start_receive(&receive_buffers_[i], 1, peers_[i], kReportTag);
    }
  }
}

void StallWatchdog::send_heartbeat() {
  for (std::size_t i = 0; i < peers_.size(); ++i) {
    // The buffer of a send still in flight must not change: skip this report, the next one
    // 0.5 s later carries the same news.
    if (!comm_.test(sends_[i])) continue;
    send_buffers_[i] = step_;
    sends_[i] = comm_.start_send(&send_buffers_[i], 1, peers_[i], kReportTag);
  }
}

std::string StallWatchdog::silent_ranks(Clock::time_point now, Clock::time_point wait_start) const {
  std::string text;
  for (std::size_t i = 0; i < peers_.size(); ++i) {
    const PeerReport& report = reports_[i];
    // A healthy peer blocked in the same collective heartbeats every kHeartbeatSeconds.
    const double quiet = seconds_between(std::max(report.heard, wait_start), now);
    if (quiet < kSilentSeconds) continue;
    // This rank finished step step_ - 1's collectives, so every rank reached that far.
    const std::int64_t last = std::max(report.step, step_ - 1);
    text += text.empty() ? "" : ", ";
    text += "rank " + std::to_string(peers_[i]) + " (last reported step " + std::to_string(last) + ", silent for " +
            seconds_text(quiet) + ")";
  }
  return text;
}

void StallWatchdog::time_out(const char* what, Clock::time_point wait_start) {
  const Clock::time_point now = Clock::now();
  const double waited = seconds_between(wait_start, now);
  const std::string silent = silent_ranks(now, wait_start);
  std::string message = "stall: step " + std::to_string(step_) + "'s " + what + " waited " + seconds_text(waited) +
                        " (--stall-timeout " + seconds_text(limits_.timeout_seconds) + ")";
  if (comm_.rank() == 0) {
    message += silent.empty() ? "; every rank still reports, so MPI itself is stuck"
                              : " for " + silent;
  } else {
    message += silent.empty() ? "; rank 0 still reports but did not end the job"
                              : " and rank 0, which watches the others, is silent: " + silent;
  }
  throw Error(message + "; ending the job (exit status " + std::to_string(kExitStalled) + ")", kExitStalled);
}

void StallWatchdog::wait(PendingCollective& op, const char* what) {
  if (comm_.test(op)) return;
  const Clock::time_point start = Clock::now();
  Clock::time_point next_heartbeat = start + std::chrono::duration_cast<Clock::duration>(
                                                 std::chrono::duration<double>(kHeartbeatSeconds));
  const double timeout =
      limits_.timeout_seconds > 0 ? limits_.timeout_seconds + (comm_.rank() == 0 ? 0.0 : kPeerGraceSeconds) : 0.0;
  bool warned = false;
  while (!comm_.test(op)) {
    const Clock::time_point now = Clock::now();
    const double waited = seconds_between(start, now);
    if (now >= next_heartbeat) {
      poll_reports();
      send_heartbeat();
      next_heartbeat = now + std::chrono::duration_cast<Clock::duration>(
                                 std::chrono::duration<double>(kHeartbeatSeconds));
    }
    if (log_ && !warned && limits_.warning_seconds > 0 && waited >= limits_.warning_seconds) {
      warned = true;
      const std::string silent = silent_ranks(now, start);
      *log_ << "warning: stall: step " << step_ << "'s " << what << " has waited " << seconds_text(waited)
            << (silent.empty() ? std::string(" (every rank still reports)") : " for " + silent)
            << (limits_.timeout_seconds > 0 ? "; the job ends after --stall-timeout " +
                                                  seconds_text(limits_.timeout_seconds)
                                            : std::string())
            << std::endl;
    }
    if (timeout > 0 && waited >= timeout) time_out(what, start);
    // As MPI_Wait in Open MPI: spin, yielding the core at each test only when the node has
    // more ranks than cores (a yield can hand the core to another process for a whole time
    // slice, which would cost a healthy step more than its wait); in a long wait, always yield.
    if (oversubscribed_ || waited > kSpinSeconds) sched_yield();
  }
}

}  // namespace fmnist
