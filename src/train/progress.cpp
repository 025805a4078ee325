// Keras' progress format: "1875/1875 [====] - 5s 2ms/step - loss: 0.4970 - accuracy: 0.8251".
#include "fmnist/train/progress.h"

#include <cmath>
#include <cstdio>

namespace fmnist {
namespace {

std::string metrics_text(double loss, double accuracy) {
  char buffer[96];
  std::snprintf(buffer, sizeof(buffer), " - loss: %.4f - accuracy: %.4f", loss, accuracy);
  return buffer;
}

std::string timing_text(std::int64_t steps, double seconds) {
  char buffer[64];
  const double per_step = steps > 0 ? seconds / static_cast<double>(steps) : 0.0;
  if (per_step >= 1.0)
    std::snprintf(buffer, sizeof(buffer), " - %.0fs %.0fs/step", seconds, per_step);
  else if (per_step >= 1e-3)
    std::snprintf(buffer, sizeof(buffer), " - %.0fs %.0fms/step", seconds, per_step * 1e3);
  else
    std::snprintf(buffer, sizeof(buffer), " - %.0fs %.0fus/step", seconds, per_step * 1e6);
  return buffer;
}

}  // namespace

std::string progress_bar(std::int64_t done, std::int64_t total) {
  constexpr int kWidth = 30;
  const int filled = total > 0 ? static_cast<int>(kWidth * done / total) : kWidth;
  std::string bar(static_cast<std::size_t>(filled), '=');
  if (filled < kWidth) {
    if (filled > 0) bar.back() = '>';
    bar += std::string(static_cast<std::size_t>(kWidth - filled), '.');
  }
  return "[" + bar + "]";
}

void Progress::epoch_begin(int epoch, int epochs) {
  out_ << "Epoch " << epoch << "/" << epochs << "\n" << std::flush;
  last_draw_ = -1.0;
}

void Progress::step(std::int64_t step, std::int64_t total_steps, double elapsed_seconds, double loss,
                    double accuracy) {
  if (!live_ || (elapsed_seconds - last_draw_ < 0.1 && step < total_steps)) return;
  last_draw_ = elapsed_seconds;
  out_ << "\r" << step << "/" << total_steps << " " << progress_bar(step, total_steps)
       << timing_text(step, elapsed_seconds) << metrics_text(loss, accuracy) << "\x1b[K" << std::flush;
}

void Progress::epoch_end(const EpochReport& r) {
  if (live_) out_ << "\r";
  out_ << r.steps << "/" << r.total_steps << " " << progress_bar(r.steps, r.total_steps)
       << timing_text(r.steps, r.seconds) << metrics_text(r.loss, r.accuracy);
  char buffer[128];
  if (r.has_validation) {
    std::snprintf(buffer, sizeof(buffer), " - val_loss: %.4f - val_accuracy: %.4f", r.val_loss, r.val_accuracy);
    out_ << buffer;
  }
  std::snprintf(buffer, sizeof(buffer), " - %.0f samples/s", r.samples_per_second);
  out_ << buffer << (live_ ? "\x1b[K" : "") << "\n" << std::flush;
}

}  // namespace fmnist
