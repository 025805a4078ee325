// Everything a training run is configured with; filled by the CLI (app/cli.cpp), saved in
// checkpoints as 'key = value' text.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "fmnist/data/augment.h"
#include "fmnist/optim/optimizer.h"
#include "fmnist/train/early_stopping.h"
#include "fmnist/train/lr_schedule.h"
#include "fmnist/train/monitor.h"

namespace fmnist {

struct TrainConfig {
  std::string model = "mlp";             // preset name or spec (nn/model_spec.h)
  int epochs = 5;                        // total epochs, as Keras' epochs (resume continues to it)
  int batch_size = 32;                   // GLOBAL batch, split across ranks
  OptimizerOptions optimizer;
  std::uint64_t seed = 42;
  int validation_split = 5000;           // first N training images held out; 0 = none
  bool normalize = true;                 // pixels / 255
  std::string data_dir = "data/fashion-mnist";
  std::string output_dir;                // empty: results/runs/<timestamp>
  std::int64_t max_steps = 0;            // 0 = no limit
  int threads = 0;                       // BLAS threads per rank; 0 = cores per node / ranks per node
  int check_replicas = 0;                // compare parameter checksums every N steps; 0 = never
  int checkpoint_every = 0;              // extra checkpoints every N steps; 0 = end of epoch only
  int keep_checkpoints = 3;
  std::string resume;                    // "", a checkpoint path, or "auto"
  double bucket_mb = 0.25;               // gradient allreduce bucket size (measured: results/README.md)
  AugmentOptions augment;                // training batches only; off by default
  float label_smoothing = 0.0f;          // Keras' label_smoothing: y = onehot * (1 - ls) + ls / classes
  LrScheduleOptions schedule;            // the rate of each step from --lr (the base rate)
  EarlyStoppingOptions early_stopping;
  bool best_checkpoint = false;          // keep checkpoints/best.h5 by best_checkpoint_monitor
  Monitor best_checkpoint_monitor{"val_loss", MonitorMode::kAuto, 0.0};
  double stall_warning = 60;             // seconds a step's collective may wait before rank 0 warns; 0 = never
  double stall_timeout = 300;            // seconds before the job ends with kExitStalled; 0 = never
};

/// The options that change what a run trains (beyond the sample order), as config-text keys:
/// a resumed run must have the same values.
const std::vector<std::string>& training_option_keys();

/// 'key = value' lines, one per option, in the --config file syntax.
std::string config_to_text(const TrainConfig& config);

/// The inverse, as text: key -> value for every 'key = value' line (as saved in checkpoints).
std::map<std::string, std::string> parse_config_text(const std::string& text);

}  // namespace fmnist
