# shellcheck shell=bash
# Debezium's PostgreSQL, MySQL and MariaDB connectors in a Kafka Connect
# standalone worker: the reference sluice is compared with, both for golden
# events and for the benchmark. Builds on tests/lib/services.sh (the database
# and Kafka must be running, started by svc_pg_start / svc_mysql_start /
# svc_mariadb_start and svc_kafka_start in the same shell).
#
# Usage (source it; like the services library, call the start function in
# the current shell, not inside $(...)):
#
#   source tests/lib/services.sh
#   source bench/lib/debezium.sh
#   trap 'dbz_connect_stop; svc_stop_all' EXIT
#   trap 'exit 130' INT TERM
#   dbz_install                      # resolves the jars once, then a no-op
#   dbz_install_avro                 # optional: Apicurio's Avro converter too
#   svc_init; svc_pg_start; svc_kafka_start
#   dbz_connect_start bench table.include.list=public.t producer.override.linger.ms=5
#   dbz_wait_running                 # connector and task RUNNING, slot streaming
#   ...                              # dbz_status prints the REST status JSON
#   dbz_connect_stop
#   dbz_drop_slot                    # optional: release the slot's WAL
#
# dbz_connect_start [--mysql|--mariadb] [--distributed] NAME [KEY=VALUE ...]
#   NAME is the connector name and, unless overridden, its topic.prefix; the
#   slot and publication are named dbz_NAME (non-identifier characters -> _).
#   Each KEY=VALUE is added to (or replaces a key of) the connector config,
#   e.g. skipped.operations=none, snapshot.mode=initial,
#   publication.autocreate.mode=filtered, producer.override.acks=1.
#   --mysql / --mariadb: Debezium's MySQL connector on the svc_mysql_start
#   server, or its MariaDB connector on the svc_mariadb_start server (call
#   dbz_install_plugin mysql / mariadb first). Their defaults: the test
#   database only, snapshot.mode=no_data, the schema history in the Kafka
#   topic dbz-history.NAME, database.server.id 184054.
#   --distributed: a distributed worker (a group of one) that keeps offsets
#   in the Kafka topic $SLUICE_DBZ_OFFSETS_TOPIC (default connect-offsets,
#   25 partitions as Connect's default) and its configs and status in
#   dbz-NAME-configs / dbz-NAME-status (replication factor 1); the connector
#   is created through the REST API. dbz_connector_stop / dbz_connector_resume
#   stop it (tasks shut down, offsets committed, slot released) and resume
#   it without restarting the worker.
#
# dbz_install_plugin mysql|mariadb
#   Resolves that connector into $cache/debezium-V/plugins (once) and
#   exports SLUICE_DBZ_PLUGIN_VERSION.
#
# Worker defaults: JsonConverter with schemas.enable=true for keys and values,
# offsets in a file (a topic with --distributed), REST on a free 127.0.0.1 port, producer acks=all, JVM
# time zone UTC. The connector defaults to plugin.name=pgoutput,
# snapshot.mode=no_data (streaming only) and publication.autocreate.mode=
# all_tables.
#
# Exported by dbz_install and dbz_connect_start:
#   SLUICE_DBZ_VERSION          Debezium version (e.g. 3.6.1.Final)
#   SLUICE_DBZ_CONNECT_VERSION  Kafka Connect version (e.g. 4.1.1)
# Exported after dbz_connect_start:
#   SLUICE_DBZ_DIR        work dir (worker/connector properties, offsets, logs)
#   SLUICE_DBZ_LOG        the worker's log4j log file
#   SLUICE_DBZ_REST       http://127.0.0.1:PORT (Connect REST API)
#   SLUICE_DBZ_CONNECTOR  connector name
#   SLUICE_DBZ_SLOT       replication slot name
#   SLUICE_DBZ_PID        the worker JVM's pid
#
# Tunables:
#   SLUICE_CACHE              cache root (default $HOME/.cache/sluice)
#   SLUICE_DBZ_HEAP_OPTS      JVM heap (default "-Xms256m -Xmx1g")
#   SLUICE_DBZ_TIMEOUT        seconds dbz_wait_running waits (default 90)
#   SLUICE_DBZ_PRODUCER_ACKS  worker producer.acks (default all)
#   SLUICE_DBZ_WORKER_EXTRA   extra worker.properties lines (newline separated;
#                             they come last, so they override the defaults)
#   SLUICE_DBZ_LOG_LEVEL      root log level (default INFO)
#
# Functions return non-zero and print "debezium: ..." on stderr on failure.

