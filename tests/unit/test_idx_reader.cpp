// Tests of the IDX reader on tiny files the tests write themselves (gzip via zlib, and raw), so
// every expected byte and every number in an error message comes from the test, not the reader.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <zlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include "fmnist/core/error.h"
#include "fmnist/data/idx_reader.h"

namespace fmnist {
namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<std::uint8_t>;

constexpr std::uint32_t kImagesMagic = 0x00000803;
constexpr std::uint32_t kLabelsMagic = 0x00000801;

void append_be32(Bytes& out, std::uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<std::uint8_t>(value >> shift));
}

// An IDX3 file: magic, count, rows, cols (big-endian int32), then `pixels` as given.
Bytes idx3(std::uint32_t magic, std::uint32_t count, std::uint32_t rows, std::uint32_t cols,
           const Bytes& pixels) {
  Bytes out;
  for (std::uint32_t v : {magic, count, rows, cols}) append_be32(out, v);
  out.insert(out.end(), pixels.begin(), pixels.end());
  return out;
}

// An IDX1 file: magic, count, then `labels` as given.
Bytes idx1(std::uint32_t magic, std::uint32_t count, const Bytes& labels) {
  Bytes out;
  append_be32(out, magic);
  append_be32(out, count);
  out.insert(out.end(), labels.begin(), labels.end());
  return out;
}

// Pixels with distinct-looking values; `seed` makes different files differ.
Bytes pattern(std::size_t size, std::uint32_t seed = 1) {
  Bytes out(size);
  std::uint32_t state = seed;
  for (auto& byte : out) {
    state = state * 1664525u + 1013904223u;  // Numerical Recipes LCG: incompressible enough
    byte = static_cast<std::uint8_t>(state >> 24);
  }
  return out;
}

void write_raw(const fs::path& path, const Bytes& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("test could not write " + path.string());
}

void write_gz(const fs::path& path, const Bytes& bytes) {
  gzFile file = gzopen(path.c_str(), "wb");
  if (file == nullptr) throw std::runtime_error("test could not gzopen " + path.string());
  const int written = gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size()));
  if (gzclose(file) != Z_OK || written != static_cast<int>(bytes.size())) {
    throw std::runtime_error("test could not gzwrite " + path.string());
  }
}

Bytes read_raw(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Runs `call` and expects an fmnist::Error with a one-line message containing each of `parts`.
template <typename Call>
void expect_error(Call call, const std::vector<std::string>& parts) {
  try {
    call();
  } catch (const Error& error) {
    const std::string message = error.what();
    EXPECT_EQ(message.find('\n'), std::string::npos) << "not one line: " << message;
    for (const std::string& part : parts) {
      EXPECT_NE(message.find(part), std::string::npos)
          << "message: " << message << "\nshould contain: " << part;
    }
    return;
  }
  ADD_FAILURE() << "expected fmnist::Error, nothing was thrown";
}

class IdxReaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string templ = (fs::temp_directory_path() / "fmnist_idx_test_XXXXXX").string();
    ASSERT_NE(mkdtemp(templ.data()), nullptr);
    dir_ = templ;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  // The 3 images of 2x3 most tests use: 18 known pixel bytes.
  const Bytes pixels_ = pattern(3 * 2 * 3);
  fs::path dir_;
};

TEST_F(IdxReaderTest, RawImagesReadBackExactly) {
  write_raw(path("images"), idx3(kImagesMagic, 3, 2, 3, pixels_));
  const IdxImages images = read_idx_images(path("images"));
  EXPECT_EQ(images.count, 3);
  EXPECT_EQ(images.rows, 2);
  EXPECT_EQ(images.cols, 3);
  EXPECT_EQ(images.pixels, pixels_);
}

TEST_F(IdxReaderTest, GzipImagesReadBackExactly) {
  write_gz(path("images.gz"), idx3(kImagesMagic, 3, 2, 3, pixels_));
  const Bytes on_disk = read_raw(path("images.gz"));
  ASSERT_GE(on_disk.size(), 2u);
  ASSERT_EQ(on_disk[0], 0x1f);  // really gzip, so this test is not a second raw test
  ASSERT_EQ(on_disk[1], 0x8b);
  const IdxImages images = read_idx_images(path("images.gz"));
  EXPECT_EQ(images.count, 3);
  EXPECT_EQ(images.rows, 2);
  EXPECT_EQ(images.cols, 3);
  EXPECT_EQ(images.pixels, pixels_);
}

