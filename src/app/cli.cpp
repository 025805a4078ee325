// Option definitions, --config merging and value checks.
#include "fmnist/app/cli.h"

#include <boost/program_options.hpp>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "fmnist/core/error.h"
#include "fmnist/nn/model_spec.h"

namespace fmnist {
namespace po = boost::program_options;

namespace {

// More BLAS threads per rank than any node has cores: a typo, not a request.
constexpr int kMaxThreads = 1024;

/// A number as a user would type it: 0.001, -1, 1e-08.
template <typename T>
std::string text_of(T value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

template <typename T>
void require_at_least(const std::string& option, T value, T minimum) {
  if (value < minimum) {
    std::ostringstream out;
    out << "--" << option << ": expected at least " << minimum << ", found " << value;
    throw Error(out.str());
  }
}

std::string presets_help() {
  std::string text = "Presets (Keras tutorials):\n";
  for (const Preset& p : presets()) text += "  " + p.name + std::string(14 - p.name.size(), ' ') + p.spec + "\n";
  return text;
}

/// Boost.Program_options builds its error messages by replacing %value%, %option%, ... with the
/// offending text in a loop until none is left: text holding such a token never finishes (found
/// by tests/fuzz/fuzz_config_file). Such input is refused before Boost sees it.
void reject_message_placeholders(const std::string& text, const std::string& where) {
  for (const char* token : {"%value%", "%option%", "%canonical_option%", "%original_token%", "%prefix%"})
    if (text.find(token) != std::string::npos)
      throw Error(where + ": expected option names and values, found the text '" + token +
                  "', which Boost.Program_options cannot report errors about");
}

}  // namespace

CliOptions parse_command_line(int argc, const char* const* argv) {
  CliOptions cli;
  TrainConfig& c = cli.config;
  std::string optimizer = "adam", config_path, data_dir;
  float lr = -1.0f;
  long long seed = static_cast<long long>(c.seed);
  bool no_normalize = false, nesterov = false;

  po::options_description general("General");
  general.add_options()
      ("help,h", "print this help and exit")
      ("config", po::value<std::string>(&config_path), "read options from FILE ('key = value' lines, same names)")
      ("summary", po::bool_switch(), "print the model summary (layers, output shapes, params) and exit")
      ("evaluate", po::value<std::string>(&cli.evaluate_path), "load checkpoint PATH and print test loss/accuracy")
      ("benchmark", po::bool_switch(), "time training steps and print throughput, phase split and GFLOP/s")
      ("benchmark-json", po::value<std::string>(&cli.benchmark_json), "with --benchmark: also write the figures to PATH as JSON")
      ("benchmark-steps", po::value<int>(&cli.benchmark_steps)->default_value(cli.benchmark_steps), "with --benchmark: timed steps")
      ("benchmark-warmup", po::value<int>(&cli.benchmark_warmup)->default_value(cli.benchmark_warmup), "with --benchmark: untimed warm-up steps")
      ("benchmark-layers", po::bool_switch(&cli.benchmark_layers), "with --benchmark: also time every layer on its own (forward, backward, GEMM GFLOP/s)");
  po::options_description model("Model and optimisation");
  model.add_options()
      ("model", po::value<std::string>(&c.model)->default_value(c.model), "preset name or layer spec (see below)")
      ("epochs", po::value<int>(&c.epochs)->default_value(c.epochs), "total epochs (a resumed run continues up to this)")
      ("batch-size", po::value<int>(&c.batch_size)->default_value(c.batch_size), "GLOBAL batch size, split across ranks")
      ("optimizer", po::value<std::string>(&optimizer)->default_value(optimizer), "adam or sgd")
      ("lr", po::value<float>(&lr), "learning rate (default: 0.001 for adam, 0.01 for sgd, as Keras)")
      ("momentum", po::value<float>(&c.optimizer.momentum)->default_value(0.0f, "0"), "SGD momentum")
      ("nesterov", po::bool_switch(&nesterov), "SGD with Nesterov momentum")
      ("weight-decay", po::value<float>(&c.optimizer.weight_decay)->default_value(0.0f, "0"), "decoupled weight decay (w -= lr * wd * w)")
      ("seed", po::value<long long>(&seed)->default_value(seed), "seed for initialisation, shuffling and dropout");
  po::options_description data("Data");
  data.add_options()
      ("data-dir", po::value<std::string>(&data_dir), "folder with the four .gz (or raw) IDX files (default: $FMNIST_DATA or data/fashion-mnist)")
      ("validation-split", po::value<int>(&c.validation_split)->default_value(c.validation_split), "hold out the FIRST N training images for validation (0: none)")
      ("no-normalize", po::bool_switch(&no_normalize), "feed raw 0..255 pixels instead of pixels / 255");
  po::options_description run("Run control");
  run.add_options()
      ("output-dir", po::value<std::string>(&c.output_dir), "where the run writes history and checkpoints (default: results/runs/<timestamp>)")
      ("max-steps", po::value<std::int64_t>(&c.max_steps)->default_value(0), "stop after N optimizer steps, then evaluate (0: no limit); stopping inside an epoch writes a checkpoint")
      ("threads", po::value<int>(&c.threads)->default_value(0), "BLAS threads per rank (0: cores per node / ranks per node)")
      ("check-replicas", po::value<int>(&c.check_replicas)->default_value(0), "compare parameter checksums across ranks every N steps (0: never)")
      ("checkpoint-every", po::value<int>(&c.checkpoint_every)->default_value(0), "also checkpoint every N steps (0: end of each epoch only)")
      ("keep-checkpoints", po::value<int>(&c.keep_checkpoints)->default_value(c.keep_checkpoints), "how many checkpoints to keep")
      ("resume", po::value<std::string>(&c.resume), "resume from checkpoint PATH, or 'auto': the latest in --output-dir if any")
      ("bucket-mb", po::value<double>(&c.bucket_mb)->default_value(c.bucket_mb), "gradient allreduce bucket size in MiB")
      ("stall-warning", po::value<double>(&c.stall_warning)->default_value(c.stall_warning),
       "seconds a training step's collective may wait before rank 0 warns, naming the silent ranks (0: never)")
      ("stall-timeout", po::value<double>(&c.stall_timeout)->default_value(c.stall_timeout),
       "seconds after which such a wait ends the job with exit status 76 (0: never)")
      ("progress", po::value<std::string>(&cli.progress)->default_value(cli.progress),
       "bar: a live Keras bar; lines: one line per epoch; auto: bar when stdout is a terminal (under mpirun, which gives ranks a terminal of their own, lines)");
  po::options_description all;
  all.add(general).add(model).add(data).add(run);

  po::variables_map vm;
  for (int i = 1; i < argc; ++i) reject_message_placeholders(argv[i], "command line");
  try {
    po::store(po::parse_command_line(argc, argv, all), vm);
    if (vm.count("config")) {
      const std::string path = vm["config"].as<std::string>();
      std::ifstream file(path);
      if (!file) throw Error("--config: cannot open '" + path + "'");
      std::ostringstream text;
      text << file.rdbuf();
      reject_message_placeholders(text.str(), "--config " + path);
      std::istringstream lines(text.str());
      try {
        po::store(po::parse_config_file(lines, all), vm);
      } catch (const po::error& e) {
        throw Error("--config " + path + ": " + e.what());
      }
    }
    po::notify(vm);
  } catch (const po::error& e) {
    throw Error(std::string("command line: ") + e.what() + " (see --help)");
  }

  if (vm.count("help")) {
    std::ostringstream out;
    out << "Usage: mpirun -np N fmnist_dist [options]\n"
        << "Data-parallel Fashion-MNIST training: every rank holds a replica and trains on its share\n"
        << "of each global batch; gradients are averaged across ranks every step.\n\n"
        << all << "\n" << presets_help()
        << "Layer spec grammar, joined by '-': conv<F>x<K>[s<S>][same|valid][linear], dense<N>[linear],\n"
        << "  pool<P>[s<S>], gap, flatten, relu, drop<R>, bn. Conv/dense use ReLU except the last layer\n"
        << "  (logits). Example: conv32x3same-pool2-flatten-dense128-dense10\n\n"
        << "Exit status: 0 done, 1 error, 75 stopped by SIGTERM/SIGUSR1 after a checkpoint (resume it),\n"
        << "  76 a rank stalled for --stall-timeout (resume it).\n";
    cli.command = Command::kHelp;
    cli.help = out.str();
    return cli;
  }
  if (vm["summary"].as<bool>()) cli.command = Command::kSummary;
  if (vm["benchmark"].as<bool>()) cli.command = Command::kBenchmark;
  if (vm.count("evaluate")) cli.command = Command::kEvaluate;

  c.optimizer.kind = parse_optimizer_kind(optimizer);
  c.optimizer.learning_rate = vm.count("lr") ? lr : (c.optimizer.kind == OptimizerKind::kSgd ? 0.01f : 1e-3f);
  c.optimizer.nesterov = nesterov;
  c.normalize = !no_normalize;
  if (seed < 0) throw Error("--seed: expected a non-negative integer, found " + std::to_string(seed));
  c.seed = static_cast<std::uint64_t>(seed);
  if (vm.count("data-dir")) {
    c.data_dir = data_dir;
  } else if (const char* env = std::getenv("FMNIST_DATA"); env && *env) {
    c.data_dir = env;
  }

  if (!(c.optimizer.learning_rate > 0.0f))
    throw Error("--lr: expected a positive learning rate, found " + text_of(c.optimizer.learning_rate));
  if (!(c.optimizer.momentum >= 0.0f && c.optimizer.momentum < 1.0f))
    throw Error("--momentum: expected a value in [0, 1), found " + text_of(c.optimizer.momentum));
  if (!(c.optimizer.weight_decay >= 0.0f))
    throw Error("--weight-decay: expected a non-negative value, found " + text_of(c.optimizer.weight_decay));
  if (nesterov && c.optimizer.momentum == 0.0f) throw Error("--nesterov: needs --momentum > 0");
  require_at_least("epochs", c.epochs, 1);
  require_at_least("batch-size", c.batch_size, 1);
  require_at_least("validation-split", c.validation_split, 0);
  require_at_least<std::int64_t>("max-steps", c.max_steps, 0);
  require_at_least("threads", c.threads, 0);
  if (c.threads > kMaxThreads)
    throw Error("--threads: expected at most " + std::to_string(kMaxThreads) + " BLAS threads per rank, found " +
                std::to_string(c.threads));
  require_at_least("check-replicas", c.check_replicas, 0);
  require_at_least("checkpoint-every", c.checkpoint_every, 0);
  require_at_least("keep-checkpoints", c.keep_checkpoints, 1);
  require_at_least("benchmark-steps", cli.benchmark_steps, 1);
  require_at_least("benchmark-warmup", cli.benchmark_warmup, 0);
  if (cli.progress != "auto" && cli.progress != "bar" && cli.progress != "lines")
    throw Error("--progress: expected auto, bar or lines, found '" + cli.progress + "'");
  if (!(c.stall_warning >= 0.0))
    throw Error("--stall-warning: expected seconds >= 0, found " + text_of(c.stall_warning));
  if (!(c.stall_timeout >= 0.0))
    throw Error("--stall-timeout: expected seconds >= 0, found " + text_of(c.stall_timeout));
  if (!(c.bucket_mb > 0.0)) throw Error("--bucket-mb: expected a positive size, found " + text_of(c.bucket_mb));
  model_size(c.model);  // throws for an unknown preset or a malformed spec, before any data is read
  return cli;
}

}  // namespace fmnist