_DBZ_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
_DBZ_POM=$_DBZ_LIB_DIR/../debezium/pom.xml

_dbz_err() { printf 'debezium: error: %s\n' "$*" >&2; }
_dbz_log() { [[ ${SLUICE_SVC_QUIET:-0} == 1 ]] || printf 'debezium: %s\n' "$*" >&2; }

_dbz_pom_prop() { sed -n "s:.*<$1>\(.*\)</$1>.*:\1:p" "$_DBZ_POM"; }

# The cache dir is named after the Debezium release without its ".Final"
# qualifier; the marker file records both versions so a pom bump is noticed.
_dbz_versions() {
    _DBZ_KAFKA_VERSION=$(_dbz_pom_prop kafka.version)
    _DBZ_VERSION=$(_dbz_pom_prop debezium.version)
    [[ -n $_DBZ_KAFKA_VERSION && -n $_DBZ_VERSION ]] || {
        _dbz_err "cannot read the versions from $_DBZ_POM"; return 1; }
    _DBZ_HOME=${SLUICE_CACHE:-$HOME/.cache/sluice}/debezium-${_DBZ_VERSION%.Final}
    export SLUICE_DBZ_VERSION=$_DBZ_VERSION SLUICE_DBZ_CONNECT_VERSION=$_DBZ_KAFKA_VERSION
}

_dbz_marker_text() { printf 'kafka-connect %s\ndebezium %s\n' "$_DBZ_KAFKA_VERSION" "$_DBZ_VERSION"; }

# dbz_install: resolve the Connect worker jars into $cache/debezium-V/connect
# and the connector into $cache/debezium-V/plugins/debezium-connector-postgres.
# Cheap when the .complete marker matches; otherwise needs mvn and the network
# (Maven Central) once.
dbz_install() {
    _dbz_versions || return 1
    local marker=$_DBZ_HOME/.complete
    if [[ -f $marker && $(<"$marker") == "$(_dbz_marker_text)" ]]; then
        return 0
    fi
    command -v mvn >/dev/null 2>&1 || { _dbz_err "mvn not found (run scripts/install-deps.sh)"; return 1; }
    command -v java >/dev/null 2>&1 || { _dbz_err "java not found (run scripts/install-deps.sh)"; return 1; }

    _dbz_log "resolving Kafka Connect $_DBZ_KAFKA_VERSION and Debezium $_DBZ_VERSION into $_DBZ_HOME"
    mkdir -p "${_DBZ_HOME%/*}" || return 1
    local staging log profile out
    staging=$(mktemp -d "$_DBZ_HOME.tmp.XXXXXX") || return 1
    log=$staging.log
    for profile in connect connector; do
        if [[ $profile == connect ]]; then
            out=$staging/connect
        else
            out=$staging/plugins/debezium-connector-postgres
        fi
        if ! mvn -B -q -Dstyle.color=never -f "$_DBZ_POM" -P"$profile" \
                -DoutputDirectory="$out" -DincludeScope=runtime \
                dependency:copy-dependencies >>"$log" 2>&1; then
            tail -n 30 "$log" >&2
            rm -rf "$staging"
            _dbz_err "maven could not resolve the '$profile' jars (full log: $log)"
            return 1
        fi
    done
    if ! compgen -G "$staging/connect/connect-runtime-$_DBZ_KAFKA_VERSION.jar" >/dev/null ||
            ! compgen -G "$staging/plugins/debezium-connector-postgres/debezium-connector-postgres-$_DBZ_VERSION.jar" >/dev/null; then
        _dbz_err "maven finished but the expected jars are missing (log: $log)"
        return 1
    fi
    _dbz_marker_text >"$staging/.complete"
    rm -rf "$_DBZ_HOME"
    mv "$staging" "$_DBZ_HOME" || return 1
    rm -f "$log"
    _dbz_log "debezium $_DBZ_VERSION ready ($(find "$_DBZ_HOME" -name '*.jar' | wc -l) jars)"
}

