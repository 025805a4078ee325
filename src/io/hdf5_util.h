// RAII handles and checked helpers over the HDF5 C API, shared by the checkpoint and history
// files. Private to src/io/: every HDF5 status is checked here and turned into one fmnist::Error
// line that names the file, so the callers read as a list of fields.
#pragma once

#include <hdf5.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace fmnist::h5 {

/// Stops HDF5 printing its error stack to stderr (for this thread); we report failures ourselves
/// as one line. Called at the top of every public io/ entry point.
void silence_errors();

/// Runs `parse` (which reads the HDF5 file `path`) once in a forked child process first, and
/// throws Error naming `path` when the child dies of a signal: libhdf5 itself can crash on a
/// corrupt file (a NULL read inside H5Lexists was found by tests/fuzz/fuzz_keras_weights), and
/// files made elsewhere (Keras weights) carry no checksum of ours to catch that before parsing.
/// The same when the child has not finished after a few seconds (libhdf5 can also loop forever
/// on a corrupt file): it is killed. When the child survives, `parse` then runs in this process
/// and its result or Error stands.
void parse_isolated(const std::string& path, const std::function<void()>& parse);

/// Throws Error("<file>: <what> (HDF5: <innermost message of HDF5's error stack>)").
[[noreturn]] void fail(const std::string& file, const std::string& what);

/// Returns `id` if it is a valid identifier, else fail(file, what).
hid_t check_id(hid_t id, const std::string& file, const std::string& what);

/// Does nothing if `status` is non-negative, else fail(file, what).
void check_status(herr_t status, const std::string& file, const std::string& what);

/// An owned HDF5 identifier (file, group, dataset, dataspace, datatype, attribute or property
/// list), closed with the matching H5?close when it goes out of scope. Move-only.
class Handle {
 public:
  Handle() = default;
  /// Takes ownership of `id`; a negative id makes an empty handle.
  explicit Handle(hid_t id) : id_(id) {}
  Handle(Handle&& other) noexcept : id_(other.release()) {}
  Handle& operator=(Handle&& other) noexcept;
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle() { close(); }

  hid_t get() const { return id_; }
  hid_t release() {
    hid_t id = id_;
    id_ = H5I_INVALID_HID;
    return id;
  }
  /// Closes now and returns the close status: H5Fclose writes the remaining metadata, so a
  /// writer must call this on the file and check the result rather than rely on the destructor.
  herr_t close();

 private:
  hid_t id_ = H5I_INVALID_HID;
};

/// How a new file is laid out on disk.
enum class FileFormat {
  /// HDF5 1.10 format (superblock v3, object header v2): all metadata carries checksums.
  kChecksummed,
  /// The library's default, oldest compatible format: readable by any HDF5 1.8+ tool.
  kCompatible,
};

/// Creates `path` (failing if it exists). Groups in it remember link creation order. The file
/// is opened so that H5Fclose fails while objects in it are still open (H5F_CLOSE_SEMI).
/// `user_block_bytes` (0, or a power of two >= 512) are left to the caller at the start of the
/// file; HDF5 never reads them. `name_in_errors` is the file named in error messages (the final
/// path, not a temporary).
Handle create_file(const std::string& path, FileFormat format, std::size_t user_block_bytes,
                   const std::string& name_in_errors);

/// Opens an existing file read-only. Throws Error saying "not an HDF5 file" when the file
/// exists but has no HDF5 signature, and "no such file" when it does not exist.
Handle open_file(const std::string& path);

/// Flushes and closes a file written by create_file, checking both steps.
void flush_and_close(Handle& file, const std::string& name_in_errors);

/// Creates the group `name` below `loc`, remembering link creation order.
Handle create_group(hid_t loc, const std::string& name, const std::string& file);

/// Opens the group `where` (an absolute or relative HDF5 path); throws if missing or not a group.
Handle open_group(hid_t loc, const std::string& where, const std::string& file);

