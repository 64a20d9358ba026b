# shellcheck shell=bash
# Private, throw-away test services for sluice's integration tests:
# PostgreSQL (logical decoding), a single-node KRaft Kafka broker, MariaDB
# and Oracle MySQL (row-based binlogs, GTIDs, TLS). Everything lives in one
# temp dir and binds to 127.0.0.1 only, on free ports, so several runs can
# share a machine.
#
# Usage (source it; do not call the start functions inside $(...) or a
# subshell, they export variables and remember PIDs in the calling shell):
#
#   source tests/lib/services.sh
#   trap svc_stop_all EXIT
#   trap 'exit 130' INT TERM     # so the EXIT trap also runs on signals
#   svc_init
#   svc_pg_start; svc_kafka_start; svc_mariadb_start
#   svc_mysql_start || [[ $? == 2 ]]   # 2: MySQL was never fetched
#
# Needs scripts/install-deps.sh to have run (packages, Kafka jars, and
# scripts/fetch-mysql.sh for MySQL).
#
# Exported after start:
#   svc_init:          SVC_TMPDIR
#   svc_pg_start:      SLUICE_TEST_PG_HOST SLUICE_TEST_PG_PORT SLUICE_TEST_PG_USER
#                      SLUICE_TEST_PG_PASSWORD SLUICE_TEST_PG_DB
#                      SLUICE_TEST_PG_CONNINFO SLUICE_TEST_PG_SOCKET_DIR
#                      PGHOST PGPORT PGUSER PGPASSWORD PGDATABASE
#                      with --ssl (ssl=on, a certificate for 127.0.0.1 and
#                      localhost from a throw-away CA) also
#                      SLUICE_TEST_PG_SSL_CA (that CA)
#   svc_kafka_start:   SLUICE_TEST_KAFKA (host:port)
#                      with --tls also SLUICE_TEST_KAFKA_SSL and
#                      SLUICE_TEST_KAFKA_SASL_SSL (an SSL and a SASL_SSL
#                      listener, PLAIN, SCRAM-SHA-256 and -512), SLUICE_TEST_KAFKA_CA
#                      (the CA of the broker's certificate) and
#                      SLUICE_TEST_KAFKA_SASL_USER / _PASSWORD (a SCRAM user
#                      made at format time)
#                      with --proxied also SLUICE_TEST_KAFKA_PROXIED (the
#                      address the broker advertises on its second listener:
#                      toxiproxy's) and SLUICE_TEST_KAFKA_PROXIED_BACKEND
#                      (that listener's real address)
#   svc_toxiproxy_start: SLUICE_TEST_TOXIPROXY (API host:port), and when
#                      postgres / a proxied kafka run, proxies "postgres"
#                      (SLUICE_TEST_PG_PROXY_PORT) and "kafka"
#   svc_mariadb_start: SLUICE_TEST_MARIADB_HOST _PORT _USER _PASSWORD _DB
#                      _SOCKET (root without password over it) _SSL_CA
#                      (the CA of the server's certificate) _VERSION;
#                      the same HOST..SOCKET also as SLUICE_TEST_MYSQL_*
#                      (their first names)
#   svc_registry_start: SLUICE_TEST_REGISTRY (http://127.0.0.1:PORT/apis/ccompat/v7)
#                      SLUICE_TEST_REGISTRY_PID SLUICE_TEST_REGISTRY_START
#                      SLUICE_TEST_PYTHON (python with confluent-kafka, fastavro)
#   svc_mysql_start:   SLUICE_TEST_MYSQL97_HOST _PORT _USER _PASSWORD _DB
#                      _SOCKET _SSL_CA _VERSION, and _ROOT (the unpacked
#                      tree: sid's loader, libraries, mysqld, mysql,
#                      mysqlbinlog)
#   The MariaDB/MySQL user (SLUICE_TEST_*_USER) has the grants Debezium
#   documents for its connector and owns the test database; the password
#   plugin is mysql_native_password on MariaDB, caching_sha2_password on
#   MySQL. Both servers: binlog_format=ROW, binlog_row_image=FULL,
#   binlog_row_metadata=FULL, binlog_checksum=CRC32, GTIDs on (MariaDB
#   domain 0 in strict mode, server_id 1; MySQL gtid_mode=ON, server_id 2).
#
# Also: svc_mariadb_sql / svc_mysql_sql (the client as root over the socket),
#   svc_mariadb_restart / svc_mysql_restart, svc_mysql_available,
#   svc_mariadb_restart_command / svc_mysql_restart_command (a script that
#   restarts the server, for tests that run in processes of their own).
#
# Faults (tests/faults/): svc_kafka_kill, svc_kafka_restart, svc_pg_crash_restart,
#   svc_toxi_add, svc_toxi_remove, svc_toxi_reset, svc_toxi_enable.
#
# Tunables: SLUICE_KEEP_TMP=1 (keep the temp dir), SLUICE_CACHE,
#   SLUICE_KAFKA_VERSION, SLUICE_KAFKA_LIBS (explicit jar dir),
#   SLUICE_KAFKA_HEAP_OPTS (default "-Xms256m -Xmx512m"),
#   SLUICE_SVC_TIMEOUT (seconds to wait for a service to be ready, default 60),
#   SLUICE_PG_BINDIR (default: newest /usr/lib/postgresql/*/bin),
#   SLUICE_TEST_PG_MAJOR (a PostgreSQL major version to test against instead;
#   one the system lacks comes from scripts/fetch-postgres.sh).
#
# The library does not change shell options; functions return non-zero and
# print "services: ..." on stderr on failure, so `set -e` callers stop there.

_SVC_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
_SVC_REPO_DIR=$(cd "$_SVC_LIB_DIR/../.." && pwd)

_SVC_TEST_USER=sluice
_SVC_TEST_PASSWORD=sluice-secret
_SVC_TEST_DB=sluice_test

# Cleanup list: names of running services, stopped in reverse start order.
_SVC_RUNNING=()
# Ports handed out by this shell, so two services never get the same one.
_SVC_PORTS=()

_svc_err() { printf 'services: error: %s\n' "$*" >&2; }
_svc_log() { [[ ${SLUICE_SVC_QUIET:-0} == 1 ]] || printf 'services: %s\n' "$*" >&2; }

_svc_now() { date +%s.%N; }
_svc_elapsed() { awk -v a="$1" -v b="$(_svc_now)" 'BEGIN { printf "%.1f", b - a }'; }

_svc_mark_running() { _SVC_RUNNING+=("$1"); }
_svc_mark_stopped() {
    local keep=() s
    for s in "${_SVC_RUNNING[@]}"; do [[ $s == "$1" ]] || keep+=("$s"); done
    _SVC_RUNNING=("${keep[@]}")
}
_svc_is_running() {
    local s
    for s in "${_SVC_RUNNING[@]}"; do [[ $s == "$1" ]] && return 0; done
    return 1
}

# Show the end of a log to explain a failed start.
_svc_tail() {
    local file=$1 n=${2:-40}
    if [[ -r $file ]]; then
        printf -- '--- last %s lines of %s ---\n' "$n" "$file" >&2
        tail -n "$n" "$file" >&2
        printf -- '--- end of %s ---\n' "$file" >&2
    fi
}

svc_init() {
    if [[ -n ${SVC_TMPDIR:-} && -d $SVC_TMPDIR ]]; then
        return 0
    fi
    SVC_TMPDIR=$(mktemp -d "${TMPDIR:-/tmp}/sluice-svc.XXXXXX") || {
        _svc_err "mktemp -d failed"; return 1; }
    # The servers run as the postgres / mysql users and must reach their
    # subdirectories; each subdir is then owned by (and private to) its user.
    chmod 0755 "$SVC_TMPDIR"
    _SVC_RUNNING=()
    export SVC_TMPDIR
}

_svc_need_init() {
    [[ -n ${SVC_TMPDIR:-} && -d $SVC_TMPDIR ]] || {
        _svc_err "call svc_init first"; return 1; }
}

