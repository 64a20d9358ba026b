#!/usr/bin/env bash
# The benchmark harness: runs the same change workloads against sluice and
# the programs it is measured against, one after the other on the same
# PostgreSQL and Kafka, and writes a markdown table and a chart of rates,
# memory, CPU and latency, with the ratios that sluice's goals are stated in.
# docs/benchmarks.md explains the numbers and how they are measured.
#
# Usage: bench/run.sh [OPTIONS]
#   --smoke             tiny workloads (W1, W2L, W3, S1 and, on MariaDB, MW1
#                       and MW2L, the latter with sluice-kafka only, unless
#                       --workloads),
#                       one run each: checks that the harness and every
#                       contender work (the test suite runs this); S1 runs
#                       without Debezium unless --contenders names it
#   --runs N            runs of each workload per contender (default 3)
#   --workloads LIST    comma-separated, from W1,W2,W2L,W3,W5,S1,S1W (default all)
#                       and the MySQL/MariaDB ones MW1,MW1N,MW2L,MW3,MWC,MWCS
#                       (bench/lib/mysql.sh; only when named; the catch-ups
#                       MWC and MWCS are not among --smoke's)
#   --mysql-servers L   servers the MySQL workloads run on, from mariadb,mysql
#                       (default both)
#   --contenders LIST   comma-separated, from pg_recvlogical,copy,sluice-file,
#                       sluice-kafka,sluice-kafka-avro,debezium,debezium-avro,
#                       binlog-tool,sluice-file-stream,sluice-kafka-stream
#                       (default all but debezium-avro).
#                       binlog-tool (mariadb-binlog/mysqlbinlog) runs the MySQL
#                       workloads only, pg_recvlogical and
#                       the -avro ones run the W workloads only, copy the S
#                       ones; W5 runs pg_recvlogical and the sluice-file and
#                       sluice-kafka ones only, and the -stream ones (sluice
#                       with stream.in.progress.transactions, spooling to
#                       TMPDIR) run W5 only. The -avro ones write Avro with a schema registry
#                       (Apicurio, started here unless --reuse-services finds
#                       SLUICE_TEST_REGISTRY); debezium-avro uses Apicurio's
#                       Avro converter.
#   --scale F           multiply every workload's size by F (default 1)
#   --rate N            transactions/s offered in W2L and MW2L (default 5000)
#   --sluice PATH       the sluice binary (default: build one in build-bench/)
#   --build-type T      CMake build type of that build (default Release)
#   --label TEXT        what the sluice binary is, for the results (default:
#                       the repository's commit)
#   --reuse-services    use the PostgreSQL and Kafka whose SLUICE_TEST_* and
#                       PG* variables are exported (scripts/test.sh); neither
#                       start nor stop them
#   --results DIR       where results go (default bench/results/<timestamp>)
#   --publish           copy this run's table and chart into docs/
#   --keep              keep contender logs, outputs and topics of every run
#   --sluice-set K=V    add K=V to sluice's configuration (repeatable), e.g.
#                       --sluice-set kafka.linger.ms=20 to try a setting
#   --perf              record a CPU profile of every sluice run with perf
#                       (perf record -g; it slows sluice down, so use it for
#                       profiles, not for figures); the top functions go to
#                       RESULTS/perf-<run>.txt
#
# Workloads (full size; --smoke and --scale shrink them):
#   W1   1,000,000 rows of six columns inserted in transactions of 10,000
#        rows, then updated, then deleted (3,000,000 changes)
#   W2   200,000 single-row transactions from 8 pgbench clients, as fast as
#        they go (throughput)
#   W2L  100,000 single-row transactions from 4 pgbench clients paced at
#        --rate per second (commit-to-acknowledgement latency)
#   W3   100,000 rows of about 2 KB inserted in transactions of 1,000 rows
#   W5   5,000,000 rows of six columns inserted in one transaction (a large
#        transaction: peak RSS shows whether memory stays flat; 20,000 rows
#        in smoke mode, which runs it only when --workloads names it)
#   S1   an initial snapshot of 2,000,000 rows of six columns, while 2,000
#        changes are made to the table as it starts; the rate is
#        rows per second from the slot's creation to the table's row count of
#        events delivered, and every run replays the events per key against
#        the table (the snapshot/stream seam). The contender copy is psql's
#        \copy of the table to /dev/null: the server's own export rate.
#        Keys and values are written without schemas (schemas.enable=false),
#        by every contender alike
#   S1W  the same with 200,000 rows of about 2 KB
#
# Environment: SLUICE_CACHE (jars), SLUICE_DBZ_HEAP_OPTS (Debezium's JVM
# heap), SLUICE_BENCH_STALL (seconds without progress before a contender is
# declared stuck; default 60, 20 in smoke mode).
set -euo pipefail

# The whole script is one compound command, so bash reads all of it before
# running any: editing the file during a long run cannot derail that run.
{
bench_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$bench_dir/.." && pwd)

all_workloads=(W1 W2 W2L W3 W5 S1 S1W)
all_contenders=(pg_recvlogical copy sluice-file sluice-kafka sluice-kafka-avro debezium debezium-avro
    binlog-tool sluice-file-stream sluice-kafka-stream)
default_contenders=(pg_recvlogical copy sluice-file sluice-kafka sluice-kafka-avro debezium binlog-tool
    sluice-file-stream sluice-kafka-stream)
mysql_workloads=(MW1 MW1N MW2L MW3 MWC MWCS)
mysql_servers=mariadb,mysql mysql_servers_given=0

smoke=0 runs='' workloads='' contenders='' scale=1 contenders_given=0 rate=5000 sluice='' reuse=0
results='' publish=0 keep=0 build_type=Release perf=0
sluice_set=() label=

usage() { sed -n '/^# Usage/,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }
die() { printf 'bench: error: %s\n' "$*" >&2; exit 1; }
say() { printf 'bench: %s\n' "$*" >&2; }

while (($#)); do
    case $1 in
        --smoke) smoke=1 ;;
        --runs) runs=${2:?}; shift ;;
        --workloads) workloads=${2:?}; shift ;;
        --mysql-servers) mysql_servers=${2:?}; mysql_servers_given=1; shift ;;
        --contenders) contenders=${2:?}; contenders_given=1; shift ;;
        --scale) scale=${2:?}; shift ;;
        --rate) rate=${2:?}; shift ;;
        --sluice) sluice=${2:?}; shift ;;
        --build-type) build_type=${2:?}; shift ;;
        --label) label=${2:?}; shift ;;
        --reuse-services) reuse=1 ;;
        --results) results=${2:?}; shift ;;
        --publish) publish=1 ;;
        --keep) keep=1 ;;
        --perf) perf=1 ;;
        --sluice-set)
            [[ ${2:-} == *=* ]] || die "--sluice-set wants KEY=VALUE"
            sluice_set+=("$2"); shift ;;
        -h | --help) usage; exit 0 ;;
        *) die "unknown option '$1' (see --help)" ;;
    esac
    shift
