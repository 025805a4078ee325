// The training loop. Per step, on every rank:
//   gather this rank's share of the global batch -> forward -> loss (gradient scaled by
//   1 / global batch) -> backward, starting each gradient bucket's allreduce as soon as it
//   is final -> wait for the buckets -> identical optimizer update everywhere.
// The step's loss / correct / count and the stop flag travel after the gradients in the first
// bucket, so the running metrics and the decision to stop are the same on every rank without
// another collective.
#include "fmnist/train/trainer.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <iostream>
#include <map>

#include "fmnist/core/error.h"
#include "fmnist/core/memory.h"
#include "fmnist/core/rng.h"
#include "fmnist/data/sampler.h"
#include "fmnist/nn/model_spec.h"
#include "fmnist/train/stop_signal.h"

namespace fmnist {
namespace {

using Clock = std::chrono::steady_clock;

/// The value of `metric` in an epoch's metrics; throws Error when the run does not compute it.
double metric_value(const std::map<std::string, double>& metrics, const std::string& metric) {
  auto it = metrics.find(metric);
  if (it == metrics.end()) throw Error("monitored metric '" + metric + "' is not computed by this run");
  return it->second;
}

/// Appends the softmax rows of one evaluation batch (samples begin .. begin + n - 1, logits
/// (n, classes)) to `local`, this rank's rows from sample *first on (set by the first call).
void append_probabilities(const Tensor& logits, int begin, int n, int* first, std::vector<float>* local) {
  const std::size_t classes = static_cast<std::size_t>(logits.shape().per_sample());
  if (*first < 0) *first = begin;
  local->resize(static_cast<std::size_t>(begin - *first + n) * classes);
  softmax_probabilities(logits, local->data() + static_cast<std::size_t>(begin - *first) * classes);
}

}  // namespace

Trainer::Trainer(const TrainConfig& config, DataSplits data, Communicator& comm, std::ostream* log)
    : config_(config),
      data_(std::move(data)),
      comm_(comm),
      log_(log),
      batch_stats_(comm),
      augmenter_(config.augment, data_.train.rows, data_.train.cols),
      early_stopping_(config.early_stopping),
      best_checkpoint_value_(config.best_checkpoint_monitor.worst()) {
  LrScheduleOptions& schedule = config_.schedule;
  if (schedule.kind == ScheduleKind::kCosine && schedule.decay_steps == 0)
    // To the end of training: what the run's total steps leave after the warm-up.
    schedule.decay_steps = std::max<std::int64_t>(
        1, config_.epochs * steps_per_epoch(data_.train.count, config_.batch_size) - schedule.warmup_steps);
  if (schedule.kind == ScheduleKind::kPlateau)
    plateau_ = std::make_unique<ReduceLrOnPlateau>(schedule, config_.optimizer.learning_rate);
  if (config_.batch_size < comm_.size())
    throw Error("--batch-size: the global batch (" + std::to_string(config_.batch_size) +
                ") must be at least the number of ranks (" + std::to_string(comm_.size()) + ")");
  // (An empty training set is --evaluate's: it only runs the test set.)
  if (data_.train.count > 0 && config_.batch_size > data_.train.count)
    throw Error("--batch-size: the global batch (" + std::to_string(config_.batch_size) + ") exceeds the training set (" +
                std::to_string(data_.train.count) + " images after --validation-split " +
                std::to_string(config_.validation_split) + ")");
  // Capacity: this rank's largest share of a training batch, and at least one evaluation batch.
  const int capacity = std::max(max_shard(config_.batch_size, comm_.size()), kEvalBatch);
  require_training_memory(capacity);
  model_ = build_model(config_.model);
  model_->setup(capacity);
  labels_.assign(static_cast<std::size_t>(capacity), 0);
  eval_ids_.assign(static_cast<std::size_t>(capacity), 0);
  ParamArena& params = model_->params();
  optimizer_ = make_optimizer(config_.optimizer, params.size());
  std::vector<std::size_t> starts;
  for (const ParamView& v : params.views()) starts.push_back(v.offset);
  sync_ = std::make_unique<GradientSync>(comm_, params.grads(), params.size(), ParamArena::kGradientTail,
                                         static_cast<std::size_t>(config_.bucket_mb * 1024 * 1024), starts);
  on_grads_ready_ = [this](std::size_t offset) { sync_->on_grads_ready(offset); };
  watchdog_ = std::make_unique<StallWatchdog>(comm_, StallLimits{config_.stall_warning, config_.stall_timeout}, log_);
  comm_.set_stall_watchdog(watchdog_.get());
}

Trainer::~Trainer() { comm_.set_stall_watchdog(nullptr); }

void Trainer::require_training_memory(int local_batch) const {
  // Per rank: values, gradients and the optimizer's moments of every parameter, and for each
  // sample of the local batch its input plus three buffers per layer output (the activation,
  // its gradient, and the layer's scratch: pooling argmax, dropout mask, normalised x).
  const ModelSize size = model_size(config_.model);
  const OptimizerOptions& o = config_.optimizer;
  const int moments = o.kind == OptimizerKind::kAdam ? 2 : (o.momentum > 0.0f ? 1 : 0);
  const double floats = static_cast<double>(size.params) * (2 + moments) + static_cast<double>(size.non_trainable) +
                        static_cast<double>(local_batch) *
                            (static_cast<double>(size.input_per_sample) + 3.0 * static_cast<double>(size.outputs_per_sample));
  const int ranks_here = comm_.topology().node_size;
  require_memory(4.0 * floats * ranks_here,
                 "--model " + config_.model + " with --batch-size " + std::to_string(config_.batch_size) + " (" +
                     group_thousands(static_cast<long long>(size.params)) + " parameters with gradients and " +
                     std::to_string(moments) + " optimizer moments, activations for a local batch of " +
                     std::to_string(local_batch) + ", " + std::to_string(ranks_here) + " rank(s) on this node)");
}

void Trainer::initialize_parameters() {
  ParamArena& params = model_->params();
  if (comm_.rank() == 0) params.initialize(config_.seed);
  comm_.broadcast(params.values(), params.size(), 0);
  model_->non_trainable().initialize(config_.seed);  // constants (zeros, ones): the same everywhere
}

LossSums Trainer::train_step(const std::int32_t* global_batch_ids, int global_batch, bool* stop) {
  const Clock::time_point start = Clock::now();
  // Only this step's collectives run under the stall deadline: checkpoints, evaluation and
  // data loading happen between steps and may take as long as they need.
  watchdog_->begin_step(position_.global_step + 1);
  const Shard shard = shard_of(global_batch, comm_.size(), comm_.rank());
  const std::int32_t* ids = global_batch_ids + shard.begin;
  const int n = shard.size();
  ParamArena& params = model_->params();

  LossSums local;
  gather_batch(data_.train, ids, n, config_.normalize, model_->input(), labels_.data());
  augmenter_.apply(config_.seed, position_.epoch, ids, model_->input());
  Clock::time_point forward_done = Clock::now();
  ForwardContext ctx{Mode::kTrain, config_.seed, position_.epoch, ids, &batch_stats_};
  // The step's metrics ride after the gradients in the first bucket (written before backward
  // starts it). As floats: counts are exact up to 2^24, far above any batch.
  float* metrics = params.gradient_tail();
  static_assert(ParamArena::kGradientTail >= 4, "the gradient tail holds the step's four metrics");
  if (n > 0) {
    const Tensor& logits = model_->forward(ctx);
    local = softmax_cross_entropy(logits, labels_.data(), 1.0f / static_cast<float>(global_batch),
                                  &model_->logits_grad(), config_.label_smoothing);
    forward_done = Clock::now();
    write_step_metrics(local, metrics);
    model_->backward(on_grads_ready_);
  } else {
    // A last partial batch smaller than the world leaves this rank nothing to compute:
    // it contributes zero gradient but still joins every collective.
    std::memset(params.grads(), 0, sizeof(float) * params.size());
    write_step_metrics(local, metrics);
    model_->step_without_data(ctx, on_grads_ready_);
  }
  const Clock::time_point wait_start = Clock::now();
  sync_->finish();
  watchdog_->end_step();
  const Clock::time_point optimizer_start = Clock::now();
  optimizer_->set_learning_rate(static_cast<float>(learning_rate_at(position_.global_step)));
  optimizer_->step(params.values(), params.grads(), params.size());
  const Clock::time_point metrics_start = Clock::now();
  const LossSums global{metrics[3], static_cast<std::int64_t>(metrics[0]), static_cast<std::int64_t>(metrics[1])};
  *stop = metrics[2] > 0.0f;
  const Clock::time_point end = Clock::now();

  auto seconds = [](Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); };
  timings_ = StepTimings{seconds(start, forward_done), seconds(forward_done, wait_start),
                         seconds(wait_start, optimizer_start), seconds(optimizer_start, metrics_start),
                         seconds(metrics_start, end), seconds(start, end)};
  return global;
}

