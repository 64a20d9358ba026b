# shellcheck shell=bash
# The fault-injection suite (tests/README.md): real sluice, real
# PostgreSQL and Kafka, real faults (kill -9, a broker killed and restarted, a
# database crash-restarted, network faults through toxiproxy), then a check of
# every key of the topic against the table and the history of committed
# versions (fault_tool check).
#
# Sourced by scripts/test.sh once the services run (PostgreSQL, Kafka started
# with --proxied, toxiproxy), in the same shell, since the cases kill and
# restart those services:
#
#   source tests/faults/faults.sh
#   fault_suite short|long
#
# Needs SLUICE_TEST_BINARY (the sluice to test) and FAULT_TOOL (fault_tool).
# SLUICE_FAULT_SEED repeats a run's load and fault timing; SLUICE_FAULT_CYCLES
# sets the kill -9 cycles; SLUICE_FAULT_CASES (space separated) picks cases.
# Prints one line per case, "fault CASE: ok (...)" or "fault CASE: FAILED (...)".

_fault_log() { printf '  %s %s\n' "$(date +%H:%M:%S)" "$*"; }

# psql as the test user; -At: bare values.
_fault_psql() { PGOPTIONS='-c client_min_messages=warning' psql -X -q -At -v ON_ERROR_STOP=1 "$@"; }

# A random integer in [lo, hi] from bash's generator (seeded by fault_suite).
_fault_rand() { echo $(($1 + RANDOM % ($2 - $1 + 1))); }

# _fault_setup CASE PG_PORT KAFKA EXTRA: fresh table, history, topic and
# connector file for CASE; EXTRA is more JSON members (may be "").
_fault_setup() {
    local name=$1 port=$2 kafka=$3 extra=$4
    _FAULT_DIR=$SVC_TMPDIR/faults/$name
    rm -rf "$_FAULT_DIR"
    mkdir -p "$_FAULT_DIR"
    _FAULT_LOG=$_FAULT_DIR/sluice.log
    _FAULT_CFG=$_FAULT_DIR/$name.json
    _FAULT_TOPIC=$name.public.$name
    _fault_psql >/dev/null <<SQL || return 1
SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '$name';
DROP TABLE IF EXISTS $name, ${name}_hist;
CREATE SEQUENCE IF NOT EXISTS fault_version;
CREATE TABLE $name (id int PRIMARY KEY, v bigint NOT NULL, txt text, n int NOT NULL);
ALTER TABLE $name REPLICA IDENTITY FULL;
CREATE TABLE ${name}_hist (seq bigserial PRIMARY KEY, id int NOT NULL, v bigint NOT NULL,
                           op "char" NOT NULL);
SQL
    # Three partitions: per-key order then depends on partitioning by key.
    "$FAULT_TOOL" topic "$_FAULT_TOPIC" 3 || return 1
    cat >"$_FAULT_CFG" <<JSON
{
  "name": "$name",
  "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
  "database.hostname": "127.0.0.1",
  "database.port": "$port",
  "database.user": "$SLUICE_TEST_PG_USER",
  "database.password": "\${SLUICE_TEST_PG_PASSWORD}",
  "database.dbname": "$SLUICE_TEST_PG_DB",
  "topic.prefix": "$name",
  "slot.name": "$name",
  "publication.name": "$name",
  "publication.autocreate.mode": "filtered",
  "table.include.list": "public\\\\.$name",
  "snapshot.mode": "no_data",
  "kafka.bootstrap.servers": "$kafka",
  "key.converter.schemas.enable": false,
  "value.converter.schemas.enable": false,
  "offset.storage.file.filename": "$_FAULT_DIR/offsets.json",
  "offset.flush.interval.ms": 100,
  "status.update.interval.ms": 1000${extra:+,
  $extra}
}
JSON
}

# Starts sluice on the case's connector file; its pid in _FAULT_PID.
_fault_start() {
    ASAN_OPTIONS=detect_leaks=1:halt_on_error=1 \
        "$SLUICE_TEST_BINARY" --log-level info run "$_FAULT_CFG" >>"$_FAULT_LOG" 2>&1 </dev/null &
    _FAULT_PID=$!
}

# _fault_wait_log TEXT COUNT SECONDS: until TEXT appears COUNT times in the log.
_fault_wait_log() {
    local i n
    for ((i = 0; i < $3 * 10; i++)); do
        # No log yet prints nothing (grep's status 2): count it as none.
        n=$(grep -c -- "$1" "$_FAULT_LOG" 2>/dev/null) || true
        ((${n:-0} >= $2)) && return 0
        sleep 0.1
    done
    return 1
}

