#!/usr/bin/env bash
# Records what Debezium's MySQL connector (on MySQL 9.7) and its MariaDB
# connector (on MariaDB 10.11) produce for schema.sql + changes.sql (and the
# server's own schema-KIND.sql / changes-KIND.sql), as the golden reference
# for sluice's MySQL and MariaDB events.
#
# Starts a private Kafka and the server (tests/lib/services.sh) and a Kafka
# Connect standalone worker with Debezium (bench/lib/debezium.sh), runs the
# SQL, reads every topic back and writes, into tests/golden/debezium-KIND/:
#   events.jsonl       one Kafka message per line, in binlog order:
#                      {"topic", "key", "value", "headers": [[name, value]...]}
#                      key and value are the message bytes as JSON text
#                      exactly as JsonConverter wrote them (null for a null
#                      key or a tombstone); the schema change events of topic
#                      <prefix> are included
#   capture-info.json  versions, date, server settings, connector settings
# Everything is stopped and removed at the end.
#
# Usage: tests/golden/debezium-mysql/capture.sh mysql|mariadb|all [OUTPUT_DIR]
# Needs the network once (Maven Central) to resolve the Debezium jars.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../../.." && pwd)
kind=${1:-}
case $kind in
    mysql | mariadb) ;;
    all)
        "$0" mysql
        "$0" mariadb
        exit 0
        ;;
    *) echo "usage: $0 mysql|mariadb|all [OUTPUT_DIR]" >&2; exit 2 ;;
esac
out_dir=${2:-$repo/tests/golden/debezium-$kind}
prefix=golden

say() { printf 'capture(%s): %s\n' "$kind" "$*" >&2; }
die() { printf 'capture(%s): error: %s\n' "$kind" "$*" >&2; exit 1; }

