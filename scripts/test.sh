#!/usr/bin/env bash
# Runs every test of sluice on this machine, installing what is missing:
# Debian packages, the Kafka jars and Oracle MySQL (scripts/install-deps.sh),
# a build with AddressSanitizer and UndefinedBehaviorSanitizer, the unit
# tests, the fuzz targets (scripts/fuzz.sh), then real PostgreSQL 15, Kafka 4,
# MariaDB 10.11 and MySQL 9.7 servers and a schema registry (Apicurio)
# started on loopback in a temporary
# directory for the integration tests and the fault-injection suite
# (tests/faults/, with toxiproxy), the container image built and run against
# them (tests/container/run.sh), and the benchmark harness's smoke mode.
#
# Usage: scripts/test.sh [unit|fuzz|integration|faults|faults-long|container|handover|handover-mysql|bench|snapshot-long]...
#   default: unit fuzz integration handover faults container bench
#   fuzz         the libFuzzer targets of tests/fuzz/, SLUICE_FUZZ_SECONDS each
#                (default 8; scripts/fuzz.sh --seconds 600 is the long run)
#   faults       the fault-injection suite (tests/faults/), a short randomised run
#   faults-long  the same, longer: SLUICE_FAULT_CYCLES kill -9 cycles (default
#                100) and more load; SLUICE_FAULT_SEED repeats a run
#   container    docker/Dockerfile built with podman and run against the servers
#   handover     a real Debezium 3.6.1 in a Kafka Connect worker hands its
#                offsets over to sluice and back through the offsets topic
#                (tests/handover/; about 20 s once Debezium is cached)
#   handover-mysql  the same with Debezium's MariaDB 3.5.0 and MySQL 3.6.1
#                connectors (tests/handover/test_handover_mysql.c): exactly
#                once both ways, and the column transforms compared with
#                Debezium's (test_mysql_transforms_debezium.c); 2-5 minutes,
#                so not in the default run
#   snapshot-long  tests/integration/test_pg_snapshot.c with the kill -9 table
#                at the issue's size: SLUICE_SNAPSHOT_KILL_ROWS rows (default
#                10,000,000; the default run uses 100,000). Allow an hour and
#                5 GB in the temporary directory on a 2-core machine
# Environment: SLUICE_BUILD_DIR (default build-test), SLUICE_KEEP_TMP=1 keeps
# the services' directory for a look after a failure, SLUICE_CTEST_REGEX runs
# only the ctest tests whose names match (e.g. mysql).
#
# Other PostgreSQL versions (not in the default run): SLUICE_TEST_PG_MAJOR=N
# starts PostgreSQL N instead of the system's 15, from Debian's postgresql-N
# unpacked by scripts/fetch-postgres.sh (13: bullseye, 17: trixie, 18: sid;
# fetched once, about 15 s, then cached), e.g.
#   SLUICE_TEST_PG_MAJOR=13 SLUICE_CTEST_REGEX='test_pg_(stream|inprogress|snapshot)$' \
#       scripts/test.sh integration
# 13 is the last version without pgoutput protocol 2 (no streaming of
# transactions in progress, no logical decoding messages).
#
# MySQL comes from Debian sid (scripts/fetch-mysql.sh). When it could not be
# fetched, its tests do not run: the summary says "NOT RUN: ..." and counts
# that as a failure, unless SLUICE_ALLOW_MISSING_MYSQL=1.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
build=${SLUICE_BUILD_DIR:-$repo/build-test}
stages=("$@")
((${#stages[@]})) || stages=(unit fuzz integration handover faults container bench)
want() { local s; for s in "${stages[@]}"; do [[ $s == "$1" ]] && return 0; done; return 1; }

# Each stage's heading; the summary lists how long each took (the run must stay
# under 20 minutes on a 2-core machine).
stage_times=()
stage_name=
stage_start=$SECONDS
say() {
    [[ -n $stage_name ]] && stage_times+=("$(printf '%5d s  %s' $((SECONDS - stage_start)) "$stage_name")")
    stage_name=$* stage_start=$SECONDS
    printf '\n== %s\n' "$*"
}

say "dependencies"
bash scripts/install-deps.sh

say "build (ASan + UBSan)"
cmake -S . -B "$build" -DSLUICE_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build "$build" -j"$(nproc)" 2>&1 | grep -vE '^\[ *[0-9]+%\]' || true
[[ -x $build/sluice ]] || { echo "build failed" >&2; exit 1; }

# The optimised build users get (scripts/demo.sh, the benchmark) must compile
# cleanly too: -O3 finds warnings -O0 does not.
say "build (Release)"
release=${build}-release
cmake -S . -B "$release" -DCMAKE_BUILD_TYPE=Release -DSLUICE_TESTS=OFF >/dev/null
cmake --build "$release" -j"$(nproc)" 2>&1 | grep -vE '^\[ *[0-9]+%\]' || true
[[ -x $release/sluice ]] || { echo "release build failed" >&2; exit 1; }

# The sanitizers make any leak, overflow or undefined behaviour a failure.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:halt_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

passed=0
failed=0
failures=()
not_run=()
run_ctest() { # label
    local label=$1 log
    log=$(mktemp)
    local -a only=()
    [[ -n ${SLUICE_CTEST_REGEX:-} ]] && only=(-R "$SLUICE_CTEST_REGEX")
    # Unit tests share nothing, so they run side by side; the others share
    # the run's servers, topics and slots and run one at a time.
    local -a jobs=()
    [[ $label == unit ]] && jobs=(-j "$(nproc)")
    if (cd "$build" && ctest -L "^$label\$" "${only[@]}" "${jobs[@]}" --output-on-failure --timeout 900) >"$log" 2>&1; then
        :
    fi
    cat "$log"
    local p f
    p=$(grep -cE '^ *[0-9]+/[0-9]+ Test +#[0-9]+: .* Passed' "$log" || true)
    f=$(grep -cE '^ *[0-9]+/[0-9]+ Test +#[0-9]+: .*(\*\*\*|Failed|Exception|Timeout)' "$log" || true)
    passed=$((passed + p))
    failed=$((failed + f))
    if ((f)); then
        mapfile -t -O "${#failures[@]}" failures < <(grep -E '^ *[0-9]+/[0-9]+ Test +#[0-9]+: .*(\*\*\*|Failed|Exception|Timeout)' "$log")
    fi
    rm -f "$log"
}

if want unit; then
    say "unit tests"
    run_ctest unit
fi

if want fuzz; then
    # Each libFuzzer target for a short fixed time (SLUICE_FUZZ_SECONDS, 8 by
    # default); scripts/fuzz.sh --seconds 600 is the long run.
    say "fuzz targets (${SLUICE_FUZZ_SECONDS:-8} s each)"
    log=$(mktemp)
    bash scripts/fuzz.sh --seconds "${SLUICE_FUZZ_SECONDS:-8}" 2>&1 | tee "$log" | grep -vE '^\[ *[0-9]+%\]' || true
    passed=$((passed + $(grep -cE '^fuzz [a-z_]+: ok' "$log" || true)))
    f=$(grep -cE '^fuzz [a-z_]+: FAILED' "$log" || true)
    if ! grep -qE '^fuzz [a-z_]+: ' "$log"; then
        f=1
        failures+=("scripts/fuzz.sh (no target ran)")
    fi
    failed=$((failed + f))
    mapfile -t -O "${#failures[@]}" failures < <(grep -E '^fuzz [a-z_]+: FAILED' "$log" || true)
    rm -f "$log"
fi

want_faults=0
if want faults || want faults-long; then want_faults=1; fi

if want integration || want container || want handover || want handover-mysql || want bench || want snapshot-long || ((want_faults)); then
    # shellcheck source=../tests/lib/services.sh
    source tests/lib/services.sh
    trap svc_stop_all EXIT
    trap 'exit 130' INT TERM
    svc_init
    # --ssl: ssl=on (clients still choose; sluice's default sslmode prefer
    # takes TLS), for tests/integration/test_tls.c's verify-full cases.
    svc_pg_start --ssl
    # --proxied: a second listener advertised at toxiproxy's port, for the
    # fault suite's network faults between sluice and Kafka; --tls: SSL and
    # SASL_SSL listeners for test_tls.c.
    svc_kafka_start --proxied --tls
    if ((want_faults)); then svc_toxiproxy_start; fi
    # Apicurio Registry (Confluent's API) for the Avro tests and the bench's
    # sluice-kafka-avro; it also exports the Python reader (SLUICE_TEST_PYTHON).
    if want integration || want bench; then svc_registry_start; fi
    export SLUICE_TEST_BINARY="$build/sluice"
    SLUICE_TEST_PG_RESTART=$(svc_pg_restart_command)
    export SLUICE_TEST_PG_RESTART
    export SLUICE_TEST_TMPDIR="$SVC_TMPDIR"
fi

if want integration || want handover-mysql; then
    svc_mariadb_start
    SLUICE_TEST_MARIADB_RESTART=$(svc_mariadb_restart_command)
    export SLUICE_TEST_MARIADB_RESTART
    # 2: MySQL is not in the cache. The tests that need it then skip with
    # the reason in SLUICE_TEST_MYSQL97_MISSING (without it they fail, so a
    # run outside this script cannot skip them silently).
    mysql_rc=0
    svc_mysql_start 2>"$SVC_TMPDIR/mysql-start.err" || mysql_rc=$?
    cat "$SVC_TMPDIR/mysql-start.err" >&2
    if ((mysql_rc == 2)); then
        SLUICE_TEST_MYSQL97_MISSING=$(sed -n 's/^services: error: //p' "$SVC_TMPDIR/mysql-start.err" | head -n 1)
        export SLUICE_TEST_MYSQL97_MISSING=${SLUICE_TEST_MYSQL97_MISSING:-MySQL is not available}
        not_run+=("MySQL 9.7 integration tests (criterion tests named mysql97_*): $SLUICE_TEST_MYSQL97_MISSING")
    elif ((mysql_rc != 0)); then
        failed=$((failed + 1))
        failures+=("svc_mysql_start (MySQL 9.7 did not start; its tests fail below)")
    else
        SLUICE_TEST_MYSQL97_RESTART=$(svc_mysql_restart_command)
        export SLUICE_TEST_MYSQL97_RESTART
    fi
fi

if want integration; then
    say "integration tests (PostgreSQL ${SLUICE_TEST_PG_PORT}, Kafka ${SLUICE_TEST_KAFKA}, MariaDB ${SLUICE_TEST_MARIADB_PORT}, MySQL ${SLUICE_TEST_MYSQL97_PORT:-not running})"
    run_ctest integration
fi

if want handover; then
    # A real Debezium in a Kafka Connect distributed worker (bench/lib/
    # debezium.sh, resolved from Maven Central once and cached).
    say "offsets hand-over with Debezium 3.6.1 (Kafka Connect distributed worker)"
    # shellcheck source=../bench/lib/debezium.sh
    source bench/lib/debezium.sh
    if dbz_install; then
        run_ctest handover
    else
        failed=$((failed + 1))
        failures+=("dbz_install (Debezium could not be installed; the hand-over did not run)")
    fi
fi

if want handover-mysql; then
    say "offsets hand-over with Debezium's MariaDB and MySQL connectors"
    # shellcheck source=../bench/lib/debezium.sh
    source bench/lib/debezium.sh
    if dbz_install; then
        run_ctest handover-mysql
    else
        failed=$((failed + 1))
        failures+=("dbz_install (Debezium could not be installed; the MySQL hand-over did not run)")
    fi
fi

if want snapshot-long; then
    export SLUICE_SNAPSHOT_KILL_ROWS=${SLUICE_SNAPSHOT_KILL_ROWS:-10000000}
    say "snapshot tests, kill -9 in a table of $SLUICE_SNAPSHOT_KILL_ROWS rows"
    log=$(mktemp)
    (cd "$build" && ctest -R '^integration/test_pg_snapshot$' --output-on-failure --timeout 7200) 2>&1 |
        tee "$log" || true
    if grep -qE '^ *[0-9]+/[0-9]+ Test +#[0-9]+: .* Passed' "$log"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        failures+=("integration/test_pg_snapshot with SLUICE_SNAPSHOT_KILL_ROWS=$SLUICE_SNAPSHOT_KILL_ROWS")
    fi
    rm -f "$log"
fi

if want container; then
    say "container image (docker/Dockerfile, built and run with podman)"
    if bash tests/container/run.sh; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        failures+=("tests/container/run.sh")
    fi
fi

if ((want_faults)); then
    mode=short
    want faults-long && mode=long
    say "fault-injection suite ($mode)"
    export FAULT_TOOL=$build/fault_tool
    # shellcheck source=../tests/faults/faults.sh
    source tests/faults/faults.sh
    fault_suite "$mode" || true
    passed=$((passed + FAULT_PASSED))
    failed=$((failed + FAULT_FAILED))
    ((${#FAULT_FAILURES[@]})) && failures+=("${FAULT_FAILURES[@]}")
fi

if want bench && [[ -x bench/run.sh ]]; then
    say "benchmark harness, smoke mode"
    if bash bench/run.sh --smoke --sluice "$release/sluice" --reuse-services; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        failures+=("bench/run.sh --smoke")
    fi
fi

say "summary"
printf '%s\n' "${stage_times[@]}"
echo "total ${SECONDS} s"
for f in "${failures[@]}"; do echo "FAILED: $f"; done
for n in "${not_run[@]}"; do
    echo "NOT RUN: $n"
    if [[ ${SLUICE_ALLOW_MISSING_MYSQL:-0} == 1 ]]; then
        echo "         (not counted as a failure: SLUICE_ALLOW_MISSING_MYSQL=1)"
    else
        failed=$((failed + 1))
    fi
done
echo "$passed passed, $failed failed"
((failed == 0))