# dbz_install_plugin mysql|mariadb: the MySQL or MariaDB connector into
# $cache/debezium-V/plugins/debezium-connector-KIND, next to the PostgreSQL
# one; its own marker records its version (the MariaDB connector has its own,
# older release train on Maven Central).
dbz_install_plugin() {
    local kind=${1:-}
    case $kind in
        mysql | mariadb) ;;
        *) _dbz_err "usage: dbz_install_plugin mysql|mariadb"; return 1 ;;
    esac
    dbz_install || return 1
    local version dir staging log
    version=$(_dbz_pom_prop "debezium.$kind.version")
    [[ -n $version ]] || { _dbz_err "no debezium.$kind.version in $_DBZ_POM"; return 1; }
    dir=$_DBZ_HOME/plugins/debezium-connector-$kind
    export SLUICE_DBZ_PLUGIN_VERSION=$version
    if [[ -f $dir/.complete && $(<"$dir/.complete") == "debezium-connector-$kind $version" ]]; then
        return 0
    fi
    _dbz_log "resolving Debezium's $kind connector $version into $dir"
    staging=$(mktemp -d "$_DBZ_HOME/plugins/.$kind.tmp.XXXXXX") || return 1
    log=$staging.log
    if ! mvn -B -q -Dstyle.color=never -f "$_DBZ_POM" -P"connector-$kind" \
            -DoutputDirectory="$staging" -DincludeScope=runtime \
            dependency:copy-dependencies >"$log" 2>&1; then
        tail -n 30 "$log" >&2
        rm -rf "$staging"
        _dbz_err "maven could not resolve debezium-connector-$kind $version (full log: $log)"
        return 1
    fi
    compgen -G "$staging/debezium-connector-$kind-$version.jar" >/dev/null || {
        _dbz_err "maven finished but debezium-connector-$kind-$version.jar is missing (log: $log)"
        return 1
    }
    printf 'debezium-connector-%s %s\n' "$kind" "$version" >"$staging/.complete"
    rm -rf "$dir"
    mv "$staging" "$dir" || return 1
    rm -f "$log"
}

# dbz_install_avro: resolve Apicurio's Avro converter for Kafka Connect
# (apicurio-registry-utils-converter, version in bench/debezium/pom.xml) into
# $cache/debezium-V/plugins/apicurio-converter, after dbz_install. The jar has
# no ServiceLoader manifest, which the worker's plugin.discovery=service_load
# needs, so a small jar holding one is written beside it.
dbz_install_avro() {
    _dbz_versions || return 1
    [[ -f $_DBZ_HOME/.complete ]] || { _dbz_err "call dbz_install first"; return 1; }
    local version dir marker staging log
    version=$(_dbz_pom_prop apicurio.converter.version)
    dir=$_DBZ_HOME/plugins/apicurio-converter
    marker="apicurio-registry-utils-converter $version"
    [[ -f $dir/.complete && $(<"$dir/.complete") == "$marker" ]] && return 0
    _dbz_log "resolving Apicurio's Avro converter $version into $dir"
    staging=$(mktemp -d "$dir.tmp.XXXXXX") || return 1
    log=$staging.log
    if ! mvn -B -q -Dstyle.color=never -f "$_DBZ_POM" -Pavro-converter \
            -DoutputDirectory="$staging" -DincludeScope=runtime \
            dependency:copy-dependencies >"$log" 2>&1; then
        tail -n 30 "$log" >&2
        rm -rf "$staging"
        _dbz_err "maven could not resolve the Avro converter (full log: $log)"
        return 1
    fi
    "$(_dbz_python)" - "$staging/sluice-converter-manifest.jar" <<'PY' || return 1
import sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w") as z:
    z.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n")
    z.writestr("META-INF/services/org.apache.kafka.connect.storage.Converter",
               "io.apicurio.registry.utils.converter.AvroConverter\n")
PY
    printf '%s' "$marker" >"$staging/.complete"
    rm -rf "$dir"
    mv "$staging" "$dir" || return 1
    rm -f "$log"
}

