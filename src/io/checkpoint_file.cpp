// Checkpoint file (see checkpoint_file.h). Layout, HDF5 1.10 format after a 512-byte seal:
//   seal (user block) "FMNISTCK", file size, CRC-32 (zlib) of the whole file
//   /                 attrs format_version:int32, model_spec, config:string,
//                     world_size, epoch, step_in_epoch, global_step:int64
//   /rng_state        uint64[n]
//   /model/<path>     float32[shape]      /optimizer/<path>  float32[shape]
//   /optimizer        attrs name:string, <counter>:int64
//   /history/<key>    float64[epochs]
//   /progress/<key>, /callbacks/<key>   float64[1]      /best_weights/<path>  float32[shape]
// Datasets are chunked with Fletcher32 and the 1.10 format checksums all metadata, but neither
// covers the slack HDF5 leaves between objects; the seal covers every byte.
#include "fmnist/io/checkpoint_file.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

#include <zlib.h>

#include "atomic_file.h"
#include "fmnist/core/error.h"
#include "hdf5_util.h"
#include "history_group.h"

namespace fmnist {
namespace {

const char kOptimizerNameAttribute[] = "name";

// The seal, in the HDF5 user block (bytes HDF5 reserves for the application and never reads):
//   offset 0   char[8]  "FMNISTCK"
//   offset 8   uint64   file size in bytes (little-endian): catches truncation and appending
//   offset 16  uint64   CRC-32 (zlib) of the whole file, computed with these 8 bytes as zero
//   offset 24  zeros up to kSealBytes (covered by the CRC too)
constexpr std::size_t kSealBytes = 512;  // the smallest user block HDF5 allows
constexpr char kSealMagic[8] = {'F', 'M', 'N', 'I', 'S', 'T', 'C', 'K'};
constexpr std::size_t kSealSizeOffset = 8;
constexpr std::size_t kSealCrcOffset = 16;

// zlib's CRC-32 over the whole file: it detects every change confined to 32 consecutive
// bits, so any flipped byte, and other damage with odds of 1 in 2^32 of slipping through.
class FileCrc {
 public:
  void update(const char* data, std::size_t size) {
    crc_ = crc32(crc_, reinterpret_cast<const Bytef*>(data), static_cast<uInt>(size));
  }
  std::uint64_t value() const { return crc_; }