done

if ((smoke)); then
    runs=${runs:-1}
    if [[ -z $workloads ]]; then
        workloads=W1,W2L,W3,S1
        # MW1 and MW2L on MariaDB (a few seconds each) when the server is
        # there or started here.
        if ((!reuse)) || [[ -n ${SLUICE_TEST_MARIADB_PORT:-} ]]; then
            workloads+=,MW1,MW2L
            ((mysql_servers_given)) || mysql_servers=mariadb
        fi
    fi
    stall=${SLUICE_BENCH_STALL:-20}
else
    runs=${runs:-3}
    stall=${SLUICE_BENCH_STALL:-60}
fi
IFS=, read -r -a workloads <<<"${workloads:-$(IFS=,; echo "${all_workloads[*]}")}"
IFS=, read -r -a contenders <<<"${contenders:-$(IFS=,; echo "${default_contenders[*]}")}"
in_list() { local x=$1; shift; local y; for y; do [[ $x == "$y" ]] && return 0; done; return 1; }
for w in "${workloads[@]}"; do
    in_list "$w" "${all_workloads[@]}" "${mysql_workloads[@]}" || die "unknown workload '$w'"
done
IFS=, read -r -a mysql_servers <<<"$mysql_servers"
for s in "${mysql_servers[@]}"; do in_list "$s" mariadb mysql || die "unknown MySQL server '$s'"; done
for c in "${contenders[@]}"; do in_list "$c" "${all_contenders[@]}" || die "unknown contender '$c'"; done
[[ $runs =~ ^[1-9][0-9]*$ ]] || die "--runs wants a positive integer"
[[ $rate =~ ^[1-9][0-9]*$ ]] || die "--rate wants a positive integer"
[[ $scale =~ ^[0-9]*\.?[0-9]+$ ]] || die "--scale wants a positive number"

# Workload sizes: rows or transactions, and rows per transaction.
sized() { awk -v n="$1" -v s="$scale" 'BEGIN { v = int(n * s); print (v < 1 ? 1 : v) }'; }
if ((smoke)); then
    w1_rows=$(sized 3000) w1_batch=$(sized 1000)
    w2_tx=$(sized 2000) w2l_tx=$(sized 1000) w2l_rate=500
    w3_rows=$(sized 1000) w3_batch=$(sized 250)
    s1_rows=$(sized 5000) s1w_rows=$(sized 1000) seam_writes=$(sized 100)
    w5_rows=$(sized 20000)
else
    w1_rows=$(sized 1000000) w1_batch=$(sized 10000)
    w2_tx=$(sized 200000) w2l_tx=$(sized 100000) w2l_rate=$rate
    w3_rows=$(sized 100000) w3_batch=$(sized 1000)
    s1_rows=$(sized 2000000) s1w_rows=$(sized 200000) seam_writes=$(sized 2000)
    w5_rows=$(sized 5000000)
fi
w2_clients=8 w2l_clients=4

# ---------------------------------------------------------------------------
# Setup: packages, binaries, services
# ---------------------------------------------------------------------------

stamp=$(date -u +%Y%m%dT%H%M%SZ)
results=${results:-$bench_dir/results/$stamp}
mkdir -p "$results"
results=$(cd "$results" && pwd)
raw=$results/runs.jsonl
: >"$raw"

need_debezium=0 need_registry=0
in_list debezium "${contenders[@]}" && need_debezium=1
in_list debezium-avro "${contenders[@]}" && need_debezium=1 need_registry=1
in_list sluice-kafka-avro "${contenders[@]}" && need_registry=1
# The MySQL workloads alone need neither the registry nor Debezium's
# PostgreSQL connector's Avro converter.
only_mysql=1
for w in "${workloads[@]}"; do [[ $w == M* ]] || only_mysql=0; done
((only_mysql)) && need_registry=0

if ((!reuse)); then
    bash "$repo/scripts/install-deps.sh"
fi
for cmd in psql pgbench pg_recvlogical cc pkg-config python3; do
    command -v "$cmd" >/dev/null || die "$cmd not found (run scripts/install-deps.sh)"
done
# Debian's interpreter, which sees Debian's python3-matplotlib, before any
# other python3 on the PATH.
py=$(command -v /usr/bin/python3 || command -v python3)
apt_install() { # package
    local -a sudo_cmd=()
    ((EUID == 0)) || sudo_cmd=(sudo)
    { "${sudo_cmd[@]}" apt-get update -qq &&
        "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
            --no-install-recommends "$1"; } >"$results/apt.log" 2>&1
}
if ((perf)) && ! command -v perf >/dev/null; then
    say "installing linux-perf for --perf"
    apt_install linux-perf || die "could not install linux-perf (see $results/apt.log)"
fi
if ((!smoke)) && ! "$py" -c 'import matplotlib' 2>/dev/null; then
    say "installing python3-matplotlib for the chart"
    if ! apt_install python3-matplotlib; then
        say "warning: could not install python3-matplotlib (see $results/apt.log); no chart"
    fi
fi

build=$repo/build-bench
mkdir -p "$build"
probe=$build/sluice-bench-probe
if [[ ! -x $probe || $bench_dir/tools/probe.c -nt $probe ]]; then
    # shellcheck disable=SC2046  # pkg-config's flags are meant to split
    cc -O2 -Wall -Wextra -Werror -D_GNU_SOURCE -std=c11 -o "$probe.tmp" "$bench_dir/tools/probe.c" \
        $(pkg-config --cflags --libs rdkafka libpq jansson) || die "could not build the probe"
    mv "$probe.tmp" "$probe"
fi

if [[ -z $sluice ]]; then
    say "building sluice ($build_type) in $build"
    cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE="$build_type" -DSLUICE_TESTS=OFF >"$results/build.log" 2>&1 &&
        cmake --build "$build" -j"$(nproc)" >>"$results/build.log" 2>&1 ||
        { tail -n 30 "$results/build.log" >&2; die "sluice did not build (log: $results/build.log)"; }
    sluice=$build/sluice
fi
[[ -x $sluice ]] || die "no sluice binary at $sluice"
sluice=$(cd "$(dirname "$sluice")" && pwd)/$(basename "$sluice")

# shellcheck source=../tests/lib/services.sh
source "$repo/tests/lib/services.sh"
# shellcheck source=lib/debezium.sh
source "$bench_dir/lib/debezium.sh"
# shellcheck source=lib/mysql.sh
source "$bench_dir/lib/mysql.sh"

