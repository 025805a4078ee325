// ChannelStatsAllreduce: the Communicator's blocking double allreduce. Every rank reaches
// each BatchNormalization layer in the same order (ranks without samples through
// Sequential::step_without_data), so the calls match across ranks.
#include "fmnist/dist/channel_stats_allreduce.h"

namespace fmnist {

void ChannelStatsAllreduce::sum(double* data, std::size_t count) {
  if (comm_.size() > 1) comm_.allreduce_sum(data, count, "BatchNormalization statistics allreduce");
}

}  // namespace fmnist
