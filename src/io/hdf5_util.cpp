// RAII handles and checked helpers over the HDF5 C API (see hdf5_util.h). Every call's status
// is checked right after the call, because HDF5 clears its error stack on the next API call.
#include "hdf5_util.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <thread>
#include <type_traits>

#include "fmnist/core/error.h"

namespace fmnist::h5 {
namespace {

// Chunks hold at most this many bytes: small arrays are one chunk (one checksum, one read),
// large ones are split so the chunk cache and the Fletcher32 pass stay cheap.
constexpr std::size_t kMaxChunkBytes = std::size_t{1} << 20;

// The innermost entry of HDF5's error stack is the most specific one ("truncated file: eof =
// ...", "incorrect metadata checksum ..."); the outer entries only repeat the API call.
herr_t take_innermost(unsigned n, const H5E_error2_t* err, void* out) {
  if (n == 0 && err->desc != nullptr) *static_cast<std::string*>(out) = err->desc;
  return 0;
}

std::string hdf5_detail() {
  std::string detail;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, take_innermost, &detail);
  H5Eclear2(H5E_DEFAULT);
  std::replace(detail.begin(), detail.end(), '\n', ' ');
  return detail;
}

// The 8-byte signature HDF5 writes at offset 0, 512, 1024, 2048, ... (HDF5 format spec, II.A).
bool has_hdf5_signature(const std::string& path) {
  static const char kSignature[8] = {'\211', 'H', 'D', 'F', '\r', '\n', '\032', '\n'};
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  for (std::streamoff offset = 0; offset + 8 <= size; offset = offset == 0 ? 512 : offset * 2) {
    char buf[8];
    in.seekg(offset);
    if (!in.read(buf, 8)) return false;
    if (std::memcmp(buf, kSignature, 8) == 0) return true;
  }
  return false;
}

// For each element type we store: its HDF5 type on disk (fixed little-endian, whatever the
// host) and in memory, and how read_dataset checks and names it.
template <typename T>
struct TypeOf;
template <>
struct TypeOf<float> {
  static hid_t file() { return H5T_IEEE_F32LE; }
  static hid_t mem() { return H5T_NATIVE_FLOAT; }
  static constexpr H5T_class_t kClass = H5T_FLOAT;
  static constexpr const char* kName = "float32";
};
template <>
struct TypeOf<double> {
  static hid_t file() { return H5T_IEEE_F64LE; }
  static hid_t mem() { return H5T_NATIVE_DOUBLE; }
  static constexpr H5T_class_t kClass = H5T_FLOAT;
  static constexpr const char* kName = "float64";
};
template <>
struct TypeOf<std::int64_t> {
  static hid_t file() { return H5T_STD_I64LE; }
  static hid_t mem() { return H5T_NATIVE_INT64; }
  static constexpr H5T_class_t kClass = H5T_INTEGER;
  static constexpr const char* kName = "int64";
};
template <>
struct TypeOf<std::uint64_t> {
  static hid_t file() { return H5T_STD_U64LE; }
  static hid_t mem() { return H5T_NATIVE_UINT64; }
  static constexpr H5T_class_t kClass = H5T_INTEGER;
  static constexpr const char* kName = "uint64";
};

template <>
struct TypeOf<std::uint8_t> {
  static hid_t file() { return H5T_STD_U8LE; }
  static hid_t mem() { return H5T_NATIVE_UINT8; }
  static constexpr H5T_class_t kClass = H5T_INTEGER;
  static constexpr const char* kName = "uint8";
};

// A short name for a stored type, for "expected float32, found int16" messages.
std::string describe_type(hid_t type) {
  const H5T_class_t cls = H5Tget_class(type);
  const std::size_t bits = 8 * H5Tget_size(type);
  switch (cls) {
    case H5T_FLOAT:
      return "float" + std::to_string(bits);
    case H5T_INTEGER:
      return (H5Tget_sign(type) == H5T_SGN_NONE ? "uint" : "int") + std::to_string(bits);
    case H5T_STRING:
      return H5Tis_variable_str(type) > 0 ? "variable-length string" : "fixed-length string";
    case H5T_COMPOUND:
      return "compound";
    case H5T_ENUM:
      return "enum";
    case H5T_ARRAY:
      return "array";
    case H5T_VLEN:
      return "vlen";
    default:
      return "another type";
  }
}

template <typename T>
bool type_matches(hid_t type) {
  if (H5Tget_class(type) != TypeOf<T>::kClass || H5Tget_size(type) != sizeof(T)) return false;
  if (TypeOf<T>::kClass != H5T_INTEGER) return true;
  return (H5Tget_sign(type) == H5T_SGN_NONE) == std::is_unsigned<T>::value;
}

Handle object_creation_properties(hid_t cls, const std::string& file) {
  Handle plist(check_id(H5Pcreate(cls), file, "cannot create a property list"));
  // No access/modification times: identical state gives byte-identical files.
  check_status(H5Pset_obj_track_times(plist.get(), false), file, "cannot disable time tracking");
  return plist;
}

Handle group_creation_properties(hid_t cls, const std::string& file) {
  Handle gcpl = object_creation_properties(cls, file);
  // Creation order is how read_checkpoint/read_history give arrays and columns back in the
  // order they were written (HDF5 otherwise lists links by name).
  check_status(
      H5Pset_link_creation_order(gcpl.get(), H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED), file,
      "cannot track link creation order");
  return gcpl;
}

Handle open_attribute(hid_t loc, const std::string& owner, const std::string& name,
                      const std::string& file) {
  const htri_t exists = H5Aexists(loc, name.c_str());
  if (exists < 0) fail(file, "cannot look up attribute '" + name + "' of " + owner);
  if (exists == 0) {
    throw Error(file + ": expected attribute '" + name + "' on " + owner + ", found none");
  }
  Handle attr(check_id(H5Aopen(loc, name.c_str(), H5P_DEFAULT), file,
                       "cannot open attribute '" + name + "' of " + owner));
  Handle space(check_id(H5Aget_space(attr.get()), file,
                        "cannot read the shape of attribute '" + name + "' of " + owner));
  if (H5Sget_simple_extent_type(space.get()) != H5S_SCALAR) {
    throw Error(file + ": expected attribute '" + name + "' of " + owner +
                " to be a scalar, found an array");
  }
  return attr;
}

herr_t collect_attribute_name(hid_t, const char* name, const H5A_info_t*, void* out) {
  static_cast<std::vector<std::string>*>(out)->push_back(name);
  return 0;
}

// Writes the scalar attribute `name` of type `file_type` from `value` (in `mem_type`).
void write_scalar_attribute(hid_t loc, const std::string& name, hid_t file_type, hid_t mem_type,
                            const void* value, const std::string& file) {
  Handle space(check_id(H5Screate(H5S_SCALAR), file, "cannot create a scalar dataspace"));
  Handle attr(check_id(H5Acreate2(loc, name.c_str(), file_type, space.get(), H5P_DEFAULT, H5P_DEFAULT),
                       file, "cannot create attribute " + name));
  check_status(H5Awrite(attr.get(), mem_type, value), file, "cannot write attribute " + name);
  check_status(attr.close(), file, "cannot close attribute " + name);
}

// Opens `where`, which must exist and be a `kind_name` (HDF5 object type `kind`).
Handle open_object(hid_t loc, const std::string& where, H5I_type_t kind, const char* kind_name,
                   const std::string& file) {
  const htri_t exists = H5Lexists(loc, where.c_str(), H5P_DEFAULT);
  if (exists < 0) fail(file, std::string("cannot look up ") + kind_name + " " + where);
  if (exists == 0) throw Error(file + ": expected " + kind_name + " " + where + ", found none");
  Handle object(check_id(H5Oopen(loc, where.c_str(), H5P_DEFAULT), file, "cannot open " + where));
  if (H5Iget_type(object.get()) != kind) {
    throw Error(file + ": expected " + where + " to be a " + kind_name + ", found another kind of object");
  }
  return object;
}

}  // namespace

