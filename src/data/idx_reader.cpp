// Reads IDX files, gzip-compressed or raw: a file starting with the gzip magic 1f 8b is inflated
// (RFC 1952, via zlib's inflate), anything else is taken as it is, whatever the file's name.
// Format (all integers big-endian): IDX3 = magic 0x00000803, count, rows, cols, then pixels;
// IDX1 = magic 0x00000801, count, then one byte per label (Fashion-MNIST README).
#include "fmnist/data/idx_reader.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>

#include "fmnist/core/error.h"

namespace fmnist {
namespace {

constexpr std::uint32_t kImagesMagic = 0x00000803;
constexpr std::uint32_t kLabelsMagic = 0x00000801;
constexpr std::int64_t kMaxSide = 1024;
constexpr int kFashionSide = 28;
// Bytes read ahead from the file (compressed, or raw before a bulk read).
constexpr std::size_t kInputChunk = std::size_t{1} << 17;  // 128 KiB
// z_stream counts in unsigned int, so one inflate call fills at most this much.
// The 47 MB body of train-images still goes in a single read().
constexpr std::size_t kMaxReadChunk = std::size_t{1} << 26;  // 64 MiB

std::string hex32(std::uint32_t value) {
  char text[16];
  std::snprintf(text, sizeof text, "0x%08x", static_cast<unsigned>(value));
  return text;
}

std::uint32_t big_endian_u32(const std::uint8_t* bytes) {
  return (std::uint32_t{bytes[0]} << 24) | (std::uint32_t{bytes[1]} << 16) |
         (std::uint32_t{bytes[2]} << 8) | std::uint32_t{bytes[3]};
}

// IDX stores sizes as signed int32; a value >= 2^31 is negative there, and reported so.
std::int64_t big_endian_i32(const std::uint8_t* bytes) {
  return static_cast<std::int32_t>(big_endian_u32(bytes));
}

/// The decompressed bytes of one file: raw files pass through, gzip files are inflated.
/// We drive inflate ourselves rather than use gzread because gzread reports a .gz file cut
/// inside its 8-byte CRC/length trailer as a clean end of data.
class ByteSource {
 public:
  explicit ByteSource(const std::string& path) : path_(path), input_(kInputChunk) {
    namespace fs = std::filesystem;
    std::error_code ec;
    if (!fs::exists(path, ec))
      throw Error(path + ": expected a file, found nothing (no such file)");
    if (!fs::is_regular_file(path, ec)) {
      throw Error(path + ": expected a regular file, found a directory or special file");
    }
    file_.reset(std::fopen(path.c_str(), "rb"));
    if (!file_) throw Error(path + ": cannot open for reading: " + std::strerror(errno));
    fill_input(2);
    gzip_ = starts_with_gzip_magic();
    if (gzip_) {
      // windowBits 15 + 16: the largest window, and expect the gzip wrapper (not zlib's).
      if (inflateInit2(&strm_, 15 + 16) != Z_OK) throw Error(path + ": cannot start zlib inflate");
      inflating_ = true;
    }
  }
  ~ByteSource() {
    if (inflating_) inflateEnd(&strm_);
  }
  ByteSource(const ByteSource&) = delete;
  ByteSource& operator=(const ByteSource&) = delete;

  const std::string& path() const { return path_; }

  /// Reads up to `size` bytes into `out`; returns how many arrived (fewer only at end of data).
  /// Throws on a read error or corrupt gzip data. A gzip stream cut short, or followed by
  /// non-gzip bytes, just ends the data here and is reported by stream_problem().
  std::size_t read(std::uint8_t* out, std::size_t size) {
    return gzip_ ? read_gzip(out, size) : read_raw(out, size);
  }

  /// Reads and counts the bytes left until end of data (to report trailing garbage).
  std::size_t count_rest() {
    std::vector<std::uint8_t> scratch(1 << 16);
    std::size_t total = 0;
    for (std::size_t got; (got = read(scratch.data(), scratch.size())) > 0;) total += got;
    return total;
  }

  /// What was wrong with the gzip stream up to where reading stopped, or "" when nothing.
  std::string stream_problem() const {
    if (truncated_) return "a truncated gzip stream: unexpected end of file";
    if (garbage_ > 0) {
      return std::to_string(garbage_) + " bytes of non-gzip data after the gzip stream";
    }
    return "";
  }

 private:
  struct FileCloser {
    void operator()(std::FILE* file) const { std::fclose(file); }
  };

  bool starts_with_gzip_magic() const {
    return strm_.avail_in >= 2 && strm_.next_in[0] == 0x1f && strm_.next_in[1] == 0x8b;
  }

