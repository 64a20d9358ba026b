# shellcheck shell=bash
# The MySQL and MariaDB workloads of the benchmark harness: sourced by
# bench/run.sh, which calls mb_start_services once and mb_run_one for every
# run of a workload whose name starts with M. The shapes are those of the
# PostgreSQL workloads (docs/benchmarks.md), on MariaDB 10.11 and Oracle
# MySQL 9.7 (tests/lib/services.sh starts both):
#
#   MW1  W1's rows (bigint key, int, varchar(64), decimal(12,2),
#        timestamp(6), boolean) inserted, updated and deleted in
#        transactions of W1's batch size
#   MW1N MW1 with keys and values written without schemas
#        (schemas.enable=false; Debezium's worker likewise), as S1 writes
#        them: the same decoding, a fifth of the bytes
#   MW2L W2L's paced single-row transactions (bench/tools/mysql_pace.py,
#        4 clients at --rate), each row carrying its commit time (t_us):
#        commit-to-acknowledgement latency of the Kafka contenders, and
#        CPU and RSS at a steady light load for all
#   MW3  W3's wide rows (the same and a 1,888-character text) inserted in
#        transactions of W3's batch size
#   MWC  catch-up: MW1's changes written first, with no contender running,
#        then each contender started at the beginning of the binlog file
#        they fill and timed until it has the last change: the decoder's
#        own rate, not the server's pace (keys and values without schemas,
#        as in MW1N)
#   MWCS MWC with schemas (as in MW1)
#
# Contenders:
#   binlog-tool   the server's own binlog decoder reading remotely
#                 (mariadb-binlog / mysqlbinlog --read-from-remote-server
#                 --stop-never -v) into a file: the decoder's own limit
#   sluice-file, sluice-kafka   sluice's MySQL/MariaDB source
#   debezium      Debezium's MySQL connector 3.6.1.Final (MySQL) or MariaDB
#                 connector 3.5.0.Final (MariaDB) on Kafka Connect
#
# Each run is recorded as workload "MW1/mariadb", "MW1/mysql", ...; the
# report (bench/report_mysql.py) sets the contenders of one server side by
# side. The measures are the PostgreSQL ones: the rate from the first commit
# to the last event written or acknowledged, peak and idle RSS and CPU of
# the CDC process, the CPU seconds of the server's process (its dump
# thread is a thread of it, not a process of its own, so this is the
# walsender column's counterpart with the workload's own work in it) and
# the 1-minute load average as each run starts.
#
# Uses run.sh's globals: scale, smoke, stall, work, probe, kafka, sluice,
# sluice_set, keep, perf, results, raw, py, bench_dir, cdc_pid, sampler_pid.

mb_all_contenders=(binlog-tool sluice-file sluice-kafka debezium)

mb_sizes() {
    if ((smoke)); then
        mb_w1_rows=$(sized 3000) mb_w1_batch=$(sized 1000)
        mb_w3_rows=$(sized 1000) mb_w3_batch=$(sized 250)
        mb_w2l_tx=$(sized 250) mb_w2l_rate=500
    else
        mb_w1_rows=$(sized 1000000) mb_w1_batch=$(sized 10000)
        mb_w3_rows=$(sized 100000) mb_w3_batch=$(sized 1000)
        mb_w2l_tx=$(sized 100000) mb_w2l_rate=$rate
    fi
    mb_w2l_clients=4
    # The helper table of numbers that every batch selects from.
    mb_nums=$((mb_w1_batch > mb_w3_batch ? mb_w1_batch : mb_w3_batch))
}