void parse_isolated(const std::string& path, const std::function<void()>& parse) {
  std::fflush(nullptr);  // nothing buffered is written twice by the child
  const pid_t child = fork();
  if (child < 0) throw Error(path + ": cannot fork to check the file (" + std::strerror(errno) + ")");
  if (child == 0) {
    // The child only reads; _exit skips atexit handlers, HDF5's and MPI's included. A crash
    // kills it quietly (no MPI or sanitizer backtrace on the job's stderr): the parent reports.
    for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) std::signal(sig, SIG_DFL);
    const int null_fd = open("/dev/null", O_WRONLY);
    if (null_fd >= 0) dup2(null_fd, STDERR_FILENO);
    try {
      parse();
    } catch (...) {
    }
    _exit(0);
  }
  // libhdf5 can also loop forever on a corrupt file (found by the same fuzzer): a file our
  // models' weights fill parses in milliseconds, so the child gets kParseSeconds.
  constexpr double kParseSeconds = 5.0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(kParseSeconds);
  int status = 0;
  for (;;) {
    const pid_t done = waitpid(child, &status, WNOHANG);
    if (done == child) break;
    if (done < 0 && errno != EINTR)
      throw Error(path + ": cannot wait for the child checking the file (" + std::strerror(errno) + ")");
    if (std::chrono::steady_clock::now() > deadline) {
      kill(child, SIGKILL);
      while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
      }
      throw Error(path + ": expected a readable HDF5 file, found one the HDF5 library did not finish reading in " +
                  std::to_string(static_cast<int>(kParseSeconds)) + " s: the file is corrupt");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  // The child exits 0 whatever parse threw; anything else is a crash (a signal, or a sanitizer's
  // exit status in an instrumented build).
  if (WIFSIGNALED(status) || WEXITSTATUS(status) != 0)
    throw Error(path + ": expected a readable HDF5 file, found one whose structure crashes the HDF5 library (" +
                (WIFSIGNALED(status) ? "signal " + std::to_string(WTERMSIG(status))
                                     : "exit status " + std::to_string(WEXITSTATUS(status))) +
                " while reading it): the file is corrupt");
  parse();
}