# _fault_stop SIGNAL SECONDS: sends SIGNAL and waits; sets _FAULT_RC to the
# exit status, or to "hung" after SECONDS (then kills it with SIGKILL).
_fault_stop() {
    local i
    kill -"$1" "$_FAULT_PID" 2>/dev/null || true
    for ((i = 0; i < $2 * 10; i++)); do
        if ! kill -0 "$_FAULT_PID" 2>/dev/null; then
            _FAULT_RC=0
            wait "$_FAULT_PID" || _FAULT_RC=$?
            return 0
        fi
        sleep 0.1
    done
    kill -KILL "$_FAULT_PID" 2>/dev/null || true
    wait "$_FAULT_PID" 2>/dev/null || true
    _FAULT_RC=hung
}

# True while the case's sluice runs; notes it as a problem when it exited by itself.
_fault_alive() {
    kill -0 "$_FAULT_PID" 2>/dev/null && return 0
    local rc=0
    wait "$_FAULT_PID" 2>/dev/null || rc=$?
    _fault_problem "sluice exited by itself with status $rc (see $_FAULT_LOG)"
    return 1
}

_fault_problem() {
    _FAULT_PROBLEMS+=("$*")
    _fault_log "problem: $*"
}

# Starts the load in the background: _fault_load TRANSACTIONS SECONDS [THEN];
# THEN, a command, runs in the same background job once the load succeeded.
_fault_load() {
    { "$FAULT_TOOL" load "$_FAULT_NAME" "$((_FAULT_SEED + ${#_FAULT_NAME}))" "$1" "$2" &&
        ${3:-true}; } >"$_FAULT_DIR/load.log" 2>&1 &
    _FAULT_LOAD_PID=$!
}

# _fault_update_one: a new version of the table's first key, in the history
# too, as the load writes them; psql options (-c "SET ...") may come first.
_fault_update_one() {
    _fault_psql "$@" -c "WITH w AS (UPDATE $_FAULT_NAME SET v = nextval('fault_version'), n = n + 1
        WHERE id = (SELECT min(id) FROM $_FAULT_NAME) RETURNING id, v)
        INSERT INTO ${_FAULT_NAME}_hist (id, v, op) SELECT id, v, 'w' FROM w"
}

# After the load: a synchronous commit (it flushes all the WAL before it);
# once the slot has confirmed it, an asynchronous one, left in the server's
# WAL buffers until the WAL writer's next round.
_fault_last_commit_unwritten() {
    local lsn i
    _fault_update_one -c "SET synchronous_commit = on" || return 1
    lsn=$(_fault_psql -c "SELECT pg_current_wal_insert_lsn()") || return 1
    for ((i = 0; i < 300; i++)); do
        [[ $(_fault_psql -c "SELECT confirmed_flush_lsn >= '$lsn'::pg_lsn FROM pg_replication_slots WHERE slot_name = '$_FAULT_NAME'") == t ]] && break
        sleep 0.2
    done
    _fault_update_one
}

# Waits for the load; then for the slot to confirm everything written so far
# (the sink holds it all), SECONDS at most; then stops sluice with SIGTERM,
# which must end it with status 0; then checks the topic.
_fault_finish() {
    local secs=$1 target confirmed i rc=0
    wait "$_FAULT_LOAD_PID" || rc=$?
    ((rc == 0)) || _fault_problem "the load failed: $(tail -n 2 "$_FAULT_DIR/load.log")"
    _FAULT_FIGURES+=("$(tail -n 1 "$_FAULT_DIR/load.log" | sed 's/^load [a-z0-9_]*: //')")
    # Every commit so far ends before the WAL insert position. The write
    # position (pg_current_wal_lsn) is not enough: with synchronous_commit
    # off (services.sh) the last commits can still be in the server's WAL
    # buffers, not yet sent to sluice, and the wait would end without them.
    target=$(_fault_psql -c "SELECT pg_current_wal_insert_lsn()")
    for ((i = 0; i < secs * 5; i++)); do
        confirmed=$(_fault_psql -c "SELECT confirmed_flush_lsn >= '$target'::pg_lsn FROM pg_replication_slots WHERE slot_name = '$_FAULT_NAME'" 2>/dev/null || true)
        [[ $confirmed == t ]] && break
        _fault_alive || break
        sleep 0.2
    done
    [[ $confirmed == t ]] ||
        _fault_problem "not caught up ${secs}s after the load: slot \"$_FAULT_NAME\" confirmed $(_fault_psql -c "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = '$_FAULT_NAME'"), WAL at $target"
    if kill -0 "$_FAULT_PID" 2>/dev/null; then
        _fault_stop TERM 60
        [[ $_FAULT_RC == 0 ]] || _fault_problem "SIGTERM: sluice ended with status $_FAULT_RC, expected 0"
    fi
    local out
    out=$("$FAULT_TOOL" check "$_FAULT_NAME" "$_FAULT_TOPIC" 2>&1) || _fault_problem "the topic does not match the table and its history"
    printf '%s\n' "$out" | sed 's/^/    /'
    _FAULT_FIGURES+=("$(grep '^check ' <<<"$out" | sed 's/^check [a-z0-9_]*: //')")
    _fault_psql -c "SELECT pg_drop_replication_slot('$_FAULT_NAME')" >/dev/null 2>&1 || true
}

