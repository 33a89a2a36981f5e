#!/usr/bin/env bash
# A short libFuzzer run of one target for the test suite: a fixed seed and
# number of runs, starting from the committed corpus (and any extra seed
# directories), new inputs going to a scratch corpus in the build directory
# (the committed corpus is never written).
#
#   run-short.sh TARGET SCRATCH_DIR RUNS [DICT|-] SEED_DIR...
set -euo pipefail
target=$1 scratch=$2 runs=$3 dict=$4
shift 4
rm -rf "$scratch"
mkdir -p "$scratch"
args=(-seed=1 -runs="$runs" -error_exitcode=1 -timeout_exitcode=1 -max_len=4096 -timeout=10 -rss_limit_mb=2048
      -artifact_prefix="$scratch/" -print_final_stats=1)
[ "$dict" = - ] || args+=(-dict="$dict")
exec "$target" "${args[@]}" "$scratch" "$@"