void silence_errors() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

void fail(const std::string& file, const std::string& what) {
  const std::string detail = hdf5_detail();
  throw Error(file + ": " + what + (detail.empty() ? "" : " (HDF5: " + detail + ")"));
}

hid_t check_id(hid_t id, const std::string& file, const std::string& what) {
  if (id < 0) fail(file, what);
  return id;
}

void check_status(herr_t status, const std::string& file, const std::string& what) {
  if (status < 0) fail(file, what);
}

Handle& Handle::operator=(Handle&& other) noexcept {
  if (this != &other) {
    close();
    id_ = other.release();
  }
  return *this;
}

herr_t Handle::close() {
  if (id_ < 0) return 0;
  const hid_t id = release();
  switch (H5Iget_type(id)) {
    case H5I_FILE:
      return H5Fclose(id);
    case H5I_GROUP:
      return H5Gclose(id);
    case H5I_DATASET:
      return H5Dclose(id);
    case H5I_DATASPACE:
      return H5Sclose(id);
    case H5I_DATATYPE:
      return H5Tclose(id);
    case H5I_ATTR:
      return H5Aclose(id);
    case H5I_GENPROP_LST:
      return H5Pclose(id);
    default:
      return H5Idec_ref(id) < 0 ? -1 : 0;
  }
}

Handle create_file(const std::string& path, FileFormat format, std::size_t user_block_bytes,
                   const std::string& name_in_errors) {
  const std::string& file = name_in_errors;
  Handle fcpl = group_creation_properties(H5P_FILE_CREATE, file);
  if (user_block_bytes > 0) {
    check_status(H5Pset_userblock(fcpl.get(), user_block_bytes), file,
                 "cannot reserve a user block");
  }
  Handle fapl(check_id(H5Pcreate(H5P_FILE_ACCESS), file, "cannot create a property list"));
  // SEMI: closing the file fails while an object in it is open, instead of silently deferring
  // the final metadata write to whichever handle closes last (where nobody checks it).
  check_status(H5Pset_fclose_degree(fapl.get(), H5F_CLOSE_SEMI), file, "cannot set close degree");
  if (format == FileFormat::kChecksummed) {
    // The 1.10 format checksums the superblock, every object header, B-tree node and heap block.
    check_status(H5Pset_libver_bounds(fapl.get(), H5F_LIBVER_V110, H5F_LIBVER_LATEST), file,
                 "cannot select the HDF5 1.10 file format");
  }
  return Handle(check_id(H5Fcreate(path.c_str(), H5F_ACC_EXCL, fcpl.get(), fapl.get()), file,
                         "cannot create file " + path));
}

Handle open_file(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw Error(path + ": no such file");
  if (!std::filesystem::is_regular_file(path, ec)) {
    throw Error(path + ": expected a regular file, found something else");
  }
  const hid_t id = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (id < 0) {
    if (!has_hdf5_signature(path)) {
      H5Eclear2(H5E_DEFAULT);
      throw Error(path + ": expected an HDF5 file, found no HDF5 signature");
    }
    fail(path, "cannot open as HDF5 (corrupted or truncated?)");
  }
  return Handle(id);
}

