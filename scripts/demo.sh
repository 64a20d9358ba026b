#!/usr/bin/env bash
# The sluice demo: builds sluice, starts a throwaway PostgreSQL and Kafka
# broker on loopback, creates a small shop schema with a few rows, runs sluice
# (initial snapshot, then streaming into Kafka), makes a few changes and shows
# the Kafka topics' messages, read back with kcat. On a terminal it then keeps
# streaming, so you can make changes of your own, until Ctrl-C.
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
SLUICE_SKIP_MYSQL=1 SLUICE_SKIP_TOXIPROXY=1 SLUICE_SKIP_REGISTRY=1 bash scripts/install-deps.sh

say "building sluice"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DSLUICE_TESTS=OFF >/dev/null
cmake --build build -j"$(nproc)" --target sluice 2>&1 | grep -E 'error|warning' || true
sluice=$repo/build/sluice
"$sluice" --version

say "starting a throwaway PostgreSQL (wal_level=logical) and Kafka broker"
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
SLUICE_SVC_QUIET=1 svc_kafka_start

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
-- Rows that exist before sluice starts: the initial snapshot reads them.
INSERT INTO shop.customers (email, name) VALUES ('ada@example.com', 'Ada'), ('alan@example.com', 'Alan');
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
  "kafka.bootstrap.servers": "$SLUICE_TEST_KAFKA",
  "value.converter.schemas.enable": false,
  "key.converter.schemas.enable": false,
  "offset.storage.file.filename": "$workdir/shop.offsets.json"
}
JSON

say "the connector file ($config)"
cat "$config"
"$sluice" check "$config"

say "running sluice: initial snapshot of the existing rows, then streaming into Kafka"
"$sluice" run "$config" 2>"$workdir/sluice.log" &
sluice_pid=$!
for _ in $(seq 300); do
    grep -q "streaming from slot" "$workdir/sluice.log" 2>/dev/null && break
    kill -0 "$sluice_pid" 2>/dev/null || { cat "$workdir/sluice.log"; exit 1; }
    sleep 0.1
done

psql -X -q -v ON_ERROR_STOP=1 <<'SQL'
INSERT INTO shop.customers (email, name) VALUES ('grace@example.com', 'Grace');
INSERT INTO shop.orders (customer_id, total, items) VALUES (1, 42.50, '{book,pen}');
UPDATE shop.orders SET paid = true WHERE id = 1;
DELETE FROM shop.orders WHERE id = 1;
SQL
sleep 2

# show_topics: every message of the demo's topics so far, one per line.
show_topics() {
    local t
    for t in demo.shop.customers demo.shop.orders; do
        kcat -C -b "$SLUICE_TEST_KAFKA" -t "$t" -o beginning -e -q \
            -f 'topic %t  key %k\n  value %s\n' 2>/dev/null || true
    done
}
say "the Kafka topics (read with kcat): op r = snapshot read, c/u/d = changes, empty value = tombstone"
show_topics

if ((wait_for_user)); then
    say "your turn: sluice keeps streaming; in another terminal try"
    echo "  PGPASSWORD=$PGPASSWORD psql -h 127.0.0.1 -p $PGPORT -U $PGUSER $PGDATABASE \\"
    echo "    -c \"INSERT INTO shop.customers (email, name) VALUES ('you@example.com', 'You')\""
    echo "and watch the topic with"
    echo "  kcat -C -b $SLUICE_TEST_KAFKA -t demo.shop.customers -f '%k %s\\n'"
    echo "Ctrl-C stops sluice (it flushes and writes its checkpoint) and removes the database and broker."
    wait "$sluice_pid" || true
    sluice_pid=
else
    kill -TERM "$sluice_pid"
    wait "$sluice_pid" || true
    sluice_pid=
    say "sluice stopped; its log:"
    cat "$workdir/sluice.log"
fi