work='' started_registry=0
dbz_worker_extra=${SLUICE_DBZ_WORKER_EXTRA:-}
# shellcheck disable=SC2317  # run by the EXIT trap
cleanup() {
    local rc=$?
    [[ -n ${sampler_pid:-} ]] && kill "$sampler_pid" 2>/dev/null
    [[ -n ${writer_pid:-} ]] && kill "$writer_pid" 2>/dev/null
    [[ -n ${perf_pid:-} ]] && kill -INT "$perf_pid" 2>/dev/null
    [[ -n ${cdc_pid:-} ]] && stop_pid "$cdc_pid"
    dbz_connect_stop
    ((started_registry)) && svc_registry_stop
    if [[ -n $work && $keep == 0 ]]; then
        rm -rf "$work"
    elif [[ -n $work ]]; then
        say "kept every run's outputs in $work (delete it when done: it may be in memory)"
    fi
    ((reuse)) || svc_stop_all
    return "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if ((need_debezium)); then
    dbz_install || die "Debezium could not be installed"
fi
if ((!only_mysql)) && in_list debezium-avro "${contenders[@]}"; then
    dbz_install_avro || die "Apicurio's Avro converter could not be installed"
fi

# The outputs of the file sink and pg_recvlogical go to memory when there is
# room: a W1 run writes about 11 GB of JSON, and a virtual disk would then be
# what is measured. Each run's output is deleted as soon as it is counted.
# The servers' data stay on disk (Kafka's log is written through the page
# cache, which the kernel can reclaim, unlike /dev/shm).
mem_available_kb() { awk '/^MemAvailable:/ { print $2 }' /proc/meminfo; }
storage=${TMPDIR:-/tmp}
# 16 GB for full-size runs, less for --scale'd ones (at least 2 GB): on
# disk, the file sink's fdatasync of every batch, not sluice, is what a run
# measures, while pg_recvlogical and the binlog tools do not sync.
shm_need_gb=$(awk -v s="$scale" -v smoke="$smoke" 'BEGIN { g = smoke ? 1 : 16 * s; if (!smoke && g < 2) g = 2; print int(g + 0.999) }')
if [[ -d /dev/shm && -w /dev/shm ]] && (($(mem_available_kb) > shm_need_gb * 1048576)); then
    storage=/dev/shm
else
    say "warning: outputs go to $storage, not to memory (less than $shm_need_gb GB available): the file sink's rate is then the disk's"
fi
if ((reuse)); then
    [[ -n ${SLUICE_TEST_KAFKA:-} && -n ${PGPORT:-} ]] ||
        die "--reuse-services needs SLUICE_TEST_KAFKA and PG* exported (see tests/lib/services.sh)"
    services_storage="reused (${SVC_TMPDIR:-unknown})"
else
    svc_init
    svc_pg_start
    svc_kafka_start
    services_storage=$SVC_TMPDIR
fi
started_registry=0
if ((need_registry)) && [[ -z ${SLUICE_TEST_REGISTRY:-} ]]; then
    svc_init
    svc_registry_start
    started_registry=1
fi
work=$(mktemp -d "$storage/sluice-bench.XXXXXX")
run_mysql=0
for w in "${workloads[@]}"; do [[ $w == M* ]] && run_mysql=1; done
if ((run_mysql)); then
    mb_sizes
    mb_start_services "${mysql_servers[@]}" || die "the MySQL/MariaDB servers did not start"
fi
conninfo="host=$PGHOST port=$PGPORT user=$PGUSER password=$PGPASSWORD dbname=$PGDATABASE"
kafka=$SLUICE_TEST_KAFKA

pg() { psql -X -q -v ON_ERROR_STOP=1 -At "$@"; }

# Each run's publication is named after the run and dropped at its end. One
# left by an aborted run makes CREATE PUBLICATION fail; going on would be
# worse than stopping, because the workload's table is created anew before
# it and a table dropped leaves the publication, which then publishes
# nothing: the contender would wait for events that never come and the run
# would fail as a stall.
create_publication() { # name table
    local err
    err=$(pg -c "CREATE PUBLICATION $1 FOR TABLE $2" 2>&1 >/dev/null) && return 0
    printf '%s\n' "$err" >&2
    die "could not create publication $1 for table $2; one left by an aborted run? See them with psql -c '\\dRp' and drop it with DROP PUBLICATION $1 (and its slot with SELECT pg_drop_replication_slot('$1') if it has one)"
}

# ---------------------------------------------------------------------------
# What the run ran on
# ---------------------------------------------------------------------------

record_machine() {
    local commit dirty pgv kv dbzv javav rdk cpu mem
    commit=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)
    dirty=$(git -C "$repo" status --porcelain -- src connectors include CMakeLists.txt 2>/dev/null |
        wc -l)
    pgv=$(pg -c 'SHOW server_version')
    kv=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$repo/scripts/kafka-pom.xml")
    dbzv=$(sed -n 's:.*<debezium.version>\(.*\)</debezium.version>.*:\1:p' "$bench_dir/debezium/pom.xml")
    javav=$(java -version 2>&1 | head -n 1 | sed 's/"/\\"/g')
    rdk=$(pkg-config --modversion rdkafka)
    cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
    mem=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
    cat >"$results/machine.json" <<EOF
{"date": "$(date -u +%Y-%m-%dT%H:%M:%SZ)", "host": "$(hostname)", "nproc": $(nproc),
 "cpu": "$cpu", "memory": "$mem", "kernel": "$(uname -sr)",
 "postgresql": "$pgv", "kafka": "$kv", "debezium": "$dbzv", "java": "$javav",
 "librdkafka": "$rdk", "sluice_commit": "$commit", "sluice_uncommitted_files": $dirty,
 "sluice_binary": "$sluice", "smoke": $smoke, "runs": $runs, "scale": $scale,
 "sizes": {"W1_rows": $w1_rows, "W1_batch": $w1_batch, "W2_tx": $w2_tx, "W2_clients": $w2_clients,
           "W2L_tx": $w2l_tx, "W2L_rate": $w2l_rate, "W2L_clients": $w2l_clients,
           "W3_rows": $w3_rows, "W3_batch": $w3_batch,
           "S1_rows": $s1_rows, "S1W_rows": $s1w_rows, "seam_writes": $seam_writes,
           "W5_rows": $w5_rows},
 "debezium_heap": "${SLUICE_DBZ_HEAP_OPTS:--Xms256m -Xmx1g}",
 "outputs_dir": "$work", "services_dir": "$services_storage",
 "sluice_settings": "${sluice_set[*]}", "sluice_label": "$label"}
EOF
}

# ---------------------------------------------------------------------------
# Workloads
# ---------------------------------------------------------------------------

