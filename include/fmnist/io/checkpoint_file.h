// One training checkpoint as one HDF5 file: plain named arrays, counters and text, nothing
// model-specific. Written atomically; every byte is covered by a checksum checked on read.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "fmnist/io/history_file.h"

namespace fmnist {

/// Version of the checkpoint layout (root attribute `format_version`), checked by read_checkpoint.
/// 2: activations are NHWC, so a Dense kernel after Flatten has Keras' (h, w, c) row order.
/// Version 1 files (NCHW, rows in (c, h, w) order) would load with the right shapes but the
/// wrong meaning, so they are refused.
/// 3: adds /callbacks (learning-rate schedule and callback state) and /best_weights
/// (EarlyStopping's restore_best_weights); version 2 files lack them and are refused.
constexpr int kCheckpointFormatVersion = 3;

/// One named float array, e.g. path "conv2d/kernel" with shape {32,1,3,3}. `path` is made of
/// '/'-separated non-empty parts; `values` is row-major with product(shape) elements; rank >= 1.
struct NamedArray {
  std::string path;
  std::vector<std::size_t> shape;
  std::vector<float> values;
};

/// Everything needed to resume training exactly.
struct CheckpointState {
  std::string model_spec;          ///< canonical spec, e.g. "conv32x3same-pool2-flatten-dense10"
  std::string config;              ///< the full run config as 'key = value' lines
  int world_size = 1;              ///< number of ranks that wrote it
  std::int64_t epoch = 0;          ///< completed epochs
  std::int64_t step_in_epoch = 0;  ///< optimizer steps done in the current (incomplete) epoch
  std::int64_t global_step = 0;    ///< optimizer steps since the start
  std::vector<std::uint64_t> rng_state;
  std::vector<NamedArray> model;  ///< stored at /model/<path>, e.g. /model/conv2d/kernel
  std::vector<NamedArray>
      optimizer;  ///< stored at /optimizer/<path>, e.g. /optimizer/m/conv2d/kernel
  std::map<std::string, std::int64_t>
      optimizer_counters;      ///< int64 attributes of /optimizer, e.g. "step"
  std::string optimizer_name;  ///< attribute "name" of /optimizer, e.g. "adam"
  History history;             ///< /history/<key>, 1-D float64 datasets
  /// Running sums of the incomplete epoch (e.g. "loss_sum", "count"), so a mid-epoch resume
  /// reports the same epoch metrics. Stored as /progress/<key>, 1-element float64 datasets.
  std::map<std::string, double> epoch_progress;
  /// State of the learning-rate schedule and the callbacks (e.g. "plateau_lr",
  /// "early_stopping_wait"). Stored as /callbacks/<key>, 1-element float64 datasets.
  std::map<std::string, double> callbacks;
  /// EarlyStopping's best weights (restore_best_weights), stored at /best_weights/<path>.
  std::vector<NamedArray> best_weights;
};

/// Writes `state` to `path` atomically: a temporary file in the same folder is written, flushed,
/// closed, fsync'ed and rename()d over `path`, then the folder is fsync'ed. On any failure the
/// temporary file is removed and Error (naming `path`) is thrown; `path` is never half-written.
/// Throws Error before writing anything if `state` is inconsistent (values vs shape, a bad or
/// duplicate path, a counter named "name", text containing NUL), or if a parameter, optimizer
/// moment or running sum is not finite (so a diverged run never replaces a good checkpoint).
void write_checkpoint(const std::string& path, const CheckpointState& state);

/// Reads `path` and checks everything (format version, whole-file checksum, presence and type of
/// every field) before returning. A flipped byte, a truncated file, another format version, a
/// missing field or a file that is not HDF5 throws Error naming `path` and what is wrong.
/// Arrays come back depth-first in creation order, i.e. in write order when arrays sharing a
/// group prefix were written next to each other (as a model's named views are).
CheckpointState read_checkpoint(const std::string& path);

}  // namespace fmnist
