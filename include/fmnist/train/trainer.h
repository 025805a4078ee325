// The data-parallel training loop. Every rank holds a full replica and computes its
// contiguous share of each global batch; gradients are summed with bucketed allreduces that
// overlap backward, so every rank applies the same global-batch-mean update.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "fmnist/data/augment.h"
#include "fmnist/data/dataset.h"
#include "fmnist/dist/channel_stats_allreduce.h"
#include "fmnist/dist/communicator.h"
#include "fmnist/dist/gradient_sync.h"
#include "fmnist/dist/stall_watchdog.h"
#include "fmnist/io/history_file.h"
#include "fmnist/nn/sequential.h"
#include "fmnist/nn/softmax_cross_entropy.h"
#include "fmnist/optim/optimizer.h"
#include "fmnist/train/config.h"
#include "fmnist/train/early_stopping.h"
#include "fmnist/train/lr_schedule.h"
#include "fmnist/train/progress.h"

namespace fmnist {

/// Loss and accuracy over a whole data set, reduced over ranks.
struct EvalResult {
  double loss = 0.0, accuracy = 0.0;
  std::int64_t count = 0;
};

/// Where training stands: the unit of resume.
struct TrainPosition {
  std::int64_t epoch = 0;          // completed epochs
  std::int64_t step_in_epoch = 0;  // optimizer steps done in epoch `epoch` (0-based)
  std::int64_t global_step = 0;
};

/// Running sums of the current epoch, identical on every rank (reduced each step).
struct EpochSums {
  double loss = 0.0;
  std::int64_t correct = 0, count = 0;
  double seconds = 0.0;  // wall time spent in this epoch's steps so far
};

/// Wall time of one step's phases on this rank, in seconds. `metrics` is the small
/// reduction of loss, counts and the stop flag that follows every step.
struct StepTimings {
  double forward = 0, backward = 0, allreduce_wait = 0, optimizer = 0, metrics = 0, total = 0;
};

/// Samples per forward pass in evaluation and prediction, the same at any number of ranks.
constexpr int kEvalBatch = 32;

/// kDiverged: a step's global loss was not finite (Keras' TerminateOnNaN); training stopped
/// before anything more was counted or saved, position() still names the last finite step.
enum class FitOutcome { kCompleted, kMaxSteps, kStopSignal, kDiverged };

class Trainer {
 public:
  /// Builds the model, optimizer and gradient buckets. `log` (progress output) is non-null
  /// on rank 0 only.
  Trainer(const TrainConfig& config, DataSplits data, Communicator& comm, std::ostream* log);
  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;
  /// Redraw a live progress bar (when the log is a terminal) instead of whole lines only.
  void set_live_progress(bool live) { live_progress_ = live; }

  /// Fresh start: rank 0 initialises the parameters (Glorot from the seed) and broadcasts them.
  void initialize_parameters();
  /// Trains until config.epochs are complete, max_steps is reached, or a stop signal
  /// arrives on any rank. `on_checkpoint` (may be empty) is called on every rank whenever a
  /// checkpoint is due: at each epoch end, every checkpoint_every steps, before a signal
  /// stop, and when max_steps stops training inside an epoch. Stops at the first step whose
  /// global loss is not finite (kDiverged), without calling `on_checkpoint` again. `on_best` (may be empty) is
  /// called on every rank at an epoch end whose monitored metric is the best so far
  /// (config.best_checkpoint), before the schedule and EarlyStopping see that epoch.
  /// EarlyStopping ends training with kCompleted; a run it stopped does not train again.
  FitOutcome fit(const std::function<void()>& on_checkpoint = {}, const std::function<void()>& on_best = {});
  /// Loss and accuracy of the current parameters on `data`, sharded across ranks. When
  /// `confusion` is given it is set to the (classes, classes) matrix of counts, rows = true
  /// class, columns = predicted class, summed exactly over the ranks (int64). When
  /// `probabilities` is given it is set as predict() sets it, from the same forward pass.
  EvalResult evaluate(const Dataset& data, std::vector<std::int64_t>* confusion = nullptr,
                      std::vector<float>* probabilities = nullptr);
  /// Softmax probabilities of every sample of `data`, each rank computing its shard: on rank 0
  /// all of them (count, classes) row-major in sample order, empty on the other ranks.
  std::vector<float> predict(const Dataset& data);