void Trainer::write_step_metrics(const LossSums& local, float* metrics) const {
  metrics[0] = static_cast<float>(local.correct);
  metrics[1] = static_cast<float>(local.count);
  metrics[2] = stop_signal_received() ? 1.0f : 0.0f;
  metrics[3] = static_cast<float>(local.loss);
}

double Trainer::learning_rate_at(std::int64_t step) const {
  if (plateau_) return plateau_->learning_rate();
  return scheduled_learning_rate(config_.schedule, config_.optimizer.learning_rate, step);
}

FitOutcome Trainer::fit(const std::function<void()>& on_checkpoint, const std::function<void()>& on_best) {
  const Dataset& train = data_.train;
  if (train.count == 0) throw Error("the training set is empty");
  if (early_stopping_.stopped()) return FitOutcome::kCompleted;
  const std::int64_t steps = steps_per_epoch(train.count, config_.batch_size);
  Progress progress(log_ ? *log_ : std::cout, live_progress_);
  // Rank 0 writes while the others wait for it here, in a barrier, rather than in the next
  // step's collectives. The barrier and the validation reductions wait under the stall deadline
  // too, so a rank stopped between steps is found as inside one. A checkpoint is a few MB
  // written in well under a second; one that takes --stall-timeout is a stuck file system.
  auto between_steps = [&](const std::function<void()>& collective) {
    watchdog_->begin_step(position_.global_step + 1);
    collective();
    watchdog_->end_step();
  };
  auto checkpoint_between_steps = [&] {
    if (!on_checkpoint) return;
    on_checkpoint();
    between_steps([&] { comm_.barrier("barrier after rank 0's checkpoint"); });
  };
  while (position_.epoch < config_.epochs) {
    order_ = epoch_permutation(config_.seed, position_.epoch, train.count);
    if (log_) progress.epoch_begin(static_cast<int>(position_.epoch) + 1, config_.epochs);
    bool hit_max_steps = false;
    while (position_.step_in_epoch < steps) {
      if (config_.max_steps > 0 && position_.global_step >= config_.max_steps) {
        hit_max_steps = true;
        break;
      }
      const std::int64_t begin = position_.step_in_epoch * config_.batch_size;
      const int global_batch = static_cast<int>(std::min<std::int64_t>(config_.batch_size, train.count - begin));
      bool stop = false;
      const LossSums step = train_step(order_.data() + begin, global_batch, &stop);
      // The loss is the global one, the same on every rank: every rank stops here together.
      if (!std::isfinite(step.loss)) {
        diverged_loss_ = step.loss;
        return FitOutcome::kDiverged;
      }
      epoch_sums_.loss += step.loss;
      epoch_sums_.correct += step.correct;
      epoch_sums_.count += step.count;
      epoch_sums_.seconds += timings_.total;
      ++position_.step_in_epoch;
      ++position_.global_step;
      if (log_)
        progress.step(position_.step_in_epoch, steps, epoch_sums_.seconds, epoch_sums_.loss / epoch_sums_.count,
                      static_cast<double>(epoch_sums_.correct) / epoch_sums_.count);
      if (config_.check_replicas > 0 && position_.global_step % config_.check_replicas == 0) check_replicas();
      if (stop) {
        if (on_checkpoint) on_checkpoint();
        // No rank may exit before rank 0's checkpoint is on disk: launchers kill the whole
        // job as soon as one rank exits with a non-zero status.
        between_steps([&] { comm_.barrier("barrier after rank 0's checkpoint"); });
        return FitOutcome::kStopSignal;
      }
      if (config_.checkpoint_every > 0 && position_.global_step % config_.checkpoint_every == 0 &&
          position_.step_in_epoch < steps)
        checkpoint_between_steps();
    }

    EpochReport report;
    report.steps = position_.step_in_epoch;
    report.total_steps = steps;
    report.seconds = epoch_sums_.seconds;
    report.loss = epoch_sums_.count ? epoch_sums_.loss / epoch_sums_.count : 0.0;
    report.accuracy = epoch_sums_.count ? static_cast<double>(epoch_sums_.correct) / epoch_sums_.count : 0.0;
    report.samples_per_second = epoch_sums_.seconds > 0 ? epoch_sums_.count / epoch_sums_.seconds : 0.0;
    if (data_.validation.count > 0) {
      EvalResult val;
      between_steps([&] { val = evaluate(data_.validation); });
      report.has_validation = true;
      report.val_loss = val.loss;
      report.val_accuracy = val.accuracy;
    }
    if (log_ && report.steps > 0) progress.epoch_end(report);
    if (hit_max_steps) {
      // Stopped inside an epoch: leave a checkpoint so the run can go on (with a larger
      // --max-steps, or none), unless checkpoint_every has just written this very step.
      const bool just_saved = config_.checkpoint_every > 0 && position_.global_step % config_.checkpoint_every == 0;
      if (on_checkpoint && position_.step_in_epoch > 0 && !just_saved) on_checkpoint();
      return FitOutcome::kMaxSteps;
    }

    std::vector<std::pair<std::string, double>> row = {{"loss", report.loss}, {"accuracy", report.accuracy}};
    if (report.has_validation) {
      row.emplace_back("val_loss", report.val_loss);
      row.emplace_back("val_accuracy", report.val_accuracy);
    }
    row.emplace_back("epoch_seconds", report.seconds);
    row.emplace_back("samples_per_second", report.samples_per_second);
    // The rate of the epoch's last step (the per-step schedules change it every step).
    row.emplace_back("lr", static_cast<double>(static_cast<float>(
                               learning_rate_at(std::max<std::int64_t>(0, position_.global_step - 1)))));
    history_.add_row(row);
    std::map<std::string, double> metrics(row.begin(), row.end());
    const std::int64_t epoch = position_.epoch;
    ++position_.epoch;
    position_.step_in_epoch = 0;
    epoch_sums_ = EpochSums{};

    // Callbacks, in Keras' order of a typical callbacks list: ModelCheckpoint(save_best_only),
    // ReduceLROnPlateau, EarlyStopping.
    if (config_.best_checkpoint) {
      const double value = metric_value(metrics, config_.best_checkpoint_monitor.metric);
      if (config_.best_checkpoint_monitor.improves(value, best_checkpoint_value_)) {
        best_checkpoint_value_ = value;
        if (on_best) on_best();
      }
    }
    if (plateau_) {
      const double before = plateau_->learning_rate();
      plateau_->on_epoch_end(metric_value(metrics, config_.schedule.plateau_monitor.metric));
      if (log_ && plateau_->learning_rate() != before)
        *log_ << "Epoch " << epoch + 1 << ": ReduceLROnPlateau reducing learning rate to " << plateau_->learning_rate()
              << ".\n";
    }
    bool stop_early = false;
    if (config_.early_stopping.enabled) {
      stop_early = early_stopping_.on_epoch_end(epoch, metric_value(metrics, config_.early_stopping.monitor.metric),
                                                {&model_->params(), &model_->non_trainable()});
      if (log_ && stop_early) {
        *log_ << "Epoch " << epoch + 1 << ": early stopping\n";
        if (config_.early_stopping.restore_best_weights)
          *log_ << "Restoring model weights from the end of the best epoch: " << early_stopping_.best_epoch() + 1
                << ".\n";
      }
    }
    checkpoint_between_steps();
    if (stop_early) return FitOutcome::kCompleted;
  }
  return FitOutcome::kCompleted;
}