# _svc_port VAR: store a free 127.0.0.1 port in VAR. Ports are taken below the
# kernel's ephemeral range when possible so an outgoing connection cannot grab
# the port between this check and the server's bind.
_svc_port() {
    local __var=$1 __py __p
    __py=$(command -v /usr/bin/python3 || command -v python3) || {
        _svc_err "python3 is needed to find free ports"; return 1; }
    __p=$("$__py" - "${_SVC_PORTS[@]}" <<'PY'
import random, socket, sys
taken = {int(a) for a in sys.argv[1:]}
try:
    with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
        eph_lo = int(f.read().split()[0])
except OSError:
    eph_lo = 32768
def free(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", port))
        return s.getsockname()[1]
    except OSError:
        return None
    finally:
        s.close()
if eph_lo > 20100:
    for _ in range(200):
        p = free(random.randrange(20000, eph_lo))
        if p and p not in taken:
            print(p)
            sys.exit(0)
for _ in range(200):
    p = free(0)
    if p and p not in taken:
        print(p)
        sys.exit(0)
sys.exit(1)
PY
    ) || { _svc_err "no free TCP port found on 127.0.0.1"; return 1; }
    _SVC_PORTS+=("$__p")
    printf -v "$__var" '%s' "$__p"
}

svc_free_port() {
    local port
    _svc_port port || return 1
    printf '%s\n' "$port"
}

# Run a command as the given service user when we are root (servers refuse
# to run as root); as a normal user, run it as ourselves.
_svc_as() {
    local user=$1; shift
    if ((EUID == 0)); then
        runuser -u "$user" -- "$@"
    else
        "$@"
    fi
}

# Make DIR and hand it to USER (when root) so that user's server can write it.
_svc_mkdir_for() {
    local user=$1 dir=$2
    mkdir -p "$dir" || return 1
    if ((EUID == 0)); then
        chown "$user:" "$dir" || return 1
    fi
    chmod 0700 "$dir"
}

_svc_wait_deadline() { awk -v t="$(_svc_now)" -v s="${SLUICE_SVC_TIMEOUT:-60}" 'BEGIN { printf "%d", t + s }'; }

# ---------------------------------------------------------------------------
# PostgreSQL
# ---------------------------------------------------------------------------

# The server binaries: SLUICE_PG_BINDIR, else /usr/lib/postgresql/MAJOR/bin
# for SLUICE_TEST_PG_MAJOR, or when the system has no such server Debian's
# postgresql-MAJOR unpacked by scripts/fetch-postgres.sh (fetched on first
# use, about 15 s) and copied under SVC_TMPDIR when the postgres user
# cannot reach the cache (root's home); else the newest installed.
_svc_pg_bindir() {
    if [[ -n ${SLUICE_PG_BINDIR:-} ]]; then
        printf '%s\n' "$SLUICE_PG_BINDIR"
        return 0
    fi
    local major=${SLUICE_TEST_PG_MAJOR:-}
    if [[ -n $major ]]; then
        local fetched copy
        if [[ -x /usr/lib/postgresql/$major/bin/initdb ]]; then
            printf '%s\n' "/usr/lib/postgresql/$major/bin"
            return 0
        fi
        fetched=$(bash "$_SVC_REPO_DIR/scripts/fetch-postgres.sh" "$major" --print-bindir) || {
            _svc_err "PostgreSQL $major: scripts/fetch-postgres.sh $major failed"; return 1; }
        if ((EUID == 0)) && ! _svc_as postgres test -x "$fetched/postgres.bin"; then
            copy=$SVC_TMPDIR/postgresql-$major
            # bin -> MAJOR -> postgresql -> lib -> usr -> the unpacked root
            rm -rf "$copy"
            cp -a "$fetched/../../../../.." "$copy" || { _svc_err "could not copy $fetched"; return 1; }
            fetched=$copy/usr/lib/postgresql/$major/bin
        fi
        printf '%s\n' "$fetched"
        return 0
    fi
    local d best='' bestv=0 v
    for d in /usr/lib/postgresql/*/bin; do
        [[ -x $d/initdb && -x $d/pg_ctl ]] || continue
        v=${d#/usr/lib/postgresql/}; v=${v%%/*}
        [[ $v =~ ^[0-9]+$ ]] || continue
        if ((v > bestv)); then bestv=$v; best=$d; fi
    done
    [[ -n $best ]] || { _svc_err "no PostgreSQL server binaries in /usr/lib/postgresql/*/bin (run scripts/install-deps.sh)"; return 1; }
    printf '%s\n' "$best"
}

# psql as the postgres superuser over the private unix socket.
_svc_pg_admin_psql() {
    PGPASSWORD='' psql -X -q -v ON_ERROR_STOP=1 \
        -h "$_SVC_PG_SOCK" -p "$_SVC_PG_PORT" -U postgres "$@"
}

svc_pg_start() {
    _svc_need_init || return 1
    if _svc_is_running pg; then _svc_err "postgres already started"; return 1; fi
    local t0 bindir pgdir data user=postgres ssl=0
    # --ssl: ssl=on with a certificate from a throw-away CA (_svc_pg_ssl).
    [[ ${1:-} == --ssl ]] && ssl=1
    t0=$(_svc_now)
    bindir=$(_svc_pg_bindir) || return 1
    command -v psql >/dev/null || { _svc_err "psql not found (install postgresql-client)"; return 1; }
    if ((EUID == 0)); then
        id -u postgres >/dev/null 2>&1 || {
            _svc_err "OS user 'postgres' missing (install the postgresql package)"; return 1; }
    fi

    pgdir=$SVC_TMPDIR/pg
    data=$pgdir/data
    _SVC_PG_BINDIR=$bindir
    _SVC_PG_DATA=$data
    _SVC_PG_SOCK=$pgdir/sock
    _SVC_PG_LOG=$pgdir/postgres.log
    _svc_mkdir_for "$user" "$pgdir" || return 1
    _svc_as "$user" mkdir -m 0700 "$_SVC_PG_SOCK" || {
        _svc_err "user $user cannot write $pgdir (is ${TMPDIR:-/tmp} traversable by it?)"; return 1; }
    _svc_port _SVC_PG_PORT || return 1

    # trust is fine for the superuser on a private loopback instance; the
    # test role goes through scram so the daemon's password path is real.
    if ! _svc_as "$user" "$bindir/initdb" -D "$data" -U postgres -A trust \
            -E UTF8 --locale=C.UTF-8 --no-sync >"$pgdir/initdb.log" 2>&1; then
        _svc_tail "$pgdir/initdb.log"
        _svc_err "initdb failed"
        return 1
    fi

    # Appending keeps the file owned by postgres; later settings win.
    cat >>"$data/postgresql.conf" <<EOF

# --- sluice test instance ---
listen_addresses = '127.0.0.1'
port = $_SVC_PG_PORT
unix_socket_directories = '$_SVC_PG_SOCK'
wal_level = logical
# every suite of a run shares this server, and some leave their slots behind
max_replication_slots = 64
max_wal_senders = 40
password_encryption = 'scram-sha-256'
# durability is pointless for a throw-away instance and costs seconds
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
    if ((ssl)); then _svc_pg_ssl "$pgdir/tls" "$data" || return 1; fi
    # "all" does not match physical replication connections, hence the
    # separate replication lines.
    cat >"$data/pg_hba.conf" <<EOF
# TYPE  DATABASE     USER      ADDRESS        METHOD
local   all          all                      trust
local   replication  all                      trust
host    all          postgres  127.0.0.1/32   trust
host    replication  postgres  127.0.0.1/32   trust
host    all          all       127.0.0.1/32   scram-sha-256
host    replication  all       127.0.0.1/32   scram-sha-256
EOF

    if ! _svc_as "$user" "$bindir/pg_ctl" -D "$data" -l "$_SVC_PG_LOG" \
            -w -t "${SLUICE_SVC_TIMEOUT:-60}" start >"$pgdir/pg_ctl.log" 2>&1; then
        _svc_tail "$_SVC_PG_LOG"
        _svc_err "postgres did not start (port $_SVC_PG_PORT)"
        return 1
    fi
    _svc_mark_running pg

    if ! _svc_pg_admin_psql -d postgres >"$pgdir/setup.log" 2>&1 <<EOF
CREATE ROLE $_SVC_TEST_USER WITH LOGIN SUPERUSER REPLICATION PASSWORD '$_SVC_TEST_PASSWORD';
CREATE DATABASE $_SVC_TEST_DB OWNER $_SVC_TEST_USER;
EOF
    then
        _svc_tail "$pgdir/setup.log"
        _svc_err "postgres setup (role/database) failed"
        return 1
    fi

    export SLUICE_TEST_PG_HOST=127.0.0.1
    export SLUICE_TEST_PG_PORT=$_SVC_PG_PORT
    if ((ssl)); then export SLUICE_TEST_PG_SSL_CA=$pgdir/tls/ca.pem; fi
    export SLUICE_TEST_PG_USER=$_SVC_TEST_USER
    export SLUICE_TEST_PG_PASSWORD=$_SVC_TEST_PASSWORD
    export SLUICE_TEST_PG_DB=$_SVC_TEST_DB
    export SLUICE_TEST_PG_SOCKET_DIR=$_SVC_PG_SOCK
    export SLUICE_TEST_PG_CONNINFO="host=127.0.0.1 port=$_SVC_PG_PORT user=$_SVC_TEST_USER password=$_SVC_TEST_PASSWORD dbname=$_SVC_TEST_DB"
    export PGHOST=127.0.0.1 PGPORT=$_SVC_PG_PORT PGUSER=$_SVC_TEST_USER
    export PGPASSWORD=$_SVC_TEST_PASSWORD PGDATABASE=$_SVC_TEST_DB
    _svc_log "postgres ready on 127.0.0.1:$_SVC_PG_PORT in $(_svc_elapsed "$t0")s ($("$bindir/pg_ctl" -V))"
}

# Prints a shell command that restarts the test PostgreSQL (fast shutdown),
# for tests that run outside this shell and cannot call svc_pg_restart.
svc_pg_restart_command() {
    _svc_is_running pg || { _svc_err "postgres is not running"; return 1; }
    local cmd
    printf -v cmd '%q ' "$_SVC_PG_BINDIR/pg_ctl" -D "$_SVC_PG_DATA" -l "$_SVC_PG_LOG" -m fast -w \
        -t "${SLUICE_SVC_TIMEOUT:-60}" restart
    if ((EUID == 0)); then
        printf 'runuser -u postgres -- %s\n' "$cmd"
    else
        printf '%s\n' "$cmd"
    fi
}

svc_pg_restart() {
    _svc_is_running pg || { _svc_err "postgres is not running"; return 1; }
    if ! _svc_as postgres "$_SVC_PG_BINDIR/pg_ctl" -D "$_SVC_PG_DATA" -l "$_SVC_PG_LOG" \
            -m fast -w -t "${SLUICE_SVC_TIMEOUT:-60}" restart >>"$SVC_TMPDIR/pg/pg_ctl.log" 2>&1; then
        _svc_tail "$_SVC_PG_LOG"
        _svc_err "postgres restart failed"
        return 1
    fi
}

svc_pg_stop() {
    _svc_is_running pg || return 0
    if ! _svc_as postgres "$_SVC_PG_BINDIR/pg_ctl" -D "$_SVC_PG_DATA" -m fast -w -t 30 \
            stop >>"$SVC_TMPDIR/pg/pg_ctl.log" 2>&1; then
        _svc_as postgres "$_SVC_PG_BINDIR/pg_ctl" -D "$_SVC_PG_DATA" -m immediate -w -t 10 \
            stop >>"$SVC_TMPDIR/pg/pg_ctl.log" 2>&1 ||
            _svc_err "could not stop postgres (data dir $_SVC_PG_DATA)"
    fi
    _svc_mark_stopped pg
}

# ---------------------------------------------------------------------------
# Kafka (single node, KRaft, broker+controller in one JVM)
# ---------------------------------------------------------------------------

_svc_kafka_libs() {
    if [[ -n ${SLUICE_KAFKA_LIBS:-} ]]; then
        printf '%s\n' "$SLUICE_KAFKA_LIBS"
        return 0
    fi
    local v=${SLUICE_KAFKA_VERSION:-}
    if [[ -z $v ]]; then
        v=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' \
            "$_SVC_REPO_DIR/scripts/kafka-pom.xml" 2>/dev/null)
    fi
    [[ -n $v ]] || { _svc_err "cannot tell the Kafka version (set SLUICE_KAFKA_VERSION)"; return 1; }
    printf '%s\n' "${SLUICE_CACHE:-$HOME/.cache/sluice}/kafka-$v/libs"
}

_svc_pid_alive() { [[ -n ${1:-} ]] && kill -0 "$1" 2>/dev/null; }

# _svc_kill_pidfile FILE SECS: a server restarted by its restart script is not
# our child and has a new pid, which only its pid file knows; stop that one too.
_svc_kill_pidfile() {
    local pid
    [[ -s $1 ]] || return 0
    pid=$(head -c 32 "$1" | tr -dc 0-9)
    [[ -n $pid ]] && _svc_kill_wait "$pid" "${2:-30}"
    return 0
}

# Send TERM, wait up to $2 seconds, then KILL; reap if it is our child.
_svc_kill_wait() {
    local pid=$1 secs=${2:-30} i
    _svc_pid_alive "$pid" || return 0
    kill -TERM "$pid" 2>/dev/null
    for ((i = 0; i < secs * 10; i++)); do
        _svc_pid_alive "$pid" || break
        sleep 0.1
    done
    if _svc_pid_alive "$pid"; then
        kill -KILL "$pid" 2>/dev/null
        sleep 0.2
    fi
    wait "$pid" 2>/dev/null || true
}

svc_kafka_start() {
    _svc_need_init || return 1
    if _svc_is_running kafka; then _svc_err "kafka already started"; return 1; fi
    local t0 libs kdir props bport cport cluster_id deadline out
    # --proxied: a second listener whose advertised address is a proxy's
    # port, so clients bootstrapping through the proxy stay behind it.
    local proxied=0 xport='' pport=''
    # --tls: SSL and SASL_SSL/SCRAM listeners too (_svc_kafka_tls).
    local tls=0 sport='' aport='' arg
    for arg in "$@"; do
        case $arg in
            --proxied) proxied=1 ;;
            --tls) tls=1 ;;
            *) _svc_err "svc_kafka_start: unknown option $arg"; return 1 ;;
        esac
    done
    t0=$(_svc_now)
    libs=$(_svc_kafka_libs) || return 1
    compgen -G "$libs/kafka_2.13-*.jar" >/dev/null || {
        _svc_err "no Kafka jars in $libs (run scripts/install-deps.sh)"; return 1; }
    command -v java >/dev/null || { _svc_err "java not found"; return 1; }
    command -v kcat >/dev/null || { _svc_err "kcat not found (run scripts/install-deps.sh)"; return 1; }

    kdir=$SVC_TMPDIR/kafka
    mkdir -p "$kdir/data" || return 1
    props=$kdir/server.properties
    _svc_port bport || return 1
    _svc_port cport || return 1
    _SVC_KAFKA_LOG=$kdir/server.log
    local listeners="PLAINTEXT://127.0.0.1:$bport,CONTROLLER://127.0.0.1:$cport"
    local advertised="PLAINTEXT://127.0.0.1:$bport"
    local protocols="PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
    if ((proxied)); then
        _svc_port xport || return 1
        _svc_port pport || return 1
        listeners+=",PROXIED://127.0.0.1:$xport"
        advertised+=",PROXIED://127.0.0.1:$pport"
        protocols+=",PROXIED:PLAINTEXT"
    fi
    if ((tls)); then
        _svc_port sport || return 1
        _svc_port aport || return 1
        listeners+=",SSL://127.0.0.1:$sport,SASL_SSL://127.0.0.1:$aport"
        advertised+=",SSL://127.0.0.1:$sport,SASL_SSL://127.0.0.1:$aport"
        protocols+=",SSL:SSL,SASL_SSL:SASL_SSL"
    fi

    cat >"$props" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=$listeners
