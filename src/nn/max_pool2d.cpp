// MaxPool2D: forward records which input pixel won each window; backward routes the
// gradient there (windows may overlap when stride < pool, so it accumulates).
#include "fmnist/nn/max_pool2d.h"

#include <cstring>

#include "fmnist/core/error.h"

namespace fmnist {

std::string MaxPool2D::spec() const {
  return "pool" + std::to_string(pool_) + (stride_ != pool_ ? "s" + std::to_string(stride_) : "");
}

Shape MaxPool2D::output_shape(const Shape& in) const {
  if (in.h < pool_ || in.w < pool_)
    throw Error("layer " + spec() + ": pool size " + std::to_string(pool_) + " is larger than its input " +
                std::to_string(in.h) + "x" + std::to_string(in.w));
  return Shape{in.n, in.c, (in.h - pool_) / stride_ + 1, (in.w - pool_) / stride_ + 1};
}

void MaxPool2D::setup(const Shape& in, int max_batch) {
  argmax_.assign(output_shape(in).with_batch(max_batch).numel(), 0);
}

void MaxPool2D::forward(const Tensor& x, Tensor& y, const ForwardContext& /*ctx*/) {
  const Shape& s = x.shape();
  const Shape o = y.shape();
  const int planes = s.n * s.c;
  for (int p = 0; p < planes; ++p) {
    const float* in = x.data() + static_cast<std::size_t>(p) * s.h * s.w;
    float* out = y.data() + static_cast<std::size_t>(p) * o.h * o.w;
    std::int32_t* arg = argmax_.data() + static_cast<std::size_t>(p) * o.h * o.w;
    for (int oh = 0; oh < o.h; ++oh) {
      for (int ow = 0; ow < o.w; ++ow) {
        int best = oh * stride_ * s.w + ow * stride_;
        float best_value = in[best];
        for (int kh = 0; kh < pool_; ++kh) {
          const int row = (oh * stride_ + kh) * s.w + ow * stride_;
          for (int kw = 0; kw < pool_; ++kw) {
            if (in[row + kw] > best_value) {
              best_value = in[row + kw];
              best = row + kw;
            }
          }
        }
        out[oh * o.w + ow] = best_value;
        arg[oh * o.w + ow] = best;
      }
    }
  }
}

void MaxPool2D::backward(const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) {
  if (!dx) return;
  const Shape& s = x.shape();
  const std::size_t out_plane = static_cast<std::size_t>(y.shape().h) * y.shape().w;
  const std::size_t in_plane = static_cast<std::size_t>(s.h) * s.w;
  std::memset(dx->data(), 0, sizeof(float) * x.numel());
  const int planes = s.n * s.c;
  for (int p = 0; p < planes; ++p) {
    const float* g = dy.data() + p * out_plane;
    const std::int32_t* arg = argmax_.data() + p * out_plane;
    float* d = dx->data() + p * in_plane;
    for (std::size_t i = 0; i < out_plane; ++i) d[arg[i]] += g[i];
  }
}

}  // namespace fmnist
