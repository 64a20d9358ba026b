#!/usr/bin/env bash
# Makes the binlog files next to this script, which the unit tests of the
# MySQL transport helpers read (tests/unit/mysql/test_my_event.c): real
# files written by the test servers of tests/lib/services.sh.
#
#   mysql97.000002   MySQL 9.7: FORMAT_DESCRIPTION, PREVIOUS_GTIDS in the
#                    untagged format, GTID, QUERY, TABLE_MAP, WRITE_ROWS_V2,
#                    XID, GTID_TAGGED, ..., ROTATE to mysql-bin.000003
#   mysql97.000003   the same with PREVIOUS_GTIDS in the tagged format (the
#                    server ran tagged GTIDs before), ROTATE to .000004
#   mariadb.000002   MariaDB 10.11: FORMAT_DESCRIPTION, GTID_LIST,
#                    BINLOG_CHECKPOINT, GTID, ANNOTATE_ROWS, TABLE_MAP,
#                    WRITE_ROWS_V1, XID, ROTATE to mariadb-bin.000003
#   expected.txt     what the tests must find in them: the PREVIOUS_GTIDS
#                    sets (the server's gtid_executed when each file began),
#                    the MariaDB GTID position, the server versions
#
# Usage: tests/data/mysql/capture.sh   (needs scripts/install-deps.sh)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../../.." && pwd)
# shellcheck source=../../lib/services.sh
source "$repo/tests/lib/services.sh"
trap svc_stop_all EXIT
trap 'exit 130' INT TERM
svc_init
svc_mariadb_start
svc_mysql_start

gtids() { svc_mysql_sql -N -B -e 'SELECT @@gtid_executed' | tr -d '\n'; }
svc_mysql_sql sluice_test <<'EOSQL'
CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20));
INSERT INTO t VALUES (1, 'one');
FLUSH BINARY LOGS;
EOSQL
prev2=$(gtids)
svc_mysql_sql sluice_test <<'EOSQL'
INSERT INTO t VALUES (2, 'two');
SET gtid_next = 'AUTOMATIC:sluice_tag';
INSERT INTO t VALUES (3, 'three');
SET gtid_next = 'AUTOMATIC';
FLUSH BINARY LOGS;
EOSQL
prev3=$(gtids)
svc_mysql_sql sluice_test <<'EOSQL'
INSERT INTO t VALUES (4, 'four');
SET gtid_next = 'AUTOMATIC:Sluice_Tag';
INSERT INTO t VALUES (5, 'five');
SET gtid_next = 'AUTOMATIC';
FLUSH BINARY LOGS;
EOSQL
svc_mariadb_sql sluice_test <<'EOSQL'
CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20));
INSERT INTO t VALUES (1, 'one');
FLUSH BINARY LOGS;
INSERT INTO t VALUES (3, 'three');
FLUSH BINARY LOGS;
EOSQL

cp "$SVC_TMPDIR/mysql/binlog/mysql-bin.000002" "$here/mysql97.000002"
cp "$SVC_TMPDIR/mysql/binlog/mysql-bin.000003" "$here/mysql97.000003"
cp "$SVC_TMPDIR/mariadb/binlog/mariadb-bin.000002" "$here/mariadb.000002"
{
    echo "mysql_version $SLUICE_TEST_MYSQL97_VERSION"
    echo "mysql_previous_gtids_000002 $prev2"
    echo "mysql_previous_gtids_000003 $prev3"
    echo "mysql_gtid_executed $(gtids)"
    echo "mariadb_version $SLUICE_TEST_MARIADB_VERSION"
    echo "mariadb_gtid_binlog_pos $(svc_mariadb_sql -N -B -e 'SELECT @@gtid_binlog_pos')"
} >"$here/expected.txt"
chmod 0644 "$here"/*.00000? "$here/expected.txt"
echo "capture: wrote $(cd "$here" && ls ./*.00000? expected.txt | tr '\n' ' ')"