advertised.listeners=$advertised
listener.security.protocol.map=$protocols
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=$kdir/data
num.partitions=1
auto.create.topics.enable=true
offsets.topic.replication.factor=1
# one partition keeps the first consumer-group join fast
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
# An authorizer that allows everything until a test adds an ACL for a
# resource (tests provoke authorization failures with a deny ACL on a topic).
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=true
EOF
    # Kafka 4 logs through log4j2; without a config it would print only
    # errors to the console, so send INFO to a file we can show on failure.
    cat >"$kdir/log4j2.properties" <<EOF
status = warn
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = $_SVC_KAFKA_LOG
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = FILE
EOF

    local -a jvm=(java -cp "$libs/*" -Djava.awt.headless=true
        -Djava.net.preferIPv4Stack=true
        "-Dlog4j2.configurationFile=$kdir/log4j2.properties"
        "-Dkafka.logs.dir=$kdir")
    # shellcheck disable=SC2206  # word splitting of the heap options is intended
    local -a heap=(${SLUICE_KAFKA_HEAP_OPTS:--Xms256m -Xmx512m})

    # Any 16 random bytes, base64url without padding, is a valid cluster id;
    # making it here saves a JVM start (StorageTool random-uuid).
    # A leading '-' would be parsed as an option by StorageTool, so redraw.
    cluster_id=-
    while [[ $cluster_id == -* ]]; do
        cluster_id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
    done
    local -a format_extra=()
    if ((tls)); then
        _svc_kafka_tls "$kdir/tls" "$props" || return 1
        format_extra=(--add-scram "SCRAM-SHA-256=[name=\"$_SVC_TEST_USER\",password=\"$_SVC_KAFKA_SASL_PASSWORD\"]"
            --add-scram "SCRAM-SHA-512=[name=\"$_SVC_TEST_USER\",password=\"$_SVC_KAFKA_SASL_PASSWORD\"]")
    fi
    # With the static controller.quorum.voters form, Kafka 4.1's format needs
    # neither --standalone nor --initial-controllers.
    if ! "${jvm[@]}" kafka.tools.StorageTool format --cluster-id "$cluster_id" --config "$props" \
            "${format_extra[@]}" >"$kdir/format.log" 2>&1 </dev/null; then
        _svc_tail "$kdir/format.log"
        _svc_err "kafka storage format failed"
        return 1
    fi

    # Kept for svc_kafka_restart, which starts the same broker again.
    _SVC_KAFKA_CMD=("${jvm[@]}" "${heap[@]}" kafka.Kafka "$props")
    _SVC_KAFKA_BPORT=$bport
    "${jvm[@]}" "${heap[@]}" kafka.Kafka "$props" >"$kdir/stdout.log" 2>&1 </dev/null &
    _SVC_KAFKA_PID=$!
    _svc_mark_running kafka

    # The broker only opens its PLAINTEXT listener once startup is complete,
    # and metadata lists it only once it is unfenced, so seeing broker 1 in a
    # metadata reply means producers and consumers can work.
    deadline=$(_svc_wait_deadline)
    while :; do
        if ! _svc_pid_alive "$_SVC_KAFKA_PID"; then
            _svc_tail "$kdir/stdout.log" 20
            _svc_tail "$_SVC_KAFKA_LOG"
            _svc_err "kafka exited during startup"
            _svc_mark_stopped kafka
            return 1
        fi
        if out=$(kcat -b "127.0.0.1:$bport" -L -m 2 2>/dev/null) &&
                [[ $out == *"broker 1 at 127.0.0.1:$bport"* ]]; then
            break
        fi
        if (($(date +%s) >= deadline)); then
            _svc_tail "$kdir/stdout.log" 20
            _svc_tail "$_SVC_KAFKA_LOG"
            _svc_err "kafka not ready after ${SLUICE_SVC_TIMEOUT:-60}s (127.0.0.1:$bport)"
            return 1
        fi
        sleep 0.3
    done

    export SLUICE_TEST_KAFKA=127.0.0.1:$bport
    if ((proxied)); then
        export SLUICE_TEST_KAFKA_PROXIED=127.0.0.1:$pport
        export SLUICE_TEST_KAFKA_PROXIED_BACKEND=127.0.0.1:$xport
    fi
    if ((tls)); then
        export SLUICE_TEST_KAFKA_SSL=127.0.0.1:$sport SLUICE_TEST_KAFKA_SASL_SSL=127.0.0.1:$aport
        export SLUICE_TEST_KAFKA_CA=$kdir/tls/ca.pem SLUICE_TEST_KAFKA_SASL_USER=$_SVC_TEST_USER
        export SLUICE_TEST_KAFKA_SASL_PASSWORD=$_SVC_KAFKA_SASL_PASSWORD
    fi
    _svc_log "kafka ready on $SLUICE_TEST_KAFKA in $(_svc_elapsed "$t0")s"
}