# Each workload's table is created anew before every run, without autovacuum
# so that a vacuum cannot land in one contender's run and not another's.
prepare_table() { # workload
    local t=bench_${1,,}
    case $1 in
        W1 | W5) pg -c "DROP TABLE IF EXISTS $t" -c "CREATE TABLE $t (id bigint PRIMARY KEY,
                n integer NOT NULL, label text NOT NULL, amount numeric(12,2) NOT NULL,
                ts timestamptz NOT NULL, flag boolean NOT NULL) WITH (autovacuum_enabled = off)" ;;
        W2 | W2L) pg -c "DROP TABLE IF EXISTS $t" -c "CREATE TABLE $t (
                id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, client integer NOT NULL,
                n integer NOT NULL, label text NOT NULL, t_us bigint NOT NULL)
                WITH (autovacuum_enabled = off)" ;;
        W3) pg -c "DROP TABLE IF EXISTS $t" -c "CREATE TABLE $t (id bigint PRIMARY KEY,
                n integer NOT NULL, label text NOT NULL, amount numeric(12,2) NOT NULL,
                ts timestamptz NOT NULL, flag boolean NOT NULL, payload text NOT NULL)
                WITH (autovacuum_enabled = off)" ;;
        # The snapshot workloads' tables are filled before the contender
        # starts, with the shapes of W1 and W3, and vacuumed and analyzed:
        # pg_class.reltuples is what the contenders' progress reports use.
        S1) pg -c "DROP TABLE IF EXISTS $t" -c "CREATE TABLE $t (id bigint PRIMARY KEY,
                n integer NOT NULL, label text NOT NULL, amount numeric(12,2) NOT NULL,
                ts timestamptz NOT NULL, flag boolean NOT NULL) WITH (autovacuum_enabled = off)" \
                -c "INSERT INTO $t SELECT g, g % 1000, md5(g::text), (g % 100000) / 100.0,
                clock_timestamp(), g % 2 = 0 FROM generate_series(1, $s1_rows) g" \
                -c "VACUUM ANALYZE $t" ;;
        S1W) pg -c "DROP TABLE IF EXISTS $t" -c "CREATE TABLE $t (id bigint PRIMARY KEY,
                n integer NOT NULL, label text NOT NULL, amount numeric(12,2) NOT NULL,
                ts timestamptz NOT NULL, flag boolean NOT NULL, payload text NOT NULL)
                WITH (autovacuum_enabled = off)" \
                -c "INSERT INTO $t SELECT g, g % 1000, md5(g::text), (g % 100000) / 100.0,
                clock_timestamp(), g % 2 = 0, repeat(md5(g::text), 59)
                FROM generate_series(1, $s1w_rows) g" \
                -c "VACUUM ANALYZE $t" ;;
    esac
    pg -c CHECKPOINT
    # Clean page cache left by the previous run (Kafka's segments, the last
    # output) would otherwise be reclaimed on this run's time, charged as
    # system CPU to whichever contender allocates memory first. Only clean
    # pages are dropped; nothing is lost. Needs root, so skipped otherwise.
    if ((!smoke && EUID == 0)); then
        sync
        echo 1 >/proc/sys/vm/drop_caches 2>/dev/null || true
    fi
}

# changes and messages (a delete is followed by a tombstone) per workload
expected_changes() {
    case $1 in
        W1) echo $((3 * w1_rows)) ;;
        W2) echo "$w2_tx" ;;
        W2L) echo "$w2l_tx" ;;
        W3) echo "$w3_rows" ;;
        W5) echo "$w5_rows" ;;
        S1) echo "$s1_rows" ;;
        S1W) echo "$s1w_rows" ;;
    esac
}
expected_messages() {
    case $1 in
        W1) echo $((4 * w1_rows)) ;;
        *) expected_changes "$1" ;;
    esac
}

# A psql script of one statement (so one transaction) per batch. The first
# commit's time is printed as "t0", the WAL position after the last as "lsn".
batch_sql() { # workload
    local w=$1 t=bench_${1,,} rows batch a b first=1 phase
    if [[ $w == W1 ]]; then rows=$w1_rows batch=$w1_batch; else rows=$w3_rows batch=$w3_batch; fi
    # W5's clock starts before its one transaction: a contender that streams it
    # while in progress does part of the work before the commit.
    if [[ $w == W5 ]]; then
        rows=$w5_rows batch=$w5_rows first=0
        echo "SELECT 't0', extract(epoch FROM clock_timestamp());"
    fi
    for phase in insert update delete; do
        [[ $w != W1 && $phase != insert ]] && break
        for ((a = 1; a <= rows; a += batch)); do
            b=$((a + batch - 1 < rows ? a + batch - 1 : rows))
            case $w-$phase in
                W1-insert | W5-insert) echo "INSERT INTO $t SELECT g, g % 1000, md5(g::text), (g % 100000) / 100.0, clock_timestamp(), g % 2 = 0 FROM generate_series($a, $b) g;" ;;
                W1-update) echo "UPDATE $t SET n = n + 1, amount = amount + 1, ts = clock_timestamp(), flag = NOT flag WHERE id BETWEEN $a AND $b;" ;;
                W1-delete) echo "DELETE FROM $t WHERE id BETWEEN $a AND $b;" ;;
                # 59 md5s make a 1,888-character payload: the row stays just
                # under PostgreSQL's 2 kB TOAST threshold, stored inline.
                W3-insert) echo "INSERT INTO $t SELECT g, g % 1000, md5(g::text), (g % 100000) / 100.0, clock_timestamp(), g % 2 = 0, repeat(md5(g::text), 59) FROM generate_series($a, $b) g;" ;;
            esac
            if ((first)); then
                echo "SELECT 't0', extract(epoch FROM clock_timestamp());"
                first=0
            fi
        done
    done
    echo "SELECT 'lsn', pg_current_wal_flush_lsn();"
}

# t_us is the commit time of the row's transaction (to well under a
# millisecond: the transaction commits right after its only statement).
pgbench_script() { # file table
    printf '%s\n' '\set n random(1, 1000000)' \
        "INSERT INTO $2 (client, n, label, t_us) VALUES (:client_id, :n, 'one small transaction', (extract(epoch FROM clock_timestamp()) * 1000000)::bigint);" \
        >"$1"
}

# Runs the workload; sets drv_t0 (epoch s of the first commit), drv_lsn (WAL
# flushed after the last commit) and drv_json (what the driver reported).
# Commits wait for the WAL flush (synchronous_commit=on; the test server
# runs with fsync=off, so this costs no disk sync) so that a change is sent
# to the contenders as soon as its transaction returns.
run_workload() { # workload dir
    local w=$1 dir=$2 out
    export PGOPTIONS='-c synchronous_commit=on'
    case $w in
        W1 | W3 | W5)
            batch_sql "$w" >"$dir/workload.sql"
            local start end
            start=$(date +%s.%N)
            out=$(pg -F ' ' -f "$dir/workload.sql") || { unset PGOPTIONS; return 1; }
            end=$(date +%s.%N)
            drv_t0=$(awk '$1 == "t0" { print $2 }' <<<"$out")
            drv_lsn=$(awk '$1 == "lsn" { print $2 }' <<<"$out")
            drv_json=$(printf '{"seconds": %.3f}' "$(awk -v a="$start" -v b="$end" 'BEGIN { print b - a }')")
            ;;
        W2 | W2L)
            local t=bench_${w,,} tx clients
            local -a rate_opt=()
            pgbench_script "$dir/pgbench.sql" "$t"
            if [[ $w == W2 ]]; then
                tx=$w2_tx clients=$w2_clients
            else
                tx=$w2l_tx clients=$w2l_clients rate_opt=(--rate "$w2l_rate")
            fi
            if ! pgbench -n -M prepared -c "$clients" -j 2 -t $(((tx + clients - 1) / clients)) \
                    "${rate_opt[@]}" -f "$dir/pgbench.sql" "$PGDATABASE" \
                    >"$dir/pgbench.log" 2>&1; then
                unset PGOPTIONS
                tail -n 20 "$dir/pgbench.log" >&2
                return 1
            fi
            drv_t0=$(pg -c "SELECT min(t_us) / 1e6 FROM $t")
            drv_lsn=$(pg -c 'SELECT pg_current_wal_flush_lsn()')
            local tps lag_avg lag_max
            tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$dir/pgbench.log" | head -n 1)
            lag_avg=$(sed -n 's/^rate limit schedule lag: avg \([0-9.]*\) (max \([0-9.]*\)) ms.*/\1/p' "$dir/pgbench.log")
            lag_max=$(sed -n 's/^rate limit schedule lag: avg \([0-9.]*\) (max \([0-9.]*\)) ms.*/\2/p' "$dir/pgbench.log")
            drv_json=$(printf '{"tps": %s, "schedule_lag_avg_ms": %s, "schedule_lag_max_ms": %s}' \
                "${tps:-null}" "${lag_avg:-null}" "${lag_max:-null}")
            ;;
    esac
    unset PGOPTIONS
    [[ -n $drv_t0 && -n $drv_lsn ]]
}

