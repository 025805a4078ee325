// main() for the tests run under mpiexec: MPI up, GoogleTest on every rank; rank 0 prints
// everything, the others only their failures (and fail the run through their exit status).
#include <gtest/gtest.h>

#include "fmnist/dist/communicator.h"

int main(int argc, char** argv) {
  fmnist::MpiRuntime mpi(&argc, &argv);
  ::testing::InitGoogleTest(&argc, argv);
  int rank = 0;
  {
    fmnist::Communicator comm;
    rank = comm.rank();
  }
  // Other ranks print their failures only, tagged by the rank in the failure message.
  if (rank != 0) GTEST_FLAG_SET(brief, true);
  return RUN_ALL_TESTS();
}