# Starts the servers the MySQL workloads run on, unless they run already
# (--reuse-services with their SLUICE_TEST_* variables exported).
mb_start_services() { # servers...
    local s
    for s in "$@"; do
        case $s in
            mariadb)
                [[ -n ${SLUICE_TEST_MARIADB_PORT:-} ]] && continue
                # A server started here is stopped with the others (svc_stop_all).
                ((reuse)) && { say "--reuse-services: SLUICE_TEST_MARIADB_* are not exported"; return 1; }
                svc_init
                svc_mariadb_start || return 1
                ;;
            mysql)
                [[ -n ${SLUICE_TEST_MYSQL97_PORT:-} ]] && continue
                ((reuse)) && { say "--reuse-services: SLUICE_TEST_MYSQL97_* are not exported"; return 1; }
                svc_init
                svc_mysql_start || return 1
                ;;
        esac
    done
    local dbz_mysql='' dbz_mariadb=''
    if in_list debezium "${contenders[@]}"; then
        for s in "$@"; do
            dbz_install_plugin "$s" || return 1
            printf -v "dbz_$s" '%s' "$SLUICE_DBZ_PLUGIN_VERSION"
        done
    fi
    cat >"$results/mysql.json" <<EOF
{"servers": "$*", "mariadb": "${SLUICE_TEST_MARIADB_VERSION:-}", "mysql": "${SLUICE_TEST_MYSQL97_VERSION:-}",
 "debezium_mysql": "$dbz_mysql", "debezium_mariadb": "$dbz_mariadb",
 "sizes": {"MW1_rows": $mb_w1_rows, "MW1_batch": $mb_w1_batch, "MW3_rows": $mb_w3_rows, "MW3_batch": $mb_w3_batch,
           "MW2L_tx": $mb_w2l_tx, "MW2L_rate": $mb_w2l_rate, "MW2L_clients": $mb_w2l_clients}}
EOF
}

# The server's variables: host, port, user, password, database, socket.
mb_server_vars() { # server
    local v=MARIADB
    [[ $1 == mysql ]] && v=MYSQL97
    local h=SLUICE_TEST_${v}_HOST p=SLUICE_TEST_${v}_PORT u=SLUICE_TEST_${v}_USER
    local pw=SLUICE_TEST_${v}_PASSWORD d=SLUICE_TEST_${v}_DB so=SLUICE_TEST_${v}_SOCKET
    mb_host=${!h} mb_port=${!p} mb_user=${!u} mb_password=${!pw} mb_db=${!d} mb_socket=${!so}
    mb_password_var=$pw
}

# The command line of a client program of the server, in mb_cmd: MariaDB's
# from Debian, MySQL's from the unpacked sid tree through its own loader
# (which runs the program in its own process, so $! of "${mb_cmd[@]}" & is
# the program's pid).
mb_command() { # server program
    if [[ $1 == mysql ]]; then
        local root=$SLUICE_TEST_MYSQL97_ROOT
        mb_cmd=("$root/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"
            --library-path "$root/usr/lib/x86_64-linux-gnu" "$root/usr/bin/$2")
    else
        mb_cmd=("$2")
    fi
}

# SQL as root over the socket, in the test database; -N -B output.
mb_sql() { # server [client args...]
    local server=$1
    shift
    mb_server_vars "$server"
    local client=mariadb
    [[ $server == mysql ]] && client=mysql
    mb_command "$server" "$client"
    "${mb_cmd[@]}" --no-defaults --socket="$mb_socket" -uroot -N -B "$mb_db" "$@"
}

# The server's current end of binlog: "file pos".
mb_binlog_end() { # server
    local q='SHOW MASTER STATUS'
    [[ $1 == mysql ]] && q='SHOW BINARY LOG STATUS'
    mb_sql "$1" -e "$q" | awk -F'\t' 'NR == 1 { print $1, $2 }'
}

mb_prepare_table() { # server workload
    local server=$1 w=$2 t=bench_${2,,} extra='' cols
    [[ $w == MW3 ]] && extra=', payload text NOT NULL'
    cols="id bigint PRIMARY KEY, n int NOT NULL, label varchar(64) NOT NULL,
            amount decimal(12,2) NOT NULL, ts timestamp(6) NOT NULL, flag boolean NOT NULL$extra"
    # MW2L's rows: the schedule's time and the commit time, in microseconds.
    [[ $w == MW2L ]] && cols="id bigint AUTO_INCREMENT PRIMARY KEY, client int NOT NULL,
            n int NOT NULL, label varchar(64) NOT NULL, sched_us bigint NOT NULL,
            t_us bigint NOT NULL"
    local d="(SELECT 0 d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL
        SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8
        UNION ALL SELECT 9)"
    mb_sql "$server" -e "DROP TABLE IF EXISTS $t, bench_nums;
        DROP TABLE IF EXISTS bench_flush;
        CREATE TABLE bench_flush (id int PRIMARY KEY, filler mediumtext NOT NULL);
        CREATE TABLE bench_nums (g int PRIMARY KEY);
        INSERT INTO bench_nums SELECT g FROM (SELECT 1 + a.d + 10 * b.d + 100 * c.d
            + 1000 * e.d + 10000 * f.d AS g FROM $d a, $d b, $d c, $d e, $d f) x
            WHERE g <= $mb_nums;
        CREATE TABLE $t ($cols)"
    if ((!smoke && EUID == 0)); then
        sync
        echo 1 >/proc/sys/vm/drop_caches 2>/dev/null || true
    fi
}

