#!/usr/bin/env bash
# Records what Debezium's PostgreSQL connector produces for schema.sql +
# changes.sql, as the golden reference for sluice's PostgreSQL events.
#
# Starts a private PostgreSQL and Kafka (tests/lib/services.sh) and a Kafka
# Connect standalone worker with Debezium (bench/lib/debezium.sh), runs the
# SQL, reads every topic back and writes, next to this script:
#   events.jsonl       one Kafka message per line, in WAL order:
#                      {"topic", "key", "value", "headers": [[name, value]...]}
#                      key and value are the message bytes as JSON text
#                      exactly as JsonConverter wrote them (null for a null
#                      key or a tombstone)
#   capture-info.json  versions, date and the connector settings used
# Everything is stopped and removed at the end.
#
# Usage: tests/golden/debezium/capture.sh [OUTPUT_DIR]
# Needs the network once (Maven Central) to resolve the Debezium jars.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../../.." && pwd)
out_dir=${1:-$here}
prefix=golden
tables=public.all_types,public.full_ident,public.no_pk,public.uniq_only,public.composite_pk,public.toasted,public.capture_end

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

psql -X -q -v ON_ERROR_STOP=1 -f "$here/schema.sql" >"$SVC_TMPDIR/schema.log" 2>&1 || {
    cat "$SVC_TMPDIR/schema.log" >&2; die "schema.sql failed"; }

connector_settings=(
    "table.include.list=$tables"
    "skipped.operations=none"
)
dbz_connect_start "$prefix" "${connector_settings[@]}"
dbz_wait_running "${SLUICE_DBZ_TIMEOUT:-90}"

say "running changes.sql"
psql -X -q -v ON_ERROR_STOP=1 -f "$here/changes.sql" >"$SVC_TMPDIR/changes.log" 2>&1 || {
    cat "$SVC_TMPDIR/changes.log" >&2; die "changes.sql failed"; }

# The capture_end insert is the last change. Once its event is in Kafka, so
# are all earlier ones: the task's single producer sends in order with one
# request in flight (Connect's default) and acks=all.
deadline=$(($(date +%s) + 60))
until [[ -n $(kcat -b "$SLUICE_TEST_KAFKA" -C -t "$prefix.public.capture_end" -o beginning \
        -c 1 -e -q -f '%o\n' 2>/dev/null) ]]; do
    if ! kill -0 "$SLUICE_DBZ_PID" 2>/dev/null || (($(date +%s) >= deadline)); then
        dbz_status >&2 || true
        tail -n 80 "$SLUICE_DBZ_LOG" >&2 || true
        die "no event for public.capture_end within 60s"
    fi
    sleep 0.5
done

say "reading the topics"
raw=$SVC_TMPDIR/raw
mkdir -p "$raw"
mapfile -t topics < <(kcat -b "$SLUICE_TEST_KAFKA" -L -J |
    python3 -c 'import json, sys
for t in json.load(sys.stdin)["topics"]:
    if t["topic"].startswith(sys.argv[1] + "."):
        print(t["topic"])' "$prefix")
((${#topics[@]})) || die "no $prefix.* topics"
for t in "${topics[@]}"; do
    kcat -b "$SLUICE_TEST_KAFKA" -C -t "$t" -o beginning -e -q -J >"$raw/$t.jsonl"
done

pg_version=$(psql -XtAc 'SHOW server_version')
mkdir -p "$out_dir"

# Merge the topics into WAL order: by source.lsn, then by the envelope ts_ns
# (Debezium's clock when it handled the change: this orders the events of a
# multi-table TRUNCATE, which share one LSN). A tombstone has neither and
# takes the position of the message before it in its topic.
DBZ_PREFIX=$prefix python3 - "$raw" "$out_dir" "$pg_version" "${connector_settings[@]}" <<'PY'
import datetime, glob, json, os, sys

raw_dir, out_dir, pg_version = sys.argv[1:4]
settings = sys.argv[4:]

events = []
for path in sorted(glob.glob(os.path.join(raw_dir, "*.jsonl"))):
    last = (-1, -1)
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = json.loads(line)
            value = m.get("payload")
            pos = last
            if value is not None:
                payload = json.loads(value).get("payload") or {}
                lsn = (payload.get("source") or {}).get("lsn")
                if lsn is not None:
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

with open(os.path.join(out_dir, "events.jsonl"), "w", encoding="utf-8") as f:
    for _, e in events:
        f.write(json.dumps(e, ensure_ascii=False) + "\n")

info = {
    "debezium": os.environ["SLUICE_DBZ_VERSION"],
    "kafka_connect": os.environ["SLUICE_DBZ_CONNECT_VERSION"],
    "postgresql": pg_version,
    "captured_at": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    "topic_prefix": os.environ["DBZ_PREFIX"],
    "connector_settings": [
        "plugin.name=pgoutput", "snapshot.mode=no_data",
        "publication.autocreate.mode=all_tables"] + settings,
    "worker_settings": [
        "key.converter=org.apache.kafka.connect.json.JsonConverter",
        "value.converter=org.apache.kafka.connect.json.JsonConverter",
        "key.converter.schemas.enable=true", "value.converter.schemas.enable=true",
        "producer.acks=all", "JVM user.timezone=UTC"],
    "events": len(events),
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