svc_kafka_stop() {
    _svc_is_running kafka || return 0
    # SIGTERM triggers Kafka's controlled shutdown; KILL only if it hangs.
    _svc_kill_wait "$_SVC_KAFKA_PID" 30
    _svc_mark_stopped kafka
}

# ---------------------------------------------------------------------------
# TLS material for the MySQL-family servers
# ---------------------------------------------------------------------------

# _svc_tls_make DIR OWNER: a throw-away CA (ca.pem) and a server certificate
# for 127.0.0.1 and localhost signed by it (server-cert.pem, server-key.pem)
# in DIR, owned by OWNER when we are root. EC keys: made in milliseconds.
_svc_tls_make() {
    local dir=$1 owner=$2
    command -v openssl >/dev/null || { _svc_err "openssl not found"; return 1; }
    mkdir -p "$dir" || return 1
    if ! {
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3 \
            -subj "/CN=sluice test CA" -keyout "$dir/ca-key.pem" -out "$dir/ca.pem" &&
        openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
            -subj "/CN=localhost" -keyout "$dir/server-key.pem" -out "$dir/server.csr" &&
        printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$dir/san.ext" &&
        openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca-key.pem" \
            -CAcreateserial -days 3 -extfile "$dir/san.ext" -out "$dir/server-cert.pem"
    } >"$dir/openssl.log" 2>&1; then
        _svc_tail "$dir/openssl.log"
        _svc_err "could not make TLS certificates in $dir"
        return 1
    fi
    if ((EUID == 0)); then chown -R "$owner:" "$dir" || return 1; fi
    chmod 0644 "$dir/ca.pem" "$dir/server-cert.pem"
}

# _svc_wait_ping NAME PID SOCKET LOG: wait until the server answers a ping on
# its socket, failing early if the process died.
_svc_wait_ping() {
    local name=$1 pid=$2 sock=$3 log=$4 deadline
    deadline=$(_svc_wait_deadline)
    until mariadb-admin --no-defaults --socket="$sock" -uroot --connect-timeout=2 ping >/dev/null 2>&1; do
        if ! _svc_pid_alive "$pid"; then
            _svc_tail "$log"
            _svc_err "$name exited during startup"
            return 1
        fi
        if (($(date +%s) >= deadline)); then
            _svc_tail "$log"
            _svc_err "$name not ready after ${SLUICE_SVC_TIMEOUT:-60}s"
            return 1
        fi
        sleep 0.1
    done
}

# ---------------------------------------------------------------------------
# MariaDB (row-based binlog, full row image and metadata, GTIDs, CRC32)
# ---------------------------------------------------------------------------

_svc_mariadb_admin() {
    mariadb-admin --no-defaults --socket="$_SVC_MY_SOCK" -uroot "$@"
}

# svc_mariadb_sql [ARGS...]: the mariadb client as root over the private
# socket (SQL on stdin or -e); for setup steps a replica user may not do.
svc_mariadb_sql() {
    mariadb --no-defaults --socket="$_SVC_MY_SOCK" -uroot "$@"
}

