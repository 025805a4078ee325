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
  std::string text = "Presets (Keras tutorials; cnn-bn and vgg-bn with BatchNormalization):\n";
  for (const Preset& p : presets()) text += "  " + p.name + std::string(14 - p.name.size(), ' ') + p.spec + "\n";
  return text;
}

/// "5000,8000" -> {5000, 8000}; throws Error naming --option for anything not a number.
template <typename T>
std::vector<T> parse_list(const std::string& option, const std::string& text) {
  std::vector<T> out;
  std::istringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    std::istringstream field(item);
    T value{};
    if (!(field >> value) || !field.eof())
      throw Error("--" + option + ": expected a comma-separated list of numbers, found '" + text + "'");
    out.push_back(value);
  }
  if (out.empty()) throw Error("--" + option + ": expected a comma-separated list of numbers, found '" + text + "'");
  return out;
}

template <typename T>
void require_in(const std::string& option, T value, T low, T high, const char* range) {
  if (!(value >= low && value <= high)) {
    std::ostringstream out;
    out << "--" << option << ": expected a value in " << range << ", found " << value;
    throw Error(out.str());
  }
}

// Augmentation, schedule and callback options into `c`, each checked against its range.
void check_accuracy_options(TrainConfig& c, const std::string& augment, const std::string& schedule,
                            const std::string& boundaries, const std::string& values, const std::string& plateau_mode,
                            const std::string& plateau_monitor, const std::string& stop_monitor,
                            const std::string& stop_mode, const std::string& stop_baseline,
                            const std::string& best_monitor, const std::string& best_mode) {
  const bool has_validation = c.validation_split > 0;
  c.augment = parse_augment(augment);
  require_in("label-smoothing", c.label_smoothing, 0.0f, 0.999999f, "[0, 1)");
  LrScheduleOptions& s = c.schedule;
  s.kind = parse_schedule_kind(schedule);
  require_at_least<std::int64_t>("warmup-steps", s.warmup_steps, 0);
  require_at_least<std::int64_t>("decay-steps", s.decay_steps, 0);
  require_at_least("warmup-start-lr", s.warmup_start_lr, 0.0);
  require_in("lr-alpha", s.alpha, 0.0, 1.0, "[0, 1]");
  if (!(s.decay_rate > 0.0 && s.decay_rate <= 1.0))
    throw Error("--decay-rate: expected a value in (0, 1], found " + text_of(s.decay_rate));
  if (s.kind == ScheduleKind::kExponential && s.decay_steps == 0)
    throw Error("--decay-steps: expected a positive number of steps with --lr-schedule exponential, found 0");
  if (!boundaries.empty()) s.boundaries = parse_list<std::int64_t>("lr-boundaries", boundaries);
  if (!values.empty()) s.values = parse_list<double>("lr-values", values);
  if (s.kind == ScheduleKind::kPiecewise) {
    if (s.values.size() != s.boundaries.size() + 1)
      throw Error("--lr-values: expected " + std::to_string(s.boundaries.size() + 1) +
                  " rates (one more than --lr-boundaries), found " + std::to_string(s.values.size()));
    for (std::size_t i = 0; i < s.boundaries.size(); ++i)
      if (s.boundaries[i] < 0 || (i > 0 && s.boundaries[i] <= s.boundaries[i - 1]))
        throw Error("--lr-boundaries: expected increasing non-negative steps, found '" + boundaries + "'");
    for (double v : s.values)
      if (!(v > 0.0)) throw Error("--lr-values: expected positive rates, found '" + values + "'");
  }
  s.plateau_monitor.metric = plateau_monitor;
  s.plateau_monitor.mode = parse_monitor_mode("plateau-mode", plateau_mode);
  if (s.kind == ScheduleKind::kPlateau) check_monitored_metric("plateau-monitor", plateau_monitor, has_validation);
  if (!(s.plateau_factor > 0.0 && s.plateau_factor < 1.0))
    throw Error("--plateau-factor: expected a value in (0, 1), found " + text_of(s.plateau_factor));
  require_at_least("plateau-patience", s.plateau_patience, 0);
  require_at_least("plateau-min-delta", s.plateau_monitor.min_delta, 0.0);
  require_at_least("plateau-cooldown", s.plateau_cooldown, 0);
  require_at_least("plateau-min-lr", s.plateau_min_lr, 0.0);

  EarlyStoppingOptions& e = c.early_stopping;
  e.enabled = !stop_monitor.empty();
  e.monitor.mode = parse_monitor_mode("early-stopping-mode", stop_mode);
  if (e.enabled) {
    check_monitored_metric("early-stopping-monitor", stop_monitor, has_validation);
    e.monitor.metric = stop_monitor;
  }
  require_at_least("early-stopping-patience", e.patience, 0);
  require_at_least("early-stopping-min-delta", e.monitor.min_delta, 0.0);
  if (!stop_baseline.empty()) e.baseline = parse_list<double>("early-stopping-baseline", stop_baseline).at(0);
  if (e.restore_best_weights && !e.enabled) throw Error("--restore-best-weights: needs --early-stopping-monitor");

  c.best_checkpoint = !best_monitor.empty();
  c.best_checkpoint_monitor.mode = parse_monitor_mode("best-checkpoint-mode", best_mode);
  if (c.best_checkpoint) {
    check_monitored_metric("best-checkpoint-monitor", best_monitor, has_validation);
    c.best_checkpoint_monitor.metric = best_monitor;
  }
}

