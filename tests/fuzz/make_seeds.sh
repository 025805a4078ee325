#!/usr/bin/env bash
# Writes the committed seed corpora of the fuzz targets into tests/fuzz/seeds/ (small valid
# inputs, plus near misses): IDX files (raw and gzip), --config files, two checkpoints of a
# tiny model written by fmnist_dist itself (so they are real, sealed files), and that model's
# Keras weights: the Keras 3 file --export-keras writes and a legacy tf.keras layout of the same
# arrays (written with Debian's python3-h5py).
#   make_seeds.sh BUILD_DIR DATA_DIR
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
fmnist="$(cd "${1:?build dir}" && pwd)/fmnist_dist"
data_dir="${2:?data dir}"
seeds="$here/seeds"
mkdir -p "$seeds"/{idx_reader,checkpoint_reader,config_file,keras_weights}

# IDX3: magic 0x00000803, count 2, rows 2, cols 3, then 12 pixels; IDX1: magic 0x00000801,
# count 3, labels 0 9 4.
idx="$seeds/idx_reader"
printf '\x00\x00\x08\x03\x00\x00\x00\x02\x00\x00\x00\x02\x00\x00\x00\x03\x00\x10\x20\x30\x40\x50\x60\x70\x80\x90\xa0\xff' >"$idx/images-2x2x3.idx3"
printf '\x00\x00\x08\x01\x00\x00\x00\x03\x00\x09\x04' >"$idx/labels-3.idx1"
gzip -n -9 -c "$idx/images-2x2x3.idx3" >"$idx/images-2x2x3.idx3.gz"
gzip -n -9 -c "$idx/labels-3.idx1" >"$idx/labels-3.idx1.gz"
# The first image of the real test set, with the count patched to 1.
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
gunzip -c "$data_dir/t10k-images-idx3-ubyte.gz" >"$work/t10k.idx3"
{ head -c 4 "$work/t10k.idx3"; printf '\x00\x00\x00\x01'; head -c 800 "$work/t10k.idx3" | tail -c +9; } >"$idx/fashion-1.idx3"
printf '\x00\x00\x08\x01\x00\x00\x00\x02\x00\x0a' >"$idx/labels-out-of-range.idx1"

cfg="$seeds/config_file"
printf 'model = cnn\nepochs = 3\nbatch-size = 64\n' >"$cfg/basic.cfg"
printf '# a comment\nmodel = conv32x3samelinear-bn-relu-pool2-flatten-drop0.5-dense10\noptimizer = sgd\nlr = 0.1\nmomentum = 0.9\nnesterov = true\n' >"$cfg/sgd-bn.cfg"
printf 'threads = 2\nstall-warning = 30\nstall-timeout = 120\ncheckpoint-every = 100\nkeep-checkpoints = 5\nresume = auto\nbucket-mb = 0.5\nprogress = lines\nvalidation-split = 0\nno-normalize = true\nseed = 7\nmax-steps = 10\n' >"$cfg/run-control.cfg"
printf 'model = dense99999-dense10\nbatch-size = -1\n' >"$cfg/bad-values.cfg"

ck="$seeds/checkpoint_reader"
for optimizer in sgd adam; do
  "$fmnist" --data-dir "$data_dir" --model pool7-flatten-dense10 --optimizer "$optimizer" --max-steps 2 \
    --epochs 1 --batch-size 8 --validation-split 0 --threads 1 --output-dir "$work/$optimizer" >/dev/null
  cp "$(ls "$work/$optimizer"/checkpoints/ckpt-*.h5 | tail -n 1)" "$ck/pool7-dense10-$optimizer.h5"
done
kw="$seeds/keras_weights"
"$fmnist" --export-keras "$ck/pool7-dense10-adam.h5" --output "$work/pool7-dense10.weights.h5" >/dev/null
cp "$work/pool7-dense10.weights.h5" "$kw/pool7-dense10.weights.h5"
/usr/bin/python3 - "$work/pool7-dense10.weights.h5" "$kw/pool7-dense10-legacy.h5" <<'PY'
import sys, h5py
with h5py.File(sys.argv[1], "r") as src, h5py.File(sys.argv[2], "w") as dst:
    names = [n for n in src["layers"] if len(src["layers"][n]["vars"]) > 0]
    dst.attrs["layer_names"] = [n.encode() for n in names]
    for n in names:
        group = dst.create_group(n)
        weights = [f"{n}/{'kernel' if i == '0' else 'bias'}:0" for i in src["layers"][n]["vars"]]
        group.attrs["weight_names"] = [w.encode() for w in weights]
        for i, w in zip(src["layers"][n]["vars"], weights):
            group.create_dataset(w, data=src["layers"][n]["vars"][i][()])
PY
ls -l "$seeds"/*