template <typename OnBatch>
void Trainer::for_each_eval_batch(const Dataset& data, OnBatch on_batch) {
  // The set is cut into batches of kEvalBatch samples whatever the number of ranks, and each
  // rank takes a contiguous run of whole batches: every sample then meets the same GEMM
  // shapes at any number of ranks, so (at equal BLAS threads) its logits are bit-identical.
  // No collective inside, so ranks with fewer batches wait nowhere.
  const int batches = (data.count + kEvalBatch - 1) / kEvalBatch;
  const Shard mine = shard_of(batches, comm_.size(), comm_.rank());
  ForwardContext ctx{Mode::kEval, config_.seed, position_.epoch, nullptr};
  for (int b = mine.begin; b < mine.end; ++b) {
    const int begin = b * kEvalBatch;
    const int n = std::min(kEvalBatch, data.count - begin);
    for (int i = 0; i < n; ++i) eval_ids_[static_cast<std::size_t>(i)] = begin + i;
    gather_batch(data, eval_ids_.data(), n, config_.normalize, model_->input(), labels_.data());
    on_batch(begin, n, model_->forward(ctx));
  }
}

EvalResult Trainer::evaluate(const Dataset& data, std::vector<std::int64_t>* confusion,
                             std::vector<float>* probabilities) {
  const int classes = model_->num_classes();
  std::int64_t counts[2] = {0, 0};
  double loss = 0.0;
  if (confusion) confusion->assign(static_cast<std::size_t>(classes) * classes, 0);
  std::vector<float> local;  // this rank's probabilities, (its samples, classes)
  int first = -1;            // this rank's first sample
  for_each_eval_batch(data, [&](int begin, int n, const Tensor& logits) {
    if (probabilities) append_probabilities(logits, begin, n, &first, &local);
    const LossSums sums = softmax_cross_entropy(logits, labels_.data(), 0.0f, nullptr, config_.label_smoothing);
    loss += sums.loss;
    counts[0] += sums.correct;
    counts[1] += sums.count;
    if (confusion)
      for (int i = 0; i < n; ++i) {
        const int predicted = predicted_class(logits.data() + static_cast<std::size_t>(i) * classes, classes);
        ++(*confusion)[static_cast<std::size_t>(labels_[static_cast<std::size_t>(i)]) * classes + predicted];
      }
  });
  comm_.allreduce_sum(counts, 2, "evaluation allreduce");
  comm_.allreduce_sum(&loss, 1, "evaluation allreduce");
  if (confusion) comm_.allreduce_sum(confusion->data(), confusion->size(), "evaluation allreduce");
  // Ranks hold consecutive runs of samples, so rank order is sample order.
  if (probabilities) *probabilities = comm_.gather(local.data(), local.size(), 0);
  EvalResult result;
  result.count = counts[1];
  if (result.count > 0) {
    result.loss = loss / static_cast<double>(result.count);
    result.accuracy = static_cast<double>(counts[0]) / static_cast<double>(result.count);
  }
  return result;
}