# dbz_avro_worker_settings REGISTRY_URL: the worker.properties lines that make
# Connect write keys and values with Apicurio's Avro converter in Confluent's
# framing (magic byte, 4-byte content id in the payload: as-confluent alone
# only shortens the id, which stays in Kafka headers unless headers.enabled is
# false), registering the schemas in the
# registry at REGISTRY_URL (Apicurio's native API, .../apis/registry/v2).
# Use as SLUICE_DBZ_WORKER_EXTRA.
dbz_avro_worker_settings() {
    local url=$1 side
    for side in key value; do
        printf '%s\n' "$side.converter=io.apicurio.registry.utils.converter.AvroConverter" \
            "$side.converter.apicurio.registry.url=$url" \
            "$side.converter.apicurio.registry.auto-register=true" \
            "$side.converter.apicurio.registry.find-latest=true" \
            "$side.converter.apicurio.registry.as-confluent=true" \
            "$side.converter.apicurio.registry.headers.enabled=false" \
            "$side.converter.apicurio.registry.use-id=contentId"
    done
}

_dbz_python() { command -v /usr/bin/python3 || command -v python3; }

# _dbz_rest PATH: GET from the worker's REST API; prints the body, fails on a
# connection error or an HTTP status >= 400 (the body still goes to stdout).
_dbz_rest() {
    "$(_dbz_python)" - "$SLUICE_DBZ_REST$1" <<'PY'
import sys, urllib.request, urllib.error
try:
    with urllib.request.urlopen(sys.argv[1], timeout=5) as r:
        sys.stdout.write(r.read().decode())
except urllib.error.HTTPError as e:
    sys.stdout.write(e.read().decode(errors="replace"))
    sys.exit(2)
except Exception as e:
    sys.stdout.write(str(e))
    sys.exit(1)
PY
}

