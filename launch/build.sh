#!/usr/bin/env bash
# Configures and builds fmnist_dist (Release) in build/ unless it is up to date.
# Usage: launch/build.sh [extra cmake -D options]
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${FMNIST_BUILD_DIR:-$repo_root/build}"

if [[ "${1:-}" == "--help" || "${1:-}" == "-h" ]]; then
  echo "Usage: launch/build.sh [cmake -D options]   (build folder: \$FMNIST_BUILD_DIR or build/)"
  exit 0
fi

if [[ ! -f "$build_dir/CMakeCache.txt" || $# -gt 0 ]]; then
  cmake -S "$repo_root" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
fi
cmake --build "$build_dir" --parallel "$(nproc)" -- --no-print-directory >/dev/null
echo "built $build_dir/fmnist_dist"
