// fmnist_dist entry point: the best OpenBLAS kernel (a re-exec, before MPI exists), denormals
// flushed to zero as TensorFlow does (core/float_mode.h), MPI up, run,
// and on any uncaught error print "[rank r] message" and abort the whole job so no rank is left
// waiting in a collective.
#include <exception>
#include <iostream>

#include "fmnist/app/app.h"
#include "fmnist/core/error.h"
#include "fmnist/core/float_mode.h"
#include "fmnist/dist/communicator.h"
#include "fmnist/math/blas_kernel.h"

int main(int argc, char** argv) {
  fmnist::use_best_blas_kernel(argv);  // each rank, before MPI_Init: the launcher's environment stays
  fmnist::flush_denormals_to_zero();  // this thread computes everything but BLAS' own threads
  fmnist::MpiRuntime mpi(&argc, &argv);
  int rank = 0;
  try {
    fmnist::Communicator comm;
    rank = comm.rank();
    try {
      return fmnist::run_app(argc, argv, comm);
    } catch (const fmnist::Error& e) {
      std::cerr << "[rank " << rank << "] error: " << e.what() << std::endl;
      comm.abort(e.exit_code());
    } catch (const std::exception& e) {
      std::cerr << "[rank " << rank << "] error: " << e.what() << std::endl;
      comm.abort(1);
    }
  } catch (const std::exception& e) {
    std::cerr << "[rank " << rank << "] error: " << e.what() << std::endl;
    return 1;
  }
}