# Rows the workload's transactions actually committed must match the plan,
# or the expected event counts are wrong.
check_rows() { # workload
    local w=$1 n want
    case $w in
        W1) n=$(pg -c "SELECT count(*) FROM bench_w1"); want=0 ;;
        W2) n=$(pg -c "SELECT count(*) FROM bench_w2"); want=$w2_tx ;;
        W2L) n=$(pg -c "SELECT count(*) FROM bench_w2l"); want=$w2l_tx ;;
        W3) n=$(pg -c "SELECT count(*) FROM bench_w3"); want=$w3_rows ;;
        W5) n=$(pg -c "SELECT count(*) FROM bench_w5"); want=$w5_rows ;;
    esac
    # pgbench runs whole transactions per client, so it may do a few more.
    if [[ $w == W2 || $w == W2L ]]; then
        ((n >= want)) || return 1
        actual_changes=$n
    else
        ((n == want)) || return 1
        actual_changes=$(expected_changes "$w")
    fi
}

# ---------------------------------------------------------------------------
# Contenders: start (cdc_pid, streaming on $slot), wait for delivery, stop
# ---------------------------------------------------------------------------

stop_pid() { # pid
    local pid=$1 i
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 300; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# Waits until the slot's walsender is streaming to the contender.
wait_streaming() { # pid slot timeout_s log
    local pid=$1 slot=$2 deadline=$(($(date +%s) + $3)) log=$4
    while :; do
        if ! kill -0 "$pid" 2>/dev/null; then
            tail -n 20 "$log" >&2
            say "contender exited during startup (log: $log)"
            return 1
        fi
        [[ $(pg -c "SELECT active FROM pg_replication_slots WHERE slot_name = '$slot'") == t ]] &&
            return 0
        if (($(date +%s) >= deadline)); then
            tail -n 20 "$log" >&2
            say "slot $slot not streaming after $3 s (log: $log)"
            return 1
        fi
        sleep 0.1
    done
}

sluice_config() { # file sink dir slot prefix table [snapshot] (sink: file, kafka or kafka-avro,
    # or file-stream, kafka-stream: streaming in-progress transactions, spooled to TMPDIR, on disk)
    local file=$1 sink=$2 dir=$3 slot=$4 prefix=$5 table=$6 snapshot=${7:-} stream=0
    [[ $sink == *-stream ]] && stream=1 sink=${sink%-stream}
    {
        printf '{\n  "name": "%s",\n' "$prefix"
        printf '  "connector.class": "io.debezium.connector.postgresql.PostgresConnector",\n'
        printf '  "database.hostname": "%s",\n  "database.port": "%s",\n' "$PGHOST" "$PGPORT"
        # sluice expands ${PGPASSWORD} itself, so the file holds no secret.
        # shellcheck disable=SC2016
        printf '  "database.user": "%s",\n  "database.password": "${PGPASSWORD}",\n' "$PGUSER"
        printf '  "database.dbname": "%s",\n  "topic.prefix": "%s",\n' "$PGDATABASE" "$prefix"
        printf '  "slot.name": "%s",\n  "publication.name": "%s",\n' "$slot" "$slot"
        printf '  "publication.autocreate.mode": "disabled",\n'
        if [[ -n $snapshot ]]; then
            # Debezium's defaults otherwise: one reader, chunks of snapshot.fetch.size.
            printf '  "table.include.list": "public.%s",\n  "snapshot.mode": "initial",\n' "$table"
            printf '  "schemas.enable": "false",\n'
        else
            printf '  "table.include.list": "public.%s",\n  "snapshot.mode": "no_data",\n' "$table"
        fi
        printf '  "offset.storage.file.filename": "%s/offsets.json",\n' "$dir"
        if ((stream)); then
            printf '  "stream.in.progress.transactions": "true",\n'
            printf '  "stream.spool.directory": "%s",\n' "${TMPDIR:-/tmp}"
        fi
        local kv
        for kv in "${sluice_set[@]}"; do
            printf '  "%s": "%s",\n' "${kv%%=*}" "${kv#*=}"
        done
        if [[ $sink == kafka-avro ]]; then
            local side
            for side in key value; do
                printf '  "%s.converter": "io.confluent.connect.avro.AvroConverter",\n' "$side"
                printf '  "%s.converter.schema.registry.url": "%s",\n' "$side" "$SLUICE_TEST_REGISTRY"
            done
        fi
        if [[ $sink == kafka* ]]; then
            printf '  "sink.type": "kafka",\n  "kafka.bootstrap.servers": "%s",\n' "$kafka"
            printf '  "kafka.acks": "all"\n'
        else
            printf '  "sink.type": "file",\n  "sink.file.directory": "%s/out"\n' "$dir"
        fi
        printf '}\n'
    } >"$file"
}

start_contender() { # contender dir slot prefix table
    local c=$1 dir=$2 slot=$3 prefix=$4 table=$5
    case $c in
        pg_recvlogical)
            pg_recvlogical -d "$conninfo" --slot "$slot" --create-slot -P pgoutput \
                >"$dir/contender.log" 2>&1 || { cat "$dir/contender.log" >&2; return 1; }
            pg_recvlogical -d "$conninfo" --slot "$slot" --start --no-loop \
                -o proto_version=1 -o "publication_names=$slot" -f "$dir/recvlogical.out" \
                >>"$dir/contender.log" 2>&1 &
            cdc_pid=$!
            wait_streaming "$cdc_pid" "$slot" 30 "$dir/contender.log"
            ;;
        sluice-file | sluice-kafka | sluice-kafka-avro | sluice-*-stream)
            sluice_config "$dir/sluice.json" "${c#sluice-}" "$dir" "$slot" "$prefix" "$table"
            "$sluice" run "$dir/sluice.json" >"$dir/contender.log" 2>&1 &
            cdc_pid=$!
            wait_streaming "$cdc_pid" "$slot" 30 "$dir/contender.log"
            ;;
        debezium | debezium-avro)
            local extra=$dbz_worker_extra
            [[ $c == debezium-avro ]] && extra+=$'\n'$(dbz_avro_worker_settings \
                "${SLUICE_TEST_REGISTRY%/apis/ccompat/v7}/apis/registry/v2")
            SLUICE_DBZ_WORKER_EXTRA=$extra SLUICE_SVC_QUIET=1 \
                dbz_connect_start "$prefix" "slot.name=$slot" \
                "publication.name=$slot" publication.autocreate.mode=disabled \
                "table.include.list=public.$table" || return 1
            cdc_pid=$SLUICE_DBZ_PID
            SLUICE_SVC_QUIET=1 dbz_wait_running 120 || return 1
            ;;
    esac
}

