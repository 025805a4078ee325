#!/usr/bin/env bash
# launch/plot_run.py on a short real run: each of the four PNGs exists, has the pixel size the
# script documents (read from the PNG header), and is not blank (its pixels vary).
set -uo pipefail
# shellcheck source=tests/scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
require_data
require_debian_python h5py matplotlib

run="$work/run"
"$fmnist" --model mlp --epochs 2 --batch-size 256 --threads 1 --data-dir "$data_dir" \
  --output-dir "$run" --progress lines >"$work/train.log" 2>&1 || { cat "$work/train.log"; fail "training failed"; }
"$py" "$source_dir/launch/plot_run.py" "$run" >"$work/plots.log" 2>&1 || { cat "$work/plots.log"; fail "plot_run.py failed"; }
"$py" "$source_dir/launch/plot_run.py" "$run" --most-confused --out "$work/confused" >"$work/confused.log" 2>&1 ||
  { cat "$work/confused.log"; fail "plot_run.py --most-confused failed"; }

"$py" - "$run/plots" "$work/confused/predictions.png" <<'PY' || fail "PNG checks failed"
import struct, sys
import matplotlib.image
expected = {"learning_curves.png": (1200, 450), "confusion_matrix.png": (900, 800),
            "predictions.png": (1200, 1000), "train_samples.png": (1000, 1000)}
paths = {name: f"{sys.argv[1]}/{name}" for name in expected}
paths["most confused predictions.png"] = sys.argv[2]
expected["most confused predictions.png"] = expected["predictions.png"]
for name, path in paths.items():
    with open(path, "rb") as f:
        header = f.read(24)
    assert header[:8] == b"\x89PNG\r\n\x1a\n", f"{path}: not a PNG"
    width, height = struct.unpack(">II", header[16:24])
    assert (width, height) == expected[name], f"{path}: {width}x{height}, expected {expected[name]}"
    pixels = matplotlib.image.imread(path)
    spread = float(pixels[..., :3].std())
    dark = float((pixels[..., :3].mean(axis=2) < 0.5).mean())
    assert spread > 0.02 and dark > 0.001, f"{path}: looks blank (std {spread:.4f}, dark fraction {dark:.4f})"
    print(f"  {name}: {width}x{height}, pixel std {spread:.3f}, dark {100 * dark:.1f}%")
PY
echo "plots: all four kinds written and not blank"
