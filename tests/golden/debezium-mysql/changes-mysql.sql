-- MySQL 9 only (after changes.sql).
SET time_zone = '+00:00';
SET timestamp = 1700000000.123456;
INSERT INTO mysql_only VALUES
    (1, STRING_TO_VECTOR('[1.5, -2, 3.25]'), ST_GeomFromText('POINT(48.85 2.35)', 4326));
INSERT INTO mysql_only VALUES (2, STRING_TO_VECTOR('[0, 0, 0]'), NULL);
INSERT INTO mysql_only (id) VALUES (3);
UPDATE mysql_only SET vec = STRING_TO_VECTOR('[1e-3, 1e10, -0]') WHERE id = 2;
-- A JSON update that binlog_row_value_options=PARTIAL_JSON logs as a diff
-- (PARTIAL_UPDATE_ROWS); the session variable is enough.
SET SESSION binlog_row_value_options = PARTIAL_JSON;
UPDATE docs SET j = JSON_REPLACE(j, '$.n', 7) WHERE id = 1;
SET SESSION binlog_row_value_options = '';