  // Moves the unread input to the front of input_ and reads more after it.
  // Returns whether at least `at_least` unread bytes are now buffered.
  bool fill_input(std::size_t at_least) {
    if (strm_.avail_in > 0) std::memmove(input_.data(), strm_.next_in, strm_.avail_in);
    strm_.next_in = input_.data();
    while (strm_.avail_in < at_least) {
      const std::size_t got = std::fread(input_.data() + strm_.avail_in, 1,
                                         input_.size() - strm_.avail_in, file_.get());
      if (std::ferror(file_.get())) throw Error(path_ + ": read failed: " + std::strerror(errno));
      if (got == 0) break;
      strm_.avail_in += static_cast<uInt>(got);
    }
    return strm_.avail_in >= at_least;
  }

  // Raw file: hand out what is buffered, then one bulk fread straight into `out`.
  std::size_t read_raw(std::uint8_t* out, std::size_t size) {
    std::size_t done = std::min<std::size_t>(size, strm_.avail_in);
    std::memcpy(out, strm_.next_in, done);
    strm_.next_in += done;
    strm_.avail_in -= static_cast<uInt>(done);
    if (done < size) {
      done += std::fread(out + done, 1, size - done, file_.get());
      if (std::ferror(file_.get())) throw Error(path_ + ": read failed: " + std::strerror(errno));
    }
    return done;
  }

  std::size_t read_gzip(std::uint8_t* out, std::size_t size) {
    std::size_t done = 0;
    while (done < size) {
      if (member_done_) {
        // RFC 1952 allows several gzip members back to back (gunzip joins them); anything
        // else after the end of a member is garbage.
        fill_input(2);
        if (strm_.avail_in == 0) return done;
        if (!starts_with_gzip_magic()) {
          garbage_ = strm_.avail_in;
          strm_.avail_in = 0;
          std::size_t got;
          while ((got = std::fread(input_.data(), 1, input_.size(), file_.get())) > 0)
            garbage_ += got;
          return done;
        }
        inflateReset(&strm_);
        member_done_ = false;
      }
      if (strm_.avail_in == 0 && !fill_input(1)) {
        truncated_ = true;
        return done;
      }
      const std::size_t chunk = std::min(size - done, kMaxReadChunk);
      strm_.next_out = out + done;
      strm_.avail_out = static_cast<uInt>(chunk);
      const int status = inflate(&strm_, Z_NO_FLUSH);
      done += chunk - strm_.avail_out;
      if (status == Z_STREAM_END) {
        member_done_ = true;
      } else if (status != Z_OK && !(status == Z_BUF_ERROR && strm_.avail_in == 0)) {
        // Z_BUF_ERROR with input left would mean no progress is possible: a broken stream.
        throw Error(path_ + ": expected valid gzip data, found " +
                    (strm_.msg != nullptr ? strm_.msg : "zlib error " + std::to_string(status)));
      }
    }
    return done;
  }