dbz_connect_start() {
    local kind=postgres distributed=0
    while :; do
        case ${1:-} in
            --mysql) kind=mysql; shift ;;
            --mariadb) kind=mariadb; shift ;;
            --distributed) distributed=1; shift ;;
            *) break ;;
        esac
    done
    local name=${1:-}
    [[ -n $name ]] || { _dbz_err "usage: dbz_connect_start [--mysql|--mariadb] [--distributed] NAME [KEY=VALUE ...]"; return 1; }
    shift
    if [[ -n ${SLUICE_DBZ_PID:-} ]] && kill -0 "$SLUICE_DBZ_PID" 2>/dev/null; then
        _dbz_err "a Connect worker is already running (pid $SLUICE_DBZ_PID)"; return 1
    fi
    [[ -n ${SLUICE_TEST_KAFKA:-} ]] || { _dbz_err "SLUICE_TEST_KAFKA unset (call svc_kafka_start first)"; return 1; }
    case $kind in
        postgres) [[ -n ${SLUICE_TEST_PG_PORT:-} ]] || {
            _dbz_err "SLUICE_TEST_PG_* unset (call svc_pg_start first)"; return 1; } ;;
        mysql) [[ -n ${SLUICE_TEST_MYSQL97_PORT:-} ]] || {
            _dbz_err "SLUICE_TEST_MYSQL97_* unset (call svc_mysql_start first)"; return 1; } ;;
        mariadb) [[ -n ${SLUICE_TEST_MARIADB_PORT:-} ]] || {
            _dbz_err "SLUICE_TEST_MARIADB_* unset (call svc_mariadb_start first)"; return 1; } ;;
    esac
    _dbz_versions || return 1
    [[ -f $_DBZ_HOME/.complete ]] || { _dbz_err "no Debezium jars in $_DBZ_HOME (call dbz_install)"; return 1; }

    local dir port kv key
    # Inside the services temp dir when there is one, so svc_stop_all
    # removes it together with the servers' data.
    if [[ -n ${SVC_TMPDIR:-} && -d $SVC_TMPDIR ]]; then
        dir=$SVC_TMPDIR/debezium-$name
        mkdir -p "$dir" || return 1
    else
        dir=$(mktemp -d "${TMPDIR:-/tmp}/sluice-dbz.XXXXXX") || return 1
    fi
    port=$(svc_free_port) || return 1
    local ident=${name//[^a-zA-Z0-9_]/_}
    ident=dbz_${ident,,}

    local storage
    if ((distributed)); then
        storage="group.id=sluice-dbz-$name
config.storage.topic=dbz-$name-configs
offset.storage.topic=${SLUICE_DBZ_OFFSETS_TOPIC:-connect-offsets}
status.storage.topic=dbz-$name-status
config.storage.replication.factor=1
offset.storage.replication.factor=1
status.storage.replication.factor=1
offset.flush.interval.ms=1000"
    else
        storage="offset.storage.file.filename=$dir/offsets.dat
offset.flush.interval.ms=5000"
    fi
    cat >"$dir/worker.properties" <<EOF
bootstrap.servers=$SLUICE_TEST_KAFKA
key.converter=org.apache.kafka.connect.json.JsonConverter
value.converter=org.apache.kafka.connect.json.JsonConverter
key.converter.schemas.enable=true
value.converter.schemas.enable=true
$storage
plugin.path=$_DBZ_HOME/plugins
# Every plugin on the path ships ServiceLoader manifests, so the slow
# reflective class scan can be skipped (saves seconds at startup).
plugin.discovery=service_load
listeners=http://127.0.0.1:$port
rest.advertised.host.name=127.0.0.1
rest.advertised.port=$port
producer.acks=${SLUICE_DBZ_PRODUCER_ACKS:-all}
${SLUICE_DBZ_WORKER_EXTRA:-}
EOF

    # Defaults first; a KEY=VALUE argument replaces the line with the same
    # key, so the file never holds a key twice.
    local -a conf
    if [[ $kind == postgres ]]; then
        conf=(
            "name=$name"
            "connector.class=io.debezium.connector.postgresql.PostgresConnector"
            "tasks.max=1"
            "plugin.name=pgoutput"
            "database.hostname=$SLUICE_TEST_PG_HOST"
            "database.port=$SLUICE_TEST_PG_PORT"
            "database.user=$SLUICE_TEST_PG_USER"
            "database.password=$SLUICE_TEST_PG_PASSWORD"
            "database.dbname=$SLUICE_TEST_PG_DB"
            "topic.prefix=$name"
            "slot.name=$ident"
            "publication.name=$ident"
            "publication.autocreate.mode=all_tables"
            "snapshot.mode=no_data"
        )
    else
        local v=MYSQL97 class=io.debezium.connector.mysql.MySqlConnector
        if [[ $kind == mariadb ]]; then
            v=MARIADB class=io.debezium.connector.mariadb.MariaDbConnector
        fi
        [[ -f $_DBZ_HOME/plugins/debezium-connector-$kind/.complete ]] || {
            _dbz_err "no $kind connector in $_DBZ_HOME/plugins (call dbz_install_plugin $kind)"; return 1; }
        local host_var=SLUICE_TEST_${v}_HOST port_var=SLUICE_TEST_${v}_PORT
        local user_var=SLUICE_TEST_${v}_USER pass_var=SLUICE_TEST_${v}_PASSWORD db_var=SLUICE_TEST_${v}_DB
        conf=(
            "name=$name"
            "connector.class=$class"
            "tasks.max=1"
            "database.hostname=${!host_var}"
            "database.port=${!port_var}"
            "database.user=${!user_var}"
            "database.password=${!pass_var}"
            "database.server.id=184054"
            "database.include.list=${!db_var}"
            "topic.prefix=$name"
            "snapshot.mode=no_data"
            "schema.history.internal.kafka.bootstrap.servers=$SLUICE_TEST_KAFKA"
            "schema.history.internal.kafka.topic=dbz-history.$name"
        )
    fi
    local i found
    for kv in "$@"; do
        [[ $kv == *=* ]] || { _dbz_err "connector setting '$kv' is not KEY=VALUE"; return 1; }
        key=${kv%%=*}
        found=0
        for i in "${!conf[@]}"; do
            if [[ ${conf[i]%%=*} == "$key" ]]; then conf[i]=$kv; found=1; fi
        done
        ((found)) || conf+=("$kv")
    done
    printf '%s\n' "${conf[@]}" >"$dir/connector.properties"

    SLUICE_DBZ_LOG=$dir/connect.log
    cat >"$dir/log4j2.properties" <<EOF
status = warn
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = $SLUICE_DBZ_LOG
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %X{connector.context}%m (%c)%n
rootLogger.level = ${SLUICE_DBZ_LOG_LEVEL:-INFO}
rootLogger.appenderRef.file.ref = FILE
EOF

    # shellcheck disable=SC2206  # word splitting of the heap options is intended
    local -a heap=(${SLUICE_DBZ_HEAP_OPTS:--Xms256m -Xmx1g})
    # UTC pins anything that might depend on the JVM's default zone; the
    # classpath wildcard is expanded by java itself.
    local -a main=(org.apache.kafka.connect.cli.ConnectStandalone
        "$dir/worker.properties" "$dir/connector.properties")
    ((distributed)) && main=(org.apache.kafka.connect.cli.ConnectDistributed "$dir/worker.properties")
    TZ=UTC java "${heap[@]}" -cp "$_DBZ_HOME/connect/*" \
        -Djava.awt.headless=true -Djava.net.preferIPv4Stack=true -Duser.timezone=UTC \
        "-Dlog4j2.configurationFile=$dir/log4j2.properties" \
        "${main[@]}" >"$dir/stdout.log" 2>&1 </dev/null &
    SLUICE_DBZ_PID=$!
    export SLUICE_DBZ_PID SLUICE_DBZ_LOG SLUICE_DBZ_DIR=$dir
    export SLUICE_DBZ_REST=http://127.0.0.1:$port SLUICE_DBZ_CONNECTOR=$name
    SLUICE_DBZ_SLOT=$(sed -n 's/^slot\.name=//p' "$dir/connector.properties")
    export SLUICE_DBZ_SLOT SLUICE_DBZ_KIND=$kind
    _DBZ_T0=$(date +%s.%N)
    _dbz_log "connect worker started (pid $SLUICE_DBZ_PID, rest $SLUICE_DBZ_REST, log $SLUICE_DBZ_LOG)"
    ((distributed)) || return 0

    # A distributed worker takes its connectors from the REST API, once it
    # has joined its group and read its config topic.
    local deadline body
    deadline=$(($(date +%s) + ${SLUICE_DBZ_TIMEOUT:-90}))
    body=$("$(_dbz_python)" -c '
import json, sys
conf = dict(l.rstrip("\n").split("=", 1) for l in open(sys.argv[1]) if "=" in l)
print(json.dumps({"name": conf["name"], "config": conf}))
' "$dir/connector.properties") || return 1
    until _dbz_rest_call POST /connectors "$body" >"$dir/create.log" 2>&1; do
        # A request that timed out on this side may still have created it
        # (a busy worker answers late): the next one then finds it there.
        grep -q '"error_code":409' "$dir/create.log" && break
        if ! kill -0 "$SLUICE_DBZ_PID" 2>/dev/null || (($(date +%s) >= deadline)); then
            _svc_tail "$dir/create.log" 5
            _svc_tail "$SLUICE_DBZ_LOG" 60
            _dbz_err "could not create connector $name through $SLUICE_DBZ_REST"
            return 1
        fi
        sleep 0.5
    done
}

# _dbz_rest_call METHOD PATH [BODY]: a REST request with a JSON body; prints
# the answer, fails on a connection error or an HTTP status >= 400.
_dbz_rest_call() {
    "$(_dbz_python)" - "$1" "$SLUICE_DBZ_REST$2" "${3:-}" <<'PY'
import sys, urllib.request, urllib.error
method, url, body = sys.argv[1], sys.argv[2], sys.argv[3]
req = urllib.request.Request(url, data=body.encode() if body else None, method=method,
                             headers={"Content-Type": "application/json"})
try:
    with urllib.request.urlopen(req, timeout=10) as r:
        sys.stdout.write(r.read().decode())
except urllib.error.HTTPError as e:
    sys.stdout.write(e.read().decode(errors="replace"))
    sys.exit(2)
except Exception as e:
    sys.stdout.write(str(e))
    sys.exit(1)
PY
}

# dbz_connector_stop: stop the connector of a distributed worker (PUT
# /connectors/NAME/stop) and wait until its tasks are gone (their offsets
# committed) and, for PostgreSQL, its replication slot is released.
dbz_connector_stop() {
    local deadline state active
    deadline=$(($(date +%s) + ${SLUICE_DBZ_TIMEOUT:-90}))
    _dbz_rest_call PUT "/connectors/$SLUICE_DBZ_CONNECTOR/stop" >/dev/null || {
        _dbz_err "could not stop connector $SLUICE_DBZ_CONNECTOR"; return 1; }
    while :; do
        state=$(_dbz_rest "/connectors/$SLUICE_DBZ_CONNECTOR/status" 2>/dev/null |
            "$(_dbz_python)" -c 'import json,sys; s=json.load(sys.stdin); print(s["connector"]["state"], len(s.get("tasks", [])))' 2>/dev/null)
        active=f
        [[ ${SLUICE_DBZ_KIND:-postgres} == postgres ]] &&
            active=$(psql -XtAc "SELECT active FROM pg_replication_slots WHERE slot_name = '$SLUICE_DBZ_SLOT'" 2>/dev/null)
        [[ $state == "STOPPED 0" && $active != t ]] && return 0
        if (($(date +%s) >= deadline)); then
            _dbz_err "connector $SLUICE_DBZ_CONNECTOR not stopped (state: ${state:-?}, slot active: ${active:-?})"
            return 1
        fi
        sleep 0.3
    done
}

# dbz_connector_resume: resume a stopped connector (PUT /connectors/NAME/resume);
# dbz_wait_running then waits until it streams.
dbz_connector_resume() {
    _DBZ_T0=$(date +%s.%N)
    _dbz_rest_call PUT "/connectors/$SLUICE_DBZ_CONNECTOR/resume" >/dev/null || {
        _dbz_err "could not resume connector $SLUICE_DBZ_CONNECTOR"; return 1; }
}

# SHOW PROCESSLIST on the MySQL or MariaDB server, as root over its socket,
# from the variables svc_mysql_start / svc_mariadb_start export: they are
# there in a shell that started the server and in one that reuses it
# (bench/run.sh --reuse-services, the tests' helper scripts), where
# svc_mysql_sql's own variables (the socket, the unpacked tree and its
# loader) are not. MySQL's client runs from the unpacked Debian sid tree
# through sid's loader (scripts/fetch-mysql.sh).
_dbz_my_processlist() { # mysql|mariadb
    if [[ $1 == mysql ]]; then
        local root=${SLUICE_TEST_MYSQL97_ROOT:?SLUICE_TEST_MYSQL97_ROOT unset}
        "$root/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" \
            --library-path "$root/usr/lib/x86_64-linux-gnu" "$root/usr/bin/mysql" --no-defaults \
            --socket="${SLUICE_TEST_MYSQL97_SOCKET:?}" -uroot -N -B -e 'SHOW PROCESSLIST'
    else
        mariadb --no-defaults --socket="${SLUICE_TEST_MARIADB_SOCKET:?SLUICE_TEST_MARIADB_SOCKET unset}" \
            -uroot -N -B -e 'SHOW PROCESSLIST'
    fi
}

# dbz_wait_running [TIMEOUT]: wait until the connector and all its tasks
# report RUNNING and the replication slot is active (the walsender is
# streaming, so any change committed from now on will be captured); for
# MySQL/MariaDB until the server shows the connector's binlog dump thread.
# On a timeout, a FAILED state or a dead JVM: print the status and the log
# tail.
dbz_wait_running() {
    local timeout=${1:-${SLUICE_DBZ_TIMEOUT:-90}} deadline status state slot_active
    deadline=$(($(date +%s) + timeout))
    while :; do
        if ! kill -0 "$SLUICE_DBZ_PID" 2>/dev/null; then
            _svc_tail "$SLUICE_DBZ_DIR/stdout.log" 20
            _svc_tail "$SLUICE_DBZ_LOG" 60
            _dbz_err "connect worker exited during startup"
            return 1
        fi
        state=
        if status=$(_dbz_rest "/connectors/$SLUICE_DBZ_CONNECTOR/status" 2>/dev/null); then
            state=$("$(_dbz_python)" -c '
import json, sys
s = json.loads(sys.argv[1])
states = [s["connector"]["state"]] + [t["state"] for t in s.get("tasks", [])]
if "FAILED" in states:
    print("FAILED")
elif len(states) > 1 and all(x == "RUNNING" for x in states):
    print("RUNNING")
else:
    print(",".join(states))
' "$status" 2>/dev/null)
        fi
        if [[ $state == FAILED ]]; then
            printf '%s\n' "$status" >&2
            _svc_tail "$SLUICE_DBZ_LOG" 60
            _dbz_err "connector $SLUICE_DBZ_CONNECTOR failed"
            return 1
        fi
        if [[ $state == RUNNING ]]; then
            case ${SLUICE_DBZ_KIND:-postgres} in
                postgres)
                    slot_active=$(psql -XtAc "SELECT active FROM pg_replication_slots WHERE slot_name = '$SLUICE_DBZ_SLOT'" 2>/dev/null) ;;
                # The binlog client is connected once the server runs a dump
                # thread for it ("Binlog Dump" or "Binlog Dump GTID").
                mysql | mariadb)
                    slot_active=$(_dbz_my_processlist "$SLUICE_DBZ_KIND" 2>/dev/null |
                        awk -F'\t' '$5 ~ /^Binlog Dump/ { f = 1 } END { print f ? "t" : "f" }') ;;
            esac
            if [[ $slot_active == t ]]; then
                _dbz_log "connector $SLUICE_DBZ_CONNECTOR streaming after $(awk -v a="$_DBZ_T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')s"
                return 0
            fi
        fi
        if (($(date +%s) >= deadline)); then
            [[ -n ${status:-} ]] && printf '%s\n' "$status" >&2
            _svc_tail "$SLUICE_DBZ_LOG" 60
            _dbz_err "connector $SLUICE_DBZ_CONNECTOR not streaming after ${timeout}s (state: ${state:-no REST answer}, slot active: ${slot_active:-?})"
            return 1
        fi
        sleep 0.5
    done
}