/// Creates every missing group on the '/'-separated `path` below `loc` and returns the last one.
Handle create_groups(hid_t loc, const std::string& path, const std::string& file);

/// Options for a new dataset.
struct DatasetOptions {
  /// Chunked layout with the Fletcher32 checksum filter, so a flipped data byte fails the read.
  /// Without it the dataset is contiguous, the plainest layout for other tools.
  bool checksum = true;
};

/// Writes the dataset `name` below `loc` with shape `dims` (rank >= 1, zero sizes allowed) from
/// `data` (row-major, product(dims) elements). T is float, double, std::int64_t, std::uint64_t
/// or std::uint8_t, stored little-endian as float32, float64, int64, uint64 or uint8.
template <typename T>
void write_dataset(hid_t loc, const std::string& name, const std::vector<std::size_t>& dims,
                   const T* data, const DatasetOptions& options, const std::string& file);

/// Reads the whole dataset `where` (pass the absolute path, e.g. "/model/dense/kernel": it is
/// also the name used in errors), whose stored type must be the kind of T (see
/// write_dataset); puts its shape in `dims`. Throws naming `where` when it is missing, has
/// another type or rank 0, or fails its checksum. Values are copied bit for bit.
template <typename T>
std::vector<T> read_dataset(hid_t loc, const std::string& where, std::vector<std::size_t>& dims,
                            const std::string& file);

/// Attribute writers: scalar int32, int64, float64 and fixed-length string attributes on `loc`.
void write_attribute_int(hid_t loc, const std::string& name, int value, const std::string& file);
void write_attribute_int64(hid_t loc, const std::string& name, std::int64_t value,
                           const std::string& file);
void write_attribute_double(hid_t loc, const std::string& name, double value, const std::string& file);
void write_attribute_string(hid_t loc, const std::string& name, const std::string& value,
                            const std::string& file);

/// Attribute readers: throw naming `owner`/`name` when missing, not scalar or of another type.
int read_attribute_int(hid_t loc, const std::string& owner, const std::string& name,
                       const std::string& file);
std::int64_t read_attribute_int64(hid_t loc, const std::string& owner, const std::string& name,
                                  const std::string& file);
std::string read_attribute_string(hid_t loc, const std::string& owner, const std::string& name,
                                  const std::string& file);

/// Writes the 1-D dataset `name` of fixed-length NUL-padded strings (h5py: an array of bytes).
void write_string_dataset(hid_t loc, const std::string& name, const std::vector<std::string>& values,
                          const std::string& file);

/// Whether `loc` has the attribute `name`; whether the link `name` (a path) exists below `loc`.
bool has_attribute(hid_t loc, const std::string& name, const std::string& file);
bool has_link(hid_t loc, const std::string& name, const std::string& file);

/// A 1-D array attribute of strings, variable-length (ASCII or UTF-8) or fixed-length (NUL
/// padded or terminated), as h5py and tf.keras write them; an empty array of any type gives no
/// strings. Throws naming `owner`/`name` when missing or not strings.
std::vector<std::string> read_string_array_attribute(hid_t loc, const std::string& owner, const std::string& name,
                                                     const std::string& file);

/// Names of the attributes of `loc`, in name order.
std::vector<std::string> attribute_names(hid_t loc, const std::string& owner,
                                         const std::string& file);

/// One entry of a group: its name and whether it is a group (else a dataset).
struct Child {
  std::string name;
  bool is_group = false;
};

/// The order list_group gives entries in: creation order needs a group that tracks it (ours do);
/// files written by other tools (h5py) may only be listed by name.
enum class LinkOrder { kCreation, kName };

/// The entries of the group `loc` (named `owner` in errors) in `order`. Throws if an entry
/// is neither a group nor a dataset.
std::vector<Child> list_group(hid_t loc, const std::string& owner, const std::string& file,
                              LinkOrder order = LinkOrder::kCreation);

}  // namespace fmnist::h5
