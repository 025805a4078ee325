#!/usr/bin/env bash
# Bad input ends with a one-line error naming the problem and a non-zero exit: no crash,
# no core dump, no hang. Run in one process and under mpirun -np 2.
set -uo pipefail
# shellcheck source=tests/scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
require_data

# Corrupt copies of the data.
truncated="$work/truncated" bad_magic="$work/bad-magic"
mkdir -p "$truncated" "$bad_magic"
cp "$data_dir"/*.gz "$truncated/"
cp "$data_dir"/*.gz "$bad_magic/"
size=$(stat -c %s "$data_dir/train-images-idx3-ubyte.gz")
head -c $((size / 2)) "$data_dir/train-images-idx3-ubyte.gz" >"$truncated/train-images-idx3-ubyte.gz"
{ printf '\x00\x00\x08\x02'; gunzip -c "$data_dir/train-labels-idx1-ubyte.gz" | tail -c +5; } |
  gzip -c >"$bad_magic/train-labels-idx1-ubyte.gz"
echo "model = cnn" >"$work/good.cfg"
printf 'model = cnn\nbogus-key = 3\n' >"$work/bad.cfg"
printf 'model = cnn-bn\naugment = flip,rotate\n' >"$work/bad-augment.cfg"

crashing_weights="$source_dir/tests/fuzz/regressions/keras_weights/hdf5-null-read.weights.h5"
looping_weights="$source_dir/tests/fuzz/regressions/keras_weights/hdf5-endless-loop.weights.h5"
bad_heap_weights="$source_dir/tests/fuzz/regressions/keras_weights/hdf5-vlen-bad-heap-address.h5"

# name | expected words in the message | arguments
cases=(
  "missing data folder|$work/nowhere|--data-dir $work/nowhere --max-steps 1"
  "truncated gzip|train-images-idx3-ubyte.gz|--data-dir $truncated --max-steps 1"
  "wrong magic|expected magic 0x00000801|--data-dir $bad_magic --max-steps 1"
  "unknown model|unknown model 'resnet'|--model resnet"
  "batch size 0|--batch-size|--batch-size 0"
  "negative lr|--lr|--lr -0.5"
  "unknown option|--bogus|--bogus"
  "bad option value|--epochs|--epochs many"
  "bad config key|bogus-key|--config $work/bad.cfg"
  "missing config|$work/none.cfg|--config $work/none.cfg"
  "bad spec token|token 'bogus'|--model conv32x3-bogus-dense10"
  "Keras weights that crash libhdf5 (found by fuzz_keras_weights)|crashes the HDF5 library|--evaluate $crashing_weights --model pool7-flatten-dense10 --data-dir $data_dir"
  "Keras weights on which libhdf5 never returns (found by fuzz_keras_weights)|did not finish reading|--evaluate $looping_weights --model pool7-flatten-dense10 --data-dir $data_dir"
  "Keras weights whose layer_names point outside the heap (found by fuzz_keras_weights)|cannot read attribute 'layer_names'|--evaluate $bad_heap_weights --model pool7-flatten-dense10 --data-dir $data_dir"
  "unknown augmentation|--augment: unknown augmentation 'rotate'|--augment flip,rotate"
  "unknown augmentation in a config file|--augment: unknown augmentation 'rotate'|--config $work/bad-augment.cfg"
  "shift out of range|unknown augmentation 'shift9'|--augment shift9"
  "unknown schedule|--lr-schedule|--lr-schedule linear"
  "watchdog comparison with the watchdog off|--benchmark-watchdog: expected the watchdog on|--benchmark --benchmark-watchdog --stall-warning 0 --stall-timeout 0"
  "plateau factor out of range|--plateau-factor: expected a value in (0, 1)|--lr-schedule plateau --plateau-factor 1.5"
  "cosine alpha out of range|--lr-alpha|--lr-schedule cosine --lr-alpha 2"
  "exponential without decay steps|--decay-steps|--lr-schedule exponential"
  "piecewise values count|--lr-values|--lr-schedule piecewise --lr-boundaries 100,200 --lr-values 0.1,0.01"
  "label smoothing out of range|--label-smoothing|--label-smoothing 1"
  "monitored metric that does not exist|metric 'val_acc' does not exist|--early-stopping-monitor val_acc"
  "validation metric without validation|--best-checkpoint-monitor: metric 'val_loss'|--best-checkpoint-monitor val_loss --validation-split 0"
  "plateau metric that does not exist|--plateau-monitor|--lr-schedule plateau --plateau-monitor lr"
  "bad monitor mode|--early-stopping-mode|--early-stopping-monitor loss --early-stopping-mode up"
  "batch larger than the training set|--batch-size: the global batch (100000000) exceeds the training set|--data-dir $data_dir --batch-size 100000000"
  "model over 100 GB|needs about 128.8 GiB|--data-dir $data_dir --model dense65536-dense65536-dense65536-dense10"
  "activations beyond memory|--batch-size 50000|--data-dir $data_dir --model cnn-deep --batch-size 50000 --validation-split 0"
  "absurd thread count|--threads: expected at most 1024|--threads 100000"
  "Boost message placeholder (looped forever)|'%value%'|--epochs %value%"
  "placeholder in a config file (looped forever)|'%canonical_option%'|--config $source_dir/tests/fuzz/regressions/config_file/placeholder-loop.cfg"
  "invalid line naming its own placeholder (looped forever)|'%invalid_line%'|--config $source_dir/tests/fuzz/regressions/config_file/invalid-line-loop.cfg"
)

for entry in "${cases[@]}"; do
  IFS='|' read -r label expect args <<<"$entry"
  read -r -a argv <<<"$args"
  expect_one_line_error "$label" "$expect" 0 "${argv[@]}"
done
# The same errors under MPI: every rank stops, the message appears once.
expect_one_line_error "truncated gzip" "train-images-idx3-ubyte.gz" 2 --data-dir "$truncated" --max-steps 1
expect_one_line_error "negative lr" "--lr" 2 --lr -0.5
expect_one_line_error "unknown augmentation" "--augment" 2 --augment flip,rotate
expect_one_line_error "monitored metric that does not exist" "val_acc" 2 --early-stopping-monitor val_acc
expect_one_line_error "batch smaller than ranks" "--batch-size" 4 --batch-size 3 --data-dir "$data_dir"
expect_one_line_error "Keras weights that crash libhdf5" "crashes the HDF5 library" 2 --init-from "$crashing_weights" \
  --model pool7-flatten-dense10 --epochs 0 --data-dir "$data_dir"
expect_one_line_error "model over 100 GB" "needs about" 2 --data-dir "$data_dir" --model dense65536-dense65536-dense65536-dense10
# More threads than cores is allowed, with a warning.
"$fmnist" --data-dir "$data_dir" --threads 16 --max-steps 1 --epochs 1 --output-dir "$work/threads" >"$work/threads.out" 2>&1 ||
  { cat "$work/threads.out"; fail "--threads 16 failed"; }
grep -q "warning: --threads 16 exceeds this node's" "$work/threads.out" || fail "no warning for --threads 16"
echo "bad inputs: all rejected cleanly"
