// Training history: the History helpers and the history files (HDF5 for tools, CSV for
// people), rewritten whole and atomically after every epoch.
#include "fmnist/io/history_file.h"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <numeric>
#include <set>

#include "atomic_file.h"
#include "fmnist/core/error.h"
#include "hdf5_util.h"
#include "history_group.h"

namespace fmnist {
namespace {

// The reserved name of the epoch-number column/dataset in the history files.
const char kEpochKey[] = "epoch";

std::string join(const std::vector<std::string>& parts) {
  std::string out;
  for (const std::string& p : parts) out += (out.empty() ? "" : ",") + p;
  return out;
}

// 17 significant digits round-trip every double (IEEE 754 §5.12.2); to_chars ignores the locale.
std::string format_double(double value) {
  char buf[64];
  const auto result = std::to_chars(buf, buf + sizeof(buf), value, std::chars_format::general, 17);
  return std::string(buf, result.ptr);
}

std::string to_csv(const History& history) {
  std::string out = std::string(kEpochKey);
  for (const std::string& key : history.keys) out += "," + key;
  out += "\n";
  for (std::size_t row = 0; row < history.rows(); ++row) {
    out += std::to_string(row + 1);
    for (const std::vector<double>& column : history.columns) {
      out += "," + format_double(column[row]);
    }
    out += "\n";
  }
  return out;
}

}  // namespace

void History::add_row(std::initializer_list<std::pair<std::string, double>> row) {
  add_row(std::vector<std::pair<std::string, double>>(row));
}

void History::add_row(const std::map<std::string, double>& row) {
  add_row(std::vector<std::pair<std::string, double>>(row.begin(), row.end()));
}

void History::add_row(const std::vector<std::pair<std::string, double>>& row) {
  std::vector<std::string> row_keys;
  for (const auto& [key, value] : row) row_keys.push_back(key);
  if (keys.empty()) {
    std::vector<std::string> sorted = row_keys;
    std::sort(sorted.begin(), sorted.end());
    if (sorted.empty() || std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) {
      throw Error("history: expected a first row with distinct keys, found {" + join(row_keys) +
                  "}");
    }
    keys = row_keys;
    columns.assign(keys.size(), {});
  }
  // Check the whole row before touching any column, so a bad row adds nothing.
  std::vector<std::size_t> index(row.size());
  std::vector<bool> seen(keys.size(), false);
  for (std::size_t i = 0; i < row.size(); ++i) {
    const auto it = std::find(keys.begin(), keys.end(), row[i].first);
    const std::size_t k = static_cast<std::size_t>(it - keys.begin());
    if (it == keys.end() || seen[k]) {
      throw Error("history: expected a row with keys {" + join(keys) + "}, found {" +
                  join(row_keys) + "}");
    }
    seen[k] = true;
    index[i] = k;
  }
  if (row.size() != keys.size()) {
    throw Error("history: expected a row with keys {" + join(keys) + "}, found {" + join(row_keys) +
                "}");
  }
  for (std::size_t i = 0; i < row.size(); ++i) columns[index[i]].push_back(row[i].second);
}

bool History::has(const std::string& key) const {
  return std::find(keys.begin(), keys.end(), key) != keys.end();
}

const std::vector<double>& History::column(const std::string& key) const {
  const auto it = std::find(keys.begin(), keys.end(), key);
  if (it == keys.end()) {
    throw Error("history: expected a column '" + key + "', found {" + join(keys) + "}");
  }
  return columns[static_cast<std::size_t>(it - keys.begin())];
}

void validate_history(const History& history, const std::string& file) {
  if (history.keys.size() != history.columns.size()) {
    throw Error(file + ": expected as many history columns as keys (" +
                std::to_string(history.keys.size()) + "), found " +
                std::to_string(history.columns.size()));
  }
  std::set<std::string> unique;
  for (std::size_t i = 0; i < history.keys.size(); ++i) {
    const std::string& key = history.keys[i];
    const bool bad_char = std::any_of(key.begin(), key.end(), [](char c) {
      return c == '/' || c == ',' || c == '"' || static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
    });
    if (key.empty() || key == "." || key == ".." || key == kEpochKey || bad_char) {
      throw Error(
          file +
          ": expected a history key without '/', ',', '\"' or control characters, other than "
          "\"epoch\", found \"" +
          key + "\"");
    }
    if (!unique.insert(key).second) {
      throw Error(file + ": expected distinct history keys, found \"" + key + "\" twice");
    }
    if (history.columns[i].size() != history.rows()) {
      throw Error(file + ": expected history column " + key + " to have " +
                  std::to_string(history.rows()) + " values, found " +
                  std::to_string(history.columns[i].size()));
    }
  }
}

void write_history_datasets(hid_t group, const History& history, const h5::DatasetOptions& options,
                            const std::string& file) {
  for (std::size_t i = 0; i < history.keys.size(); ++i) {
    h5::write_dataset<double>(group, history.keys[i], {history.columns[i].size()},
                              history.columns[i].data(), options, file);
  }
}

History read_history_datasets(hid_t group, const std::string& owner, const std::string& skip,
                              const std::string& file) {
  History history;
  for (const h5::Child& child : h5::list_group(group, owner, file)) {
    if (child.name == skip) continue;
    const std::string where = owner + "/" + child.name;
    if (child.is_group) {
      throw Error(file + ": expected " + where + " to be a dataset, found a group");
    }
    std::vector<std::size_t> dims;
    std::vector<double> values = h5::read_dataset<double>(group, where, dims, file);
    if (dims.size() != 1) {
      throw Error(file + ": expected " + where + " to be 1-D, found rank " +
                  std::to_string(dims.size()));
    }
    if (!history.columns.empty() && values.size() != history.rows()) {
      throw Error(file + ": expected " + where + " to have " + std::to_string(history.rows()) +
                  " values like the other columns, found " + std::to_string(values.size()));
    }
    history.keys.push_back(child.name);
    history.columns.push_back(std::move(values));
  }
  validate_history(history, file);
  return history;
}

void write_history(const std::string& h5_path, const std::string& csv_path,
                   const History& history) {
  h5::silence_errors();
  validate_history(history, h5_path);
  {
    AtomicFile out(h5_path);
    {
      // The oldest compatible format and contiguous datasets: any HDF5 1.8+ tool reads it.
      h5::Handle file = h5::create_file(out.temp_path(), h5::FileFormat::kCompatible, 0, h5_path);
      h5::write_attribute_int(file.get(), "format_version", kHistoryFormatVersion, h5_path);
      {
        h5::Handle group = h5::create_group(file.get(), "history", h5_path);
        std::vector<std::int64_t> epochs(history.rows());
        std::iota(epochs.begin(), epochs.end(), std::int64_t{1});
        h5::DatasetOptions plain;
        plain.checksum = false;
        h5::write_dataset<std::int64_t>(group.get(), kEpochKey, {epochs.size()}, epochs.data(),
                                        plain, h5_path);
        write_history_datasets(group.get(), history, plain, h5_path);
      }
      h5::flush_and_close(file, h5_path);
    }
    out.commit();
  }
  write_text_file_atomically(csv_path, to_csv(history));
}

History read_history(const std::string& h5_path) {
  h5::silence_errors();
  h5::Handle file = h5::open_file(h5_path);
  const int version = h5::read_attribute_int(file.get(), "/", "format_version", h5_path);
  if (version != kHistoryFormatVersion) {
    throw Error(h5_path + ": expected history format version " +
                std::to_string(kHistoryFormatVersion) + ", found " + std::to_string(version));
  }
  h5::Handle group = h5::open_group(file.get(), "/history", h5_path);
  History history = read_history_datasets(group.get(), "/history", kEpochKey, h5_path);
  std::vector<std::size_t> dims;
  const std::vector<std::int64_t> epochs =
      h5::read_dataset<std::int64_t>(group.get(), "/history/epoch", dims, h5_path);
  bool sequence = dims.size() == 1 && epochs.size() == history.rows();
  for (std::size_t i = 0; sequence && i < epochs.size(); ++i) {
    sequence = epochs[i] == static_cast<std::int64_t>(i + 1);
  }
  if (!sequence) {
    throw Error(h5_path + ": expected /history/epoch to be 1.." + std::to_string(history.rows()) +
                ", found another sequence of " + std::to_string(epochs.size()) + " values");
  }
  return history;
}

}  // namespace fmnist
