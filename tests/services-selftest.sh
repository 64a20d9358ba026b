#!/usr/bin/env bash
# Self-check for tests/lib/services.sh: starts PostgreSQL, Kafka, MariaDB and
# MySQL (when scripts/fetch-mysql.sh could fetch it; otherwise it says
# "NOT RUN" and fails unless SLUICE_ALLOW_MISSING_MYSQL=1), pokes each the
# way sluice's tests will, and stops them again.
# Prints per-service start times and a final "N passed, N failed" line.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib/services.sh
source "$here/lib/services.sh"

trap svc_stop_all EXIT
trap 'exit 130' INT TERM

passed=0
failed=0
ok()   { passed=$((passed + 1)); printf 'ok   %s\n' "$1"; }
fail() { failed=$((failed + 1)); printf 'FAIL %s\n' "$1"; [[ -z ${2:-} ]] || printf '     %s\n' "$2"; }
# check NAME EXPECTED ACTUAL
check() { if [[ $3 == "$2" ]]; then ok "$1"; else fail "$1" "expected '$2', got '$3'"; fi; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# Every TCP listener of PID (and its children) must be on 127.0.0.1.
loopback_only() {
    local name=$1 pid=$2 addrs bad
    addrs=$(ss -H -ltnp 2>/dev/null | awk -v p="pid=$pid," 'index($0, p) { print $4 }')
    if [[ -z $addrs ]]; then
        fail "$name listens on 127.0.0.1 only" "no listening socket found for pid $pid"
        return
    fi
    # Java may report an IPv4 bind as the v4-mapped [::ffff:127.0.0.1].
    bad=$(grep -Ev '^(127\.0\.0\.1|\[::ffff:127\.0\.0\.1\]):' <<<"$addrs" || true)
    if [[ -z $bad ]]; then ok "$name listens on 127.0.0.1 only"; else fail "$name listens on 127.0.0.1 only" "also on: $bad"; fi
}

svc_init
declare -A took=()

t=$(now); svc_pg_start;      took[postgres]=$(since "$t")
t=$(now); svc_kafka_start;   took[kafka]=$(since "$t")
t=$(now); svc_mariadb_start; took[mariadb]=$(since "$t")
mysql_rc=0
t=$(now); svc_mysql_start || mysql_rc=$?; took[mysql]=$(since "$t")

# --- PostgreSQL -------------------------------------------------------------
# The PG* variables make plain psql a scram login as sluice over TCP.
check "pg: wal_level over TCP as sluice" logical "$(psql -XtAc 'SHOW wal_level' 2>&1)"
check "pg: max_replication_slots" 20 "$(psql -XtAc 'SHOW max_replication_slots' 2>&1)"
check "pg: sluice password stored as scram" t \
    "$(psql -XtAc "SELECT rolpassword LIKE 'SCRAM-SHA-256\$%' FROM pg_authid WHERE rolname = 'sluice'" 2>&1)"
if PGPASSWORD=wrong psql -XtAc 'SELECT 1' >/dev/null 2>&1; then
    fail "pg: wrong password is rejected"
else
    ok "pg: wrong password is rejected"
fi
check "pg: postgres user via trust over TCP" postgres \
    "$(PGPASSWORD='' psql -XtA -h 127.0.0.1 -U postgres -d postgres -c 'SELECT current_user' 2>&1)"
check "pg: logical slot with pgoutput" selftest \
    "$(psql -XtAc "SELECT slot_name FROM pg_create_logical_replication_slot('selftest', 'pgoutput')" 2>&1)"
psql -XqtAc "SELECT pg_drop_replication_slot('selftest')" >/dev/null
out=$(psql -XtA "dbname=$SLUICE_TEST_PG_DB replication=database" -c 'IDENTIFY_SYSTEM' 2>&1 || true)
if [[ $out =~ ^[0-9]+\|[0-9]+\|[0-9A-F]+/[0-9A-F]+\|sluice_test$ ]]; then
    ok "pg: walsender connection (replication=database) as sluice"
else
    fail "pg: walsender connection (replication=database) as sluice" "$out"
fi
check "pg: conninfo variable works" 1 "$(psql -XtA "$SLUICE_TEST_PG_CONNINFO" -c 'SELECT 1' 2>&1)"
t=$(now); svc_pg_restart; took[postgres-restart]=$(since "$t")
check "pg: query after svc_pg_restart" logical "$(psql -XtAc 'SHOW wal_level' 2>&1)"
loopback_only postgres "$(head -n 1 "$SVC_TMPDIR/pg/data/postmaster.pid")"

# --- Kafka ------------------------------------------------------------------
out=$(kcat -b "$SLUICE_TEST_KAFKA" -L -m 5 2>&1 || true)
if [[ $out == *"broker 1 at $SLUICE_TEST_KAFKA"* ]]; then ok "kafka: kcat -L"; else fail "kafka: kcat -L" "$out"; fi
topic=selftest-$RANDOM$RANDOM
if printf 'k1:hello sluice\n' | kcat -b "$SLUICE_TEST_KAFKA" -P -t "$topic" -K: 2>&1; then
    ok "kafka: produce to new topic $topic"
else
    fail "kafka: produce to new topic $topic"
fi
check "kafka: consume the message back" "k1=hello sluice" \
    "$(timeout 30 kcat -b "$SLUICE_TEST_KAFKA" -C -t "$topic" -o beginning -c 1 -e -f '%k=%s\n' 2>&1)"
# A group consumer needs the (auto-created) __consumer_offsets topic.
check "kafka: consumer group read" "hello sluice" \
    "$(timeout 30 kcat -b "$SLUICE_TEST_KAFKA" -G selftest-group -o beginning -c 1 -f '%s\n' "$topic" 2>/dev/null)"
loopback_only kafka "$_SVC_KAFKA_PID"

# --- MariaDB ----------------------------------------------------------------
my() {
    mariadb --no-defaults -h "$SLUICE_TEST_MYSQL_HOST" -P "$SLUICE_TEST_MYSQL_PORT" \
        -u "$SLUICE_TEST_MYSQL_USER" -p"$SLUICE_TEST_MYSQL_PASSWORD" -N -B "$@"
}
check "mariadb: query over TCP as sluice" "sluice@127.0.0.1" "$(my -e 'SELECT USER()' 2>&1)"
check "mariadb: binlog settings" "1 ROW FULL FULL CRC32 1 0" \
    "$(my -e 'SELECT @@log_bin, @@binlog_format, @@binlog_row_image, @@binlog_row_metadata,
        @@binlog_checksum, @@gtid_strict_mode, @@gtid_domain_id' 2>&1 | tr '\t' ' ')"
check "mariadb: TLS with the test CA, host name checked" "TLSv1.3" \
    "$(my --ssl-ca="$SLUICE_TEST_MARIADB_SSL_CA" --ssl-verify-server-cert \
        -e "SHOW SESSION STATUS LIKE 'Ssl_version'" 2>&1 | cut -f2)"
check "mariadb: SLUICE_TEST_MYSQL_* still name MariaDB" "$SLUICE_TEST_MARIADB_PORT" "$SLUICE_TEST_MYSQL_PORT"
my sluice_test -e 'CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20)); INSERT INTO t VALUES (1, "a");'
out=$(my -e 'SHOW BINARY LOGS' 2>&1 || true)
if [[ $out == mariadb-bin.* ]]; then ok "mariadb: SHOW BINARY LOGS"; else fail "mariadb: SHOW BINARY LOGS" "$out"; fi
binlog=$(head -n 1 <<<"$out" | cut -f1)
if my -e "SHOW BINLOG EVENTS IN '$binlog'" 2>&1 | grep -q Write_rows; then
    ok "mariadb: row events in binlog"
else
    fail "mariadb: row events in binlog"
fi
if mariadb --no-defaults -h 127.0.0.1 -P "$SLUICE_TEST_MYSQL_PORT" -u sluice -pwrong -e 'SELECT 1' >/dev/null 2>&1; then
    fail "mariadb: wrong password is rejected"
else
    ok "mariadb: wrong password is rejected"
fi
loopback_only mariadb "$_SVC_MY_PID"
t=$(now); svc_mariadb_restart; took[mariadb-restart]=$(since "$t")
check "mariadb: query after svc_mariadb_restart" "sluice@127.0.0.1" "$(my -e 'SELECT USER()' 2>&1)"

# --- MySQL ------------------------------------------------------------------
if ((mysql_rc == 2)); then
    if [[ ${SLUICE_ALLOW_MISSING_MYSQL:-0} == 1 ]]; then
        printf 'NOT RUN: MySQL checks (MySQL was not fetched; SLUICE_ALLOW_MISSING_MYSQL=1)\n'
    else
        fail "mysql: available" "NOT RUN: MySQL was not fetched (scripts/fetch-mysql.sh)"
    fi
elif ((mysql_rc != 0)); then
    fail "mysql: svc_mysql_start"
else
    # The MariaDB client logs in to MySQL 9 too (caching_sha2_password).
    my9() {
        mariadb --no-defaults -h "$SLUICE_TEST_MYSQL97_HOST" -P "$SLUICE_TEST_MYSQL97_PORT" \
            -u "$SLUICE_TEST_MYSQL97_USER" -p"$SLUICE_TEST_MYSQL97_PASSWORD" -N -B "$@"
    }
    check "mysql: query over TCP as sluice" "sluice@127.0.0.1 9.7" \
        "$(my9 -e 'SELECT USER(), LEFT(VERSION(), 3)' 2>&1 | tr '\t' ' ')"
    check "mysql: binlog settings" "1 ROW FULL FULL CRC32 ON 0" \
        "$(my9 -e 'SELECT @@log_bin, @@binlog_format, @@binlog_row_image, @@binlog_row_metadata,
            @@binlog_checksum, @@gtid_mode, @@performance_schema' 2>&1 | tr '\t' ' ')"
    check "mysql: password plugin" "caching_sha2_password" \
        "$(svc_mysql_sql -N -B -e "SELECT plugin FROM mysql.user WHERE user = 'sluice' LIMIT 1" 2>&1)"
    check "mysql: TLS with the server's own CA" "TLSv1.3" \
        "$(my9 --ssl-ca="$SLUICE_TEST_MYSQL97_SSL_CA" \
            -e "SHOW SESSION STATUS LIKE 'Ssl_version'" 2>&1 | cut -f2)"
    my9 sluice_test -e 'CREATE TABLE t (id INT PRIMARY KEY); INSERT INTO t VALUES (1);'
    if my9 -e 'SHOW BINARY LOGS' 2>&1 | grep -q '^mysql-bin\.'; then
        ok "mysql: SHOW BINARY LOGS"
    else
        fail "mysql: SHOW BINARY LOGS"
    fi
    if mariadb --no-defaults -h 127.0.0.1 -P "$SLUICE_TEST_MYSQL97_PORT" -u sluice -pwrong -e 'SELECT 1' >/dev/null 2>&1; then
        fail "mysql: wrong password is rejected"
    else
        ok "mysql: wrong password is rejected"
    fi
    loopback_only mysql "$_SVC_MYSQL_PID"
    t=$(now); svc_mysql_restart; took[mysql-restart]=$(since "$t")
    check "mysql: table kept over svc_mysql_restart" 1 "$(my9 sluice_test -e 'SELECT COUNT(*) FROM t' 2>&1)"
fi

# --- Stop -------------------------------------------------------------------
pids=("$(head -n 1 "$SVC_TMPDIR/pg/data/postmaster.pid")" "$_SVC_KAFKA_PID" "$_SVC_MY_PID")
((mysql_rc == 0)) && pids+=("$_SVC_MYSQL_PID")
tmp=$SVC_TMPDIR
t=$(now); svc_stop_all; took[stop-all]=$(since "$t")
svc_stop_all   # must be a no-op the second time
alive=()
# The postmaster is re-parented away from us, so it can linger as a zombie
# until init reaps it; a zombie holds no port or file, so it counts as gone.
for p in "${pids[@]}"; do
    state=$(awk '{ print $3 }' "/proc/$p/stat" 2>/dev/null || true)
    [[ -z $state || $state == Z ]] || alive+=("$p")
done
check "stop: all server processes gone" "" "${alive[*]}"
if [[ ${SLUICE_KEEP_TMP:-0} == 1 || ! -e $tmp ]]; then ok "stop: temp dir handled"; else fail "stop: temp dir handled" "$tmp still exists"; fi

printf 'timings (s): postgres %s, kafka %s, mariadb %s, mysql %s, postgres restart %s, mariadb restart %s, mysql restart %s, stop all %s\n' \
    "${took[postgres]}" "${took[kafka]}" "${took[mariadb]}" "${took[mysql]}" "${took[postgres-restart]}" \
    "${took[mariadb-restart]}" "${took[mysql-restart]:--}" "${took[stop-all]}"
printf '%d passed, %d failed\n' "$passed" "$failed"
((failed == 0))
