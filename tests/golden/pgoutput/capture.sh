#!/usr/bin/env bash
# Captures real pgoutput protocol messages from PostgreSQL into stream.hex
# (one message per line: "<lsn> <hex bytes>"), for the decoder's unit test.
# Run it again only when the SQL below changes; the output is committed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../../lib/services.sh
source "$here/../../lib/services.sh"
trap svc_stop_all EXIT
trap 'exit 130' INT TERM
svc_init
svc_pg_start

psql -q -v ON_ERROR_STOP=1 <<'SQL'
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TABLE items (id int PRIMARY KEY, name text, price numeric(10,2), tags text[], m mood);
CREATE TABLE nokey (a int, b text);
CREATE TABLE full_rows (id int PRIMARY KEY, note text);
ALTER TABLE full_rows REPLICA IDENTITY FULL;
CREATE PUBLICATION cap FOR ALL TABLES;
SELECT pg_create_logical_replication_slot('cap', 'pgoutput');
INSERT INTO items VALUES (1, 'apple', 1.50, '{red,"big one",NULL}', 'happy'), (2, NULL, NULL, NULL, NULL);
UPDATE items SET name = 'pear' WHERE id = 1;
UPDATE items SET id = 10 WHERE id = 2;
DELETE FROM items WHERE id = 10;
INSERT INTO nokey VALUES (7, 'x');
INSERT INTO full_rows VALUES (1, repeat('long', 5000));
UPDATE full_rows SET note = 'short' WHERE id = 1;
DELETE FROM full_rows WHERE id = 1;
ALTER TABLE items ADD COLUMN extra int;
INSERT INTO items (id, extra) VALUES (3, 42);
TRUNCATE items, nokey;
SQL
psql -At -F ' ' -c "SELECT lsn, encode(data, 'hex') FROM pg_logical_slot_get_binary_changes('cap', NULL, NULL, 'proto_version', '1', 'publication_names', 'cap')" > "$here/stream.hex"
echo "captured $(wc -l < "$here/stream.hex") messages into $here/stream.hex"
