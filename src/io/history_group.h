// The /history group shared by the history file and the checkpoint file: one 1-D float64
// dataset per key, in key order. Private to src/io/.
#pragma once

#include <hdf5.h>

#include <string>

#include "fmnist/io/history_file.h"
#include "hdf5_util.h"

namespace fmnist {

/// Throws Error naming `file` unless keys are valid (see write_history), unique, as many as the
/// columns, and all columns have the same length.
void validate_history(const History& history, const std::string& file);

/// Writes one float64 dataset per key into `group`.
void write_history_datasets(hid_t group, const History& history, const h5::DatasetOptions& options,
                            const std::string& file);

/// Reads every dataset of `group` (named `owner` in errors) as a column, in creation order,
/// except the dataset named `skip` (may be empty). Throws Error if one is not 1-D float64, or if
/// lengths differ.
History read_history_datasets(hid_t group, const std::string& owner, const std::string& skip,
                              const std::string& file);

}  // namespace fmnist