TEST_F(IdxReaderTest, DetectsGzipByContentNotByName) {
  write_gz(path("looks-raw"), idx3(kImagesMagic, 3, 2, 3, pixels_));
  write_raw(path("looks-gzip.gz"), idx3(kImagesMagic, 3, 2, 3, pixels_));
  EXPECT_EQ(read_idx_images(path("looks-raw")).pixels, pixels_);
  EXPECT_EQ(read_idx_images(path("looks-gzip.gz")).pixels, pixels_);
}

TEST_F(IdxReaderTest, LabelsReadBackExactlyRawAndGzip) {
  const Bytes labels = {0, 9, 3, 3, 7, 1};
  write_raw(path("labels"), idx1(kLabelsMagic, 6, labels));
  write_gz(path("labels.gz"), idx1(kLabelsMagic, 6, labels));
  EXPECT_EQ(read_idx_labels(path("labels")), labels);
  EXPECT_EQ(read_idx_labels(path("labels.gz")), labels);
}

TEST_F(IdxReaderTest, BadMagicNamesFileAndBothMagics) {
  write_gz(path("images.gz"), idx1(kLabelsMagic, 3, {1, 2, 3}));
  expect_error([&] { read_idx_images(path("images.gz")); },
               {path("images.gz"), "expected magic 0x00000803, found 0x00000801"});
  write_raw(path("labels"), idx3(kImagesMagic, 3, 2, 3, pixels_));
  expect_error([&] { read_idx_labels(path("labels")); },
               {path("labels"), "expected magic 0x00000801, found 0x00000803"});
}

TEST_F(IdxReaderTest, TruncatedRawBody) {
  const Bytes short_pixels(pixels_.begin(), pixels_.begin() + 11);
  write_raw(path("images"), idx3(kImagesMagic, 3, 2, 3, short_pixels));
  expect_error([&] { read_idx_images(path("images")); },
               {path("images"), "expected 18 bytes of pixels, found 11"});
}

TEST_F(IdxReaderTest, TruncatedHeader) {
  Bytes header = idx3(kImagesMagic, 3, 2, 3, {});
  header.resize(10);
  write_raw(path("images"), header);
  expect_error([&] { read_idx_images(path("images")); },
               {path("images"), "header of 16 bytes, found 10"});
}

TEST_F(IdxReaderTest, GzipCutInTheMiddle) {
  // 3 images of 20x20 noise: the deflate stream is about as long as the data, so half of the
  // compressed file still holds the whole header and part of the pixels.
  write_gz(path("full.gz"), idx3(kImagesMagic, 3, 20, 20, pattern(1200, 7)));
  const Bytes full = read_raw(path("full.gz"));
  ASSERT_GT(full.size(), 600u);
  write_raw(path("cut.gz"), Bytes(full.begin(), full.begin() + full.size() / 2));
  ASSERT_EQ(read_idx_images(path("full.gz")).pixels, pattern(1200, 7));
  expect_error([&] { read_idx_images(path("cut.gz")); },
               {path("cut.gz"), "expected 1200 bytes of pixels, found ", "truncated"});
}

TEST_F(IdxReaderTest, GzipCutInsideItsTrailer) {
  // All pixels decompress, only (part of) the 8-byte CRC/length trailer is cut: still a broken
  // file. zlib's gzread reports a clean end here once the body is big enough to be inflated
  // straight into the caller's buffer (750 KB case), so the reader must not rely on it.
  for (const int side : {2, 20, 500}) {
    const std::size_t size = 3u * side * side;
    write_gz(path("full.gz"), idx3(kImagesMagic, 3, side, side, pattern(size, 5)));
    const Bytes full = read_raw(path("full.gz"));
    for (const std::size_t cut : {1, 4, 8}) {
      SCOPED_TRACE("side " + std::to_string(side) + ", cut " + std::to_string(cut));
      write_raw(path("cut.gz"), Bytes(full.begin(), full.end() - cut));
      expect_error([&] { read_idx_images(path("cut.gz")); },
                   {path("cut.gz"), std::to_string(size) + " bytes of pixels", "truncated"});
    }
  }
}

TEST_F(IdxReaderTest, GzipFollowedByJunk) {
  write_gz(path("images.gz"), idx3(kImagesMagic, 3, 2, 3, pixels_));
  Bytes bytes = read_raw(path("images.gz"));
  bytes.insert(bytes.end(), {'j', 'u', 'n', 'k'});
  write_raw(path("images.gz"), bytes);
  expect_error([&] { read_idx_images(path("images.gz")); },
               {path("images.gz"), "4 bytes of non-gzip data"});
}