void flush_and_close(Handle& file, const std::string& name_in_errors) {
  check_status(H5Fflush(file.get(), H5F_SCOPE_GLOBAL), name_in_errors, "cannot flush");
  check_status(file.close(), name_in_errors, "cannot close");
}

Handle create_group(hid_t loc, const std::string& name, const std::string& file) {
  Handle gcpl = group_creation_properties(H5P_GROUP_CREATE, file);
  return Handle(check_id(H5Gcreate2(loc, name.c_str(), H5P_DEFAULT, gcpl.get(), H5P_DEFAULT), file,
                         "cannot create group '" + name + "'"));
}

Handle open_group(hid_t loc, const std::string& where, const std::string& file) {
  return open_object(loc, where, H5I_GROUP, "group", file);
}

Handle create_groups(hid_t loc, const std::string& path, const std::string& file) {
  Handle current(check_id(H5Oopen(loc, ".", H5P_DEFAULT), file, "cannot open group"));
  std::size_t begin = 0;
  while (begin < path.size()) {
    std::size_t end = path.find('/', begin);
    if (end == std::string::npos) end = path.size();
    const std::string name = path.substr(begin, end - begin);
    const htri_t exists = H5Lexists(current.get(), name.c_str(), H5P_DEFAULT);
    if (exists < 0) fail(file, "cannot look up group '" + name + "' of " + path);
    current = exists > 0 ? Handle(check_id(H5Gopen2(current.get(), name.c_str(), H5P_DEFAULT), file,
                                           "cannot open group '" + name + "' of " + path))
                         : create_group(current.get(), name, file);
    begin = end + 1;
  }
  return current;
}

template <typename T>
void write_dataset(hid_t loc, const std::string& name, const std::vector<std::size_t>& dims,
                   const T* data, const DatasetOptions& options, const std::string& file) {
  const int rank = static_cast<int>(dims.size());
  std::vector<hsize_t> size(dims.begin(), dims.end());
  // A zero-sized chunked dimension must be extendible: HDF5 refuses a chunk larger than a fixed
  // maximum (and a contiguous dataset must not be extendible).
  std::vector<hsize_t> max_size(size);
  for (hsize_t& m : max_size) {
    if (m == 0 && options.checksum) m = H5S_UNLIMITED;
  }
  Handle space(check_id(H5Screate_simple(rank, size.data(), max_size.data()), file,
                        "cannot create the dataspace of " + name));
  Handle dcpl = object_creation_properties(H5P_DATASET_CREATE, file);
  if (options.checksum) {
    // Chunk = the whole array, shrinking leading dimensions until it fits kMaxChunkBytes.
    std::vector<hsize_t> chunk(size);
    for (hsize_t& c : chunk) c = std::max<hsize_t>(c, 1);
    for (int i = 0; i < rank; ++i) {
      hsize_t rest = sizeof(T);
      for (int j = i + 1; j < rank; ++j) rest *= chunk[j];
      if (rest * chunk[i] <= kMaxChunkBytes) break;
      chunk[i] = std::max<hsize_t>(1, kMaxChunkBytes / rest);
    }
    check_status(H5Pset_chunk(dcpl.get(), rank, chunk.data()), file,
                 "cannot set the chunks of " + name);
    check_status(H5Pset_fletcher32(dcpl.get()), file, "cannot add a checksum to " + name);
  }
  check_status(H5Pset_fill_time(dcpl.get(), H5D_FILL_TIME_NEVER), file,
               "cannot set fill time of " + name);
  Handle dataset(check_id(H5Dcreate2(loc, name.c_str(), TypeOf<T>::file(), space.get(), H5P_DEFAULT,
                                     dcpl.get(), H5P_DEFAULT),
                          file, "cannot create dataset " + name));
  const bool empty = std::find(dims.begin(), dims.end(), std::size_t{0}) != dims.end();
  if (!empty) {
    check_status(H5Dwrite(dataset.get(), TypeOf<T>::mem(), H5S_ALL, H5S_ALL, H5P_DEFAULT, data),
                 file, "cannot write dataset " + name);
  }
  check_status(dataset.close(), file, "cannot close dataset " + name);
}

