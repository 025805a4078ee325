// A folder of rotating checkpoints: ckpt-e<epoch>-s<step>.h5 files plus a `latest` text file
// naming the newest, so a resumed run finds where to start without guessing.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "fmnist/io/checkpoint_file.h"

namespace fmnist {

/// The file name save_checkpoint uses: "ckpt-e<epoch, 4 digits>-s<global_step, 8 digits>.h5".
std::string checkpoint_file_name(std::int64_t epoch, std::int64_t global_step);

/// Saves `state` into `dir` (created if missing) as checkpoint_file_name(epoch, global_step)
/// with write_checkpoint, then atomically rewrites `dir/latest` (temp + fsync + rename) to hold
/// that file name, then deletes the oldest other checkpoints (by epoch, then step) so that
/// `keep` (>= 1) remain, the one just written included. First it deletes temporaries of
/// checkpoints or of `latest` ("<name>.tmp-<pid>-<n>") left by another process, i.e. a writer
/// killed mid-write: the folder is assumed to have one writer. Returns the path written.
/// Throws Error.
std::string save_checkpoint(const std::string& dir, const CheckpointState& state, int keep);

/// The path named by `dir/latest` if it exists and names an existing file in `dir`, else the
/// newest ckpt-e*-s*.h5 (by epoch, then step: the name order), else std::nullopt (also when `dir`
/// does not exist). Does not open the checkpoint: read_checkpoint checks it.
std::optional<std::string> latest_checkpoint(const std::string& dir);

}  // namespace fmnist
