// Bucketed gradient averaging that overlaps backward (as PyTorch DDP and Horovod do):
// the arena is cut into buckets from its end, since backward finishes the last layers
// first; a bucket's MPI_Iallreduce starts as soon as all its gradients are final. A few
// floats after the gradients (the step's metrics) ride in the first bucket, so a step needs
// no other collective.
#pragma once

#include <cstddef>
#include <vector>

#include "fmnist/dist/communicator.h"

namespace fmnist {

class GradientSync {
 public:
  /// Buckets of about `bucket_bytes` over grads[0, size + tail). Bucket boundaries never split
  /// a parameter tensor whose start is in `boundaries` unless one tensor alone exceeds the size.
  /// The `tail` floats after the gradients belong to the first bucket started: write them
  /// before the first on_grads_ready().
  GradientSync(Communicator& comm, float* grads, std::size_t size, std::size_t tail, std::size_t bucket_bytes,
               const std::vector<std::size_t>& boundaries);

  /// Starts the allreduce of every bucket lying entirely at offsets >= `ready_offset`, and
  /// lets MPI progress the ones already started. Call after each layer's backward.
  void on_grads_ready(std::size_t ready_offset);
  /// Starts whatever is left and waits for every bucket. Afterwards grads hold the sum over
  /// ranks (the loss already scaled each rank's share by 1 / global batch, so this is the mean).
  void finish();

  std::size_t bucket_count() const { return buckets_.size(); }

 private:
  struct Bucket {
    std::size_t begin = 0, end = 0;
    PendingCollective op;
  };
  Communicator& comm_;
  float* grads_;
  std::vector<Bucket> buckets_;  // ordered from the end of the arena to its start
  std::size_t next_ = 0;         // first bucket not started yet
};

}  // namespace fmnist