stop_contender() { # contender dir
    local c=$1 dir=$2
    case $c in
        debezium | debezium-avro)
            dbz_connect_stop
            if ((keep)); then
                cp "$SLUICE_DBZ_LOG" "$dir/contender.log" 2>/dev/null || true
            fi
            rm -rf "$SLUICE_DBZ_DIR"
            ;;
        *) stop_pid "$cdc_pid" ;;
    esac
    cdc_pid=
}

# Prints the probe's JSON; its exit status says whether all arrived.
wait_delivery() { # contender dir slot topic expected_messages
    local c=$1 dir=$2 slot=$3 topic=$4 n=$5
    case $c in
        pg_recvlogical) "$probe" lsn-wait "$conninfo" "$slot" "$drv_lsn" "$stall" "$dir/recvlogical.out" ;;
        sluice-file | sluice-file-stream) "$probe" files-wait "$dir/out" "$n" "$stall" ;;
        *) "$probe" kafka-wait "$kafka" "$n" "$stall" "$topic" ;;
    esac
}

# The functions with the most samples, by themselves and with their callees.
perf_summary() { # perf.data
    echo "## self (% of samples in the function itself)"
    perf report -i "$1" --stdio --no-children --sort symbol --percent-limit 0.7 2>/dev/null |
        grep -E '^ +[0-9.]+%' | head -n 40
    echo
    echo "## children (% of samples in the function or anything it calls)"
    perf report -i "$1" --stdio --children --sort symbol --percent-limit 3 2>/dev/null |
        grep -E '^ +[0-9.]+%' | head -n 40
}

# The file sink's output is about 2.9 kB per message (5.5 kB in W3). In
# memory, it must fit with room to spare: the machine is shared, and a full
# tmpfs ends with the kernel killing processes. Waits up to two minutes for
# memory that is being freed.
room_for_output() { # workload
    [[ $storage == /dev/shm ]] || return 0
    local per=2900 need i
    [[ $1 == W3 ]] && per=5500
    [[ $1 == S1 ]] && per=700
    [[ $1 == S1W ]] && per=2700
    need=$(($(expected_messages "$1") * per / 1024 + 4 * 1048576))
    for ((i = 0; i < 120; i++)); do
        (($(mem_available_kb) > need)) && return 0
        sleep 1
    done
    say "only $(($(mem_available_kb) / 1024)) MB of memory available, $((need / 1024)) MB needed"
    return 1
}

# One run of one workload against one contender; appends a line to runs.jsonl.
run_one() { # workload contender run
    local w=$1 c=$2 r=$3 id slot prefix table topic dir expected
    id=$(printf 'bench_%s_%s_r%s' "${w,,}" "${c//[^a-z0-9]/_}" "$r")
    slot=$id prefix=$id table=bench_${w,,}
    topic=$prefix.public.$table
    dir=$work/$id
    mkdir -p "$dir"
    expected=$(expected_messages "$w")
    local ok=true error='' wait_json=null sample_json=null lat_json=null
    drv_t0='' drv_lsn='' drv_json=null actual_changes=$(expected_changes "$w")
    # After W5's one commit, a walsender that does not stream may still be
    # decoding the transaction's WAL (and spilling it) for minutes before the
    # first event leaves: that is no stall.
    local stall=$stall
    [[ $w == W5 ]] && stall=$((stall * 10))

    if [[ $c == sluice-file* ]] && ! room_for_output "$w"; then
        ok=false error="not enough free memory for the output in $storage"
    fi
    prepare_table "$w"
    create_publication "$slot" "$table"
    if [[ $c == sluice-kafka* || $c == debezium* ]]; then
        if ! "$probe" topics-create "$kafka" "$topic" >/dev/null; then
            ok=false error="could not create topic $topic on $kafka"
            echo "bench: $w $c run $r: $error (the probe's message is above)" >&2
        fi
    fi

    if [[ $ok == true ]] && ! start_contender "$c" "$dir" "$slot" "$prefix" "$table"; then
        ok=false error="contender did not start"
    fi
    if [[ $ok == true ]]; then
        # A contender may report "started" a moment before its walsender
        # holds the slot (Debezium does): wait for the slot to be active.
        local ws_pid='' tries
        for ((tries = 0; tries < 500; tries++)); do
            ws_pid=$(pg -c "SELECT active_pid FROM pg_replication_slots WHERE slot_name = '$slot'")
            [[ -n $ws_pid ]] && break
            sleep 0.02
        done
        if [[ -z $ws_pid ]]; then
            ok=false error="the slot never became active"
        fi
    fi
    if [[ $ok == true ]]; then
        "$probe" sample 100 "$cdc_pid" "$ws_pid" >"$dir/sample.json" 2>"$dir/sample.err" &
        sampler_pid=$!
        until grep -q sampling "$dir/sample.err" 2>/dev/null; do
            kill -0 "$sampler_pid" 2>/dev/null || break
            sleep 0.02
        done
        if ((perf)) && [[ $c == sluice-* ]]; then
            perf record -q -g -F 499 -p "$cdc_pid" -o "$results/perf-$id.data" \
                >"$dir/perf.log" 2>&1 &
            perf_pid=$!
            sleep 0.5
        fi

        if ! run_workload "$w" "$dir"; then
            ok=false error="workload failed"
        elif ! check_rows "$w"; then
            ok=false error="the workload did not commit the planned rows"
        fi
        if [[ $ok == true ]]; then
            expected=$(( $(expected_messages "$w") + actual_changes - $(expected_changes "$w") ))
            if ! wait_json=$(wait_delivery "$c" "$dir" "$slot" "$topic" "$expected"); then
                ok=false error="not every event was delivered (nothing moved for ${stall}s)"
            fi
        fi
        kill "$sampler_pid" 2>/dev/null || true
        wait "$sampler_pid" 2>/dev/null || true
        sampler_pid=
        if [[ -n ${perf_pid:-} ]]; then
            kill -INT "$perf_pid" 2>/dev/null || true
            wait "$perf_pid" 2>/dev/null || true
            perf_pid=
            perf_summary "$results/perf-$id.data" >"$results/perf-$id.txt" 2>&1 || true
        fi
        sample_json=$(<"$dir/sample.json")
        if ! kill -0 "$cdc_pid" 2>/dev/null; then
            ok=false error="${error:-contender exited}"
        fi
        if [[ $ok == true && $w == W2L && ($c == sluice-kafka || $c == debezium) ]]; then
            local dump=
            ((keep)) && dump=$dir/latency.txt
            lat_json=$(SLUICE_BENCH_LATENCY_DUMP=$dump "$probe" kafka-latency "$kafka" t_us "$topic") ||
                { ok=false error="latency: some messages lack a commit time or LogAppendTime"; }
        fi
        stop_contender "$c" "$dir"
    fi
    [[ -z $wait_json ]] && wait_json=null
    [[ -z $lat_json ]] && lat_json=null

    pg -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '$slot'" \
        -c "DROP PUBLICATION IF EXISTS $slot" >/dev/null || true
    if [[ ($c == sluice-kafka* || $c == debezium*) && $keep == 0 ]]; then
        "$probe" topics-delete "$kafka" "$topic" >/dev/null || true
    fi
    if [[ $ok == false && -f $dir/contender.log ]]; then
        mkdir -p "$results/failed"
        cp "$dir/contender.log" "$results/failed/$id.log"
    fi
    if ((!keep)); then rm -rf "$dir"; fi

    printf '{"workload": "%s", "contender": "%s", "run": %s, "ok": %s, "error": "%s", "changes": %s, "messages": %s, "t0": %s, "end_lsn": "%s", "driver": %s, "wait": %s, "sample": %s, "latency": %s}\n' \
        "$w" "$c" "$r" "$ok" "$error" "$actual_changes" "$expected" "${drv_t0:-null}" "$drv_lsn" \
        "$drv_json" "$wait_json" "$sample_json" "$lat_json" >>"$raw"
    "$py" "$bench_dir/report.py" --line "$(tail -n 1 "$raw")" >&2
    [[ $ok == true ]]
}

