#!/usr/bin/env bash
# Records what Debezium's PostgreSQL connector produces for schema.sql +
# changes.sql, as the golden reference for sluice's PostgreSQL events.
#
# Starts a private PostgreSQL and Kafka (tests/lib/services.sh) and a Kafka
# Connect standalone worker with Debezium (bench/lib/debezium.sh), runs the
# SQL, reads every topic back and writes, next to this script:
# Each variant of variants.json (a connector name, which is also its topic
# prefix, with its settings) runs against a database of its own and writes
# its events file:
#   events*.jsonl      one Kafka message per line, in WAL order:
#                      {"topic", "key", "value", "headers": [[name, value]...]}
#                      key and value are the message bytes as JSON text
#                      exactly as JsonConverter wrote them (null for a null
#                      key or a tombstone)
#   capture-info.json  versions, date and the connector settings used
# Everything is stopped and removed at the end.
#
# Usage: tests/golden/debezium/capture.sh [OUTPUT_DIR]
#   SLUICE_GOLDEN_VARIANTS="golden modes" captures only those variants.
# Needs the network once (Maven Central) to resolve the Debezium jars.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../../.." && pwd)
out_dir=${1:-$here}
variants_file=$here/variants.json

say() { printf 'capture: %s\n' "$*" >&2; }
die() { printf 'capture: error: %s\n' "$*" >&2; exit 1; }

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

trap 'dbz_connect_stop; svc_stop_all' EXIT
trap 'exit 130' INT TERM
svc_init
svc_pg_start
svc_kafka_start
pg_version=$(psql -XtAc 'SHOW server_version')
mkdir -p "$out_dir"

# variants.json: each variant is one connector (its name is the topic
# prefix) with its own settings, run against a database of its own.
mapfile -t variant_names < <(python3 -c 'import json, sys
for v in json.load(open(sys.argv[1]))["variants"]:
    print(v["name"])' "$variants_file")
tables=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["tables"])' "$variants_file")

