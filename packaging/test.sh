#!/usr/bin/env bash
# Sets up and builds gflowmix like run.sh, then runs every test (the `slow` ones included).
# Extra arguments go to ctest, e.g. packaging/test.sh -LE slow
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$build"
ctest --output-on-failure --timeout 3000 "$@"
