#!/usr/bin/env bash
# Captures real pgoutput messages of transactions streamed while in progress
# into streaming-v2.hex (protocol version 2, streaming on) and the same WAL
# decoded with protocol version 1 into streaming-v1.hex, one message per line:
# "<lsn> <hex bytes>", for the decoder's and the stream's unit tests
# (tests/unit/postgres/test_pgoutput.c, test_pg_stream.c). README.md says
# what the transactions are. Not part of any test run: run it again only
# when the SQL below changes, and review the tests' expectations.
#
# pg_logical_slot_peek_binary_changes returns pgoutput's bytes as the
# walsender would put them in XLogData frames (pg_recvlogical cannot: it
# writes the plugin's output as text). logical_decoding_work_mem is 64kB,
# its minimum, so a few hundred rows make the server stream a transaction.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../../lib/services.sh
source "$here/../../lib/services.sh"
trap svc_stop_all EXIT
trap 'exit 130' INT TERM
svc_init
svc_pg_start
# The test server commits asynchronously; the SQL functions decode only WAL
# that is flushed.
export PGOPTIONS='-c synchronous_commit=on'

# 1 inserts ids 1-300 (streamed), while it is open another session commits
# id 5001; a subtransaction inserts 1001-1300 (streamed) and is rolled back;
# then 1 updates id 1, changes id 2 to 2001, inserts 2000 and commits. 2
# inserts 3001-3300 (streamed) and aborts. 3 inserts 4001 and commits.
psql -X -q -v ON_ERROR_STOP=1 <<'SQL'
CREATE TABLE items (id int PRIMARY KEY, v text);
CREATE PUBLICATION p FOR TABLE items;
SELECT FROM pg_create_logical_replication_slot('s', 'pgoutput');
BEGIN;
INSERT INTO items SELECT g, repeat('a', 100) FROM generate_series(1, 300) g;
\! psql -X -q -v ON_ERROR_STOP=1 -c "INSERT INTO items VALUES (5001, 'committed while 1 is open')"
SAVEPOINT sub;
INSERT INTO items SELECT g, repeat('b', 100) FROM generate_series(1001, 1300) g;
ROLLBACK TO SAVEPOINT sub;
UPDATE items SET v = 'updated' WHERE id = 1;
UPDATE items SET id = 2001 WHERE id = 2;
INSERT INTO items VALUES (2000, 'last of 1');
COMMIT;
BEGIN;
INSERT INTO items SELECT g, repeat('c', 100) FROM generate_series(3001, 3300) g;
ROLLBACK;
INSERT INTO items VALUES (4001, 'plain');
SQL

peek() {
    PGOPTIONS='-c logical_decoding_work_mem=64kB' psql -X -At -F ' ' -v ON_ERROR_STOP=1 -c \
        "SELECT lsn, encode(data, 'hex') FROM pg_logical_slot_peek_binary_changes('s', NULL, NULL, $1)"
}
peek "'proto_version', '2', 'publication_names', 'p', 'streaming', 'on'" >"$here/streaming-v2.hex"
peek "'proto_version', '1', 'publication_names', 'p'" >"$here/streaming-v1.hex"
for v in 2 1; do
    f=$here/streaming-v$v.hex
    echo "captured $(wc -l <"$f") messages into $f"
done
psql -X -At -c 'SELECT version()'
