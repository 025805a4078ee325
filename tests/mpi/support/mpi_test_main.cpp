// main() for the tests run under mpiexec: MPI up, GoogleTest on every rank, output from
// rank 0 only (other ranks still fail the run through their exit status).
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
  if (rank != 0) {
    auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
  }
  return RUN_ALL_TESTS();
}