  Sequential& model() { return *model_; }
  Optimizer& optimizer() { return *optimizer_; }
  const TrainConfig& config() const { return config_; }
  const DataSplits& data() const { return data_; }
  TrainPosition& position() { return position_; }
  EpochSums& epoch_sums() { return epoch_sums_; }
  History& history() { return history_; }
  /// The non-finite global loss (sum over the batch) of the step that ended fit with kDiverged.
  double diverged_loss() const { return diverged_loss_; }
  /// Phase times of the most recent step.
  const StepTimings& last_step_timings() const { return timings_; }
  /// Steps run without the stall deadline while suspended (the benchmark's comparison).
  void suspend_stall_watchdog(bool suspended) { watchdog_->suspend(suspended); }
  Communicator& comm() { return comm_; }

  /// Makes every rank's parameters, optimizer state, position and epoch sums equal to
  /// `root`'s (after a resume that only `root` read from disk). The history stays on `root`,
  /// the only rank that writes it.
  void broadcast_state(int root);

  /// One optimizer step on the global batch `global_batch_ids` (global_batch samples, the
  /// same on every rank; this rank takes its shard), then the step's metric reduction.
  /// Returns the step's loss sums over all ranks; `stop` becomes true on every rank if a
  /// stop signal arrived on any.
  LossSums train_step(const std::int32_t* global_batch_ids, int global_batch, bool* stop);
  /// metrics[0..3] = this rank's correct, count, stop flag (1 or 0) and loss sum, to be summed
  /// over ranks with the gradients.
  void write_step_metrics(const LossSums& local, float* metrics) const;

  /// The learning rate of optimizer step `step` (0-based), from the schedule.
  double learning_rate_at(std::int64_t step) const;
  /// State of the schedule and callbacks as named doubles, and EarlyStopping's best weights
  /// (empty unless restore_best_weights has kept some), for checkpoints.
  std::map<std::string, double> callback_state() const;
  const std::vector<float>& best_weights() const { return early_stopping_.best_weights(); }
  /// Restores what callback_state() and best_weights() returned; throws Error naming `file`
  /// when a key the run's callbacks need is missing or the weights have the wrong size.
  void set_callback_state(const std::map<std::string, double>& state, std::vector<float> best_weights,
                          const std::string& file);
  /// Whether EarlyStopping has ended this run.
  bool early_stopped() const { return early_stopping_.stopped(); }

  /// Checks that every rank holds bit-identical parameters; throws Error naming the ranks
  /// that differ from rank 0.
  void check_replicas();

 private:
  /// Runs forward in evaluation mode over this rank's share of `data`, in batches of
  /// kEvalBatch; calls on_batch(first sample, n, logits (n, classes)) with labels_ filled.
  template <typename OnBatch>
  void for_each_eval_batch(const Dataset& data, OnBatch on_batch);
  /// Throws Error naming --model and --batch-size when the estimate of what training
  /// allocates on this node exceeds the memory available (core/memory.h).
  void require_training_memory(int local_batch) const;

  TrainConfig config_;
  DataSplits data_;
  Communicator& comm_;
  std::ostream* log_;
  std::unique_ptr<Sequential> model_;
  std::unique_ptr<Optimizer> optimizer_;
  std::unique_ptr<GradientSync> sync_;
  std::unique_ptr<StallWatchdog> watchdog_;  // deadline on each step's collectives
  ChannelStatsAllreduce batch_stats_;  // global-batch statistics for BatchNormalization
  std::function<void(std::size_t)> on_grads_ready_;
  Augmenter augmenter_;                          // training batches only
  std::unique_ptr<ReduceLrOnPlateau> plateau_;   // --lr-schedule plateau only
  EarlyStopping early_stopping_;
  double best_checkpoint_value_;                 // best monitored value so far (best.h5)
  std::vector<std::int32_t> labels_;  // (capacity) labels of this rank's share of a batch
  std::vector<std::int32_t> order_;   // this epoch's permutation of the training set
  std::vector<std::int32_t> eval_ids_;  // (capacity) sample indices of an evaluation batch
  bool live_progress_ = false;
  TrainPosition position_;
  EpochSums epoch_sums_;
  History history_;  // one row per completed epoch, Keras' key names
  StepTimings timings_;
  double diverged_loss_ = 0.0;
};

}  // namespace fmnist