mb_expected_changes() { # workload
    case $1 in
        MW1 | MW1N | MWC | MWCS) echo $((3 * mb_w1_rows)) ;;
        MW2L) echo "$mb_w2l_tx" ;;
        MW3) echo "$mb_w3_rows" ;;
    esac
}
mb_expected_messages() { # workload
    case $1 in
        MW1 | MW1N | MWC | MWCS) echo $((4 * mb_w1_rows)) ;;
        *) mb_expected_changes "$1" ;;
    esac
}

# One statement (so one transaction, autocommit) per batch; the first
# commit's time is printed as "t0".
mb_batch_sql() { # workload
    local w=$1 t=bench_${1,,} rows batch a b off first=1 phase
    # MW1N, MWC and MWCS are MW1's workload; only what the contenders write
    # and when they read it differ.
    [[ $w == MW1N || $w == MWC* ]] && w=MW1
    if [[ $w == MW1 ]]; then rows=$mb_w1_rows batch=$mb_w1_batch; else rows=$mb_w3_rows batch=$mb_w3_batch; fi
    for phase in insert update delete; do
        [[ $w == MW3 && $phase != insert ]] && break
        for ((a = 1; a <= rows; a += batch)); do
            b=$((a + batch - 1 < rows ? a + batch - 1 : rows)) off=$((a - 1))
            case $w-$phase in
                MW1-insert) echo "INSERT INTO $t SELECT g + $off, (g + $off) % 1000, LEFT(SHA2(g + $off, 256), 32), ((g + $off) % 100000) / 100, NOW(6), (g + $off) % 2 = 0 FROM bench_nums WHERE g <= $((b - off));" ;;
                MW1-update) echo "UPDATE $t SET n = n + 1, amount = amount + 1, ts = NOW(6), flag = NOT flag WHERE id BETWEEN $a AND $b;" ;;
                MW1-delete) echo "DELETE FROM $t WHERE id BETWEEN $a AND $b;" ;;
                MW3-insert) echo "INSERT INTO $t SELECT g + $off, (g + $off) % 1000, LEFT(SHA2(g + $off, 256), 32), ((g + $off) % 100000) / 100, NOW(6), (g + $off) % 2 = 0, repeat(LEFT(SHA2(g + $off, 256), 32), 59) FROM bench_nums WHERE g <= $((b - off));" ;;
            esac
            if ((first)); then
                echo "SELECT 't0', UNIX_TIMESTAMP(SYSDATE(6));"
                first=0
            fi
        done
    done
}

# True while the server runs a binlog dump thread (a connected replica).
mb_dumping() { # server
    mb_sql "$1" -e 'SHOW PROCESSLIST' | awk -F'\t' '$5 ~ /^Binlog Dump/ { f = 1 } END { exit !f }'
}

mb_wait_dumping() { # server pid log timeout_s
    local deadline=$(($(date +%s) + $4))
    until mb_dumping "$1"; do
        if ! kill -0 "$2" 2>/dev/null; then
            tail -n 20 "$3" >&2
            say "contender exited during startup (log: $3)"
            return 1
        fi
        if (($(date +%s) >= deadline)); then
            tail -n 20 "$3" >&2
            say "no binlog dump on $1 after $4 s (log: $3)"
            return 1
        fi
        sleep 0.1
    done
}