/// Boost.Program_options builds its error messages by replacing %value%, %option%, ... with the
/// offending text in a loop until none is left: text holding such a token never finishes (found
/// by tests/fuzz/fuzz_config_file). Such input is refused before Boost sees it. The tokens are
/// every placeholder Boost 1.74's errors use, %invalid_line% being the config file's own.
void reject_message_placeholders(const std::string& text, const std::string& where) {
  for (const char* token :
       {"%value%", "%option%", "%canonical_option%", "%original_token%", "%prefix%", "%invalid_line%"})
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
      ("evaluate", po::value<std::string>(&cli.evaluate_path), "evaluate PATH (a checkpoint, or Keras weights for --model) on the test set: loss, accuracy, per-class table, confusion matrix; writes evaluation.h5/.csv next to PATH or in --output-dir")
      ("predict", po::value<std::string>(&cli.predict_path), "class probabilities of PATH (a checkpoint, or Keras weights for --model) for the test set or --predict-images; writes predictions.h5 next to PATH or in --output-dir")
      ("predict-images", po::value<std::string>(&cli.predict_images), "with --predict: an IDX file of 28x28 uint8 images instead of the test set")
      ("predict-labels", po::value<std::string>(&cli.predict_labels), "with --predict-images: their IDX label file (optional)")
      ("export-keras", po::value<std::string>(&cli.export_path), "write checkpoint PATH as Keras 3 weights to --output X.weights.h5, with its architecture in X.json")
      ("output", po::value<std::string>(&cli.output_path), "with --export-keras: the .weights.h5 file to write")
      ("init-from", po::value<std::string>(&cli.init_from), "start training from Keras weights PATH (.weights.h5 of Keras 3, or a legacy tf.keras .h5) loaded into --model; with --epochs 0, only evaluate them")
      ("benchmark", po::bool_switch(), "time training steps and print throughput, phase split and GFLOP/s")
      ("benchmark-json", po::value<std::string>(&cli.benchmark_json), "with --benchmark: also write the figures to PATH as JSON")
      ("benchmark-steps", po::value<int>(&cli.benchmark_steps)->default_value(cli.benchmark_steps), "with --benchmark: timed steps")
      ("benchmark-warmup", po::value<int>(&cli.benchmark_warmup)->default_value(cli.benchmark_warmup), "with --benchmark: untimed warm-up steps")
      ("benchmark-layers", po::bool_switch(&cli.benchmark_layers), "with --benchmark: also time every layer on its own (forward, backward, GEMM GFLOP/s)")
      ("benchmark-watchdog", po::bool_switch(&cli.benchmark_watchdog), "with --benchmark: time steps in alternating blocks without and with the stall watchdog's deadline, and print its cost");
  po::options_description model("Model and optimisation");
  model.add_options()
      ("model", po::value<std::string>(&c.model)->default_value(c.model), "preset name or layer spec (see below)")
      ("epochs", po::value<int>(&c.epochs)->default_value(c.epochs), "total epochs (a resumed run continues up to this; 0 with --init-from: only evaluate)")
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
  std::string augment = "none", schedule = "constant", boundaries, values, plateau_monitor = "val_loss",
              plateau_mode = "auto", stop_monitor, stop_mode = "auto", stop_baseline, best_monitor, best_mode = "auto";
  LrScheduleOptions& s = c.schedule;
  EarlyStoppingOptions& e = c.early_stopping;
  po::options_description accuracy("Augmentation, schedules and callbacks (Keras semantics; all off by default)");
  accuracy.add_options()
      ("augment", po::value<std::string>(&augment)->default_value(augment), "training-batch augmentation: comma-separated flip, shift<N> (N = 1..8), erase; or none")
      ("label-smoothing", po::value<float>(&c.label_smoothing)->default_value(0.0f, "0"), "label smoothing in [0, 1): y = onehot * (1 - ls) + ls / 10")
      ("lr-schedule", po::value<std::string>(&schedule)->default_value(schedule), "constant, cosine, exponential, piecewise or plateau (--lr is the base rate)")
      ("warmup-steps", po::value<std::int64_t>(&s.warmup_steps)->default_value(0), "cosine: linear warm-up steps from --warmup-start-lr to --lr")
      ("warmup-start-lr", po::value<double>(&s.warmup_start_lr)->default_value(0.0, "0"), "cosine: the rate at step 0 of the warm-up")
      ("decay-steps", po::value<std::int64_t>(&s.decay_steps)->default_value(0), "cosine: steps of the decay (0: to the end of --epochs); exponential: steps per decay_rate factor")
      ("lr-alpha", po::value<double>(&s.alpha)->default_value(0.0, "0"), "cosine: final rate as a fraction of --lr")
      ("decay-rate", po::value<double>(&s.decay_rate)->default_value(s.decay_rate), "exponential: factor per --decay-steps")
      ("staircase", po::bool_switch(&s.staircase), "exponential: decay in whole steps of --decay-steps (step decay)")
      ("lr-boundaries", po::value<std::string>(&boundaries), "piecewise: increasing step boundaries, e.g. 5000,8000")
      ("lr-values", po::value<std::string>(&values), "piecewise: one more rate than boundaries, e.g. 1e-3,1e-4,1e-5")
      ("plateau-monitor", po::value<std::string>(&plateau_monitor)->default_value(plateau_monitor), "plateau: metric to monitor")
      ("plateau-mode", po::value<std::string>(&plateau_mode)->default_value(plateau_mode), "plateau: auto, min or max")
      ("plateau-factor", po::value<double>(&s.plateau_factor)->default_value(s.plateau_factor), "plateau: rate *= factor, in (0, 1)")
      ("plateau-patience", po::value<int>(&s.plateau_patience)->default_value(s.plateau_patience), "plateau: epochs without improvement")
      ("plateau-min-delta", po::value<double>(&s.plateau_monitor.min_delta)->default_value(s.plateau_monitor.min_delta), "plateau: smallest change that counts as an improvement")
      ("plateau-cooldown", po::value<int>(&s.plateau_cooldown)->default_value(0), "plateau: epochs to wait after a reduction")
      ("plateau-min-lr", po::value<double>(&s.plateau_min_lr)->default_value(0.0, "0"), "plateau: lower bound of the rate")
      ("early-stopping-monitor", po::value<std::string>(&stop_monitor), "EarlyStopping on this metric (loss, accuracy, val_loss, val_accuracy)")
      ("early-stopping-mode", po::value<std::string>(&stop_mode)->default_value(stop_mode), "EarlyStopping: auto, min or max")
      ("early-stopping-patience", po::value<int>(&e.patience)->default_value(0), "EarlyStopping: epochs without improvement before stopping")
      ("early-stopping-min-delta", po::value<double>(&e.monitor.min_delta)->default_value(0.0, "0"), "EarlyStopping: smallest change that counts as an improvement")
      ("early-stopping-baseline", po::value<std::string>(&stop_baseline), "EarlyStopping: value the metric must beat for the wait to reset")
      ("restore-best-weights", po::bool_switch(&e.restore_best_weights), "EarlyStopping: on stopping, restore the best epoch's weights")
      ("best-checkpoint-monitor", po::value<std::string>(&best_monitor), "keep checkpoints/best.h5 of the best epoch by this metric")
      ("best-checkpoint-mode", po::value<std::string>(&best_mode)->default_value(best_mode), "best checkpoint: auto, min or max");
  po::options_description all;
  all.add(general).add(model).add(data).add(run).add(accuracy);

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
  int commands = 0;
  for (const char* name : {"summary", "benchmark"}) commands += vm[name].as<bool>() ? 1 : 0;
  for (const char* name : {"evaluate", "predict", "export-keras"}) commands += static_cast<int>(vm.count(name));
  if (commands > 1)
    throw Error("command line: expected at most one of --summary, --benchmark, --evaluate, --predict, --export-keras, found " +
                std::to_string(commands));
  if (vm.count("evaluate")) cli.command = Command::kEvaluate;
  if (vm.count("predict")) cli.command = Command::kPredict;
  if (vm.count("export-keras")) cli.command = Command::kExportKeras;
  if (cli.command != Command::kPredict && (vm.count("predict-images") || vm.count("predict-labels")))
    throw Error("--predict-images/--predict-labels: only with --predict");
  if (vm.count("predict-labels") && !vm.count("predict-images"))
    throw Error("--predict-labels: needs --predict-images (the test set has its own labels)");
  if (cli.command == Command::kExportKeras) {
    const std::string suffix = ".weights.h5";
    if (cli.output_path.size() <= suffix.size() ||
        cli.output_path.compare(cli.output_path.size() - suffix.size(), suffix.size(), suffix) != 0)
      throw Error("--output: expected a path ending in .weights.h5 (Keras 3 loads weights by that suffix), found '" +
                  cli.output_path + "'");
  } else if (vm.count("output")) {
    throw Error("--output: only with --export-keras (other commands write into --output-dir)");
  }
  if (vm.count("init-from") && cli.command != Command::kTrain)
    throw Error("--init-from: only for training (--evaluate and --predict read Keras weights themselves)");

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
  require_at_least("epochs", c.epochs, cli.init_from.empty() ? 1 : 0);
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
  if (cli.benchmark_watchdog && c.stall_warning == 0.0 && c.stall_timeout == 0.0)
    throw Error("--benchmark-watchdog: expected the watchdog on (--stall-warning or --stall-timeout above 0), found both 0");
  if (!(c.bucket_mb > 0.0)) throw Error("--bucket-mb: expected a positive size, found " + text_of(c.bucket_mb));
  check_accuracy_options(c, augment, schedule, boundaries, values, plateau_mode, plateau_monitor, stop_monitor,
                         stop_mode, stop_baseline, best_monitor, best_mode);
  model_size(c.model);  // throws for an unknown preset or a malformed spec, before any data is read
  return cli;
}

}  // namespace fmnist
