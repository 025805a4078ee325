// Augmentation (data/augment.h): the grammar, the draws, and the transforms against a naive
// implementation that pads the image with N zeros on every side and crops a window, mirrors
// by index, and erases by a coordinate test.
#include <gtest/gtest.h>

#include <set>
#include <vector>

#include "fmnist/core/error.h"
#include "fmnist/data/augment.h"

namespace fmnist {
namespace {

constexpr int kRows = 28, kCols = 28;

std::vector<float> test_image(int salt) {
  std::vector<float> image(kRows * kCols);
  for (int p = 0; p < kRows * kCols; ++p) image[p] = static_cast<float>((p * 7 + salt * 13) % 251 + 1);
  return image;
}

// Naive: flip by index, then zero-pad by `pad` and crop the window whose top-left corner is at
// (pad - dy, pad - dx) of the padded image, then zero the erased rectangle.
std::vector<float> naive_augment(const std::vector<float>& in, const AugmentDraw& d, int pad) {
  std::vector<float> flipped(in.size());
  for (int y = 0; y < kRows; ++y)
    for (int x = 0; x < kCols; ++x) flipped[y * kCols + x] = in[y * kCols + (d.flip ? kCols - 1 - x : x)];
  const int pr = kRows + 2 * pad, pc = kCols + 2 * pad;
  std::vector<float> padded(static_cast<std::size_t>(pr) * pc, 0.0f);
  for (int y = 0; y < kRows; ++y)
    for (int x = 0; x < kCols; ++x) padded[(y + pad) * pc + x + pad] = flipped[y * kCols + x];
  std::vector<float> out(in.size());
  for (int y = 0; y < kRows; ++y)
    for (int x = 0; x < kCols; ++x) out[y * kCols + x] = padded[(y + pad - d.dy) * pc + (x + pad - d.dx)];
  if (d.erase)
    for (int y = 0; y < kRows; ++y)
      for (int x = 0; x < kCols; ++x)
        if (y >= d.erase_y && y < d.erase_y + d.erase_h && x >= d.erase_x && x < d.erase_x + d.erase_w)
          out[y * kCols + x] = 0.0f;
  return out;
}

TEST(Augment, GrammarRoundTripsAndRejectsUnknownItems) {
  const AugmentOptions all = parse_augment("flip,shift2,erase");
  EXPECT_TRUE(all.flip);
  EXPECT_EQ(all.shift, 2);
  EXPECT_TRUE(all.erase);
  EXPECT_EQ(augment_text(all), "flip,shift2,erase");
  EXPECT_EQ(augment_text(parse_augment("erase,shift3")), "shift3,erase");
  EXPECT_FALSE(parse_augment("none").any());
  EXPECT_FALSE(parse_augment("").any());
  EXPECT_EQ(augment_text(parse_augment("none")), "none");
  for (const char* bad : {"rotate", "flip,", "shift", "shift0", "shift9", "shift-1", "flip,,erase", "Flip"}) {
    try {
      parse_augment(bad);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("--augment"), std::string::npos) << e.what();
    }
  }
}

TEST(Augment, TransformsEqualTheNaivePadCropFlipErase) {
  const AugmentOptions options = parse_augment("flip,shift3,erase");
  std::vector<float> scratch(kRows * kCols);
  int flips = 0, erases = 0, shifted = 0;
  for (int sample = 0; sample < 400; ++sample) {
    const AugmentDraw d = draw_augmentation(options, 5, 2, sample, kRows, kCols);
    ASSERT_GE(d.dy, -3);
    ASSERT_LE(d.dy, 3);
    ASSERT_GE(d.dx, -3);
    ASSERT_LE(d.dx, 3);
    if (d.erase) {
      ASSERT_GE(d.erase_y, 0);
      ASSERT_GE(d.erase_x, 0);
      ASSERT_LE(d.erase_y + d.erase_h, kRows);
      ASSERT_LE(d.erase_x + d.erase_w, kCols);
      const double area = static_cast<double>(d.erase_h) * d.erase_w / (kRows * kCols);
      EXPECT_GE(area, 0.015);  // 2% to 40%, up to rounding of the sides
      EXPECT_LE(area, 0.45);
    }
    flips += d.flip;
    erases += d.erase;
    shifted += d.dy != 0 || d.dx != 0;
    std::vector<float> image = test_image(sample);
    const std::vector<float> expected = naive_augment(image, d, 3);
    apply_augmentation(d, kRows, kCols, image.data(), scratch.data());
    ASSERT_EQ(image, expected) << "sample " << sample;
  }
  // About half flipped and erased, almost all shifted (6/7 per axis... 1 - 1/49 overall).
  EXPECT_GT(flips, 150);
  EXPECT_LT(flips, 250);
  EXPECT_GT(erases, 150);
  EXPECT_LT(erases, 250);
  EXPECT_GT(shifted, 370);
}

TEST(Augment, ShiftsCoverTheWholeRangeAndOffMeansIdentity) {
  std::set<std::pair<int, int>> seen;
  const AugmentOptions shift = parse_augment("shift2");
  for (int sample = 0; sample < 500; ++sample) {
    const AugmentDraw d = draw_augmentation(shift, 1, 0, sample, kRows, kCols);
    EXPECT_FALSE(d.flip);
    EXPECT_FALSE(d.erase);
    seen.insert({d.dy, d.dx});
  }
  EXPECT_EQ(seen.size(), 25u);  // every (dy, dx) in [-2, 2]^2

  const AugmentOptions off;
  std::vector<float> scratch(kRows * kCols);
  for (int sample = 0; sample < 20; ++sample) {
    std::vector<float> image = test_image(sample);
    const std::vector<float> original = image;
    const AugmentDraw d = draw_augmentation(off, 1, 0, sample, kRows, kCols);
    apply_augmentation(d, kRows, kCols, image.data(), scratch.data());
    EXPECT_EQ(image, original);
  }
}

// A sample's augmentation depends on (seed, epoch, sample index) only: not on its position in
// the batch nor on how the batch is cut into rank shares.
TEST(Augment, BatchResultDoesNotDependOnShardingOrPosition) {
  const AugmentOptions options = parse_augment("flip,shift2,erase");
  const std::vector<std::int32_t> ids = {17, 3, 40000, 8, 9, 123, 5, 77, 54999, 0};
  const int n = static_cast<int>(ids.size());
  auto batch_of = [&](const std::vector<std::int32_t>& which) {
    Tensor images(Shape{static_cast<int>(which.size()), 1, kRows, kCols});
    for (std::size_t i = 0; i < which.size(); ++i) {
      const std::vector<float> image = test_image(which[i]);
      std::copy(image.begin(), image.end(), images.data() + i * kRows * kCols);
    }
    return images;
  };
  Augmenter augmenter(options, kRows, kCols);
  Tensor whole = batch_of(ids);
  augmenter.apply(9, 4, ids.data(), whole);
  for (int cut : {1, 3, 7}) {
    const std::vector<std::int32_t> first(ids.begin(), ids.begin() + cut), second(ids.begin() + cut, ids.end());
    Tensor a = batch_of(first), b = batch_of(second);
    augmenter.apply(9, 4, first.data(), a);
    augmenter.apply(9, 4, second.data(), b);
    for (int i = 0; i < n; ++i) {
      const float* got = i < cut ? a.data() + i * kRows * kCols : b.data() + (i - cut) * kRows * kCols;
      ASSERT_TRUE(std::equal(got, got + kRows * kCols, whole.data() + i * kRows * kCols)) << "cut " << cut << " sample " << i;
    }
  }
  // Another epoch draws anew.
  Tensor next_epoch = batch_of(ids);
  augmenter.apply(9, 5, ids.data(), next_epoch);
  EXPECT_FALSE(std::equal(next_epoch.data(), next_epoch.data() + next_epoch.numel(), whole.data()));
}

}  // namespace
}  // namespace fmnist