# The previous contender's dump thread outlives it until the server next
# writes to it: ended here, so that the next contender's dump is the only
# one (and mb_wait_dumping sees that one).
mb_wait_no_dump() { # server
    local i id
    for ((i = 0; i < 100; i++)); do
        id=$(mb_sql "$1" -e 'SHOW PROCESSLIST' | awk -F'\t' '$5 ~ /^Binlog Dump/ { print $1 }')
        [[ -z $id ]] && return 0
        local i2
        for i2 in $id; do mb_sql "$1" -e "KILL $i2" >/dev/null 2>&1 || true; done
        sleep 0.1
    done
    say "a binlog dump thread is still running on $1"
    return 1
}

mb_sluice_config() { # file server sink dir prefix table server_id workload
    local file=$1 server=$2 sink=$3 dir=$4 prefix=$5 table=$6 sid=$7 w=$8 class
    mb_server_vars "$server"
    class=io.debezium.connector.mysql.MySqlConnector
    [[ $server == mariadb ]] && class=io.debezium.connector.mariadb.MariaDbConnector
    {
        printf '{\n  "name": "%s",\n  "connector.class": "%s",\n' "$prefix" "$class"
        printf '  "database.hostname": "%s",\n  "database.port": "%s",\n' "$mb_host" "$mb_port"
        # sluice expands the variable itself, so the file holds no secret.
        printf '  "database.user": "%s",\n  "database.password": "${%s}",\n' "$mb_user" "$mb_password_var"
        printf '  "database.server.id": "%s",\n  "topic.prefix": "%s",\n' "$sid" "$prefix"
        printf '  "database.include.list": "%s",\n' "$mb_db"
        # TLS as the binlog tool has it: MariaDB's client goes without,
        # MySQL's prefers it (as sluice's and Debezium's defaults do).
        [[ $server == mariadb ]] && printf '  "database.ssl.mode": "disabled",\n'
        printf '  "table.include.list": "%s.%s",\n  "snapshot.mode": "no_data",\n' "$mb_db" "$table"
        printf '  "offset.storage.file.filename": "%s/offsets.json",\n' "$dir"
        # MW1N and MWC: keys and values without schemas, as S1 writes them.
        [[ $w == MW1N || $w == MWC ]] && printf '  "schemas.enable": "false",\n'
        local kv
        for kv in "${sluice_set[@]}"; do
            printf '  "%s": "%s",\n' "${kv%%=*}" "${kv#*=}"
        done
        if [[ $sink == kafka ]]; then
            printf '  "sink.type": "kafka",\n  "kafka.bootstrap.servers": "%s",\n' "$kafka"
            printf '  "kafka.acks": "all"\n'
        else
            printf '  "sink.type": "file",\n  "sink.file.directory": "%s/out"\n' "$dir"
        fi
        printf '}\n'
    } >"$file"
}

