// BatchNormalization's cross-rank reduction: per-channel sums of the global batch, summed
// with one small MPI_Allreduce through the Communicator.
#pragma once

#include "fmnist/dist/communicator.h"
#include "fmnist/nn/layer.h"

namespace fmnist {

class ChannelStatsAllreduce : public ChannelStatsReducer {
 public:
  explicit ChannelStatsAllreduce(Communicator& comm) : comm_(comm) {}
  /// In-place sum over the communicator's ranks (nothing to do for one rank).
  void sum(double* data, std::size_t count) override;

 private:
  Communicator& comm_;
};

}  // namespace fmnist
