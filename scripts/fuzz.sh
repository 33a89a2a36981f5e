#!/usr/bin/env bash
# Long fuzzing runs: builds the libFuzzer targets (clang, -Dfuzz=true) and
# runs each for a number of inputs from its committed corpus, a working
# corpus kept in the build directory; prints executions, time, speed,
# coverage and corpus size per target and writes them to the "fuzz" section
# of BENCHMARKS.md (each row with its machine and date; a target not run
# from this build directory keeps its published row).  A crash stops with its
# reproducer in the build directory and exit status 1.
#
#   scripts/fuzz.sh [--runs N] [--jobs N] [--sanitize LIST] [--no-trace-cmp]
#                   [--build-dir DIR] [TARGET...]
#
#   --runs N         inputs per target (default 10000000)
#   --jobs N         targets run at once (default 1)
#   --sanitize LIST  sanitizers besides libFuzzer: address,undefined (default),
#                    undefined, or none
#   --no-trace-cmp   build without libFuzzer's comparison tracing: the same edge
#                    coverage guides the search and the same checks run, three to
#                    four times faster for the targets that simulate seconds of
#                    time per input, without the hints taken from compared values
#   TARGET           codec, session, arbiter, config, profile, modbus-decode,
#                    modbus-device, modbus-line (default all)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"
# shellcheck source=../bench/lib.sh
. bench/lib.sh

runs=10000000
jobs=1
sanitize=address,undefined
trace_cmp=yes
build_dir=
targets=()
while [ $# -gt 0 ]; do
        case "$1" in
        --runs) runs=$2; shift ;;
        --jobs) jobs=$2; shift ;;
        --sanitize) sanitize=$2; shift ;;
        --no-trace-cmp) trace_cmp=no ;;
        --build-dir) build_dir=$2; shift ;;
        -h|--help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
        *) targets+=("$1") ;;
        esac
        shift
done
all_targets=(codec session arbiter config profile modbus-decode modbus-device modbus-line)
[ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")
for t in "${targets[@]}"; do
        [[ " ${all_targets[*]} " == *" $t "* ]] || { echo "fuzz.sh: no target $t (${all_targets[*]})" >&2; exit 2; }
done
case "$sanitize" in
address,undefined|undefined|none) ;;
*) echo "fuzz.sh: --sanitize takes address,undefined, undefined or none" >&2; exit 2 ;;
esac
setup_args=(-Dfuzz=true -Db_sanitize="$sanitize" -Db_lundef=false)
suffix=
if [ "$trace_cmp" = no ]; then
        setup_args+=(-Dc_args=-fno-sanitize-coverage=trace-cmp)
        suffix=-no-trace-cmp