# dbz_status: print the connector's status JSON from the REST API (states of
# the connector and its tasks, with the stack trace of a failed task).
dbz_status() {
    _dbz_rest "/connectors/$SLUICE_DBZ_CONNECTOR/status"
    echo
}

# dbz_connect_stop: stop the worker (TERM lets it commit offsets and close the
# replication connection; KILL after 30 s). A no-op when none is running.
dbz_connect_stop() {
    local pid=${SLUICE_DBZ_PID:-} i
    [[ -n $pid ]] || return 0
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null
        for ((i = 0; i < 300; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            kill -KILL "$pid" 2>/dev/null
            sleep 0.2
        fi
    fi
    wait "$pid" 2>/dev/null || true
    unset SLUICE_DBZ_PID
    return 0
}

# dbz_drop_slot: drop the connector's replication slot and publication, which
# outlive the worker (PostgreSQL keeps WAL for an inactive slot). Call after
# dbz_connect_stop; a no-op for objects that do not exist.
dbz_drop_slot() {
    [[ -n ${SLUICE_DBZ_SLOT:-} ]] || return 0
    local pub
    pub=$(sed -n 's/^publication\.name=//p' "$SLUICE_DBZ_DIR/connector.properties" 2>/dev/null)
    psql -X -q -v ON_ERROR_STOP=1 \
        -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '$SLUICE_DBZ_SLOT'" \
        -c "DROP PUBLICATION IF EXISTS \"${pub:-$SLUICE_DBZ_SLOT}\"" >/dev/null || {
        _dbz_err "could not drop slot/publication $SLUICE_DBZ_SLOT"; return 1; }
}