capture_variant() { # name
    local prefix=$1 db=golden_$1 events settings_text
    events=$(python3 -c 'import json, sys
print(next(v["events"] for v in json.load(open(sys.argv[1]))["variants"] if v["name"] == sys.argv[2]))' \
        "$variants_file" "$prefix")
    mapfile -t connector_settings < <(python3 -c 'import json, sys
v = next(v for v in json.load(open(sys.argv[1]))["variants"] if v["name"] == sys.argv[2])
for k, x in v["settings"].items():
    print("%s=%s" % (k, x))' "$variants_file" "$prefix")
    connector_settings=("table.include.list=$tables" "database.dbname=$db" "${connector_settings[@]}")
    say "variant $prefix: ${connector_settings[*]:2}"

    psql -X -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE $db" >/dev/null
    PGDATABASE=$db psql -X -q -v ON_ERROR_STOP=1 -f "$here/schema.sql" \
        >"$SVC_TMPDIR/schema-$prefix.log" 2>&1 || {
        cat "$SVC_TMPDIR/schema-$prefix.log" >&2; die "schema.sql failed"; }

    dbz_connect_start "$prefix" "${connector_settings[@]}"
    dbz_wait_running "${SLUICE_DBZ_TIMEOUT:-90}"

    say "running changes.sql"
    PGDATABASE=$db psql -X -q -v ON_ERROR_STOP=1 -f "$here/changes.sql" \
        >"$SVC_TMPDIR/changes-$prefix.log" 2>&1 || {
        cat "$SVC_TMPDIR/changes-$prefix.log" >&2; die "changes.sql failed"; }

    # The capture_end insert is the last change. Once its event is in Kafka, so
    # are all earlier ones: the task's single producer sends in order with one
    # request in flight (Connect's default) and acks=all.
    local deadline=$(($(date +%s) + 60))
    until [[ -n $(kcat -b "$SLUICE_TEST_KAFKA" -C -t "$prefix.public.capture_end" -o beginning \
            -c 1 -e -q -f '%o\n' 2>/dev/null) ]]; do
        if ! kill -0 "$SLUICE_DBZ_PID" 2>/dev/null || (($(date +%s) >= deadline)); then
            dbz_status >&2 || true
            tail -n 80 "$SLUICE_DBZ_LOG" >&2 || true
            die "no event for public.capture_end within 60s"
        fi
        sleep 0.5
    done
    # The transaction metadata of the last transaction follows its events.
    sleep 2
    dbz_connect_stop
    dbz_drop_slot

    say "reading the topics"
    local raw=$SVC_TMPDIR/raw-$prefix t
    mkdir -p "$raw"
    mapfile -t topics < <(kcat -b "$SLUICE_TEST_KAFKA" -L -J |
        python3 -c 'import json, sys
for t in json.load(sys.stdin)["topics"]:
    if t["topic"].startswith(sys.argv[1] + ".") or t["topic"] == "__debezium-heartbeat." + sys.argv[1]:
        print(t["topic"])' "$prefix")
    ((${#topics[@]})) || die "no $prefix.* topics"
    for t in "${topics[@]}"; do
        kcat -b "$SLUICE_TEST_KAFKA" -C -t "$t" -o beginning -e -q -J >"$raw/$t.jsonl"
    done

    # Merge the topics into WAL order: by source.lsn, then by the envelope ts_ns
    # (Debezium's clock when it handled the change: this orders the events of a
    # multi-table TRUNCATE, which share one LSN). A tombstone has neither and
    # takes the position of the message before it in its topic; transaction
    # metadata (no source block) takes the LSN of its id ("txid:lsn"). Of the
    # heartbeats, whose number depends on timing, the first is kept.
    DBZ_PREFIX=$prefix python3 - "$raw" "$out_dir" "$events" "$pg_version" "${connector_settings[@]}" <<'PY'
import datetime, glob, json, os, sys

raw_dir, out_dir, events_file, pg_version = sys.argv[1:5]
settings = sys.argv[5:]
prefix = os.environ["DBZ_PREFIX"]

events = []
for path in sorted(glob.glob(os.path.join(raw_dir, "*.jsonl"))):
    last = (-1, -1)
    with open(path, encoding="utf-8") as f:
        lines = f.readlines()
    if os.path.basename(path).startswith("__debezium-heartbeat."):
        lines = lines[:1]
    for line in lines:
        m = json.loads(line)
        value = m.get("payload")
        pos = last
        if value is not None:
            payload = json.loads(value).get("payload") or {}
            lsn = (payload.get("source") or {}).get("lsn")
            if lsn is None and isinstance(payload.get("id"), str) and ":" in payload["id"]:
                lsn = int(payload["id"].split(":")[1])
                # The END of a transaction and the BEGIN of the next share an LSN.
                pos = (lsn, 0 if payload.get("status") == "BEGIN" else -1)
            elif lsn is not None:
                pos = (lsn, payload.get("ts_ns") or payload.get("ts_ms", 0) * 1000000)
        last = pos
        h = m.get("headers") or []
        events.append(((pos, m["offset"], m["topic"]), {
            "topic": m["topic"],
            "key": m.get("key"),
            "value": value,
            "headers": [[h[i], h[i + 1]] for i in range(0, len(h), 2)],
        }))
events.sort(key=lambda e: e[0])

with open(os.path.join(out_dir, events_file), "w", encoding="utf-8") as f:
    for _, e in events:
        f.write(json.dumps(e, ensure_ascii=False) + "\n")

info_path = os.path.join(out_dir, "capture-info.json")
try:
    info = json.load(open(info_path, encoding="utf-8"))
except (OSError, ValueError):
    info = {}
info.update({
    "debezium": os.environ["SLUICE_DBZ_VERSION"],
    "kafka_connect": os.environ["SLUICE_DBZ_CONNECT_VERSION"],
    "postgresql": pg_version,
    "captured_at": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    "worker_settings": [
        "key.converter=org.apache.kafka.connect.json.JsonConverter",
        "value.converter=org.apache.kafka.connect.json.JsonConverter",
        "key.converter.schemas.enable=true", "value.converter.schemas.enable=true",
        "producer.acks=all", "JVM user.timezone=UTC"],
})
for k in ("topic_prefix", "connector_settings", "events"):
    info.pop(k, None)
variants = info.setdefault("variants", {})
variants[prefix] = {
    "events_file": events_file,
    "connector_settings": [
        "plugin.name=pgoutput", "snapshot.mode=no_data",
        "publication.autocreate.mode=all_tables"] + settings,
    "events": len(events),
}
with open(info_path, "w", encoding="utf-8") as f:
    json.dump(info, f, indent=2, ensure_ascii=False)
    f.write("\n")

counts = {}
for _, e in events:
    counts[e["topic"]] = counts.get(e["topic"], 0) + 1
for t, n in sorted(counts.items()):
    print(f"capture:   {t}: {n}", file=sys.stderr)
PY
    say "wrote $(wc -l <"$out_dir/$events") events to $out_dir/$events"
}

only=${SLUICE_GOLDEN_VARIANTS:-${variant_names[*]}}
for v in $only; do
    capture_variant "$v"
done

say "captured variants ($only) in $(elapsed)s"
