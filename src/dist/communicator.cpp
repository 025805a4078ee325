// Communicator: a duplicate of MPI_COMM_WORLD (or MPI_COMM_SELF) with MPI_ERRORS_RETURN, every status checked
// and turned into an Error that names the call.
#include "fmnist/dist/communicator.h"

#include <mpi.h>
#include <unistd.h>

#include <climits>

#include "fmnist/core/error.h"
#include "fmnist/dist/stall_watchdog.h"

namespace fmnist {
namespace {

void check(int status, const char* call) {
  if (status == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(status, text, &length);
  throw Error(std::string(call) + " failed: " + std::string(text, static_cast<std::size_t>(length)));
}

int count_of(std::size_t count, const char* call) {
  if (count > static_cast<std::size_t>(INT_MAX))
    throw Error(std::string(call) + ": " + std::to_string(count) + " elements exceed MPI's int count");
  return static_cast<int>(count);
}

MPI_Comm handle(void* comm) { return *static_cast<MPI_Comm*>(comm); }

}  // namespace

MpiRuntime::MpiRuntime(int* argc, char*** argv) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) check(MPI_Init(argc, argv), "MPI_Init");
}

MpiRuntime::~MpiRuntime() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

Communicator::Communicator(CommScope scope) {
  // A duplicate keeps our traffic apart from any other user of the same processes.
  auto* comm = new MPI_Comm(MPI_COMM_NULL);
  comm_ = comm;
  auto* node = new MPI_Comm(MPI_COMM_NULL);
  node_comm_ = node;
  check(MPI_Comm_dup(scope == CommScope::kWorld ? MPI_COMM_WORLD : MPI_COMM_SELF, comm), "MPI_Comm_dup");
  check(MPI_Comm_set_errhandler(*comm, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
  check(MPI_Comm_rank(*comm, &topology_.rank), "MPI_Comm_rank");
  check(MPI_Comm_size(*comm, &topology_.size), "MPI_Comm_size");
  check(MPI_Comm_split_type(*comm, MPI_COMM_TYPE_SHARED, topology_.rank, MPI_INFO_NULL, node),
        "MPI_Comm_split_type");
  check(MPI_Comm_rank(*node, &topology_.node_rank), "MPI_Comm_rank");
  check(MPI_Comm_size(*node, &topology_.node_size), "MPI_Comm_size");
  int leader = topology_.node_rank == 0 ? 1 : 0;
  check(MPI_Allreduce(&leader, &topology_.nodes, 1, MPI_INT, MPI_SUM, *comm), "MPI_Allreduce");
  const long cores = sysconf(_SC_NPROCESSORS_ONLN);
  topology_.node_cores = cores > 0 ? static_cast<int>(cores) : 1;
}

Communicator::~Communicator() {
  auto* comm = static_cast<MPI_Comm*>(comm_);
  auto* node = static_cast<MPI_Comm*>(node_comm_);
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized && *node != MPI_COMM_NULL) MPI_Comm_free(node);
  if (!finalized && *comm != MPI_COMM_NULL) MPI_Comm_free(comm);
  delete node;
  delete comm;
}

void Communicator::broadcast(float* data, std::size_t count, int root) {
  check(MPI_Bcast(data, count_of(count, "MPI_Bcast"), MPI_FLOAT, root, handle(comm_)), "MPI_Bcast");
}

void Communicator::broadcast(double* data, std::size_t count, int root) {
  check(MPI_Bcast(data, count_of(count, "MPI_Bcast"), MPI_DOUBLE, root, handle(comm_)), "MPI_Bcast");
}

void Communicator::broadcast(std::int64_t* data, std::size_t count, int root) {
  check(MPI_Bcast(data, count_of(count, "MPI_Bcast"), MPI_INT64_T, root, handle(comm_)), "MPI_Bcast");
}

void Communicator::broadcast(std::string& text, int root) {
  long long length = static_cast<long long>(text.size());
  check(MPI_Bcast(&length, 1, MPI_LONG_LONG, root, handle(comm_)), "MPI_Bcast");
  text.resize(static_cast<std::size_t>(length));
  check(MPI_Bcast(text.data(), count_of(text.size(), "MPI_Bcast"), MPI_CHAR, root, handle(comm_)),
        "MPI_Bcast");
}

void Communicator::allreduce_sum(float* data, std::size_t count, const char* what) {
  if (watchdog_ && watchdog_->armed()) {
    PendingCollective op = start_allreduce_sum(data, count);
    return wait(op, what);
  }
  check(
      MPI_Allreduce(MPI_IN_PLACE, data, count_of(count, "MPI_Allreduce"), MPI_FLOAT, MPI_SUM, handle(comm_)),
      "MPI_Allreduce");
}

void Communicator::allreduce_sum(double* data, std::size_t count, const char* what) {
  if (watchdog_ && watchdog_->armed()) {
    PendingCollective op = start_allreduce_sum(data, count);
    return wait(op, what);
  }
  check(
      MPI_Allreduce(MPI_IN_PLACE, data, count_of(count, "MPI_Allreduce"), MPI_DOUBLE, MPI_SUM, handle(comm_)),
      "MPI_Allreduce");
}

void Communicator::allreduce_sum(std::int64_t* data, std::size_t count, const char* what) {
  if (watchdog_ && watchdog_->armed()) {
    PendingCollective op = start_allreduce_sum(data, count);
    return wait(op, what);
  }
  check(MPI_Allreduce(MPI_IN_PLACE, data, count_of(count, "MPI_Allreduce"), MPI_INT64_T, MPI_SUM,
                      handle(comm_)),
        "MPI_Allreduce");
}

std::vector<std::uint64_t> Communicator::allgather(std::uint64_t value) {
  std::vector<std::uint64_t> all(static_cast<std::size_t>(topology_.size));
  check(MPI_Allgather(&value, 1, MPI_UINT64_T, all.data(), 1, MPI_UINT64_T, handle(comm_)), "MPI_Allgather");
  return all;
}

std::vector<float> Communicator::gather(const float* data, std::size_t count, int root) {
  const std::vector<std::uint64_t> counts = allgather(count);
  std::vector<int> recv_counts, displacements;
  std::size_t total = 0;
  for (std::uint64_t c : counts) {
    recv_counts.push_back(count_of(c, "MPI_Gatherv"));
    displacements.push_back(count_of(total, "MPI_Gatherv"));
    total += c;
  }
  std::vector<float> all(rank() == root ? total : 0);
  check(MPI_Gatherv(data, count_of(count, "MPI_Gatherv"), MPI_FLOAT, all.data(), recv_counts.data(),
                    displacements.data(), MPI_FLOAT, root, handle(comm_)),
        "MPI_Gatherv");
  return all;
}


static_assert(sizeof(MPI_Request) <= sizeof(PendingCollective::request), "MPI_Request does not fit");

namespace {
MPI_Request* request_of(PendingCollective& op) { return reinterpret_cast<MPI_Request*>(op.request); }
}  // namespace

namespace {
PendingCollective start_sum(void* data, std::size_t count, MPI_Datatype type, MPI_Comm comm) {
  PendingCollective op;
  *request_of(op) = MPI_REQUEST_NULL;
  check(MPI_Iallreduce(MPI_IN_PLACE, data, count_of(count, "MPI_Iallreduce"), type, MPI_SUM, comm, request_of(op)),
        "MPI_Iallreduce");
  op.active = true;
  return op;
}
}  // namespace

void Communicator::barrier(const char* what) {
  if (watchdog_ && watchdog_->armed()) {
    PendingCollective op;
    check(MPI_Ibarrier(handle(comm_), request_of(op)), "MPI_Ibarrier");
    op.active = true;
    return wait(op, what);
  }
  check(MPI_Barrier(handle(comm_)), "MPI_Barrier");
}

PendingCollective Communicator::start_allreduce_sum(float* data, std::size_t count) {
  return start_sum(data, count, MPI_FLOAT, handle(comm_));
}

PendingCollective Communicator::start_allreduce_sum(double* data, std::size_t count) {
  return start_sum(data, count, MPI_DOUBLE, handle(comm_));
}

PendingCollective Communicator::start_allreduce_sum(std::int64_t* data, std::size_t count) {
  return start_sum(data, count, MPI_INT64_T, handle(comm_));
}

bool Communicator::test(PendingCollective& op) {
  if (!op.active) return true;
  int done = 0;
  check(MPI_Test(request_of(op), &done, MPI_STATUS_IGNORE), "MPI_Test");
  if (done) op.active = false;
  return done != 0;
}

void Communicator::wait(PendingCollective& op, const char* what) {
  if (!op.active) return;
  if (watchdog_ && watchdog_->armed()) return watchdog_->wait(op, what);
  op.active = false;
  check(MPI_Wait(request_of(op), MPI_STATUS_IGNORE), "MPI_Wait");
}

PendingCollective Communicator::start_send(const std::int64_t* data, std::size_t count, int destination, int tag) {
  PendingCollective op;
  check(MPI_Isend(data, count_of(count, "MPI_Isend"), MPI_INT64_T, destination, tag, handle(comm_), request_of(op)),
        "MPI_Isend");
  op.active = true;
  return op;
}

PendingCollective Communicator::start_receive(std::int64_t* data, std::size_t count, int source, int tag) {
  PendingCollective op;
  check(MPI_Irecv(data, count_of(count, "MPI_Irecv"), MPI_INT64_T, source, tag, handle(comm_), request_of(op)),
        "MPI_Irecv");
  op.active = true;
  return op;
}

void Communicator::cancel_receive(PendingCollective& op) {
  if (!op.active) return;
  op.active = false;
  check(MPI_Cancel(request_of(op)), "MPI_Cancel");
  check(MPI_Wait(request_of(op), MPI_STATUS_IGNORE), "MPI_Wait");
}

void Communicator::release_send(PendingCollective& op) {
  if (!op.active) return;
  op.active = false;
  check(MPI_Request_free(request_of(op)), "MPI_Request_free");
}

void Communicator::abort(int code) {
  MPI_Abort(MPI_COMM_WORLD, code);  // the whole job, whatever this communicator spans
  _exit(code);                      // MPI_Abort does not return; this only satisfies [[noreturn]].
}

}  // namespace fmnist