template <typename T>
std::vector<T> read_dataset(hid_t loc, const std::string& where, std::vector<std::size_t>& dims,
                            const std::string& file) {
  Handle object = open_object(loc, where, H5I_DATASET, "dataset", file);
  Handle type(check_id(H5Dget_type(object.get()), file, "cannot read the type of " + where));
  if (!type_matches<T>(type.get())) {
    throw Error(file + ": expected " + where + " to hold " + TypeOf<T>::kName + ", found " +
                describe_type(type.get()));
  }
  Handle space(check_id(H5Dget_space(object.get()), file, "cannot read the shape of " + where));
  const int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank < 0) fail(file, "cannot read the rank of " + where);
  if (rank == 0 || H5Sget_simple_extent_type(space.get()) != H5S_SIMPLE) {
    throw Error(file + ": expected " + where + " to be an array of rank >= 1, found a scalar");
  }
  std::vector<hsize_t> size(static_cast<std::size_t>(rank));
  check_status(H5Sget_simple_extent_dims(space.get(), size.data(), nullptr), file,
               "cannot read the shape of " + where);
  std::size_t count = 1;
  for (hsize_t s : size) {
    if (s != 0 && count > std::numeric_limits<std::size_t>::max() / sizeof(T) / s) {
      throw Error(file + ": expected " + where + " to fit in memory, found a shape too large");
    }
    count *= static_cast<std::size_t>(s);
  }
  dims.assign(size.begin(), size.end());
  std::vector<T> values(count);
  if (count > 0) {
    // Same type in memory as on disk (on little-endian hosts): HDF5 copies bytes, so NaN
    // payloads, denormals and -0.0 come back unchanged. Fletcher32 is verified here.
    check_status(
        H5Dread(object.get(), TypeOf<T>::mem(), H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()), file,
        "cannot read dataset " + where);
  }
  return values;
}

#define FMNIST_INSTANTIATE(T)                                                                   \
  template void write_dataset<T>(hid_t, const std::string&, const std::vector<std::size_t>&,    \
                                 const T*, const DatasetOptions&, const std::string&);          \
  template std::vector<T> read_dataset<T>(hid_t, const std::string&, std::vector<std::size_t>&, \
                                          const std::string&);
FMNIST_INSTANTIATE(float)
FMNIST_INSTANTIATE(double)
FMNIST_INSTANTIATE(std::int64_t)
FMNIST_INSTANTIATE(std::uint64_t)
FMNIST_INSTANTIATE(std::uint8_t)
#undef FMNIST_INSTANTIATE

void write_attribute_int(hid_t loc, const std::string& name, int value, const std::string& file) {
  write_scalar_attribute(loc, name, H5T_STD_I32LE, H5T_NATIVE_INT, &value, file);
}

void write_attribute_int64(hid_t loc, const std::string& name, std::int64_t value,
                           const std::string& file) {
  write_scalar_attribute(loc, name, H5T_STD_I64LE, H5T_NATIVE_INT64, &value, file);
}

void write_attribute_double(hid_t loc, const std::string& name, double value, const std::string& file) {
  write_scalar_attribute(loc, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &value, file);
}

void write_attribute_string(hid_t loc, const std::string& name, const std::string& value,
                            const std::string& file) {
  if (value.find('\0') != std::string::npos) {
    throw Error(file + ": expected attribute " + name + " to be text, found a NUL character");
  }
  // Fixed-length, NUL-terminated: stored inside the (checksummed) object header, unlike
  // variable-length strings, which live in the unchecksummed global heap.
  Handle type(check_id(H5Tcopy(H5T_C_S1), file, "cannot create a string type"));
  check_status(H5Tset_size(type.get(), value.size() + 1), file, "cannot size attribute " + name);
  check_status(H5Tset_strpad(type.get(), H5T_STR_NULLTERM), file, "cannot set string padding");
  write_scalar_attribute(loc, name, type.get(), type.get(), value.c_str(), file);
}

std::int64_t read_attribute_int64(hid_t loc, const std::string& owner, const std::string& name,
                                  const std::string& file) {
  Handle attr = open_attribute(loc, owner, name, file);
  Handle type(check_id(H5Aget_type(attr.get()), file, "cannot read the type of attribute " + name));
  if (H5Tget_class(type.get()) != H5T_INTEGER) {
    throw Error(file + ": expected attribute '" + name + "' of " + owner +
                " to be an integer, found " + describe_type(type.get()));
  }
  std::int64_t value = 0;
  check_status(H5Aread(attr.get(), H5T_NATIVE_INT64, &value), file,
               "cannot read attribute '" + name + "' of " + owner);
  return value;
}

