#!/usr/bin/env bash
# Writes mysql97-debezium-golden.000002 and mariadb1011-debezium-golden.000002:
# the binlogs MySQL 9.7 and MariaDB 10.11 (as tests/lib/services.sh starts
# them: ROW, FULL image, FULL metadata, CRC32, GTIDs) write for the SQL of the
# Debezium golden capture (tests/golden/debezium-mysql/: schema.sql,
# schema-KIND.sql, changes.sql, changes-KIND.sql, then the capture_end row).
# Debezium's events for the same SQL are tests/golden/debezium-mysql/ and
# debezium-mariadb/events.jsonl; compare-debezium.py checks sluice's decoded
# rows against them.
#
# Usage: tests/golden/mysql-binlogs/capture.sh   (needs scripts/install-deps.sh)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../../.." && pwd)
sqldir=$repo/tests/golden/debezium-mysql
# shellcheck source=../../lib/services.sh
source "$repo/tests/lib/services.sh"
trap svc_stop_all EXIT
trap 'exit 130' INT TERM
svc_init
for kind in mysql mariadb; do
    if [[ $kind == mysql ]]; then
        svc_mysql_start
        sql() { svc_mysql_sql --default-character-set=utf8mb4 "$SLUICE_TEST_MYSQL97_DB" "$@"; }
        out=$here/mysql97-debezium-golden.000002
    else
        svc_mariadb_start
        sql() { svc_mariadb_sql --default-character-set=utf8mb4 "$SLUICE_TEST_MARIADB_DB" "$@"; }
        out=$here/mariadb1011-debezium-golden.000002
    fi
    # The test SQL alone in one file: rotate before it and after it.
    sql -e 'FLUSH BINARY LOGS'
    file=$(sql -N -B -e 'SHOW BINARY LOGS' | tail -1 | cut -f1)
    for f in schema.sql "schema-$kind.sql" changes.sql "changes-$kind.sql"; do
        sql <"$sqldir/$f" >/dev/null
    done
    sql -e 'INSERT INTO capture_end VALUES (1)'
    sql -e 'FLUSH BINARY LOGS'
    path=$(find "$SVC_TMPDIR" -name "$file" | head -1)
    [[ -n $path ]] || { echo "capture: $file not found" >&2; exit 1; }
    cp "$path" "$out"
    chmod 644 "$out"
    echo "capture: $out ($(stat -c %s "$out") bytes)"
done