# ---------------------------------------------------------------------------
# The cases. Each sets up its connector, starts sluice and the load, injects
# its faults, and ends with _fault_finish.
# ---------------------------------------------------------------------------

# kill -9 of sluice at random moments (startup included) under the load.
fault_case_kill9() {
    local cycles=$1 tx=$2 i
    _fault_setup "$_FAULT_NAME" "$SLUICE_TEST_PG_PORT" "$SLUICE_TEST_KAFKA" "" || return 1
    _fault_start
    _fault_wait_log "streaming from slot" 1 60 || { _fault_problem "sluice did not start streaming"; return 1; }
    _fault_load "$tx" "$((cycles * 2))"
    for ((i = 1; i <= cycles; i++)); do
        sleep "$(_fault_rand 2 38 | sed 's/.$/.&/')"
        _fault_alive || _fault_start
        kill -KILL "$_FAULT_PID" 2>/dev/null || true
        wait "$_FAULT_PID" 2>/dev/null || true
        sleep "0.$(_fault_rand 0 5)"
        _fault_start
    done
    _FAULT_FIGURES+=("$cycles kill -9 cycles, $(grep -c 'resuming from' "$_FAULT_LOG") resumed from the offsets file")
    _fault_finish 180
}

# The broker killed with SIGKILL, restarted OUTAGE seconds later; it is
# unavailable for that plus its restart (recovery of an unclean shutdown, about
# 10 to 30 s here), which the case reports. With EXTRA setting
# kafka.message.timeout.ms below that, in-flight messages fail and sluice must
# restart from its checkpoint.
fault_case_kafka() {
    local outage=$1 extra=$2 tx=$3
    _fault_setup "$_FAULT_NAME" "$SLUICE_TEST_PG_PORT" "$SLUICE_TEST_KAFKA" "$extra" || return 1
    _fault_start
    _fault_wait_log "streaming from slot" 1 60 || { _fault_problem "sluice did not start streaming"; return 1; }
    _fault_load "$tx" 25
    sleep 5
    _fault_log "broker killed (SIGKILL); restarted after ${outage}s"
    local t0=$SECONDS
    svc_kafka_kill
    sleep "$outage"
    svc_kafka_restart || { _fault_problem "the broker did not come back"; return 1; }
    local down=$((SECONDS - t0))
    _fault_alive || _fault_start
    _fault_finish 180
    _FAULT_FIGURES+=("broker unavailable ${down}s, $(grep -c 'restarting from the last checkpoint' "$_FAULT_LOG") pipeline restarts")
}

# PostgreSQL crash-restarted (pg_ctl -m immediate) twice mid-stream.
fault_case_pg_crash() {
    local tx=$1
    _fault_setup "$_FAULT_NAME" "$SLUICE_TEST_PG_PORT" "$SLUICE_TEST_KAFKA" "" || return 1
    _fault_start
    _fault_wait_log "streaming from slot" 1 60 || { _fault_problem "sluice did not start streaming"; return 1; }
    _fault_load "$tx" 20
    local n
    for n in 1 2; do
        sleep "$(_fault_rand 4 8)"
        _fault_log "postgres restarted with -m immediate"
        svc_pg_crash_restart || { _fault_problem "postgres did not come back"; return 1; }
    done
    _fault_alive || _fault_start
    _fault_finish 180
    _FAULT_FIGURES+=("2 crash restarts, $(grep -c 'source reconnected' "$_FAULT_LOG") reconnects")
}

