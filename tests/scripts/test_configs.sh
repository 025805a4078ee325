#!/usr/bin/env bash
# Every recipe in launch/configs/ is accepted as it is committed: `mpirun -np 2 fmnist_dist
# --config FILE` trains (2 steps here) and the configuration its checkpoint records holds every
# key of FILE at FILE's value (numbers compared as numbers: the program prints floats in full).
# Display and run-control keys are not part of a run's configuration and are not recorded.
set -uo pipefail
# shellcheck source=tests/scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
require_data
command -v h5dump >/dev/null || fail "h5dump is missing (Debian: hdf5-tools; launch/install-deps.sh installs it)"

configs=("$source_dir"/launch/configs/*.cfg)
[[ -f "${configs[0]}" ]] || fail "no launch/configs/*.cfg found"
for cfg in "${configs[@]}"; do
  name="$(basename "$cfg" .cfg)"
  out="$work/$name"
  mpi 2 "$fmnist" --config "$cfg" --max-steps 2 --data-dir "$data_dir" --output-dir "$out" \
    >"$work/$name.log" 2>&1 || fail "$name.cfg: the run failed: $(tail -n 3 "$work/$name.log")"
  checkpoint="$(ls "$out"/checkpoints/ckpt-*.h5 2>/dev/null | tail -n 1)"
  [[ -n "$checkpoint" ]] || fail "$name.cfg: no checkpoint in $out/checkpoints"
  # The root attribute "config": one 'key = value' per line.
  h5dump -a /config "$checkpoint" | sed -n 's/^[[:space:]]*\((0): "\)\{0,1\}\([a-z-]* = [^"]*\)"\{0,1\}$/\2/p' \
    >"$work/$name.recorded"
  grep -q '^model = ' "$work/$name.recorded" || fail "$name.cfg: cannot read the recorded config of $checkpoint"
  checked=0
  while IFS= read -r line; do
    [[ "$line" =~ ^[[:space:]]*# || ! "$line" =~ = ]] && continue
    key="$(sed 's/^[[:space:]]*\([^=[:space:]]*\)[[:space:]]*=.*/\1/' <<<"$line")"
    [[ "$key" == progress || "$key" == resume ]] && continue
    want="$(sed 's/^[^=]*=[[:space:]]*//; s/[[:space:]]*$//' <<<"$line")"
    got="$(sed -n "s/^$key = //p" "$work/$name.recorded" | head -n 1)"
    [[ -n "$got" ]] || fail "$name.cfg: key '$key' is not in the recorded config"
    if [[ "$want" =~ ^-?[0-9.]+([eE]-?[0-9]+)?$ && "$got" =~ ^-?[0-9.]+([eE]-?[0-9]+)?$ ]]; then
      awk -v a="$want" -v b="$got" 'BEGIN { d = a - b; if (d < 0) d = -d; m = a < 0 ? -a : a; exit !(d <= 1e-6 * m) }' ||
        fail "$name.cfg: $key = $want in the file, $got recorded"
    else
      [[ "$want" == "$got" ]] || fail "$name.cfg: $key = $want in the file, '$got' recorded"
    fi
    checked=$((checked + 1))
  done <"$cfg"
  ((checked >= 5)) || fail "$name.cfg: only $checked keys checked"
  echo "ok: $name.cfg ($checked keys as recorded, 2 steps at np=2)"
done
