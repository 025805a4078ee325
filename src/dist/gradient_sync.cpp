// GradientSync: reverse-order buckets, started as backward releases them.
#include "fmnist/dist/gradient_sync.h"

#include <algorithm>

namespace fmnist {

GradientSync::GradientSync(Communicator& comm, float* grads, std::size_t size, std::size_t tail,
                           std::size_t bucket_bytes, const std::vector<std::size_t>& boundaries)
    : comm_(comm), grads_(grads) {
  const std::size_t target = std::max<std::size_t>(bucket_bytes / sizeof(float), 1);
  std::vector<std::size_t> cuts(boundaries.begin(), boundaries.end());
  cuts.push_back(0);
  std::sort(cuts.begin(), cuts.end());
  cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
  // Walk tensor starts from the end, closing a bucket once it holds at least `target` floats.
  std::size_t end = size + tail;
  for (std::size_t i = cuts.size(); i-- > 0;) {
    const std::size_t begin = cuts[i];
    if (begin >= end) continue;
    if (end - begin >= target || begin == 0) {
      buckets_.push_back(Bucket{begin, end, {}});
      end = begin;
    }
  }
}

void GradientSync::on_grads_ready(std::size_t ready_offset) {
  if (comm_.size() == 1) return;
  while (next_ < buckets_.size() && buckets_[next_].begin >= ready_offset) {
    Bucket& b = buckets_[next_++];
    b.op = comm_.start_allreduce_sum(grads_ + b.begin, b.end - b.begin);
  }
  // Open MPI progresses non-blocking collectives only inside MPI calls: poke them.
  for (std::size_t i = 0; i < next_; ++i) comm_.test(buckets_[i].op);
}

void GradientSync::finish() {
  if (comm_.size() == 1) return;
  on_grads_ready(0);
  for (Bucket& b : buckets_) comm_.wait(b.op, "gradient allreduce");
  next_ = 0;
}

}  // namespace fmnist
