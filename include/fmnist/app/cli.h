// The command line (Boost.Program_options): every option, its default, --config files and
// validation into a TrainConfig. The only user of Boost.Program_options.
#pragma once

#include <string>
#include <vector>

#include "fmnist/train/config.h"

namespace fmnist {

enum class Command { kTrain, kSummary, kEvaluate, kPredict, kExportKeras, kHelp, kBenchmark };

struct CliOptions {
  Command command = Command::kTrain;
  TrainConfig config;
  std::string evaluate_path;  // --evaluate PATH
  std::string predict_path;   // --predict PATH
  std::string predict_images; // --predict-images FILE (default: the test set)
  std::string predict_labels; // --predict-labels FILE (optional)
  std::string export_path;    // --export-keras PATH (a checkpoint)
  std::string output_path;    // --output PATH (the .weights.h5 that --export-keras writes)
  std::string init_from;      // --init-from PATH (Keras weights to start training from)
  std::string help;           // filled for kHelp
  std::string progress = "auto";  // auto | bar | lines
  std::string benchmark_json; // --benchmark-json PATH (benchmark command)
  int benchmark_steps = 30;
  int benchmark_warmup = 5;
  bool benchmark_layers = false;  // --benchmark-layers
  bool benchmark_watchdog = false;  // --benchmark-watchdog
};

/// Parses argv (and --config FILE, whose 'key = value' lines use the same option names;
/// the command line wins). Throws Error with a one-line message for an unknown option, a
/// malformed value or a value out of range, naming the option, what was expected and found.
CliOptions parse_command_line(int argc, const char* const* argv);

}  // namespace fmnist