TEST_F(IdxReaderTest, CorruptGzipData) {
  // Flipping a byte of (stored, incompressible) deflate data breaks the CRC-32 check at least.
  write_gz(path("images.gz"), idx3(kImagesMagic, 3, 20, 20, pattern(1200, 9)));
  Bytes bytes = read_raw(path("images.gz"));
  bytes[bytes.size() / 2] ^= 0x40;
  write_raw(path("images.gz"), bytes);
  expect_error([&] { read_idx_images(path("images.gz")); },
               {path("images.gz"), "expected valid gzip data"});
}

TEST_F(IdxReaderTest, ConcatenatedGzipMembersReadAsOneFile) {
  // RFC 1952 allows several members back to back; gunzip joins them, so do we.
  const Bytes whole = idx3(kImagesMagic, 3, 2, 3, pixels_);
  write_gz(path("a.gz"), Bytes(whole.begin(), whole.begin() + 7));
  write_gz(path("b.gz"), Bytes(whole.begin() + 7, whole.end()));
  Bytes joined = read_raw(path("a.gz"));
  const Bytes second = read_raw(path("b.gz"));
  joined.insert(joined.end(), second.begin(), second.end());
  write_raw(path("joined.gz"), joined);
  EXPECT_EQ(read_idx_images(path("joined.gz")).pixels, pixels_);
}

TEST_F(IdxReaderTest, TrailingGarbageRawAndGzip) {
  Bytes long_pixels = pixels_;
  long_pixels.insert(long_pixels.end(), {0xde, 0xad, 0xbe, 0xef, 0x00});
  write_raw(path("images"), idx3(kImagesMagic, 3, 2, 3, long_pixels));
  write_gz(path("images.gz"), idx3(kImagesMagic, 3, 2, 3, long_pixels));
  for (const std::string name : {"images", "images.gz"}) {
    expect_error([&] { read_idx_images(path(name)); },
                 {path(name), "expected 18 bytes of pixels, found 23", "5 trailing bytes"});
  }
  write_raw(path("labels"), idx1(kLabelsMagic, 2, {1, 2, 3}));
  expect_error([&] { read_idx_labels(path("labels")); },
               {path("labels"), "expected 2 bytes of labels, found 3"});
}

TEST_F(IdxReaderTest, InsaneDimensions) {
  write_raw(path("tall"), idx3(kImagesMagic, 1, 2000, 3, {}));
  expect_error([&] { read_idx_images(path("tall")); }, {path("tall"), "1..1024", "2000x3"});
  write_raw(path("flat"), idx3(kImagesMagic, 1, 2, 0, {}));
  expect_error([&] { read_idx_images(path("flat")); }, {path("flat"), "2x0"});
  write_raw(path("empty"), idx3(kImagesMagic, 0, 2, 3, {}));
  expect_error([&] { read_idx_images(path("empty")); }, {path("empty"), "count, found 0"});
  write_raw(path("negative"), idx3(kImagesMagic, 0xffffffffu, 2, 3, {}));
  expect_error([&] { read_idx_images(path("negative")); }, {path("negative"), "found -1"});
}

TEST_F(IdxReaderTest, HugeCountInHeaderIsALengthErrorNotAnAllocation) {
  // 2^31-1 images of 1024x1024 would be 2 PB: the reader must report the short body.
  write_raw(path("images"), idx3(kImagesMagic, 0x7fffffffu, 1024, 1024, pixels_));
  expect_error([&] { read_idx_images(path("images")); },
               {path("images"), "expected 2251799812636672 bytes of pixels, found 18"});
}

TEST_F(IdxReaderTest, LabelOutOfRangeNamesIndexAndValue) {
  write_gz(path("labels.gz"), idx1(kLabelsMagic, 5, {1, 2, 0, 10, 3}));
  expect_error([&] { read_idx_labels(path("labels.gz")); },
               {path("labels.gz"), "expected labels < 10", "found 10 at index 3"});
  write_raw(path("few"), idx1(kLabelsMagic, 4, {0, 1, 2, 3}));
  EXPECT_EQ(read_idx_labels(path("few"), 4), (Bytes{0, 1, 2, 3}));
  expect_error([&] { read_idx_labels(path("few"), 3); },
               {path("few"), "expected labels < 3", "found 3 at index 3"});
}

TEST_F(IdxReaderTest, TruncatedLabels) {
  write_raw(path("labels"), idx1(kLabelsMagic, 7, {1, 2, 3}));
  expect_error([&] { read_idx_labels(path("labels")); },
               {path("labels"), "expected 7 bytes of labels, found 3"});
}

TEST_F(IdxReaderTest, MissingFile) {
  expect_error([&] { read_idx_images(path("absent.gz")); }, {path("absent.gz"), "no such file"});
  expect_error([&] { read_idx_labels(dir_.string()); }, {dir_.string(), "regular file"});
}

