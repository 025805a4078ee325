// Per-epoch training history (Keras History keys and values) and its files: an HDF5 file
// for tools (h5py, h5dump) and a CSV file for people and spreadsheets.
#pragma once

#include <cstddef>
#include <initializer_list>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace fmnist {

/// Version of the history HDF5 file (root attribute `format_version`), checked by read_history.
constexpr int kHistoryFormatVersion = 1;

/// Per-epoch training history with Keras key names ("loss", "accuracy", "val_loss", ...).
/// `columns[i]` holds the values of `keys[i]`, one per epoch; columns keep insertion order.
struct History {
  std::vector<std::string> keys;
  std::vector<std::vector<double>> columns;

  /// Appends one epoch. The first row fixes the keys and their order; every later row must
  /// have exactly the same keys (in any order), else Error is thrown and nothing is added.
  void add_row(std::initializer_list<std::pair<std::string, double>> row);
  void add_row(const std::vector<std::pair<std::string, double>>& row);
  /// As above; a map's keys are sorted, so prefer pairs for the first row.
  void add_row(const std::map<std::string, double>& row);

  /// Number of epochs recorded (0 when there are no keys yet).
  std::size_t rows() const { return columns.empty() ? 0 : columns.front().size(); }
  /// Whether `key` has a column.
  bool has(const std::string& key) const;
  /// The values of `key`, one per epoch. Throws Error if there is no such key.
  const std::vector<double>& column(const std::string& key) const;
};

/// Writes `history` to `h5_path` (/history/<key> 1-D float64 datasets in key order, plus an int64
/// dataset /history/epoch = 1..rows; root attribute format_version) and to `csv_path` (header
/// "epoch,<keys...>", one line per epoch, values printed with 17 significant digits so they
/// parse back to the same double). Each file is replaced atomically (temp + fsync + rename).
/// Called once per epoch with the whole history so far. Throws Error naming the file; a key
/// must be non-empty, not "epoch", and free of '/', ',', '"' and control characters.
void write_history(const std::string& h5_path, const std::string& csv_path, const History& history);

/// Reads a history HDF5 file written by write_history, checking its format version, that every
/// column is float64 and that all columns and /history/epoch have the same length. Throws Error
/// naming the file.
History read_history(const std::string& h5_path);

}  // namespace fmnist
