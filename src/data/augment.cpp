// Augmentation draws and transforms (see augment.h). One counter-based generator per sample,
// seeded from hash(seed, epoch, "AUGMENT", sample): no state carries from one step to the next.
#include "fmnist/data/augment.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <sstream>

#include "fmnist/core/error.h"
#include "fmnist/core/rng.h"

namespace fmnist {
namespace {

constexpr std::uint64_t kAugmentStream = 0x4155474D454E54ull;  // "AUGMENT"
constexpr int kMaxShift = 8;
// Random erasing as torchvision.transforms.RandomErasing's defaults: p 0.5, scale (0.02, 0.33
// there; 0.4 in the paper, used here), ratio (0.3, 3.3), value 0, up to 10 tries for a box that fits.
constexpr float kEraseMinArea = 0.02f, kEraseMaxArea = 0.4f, kEraseMinRatio = 0.3f, kEraseMaxRatio = 3.3f;
constexpr int kEraseAttempts = 10;

[[noreturn]] void bad_item(const std::string& text, const std::string& item) {
  throw Error("--augment: unknown augmentation '" + item + "' in '" + text +
              "'; expected a comma-separated list of flip, shift<N> (N = 1.." + std::to_string(kMaxShift) +
              "), erase, or none");
}

}  // namespace

AugmentOptions parse_augment(const std::string& text) {
  AugmentOptions options;
  if (text.empty() || text == "none") return options;
  std::istringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (item == "flip") {
      options.flip = true;
    } else if (item == "erase") {
      options.erase = true;
    } else if (item.rfind("shift", 0) == 0 && item.size() > 5 &&
               item.find_first_not_of("0123456789", 5) == std::string::npos && item.size() <= 7) {
      const int n = std::stoi(item.substr(5));
      if (n < 1 || n > kMaxShift) bad_item(text, item);
      options.shift = n;
    } else {
      bad_item(text, item);
    }
  }
  if (text.back() == ',') bad_item(text, "");
  return options;
}

std::string augment_text(const AugmentOptions& options) {
  std::string text;
  if (options.flip) text += "flip";
  if (options.shift > 0) text += (text.empty() ? "" : ",") + std::string("shift") + std::to_string(options.shift);
  if (options.erase) text += (text.empty() ? "" : ",") + std::string("erase");
  return text.empty() ? "none" : text;
}

AugmentDraw draw_augmentation(const AugmentOptions& options, std::uint64_t seed, std::int64_t epoch,
                              std::int32_t sample, int rows, int cols) {
  Rng rng(hash_of({seed, static_cast<std::uint64_t>(epoch), kAugmentStream, static_cast<std::uint64_t>(sample)}));
  AugmentDraw d;
  // Every draw is made whether or not its transform is on, so turning one on does not change
  // the others' choices.
  const bool flip = (rng.next() >> 63) != 0;
  const int span = 2 * options.shift + 1;
  const int dy = static_cast<int>(rng.below(static_cast<std::uint64_t>(span))) - options.shift;
  const int dx = static_cast<int>(rng.below(static_cast<std::uint64_t>(span))) - options.shift;
  d.flip = options.flip && flip;
  d.dy = dy;
  d.dx = dx;
  const bool erase = (rng.next() >> 63) != 0;
  if (!options.erase || !erase) return d;
  const float area = static_cast<float>(rows) * static_cast<float>(cols);
  for (int attempt = 0; attempt < kEraseAttempts; ++attempt) {
    const float target = area * rng.uniform(kEraseMinArea, kEraseMaxArea);
    const float ratio = std::exp(rng.uniform(std::log(kEraseMinRatio), std::log(kEraseMaxRatio)));
    const int h = static_cast<int>(std::lround(std::sqrt(target * ratio)));
    const int w = static_cast<int>(std::lround(std::sqrt(target / ratio)));
    if (h < 1 || w < 1 || h >= rows || w >= cols) continue;
    d.erase = true;
    d.erase_h = h;
    d.erase_w = w;
    d.erase_y = static_cast<int>(rng.below(static_cast<std::uint64_t>(rows - h + 1)));
    d.erase_x = static_cast<int>(rng.below(static_cast<std::uint64_t>(cols - w + 1)));
    break;
  }
  return d;
}

void apply_augmentation(const AugmentDraw& d, int rows, int cols, float* image, float* scratch) {
  if (d.flip)
    for (int y = 0; y < rows; ++y) std::reverse(image + y * cols, image + (y + 1) * cols);
  if (d.dy != 0 || d.dx != 0) {
    std::memcpy(scratch, image, sizeof(float) * static_cast<std::size_t>(rows) * cols);
    for (int y = 0; y < rows; ++y) {
      const int sy = y - d.dy;
      for (int x = 0; x < cols; ++x) {
        const int sx = x - d.dx;
        image[y * cols + x] = (sy >= 0 && sy < rows && sx >= 0 && sx < cols) ? scratch[sy * cols + sx] : 0.0f;
      }
    }
  }
  if (d.erase)
    for (int y = d.erase_y; y < d.erase_y + d.erase_h; ++y)
      std::fill(image + y * cols + d.erase_x, image + y * cols + d.erase_x + d.erase_w, 0.0f);
}

Augmenter::Augmenter(const AugmentOptions& options, int rows, int cols)
    : options_(options), rows_(rows), cols_(cols), scratch_(static_cast<std::size_t>(rows) * cols, 0.0f) {}

void Augmenter::apply(std::uint64_t seed, std::int64_t epoch, const std::int32_t* ids, Tensor& images) {
  if (!options_.any()) return;
  const std::size_t image = static_cast<std::size_t>(rows_) * cols_;
  for (int i = 0; i < images.shape().n; ++i) {
    const AugmentDraw d = draw_augmentation(options_, seed, epoch, ids[i], rows_, cols_);
    apply_augmentation(d, rows_, cols_, images.data() + static_cast<std::size_t>(i) * image, scratch_.data());
  }
}

}  // namespace fmnist