# Starts mariadbd on the prepared data dir; the settings are the ones a CDC
# source expects (../docs: ROW format, FULL image and metadata, GTID strict
# mode, CRC32 checksums) and TLS with the private CA.
_svc_mariadb_launch() {
    local mydir=$SVC_TMPDIR/mariadb
    _SVC_MY_CMD=("$_SVC_MY_BIN" --no-defaults "${_SVC_MY_AS_USER[@]}" \
        --datadir="$mydir/data" --tmpdir="$mydir/tmp" \
        --socket="$_SVC_MY_SOCK" --pid-file="$mydir/mysqld.pid" \
        --port="$_SVC_MY_PORT" --bind-address=127.0.0.1 \
        --log-error="$_SVC_MY_LOG" --skip-name-resolve \
        --log-bin="$mydir/binlog/mariadb-bin" --server-id=1 \
        --binlog-format=ROW --binlog-row-image=FULL --binlog-row-metadata=FULL \
        --gtid-domain-id=0 --gtid-strict-mode=ON --log-slave-updates \
        --binlog-checksum=CRC32 \
        --character-set-server=utf8mb4 --collation-server=utf8mb4_general_ci \
        --ssl-ca="$mydir/tls/ca.pem" --ssl-cert="$mydir/tls/server-cert.pem" \
        --ssl-key="$mydir/tls/server-key.pem" \
        --innodb-buffer-pool-size=128M --innodb-flush-log-at-trx-commit=2 \
        --sync-binlog=0)
    "${_SVC_MY_CMD[@]}" >>"$mydir/stdout.log" 2>&1 </dev/null &
    _SVC_MY_PID=$!
    _svc_restart_script "$mydir/restart.sh" "$_SVC_MY_SOCK" \
        "mariadb-admin --no-defaults --socket=$(printf %q "$_SVC_MY_SOCK") -uroot --connect-timeout=5 shutdown" \
        "$mydir/stdout.log" "${_SVC_MY_CMD[@]}"
    _svc_mark_running mariadb
    if ! _svc_wait_ping mariadbd "$_SVC_MY_PID" "$_SVC_MY_SOCK" "$_SVC_MY_LOG"; then
        _svc_pid_alive "$_SVC_MY_PID" || _svc_mark_stopped mariadb
        return 1
    fi
}

svc_mariadb_start() {
    _svc_need_init || return 1
    if _svc_is_running mariadb; then _svc_err "mariadb already started"; return 1; fi
    local t0 mydir user=mysql
    t0=$(_svc_now)
    _SVC_MY_BIN=$(command -v mariadbd || echo /usr/sbin/mariadbd)
    if ! [[ -x $_SVC_MY_BIN ]] || ! command -v mariadb-install-db >/dev/null ||
            ! command -v mariadb >/dev/null; then
        _svc_err "mariadbd/mariadb-install-db/mariadb not found (run scripts/install-deps.sh)"
        return 1
    fi
    _SVC_MY_AS_USER=()
    if ((EUID == 0)); then
        id -u mysql >/dev/null 2>&1 || {
            _svc_err "OS user 'mysql' missing (install the mariadb-server package)"; return 1; }
        _SVC_MY_AS_USER=(--user=mysql)
    fi

    mydir=$SVC_TMPDIR/mariadb
    _SVC_MY_SOCK=$mydir/mysqld.sock
    _SVC_MY_LOG=$mydir/error.log
    _svc_mkdir_for "$user" "$mydir" || return 1
    _svc_as "$user" mkdir -p "$mydir/data" "$mydir/binlog" "$mydir/tmp" || return 1
    _svc_tls_make "$mydir/tls" "$user" || return 1
    _svc_port _SVC_MY_PORT || return 1

    # --no-defaults everywhere: the packaged /etc/mysql config must not leak in.
    # "normal" root auth = passwordless root over the private socket.
    if ! mariadb-install-db --no-defaults --datadir="$mydir/data" "${_SVC_MY_AS_USER[@]}" \
            --auth-root-authentication-method=normal --skip-test-db \
            --skip-name-resolve >"$mydir/install-db.log" 2>&1 </dev/null; then
        _svc_tail "$mydir/install-db.log"
        _svc_err "mariadb-install-db failed"
        return 1
    fi
    _svc_mariadb_launch || return 1

    # The replica user gets what Debezium's MariaDB connector documents
    # (REPLICATION CLIENT is BINLOG MONITOR's old name, LOCK TABLES for
    # table-level snapshot locks) and owns the test database. Its password
    # goes through mysql_native_password, MariaDB's default plugin.
    local u=$_SVC_TEST_USER p=$_SVC_TEST_PASSWORD db=$_SVC_TEST_DB
    if ! svc_mariadb_sql >"$mydir/setup.log" 2>&1 <<EOSQL
CREATE DATABASE IF NOT EXISTS $db;
CREATE USER '$u'@'%' IDENTIFIED BY '$p';
CREATE USER '$u'@'localhost' IDENTIFIED BY '$p';
GRANT SELECT, RELOAD, SHOW DATABASES, REPLICATION SLAVE, BINLOG MONITOR, LOCK TABLES ON *.* TO '$u'@'%', '$u'@'localhost';
GRANT ALL PRIVILEGES ON $db.* TO '$u'@'%', '$u'@'localhost';
EOSQL
    then
        _svc_tail "$mydir/setup.log"
        _svc_err "mariadb setup (user/database) failed"
        return 1
    fi

    local version
    version=$(svc_mariadb_sql -N -B -e 'SELECT VERSION()' 2>/dev/null) || version=
    export SLUICE_TEST_MARIADB_HOST=127.0.0.1
    export SLUICE_TEST_MARIADB_PORT=$_SVC_MY_PORT
    export SLUICE_TEST_MARIADB_USER=$u
    export SLUICE_TEST_MARIADB_PASSWORD=$p
    export SLUICE_TEST_MARIADB_DB=$db
    export SLUICE_TEST_MARIADB_SOCKET=$_SVC_MY_SOCK
    export SLUICE_TEST_MARIADB_SSL_CA=$mydir/tls/ca.pem
    export SLUICE_TEST_MARIADB_VERSION=$version
    # The first names of these variables, kept for existing callers.
    export SLUICE_TEST_MYSQL_HOST=127.0.0.1 SLUICE_TEST_MYSQL_PORT=$_SVC_MY_PORT
    export SLUICE_TEST_MYSQL_USER=$u SLUICE_TEST_MYSQL_PASSWORD=$p
    export SLUICE_TEST_MYSQL_DB=$db SLUICE_TEST_MYSQL_SOCKET=$_SVC_MY_SOCK
    _svc_log "mariadb $version ready on 127.0.0.1:$_SVC_MY_PORT in $(_svc_elapsed "$t0")s"
}

# Writes a script that shuts a MySQL/MariaDB server down (shutdown
# command), starts it again with the same command line, in the background,
# and waits until it answers: for tests that restart a server from a
# process of their own (SLUICE_TEST_MARIADB_RESTART, ..._MYSQL97_RESTART).
# svc_stop_all still stops the new server, through its socket.
_svc_restart_script() {
    local script=$1 sock=$2 shutdown=$3 log=$4
    shift 4
    local cmd
    printf -v cmd '%q ' "$@"
    cat >"$script" <<EOS
#!/usr/bin/env bash
# Restarts the server: generated by tests/lib/services.sh.
$shutdown >/dev/null 2>&1 || true
for i in \$(seq 300); do [[ -S $(printf %q "$sock") ]] || break; sleep 0.1; done
setsid $cmd >>$(printf %q "$log") 2>&1 </dev/null &
for i in \$(seq 600); do
    mariadb-admin --no-defaults --socket=$(printf %q "$sock") -uroot --connect-timeout=2 ping >/dev/null 2>&1 && exit 0
    sleep 0.1
done
echo "server did not come back" >&2
exit 1
EOS
    chmod +x "$script"
}

# svc_mariadb_restart_command: the path of a script that restarts MariaDB
# (see _svc_restart_script).
svc_mariadb_restart_command() {
    _svc_is_running mariadb || { _svc_err "mariadb is not running"; return 1; }
    printf '%s\n' "$SVC_TMPDIR/mariadb/restart.sh"
}

# svc_mariadb_restart: clean shutdown and start on the same data and port.
svc_mariadb_restart() {
    _svc_is_running mariadb || { _svc_err "mariadb is not running"; return 1; }
    _svc_mariadb_admin --connect-timeout=2 shutdown >/dev/null 2>&1 || true
    _svc_kill_wait "$_SVC_MY_PID" 30
    _svc_kill_pidfile "$SVC_TMPDIR/mariadb/mysqld.pid" 30
    _svc_mark_stopped mariadb
    _svc_mariadb_launch
}

