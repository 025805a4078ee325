// Reading the IDX files of Fashion-MNIST (gzip-compressed or raw) into memory, with every
// header field, the body length and the labels checked against what the format promises.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace fmnist {

/// Images as stored in the file: (count, rows, cols) uint8, row-major, one image after another.
struct IdxImages {
  int count = 0;
  int rows = 0;
  int cols = 0;
  std::vector<std::uint8_t> pixels;  // (count, rows, cols)
};

/// Reads an IDX3 image file (magic 0x00000803), gzip-compressed or raw (detected by content:
/// gzip magic 1f 8b, not by file name).
/// Throws fmnist::Error naming `path` when the file cannot be opened, the magic is wrong, a
/// dimension is not positive or rows/cols exceed 1024, the body is shorter or longer than
/// count*rows*cols bytes, or the gzip stream is corrupt or truncated.
IdxImages read_idx_images(const std::string& path);

/// Reads an IDX1 label file (magic 0x00000801); every label must be < num_classes.
/// Returns (count) labels. Throws fmnist::Error naming `path` on the same problems as
/// read_idx_images, and on the first label out of range (with its index and value).
std::vector<std::uint8_t> read_idx_labels(const std::string& path, int num_classes = 10);

/// The four files of Fashion-MNIST.
struct FashionMnist {
  IdxImages train_images;                  // (60000, 28, 28) for the genuine files
  std::vector<std::uint8_t> train_labels;  // (60000)
  IdxImages test_images;                   // (10000, 28, 28)
  std::vector<std::uint8_t> test_labels;   // (10000)
};

/// Loads train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz,
/// t10k-labels-idx1-ubyte.gz from `dir` (each may also be present uncompressed, without the
/// .gz suffix; prefer .gz). Checks images are 28x28 and image/label counts match.
/// Throws fmnist::Error when `dir` or one of the files is missing, on any error of the
/// readers, on other image sizes and on a count mismatch (naming both files and counts).
FashionMnist load_fashion_mnist(const std::string& dir);

}  // namespace fmnist
