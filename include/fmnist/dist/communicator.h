// The only interface to MPI. Everything else in fmnist_dist talks to a Communicator; every
// MPI call and status check lives in src/dist/.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace fmnist {

class StallWatchdog;

/// Initialises MPI for the process lifetime (MPI_Init ... MPI_Finalize). Construct once in main.
class MpiRuntime {
 public:
  MpiRuntime(int* argc, char*** argv);
  ~MpiRuntime();
  MpiRuntime(const MpiRuntime&) = delete;
  MpiRuntime& operator=(const MpiRuntime&) = delete;
};

/// Where this rank sits: in the job and on its node.
struct Topology {
  int rank = 0, size = 1;            // in the whole job
  int node_rank = 0, node_size = 1;  // among the ranks sharing this node's memory
  int nodes = 1;
  int node_cores = 1;                // online cores of this node
};

/// A non-blocking operation in flight (a collective, or a watchdog report). Holds the
/// MPI_Request inline, so starting one allocates nothing.
struct PendingCollective {
  alignas(8) unsigned char request[16] = {};
  bool active = false;
};

/// Which processes a Communicator spans.
enum class CommScope {
  kWorld,  // every rank of the job (MPI_COMM_WORLD)
  kSelf,   // this process alone (MPI_COMM_SELF): a single-process run inside an MPI job
};

/// An MPI communicator with errors returned (not fatal), each failure thrown as Error.
class Communicator {
 public:
  explicit Communicator(CommScope scope = CommScope::kWorld);
  ~Communicator();
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  int rank() const { return topology_.rank; }
  int size() const { return topology_.size; }
  const Topology& topology() const { return topology_; }

  void broadcast(float* data, std::size_t count, int root);
  void broadcast(double* data, std::size_t count, int root);
  void broadcast(std::int64_t* data, std::size_t count, int root);
  void broadcast(std::string& text, int root);
  /// In-place sums over all ranks. While a stall watchdog is armed (set_stall_watchdog), these
  /// wait under its deadline.
  void allreduce_sum(float* data, std::size_t count, const char* what = "allreduce");
  void allreduce_sum(double* data, std::size_t count, const char* what = "allreduce");
  void allreduce_sum(std::int64_t* data, std::size_t count, const char* what = "allreduce");
  /// Every rank's value, indexed by rank.
  std::vector<std::uint64_t> allgather(std::uint64_t value);
  /// Concatenates every rank's `count` floats (counts may differ) in rank order on `root`
  /// (MPI_Gatherv); returns them there and an empty vector on the other ranks.
  std::vector<float> gather(const float* data, std::size_t count, int root);
  /// While the stall watchdog is armed, an MPI_Ibarrier waited on under its deadline.
  void barrier(const char* what = "barrier");

  /// Starts an in-place sum (MPI_Iallreduce); finish it with wait().
  PendingCollective start_allreduce_sum(float* data, std::size_t count);
  PendingCollective start_allreduce_sum(double* data, std::size_t count);
  PendingCollective start_allreduce_sum(std::int64_t* data, std::size_t count);
  /// Lets MPI progress pending operations without blocking (MPI_Test); true if `op` finished.
  bool test(PendingCollective& op);
  /// Blocks until `op` finished; under an armed stall watchdog, with its deadline. `what`
  /// names the operation in the watchdog's messages.
  void wait(PendingCollective& op, const char* what = "collective");

  /// Point-to-point messages of `count` int64 values (the watchdog's reports), non-blocking.
  PendingCollective start_send(const std::int64_t* data, std::size_t count, int destination, int tag);
  PendingCollective start_receive(std::int64_t* data, std::size_t count, int source, int tag);
  /// Gives up a receive that may never be matched (MPI_Cancel, then completes it).
  void cancel_receive(PendingCollective& op);
  /// Lets a send finish on its own (MPI_Request_free): nothing waits for it.
  void release_send(PendingCollective& op);

  /// Routes the waits above through `watchdog` while it is armed (nullptr: plain MPI waits).
  void set_stall_watchdog(StallWatchdog* watchdog) { watchdog_ = watchdog; }

  /// Ends every rank of the job with `code` (MPI_Abort). Never returns.
  [[noreturn]] void abort(int code);

 private:
  Topology topology_;
  void* comm_ = nullptr;       // owned copy (MPI_Comm_dup) of the scope's communicator
  void* node_comm_ = nullptr;  // owned MPI_Comm of this node's ranks
  StallWatchdog* watchdog_ = nullptr;
};

}  // namespace fmnist