  std::string path_;
  std::unique_ptr<std::FILE, FileCloser> file_;
  std::vector<std::uint8_t> input_;  // (kInputChunk) bytes read ahead; strm_.next_in/avail_in
                                     // mark the unread part, in raw mode too
  z_stream strm_{};
  bool gzip_ = false;
  bool inflating_ = false;    // inflateInit2 succeeded, so inflateEnd is owed
  bool member_done_ = false;  // inflate reached the end of a gzip member
  bool truncated_ = false;    // the file ended inside a gzip member
  std::size_t garbage_ = 0;   // bytes after the last gzip member that are not gzip
};

// Suffix for length errors, so a cut .gz file says why its data ended early.
std::string problem_suffix(const ByteSource& file) {
  const std::string problem = file.stream_problem();
  return problem.empty() ? "" : " (" + problem + ")";
}

// Reads the magic and the `dims` int32 that follow it; checks the magic.
// Returns the dims as signed values, unchecked.
std::vector<std::int64_t> read_header(ByteSource& file, std::uint32_t magic, int dims,
                                      const char* kind) {
  const std::size_t header_bytes = 4 * (1 + static_cast<std::size_t>(dims));
  std::uint8_t header[16];
  std::size_t got = file.read(header, 4);
  if (got == 4) {
    const std::uint32_t found = big_endian_u32(header);
    if (found != magic) {
      throw Error(file.path() + ": expected magic " + hex32(magic) + ", found " + hex32(found));
    }
    got += file.read(header + 4, header_bytes - 4);
  }
  if (got < header_bytes) {
    throw Error(file.path() + ": expected an " + kind + " header of " +
                std::to_string(header_bytes) + " bytes, found " + std::to_string(got) +
                problem_suffix(file));
  }
  std::vector<std::int64_t> values;
  for (int i = 0; i < dims; ++i) values.push_back(big_endian_i32(header + 4 * (1 + i)));
  return values;
}

// Reads exactly `expected` bytes of body, then checks nothing follows and the stream is whole.
std::vector<std::uint8_t> read_body(ByteSource& file, std::size_t expected, const char* what) {
  std::vector<std::uint8_t> body;
  std::size_t have = 0;
  while (have < expected) {
    // Grow only as data actually arrives, so a corrupt header claiming terabytes ends in the
    // length error below, not in bad_alloc. Files under 64 MiB take one resize and one read.
    const std::size_t want = std::min(expected - have, std::max(have, kMaxReadChunk));
    body.resize(have + want);
    const std::size_t got = file.read(body.data() + have, want);
    have += got;
    if (got < want) break;
  }
  if (have < expected) {
    throw Error(file.path() + ": expected " + std::to_string(expected) + " bytes of " + what +
                ", found " + std::to_string(have) + problem_suffix(file));
  }
  const std::size_t extra = file.count_rest();
  if (extra > 0) {
    throw Error(file.path() + ": expected " + std::to_string(expected) + " bytes of " + what +
                ", found " + std::to_string(expected + extra) + " (" + std::to_string(extra) +
                " trailing bytes)");
  }
  // All bytes arrived, but a .gz cut inside its 8-byte CRC/length trailer, or followed by
  // junk, is still a broken file.
  const std::string problem = file.stream_problem();
  if (!problem.empty()) {
    throw Error(file.path() + ": expected a well-formed gzip file after the " +
                std::to_string(expected) + " bytes of " + what + ", found " + problem);
  }
  return body;
}

std::string find_data_file(const std::string& dir, const std::string& name) {
  namespace fs = std::filesystem;
  std::error_code ec;
  for (const std::string& candidate : {name + ".gz", name}) {
    const fs::path path = fs::path(dir) / candidate;
    if (fs::exists(path, ec)) return path.string();
  }
  throw Error("data directory '" + dir + "' has neither " + name + ".gz nor " + name +
              ": run launch/fetch-data.sh or pass --data-dir");
}

void check_fashion_pair(const IdxImages& images, const std::string& images_path,
                        const std::vector<std::uint8_t>& labels, const std::string& labels_path) {
  if (images.rows != kFashionSide || images.cols != kFashionSide) {
    throw Error(images_path + ": expected 28x28 images, found " + std::to_string(images.rows) +
                "x" + std::to_string(images.cols));
  }
  if (labels.size() != static_cast<std::size_t>(images.count)) {
    throw Error(labels_path + ": expected " + std::to_string(images.count) +
                " labels to match the " + std::to_string(images.count) + " images of " +
                images_path + ", found " + std::to_string(labels.size()));
  }
}

}  // namespace

IdxImages read_idx_images(const std::string& path) {
  ByteSource file(path);
  const std::vector<std::int64_t> dims = read_header(file, kImagesMagic, 3, "IDX3");
  const std::int64_t count = dims[0], rows = dims[1], cols = dims[2];
  if (count <= 0) {
    throw Error(path + ": expected a positive image count, found " + std::to_string(count));
  }
  if (rows <= 0 || rows > kMaxSide || cols <= 0 || cols > kMaxSide) {
    throw Error(path + ": expected rows and cols in 1..1024, found " + std::to_string(rows) + "x" +
                std::to_string(cols));
  }
  IdxImages images;
  images.count = static_cast<int>(count);
  images.rows = static_cast<int>(rows);
  images.cols = static_cast<int>(cols);
  // count < 2^31 and rows, cols <= 2^10, so the product fits easily in 64 bits.
  images.pixels = read_body(file, static_cast<std::size_t>(count * rows * cols), "pixels");
  return images;
}

std::vector<std::uint8_t> read_idx_labels(const std::string& path, int num_classes) {
  if (num_classes < 1 || num_classes > 256) {
    throw Error("read_idx_labels: expected num_classes in 1..256, found " +
                std::to_string(num_classes));
  }
  ByteSource file(path);
  const std::int64_t count = read_header(file, kLabelsMagic, 1, "IDX1")[0];
  if (count <= 0) {
    throw Error(path + ": expected a positive label count, found " + std::to_string(count));
  }
  std::vector<std::uint8_t> labels = read_body(file, static_cast<std::size_t>(count), "labels");
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] >= num_classes) {
      throw Error(path + ": expected labels < " + std::to_string(num_classes) + ", found " +
                  std::to_string(labels[i]) + " at index " + std::to_string(i));
    }
  }
  return labels;
}

FashionMnist load_fashion_mnist(const std::string& dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    throw Error("data directory '" + dir +
                "' not found: run launch/fetch-data.sh or pass --data-dir");
  }
  const std::string train_images = find_data_file(dir, "train-images-idx3-ubyte");
  const std::string train_labels = find_data_file(dir, "train-labels-idx1-ubyte");
  const std::string test_images = find_data_file(dir, "t10k-images-idx3-ubyte");
  const std::string test_labels = find_data_file(dir, "t10k-labels-idx1-ubyte");

  FashionMnist data;
  data.train_images = read_idx_images(train_images);
  data.train_labels = read_idx_labels(train_labels);
  check_fashion_pair(data.train_images, train_images, data.train_labels, train_labels);
  data.test_images = read_idx_images(test_images);
  data.test_labels = read_idx_labels(test_labels);
  check_fashion_pair(data.test_images, test_images, data.test_labels, test_labels);
  return data;
}

}  // namespace fmnist
