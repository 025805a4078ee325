// Tests of the in-memory splits and the batch gather (data/dataset.h) on a tiny hand-made
// Fashion-MNIST, where every pixel value is a known function of (image, pixel).
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "fmnist/core/error.h"
#include "fmnist/core/tensor.h"
#include "fmnist/data/dataset.h"
#include "fmnist/data/idx_reader.h"

namespace fmnist {
namespace {

constexpr int kRows = 3, kCols = 2;

std::uint8_t pixel_value(int image, int pixel, int salt) {
  return static_cast<std::uint8_t>((image * 37 + pixel * 11 + salt) % 256);
}

IdxImages make_images(int count, int salt) {
  IdxImages images;
  images.count = count;
  images.rows = kRows;
  images.cols = kCols;
  for (int i = 0; i < count; ++i)
    for (int p = 0; p < kRows * kCols; ++p) images.pixels.push_back(pixel_value(i, p, salt));
  return images;
}

FashionMnist make_data() {
  FashionMnist data;
  data.train_images = make_images(9, 0);
  data.test_images = make_images(4, 100);
  for (int i = 0; i < 9; ++i) data.train_labels.push_back(static_cast<std::uint8_t>((i * 3) % 10));
  for (int i = 0; i < 4; ++i) data.test_labels.push_back(static_cast<std::uint8_t>(9 - i));
  return data;
}

TEST(Splits, HoldsOutTheFirstImages) {
  const FashionMnist data = make_data();
  const DataSplits s = make_splits(data, 4);
  ASSERT_EQ(s.validation.count, 4);
  ASSERT_EQ(s.train.count, 5);
  ASSERT_EQ(s.test.count, 4);
  for (const Dataset* d : {&s.validation, &s.train, &s.test}) {
    EXPECT_EQ(d->rows, kRows);
    EXPECT_EQ(d->cols, kCols);
    EXPECT_EQ(d->pixels.size(), static_cast<std::size_t>(d->count) * kRows * kCols);
    EXPECT_EQ(d->labels.size(), static_cast<std::size_t>(d->count));
  }
  for (int i = 0; i < 4; ++i) {  // validation = training images 0..3
    EXPECT_EQ(s.validation.labels[i], (i * 3) % 10);
    for (int p = 0; p < kRows * kCols; ++p)
      EXPECT_EQ(s.validation.pixels[i * kRows * kCols + p], pixel_value(i, p, 0));
  }
  for (int i = 0; i < 5; ++i) {  // train = training images 4..8
    EXPECT_EQ(s.train.labels[i], ((i + 4) * 3) % 10);
    for (int p = 0; p < kRows * kCols; ++p)
      EXPECT_EQ(s.train.pixels[i * kRows * kCols + p], pixel_value(i + 4, p, 0));
  }
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(s.test.labels[i], 9 - i);
    for (int p = 0; p < kRows * kCols; ++p)
      EXPECT_EQ(s.test.pixels[i * kRows * kCols + p], pixel_value(i, p, 100));
  }
}

TEST(Splits, ZeroMeansNoValidationAndTooManyThrows) {
  const FashionMnist data = make_data();
  const DataSplits s = make_splits(data, 0);
  EXPECT_EQ(s.validation.count, 0);
  EXPECT_EQ(s.train.count, 9);
  EXPECT_EQ(s.train.pixels, data.train_images.pixels);
  EXPECT_THROW(make_splits(data, 9), Error);  // no training images left
  EXPECT_THROW(make_splits(data, -1), Error);
}

TEST(GatherBatch, PicksSamplesAndScales) {
  const FashionMnist data = make_data();
  const DataSplits s = make_splits(data, 2);  // train = images 2..8
  const std::vector<std::int32_t> ids = {6, 0, 3, 3};
  const int n = static_cast<int>(ids.size());
  Tensor images(Shape{6, 1, kRows, kCols});  // capacity for more than n
  for (bool normalize : {true, false}) {
    std::vector<std::int32_t> labels(n, -1);
    gather_batch(s.train, ids.data(), n, normalize, images, labels.data());
    EXPECT_EQ(images.shape().n, n);
    EXPECT_EQ(images.shape().c, 1);
    EXPECT_EQ(images.shape().h, kRows);
    EXPECT_EQ(images.shape().w, kCols);
    for (int i = 0; i < n; ++i) {
      const int source = ids[i] + 2;  // index into the original training images
      EXPECT_EQ(labels[i], (source * 3) % 10) << "sample " << i;
      for (int p = 0; p < kRows * kCols; ++p) {
        const float raw = pixel_value(source, p, 0);
        const float got = images[static_cast<std::size_t>(i) * kRows * kCols + p];
        if (normalize) {
          EXPECT_FLOAT_EQ(got, raw / 255.0f) << "sample " << i << " pixel " << p;
          EXPECT_LE(got, 1.0f);
          EXPECT_GE(got, 0.0f);
        } else {
          EXPECT_EQ(got, raw) << "sample " << i << " pixel " << p;
        }
      }
    }
  }
  // 255 maps to exactly 1 when normalised.
  Dataset white;
  white.count = 1;
  white.rows = 1;
  white.cols = 2;
  white.pixels = {255, 0};
  white.labels = {5};
  Tensor one(Shape{1, 1, 1, 2});
  std::int32_t id = 0, label = -1;
  gather_batch(white, &id, 1, true, one, &label);
  EXPECT_FLOAT_EQ(one[0], 1.0f);
  EXPECT_EQ(one[1], 0.0f);
  EXPECT_EQ(label, 5);
}

}  // namespace
}  // namespace fmnist