int read_attribute_int(hid_t loc, const std::string& owner, const std::string& name,
                       const std::string& file) {
  const std::int64_t value = read_attribute_int64(loc, owner, name, file);
  if (value < std::numeric_limits<int>::min() || value > std::numeric_limits<int>::max()) {
    throw Error(file + ": expected attribute '" + name + "' of " + owner +
                " to fit in an int, found " + std::to_string(value));
  }
  return static_cast<int>(value);
}

std::string read_attribute_string(hid_t loc, const std::string& owner, const std::string& name,
                                  const std::string& file) {
  Handle attr = open_attribute(loc, owner, name, file);
  Handle type(check_id(H5Aget_type(attr.get()), file, "cannot read the type of attribute " + name));
  if (H5Tget_class(type.get()) != H5T_STRING || H5Tis_variable_str(type.get()) != 0) {
    throw Error(file + ": expected attribute '" + name + "' of " + owner +
                " to be a fixed-length string, found " + describe_type(type.get()));
  }
  const std::size_t size = H5Tget_size(type.get());
  std::vector<char> buf(size + 1, '\0');
  // Reading with the stored type itself: HDF5 copies the bytes, whatever the padding.
  check_status(H5Aread(attr.get(), type.get(), buf.data()), file,
               "cannot read attribute '" + name + "' of " + owner);
  return std::string(buf.data(), strnlen(buf.data(), size));
}

void write_string_dataset(hid_t loc, const std::string& name, const std::vector<std::string>& values,
                          const std::string& file) {
  std::size_t width = 1;
  for (const std::string& v : values) {
    if (v.find('\0') != std::string::npos)
      throw Error(file + ": expected dataset " + name + " to hold text, found a NUL character");
    width = std::max(width, v.size());
  }
  // Fixed-length, NUL-padded (numpy's |S dtype): h5py reads it as an array of bytes.
  std::vector<char> packed(values.size() * width, '\0');
  for (std::size_t i = 0; i < values.size(); ++i) std::memcpy(packed.data() + i * width, values[i].data(), values[i].size());
  Handle type(check_id(H5Tcopy(H5T_C_S1), file, "cannot create a string type"));
  check_status(H5Tset_size(type.get(), width), file, "cannot size dataset " + name);
  check_status(H5Tset_strpad(type.get(), H5T_STR_NULLPAD), file, "cannot set string padding");
  const hsize_t count = values.size();
  Handle space(check_id(H5Screate_simple(1, &count, nullptr), file, "cannot create the dataspace of " + name));
  Handle dcpl = object_creation_properties(H5P_DATASET_CREATE, file);
  Handle dataset(check_id(H5Dcreate2(loc, name.c_str(), type.get(), space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT),
                          file, "cannot create dataset " + name));
  if (count > 0)
    check_status(H5Dwrite(dataset.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, packed.data()), file,
                 "cannot write dataset " + name);
  check_status(dataset.close(), file, "cannot close dataset " + name);
}

bool has_attribute(hid_t loc, const std::string& name, const std::string& file) {
  const htri_t exists = H5Aexists(loc, name.c_str());
  if (exists < 0) fail(file, "cannot look up attribute '" + name + "'");
  return exists > 0;
}

bool has_link(hid_t loc, const std::string& name, const std::string& file) {
  const htri_t exists = H5Lexists(loc, name.c_str(), H5P_DEFAULT);
  if (exists < 0) fail(file, "cannot look up " + name);
  return exists > 0;
}