fi
build_dir=${build_dir:-build-fuzz-${sanitize//,/-}$suffix}

if [ ! -d "$build_dir" ]; then
        CC=clang meson setup "$build_dir" "${setup_args[@]}" >/dev/null
fi
ninja -C "$build_dir" $(printf 'tests/fuzz/fuzz-%s ' "${targets[@]}") >/dev/null

declare -A dict=([config]=tests/fuzz/config.dict [profile]=tests/fuzz/profile.dict)
declare -A extra=([config]=conf [profile]=conf/profiles)
# Longest input per target: a session of 1024 bytes already holds several
# whole charges; the text parsers get longer files.
declare -A max_len=([session]=1024)

# fuzz_one TARGET: one long run; its table row in $build_dir/fuzz-work/TARGET.row.
fuzz_one() {
        local t=$1 work log args start end execs last cov ft corpus rc rate
        work=$build_dir/fuzz-work/$t
        mkdir -p "$work"
        log=$build_dir/fuzz-work/$t.log
        rm -f "$build_dir/fuzz-work/$t.row"
        args=(-seed=1 -runs="$runs" -max_len="${max_len[$t]:-4096}" -timeout=10 -rss_limit_mb=2048
              -error_exitcode=1 -timeout_exitcode=1 -print_final_stats=1
              -artifact_prefix="$build_dir/fuzz-work/$t-")
        [ -z "${dict[$t]:-}" ] || args+=(-dict="${dict[$t]}")
        echo "== fuzz-$t: $runs inputs"
        start=$(date +%s.%N)
        rc=0
        "$build_dir/tests/fuzz/fuzz-$t" "${args[@]}" "$work" "tests/fuzz/corpus/$t" ${extra[$t]:+"${extra[$t]}"} \
                >"$log" 2>&1 || rc=$?
        end=$(date +%s.%N)
        execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
        last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
        cov=$(sed -nE 's/.* cov: ([0-9]+) .*/\1/p' <<<"$last")
        ft=$(sed -nE 's/.* ft: ([0-9]+) .*/\1/p' <<<"$last")
        corpus=$(find "$work" -type f | wc -l)
        if [ "$rc" -ne 0 ]; then
                tail -n 40 "$log" >&2
                echo "fuzz-$t: FAILED (exit $rc); reproducer: $(ls "$build_dir"/fuzz-work/"$t"-* 2>/dev/null | head -n 1)" >&2
                return 1
        fi
        rate=$(awk -v e="$execs" -v a="$start" -v b="$end" 'BEGIN { printf "%.0f", (b - a > 0 ? e / (b - a) : e) }')
        secs=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.0f", b - a }')
        echo "fuzz-$t: $execs inputs in $secs s ($rate/s), cov $cov, ft $ft, corpus $corpus, no crash"
        echo "| \`fuzz-$t\` | $execs | $secs | $rate | $cov | $ft | $corpus | 0 | $trace_cmp | $(bench_machine) |" \
                >"$build_dir/fuzz-work/$t.row"
}

mkdir -p "$build_dir/fuzz-work"
failed=0
pids=()
for t in "${targets[@]}"; do
        while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
                wait -n || failed=1
        done
        fuzz_one "$t" &
        pids+=($!)
done
for p in "${pids[@]}"; do
        wait "$p" || failed=1
done
[ "$failed" = 0 ] || exit 1
# The section holds every target's latest clean run in this build directory
# (a target rerun alone after a fix replaces its own row); a target not run
# from here keeps its published row (rows of the former layout, without the
# machine column, get the machine and date their header gave; rows from
# before the comparison tracing column were all traced).
published=$(sed -n '/^<!-- bench:fuzz -->$/,/^<!-- \/bench:fuzz -->$/p' "$BENCH_MD")
old_machine=$(sed -nE 's/.*shipped config and profiles as seeds\); (.*)\.$/\1/p' <<<"$published" | head -n 1)
rows=()
fresh=0
for t in "${all_targets[@]}"; do
        if [ -f "$build_dir/fuzz-work/$t.row" ]; then
                rows+=("$(cat "$build_dir/fuzz-work/$t.row")")
                fresh=1
        elif row=$(grep -F "| \`fuzz-$t\` |" <<<"$published"); then
                [ "$(tr -cd '|' <<<"$row" | wc -c)" -ge 10 ] || row="$row ${old_machine:-unknown} |"
                [ "$(tr -cd '|' <<<"$row" | wc -c)" -ge 11 ] || row=$(sed -E 's/^(.*)\| ([^|]*) \|$/\1| yes | \2 |/' <<<"$row")
                rows+=("$row")
        fi
done

if [ "$fresh" = 1 ]; then
        md=$(mktemp)
        {
                echo "## Fuzzing"
                echo
                echo "Command: \`scripts/fuzz.sh [--runs N] --sanitize $sanitize [--no-trace-cmp] [TARGET]\`, N and comparison"
                echo "tracing as in the table (libFuzzer, clang $(clang --version | sed -n 's/.*clang version \([0-9.]*\).*/\1/p' | head -n 1), sanitizers: $sanitize; seed 1;"
                echo "committed corpus plus the shipped config and profiles as seeds), each row with the machine and"
                echo "date of its run. \"no\" in the tracing column: built with \`--no-trace-cmp\` (edge coverage only,"
                echo "the same checks; the targets that simulate seconds of time per input run three to four times faster)."
                echo "The invariants each target checks are in \`tests/fuzz/README.md\`."
                echo
                echo "| target | inputs run | seconds | inputs/s | coverage (edges) | features | corpus | crashes | comparisons traced | machine, date |"
                echo "|---|---|---|---|---|---|---|---|---|---|"
                printf '%s\n' "${rows[@]}"
                echo
                echo "The test suite runs each target briefly (\`meson test --suite fuzz\` in a"
                echo "\`-Dfuzz=true\` build, part of \`scripts/test.sh\`) and replays the corpora in"
                echo "every other build."
        } >"$md"
        bench_write_section fuzz "$md"
        rm -f "$md"
        echo "fuzz.sh: figures written to BENCHMARKS.md"
fi