# Network faults between sluice and PostgreSQL (through toxiproxy): latency,
# connections reset, a black hole that heals; then a partition of the way to
# the server only, while a new table version makes sluice query the catalog:
# SIGTERM must still stop sluice (issue 7 item 14), and after the partition a
# restart must lose nothing.
fault_case_toxi_pg() {
    local hole=$1 tx=$2
    _fault_setup "$_FAULT_NAME" "$SLUICE_TEST_PG_PROXY_PORT" "$SLUICE_TEST_KAFKA" "" || return 1
    _fault_start
    _fault_wait_log "streaming from slot" 1 60 || { _fault_problem "sluice did not start streaming"; return 1; }
    _fault_load "$tx" "$((hole + 25))"
    _fault_faults postgres "$hole"
    sleep 2
    _fault_log "postgres: partition towards the server; a column added (a new Relation); then SIGTERM"
    svc_toxi_add postgres hole timeout upstream '{"timeout":0}'
    _fault_psql -c "ALTER TABLE $_FAULT_NAME ADD COLUMN extra int"
    sleep 5
    _fault_alive || _fault_start
    _fault_stop TERM 45
    if [[ $_FAULT_RC == hung ]]; then
        _fault_problem "SIGTERM did not stop sluice within 45 s while PostgreSQL was unreachable (issue 7 item 14)"
    else
        _FAULT_FIGURES+=("SIGTERM in a partition: status $_FAULT_RC")
    fi
    svc_toxi_reset
    _fault_start
    _fault_finish 180
}

# Network faults between sluice and Kafka (through toxiproxy and the broker's
# proxied listener): latency, connections reset, a black hole that heals.
fault_case_toxi_kafka() {
    local hole=$1 tx=$2
    _fault_setup "$_FAULT_NAME" "$SLUICE_TEST_PG_PORT" "$SLUICE_TEST_KAFKA_PROXIED" "" || return 1
    _fault_start
    _fault_wait_log "streaming from slot" 1 60 || { _fault_problem "sluice did not start streaming"; return 1; }
    _fault_load "$tx" "$((hole + 15))"
    _fault_faults kafka "$hole"
    _fault_alive || _fault_start
    _fault_finish 180
}

