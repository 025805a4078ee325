// Keras-style progress on rank 0: "Epoch 1/5", a live bar when stdout is a terminal, and
// one summary line per epoch.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>

namespace fmnist {

/// What an epoch line shows; validation fields are skipped when has_validation is false.
struct EpochReport {
  std::int64_t steps = 0, total_steps = 0;
  double seconds = 0.0;
  double loss = 0.0, accuracy = 0.0;
  bool has_validation = false;
  double val_loss = 0.0, val_accuracy = 0.0;
  double samples_per_second = 0.0;
};

class Progress {
 public:
  /// `live`: redraw a bar in place (stdout is a terminal); otherwise print only whole lines.
  Progress(std::ostream& out, bool live) : out_(out), live_(live) {}

  void epoch_begin(int epoch, int epochs);
  /// Called every step; redraws at most every 0.1 s and only when live.
  void step(std::int64_t step, std::int64_t total_steps, double elapsed_seconds, double loss, double accuracy);
  void epoch_end(const EpochReport& report);

 private:
  std::ostream& out_;
  bool live_;
  double last_draw_ = -1.0;
};

/// "[=========>....................]" for done/total, 30 characters inside the brackets.
std::string progress_bar(std::int64_t done, std::int64_t total);

}  // namespace fmnist