# Starts a contender at the end of the binlog, or, given a binlog file and
# position (the catch-up workloads), there, without waiting for its dump
# thread: it reads at once, and the caller's clock (mb_launched, the time
# right before the contender's process starts) and sampler run from its
# start.
mb_start_contender() { # server contender dir prefix table workload [file pos]
    local server=$1 c=$2 dir=$3 prefix=$4 table=$5 w=$6 file=${7:-} pos=${8:-}
    mb_server_vars "$server"
    case $c in
        binlog-tool)
            [[ -n $file ]] || read -r file pos <<<"$(mb_binlog_end "$server")"
            local prog=mariadb-binlog id_opt=--stop-never-slave-server-id=5402
            [[ $server == mysql ]] && prog=mysqlbinlog id_opt=--connection-server-id=5402
            # The test server's throw-away password, on the command line.
            mb_command "$server" "$prog"
            mb_launched=$(date +%s.%N)
            "${mb_cmd[@]}" --no-defaults \
                --read-from-remote-server --host="$mb_host" --port="$mb_port" --user="$mb_user" \
                --password="$mb_password" \
                "$id_opt" --stop-never --start-position="$pos" -v \
                --result-file="$dir/binlog.out" "$file" >"$dir/contender.log" 2>&1 &
            cdc_pid=$!
            ;;
        sluice-file | sluice-kafka)
            mb_sluice_config "$dir/sluice.json" "$server" "${c#sluice-}" "$dir" "$prefix" "$table" 5401 "$w"
            # A stored position of file and position alone: sluice resumes
            # there (snapshot.mode no_data takes no snapshot on a resume).
            if [[ -n $file ]] && ! "$sluice" offsets set "$dir/sluice.json" \
                "{\"file\": \"$file\", \"pos\": $pos}" >"$dir/offsets.log" 2>&1; then
                cat "$dir/offsets.log" >&2
                return 1
            fi
            mb_launched=$(date +%s.%N)
            "$sluice" run "$dir/sluice.json" >"$dir/contender.log" 2>&1 &
            cdc_pid=$!
            ;;
        debezium)
            # The MariaDB connector takes MariaDB Connector/J's TLS modes.
            local extra=$dbz_worker_extra
            [[ $w == MW1N ]] &&
                extra+=$'\nkey.converter.schemas.enable=false\nvalue.converter.schemas.enable=false'
            SLUICE_DBZ_WORKER_EXTRA=$extra SLUICE_SVC_QUIET=1 dbz_connect_start "--$server" "$prefix" \
                "table.include.list=$mb_db.$table" database.server.id=5403 \
                "database.ssl.mode=$([[ $server == mariadb ]] && echo disable || echo preferred)" ||
                return 1
            cdc_pid=$SLUICE_DBZ_PID
            SLUICE_SVC_QUIET=1 dbz_wait_running 180 || return 1
            return 0
            ;;
    esac
    [[ -n $file ]] && return 0
    mb_wait_dumping "$server" "$cdc_pid" "$dir/contender.log" 30
}

# The binlog tool writes "end_log_pos N" for every event it decodes: it has
# decoded the workload once its output names the end of binlog that the
# workload left. It writes through stdio, so that line reaches the file with
# the output that follows it (the bench_flush change); the time is the
# first look (every 20 ms) that finds it, not the file's modification time,
# which later output moves.
mb_tool_wait() { # file end_pos stall_s
    local out=$1 end=$2 last=-1 size since
    since=$(date +%s)
    while :; do
        # (grep -q must not end tail early: pipefail would take that as a failure.)
        if [[ -f $out ]] && grep -q "end_log_pos $end " < <(tail -c 1000000 "$out"); then
            printf '{"last_write": %s, "bytes": %s}\n' "$(date +%s.%N)" "$(stat -c %s "$out")"
            return 0
        fi
        size=$(stat -c %s "$out" 2>/dev/null || echo 0)
        if [[ $size != "$last" ]]; then
            last=$size since=$(date +%s)
        elif (($(date +%s) - since >= $3)); then
            printf '{"last_write": null, "bytes": %s}\n' "$size"
            return 1
        fi
        sleep 0.02
    done
}

mb_stop_contender() { # contender dir
    case $1 in
        debezium)
            dbz_connect_stop
            ((keep)) && cp "$SLUICE_DBZ_LOG" "$2/contender.log" 2>/dev/null
            rm -rf "$SLUICE_DBZ_DIR"
            ;;
        *) stop_pid "$cdc_pid" ;;
    esac
    cdc_pid=
}

# MW2L's driver: bench/tools/mysql_pace.py with the server's client, as root
# over the socket (the clients' login is not what is measured). Sets t0 (the
# first commit) and drv_json: the achieved rate and the lag behind the
# schedule, from the rows' scheduled and commit times.
mb_paced() { # server table dir
    local server=$1 table=$2 dir=$3 client=mariadb pace lag
    [[ $server == mysql ]] && client=mysql
    mb_server_vars "$server"
    mb_command "$server" "$client"
    pace=$("$py" "$bench_dir/tools/mysql_pace.py" --rate "$mb_w2l_rate" --tx "$mb_w2l_tx" \
        --clients "$mb_w2l_clients" --table "$table" -- "${mb_cmd[@]}" --no-defaults \
        --socket="$mb_socket" -uroot -N -B "$mb_db" 2>"$dir/workload.err") || return 1
    local first
    read -r first lag <<<"$(mb_sql "$server" -e "SELECT min(t_us),
        CONCAT(ROUND(avg(t_us - sched_us) / 1000, 3), ' ', ROUND(max(t_us - sched_us) / 1000, 3))
        FROM $table")"
    t0=$(awk -v u="$first" 'BEGIN { printf "%.6f", u / 1e6 }')
    read -r -a lag <<<"$lag"
    drv_json=$(printf '{"seconds": %s, "tps": %s, "schedule_lag_avg_ms": %s, "schedule_lag_max_ms": %s}' \
        "$(mb_json_num "$pace" seconds)" "$(mb_json_num "$pace" tps)" "${lag[0]:-null}" "${lag[1]:-null}")
}