# ---------------------------------------------------------------------------
# Snapshot workloads (S1, S1W)
# ---------------------------------------------------------------------------

# The seam writer: updates of existing rows, inserts of new ones and deletes,
# one transaction each, as fast as psql sends them once the snapshot starts.
# (Spread over the whole snapshot they would keep the file sink's output
# growing, and its end could not be told from the last of the changes.)
seam_writer_sql() { # workload rows
    local w=$1 rows=$2 t=bench_${1,,}
    awk -v n="$seam_writes" -v rows="$rows" -v t="$t" -v wide="$([[ $w == S1W ]] && echo 1 || echo 0)" 'BEGIN {
        srand(7)
        for (i = 1; i <= n; i++) {
            id = 1 + int(rand() * rows)
            r = i % 10
            if (r < 6)
                printf "UPDATE %s SET n = n + 1, label = '"'"'seam %d'"'"', flag = NOT flag WHERE id = %d;\n", t, i, id
            else if (r < 8)
                printf "INSERT INTO %s VALUES (%d, %d, '"'"'seam %d'"'"', 1.00, clock_timestamp(), true%s);\n", t, rows + i, i, i, wide ? ", repeat('"'"'x'"'"', 1888)" : ""
            else
                printf "DELETE FROM %s WHERE id = %d;\n", t, id
        }
    }'
}

start_snapshot_contender() { # contender dir slot prefix table
    local c=$1 dir=$2 slot=$3 prefix=$4 table=$5
    case $c in
        sluice-file | sluice-kafka)
            sluice_config "$dir/sluice.json" "${c#sluice-}" "$dir" "$slot" "$prefix" "$table" snapshot
            "$sluice" run "$dir/sluice.json" >"$dir/contender.log" 2>&1 &
            cdc_pid=$!
            ;;
        debezium)
            SLUICE_DBZ_WORKER_EXTRA=$'key.converter.schemas.enable=false\nvalue.converter.schemas.enable=false' \
                SLUICE_SVC_QUIET=1 dbz_connect_start "$prefix" "slot.name=$slot" \
                "publication.name=$slot" publication.autocreate.mode=disabled \
                "table.include.list=public.$table" snapshot.mode=initial || return 1
            cdc_pid=$SLUICE_DBZ_PID
            ;;
    esac
}