svc_mariadb_stop() {
    _svc_is_running mariadb || return 0
    _svc_mariadb_admin --connect-timeout=2 shutdown >/dev/null 2>&1 || true
    _svc_kill_wait "$_SVC_MY_PID" 30
    _svc_mark_stopped mariadb
}

# ---------------------------------------------------------------------------
# Oracle MySQL 9.x: Debian sid's build, unpacked by scripts/fetch-mysql.sh
# into the cache and run through sid's own dynamic loader and libraries
# ---------------------------------------------------------------------------

_svc_mysql_cache() { printf '%s\n' "${SLUICE_CACHE:-$HOME/.cache/sluice}/mysql-sid"; }

# svc_mysql_available: true when scripts/fetch-mysql.sh has put a complete
# MySQL into the cache; otherwise says why on stderr. Never fetches.
svc_mysql_available() {
    local c
    c=$(_svc_mysql_cache)
    if [[ -f $c/.complete && -x $c/root/usr/sbin/mysqld && -d $c/template/mysql ]]; then
        return 0
    fi
    if [[ -f $c/fetch.log ]]; then
        _svc_err "MySQL is not in $c: scripts/fetch-mysql.sh failed (log: $c/fetch.log)"
    else
        _svc_err "MySQL is not in $c: run scripts/fetch-mysql.sh (needs Debian sid from a mirror)"
    fi
    return 1
}

# Runs a program of the unpacked tree through sid's loader.
_svc_mysql_run() {
    "${_SVC_MYSQL_LOADER[@]}" "$@"
}

# svc_mysql_sql [ARGS...]: MySQL's own mysql client as root over the private
# socket (SQL on stdin or -e).
svc_mysql_sql() {
    _svc_mysql_run "$_SVC_MYSQL_ROOT/usr/bin/mysql" --no-defaults \
        --socket="$_SVC_MYSQL_SOCK" -uroot "$@"
}

_svc_mysql_launch() {
    local dir=$SVC_TMPDIR/mysql root=$_SVC_MYSQL_ROOT
    local -a as_user=()
    ((EUID == 0)) && as_user=(--user=root)
    # performance_schema off saves ~250 MB; the redo capacity must match
    # the template's (scripts/fetch-mysql.sh).
    # Not through _svc_mysql_run: $! must be mysqld itself, not a subshell.
    _SVC_MYSQL_CMD=("${_SVC_MYSQL_LOADER[@]}" "$root/usr/sbin/mysqld" --no-defaults "${as_user[@]}" \
        --basedir="$root/usr" --lc-messages-dir="$root/usr/share/mysql" \
        --character-sets-dir="$root/usr/share/mysql/charsets" \
        --plugin-dir="$root/usr/lib/mysql/plugin" \
        --datadir="$dir/data" --tmpdir="$dir/tmp" --secure-file-priv="$dir/files" \
        --socket="$_SVC_MYSQL_SOCK" --pid-file="$dir/mysqld.pid" \
        --port="$_SVC_MYSQL_PORT" --bind-address=127.0.0.1 --skip-name-resolve \
        --mysqlx=OFF --log-error="$_SVC_MYSQL_LOG" \
        --server-id=2 --log-bin="$dir/binlog/mysql-bin" \
        --binlog-format=ROW --binlog-row-image=FULL --binlog-row-metadata=FULL \
        --binlog-checksum=CRC32 --gtid-mode=ON --enforce-gtid-consistency=ON \
        --performance-schema=OFF --innodb-redo-log-capacity=8M \
        --innodb-buffer-pool-size=128M --innodb-flush-log-at-trx-commit=2 \
        --sync-binlog=0)
    "${_SVC_MYSQL_CMD[@]}" >>"$dir/stdout.log" 2>&1 </dev/null &
    _SVC_MYSQL_PID=$!
    local client
    printf -v client '%q ' "${_SVC_MYSQL_LOADER[@]}" "$root/usr/bin/mysql" --no-defaults \
        "--socket=$_SVC_MYSQL_SOCK" -uroot --connect-timeout=5 -e SHUTDOWN
    _svc_restart_script "$dir/restart.sh" "$_SVC_MYSQL_SOCK" "$client" "$dir/stdout.log" \
        "${_SVC_MYSQL_CMD[@]}"
    _svc_mark_running mysql
    if ! _svc_wait_ping mysqld "$_SVC_MYSQL_PID" "$_SVC_MYSQL_SOCK" "$_SVC_MYSQL_LOG"; then
        _svc_pid_alive "$_SVC_MYSQL_PID" || _svc_mark_stopped mysql
        return 1
    fi
}

# svc_mysql_start: returns 2 (after saying why) when MySQL was never
# fetched into the cache, so a caller can report the tests that did not run;
# 1 on any other failure.
svc_mysql_start() {
    _svc_need_init || return 1
    if _svc_is_running mysql; then _svc_err "mysql already started"; return 1; fi
    svc_mysql_available || return 2
    local t0 dir
    t0=$(_svc_now)
    command -v mariadb-admin >/dev/null || {
        _svc_err "mariadb-admin not found (run scripts/install-deps.sh)"; return 1; }
    _SVC_MYSQL_ROOT=$(_svc_mysql_cache)/root
    _SVC_MYSQL_LOADER=("$_SVC_MYSQL_ROOT/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"
        --library-path "$_SVC_MYSQL_ROOT/usr/lib/x86_64-linux-gnu")
    dir=$SVC_TMPDIR/mysql
    _SVC_MYSQL_SOCK=$dir/mysqld.sock
    _SVC_MYSQL_LOG=$dir/error.log
    mkdir -p "$dir"/{binlog,tmp,files} || return 1
    chmod 0700 "$dir"
    # A copy of the initialized template; --reflink makes it instant where
    # the file system can share blocks.
    cp -a --reflink=auto "$(_svc_mysql_cache)/template" "$dir/data" || {
        _svc_err "could not copy the MySQL data directory template"; return 1; }
    _svc_port _SVC_MYSQL_PORT || return 1
    _svc_mysql_launch || return 1

    # The replica user gets what Debezium's MySQL connector documents (plus
    # LOCK TABLES for table-level snapshot locks and BACKUP_ADMIN for LOCK
    # INSTANCE FOR BACKUP) and owns the test database. caching_sha2_password
    # is MySQL's default and only password plugin since 9.0.
    local u=$_SVC_TEST_USER p=$_SVC_TEST_PASSWORD db=$_SVC_TEST_DB
    if ! svc_mysql_sql >"$dir/setup.log" 2>&1 <<EOSQL
CREATE DATABASE IF NOT EXISTS $db;
CREATE USER '$u'@'%' IDENTIFIED WITH caching_sha2_password BY '$p';
CREATE USER '$u'@'localhost' IDENTIFIED WITH caching_sha2_password BY '$p';
GRANT SELECT, RELOAD, SHOW DATABASES, REPLICATION SLAVE, REPLICATION CLIENT, LOCK TABLES ON *.* TO '$u'@'%', '$u'@'localhost';
GRANT BACKUP_ADMIN ON *.* TO '$u'@'%', '$u'@'localhost';
GRANT ALL PRIVILEGES ON $db.* TO '$u'@'%', '$u'@'localhost';
EOSQL
    then
        _svc_tail "$dir/setup.log"
        _svc_err "mysql setup (user/database) failed"
        return 1
    fi

    local version
    version=$(svc_mysql_sql -N -B -e 'SELECT VERSION()' 2>/dev/null) || version=
    export SLUICE_TEST_MYSQL97_HOST=127.0.0.1
    export SLUICE_TEST_MYSQL97_PORT=$_SVC_MYSQL_PORT
    export SLUICE_TEST_MYSQL97_USER=$u
    export SLUICE_TEST_MYSQL97_PASSWORD=$p
    export SLUICE_TEST_MYSQL97_DB=$db
    export SLUICE_TEST_MYSQL97_SOCKET=$_SVC_MYSQL_SOCK
    # MySQL made its own CA and server certificate at initialization.
    export SLUICE_TEST_MYSQL97_SSL_CA=$dir/data/ca.pem
    export SLUICE_TEST_MYSQL97_VERSION=$version
    export SLUICE_TEST_MYSQL97_ROOT=$_SVC_MYSQL_ROOT
    _svc_log "mysql $version ready on 127.0.0.1:$_SVC_MYSQL_PORT in $(_svc_elapsed "$t0")s"
}