# The checker's own test: a clean run must pass, then a change sluice never
# saw (made after its slot is gone) and a committed version that never reached
# the topic must each be reported.
fault_case_checker() {
    _fault_setup "$_FAULT_NAME" "$SLUICE_TEST_PG_PORT" "$SLUICE_TEST_KAFKA" "" || return 1
    _fault_start
    _fault_wait_log "streaming from slot" 1 60 || { _fault_problem "sluice did not start streaming"; return 1; }
    # The wait at the end of a case must cover a commit the server has not
    # written yet (synchronous_commit is off): with the WAL writer slowed
    # down, the last commit waits in the WAL buffers after everything before
    # it was written. Without out-of-line values: this case tests the
    # checker, not issue 7 item 5.
    _svc_pg_admin_psql -c "ALTER SYSTEM SET wal_writer_delay = '5s'" -c "SELECT pg_reload_conf()" >/dev/null
    SLUICE_FAULT_TOAST=0 _fault_load 200 5 _fault_last_commit_unwritten
    _fault_finish 120
    _svc_pg_admin_psql -c "ALTER SYSTEM RESET wal_writer_delay" -c "SELECT pg_reload_conf()" >/dev/null
    ((${#_FAULT_PROBLEMS[@]} == 0)) || return 1
    local id out
    id=$(_fault_psql -c "SELECT min(id) FROM $_FAULT_NAME")
    _fault_psql -c "UPDATE $_FAULT_NAME SET n = n + 1000 WHERE id = $id"
    if out=$("$FAULT_TOOL" check "$_FAULT_NAME" "$_FAULT_TOPIC" 2>&1) ||
            [[ $out != *"problems of kind: final value differs"* ]]; then
        _fault_problem "the checker missed a row that differs from its last message"
    fi
    _fault_psql -c "INSERT INTO ${_FAULT_NAME}_hist (id, v, op) VALUES ($id, 2000000000, 'w')"
    if out=$("$FAULT_TOOL" check "$_FAULT_NAME" "$_FAULT_TOPIC" 2>&1) ||
            [[ $out != *"problems of kind: missing at the end"* ]]; then
        _fault_problem "the checker missed a committed version that never arrived"
    fi
}

# _fault_faults PROXY HOLE: latency, then resets, then a black hole of HOLE seconds.
_fault_faults() {
    local proxy=$1 hole=$2
    sleep 3
    _fault_log "$proxy: latency 300 ms +- 100 ms both ways for 4 s"
    svc_toxi_add "$proxy" lag latency downstream '{"latency":300,"jitter":100}'
    svc_toxi_add "$proxy" lag_up latency upstream '{"latency":300,"jitter":100}'
    sleep 4
    svc_toxi_reset
    _fault_log "$proxy: connections reset for 2 s"
    svc_toxi_add "$proxy" cut reset_peer upstream '{"timeout":0}'
    sleep 2
    svc_toxi_reset
    sleep 2
    _fault_log "$proxy: black hole for ${hole}s"
    svc_toxi_add "$proxy" hole timeout upstream '{"timeout":0}'
    svc_toxi_add "$proxy" hole_down timeout downstream '{"timeout":0}'
    sleep "$hole"
    svc_toxi_reset
    _fault_log "$proxy: healed"
}

# ---------------------------------------------------------------------------

# fault_suite short|long: runs the cases; sets FAULT_PASSED, FAULT_FAILED and
# FAULT_FAILURES (the failed cases' lines).
fault_suite() {
    local mode=${1:-short}
    FAULT_PASSED=0 FAULT_FAILED=0 FAULT_FAILURES=()
    _FAULT_SEED=${SLUICE_FAULT_SEED:-$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')}
    RANDOM=$_FAULT_SEED
    local cycles tx hole
    if [[ $mode == long ]]; then
        cycles=${SLUICE_FAULT_CYCLES:-100} tx=20000 hole=90
    else
        cycles=${SLUICE_FAULT_CYCLES:-15} tx=3000 hole=15
    fi
    echo "fault suite ($mode): seed $_FAULT_SEED (SLUICE_FAULT_SEED=$_FAULT_SEED repeats the load and timing)"
    local cases=${SLUICE_FAULT_CASES:-checker kill9 kafka_down kafka_timeout pg_crash toxi_pg toxi_kafka}
    local c t0 status n=0
    for c in $cases; do
        # Numbered, so that a case named twice gets a fresh table, slot and topic.
        n=$((n + 1))
        _FAULT_NAME=fault_${c}_$n
        _FAULT_PROBLEMS=() _FAULT_FIGURES=()
        t0=$SECONDS
        echo "fault $c: running"
        case $c in
            checker) fault_case_checker ;;
            kill9) fault_case_kill9 "$cycles" "$tx" ;;
            kafka_down) fault_case_kafka 10 "" $((tx / 3)) ;;
            kafka_timeout) fault_case_kafka 6 '"kafka.message.timeout.ms": "5000"' $((tx / 3)) ;;
            pg_crash) fault_case_pg_crash $((tx / 2)) ;;
            toxi_pg) fault_case_toxi_pg "$hole" $((tx / 2)) ;;
            toxi_kafka) fault_case_toxi_kafka "$hole" $((tx / 2)) ;;
            *) _fault_problem "unknown case \"$c\"" ;;
        esac || true
        # Whatever happened, nothing of the case goes on running.
        kill -KILL "${_FAULT_PID:-}" "${_FAULT_LOAD_PID:-}" 2>/dev/null || true
        wait "${_FAULT_PID:-}" "${_FAULT_LOAD_PID:-}" 2>/dev/null || true
        svc_toxi_reset 2>/dev/null || true
        _svc_is_running kafka || svc_kafka_restart || true
        local figures
        figures=$(printf '%s; ' "${_FAULT_FIGURES[@]}")
        if ((${#_FAULT_PROBLEMS[@]} == 0)); then
            status="fault $c: ok (${figures}$((SECONDS - t0)) s)"
            FAULT_PASSED=$((FAULT_PASSED + 1))
        else
            status="fault $c: FAILED (${#_FAULT_PROBLEMS[@]} problems, first: ${_FAULT_PROBLEMS[0]}; ${figures}$((SECONDS - t0)) s)"
            FAULT_FAILED=$((FAULT_FAILED + 1))
            FAULT_FAILURES+=("$status")
        fi
        echo "$status"
    done
}
