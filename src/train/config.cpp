// TrainConfig as text, in the same 'key = value' syntax that --config files use.
#include "fmnist/train/config.h"

#include <sstream>

namespace fmnist {

std::string config_to_text(const TrainConfig& c) {
  std::ostringstream out;
  out.precision(9);
  out << "model = " << c.model << "\n"
      << "epochs = " << c.epochs << "\n"
      << "batch-size = " << c.batch_size << "\n"
      << "optimizer = " << optimizer_kind_name(c.optimizer.kind) << "\n"
      << "lr = " << c.optimizer.learning_rate << "\n"
      << "momentum = " << c.optimizer.momentum << "\n"
      << "nesterov = " << (c.optimizer.nesterov ? "true" : "false") << "\n"
      << "weight-decay = " << c.optimizer.weight_decay << "\n"
      << "seed = " << c.seed << "\n"
      << "validation-split = " << c.validation_split << "\n"
      << "no-normalize = " << (c.normalize ? "false" : "true") << "\n"
      << "data-dir = " << c.data_dir << "\n"
      << "output-dir = " << c.output_dir << "\n"
      << "max-steps = " << c.max_steps << "\n"
      << "threads = " << c.threads << "\n"
      << "check-replicas = " << c.check_replicas << "\n"
      << "checkpoint-every = " << c.checkpoint_every << "\n"
      << "keep-checkpoints = " << c.keep_checkpoints << "\n"
      << "bucket-mb = " << c.bucket_mb << "\n"
      << "stall-warning = " << c.stall_warning << "\n"
      << "stall-timeout = " << c.stall_timeout << "\n";
  return out.str();
}

std::map<std::string, std::string> parse_config_text(const std::string& text) {
  std::map<std::string, std::string> values;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    const std::size_t eq = line.find(" = ");
    if (eq != std::string::npos) values[line.substr(0, eq)] = line.substr(eq + 3);
  }
  return values;
}

}  // namespace fmnist
