#!/usr/bin/env bash
# Sets up, builds and starts gflowmix on the default experiment. Without a display it trains the
# default experiment headless and says where the session and figures went.
# Usage: packaging/run.sh [CONFIG.json | SESSION.gflowmix] [gflowmix options]
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

default="$root/resources/experiments/default.json"
if [[ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]]; then
  if (($# == 0)); then
    exec "$build/app/gflowmix" "$default" --start
  fi
  exec "$build/app/gflowmix" "$@"
fi

out="${GFLOWMIX_OUT:-$root/out}"
mkdir -p "$out"
config="${1:-$default}"
session="$out/$(basename "${config%.*}").gflowmix"
echo "gflowmix: no display; training $config headless" >&2
"$build/app/gflowmix-cli" train "$config" --out "$session" "${@:2}"
"$build/app/gflowmix-cli" eval "$session"
if "$build/app/gflowmix-cli" export "$session" --figure all --out "$out/figures" 2>/dev/null; then
  echo "gflowmix: figures in $out/figures" >&2
fi
echo "gflowmix: session written to $session" >&2