std::vector<float> Trainer::predict(const Dataset& data) {
  std::vector<float> local;
  int first = -1;  // this rank's first sample
  for_each_eval_batch(data, [&](int begin, int n, const Tensor& logits) {
    append_probabilities(logits, begin, n, &first, &local);
  });
  // Ranks hold consecutive runs of samples, so rank order is sample order.
  return comm_.gather(local.data(), local.size(), 0);
}

void Trainer::broadcast_state(int root) {
  ParamArena& params = model_->params();
  comm_.broadcast(params.values(), params.size(), root);
  ParamArena& non_trainable = model_->non_trainable();
  comm_.broadcast(non_trainable.values(), non_trainable.size(), root);
  for (auto& [name, values] : optimizer_->state()) comm_.broadcast(values->data(), values->size(), root);
  std::map<std::string, std::int64_t> counters = optimizer_->counters();
  std::vector<std::int64_t> integers = {position_.epoch, position_.step_in_epoch, position_.global_step,
                                        epoch_sums_.correct, epoch_sums_.count};
  for (const auto& [name, value] : counters) integers.push_back(value);
  comm_.broadcast(integers.data(), integers.size(), root);
  double reals[2] = {epoch_sums_.loss, epoch_sums_.seconds};
  comm_.broadcast(reals, 2, root);
  position_ = TrainPosition{integers[0], integers[1], integers[2]};
  epoch_sums_ = EpochSums{reals[0], integers[3], integers[4], reals[1]};
  std::size_t next = 5;
  for (auto& [name, value] : counters) value = integers[next++];
  optimizer_->set_counters(counters);

  // Callback state: every rank has the same keys (the same config), root's values win.
  std::map<std::string, double> callbacks = callback_state();
  std::vector<double> values;
  for (const auto& [key, value] : callbacks) values.push_back(value);
  comm_.broadcast(values.data(), values.size(), root);
  next = 0;
  for (auto& [key, value] : callbacks) value = values[next++];
  std::vector<float> best = early_stopping_.best_weights();
  std::int64_t best_size = static_cast<std::int64_t>(best.size());
  comm_.broadcast(&best_size, 1, root);
  best.resize(static_cast<std::size_t>(best_size));
  comm_.broadcast(best.data(), best.size(), root);
  set_callback_state(callbacks, std::move(best), "broadcast state");
}

