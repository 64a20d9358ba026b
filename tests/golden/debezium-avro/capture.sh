#!/usr/bin/env bash
# Records what Debezium's PostgreSQL connector writes with an Avro converter
# for the SQL of tests/golden/debezium (schema.sql + changes.sql): the golden
# reference for sluice's Avro events.
#
# Starts a private PostgreSQL, Kafka and schema registry (Apicurio Registry,
# tests/lib/services.sh) and a Kafka Connect standalone worker with Debezium
# and Apicurio's Avro converter in Confluent's framing (bench/lib/debezium.sh),
# runs the SQL, and writes next to this script:
#   events.jsonl       every message, decoded by tests/lib/avro_topics.py
#                      (fastavro, each writer schema fetched by its id)
#   schemas.json       every subject's registered versions, as registered
#   capture-info.json  versions, date and settings
# Everything is stopped and removed at the end.
#
# Usage: tests/golden/debezium-avro/capture.sh [OUTPUT_DIR]
# Needs the network once (Maven Central) to resolve the jars.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../../.." && pwd)
sql=$repo/tests/golden/debezium
out_dir=${1:-$here}
prefix=golden
tables=public.all_types,public.full_ident,public.no_pk,public.uniq_only,public.composite_pk,public.toasted,public.capture_end

say() { printf 'capture: %s\n' "$*" >&2; }
die() { printf 'capture: error: %s\n' "$*" >&2; exit 1; }

# shellcheck source=SCRIPTDIR/../../lib/services.sh
source "$repo/tests/lib/services.sh"
# shellcheck source=SCRIPTDIR/../../../bench/lib/debezium.sh
source "$repo/bench/lib/debezium.sh"

export SLUICE_DBZ_PRODUCER_ACKS=all

bash "$repo/scripts/install-deps.sh"
dbz_install
dbz_install_avro

trap 'dbz_connect_stop; svc_stop_all' EXIT
trap 'exit 130' INT TERM
svc_init
svc_pg_start
svc_kafka_start
svc_registry_start

# Debezium's converter speaks Apicurio's own API; sluice and the reader use
# the Confluent-compatible one of the same registry.
native_url=${SLUICE_TEST_REGISTRY%/apis/ccompat/v7}/apis/registry/v2
SLUICE_DBZ_WORKER_EXTRA=$(dbz_avro_worker_settings "$native_url")
export SLUICE_DBZ_WORKER_EXTRA

psql -X -q -v ON_ERROR_STOP=1 -f "$sql/schema.sql" >"$SVC_TMPDIR/schema.log" 2>&1 || {
    cat "$SVC_TMPDIR/schema.log" >&2; die "schema.sql failed"; }

connector_settings=(
    "table.include.list=$tables"
    "skipped.operations=none"
)
dbz_connect_start "$prefix" "${connector_settings[@]}"
dbz_wait_running "${SLUICE_DBZ_TIMEOUT:-90}"

say "running changes.sql"
psql -X -q -v ON_ERROR_STOP=1 -f "$sql/changes.sql" >"$SVC_TMPDIR/changes.log" 2>&1 || {
    cat "$SVC_TMPDIR/changes.log" >&2; die "changes.sql failed"; }

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

mkdir -p "$out_dir"
say "reading the topics"
"$SLUICE_TEST_PYTHON" "$repo/tests/lib/avro_topics.py" --bootstrap "$SLUICE_TEST_KAFKA" \
    --registry "$SLUICE_TEST_REGISTRY" --prefix "$prefix" \
    --out "$out_dir/events.jsonl" --schemas "$out_dir/schemas.json"

pg_version=$(psql -XtAc 'SHOW server_version')
"$SLUICE_TEST_PYTHON" - "$out_dir" "$pg_version" "$prefix" "${connector_settings[@]}" <<'PY'
import datetime, json, os, sys
out_dir, pg_version, prefix = sys.argv[1:4]
info = {
    "debezium": os.environ["SLUICE_DBZ_VERSION"],
    "kafka_connect": os.environ["SLUICE_DBZ_CONNECT_VERSION"],
    "avro_converter": "io.apicurio:apicurio-registry-utils-converter:2.6.13.Final",
    "registry": "Apicurio Registry 3.0.9 (in-memory)",
    "postgresql": pg_version,
    "captured_at": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    "topic_prefix": prefix,
    "connector_settings": ["plugin.name=pgoutput", "snapshot.mode=no_data",
                           "publication.autocreate.mode=all_tables"] + sys.argv[4:],
    "worker_settings": os.environ["SLUICE_DBZ_WORKER_EXTRA"].split("\n") + [
        "producer.acks=all", "JVM user.timezone=UTC"],
    "events": sum(1 for _ in open(os.path.join(out_dir, "events.jsonl"))),
}
with open(os.path.join(out_dir, "capture-info.json"), "w") as f:
    json.dump(info, f, indent=2)
    f.write("\n")
PY
say "wrote $(wc -l <"$out_dir/events.jsonl") events to $out_dir"
