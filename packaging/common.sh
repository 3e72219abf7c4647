# Shared by run.sh and test.sh: install what is missing, then configure and build Release.
# shellcheck shell=bash
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build="${GFLOWMIX_BUILD_DIR:-$root/build}"

"$root/packaging/install-deps"

jobs=$(nproc 2>/dev/null || echo 2)
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j "$jobs"