std::map<std::string, double> Trainer::callback_state() const {
  std::map<std::string, double> state;
  if (plateau_) plateau_->save(state);
  if (config_.early_stopping.enabled) early_stopping_.save(state);
  if (config_.best_checkpoint) state["best_checkpoint_best"] = best_checkpoint_value_;
  return state;
}

void Trainer::set_callback_state(const std::map<std::string, double>& state, std::vector<float> best_weights,
                                 const std::string& file) {
  if (plateau_) plateau_->load(state, file);
  if (config_.early_stopping.enabled) {
    const std::size_t expected = model_->params().size() + model_->non_trainable().size();
    if (!best_weights.empty() && best_weights.size() != expected)
      throw Error(file + ": EarlyStopping's best weights hold " + std::to_string(best_weights.size()) +
                  " values, the model has " + std::to_string(expected));
    early_stopping_.load(state, std::move(best_weights), file);
  }
  if (config_.best_checkpoint) {
    auto it = state.find("best_checkpoint_best");
    if (it == state.end())
      throw Error(file + ": /callbacks has no 'best_checkpoint_best' (the checkpoint is of a run without --best-checkpoint-monitor?)");
    best_checkpoint_value_ = it->second;
  }
}

void Trainer::check_replicas() {
  // FNV-1a over the parameter bytes and the non-trainable state (moving statistics): any
  // bit that differs changes it (with overwhelming odds).
  std::uint64_t hash = 0xcbf29ce484222325ull;
  for (const ParamArena* arena : {&model_->params(), &model_->non_trainable()}) {
    const auto* bytes = reinterpret_cast<const unsigned char*>(arena->values());
    for (std::size_t i = 0, n = arena->size() * sizeof(float); i < n; ++i) hash = (hash ^ bytes[i]) * 0x100000001b3ull;
  }
  const std::vector<std::uint64_t> all = comm_.allgather(hash);
  std::string diverged;
  for (std::size_t r = 1; r < all.size(); ++r)
    if (all[r] != all[0]) diverged += (diverged.empty() ? "" : ", ") + std::to_string(r);
  if (!diverged.empty())
    throw Error("replica check at step " + std::to_string(position_.global_step) + ": parameters of rank(s) " +
                diverged + " differ from rank 0");
}

}  // namespace fmnist
