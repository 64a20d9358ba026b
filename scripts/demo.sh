#!/usr/bin/env bash
# The sluice demo: builds sluice, starts a throwaway PostgreSQL on loopback,
# creates a small shop schema, runs sluice with the stdout sink, makes a few
# changes and shows the change events as they come. On a terminal it then
# keeps streaming, so you can make changes of your own, until Ctrl-C.
#
# Usage: scripts/demo.sh [--no-wait]
# Nothing is left behind: the database lives in a temporary directory.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
wait_for_user=1
[[ ${1:-} == --no-wait ]] && wait_for_user=0
[[ -t 0 && -t 1 ]] || wait_for_user=0

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "installing what is missing (Debian packages)"
SLUICE_SKIP_KAFKA=1 bash scripts/install-deps.sh

say "building sluice"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DSLUICE_TESTS=OFF >/dev/null
cmake --build build -j"$(nproc)" --target sluice 2>&1 | grep -E 'error|warning' || true
sluice=$repo/build/sluice
"$sluice" --version

say "starting a throwaway PostgreSQL with wal_level=logical"
# shellcheck source=../tests/lib/services.sh
source tests/lib/services.sh
sluice_pid=
cleanup() {
    [[ -n $sluice_pid ]] && kill -TERM "$sluice_pid" 2>/dev/null && wait "$sluice_pid" 2>/dev/null
    svc_stop_all
}
trap cleanup EXIT
trap 'exit 130' INT TERM
SLUICE_SVC_QUIET=1 svc_init
SLUICE_SVC_QUIET=1 svc_pg_start

psql -X -q -v ON_ERROR_STOP=1 <<'SQL'
CREATE SCHEMA shop;
CREATE TABLE shop.customers (
    id         serial PRIMARY KEY,
    email      text NOT NULL UNIQUE,
    name       text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE shop.orders (
    id          bigserial PRIMARY KEY,
    customer_id int NOT NULL REFERENCES shop.customers (id),
    total       numeric(10,2) NOT NULL,
    paid        boolean NOT NULL DEFAULT false,
    items       text[]
);
SQL

workdir=$SVC_TMPDIR/demo
mkdir -p "$workdir"
config=$workdir/shop.json
cat >"$config" <<JSON
{
  "name": "shop",
  "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
  "database.hostname": "127.0.0.1",
  "database.port": "$PGPORT",
  "database.user": "$PGUSER",
  "database.password": "\${PGPASSWORD}",
  "database.dbname": "$PGDATABASE",
  "topic.prefix": "demo",
  "table.include.list": "shop\\\\..*",
  "sink.type": "stdout",
  "schemas.enable": false,
  "snapshot.mode": "no_data",
  "offset.storage.file.filename": "$workdir/shop.offsets.json"
}
JSON

say "the connector file ($config)"
cat "$config"
"$sluice" check "$config"

say "running sluice: each line below is one Kafka message (topic, key, value)"
"$sluice" run "$config" 2>"$workdir/sluice.log" &
sluice_pid=$!
for _ in $(seq 100); do
    grep -q "streaming from slot" "$workdir/sluice.log" 2>/dev/null && break
    kill -0 "$sluice_pid" 2>/dev/null || { cat "$workdir/sluice.log"; exit 1; }
    sleep 0.1
done

psql -X -q -v ON_ERROR_STOP=1 <<'SQL'
INSERT INTO shop.customers (email, name) VALUES ('ada@example.com', 'Ada'), ('alan@example.com', 'Alan');
INSERT INTO shop.orders (customer_id, total, items) VALUES (1, 42.50, '{book,pen}');
UPDATE shop.orders SET paid = true WHERE id = 1;
DELETE FROM shop.orders WHERE id = 1;
SQL
sleep 1.5

if ((wait_for_user)); then
    say "your turn: sluice keeps streaming; in another terminal try"
    echo "  PGPASSWORD=$PGPASSWORD psql -h 127.0.0.1 -p $PGPORT -U $PGUSER $PGDATABASE \\"
    echo "    -c \"INSERT INTO shop.customers (email, name) VALUES ('you@example.com', 'You')\""
    echo "Ctrl-C stops sluice (it flushes and writes its checkpoint) and removes the database."
    wait "$sluice_pid" || true
    sluice_pid=
else
    kill -TERM "$sluice_pid"
    wait "$sluice_pid" || true
    sluice_pid=
    say "sluice stopped; its log:"
    cat "$workdir/sluice.log"
fi
