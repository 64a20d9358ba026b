#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz/ with clang (AddressSanitizer and
# UndefinedBehaviorSanitizer on) and runs each for a fixed time.
#
# Usage: scripts/fuzz.sh [--seconds N] [--keep-corpus] [TARGET...]
#   TARGET        pgoutput, pg_types, config (default: all three)
#   --seconds N   fuzzing time per target (default 25; scripts/test.sh uses 12)
#   --keep-corpus grow the corpus kept in $SLUICE_CACHE/fuzz-corpus/TARGET
#                 across runs (default: a throw-away copy of the seeds)
#
# For each target it first replays the reproducers committed under
# tests/fuzz/crashes/TARGET/ (each is a bug once found; it must not crash),
# then fuzzes from the committed seeds (tests/fuzz/corpus/TARGET/). It prints
# one line per target with libFuzzer's executions per second and coverage
# counters (cov: edges, ft: features) and, on a failure, where the crashing
# input was written. The last line is "N passed, M failed".
#
# A long run: scripts/fuzz.sh --seconds 600 --keep-corpus
# Environment: SLUICE_FUZZ_BUILD_DIR (default build-fuzz), SLUICE_CACHE.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
build=${SLUICE_FUZZ_BUILD_DIR:-$repo/build-fuzz}
seconds=25
keep=0
targets=()
while (($#)); do
    case $1 in
        --seconds) seconds=$2; shift 2 ;;
        --keep-corpus) keep=1; shift ;;
        -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
        pgoutput|pg_types|config|mysql_binlog) targets+=("$1"); shift ;;
        *) echo "fuzz.sh: unknown argument \"$1\"" >&2; exit 2 ;;
    esac
done
((${#targets[@]})) || targets=(pgoutput pg_types config mysql_binlog)

command -v clang >/dev/null || { echo "fuzz.sh: clang not found (run scripts/install-deps.sh)" >&2; exit 1; }
CC=clang cmake -S . -B "$build" -DSLUICE_FUZZ=ON -DSLUICE_TESTS=OFF \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
# A failed build must not leave an older binary to be fuzzed.
if ! cmake --build "$build" -j"$(nproc)" >"$build/build.log" 2>&1; then
    grep -vE '^\[ *[0-9]+%\]' "$build/build.log" | tail -n 30 >&2
    echo "fuzz.sh: the fuzz targets did not build"
    echo "0 passed, ${#targets[@]} failed"
    exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/sluice-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
artifacts=$build/artifacts
mkdir -p "$artifacts"
# Leaks are bugs too; a crash stops the target at once.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

passed=0
failed=0
for t in "${targets[@]}"; do
    bin=$build/tests/fuzz/fuzz_$t
    [[ -x $bin ]] || { echo "fuzz.sh: $bin was not built" >&2; exit 1; }
    log=$work/$t.log
    opts=(-timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024 -print_final_stats=1)
    [[ -f tests/fuzz/$t.dict ]] && opts+=("-dict=tests/fuzz/$t.dict")

    # Known reproducers first: one run each.
    regressions=()
    if compgen -G "tests/fuzz/crashes/$t/*" >/dev/null; then
        for f in tests/fuzz/crashes/"$t"/*; do
            # TMPDIR: the config target's sandbox goes where this script cleans up.
            if ! TMPDIR=$work "$bin" "${opts[@]}" "$f" >"$log.replay" 2>&1; then
                regressions+=("$f: $(grep -aE 'runtime error|fuzz_[a-z_]+: [a-z]|ERROR: |SUMMARY' "$log.replay" | head -1 | cut -c1-240)")
            fi
        done
    fi

    if ((keep)); then
        corpus=${SLUICE_CACHE:-$HOME/.cache/sluice}/fuzz-corpus/$t
        mkdir -p "$corpus"
    else
        corpus=$work/corpus-$t
        mkdir -p "$corpus"
    fi
    # Fork mode goes on after a crash, so one run reports every distinct
    # problem it meets in its time, with the figures of the whole run.
    find "$artifacts" -name "$t-*" -delete
    TMPDIR=$work "$bin" "${opts[@]}" -fork=1 -ignore_crashes=1 -ignore_timeouts=1 \
        -ignore_ooms=1 -max_total_time="$seconds" -artifact_prefix="$artifacts/$t-" \
        "$corpus" "tests/fuzz/corpus/$t" >"$log" 2>&1 || true
    last=$(grep -aE '^#[0-9]+: cov: ' "$log" | tail -1 || true)
    execs=$(sed -n 's/^#\([0-9]*\): .*/\1/p' <<<"$last")
    rate=$(sed -n 's/.*exec\/s \([0-9]*\).*/\1/p' <<<"$last")
    cov=$(sed -n 's/.*cov: \([0-9]*\).*/\1/p' <<<"$last")
    ft=$(sed -n 's/.*ft: \([0-9]*\).*/\1/p' <<<"$last")
    units=$(find "$corpus" -type f | wc -l)
    mapfile -t found < <(find "$artifacts" -name "$t-*" -type f | sort)
    figures="${execs:-0} executions, ${rate:-0} exec/s, cov ${cov:-?}, ft ${ft:-?}, corpus $units, ${#found[@]} crashing inputs"
    if ((${#found[@]} == 0 && ${#regressions[@]} == 0 && ${execs:-0} > 0)); then
        echo "fuzz $t: ok ($figures, ${seconds}s)"
        passed=$((passed + 1))
    else
        echo "fuzz $t: FAILED ($figures)"
        for r in "${regressions[@]}"; do echo "  known reproducer still fails: $r"; done
        for f in "${found[@]}"; do
            TMPDIR=$work "$bin" "${opts[@]}" "$f" >"$log.one" 2>&1 || true
            echo "  new: $f: $(grep -aE 'runtime error|fuzz_[a-z_]+: [a-z]|ERROR: ' "$log.one" | head -1 | cut -c1-240)"
        done
        failed=$((failed + 1))
    fi
done
echo "$passed passed, $failed failed"
((failed == 0))