# One number of a flat JSON object (the pacer's line), or null.
mb_json_num() { # json key
    local v
    v=$(sed -n "s/.*\"$2\": \([0-9.e+-]*\).*/\1/p" <<<"$1")
    echo "${v:-null}"
}

# The catch-up workloads' binlog: MW1's changes written, with no contender
# running, into a binlog file of their own (FLUSH BINARY LOGS first), then
# the change of an uncaptured table that pushes the binlog tool's output out
# (mb_tool_wait). The contenders of one run of one workload on one server
# all read the same one; it is written again when the binlog has moved
# since (another run or workload wrote to it). Sets mb_cu_start ("file pos":
# where the contenders start), mb_cu_end ("file pos": the workload's end)
# and mb_cu_json (the writing's seconds and the binlog's bytes).
declare -A mb_cu_written=()
mb_catchup_write() { # server workload run dir
    local server=$1 w=$2 key=$1/$2/$3 dir=$4 t=bench_${2,,} now start end n
    now=$(mb_binlog_end "$server")
    if [[ -n ${mb_cu_written[$key]:-} && ${mb_cu_written[$key]%%|*} == "$now" ]]; then
        IFS='|' read -r _ mb_cu_start mb_cu_end mb_cu_json <<<"${mb_cu_written[$key]}"
        return 0
    fi
    mb_prepare_table "$server" "$w"
    mb_sql "$server" -e 'FLUSH BINARY LOGS' || return 1
    mb_cu_start=$(mb_binlog_end "$server")
    mb_batch_sql "$w" >"$dir/workload.sql"
    start=$(date +%s.%N)
    mb_sql "$server" <"$dir/workload.sql" >/dev/null 2>"$dir/workload.err" || return 1
    end=$(date +%s.%N)
    mb_cu_end=$(mb_binlog_end "$server")
    mb_sql "$server" -e \
        "INSERT INTO bench_flush VALUES (1, REPEAT('x', 30000)), (2, REPEAT('y', 30000))" || return 1
    n=$(mb_sql "$server" -e "SELECT count(*) FROM $t")
    [[ $n == 0 ]] || { echo "the workload left $n rows, not 0" >"$dir/workload.err"; return 1; }
    local bytes=null
    # (The binlog's size when the changes fit in one file, as they do unless max_binlog_size is small.)
    [[ ${mb_cu_start%% *} == "${mb_cu_end%% *}" ]] && bytes=$((${mb_cu_end#* } - ${mb_cu_start#* }))
    mb_cu_json=$(printf '{"catchup": true, "write_seconds": %.3f, "binlog_bytes": %s, "start": "%s"}' \
        "$(awk -v a="$start" -v b="$end" 'BEGIN { print b - a }')" "$bytes" "${mb_cu_start/ /:}")
    mb_cu_written[$key]="$(mb_binlog_end "$server")|$mb_cu_start|$mb_cu_end|$mb_cu_json"
}

# The server process's pid (mysqld or mariadbd; MySQL's loader runs it in
# its own process), from its pid file; nothing when it cannot be read.
mb_server_pid() { # server
    local pidfile
    pidfile=$(mb_sql "$1" -e 'SELECT @@pid_file') || return 0
    cat "$pidfile" 2>/dev/null || true
}

# Waits (up to a minute) until the server process uses less than a tenth of
# a core: after a catch-up workload's writes, InnoDB's purge and flushing
# go on for a while, and would compete with the first contender only.
mb_server_quiet() { # server
    local pid i a b
    pid=$(mb_server_pid "$1")
    [[ -n $pid ]] || return 0
    for ((i = 0; i < 120; i++)); do
        a=$(awk '{ print $14 + $15 }' "/proc/$pid/stat" 2>/dev/null) || return 0
        sleep 0.5
        b=$(awk '{ print $14 + $15 }' "/proc/$pid/stat" 2>/dev/null) || return 0
        # Clock ticks (100 a second): under 5 in half a second is under 10 %.
        ((b - a < 5)) && return 0
    done
    say "$1 was still busy a minute after the workload; starting the contender anyway"
}

# One run of a MySQL workload on one server against one contender; appends
# a line to runs.jsonl.
mb_run_one() { # server workload contender run
    local server=$1 w=$2 c=$3 r=$4 id prefix table topic dir expected changes catchup=0 start_at=''
    if [[ $w == MWC* ]]; then
        # Debezium's catch-up would need its offset set through Kafka
        # Connect's REST API: not done (docs/benchmarks.md).
        [[ $c == debezium ]] && return 0
        catchup=1
    fi
    id=$(printf 'bench_%s_%s_%s_r%s' "$server" "${w,,}" "${c//[^a-z0-9]/_}" "$r")
    prefix=$id table=bench_${w,,}
    mb_server_vars "$server"
    topic=$prefix.$mb_db.$table
    dir=$work/$id
    mkdir -p "$dir"
    expected=$(mb_expected_messages "$w") changes=$(mb_expected_changes "$w")
    local ok=true error='' wait_json=null sample_json=null t0='' out='' end_file='' end_pos=''
    local drv_json=null lat_json=null
    mb_wait_no_dump "$server" || { ok=false error="a binlog dump thread of an earlier run is still there"; }
    # (Room for the PostgreSQL workload of the same size; MW1N's and MWC's
    # outputs are smaller than MW1's.)
    local pg_w=${w#M}
    [[ $pg_w == W1N || $pg_w == WC* ]] && pg_w=W1
    if [[ $c == sluice-file ]] && ! room_for_output "$pg_w"; then
        ok=false error="not enough free memory for the output in $storage"
    fi
    ((catchup)) || mb_prepare_table "$server" "$w"
    if [[ $c == sluice-kafka || $c == debezium ]]; then
        "$probe" topics-create "$kafka" "$topic" >/dev/null || { error="could not create topic"; ok=false; }
    fi
    if ((catchup)) && [[ $ok == true ]]; then
        # The changes are in the binlog before the contender starts; the
        # clock runs from its start to its last change.
        if ! mb_catchup_write "$server" "$w" "$r" "$dir"; then
            ok=false error="workload failed: $(head -c 200 "$dir/workload.err" 2>/dev/null)"
        else
            mb_server_quiet "$server"
            read -r end_file end_pos <<<"$mb_cu_end"
            start_at=$mb_cu_start
            drv_json=$(printf '%s, "load_average": "%s"}' "${mb_cu_json%\}}" "$(cut -d' ' -f1-3 /proc/loadavg)")
        fi
    fi
    # shellcheck disable=SC2086  # start_at is "file pos", or nothing
    if [[ $ok == true ]] && ! mb_start_contender "$server" "$c" "$dir" "$prefix" "$table" "$w" \
        $start_at; then
        ok=false error="contender did not start"
    fi
    ((catchup)) && t0=$mb_launched
    if [[ $ok == true ]]; then
        # The server's process is sampled with the contender (the second of
        # the probe's processes, where the PostgreSQL workloads have the
        # walsender): its CPU seconds include the dump thread's, reading and
        # sending the binlog to this contender, and the workload's.
        local server_pid
        server_pid=$(mb_server_pid "$server")
        # shellcheck disable=SC2086  # server_pid is one pid, or nothing
        "$probe" sample 100 "$cdc_pid" $server_pid >"$dir/sample.json" 2>"$dir/sample.err" &
        sampler_pid=$!
        until grep -q sampling "$dir/sample.err" 2>/dev/null; do
            kill -0 "$sampler_pid" 2>/dev/null || break
            sleep 0.02
        done
        if ((perf)) && [[ $c == sluice-* ]]; then
            perf record -q -g -F 499 -p "$cdc_pid" -o "$results/perf-$id.data" >"$dir/perf.log" 2>&1 &
            perf_pid=$!
            sleep 0.5
        fi
        if ((catchup)); then
            : # written before the contender started (mb_catchup_write)
        elif [[ $w == MW2L ]]; then
            mb_paced "$server" "$table" "$dir" || ok=false error="workload failed: $(head -c 200 "$dir/workload.err")"
        else
            mb_batch_sql "$w" >"$dir/workload.sql"
            local start end
            start=$(date +%s.%N)
            if ! out=$(mb_sql "$server" <"$dir/workload.sql" 2>"$dir/workload.err"); then
                ok=false error="workload failed: $(head -c 200 "$dir/workload.err")"
            fi
            end=$(date +%s.%N)
            t0=$(awk '$1 == "t0" { print $2 }' <<<"$out")
            drv_json=$(printf '{"seconds": %.3f}' "$(awk -v a="$start" -v b="$end" 'BEGIN { print b - a }')")
        fi
        # The binlog tool writes through stdio: the end of its decoded
        # workload reaches its file only when more output follows. A change
        # of a table that no contender captures, right after the workload,
        # is that output (mb_tool_wait; mb_catchup_write writes it itself).
        if ((!catchup)); then
            read -r end_file end_pos <<<"$(mb_binlog_end "$server")"
            [[ $c == binlog-tool ]] && mb_sql "$server" -e \
                "INSERT INTO bench_flush VALUES (1, REPEAT('x', 30000)), (2, REPEAT('y', 30000))"
        fi
        local n want=0
        [[ $w == MW3 ]] && want=$mb_w3_rows
        [[ $w == MW2L ]] && want=$mb_w2l_tx
        n=$(mb_sql "$server" -e "SELECT count(*) FROM $table")
        if [[ $ok == true && $n != "$want" ]]; then
            ok=false error="the workload left $n rows, not $want"
        fi
        if [[ $ok == true ]]; then
            case $c in
                binlog-tool) wait_json=$(mb_tool_wait "$dir/binlog.out" "$end_pos" "$stall") ;;
                sluice-file) wait_json=$("$probe" files-wait "$dir/out" "$expected" "$stall") ;;
                *) wait_json=$("$probe" kafka-wait "$kafka" "$expected" "$stall" "$topic") ;;
            esac || { ok=false error="not every event was delivered (nothing moved for ${stall}s)"; }
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
        # Latency is read from the Kafka messages' append times; the file
        # contenders' outputs carry no time per event (see docs/benchmarks.md).
        if [[ $ok == true && $w == MW2L && ($c == sluice-kafka || $c == debezium) ]]; then
            local dump=
            ((keep)) && dump=$dir/latency.txt
            lat_json=$(SLUICE_BENCH_LATENCY_DUMP=$dump "$probe" kafka-latency "$kafka" t_us "$topic") ||
                { ok=false error="latency: some messages lack a commit time or LogAppendTime"; }
        fi
        mb_stop_contender "$c" "$dir"
    fi
    [[ -z $wait_json ]] && wait_json=null
    [[ -z $lat_json ]] && lat_json=null
    if [[ ($c == sluice-kafka || $c == debezium) && $keep == 0 ]]; then
        "$probe" topics-delete "$kafka" "$topic" >/dev/null || true
    fi
    if [[ $ok == false && -f $dir/contender.log ]]; then
        mkdir -p "$results/failed"
        cp "$dir/contender.log" "$results/failed/$id.log"
    fi
    if ((!keep)); then rm -rf "$dir"; fi
    printf '{"workload": "%s/%s", "contender": "%s", "run": %s, "ok": %s, "error": "%s", "changes": %s, "messages": %s, "t0": %s, "end_lsn": "%s", "driver": %s, "wait": %s, "sample": %s, "latency": %s}\n' \
        "$w" "$server" "$c" "$r" "$ok" "${error//\"/\'}" "$changes" "$expected" "${t0:-null}" \
        "$end_file:$end_pos" "$drv_json" "$wait_json" "$sample_json" "$lat_json" >>"$raw"
    "$py" "$bench_dir/report.py" --line "$(tail -n 1 "$raw")" >&2
    [[ $ok == true ]]
}