# One run of a snapshot workload; appends a line to runs.jsonl. The clock
# starts when the contender's replication slot appears (both create it
# before reading), so the JVM's start-up is not counted against Debezium.
run_snapshot() { # workload contender run
    local w=$1 c=$2 r=$3 id slot prefix table topic dir rows
    id=$(printf 'bench_%s_%s_r%s' "${w,,}" "${c//[^a-z0-9]/_}" "$r")
    slot=$id prefix=$id table=bench_${w,,}
    topic=$prefix.public.$table
    dir=$work/$id
    mkdir -p "$dir"
    rows=$(expected_changes "$w")
    local ok=true error='' wait_json=null sample_json=null seam_json=null t0='' writer_pid=''
    if [[ $c == sluice-file ]] && ! room_for_output "$w"; then
        ok=false error="not enough free memory for the output in $storage"
    fi
    prepare_table "$w"
    if [[ $ok == true && $c == copy ]]; then
        # The server's own export limit: COPY's text read by a client and thrown away.
        t0=$(date +%s.%N)
        psql -X -q -c "\copy (SELECT * FROM $table) TO '/dev/null'" >"$dir/contender.log" 2>&1 &
        cdc_pid=$!
        "$probe" sample 100 "$cdc_pid" >"$dir/sample.json" 2>"$dir/sample.err" &
        sampler_pid=$!
        wait "$cdc_pid" || { ok=false error="psql \\copy failed"; }
        local end
        end=$(date +%s.%N)
        kill "$sampler_pid" 2>/dev/null || true
        wait "$sampler_pid" 2>/dev/null || true
        sampler_pid='' cdc_pid=''
        sample_json=$(<"$dir/sample.json")
        wait_json=$(printf '{"lines": %s, "expected": %s, "last_write": %s}' "$rows" "$rows" "$end")
    elif [[ $ok == true ]]; then
        create_publication "$slot" "$table"
        if [[ $c == sluice-kafka || $c == debezium ]] &&
            ! "$probe" topics-create "$kafka" "$topic" >/dev/null; then
            # No contender starts: nothing would create the slot the watch below waits for.
            ok=false error="could not create topic $topic on $kafka"
            echo "bench: $w $c run $r: $error (the probe's message is above)" >&2
        fi
        seam_writer_sql "$w" "$rows" >"$dir/writer.sql"
        if [[ $ok == true ]]; then
            # The watch for the slot starts before the contender, so it sees the moment it appears.
            "$probe" slot-wait "$conninfo" "$slot" 600 >"$dir/slot.json" 2>"$dir/slot.err" &
            local slot_watch=$!
            if ! start_snapshot_contender "$c" "$dir" "$slot" "$prefix" "$table"; then
                ok=false error="contender did not start"
                kill "$slot_watch" 2>/dev/null || true
            fi
            if ! wait "$slot_watch"; then
                [[ $ok == true ]] && { ok=false error="the slot was never created"; }
            fi
            t0=$(sed -n 's/.*"created": \([0-9.]*\).*/\1/p' "$dir/slot.json")
        fi
        if [[ $ok == true ]]; then
            PGOPTIONS='-c synchronous_commit=on' psql -X -q -v ON_ERROR_STOP=1 -f "$dir/writer.sql" \
                >"$dir/writer.log" 2>&1 &
            writer_pid=$!
            "$probe" sample 100 "$cdc_pid" >"$dir/sample.json" 2>"$dir/sample.err" &
            sampler_pid=$!
            if ((perf)) && [[ $c == sluice-* ]]; then
                perf record -q -g -F 499 -p "$cdc_pid" -o "$results/perf-$id.data" \
                    >"$dir/perf.log" 2>&1 &
                perf_pid=$!
            fi
            # Every row that existed has at least one event (its read, or the
            # change that superseded it): the count reaches the rows as the
            # snapshot ends, give or take a few of the writer's events.
            if ! wait_json=$(wait_delivery "$c" "$dir" "$slot" "$topic" "$rows"); then
                ok=false error="not every row was delivered (nothing moved for ${stall}s)"
            fi
            wait "$writer_pid" || { ok=false error="the seam writer failed"; }
            writer_pid=''
            # Then until nothing more arrives for 3 s: every change of the writer too.
            if [[ $c == sluice-file ]]; then
                "$probe" files-wait "$dir/out" $((rows * 4)) 3 >/dev/null 2>&1 || true
            else
                "$probe" kafka-wait "$kafka" $((rows * 4)) 3 "$topic" >/dev/null 2>&1 || true
            fi
            kill "$sampler_pid" 2>/dev/null || true
            wait "$sampler_pid" 2>/dev/null || true
            sampler_pid=
            if [[ -n ${perf_pid:-} ]]; then
                kill -INT "$perf_pid" 2>/dev/null || true
                wait "$perf_pid" 2>/dev/null || true
                perf_pid=
                perf_summary "$results/perf-$id.data" >"$results/perf-$id.txt" 2>&1 || true
            fi
            sample_json=$(<"$dir/sample.json")
            kill -0 "$cdc_pid" 2>/dev/null || { ok=false error="${error:-contender exited}"; }
        fi
        [[ -n ${cdc_pid:-} ]] && stop_contender "$c" "$dir"
        if [[ $ok == true ]]; then
            if [[ $c == sluice-file ]]; then
                seam_json=$("$probe" seam-files "$dir/out" "$conninfo" "$table") || ok=false
            else
                seam_json=$("$probe" seam-kafka "$kafka" "$conninfo" "$table" "$topic") || ok=false
            fi
            [[ $ok == true ]] || error="the seam: the events replayed per key differ from the table"
        fi
    fi
    [[ -z $wait_json ]] && wait_json=null
    [[ -z $seam_json ]] && seam_json=null

    pg -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '$slot'" \
        -c "DROP PUBLICATION IF EXISTS $slot" >/dev/null || true
    if [[ ($c == sluice-kafka || $c == debezium) && $keep == 0 ]]; then
        "$probe" topics-delete "$kafka" "$topic" >/dev/null || true
    fi
    if [[ $ok == false && -f $dir/contender.log ]]; then
        mkdir -p "$results/failed"
        cp "$dir/contender.log" "$results/failed/$id.log"
    fi
    if ((!keep)); then rm -rf "$dir"; fi

    printf '{"workload": "%s", "contender": "%s", "run": %s, "ok": %s, "error": "%s", "changes": %s, "messages": %s, "t0": %s, "end_lsn": "", "driver": null, "wait": %s, "sample": %s, "latency": null, "seam": %s}\n' \
        "$w" "$c" "$r" "$ok" "$error" "$rows" "$rows" "${t0:-null}" "$wait_json" "$sample_json" \
        "$seam_json" >>"$raw"
    "$py" "$bench_dir/report.py" --line "$(tail -n 1 "$raw")" >&2
    [[ $ok == true ]]
}

# ---------------------------------------------------------------------------

record_machine
say "results in $results"
say "workloads ${workloads[*]}; contenders ${contenders[*]}; $runs run(s) each"
failures=0
for w in "${workloads[@]}"; do
    for ((r = 1; r <= runs; r++)); do
        if [[ $w == M* ]]; then
            for s in "${mysql_servers[@]}"; do
                for c in "${contenders[@]}"; do
                    in_list "$c" "${mb_all_contenders[@]}" || continue
                    # Debezium's JVM would add half a minute to the smoke.
                    ((smoke && !contenders_given)) && [[ $c == debezium ]] && continue
                    # The smoke's MW2L checks the pacer and the latency probe:
                    # sluice-kafka alone (the others wait as in MW1).
                    ((smoke && !contenders_given)) && [[ $w == MW2L && $c != sluice-kafka ]] && continue
                    mb_run_one "$s" "$w" "$c" "$r" || failures=$((failures + 1))
                done
            done
            continue
        fi
        for c in "${contenders[@]}"; do
            [[ $c == binlog-tool ]] && continue
            if [[ $w == S* ]]; then
                # The seam check reads JSON, so the Avro contenders sit the snapshots out.
                [[ $c == pg_recvlogical || $c == *-avro || $c == *-stream ]] && continue
                # A fourth start of Debezium's JVM would double the smoke's time.
                ((smoke && !contenders_given)) && [[ $c == debezium ]] && continue
                run_snapshot "$w" "$c" "$r" || failures=$((failures + 1))
            else
                [[ $c == copy ]] && continue
                # W5 (one large transaction) compares sluice, streaming or not, with
                # pg_recvlogical; the -stream contenders run W5 only.
                if [[ $w == W5 ]]; then
                    in_list "$c" pg_recvlogical sluice-file sluice-kafka sluice-file-stream \
                        sluice-kafka-stream || continue
                elif [[ $c == *-stream ]]; then
                    continue
                fi
                run_one "$w" "$c" "$r" || failures=$((failures + 1))
            fi
        done
    done
done

report_args=(--results "$results")
((publish)) && report_args+=(--publish "$repo/docs")
((smoke)) && report_args+=(--no-chart)
# A run of the MySQL workloads alone leaves the PostgreSQL report (and its
# published section) alone.
((only_mysql)) || "$py" "$bench_dir/report.py" "${report_args[@]}"
if ((run_mysql)); then
    "$py" "$bench_dir/report_mysql.py" "${report_args[@]}"
fi
if ((failures)); then
    say "$failures run(s) failed; see $results/runs.jsonl and $results/failed/"
    exit 1
fi
exit 0
}