std::vector<std::string> read_string_array_attribute(hid_t loc, const std::string& owner, const std::string& name,
                                                     const std::string& file) {
  if (!has_attribute(loc, name, file))
    throw Error(file + ": expected attribute '" + name + "' on " + owner + ", found none");
  Handle attr(check_id(H5Aopen(loc, name.c_str(), H5P_DEFAULT), file,
                       "cannot open attribute '" + name + "' of " + owner));
  Handle space(check_id(H5Aget_space(attr.get()), file, "cannot read the shape of attribute " + name));
  const hssize_t count = H5Sget_simple_extent_npoints(space.get());
  if (count < 0) fail(file, "cannot read the shape of attribute '" + name + "' of " + owner);
  Handle type(check_id(H5Aget_type(attr.get()), file, "cannot read the type of attribute " + name));
  std::vector<std::string> values;
  if (count == 0) return values;
  if (H5Tget_class(type.get()) != H5T_STRING) {
    // h5py writes an empty list as an empty float64 array, handled above; anything else is wrong.
    throw Error(file + ": expected attribute '" + name + "' of " + owner + " to hold strings, found " +
                describe_type(type.get()));
  }
  if (H5Tis_variable_str(type.get()) > 0) {
    Handle mem_type(check_id(H5Tcopy(H5T_C_S1), file, "cannot create a string type"));
    check_status(H5Tset_size(mem_type.get(), H5T_VARIABLE), file, "cannot size a string type");
    check_status(H5Tset_cset(mem_type.get(), H5Tget_cset(type.get())), file, "cannot set a character set");
    // HDF5 mallocs each string; they are freed on every way out, an exception while copying
    // them included. When H5Aread itself fails, HDF5 1.10 hands over no pointers and keeps the
    // strings it had converted (tests/sanitizers/lsan-fuzz.supp).
    struct OwnedStrings {
      std::vector<char*> pointers;
      ~OwnedStrings() {
        for (char* p : pointers) H5free_memory(p);
      }
    } strings{std::vector<char*>(static_cast<std::size_t>(count), nullptr)};
    check_status(H5Aread(attr.get(), mem_type.get(), strings.pointers.data()), file,
                 "cannot read attribute '" + name + "' of " + owner);
    for (char* p : strings.pointers) values.emplace_back(p ? p : "");
    return values;
  }
  // Fixed length, NUL-padded or NUL-terminated: read the stored bytes and cut at the first NUL.
  const std::size_t width = H5Tget_size(type.get());
  std::vector<char> packed(static_cast<std::size_t>(count) * width);
  check_status(H5Aread(attr.get(), type.get(), packed.data()), file,
               "cannot read attribute '" + name + "' of " + owner);
  for (hssize_t i = 0; i < count; ++i) {
    const char* p = packed.data() + static_cast<std::size_t>(i) * width;
    values.emplace_back(p, strnlen(p, width));
  }
  return values;
}

std::vector<std::string> attribute_names(hid_t loc, const std::string& owner,
                                         const std::string& file) {
  std::vector<std::string> names;
  check_status(
      H5Aiterate2(loc, H5_INDEX_NAME, H5_ITER_INC, nullptr, collect_attribute_name, &names), file,
      "cannot list the attributes of " + owner);
  return names;
}

std::vector<Child> list_group(hid_t loc, const std::string& owner, const std::string& file, LinkOrder order) {
  const H5_index_t index = order == LinkOrder::kCreation ? H5_INDEX_CRT_ORDER : H5_INDEX_NAME;
  H5G_info_t info;
  check_status(H5Gget_info(loc, &info), file, "cannot list group " + owner);
  std::vector<Child> children;
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    const ssize_t length =
        H5Lget_name_by_idx(loc, ".", index, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
    if (length < 0) fail(file, "cannot list group " + owner);
    std::vector<char> name(static_cast<std::size_t>(length) + 1, '\0');
    if (H5Lget_name_by_idx(loc, ".", index, H5_ITER_INC, i, name.data(), name.size(),
                           H5P_DEFAULT) < 0) {
      fail(file, "cannot list group " + owner);
    }
    Child child;
    child.name.assign(name.data(), static_cast<std::size_t>(length));
    const std::string where = owner + "/" + child.name;
    // Only hard links: a soft or external link could point anywhere, even into another file.
    H5L_info_t link;
    check_status(H5Lget_info(loc, child.name.c_str(), &link, H5P_DEFAULT), file,
                 "cannot inspect " + where);
    if (link.type != H5L_TYPE_HARD) {
      throw Error(file + ": expected " + where + " to be a plain object, found a link");
    }
    Handle object(
        check_id(H5Oopen(loc, child.name.c_str(), H5P_DEFAULT), file, "cannot open " + where));
    const H5I_type_t type = H5Iget_type(object.get());
    if (type != H5I_GROUP && type != H5I_DATASET) {
      throw Error(file + ": expected " + where +
                  " to be a group or a dataset, found another kind of object");
    }
    child.is_group = type == H5I_GROUP;
    children.push_back(std::move(child));
  }
  return children;
}

}  // namespace fmnist::h5