_svc_mysql_shutdown() {
    # MySQL 8+ has no COM_SHUTDOWN (mariadb-admin shutdown), only the statement.
    svc_mysql_sql --connect-timeout=2 -e 'SHUTDOWN' >/dev/null 2>&1 || true
    _svc_kill_wait "$_SVC_MYSQL_PID" 30
    _svc_kill_pidfile "$SVC_TMPDIR/mysql/mysqld.pid" 30
    _svc_mark_stopped mysql
}

# svc_mysql_restart_command: the path of a script that restarts MySQL.
svc_mysql_restart_command() {
    _svc_is_running mysql || { _svc_err "mysql is not running"; return 1; }
    printf '%s\n' "$SVC_TMPDIR/mysql/restart.sh"
}

# svc_mysql_restart: clean shutdown and start on the same data and port.
svc_mysql_restart() {
    _svc_is_running mysql || { _svc_err "mysql is not running"; return 1; }
    _svc_mysql_shutdown
    _svc_mysql_launch
}

svc_mysql_stop() {
    _svc_is_running mysql || return 0
    _svc_mysql_shutdown
}

# ---------------------------------------------------------------------------

svc_stop_all() {
    local i s
    for ((i = ${#_SVC_RUNNING[@]} - 1; i >= 0; i--)); do
        s=${_SVC_RUNNING[i]}
        case $s in
            pg) svc_pg_stop || true ;;
            kafka) svc_kafka_stop || true ;;
            mariadb) svc_mariadb_stop || true ;;
            mysql) svc_mysql_stop || true ;;
            toxiproxy) svc_toxiproxy_stop || true ;;
            *) if declare -F "svc_${s}_stop" >/dev/null; then "svc_${s}_stop" || true; fi ;;
        esac
    done
    _SVC_RUNNING=()
    if [[ -n ${SVC_TMPDIR:-} && -d $SVC_TMPDIR ]]; then
        if [[ ${SLUICE_KEEP_TMP:-0} == 1 ]]; then
            _svc_log "kept $SVC_TMPDIR (SLUICE_KEEP_TMP=1)"
        else
            rm -rf "$SVC_TMPDIR"
        fi
    fi
    unset SVC_TMPDIR
    return 0
}

# ---------------------------------------------------------------------------
# Faults (tests/faults/): the broker killed and restarted, PostgreSQL crashed
# and restarted, and a TCP fault proxy (Shopify's toxiproxy) in front of both.
# ---------------------------------------------------------------------------

# SIGKILL the broker, as a crash or a power cut would; svc_kafka_restart
# brings the same broker back.
svc_kafka_kill() {
    _svc_is_running kafka || { _svc_err "kafka is not running"; return 1; }
    kill -KILL "$_SVC_KAFKA_PID" 2>/dev/null || true
    wait "$_SVC_KAFKA_PID" 2>/dev/null || true
    _svc_mark_stopped kafka
}