t_start=$(date +%s.%N)
elapsed() { awk -v a="$t_start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

# shellcheck source=SCRIPTDIR/../../lib/services.sh
source "$repo/tests/lib/services.sh"
# shellcheck source=SCRIPTDIR/../../../bench/lib/debezium.sh
source "$repo/bench/lib/debezium.sh"

# The goldens must not depend on the caller's tuning of the worker.
export SLUICE_DBZ_PRODUCER_ACKS=all
unset SLUICE_DBZ_WORKER_EXTRA

bash "$repo/scripts/install-deps.sh"
dbz_install
dbz_install_plugin "$kind"

trap 'dbz_connect_stop; svc_stop_all' EXIT
trap 'exit 130' INT TERM
svc_init
svc_kafka_start
if [[ $kind == mysql ]]; then
    svc_mysql_start
    sql() { svc_mysql_sql --default-character-set=utf8mb4 "$SLUICE_TEST_MYSQL97_DB" "$@"; }
    db=$SLUICE_TEST_MYSQL97_DB
else
    svc_mariadb_start
    sql() { svc_mariadb_sql --default-character-set=utf8mb4 "$SLUICE_TEST_MARIADB_DB" "$@"; }
    db=$SLUICE_TEST_MARIADB_DB
fi

run_sql() { # FILE...
    local f
    for f in "$@"; do
        sql <"$f" >"$SVC_TMPDIR/sql.log" 2>&1 || { cat "$SVC_TMPDIR/sql.log" >&2; die "$(basename "$f") failed"; }
    done
}
run_sql "$here/schema.sql" "$here/schema-$kind.sql"

connector_settings=(
    "skipped.operations=none"
    "provide.transaction.metadata=true"
)
dbz_connect_start "--$kind" "$prefix" "${connector_settings[@]}"
dbz_wait_running "${SLUICE_DBZ_TIMEOUT:-120}"

say "running changes.sql and changes-$kind.sql"
run_sql "$here/changes.sql" "$here/changes-$kind.sql"
sql -e 'INSERT INTO capture_end VALUES (1)'

# The capture_end insert is the last change. Once its event is in Kafka, so
# are all earlier ones: the task's single producer sends in order with one
# request in flight (Connect's default) and acks=all.
deadline=$(($(date +%s) + 90))
until [[ -n $(kcat -b "$SLUICE_TEST_KAFKA" -C -t "$prefix.$db.capture_end" -o beginning \
        -c 1 -e -q -f '%o\n' 2>/dev/null) ]]; do
    if ! kill -0 "$SLUICE_DBZ_PID" 2>/dev/null || (($(date +%s) >= deadline)); then
        dbz_status >&2 || true
        tail -n 80 "$SLUICE_DBZ_LOG" >&2 || true
        die "no event for $db.capture_end within 90s"
    fi
    sleep 0.5
done

say "reading the topics"
raw=$SVC_TMPDIR/raw
mkdir -p "$raw"
mapfile -t topics < <(kcat -b "$SLUICE_TEST_KAFKA" -L -J |
    python3 -c 'import json, sys
for t in json.load(sys.stdin)["topics"]:
    if t["topic"] == sys.argv[1] or t["topic"].startswith(sys.argv[1] + "."):
        print(t["topic"])' "$prefix")
((${#topics[@]})) || die "no $prefix.* topics"
for t in "${topics[@]}"; do
    kcat -b "$SLUICE_TEST_KAFKA" -C -t "$t" -o beginning -e -q -J >"$raw/$t.jsonl"
done

# The server's settings that shape the events, for capture-info.json.
server_version=$(sql -N -B -e 'SELECT VERSION()')
server_settings=$(sql -N -B -e "SHOW GLOBAL VARIABLES WHERE Variable_name IN ('binlog_format',
    'binlog_row_image', 'binlog_row_metadata', 'binlog_checksum', 'gtid_mode',
    'gtid_strict_mode', 'character_set_server', 'collation_server', 'time_zone',
    'binlog_row_value_options', 'binlog_transaction_compression')" | tr '\t' '=' | paste -sd' ')
grep -E 'WARN|ERROR' "$SLUICE_DBZ_LOG" | sed 's/^\[[^]]*\] //' >"$SVC_TMPDIR/warnings.log" || true
mkdir -p "$out_dir"

# Merge the topics into binlog order: by source.file, source.pos,
# source.row, then the envelope ts_ns (Debezium's clock when it handled the
# event: this orders the events of one rows event). A tombstone takes the
# position of the message before it in its topic.
DBZ_PREFIX=$prefix DBZ_KIND=$kind DBZ_SERVER_VERSION=$server_version \
    DBZ_SERVER_SETTINGS=$server_settings python3 - "$raw" "$out_dir" \
    "$SVC_TMPDIR/warnings.log" "$SLUICE_DBZ_DIR/connector.properties" <<'PY'
import datetime, glob, json, os, re, sys

raw_dir, out_dir, warnings_path, props_path = sys.argv[1:5]

def binlog_index(name):
    m = re.search(r"\.(\d+)$", name or "")
    return int(m.group(1)) if m else -1

events = []
for path in sorted(glob.glob(os.path.join(raw_dir, "*.jsonl"))):
    last = (-1, -1, -1, -1)
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = json.loads(line)
            value = m.get("payload")
            pos = last
            if value is not None:
                payload = json.loads(value).get("payload") or {}
                src = payload.get("source") or {}
                if src.get("file") is not None:
                    pos = (binlog_index(src["file"]), src.get("pos") or 0, src.get("row") or 0,
                           payload.get("ts_ns") or (payload.get("ts_ms") or 0) * 1000000)
            last = pos
            h = m.get("headers") or []
            events.append(((pos, m["offset"], m["topic"]), {
                "topic": m["topic"],
                "key": m.get("key"),
                "value": value,
                "headers": [[h[i], h[i + 1]] for i in range(0, len(h), 2)],
            }))
events.sort(key=lambda e: e[0])

with open(os.path.join(out_dir, "events.jsonl"), "w", encoding="utf-8") as f:
    for _, e in events:
        f.write(json.dumps(e, ensure_ascii=False) + "\n")

settings = []
with open(props_path, encoding="utf-8") as f:
    for line in f:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key = line.split("=", 1)[0]
        # Addresses and credentials of the throw-away servers are not settings.
        if key in ("database.hostname", "database.port", "database.password",
                   "schema.history.internal.kafka.bootstrap.servers"):
            continue
        settings.append(line)
with open(warnings_path, encoding="utf-8") as f:
    warnings = sorted({re.sub(r"\d{4}-\d\d-\d\dT[\d:.]+Z?", "<time>", l.strip())
                       for l in f if l.strip()})
info = {
    "debezium": os.environ["SLUICE_DBZ_PLUGIN_VERSION"],
    "kafka_connect": os.environ["SLUICE_DBZ_CONNECT_VERSION"],
    "server": os.environ["DBZ_KIND"],
    "server_version": os.environ["DBZ_SERVER_VERSION"],
    "server_settings": os.environ["DBZ_SERVER_SETTINGS"].split(" "),
    "captured_at": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    "topic_prefix": os.environ["DBZ_PREFIX"],
    "connector_settings": settings,
    "worker_settings": [
        "key.converter=org.apache.kafka.connect.json.JsonConverter",
        "value.converter=org.apache.kafka.connect.json.JsonConverter",
        "key.converter.schemas.enable=true", "value.converter.schemas.enable=true",
        "producer.acks=all", "JVM user.timezone=UTC"],
    "sql": ["schema.sql", "schema-%s.sql" % os.environ["DBZ_KIND"], "changes.sql",
            "changes-%s.sql" % os.environ["DBZ_KIND"], "INSERT INTO capture_end VALUES (1)"],
    "events": len(events),
    "worker_warnings": warnings,
}
with open(os.path.join(out_dir, "capture-info.json"), "w", encoding="utf-8") as f:
    json.dump(info, f, indent=2, ensure_ascii=False)
    f.write("\n")

counts = {}
for _, e in events:
    counts[e["topic"]] = counts.get(e["topic"], 0) + 1
for t, n in sorted(counts.items()):
    print(f"capture:   {t}: {n}", file=sys.stderr)
PY

say "wrote $(wc -l <"$out_dir/events.jsonl") events to $out_dir/events.jsonl in $(elapsed)s"
