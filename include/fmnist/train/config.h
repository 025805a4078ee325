// Everything a training run is configured with; filled by the CLI (app/cli.cpp), saved in
// checkpoints as 'key = value' text.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "fmnist/optim/optimizer.h"

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
  double stall_warning = 60;             // seconds a step's collective may wait before rank 0 warns; 0 = never
  double stall_timeout = 300;            // seconds before the job ends with kExitStalled; 0 = never
};

/// 'key = value' lines, one per option, in the --config file syntax.
std::string config_to_text(const TrainConfig& config);

/// The inverse, as text: key -> value for every 'key = value' line (as saved in checkpoints).
std::map<std::string, std::string> parse_config_text(const std::string& text);

}  // namespace fmnist