# Starts the broker again on its ports and data (after svc_kafka_kill) and
# waits until it serves metadata.
svc_kafka_restart() {
    if _svc_is_running kafka; then _svc_err "kafka is running"; return 1; fi
    ((${#_SVC_KAFKA_CMD[@]})) || { _svc_err "kafka was never started"; return 1; }
    local t0 deadline out kdir=$SVC_TMPDIR/kafka bport=$_SVC_KAFKA_BPORT
    t0=$(_svc_now)
    "${_SVC_KAFKA_CMD[@]}" >>"$kdir/stdout.log" 2>&1 </dev/null &
    _SVC_KAFKA_PID=$!
    _svc_mark_running kafka
    deadline=$(_svc_wait_deadline)
    until out=$(kcat -b "127.0.0.1:$bport" -L -m 2 2>/dev/null) &&
            [[ $out == *"broker 1 at 127.0.0.1:$bport"* ]]; do
        if ! _svc_pid_alive "$_SVC_KAFKA_PID"; then
            _svc_tail "$_SVC_KAFKA_LOG"
            _svc_err "kafka exited while restarting"
            _svc_mark_stopped kafka
            return 1
        fi
        if (($(date +%s) >= deadline)); then
            _svc_tail "$_SVC_KAFKA_LOG"
            _svc_err "kafka not ready ${SLUICE_SVC_TIMEOUT:-60}s after its restart"
            return 1
        fi
        sleep 0.3
    done
    _svc_log "kafka restarted in $(_svc_elapsed "$t0")s"
}

# Crash-restarts PostgreSQL: immediate shutdown (no checkpoint, every
# connection cut, crash recovery on start), as after a power cut.
svc_pg_crash_restart() {
    _svc_is_running pg || { _svc_err "postgres is not running"; return 1; }
    if ! _svc_as postgres "$_SVC_PG_BINDIR/pg_ctl" -D "$_SVC_PG_DATA" -l "$_SVC_PG_LOG" \
            -m immediate -w -t "${SLUICE_SVC_TIMEOUT:-60}" restart >>"$SVC_TMPDIR/pg/pg_ctl.log" 2>&1; then
        _svc_tail "$_SVC_PG_LOG"
        _svc_err "postgres crash restart failed"
        return 1
    fi
}

# Where scripts/install-deps.sh puts toxiproxy's server.
_svc_toxiproxy_bin() {
    printf '%s\n' "${SLUICE_TOXIPROXY_BIN:-${SLUICE_CACHE:-$HOME/.cache/sluice}/toxiproxy-2.12.0/toxiproxy-server}"
}

# _svc_toxi_api METHOD PATH [JSON]: one call of toxiproxy's HTTP API.
_svc_toxi_api() {
    local out
    if ! out=$(curl -sS --max-time 10 -X "$1" -H 'Content-Type: application/json' \
            ${3:+--data "$3"} -w '\n%{http_code}' "http://$SLUICE_TEST_TOXIPROXY$2" 2>&1) ||
            [[ ${out##*$'\n'} != 2?? ]]; then
        _svc_err "toxiproxy $1 $2: ${out//$'\n'/ }"
        return 1
    fi
}

# Starts toxiproxy and a proxy in front of each running server that has one:
# "postgres" (SLUICE_TEST_PG_PROXY_PORT) and, when the broker was started with
# --proxied, "kafka" on the address it advertises there.
svc_toxiproxy_start() {
    _svc_need_init || return 1
    if _svc_is_running toxiproxy; then _svc_err "toxiproxy already started"; return 1; fi
    local bin api deadline dir=$SVC_TMPDIR/toxiproxy
    bin=$(_svc_toxiproxy_bin)
    [[ -x $bin ]] || { _svc_err "no toxiproxy server at $bin (run scripts/install-deps.sh)"; return 1; }
    command -v curl >/dev/null || { _svc_err "curl not found"; return 1; }
    mkdir -p "$dir" || return 1
    _svc_port api || return 1
    "$bin" -host 127.0.0.1 -port "$api" >"$dir/toxiproxy.log" 2>&1 </dev/null &
    _SVC_TOXI_PID=$!
    _svc_mark_running toxiproxy
    export SLUICE_TEST_TOXIPROXY=127.0.0.1:$api
    deadline=$(_svc_wait_deadline)
    until curl -sf --max-time 2 "http://$SLUICE_TEST_TOXIPROXY/version" >/dev/null 2>&1; do
        if ! _svc_pid_alive "$_SVC_TOXI_PID" || (($(date +%s) >= deadline)); then
            _svc_tail "$dir/toxiproxy.log"
            _svc_err "toxiproxy did not start"
            return 1
        fi
        sleep 0.1
    done
    if _svc_is_running pg; then
        local pport
        _svc_port pport || return 1
        _svc_toxi_api POST /proxies "{\"name\":\"postgres\",\"listen\":\"127.0.0.1:$pport\",\"upstream\":\"127.0.0.1:$_SVC_PG_PORT\",\"enabled\":true}" || return 1
        export SLUICE_TEST_PG_PROXY_PORT=$pport
    fi
    if [[ -n ${SLUICE_TEST_KAFKA_PROXIED:-} ]] && _svc_is_running kafka; then
        _svc_toxi_api POST /proxies "{\"name\":\"kafka\",\"listen\":\"$SLUICE_TEST_KAFKA_PROXIED\",\"upstream\":\"$SLUICE_TEST_KAFKA_PROXIED_BACKEND\",\"enabled\":true}" || return 1
    fi
    _svc_log "toxiproxy ready on $SLUICE_TEST_TOXIPROXY"
}

# svc_toxi_add PROXY NAME TYPE STREAM ATTRIBUTES-JSON, for example
#   svc_toxi_add postgres lag latency downstream '{"latency":300,"jitter":100}'
#   svc_toxi_add kafka hole timeout upstream '{"timeout":0}'    (a black hole)
#   svc_toxi_add postgres cut reset_peer upstream '{"timeout":0}'
svc_toxi_add() {
    _svc_toxi_api POST "/proxies/$1/toxics" \
        "{\"name\":\"$2\",\"type\":\"$3\",\"stream\":\"$4\",\"toxicity\":1.0,\"attributes\":$5}"
}

svc_toxi_remove() { _svc_toxi_api DELETE "/proxies/$1/toxics/$2"; }

# Every proxy enabled, every toxic removed.
svc_toxi_reset() { _svc_toxi_api POST /reset; }

# svc_toxi_enable PROXY true|false: false closes its connections and refuses new ones.
svc_toxi_enable() { _svc_toxi_api POST "/proxies/$1" "{\"enabled\":$2}"; }

svc_toxiproxy_stop() {
    _svc_is_running toxiproxy || return 0
    _svc_kill_wait "$_SVC_TOXI_PID" 10
    _svc_mark_stopped toxiproxy
    unset SLUICE_TEST_TOXIPROXY SLUICE_TEST_PG_PROXY_PORT
}

# ---------------------------------------------------------------------------
# Schema registry: Apicurio Registry with Confluent's API (in-memory storage)
# ---------------------------------------------------------------------------

_svc_registry_home() {
    printf '%s\n' "${SLUICE_CACHE:-$HOME/.cache/sluice}/apicurio-registry-${SLUICE_APICURIO_VERSION:-3.0.9}"
}

# Prints the command that starts the registry on its port again, in the
# background, printing its pid: the tests that restart the registry (which
# forgets every schema, its storage being in memory) run it themselves.
_svc_registry_command() {
    local jar cmd
    jar=$(compgen -G "$(_svc_registry_home)/apicurio-registry-app-*-runner.jar" | head -n 1)
    printf -v cmd '%q ' java -Xmx384m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
        -Dquarkus.http.host=127.0.0.1 "-Dquarkus.http.port=$_SVC_REG_PORT" \
        -Dquarkus.log.level=WARN -Dquarkus.banner.enabled=false -jar "$jar"
    printf '%s >>%q 2>&1 </dev/null & echo $!\n' "$cmd" "$SVC_TMPDIR/registry/registry.log"
}

_svc_registry_wait() {
    local deadline code
    deadline=$(_svc_wait_deadline)
    while :; do
        code=$(curl -s -o /dev/null -w '%{http_code}' "$SLUICE_TEST_REGISTRY/subjects" 2>/dev/null)
        [[ $code == 200 ]] && return 0
        if ! _svc_pid_alive "$_SVC_REG_PID"; then
            _svc_tail "$SVC_TMPDIR/registry/registry.log"
            _svc_err "the schema registry exited during startup"
            return 1
        fi
        if (($(date +%s) >= deadline)); then
            _svc_tail "$SVC_TMPDIR/registry/registry.log"
            _svc_err "the schema registry is not ready after ${SLUICE_SVC_TIMEOUT:-60}s"
            return 1
        fi
        sleep 0.2
    done
}

svc_registry_start() {
    _svc_need_init || return 1
    if _svc_is_running registry; then _svc_err "registry already started"; return 1; fi
    local t0 venv
    t0=$(_svc_now)
    compgen -G "$(_svc_registry_home)/apicurio-registry-app-*-runner.jar" >/dev/null || {
        _svc_err "no Apicurio Registry in $(_svc_registry_home) (run scripts/install-deps.sh)"; return 1; }
    command -v curl >/dev/null || { _svc_err "curl not found"; return 1; }
    venv=${SLUICE_CACHE:-$HOME/.cache/sluice}/pyvenv
    [[ -x $venv/bin/python ]] || { _svc_err "no Python venv in $venv (run scripts/install-deps.sh)"; return 1; }
    mkdir -p "$SVC_TMPDIR/registry" || return 1
    _svc_port _SVC_REG_PORT || return 1
    export SLUICE_TEST_REGISTRY=http://127.0.0.1:$_SVC_REG_PORT/apis/ccompat/v7
    SLUICE_TEST_REGISTRY_START=$(_svc_registry_command)
    _SVC_REG_PID=$(eval "$SLUICE_TEST_REGISTRY_START")
    _svc_mark_running registry
    _svc_registry_wait || return 1
    export SLUICE_TEST_REGISTRY_PID=$_SVC_REG_PID SLUICE_TEST_REGISTRY_START
    export SLUICE_TEST_PYTHON=$venv/bin/python
    _svc_log "schema registry ready on $SLUICE_TEST_REGISTRY in $(_svc_elapsed "$t0")s"
}

svc_registry_stop() {
    _svc_is_running registry || return 0
    # A test that restarted the registry leaves the pid of the new one here.
    local pidfile=$SVC_TMPDIR/registry/pid
    [[ -s $pidfile ]] && _SVC_REG_PID=$(<"$pidfile")
    _svc_kill_wait "$_SVC_REG_PID" 20
    _svc_mark_stopped registry
}

# ---------------------------------------------------------------------------
# TLS and SASL for PostgreSQL and Kafka (svc_pg_start --ssl,
# svc_kafka_start --tls)
# ---------------------------------------------------------------------------

_SVC_KAFKA_SASL_PASSWORD=sluice-kafka-scram-secret

# _svc_pg_ssl DIR DATADIR: a throw-away CA and server certificate in DIR (EC
# keys: milliseconds, so nothing is cached), and ssl=on in DATADIR's
# configuration. The key stays the postgres user's, mode 0600, as the server
# requires; clients may still connect without TLS (pg_hba "host" lines).
_svc_pg_ssl() {
    local dir=$1 data=$2
    _svc_tls_make "$dir" postgres || return 1
    chmod 0600 "$dir/server-key.pem"
    _svc_as postgres tee -a "$data/postgresql.conf" >/dev/null <<EOF
ssl = on
ssl_cert_file = '$dir/server-cert.pem'
ssl_key_file = '$dir/server-key.pem'
EOF
}

# _svc_kafka_tls DIR PROPS: a throw-away CA and the broker's certificate in
# DIR, as a PEM key store (key and certificate in one file, which Kafka reads
# with ssl.keystore.type=PEM: no keytool, no JVM start), and the SSL and
# SASL_SSL listeners' settings appended to PROPS. The SASL_SSL listener
# takes PLAIN and SCRAM-SHA-256/512 for the same user and password; SCRAM
# users come with the storage format (--add-scram), so the broker needs no
# client call to make them.
_svc_kafka_tls() {
    local dir=$1 props=$2
    _svc_tls_make "$dir" "$(id -un)" || return 1
    cat "$dir/server-key.pem" "$dir/server-cert.pem" >"$dir/keystore.pem" || return 1
    chmod 0600 "$dir/keystore.pem"
    cat >>"$props" <<EOF
ssl.keystore.type=PEM
ssl.keystore.location=$dir/keystore.pem
sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_$_SVC_TEST_USER="$_SVC_KAFKA_SASL_PASSWORD";
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
EOF
}