 private:
  uLong crc_ = crc32(0L, Z_NULL, 0);
};

void put_u64(char* out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((v >> (8 * i)) & 0xFF);
}

std::uint64_t get_u64(const char* in) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(in[i]);
  return v;
}

// CRC of the whole of `stream`, read from the start with the seal's CRC field taken as zero.
// Also returns the first kSealBytes (fewer for a short file) in `seal`, and the size in bytes.
std::uint64_t file_crc(std::fstream& stream, std::string& seal, std::uint64_t& size) {
  FileCrc crc;
  std::vector<char> buf(std::size_t{1} << 20);
  stream.seekg(0);
  size = 0;
  seal.clear();
  while (stream) {
    stream.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    const std::size_t got = static_cast<std::size_t>(stream.gcount());
    if (got == 0) break;
    if (size < kSealBytes) {
      seal.append(buf.data(), std::min(got, kSealBytes - static_cast<std::size_t>(size)));
    }
    if (size == 0 && got >= kSealCrcOffset + 8) std::fill_n(buf.data() + kSealCrcOffset, 8, '\0');
    crc.update(buf.data(), got);
    size += got;
  }
  return crc.value();
}

// Fills the user block of the closed file at `temp`. Errors name `file`, the final path.
void write_seal(const std::string& temp, const std::string& file) {
  std::fstream stream(temp, std::ios::in | std::ios::out | std::ios::binary);
  if (!stream) throw Error(file + ": cannot reopen " + temp + " to seal it");
  char header[kSealCrcOffset + 8] = {};
  std::copy(kSealMagic, kSealMagic + 8, header);
  stream.seekg(0, std::ios::end);
  put_u64(header + kSealSizeOffset, static_cast<std::uint64_t>(stream.tellg()));
  stream.seekp(0);
  stream.write(header, sizeof(header));  // CRC field still zero, as file_crc assumes
  stream.flush();
  std::string seal;
  std::uint64_t size = 0;
  const std::uint64_t crc = file_crc(stream, seal, size);
  if (stream.bad()) throw Error(file + ": cannot read back " + temp + " to seal it");
  stream.clear();  // reading to the end set eofbit
  put_u64(header + kSealCrcOffset, crc);
  stream.seekp(kSealCrcOffset);
  stream.write(header + kSealCrcOffset, 8);
  stream.close();
  if (!stream) throw Error(file + ": cannot write the seal of " + temp);
}

// Checks the seal: magic, recorded size against the actual size, and the CRC.
void verify_seal(const std::string& file) {
  std::fstream stream(file, std::ios::in | std::ios::binary);
  if (!stream) throw Error(file + ": cannot reopen to verify its checksum");
  std::string seal;
  std::uint64_t size = 0;
  const std::uint64_t crc = file_crc(stream, seal, size);
  if (stream.bad()) throw Error(file + ": cannot read to verify its checksum");
  if (seal.size() < kSealCrcOffset + 8 || !std::equal(kSealMagic, kSealMagic + 8, seal.begin())) {
    throw Error(
        file +
        ": expected the checkpoint seal \"FMNISTCK\" at offset 0, found other bytes (corrupted?)");
  }
  const std::uint64_t recorded_size = get_u64(seal.data() + kSealSizeOffset);
  if (recorded_size != size) {
    throw Error(file + ": expected " + std::to_string(recorded_size) + " bytes, found " +
                std::to_string(size) + " (truncated or corrupted)");
  }
  const std::uint64_t recorded_crc = get_u64(seal.data() + kSealCrcOffset);
  if (recorded_crc != crc) {
    char text[96];
    std::snprintf(text, sizeof(text), "expected CRC-32 %08llx, found %08llx",
                  static_cast<unsigned long long>(recorded_crc),
                  static_cast<unsigned long long>(crc));
    throw Error(file + ": " + text + " (corrupted: some byte changed since it was written)");
  }
}

bool valid_path(const std::string& path) {
  if (path.empty() || path.front() == '/' || path.back() == '/') return false;
  std::size_t begin = 0;
  while (begin <= path.size()) {
    std::size_t end = path.find('/', begin);
    if (end == std::string::npos) end = path.size();
    const std::string part = path.substr(begin, end - begin);
    if (part.empty() || part == "." || part == "..") return false;
    begin = end + 1;
  }
  return path.find('\0') == std::string::npos;
}

std::string shape_string(const std::vector<std::size_t>& shape) {
  std::string out = "{";
  for (std::size_t i = 0; i < shape.size(); ++i) out += (i ? "," : "") + std::to_string(shape[i]);
  return out + "}";
}

void validate_arrays(const std::vector<NamedArray>& arrays, const std::string& group,
                     const std::string& file) {
  std::set<std::string> paths;
  for (const NamedArray& array : arrays) {
    const std::string where = group + "/" + array.path;
    if (!valid_path(array.path)) {
      throw Error(file + ": expected an array path of non-empty '/'-separated names, found \"" +
                  array.path + "\"");
    }
    if (!paths.insert(array.path).second) {
      throw Error(file + ": expected distinct array paths, found " + where + " twice");
    }
    if (array.shape.empty()) {
      throw Error(file + ": expected " + where + " to have rank >= 1, found a scalar shape {}");
    }
    std::size_t count = 1;
    for (std::size_t d : array.shape) {
      if (d != 0 && count > std::numeric_limits<std::size_t>::max() / d) {
        throw Error(file + ": expected " + where + " to have a representable size, found shape " +
                    shape_string(array.shape));
      }
      count *= d;
    }
    if (count != array.values.size()) {
      throw Error(file + ": expected " + where + " with shape " + shape_string(array.shape) +
                  " to hold " + std::to_string(count) + " values, found " +
                  std::to_string(array.values.size()));
    }
  }
}

void validate_counters(const CheckpointState& state, const std::string& file) {
  if (state.world_size < 1) {
    throw Error(file + ": expected world_size >= 1, found " + std::to_string(state.world_size));
  }
  const std::pair<const char*, std::int64_t> counters[] = {{"epoch", state.epoch},
                                                           {"step_in_epoch", state.step_in_epoch},
                                                           {"global_step", state.global_step}};
  for (const auto& [name, value] : counters) {
    if (value < 0) {
      throw Error(file + ": expected " + name + " >= 0, found " + std::to_string(value));
    }
  }
}

void validate_state(const CheckpointState& state, const std::string& file) {
  validate_counters(state, file);
  validate_arrays(state.model, "/model", file);
  validate_arrays(state.optimizer, "/optimizer", file);
  validate_arrays(state.best_weights, "/best_weights", file);
  for (const auto& [name, value] : state.optimizer_counters) {
    if (name.empty() || name == kOptimizerNameAttribute || name.find('\0') != std::string::npos) {
      throw Error(file +
                  ": expected an optimizer counter name other than \"\" and \"name\", found \"" +
                  name + "\"");
    }
  }
  validate_history(state.history, file);
}

// A diverged run must never replace a good checkpoint: every value that training resumes from
// (parameters, optimizer moments, the epoch's running sums) has to be finite.
void require_finite(const CheckpointState& state, const std::string& file) {
  auto refuse = [&](const std::string& where, double value) {
    std::ostringstream out;
    out << file << ": refusing to write a checkpoint holding a non-finite value (" << value << " in " << where
        << "); the checkpoints already written stay as they are";
    throw Error(out.str());
  };
  for (const auto* arrays : {&state.model, &state.optimizer})
    for (const NamedArray& array : *arrays)
      for (std::size_t i = 0; i < array.values.size(); ++i)
        if (!std::isfinite(array.values[i]))
          refuse(std::string(arrays == &state.model ? "/model/" : "/optimizer/") + array.path + "[" +
                     std::to_string(i) + "]",
                 array.values[i]);
  for (const auto& [key, value] : state.epoch_progress)
    if (!std::isfinite(value)) refuse("/progress/" + key, value);
}

// Writes each array at <group>/<path>, creating the intermediate groups.
void write_arrays(hid_t group, const std::vector<NamedArray>& arrays, const std::string& file) {
  for (const NamedArray& array : arrays) {
    const std::size_t slash = array.path.rfind('/');
    h5::Handle parent = h5::create_groups(
        group, slash == std::string::npos ? "" : array.path.substr(0, slash), file);
    const std::string name = slash == std::string::npos ? array.path : array.path.substr(slash + 1);
    h5::write_dataset<float>(parent.get(), name, array.shape, array.values.data(),
                             h5::DatasetOptions{}, file);
  }
}

// Reads every dataset below `group` (whose path in the file is `where`) depth-first in
// creation order; `prefix` is the array path of `group` relative to /model or /optimizer.
void read_arrays(hid_t group, const std::string& where, const std::string& prefix,
                 std::vector<NamedArray>& out, const std::string& file) {
  for (const h5::Child& child : h5::list_group(group, where, file)) {
    const std::string path = prefix.empty() ? child.name : prefix + "/" + child.name;
    if (child.is_group) {
      h5::Handle sub = h5::open_group(group, child.name, file);
      read_arrays(sub.get(), where + "/" + child.name, path, out, file);
      continue;
    }
    NamedArray array;
    array.path = path;
    array.values = h5::read_dataset<float>(group, where + "/" + child.name, array.shape, file);
    out.push_back(std::move(array));
  }
}

// One "row" of named doubles (/progress, /callbacks): the same dataset layout as /history.
void write_named_doubles(hid_t file_id, const char* group_name, const std::map<std::string, double>& values,
                         const std::string& file) {
  History row;
  if (!values.empty()) row.add_row(values);
  h5::Handle group = h5::create_group(file_id, group_name, file);
  write_history_datasets(group.get(), row, h5::DatasetOptions{}, file);
}

std::map<std::string, double> read_named_doubles(hid_t root, const std::string& where, const std::string& path) {
  h5::Handle group = h5::open_group(root, where, path);
  const History row = read_history_datasets(group.get(), where, "", path);
  std::map<std::string, double> values;
  for (std::size_t k = 0; k < row.keys.size(); ++k) {
    if (row.columns[k].size() != 1) {
      throw Error(path + ": expected " + where + "/" + row.keys[k] + " to hold 1 value, found " +
                  std::to_string(row.columns[k].size()));
    }
    values[row.keys[k]] = row.columns[k][0];
  }
  return values;
}

void write_contents(hid_t file_id, const CheckpointState& state, const std::string& file) {
  h5::write_attribute_int(file_id, "format_version", kCheckpointFormatVersion, file);
  h5::write_attribute_string(file_id, "model_spec", state.model_spec, file);
  h5::write_attribute_string(file_id, "config", state.config, file);
  h5::write_attribute_int64(file_id, "world_size", state.world_size, file);
  h5::write_attribute_int64(file_id, "epoch", state.epoch, file);
  h5::write_attribute_int64(file_id, "step_in_epoch", state.step_in_epoch, file);
  h5::write_attribute_int64(file_id, "global_step", state.global_step, file);
  h5::write_dataset<std::uint64_t>(file_id, "rng_state", {state.rng_state.size()},
                                   state.rng_state.data(), h5::DatasetOptions{}, file);
  {
    h5::Handle model = h5::create_group(file_id, "model", file);
    write_arrays(model.get(), state.model, file);
  }
  {
    h5::Handle optimizer = h5::create_group(file_id, "optimizer", file);
    h5::write_attribute_string(optimizer.get(), kOptimizerNameAttribute, state.optimizer_name,
                               file);
    for (const auto& [name, value] : state.optimizer_counters) {
      h5::write_attribute_int64(optimizer.get(), name, value, file);
    }
    write_arrays(optimizer.get(), state.optimizer, file);
  }
  {
    h5::Handle history = h5::create_group(file_id, "history", file);
    write_history_datasets(history.get(), state.history, h5::DatasetOptions{}, file);
  }
  write_named_doubles(file_id, "progress", state.epoch_progress, file);
  write_named_doubles(file_id, "callbacks", state.callbacks, file);
  {
    h5::Handle best = h5::create_group(file_id, "best_weights", file);
    write_arrays(best.get(), state.best_weights, file);
  }
}

}  // namespace

