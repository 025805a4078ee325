// Training-set augmentation applied to a gathered batch: random horizontal flip, random
// translation (zero-pad by N and crop, as torchvision's RandomCrop(padding=N)) and random
// erasing (Zhong et al. 2017). Every draw is a pure function of (seed, epoch, global sample
// index), so a sample is augmented the same way on any rank and after any resume.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "fmnist/core/tensor.h"

namespace fmnist {

/// Which transforms are on. Grammar of --augment: a comma-separated list of `flip`,
/// `shift<N>` (N = 1..8 pixels) and `erase`, or `none`; e.g. "flip,shift2,erase".
struct AugmentOptions {
  bool flip = false;  // mirror left-right with probability 1/2
  int shift = 0;      // translate by dy, dx uniform in [-shift, shift], zeros fill
  bool erase = false; // with probability 1/2, a rectangle of 2-40% of the area (aspect 0.3-3.3) set to 0
  bool any() const { return flip || shift > 0 || erase; }
};

/// Parses the --augment grammar; throws Error naming --augment, the bad item and the valid forms.
AugmentOptions parse_augment(const std::string& text);
/// The canonical text ("none", or the items in the order flip, shift<N>, erase).
std::string augment_text(const AugmentOptions& options);

/// The random choices for one sample: what to do to it, drawn from (seed, epoch, sample).
struct AugmentDraw {
  bool flip = false;
  int dy = 0, dx = 0;                                      // output (y, x) = input (y - dy, x - dx)
  bool erase = false;
  int erase_y = 0, erase_x = 0, erase_h = 0, erase_w = 0;  // rectangle set to zero
};

/// The choices for sample `sample` of epoch `epoch` on images of rows x cols.
AugmentDraw draw_augmentation(const AugmentOptions& options, std::uint64_t seed, std::int64_t epoch,
                              std::int32_t sample, int rows, int cols);

/// Applies one sample's draw to the grey image `image` (rows, cols) in place; `scratch` holds
/// at least rows * cols floats (the translation reads from a copy).
void apply_augmentation(const AugmentDraw& draw, int rows, int cols, float* image, float* scratch);

/// Augments a gathered training batch in place: images (n, rows, cols, 1), sample i being
/// global index ids[i]. Allocates nothing after construction.
class Augmenter {
 public:
  Augmenter(const AugmentOptions& options, int rows, int cols);
  void apply(std::uint64_t seed, std::int64_t epoch, const std::int32_t* ids, Tensor& images);
  const AugmentOptions& options() const { return options_; }

 private:
  AugmentOptions options_;
  int rows_, cols_;
  std::vector<float> scratch_;  // (rows * cols) one image, the source of a translation
};

}  // namespace fmnist