// A Fashion-MNIST-shaped folder: 28x28 images, `train`/`test` images with as many labels
// unless the label counts are given; train as .gz, test raw.
class FashionFolderTest : public IdxReaderTest {
 protected:
  void write_folder(std::uint32_t train, std::uint32_t test, std::uint32_t train_labels,
                    std::uint32_t test_labels) {
    train_pixels_ = pattern(train * 28 * 28, 11);
    test_pixels_ = pattern(test * 28 * 28, 12);
    train_labels_ = Bytes(train_labels);
    test_labels_ = Bytes(test_labels);
    for (std::uint32_t i = 0; i < train_labels; ++i)
      train_labels_[i] = static_cast<std::uint8_t>((i * 3) % 10);
    for (std::uint32_t i = 0; i < test_labels; ++i)
      test_labels_[i] = static_cast<std::uint8_t>((i * 7 + 1) % 10);
    write_gz(path("train-images-idx3-ubyte.gz"), idx3(kImagesMagic, train, 28, 28, train_pixels_));
    write_gz(path("train-labels-idx1-ubyte.gz"), idx1(kLabelsMagic, train_labels, train_labels_));
    write_raw(path("t10k-images-idx3-ubyte"), idx3(kImagesMagic, test, 28, 28, test_pixels_));
    write_raw(path("t10k-labels-idx1-ubyte"), idx1(kLabelsMagic, test_labels, test_labels_));
  }
  Bytes train_pixels_, test_pixels_, train_labels_, test_labels_;
};

TEST_F(FashionFolderTest, LoadsMixedGzipAndRawFolder) {
  write_folder(5, 4, 5, 4);
  const FashionMnist data = load_fashion_mnist(dir_.string());
  EXPECT_EQ(data.train_images.count, 5);
  EXPECT_EQ(data.train_images.rows, 28);
  EXPECT_EQ(data.train_images.cols, 28);
  EXPECT_EQ(data.train_images.pixels, train_pixels_);
  EXPECT_EQ(data.train_labels, train_labels_);
  EXPECT_EQ(data.test_images.count, 4);
  EXPECT_EQ(data.test_images.pixels, test_pixels_);
  EXPECT_EQ(data.test_labels, test_labels_);
}

TEST_F(FashionFolderTest, PrefersGzipWhenBothArePresent) {
  write_folder(5, 4, 5, 4);
  const Bytes other = {9, 9, 9, 9, 9};
  write_raw(path("train-labels-idx1-ubyte"), idx1(kLabelsMagic, 5, other));
  EXPECT_EQ(load_fashion_mnist(dir_.string()).train_labels, train_labels_);
  fs::remove(path("train-labels-idx1-ubyte.gz"));
  EXPECT_EQ(load_fashion_mnist(dir_.string()).train_labels, other);
}

TEST_F(FashionFolderTest, TrainCountMismatchNamesBothFilesAndCounts) {
  write_folder(5, 4, 6, 4);
  expect_error([&] { load_fashion_mnist(dir_.string()); },
               {path("train-images-idx3-ubyte.gz"), path("train-labels-idx1-ubyte.gz"),
                "expected 5 labels", "5 images", "found 6"});
}

TEST_F(FashionFolderTest, TestCountMismatchNamesBothFilesAndCounts) {
  write_folder(5, 4, 5, 3);
  expect_error([&] { load_fashion_mnist(dir_.string()); },
               {path("t10k-images-idx3-ubyte"), path("t10k-labels-idx1-ubyte"), "expected 4 labels",
                "4 images", "found 3"});
}

TEST_F(FashionFolderTest, RejectsImagesThatAreNot28x28) {
  write_folder(5, 4, 5, 4);
  write_raw(path("t10k-images-idx3-ubyte"), idx3(kImagesMagic, 3, 2, 3, pixels_));
  expect_error([&] { load_fashion_mnist(dir_.string()); },
               {path("t10k-images-idx3-ubyte"), "expected 28x28 images, found 2x3"});
}

TEST_F(FashionFolderTest, MissingDirectoryPointsAtFetchScript) {
  const std::string absent = path("no-such-dir");
  expect_error([&] { load_fashion_mnist(absent); },
               {"data directory '" + absent + "' not found", "launch/fetch-data.sh", "--data-dir"});
}

TEST_F(FashionFolderTest, MissingFileNamesIt) {
  write_folder(5, 4, 5, 4);
  fs::remove(path("t10k-labels-idx1-ubyte"));
  expect_error([&] { load_fashion_mnist(dir_.string()); },
               {dir_.string(), "t10k-labels-idx1-ubyte.gz", "launch/fetch-data.sh"});
}

}  // namespace
}  // namespace fmnist