void write_checkpoint(const std::string& path, const CheckpointState& state) {
  h5::silence_errors();
  validate_state(state, path);
  require_finite(state, path);
  AtomicFile out(path);
  {
    h5::Handle file =
        h5::create_file(out.temp_path(), h5::FileFormat::kChecksummed, kSealBytes, path);
    write_contents(file.get(), state, path);
    h5::flush_and_close(file, path);
  }
  write_seal(out.temp_path(), path);
  out.commit();
}

CheckpointState read_checkpoint(const std::string& path) {
  h5::silence_errors();
  h5::Handle file = h5::open_file(path);
  const hid_t root = file.get();
  // The version comes first: it decides how the rest of the file is to be read.
  const int version = h5::read_attribute_int(root, "/", "format_version", path);
  if (version != kCheckpointFormatVersion) {
    throw Error(path + ": expected checkpoint format version " +
                std::to_string(kCheckpointFormatVersion) + ", found " + std::to_string(version));
  }
  // Before reading any dataset: HDF5 has so far parsed only the superblock and the root object
  // header, both under HDF5's own checksums; after this, every byte is as written.
  verify_seal(path);
  CheckpointState state;
  state.model_spec = h5::read_attribute_string(root, "/", "model_spec", path);
  state.config = h5::read_attribute_string(root, "/", "config", path);
  state.world_size = h5::read_attribute_int(root, "/", "world_size", path);
  state.epoch = h5::read_attribute_int64(root, "/", "epoch", path);
  state.step_in_epoch = h5::read_attribute_int64(root, "/", "step_in_epoch", path);
  state.global_step = h5::read_attribute_int64(root, "/", "global_step", path);
  validate_counters(state, path);

  std::vector<std::size_t> dims;
  state.rng_state = h5::read_dataset<std::uint64_t>(root, "/rng_state", dims, path);
  if (dims.size() != 1) {
    throw Error(path + ": expected /rng_state to be 1-D, found rank " +
                std::to_string(dims.size()));
  }

  {
    h5::Handle model = h5::open_group(root, "/model", path);
    read_arrays(model.get(), "/model", "", state.model, path);
  }
  {
    h5::Handle optimizer = h5::open_group(root, "/optimizer", path);
    state.optimizer_name =
        h5::read_attribute_string(optimizer.get(), "/optimizer", kOptimizerNameAttribute, path);
    for (const std::string& name : h5::attribute_names(optimizer.get(), "/optimizer", path)) {
      if (name == kOptimizerNameAttribute) continue;
      state.optimizer_counters[name] =
          h5::read_attribute_int64(optimizer.get(), "/optimizer", name, path);
    }
    read_arrays(optimizer.get(), "/optimizer", "", state.optimizer, path);
  }
  {
    h5::Handle history = h5::open_group(root, "/history", path);
    state.history = read_history_datasets(history.get(), "/history", "", path);
  }
  state.epoch_progress = read_named_doubles(root, "/progress", path);
  state.callbacks = read_named_doubles(root, "/callbacks", path);
  {
    h5::Handle best = h5::open_group(root, "/best_weights", path);
    read_arrays(best.get(), "/best_weights", "", state.best_weights, path);
  }
  return state;
}

}  // namespace fmnist
