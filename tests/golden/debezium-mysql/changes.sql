-- The changes of the Debezium MySQL/MariaDB golden capture (capture.sh), run
-- on both servers while the connector streams, then changes-mysql.sql or
-- changes-mariadb.sql; capture.sh inserts into capture_end last. Every
-- event in events.jsonl comes from these statements.

-- UTC, a fixed clock for CURRENT_TIMESTAMP, and a mode that allows zero dates.
SET time_zone = '+00:00';
SET timestamp = 1700000000.123456;
SET sql_mode = 'NO_ENGINE_SUBSTITUTION';

-- ---- integers ---------------------------------------------------------------
INSERT INTO ints VALUES
    (1, -128, 0, -32768, 0, -8388608, 0, -2147483648, 0, -9223372036854775808, 0,
     FALSE, 1901, b'0', b'00000', b'000000000000', 0, -1, 0, b'000');
INSERT INTO ints VALUES
    (2, 127, 255, 32767, 65535, 8388607, 16777215, 2147483647, 4294967295,
     9223372036854775807, 18446744073709551615, TRUE, 2155, b'1', b'10101', b'100000000001',
     0xFFFFFFFFFFFFFFFF, 2147483647, 9223372036854775808, b'111');
INSERT INTO ints (id, i_def) VALUES (3, 0);
UPDATE ints SET t = NULL, tu = NULL, s = NULL, su = NULL, m = NULL, mu = NULL, i = NULL,
    iu = NULL, b = NULL, bu = NULL, flag = NULL, y = NULL, bit1 = NULL, bit5 = NULL,
    bit12 = NULL, bit64 = NULL, bu_def = NULL, bit_def = NULL WHERE id = 3;
INSERT INTO ints (id) VALUES (4);
INSERT INTO ints (id, t, y, bit64) VALUES (5, 7, 0, 0x8000000000000001);
UPDATE ints SET t = 1, b = -1, bu = 1, y = 2000 WHERE id = 1;
DELETE FROM ints WHERE id = 3;

-- ---- numbers ----------------------------------------------------------------
INSERT INTO nums VALUES
    (1, 12345678.91, '12345678901234567890123456789012345.123456789012345678901234567890',
     99999, 99999999999999999999999999999999999999, 99999.999, 3.14, 1234.567,
     1.7976931348623157e308, 0.1, 0.00, 2.5);
INSERT INTO nums VALUES
    (2, -0.01, '-0.000000000000000000000000000001', -99999,
     -99999999999999999999999999999999999999, 0, -3.4028234e38, -0.001,
     -2.2250738585072014e-308, -1e-10, -9999.99, -0.0);
INSERT INTO nums (id, d_10_2, f, d) VALUES (3, 0, 0, 0);
INSERT INTO nums (id) VALUES (4);
INSERT INTO nums (id, d_10_2, d_65_30, f, d) VALUES (5, 100, 1, 1e10, 12345678.9);
UPDATE nums SET d_10_2 = 1.5, d = 1e-7 WHERE id = 1;
DELETE FROM nums WHERE id = 4;

-- ---- dates and times --------------------------------------------------------
INSERT INTO temporal VALUES
    (1, '2024-02-29', '13:45:30', '13:45:30.5', '-838:59:59.000', '838:59:59.000000',
     '2024-02-29 13:45:30', '2024-02-29 13:45:30.12', '2024-02-29 13:45:30.123',
     '9999-12-31 23:59:59.999999', '2024-02-29 13:45:30', '1970-01-01 00:00:01.001',
     '2038-01-19 03:14:07.999999', 2024, '2024-01-01 00:00:00.5', '2000-01-01 00:00:00',
     '2000-01-01', '00:00:00');
INSERT INTO temporal VALUES
    (2, '1000-01-01', '-00:00:01', '-00:00:00.1', '-12:34:56.789', '00:00:00.000001',
     '1000-01-01 00:00:00', '1969-12-31 23:59:59.99', '1969-12-31 23:59:59.999',
     '1969-12-31 23:59:59.999999', '1970-01-01 00:00:01', '2001-09-09 01:46:40.123',
     '1999-12-31 23:59:59.000001', 1901, '1999-12-31 23:59:59.999', NULL, NULL, NULL);
-- Zero dates and zero parts, which NO_ZERO_DATE / NO_ZERO_IN_DATE would refuse.
INSERT INTO temporal (id, d, dt0, dt3, ts0, ts3, y, dt_def, d_def) VALUES
    (3, '0000-00-00', '0000-00-00 00:00:00', '2024-00-00 00:00:00.000',
     '0000-00-00 00:00:00', '0000-00-00 00:00:00.000', 0, '2024-05-00 10:00:00', '2024-00-10');
INSERT INTO temporal (id) VALUES (4);
INSERT INTO temporal (id, t6, dt6, ts6) VALUES
    (5, '-00:00:00.000001', '1970-01-01 00:00:00.000001', '1970-01-01 00:00:01.000001');
UPDATE temporal SET t0 = '-01:00:00', dt6 = '2024-12-31 23:59:59.5' WHERE id = 1;
DELETE FROM temporal WHERE id = 2;

-- ---- strings ----------------------------------------------------------------
INSERT INTO strings VALUES
    (1, 'ab', 'héllo wörld 😀 ∑', 'é', 'café Ünïcödé', 'plain', 0x00FF0102, 0x616200FF,
     'tiny', 'text with "quotes", \\backslash, tab\tand newline\nand U+2028  ',
     REPEAT('m', 300), REPEAT('long ', 100), 'latin1 ÿ €', 0x00, 0x0001FEFF,
     REPEAT(0xAB, 100), 0xCAFEBABE, 0x01020304, 0x00, 'medium', 'c', 'red,blue',
     'y', 'set', 'abc');
INSERT INTO strings VALUES
    (2, '', '', '', '', '', '', '', '', '', '', '', '', '', '', '', '', '', '', 'large',
     'a', '', '', '', '');
INSERT INTO strings (id, c_nn) VALUES (3, 'x');
UPDATE strings SET c = NULL WHERE id = 3;
INSERT INTO strings (id, c, vc, bn) VALUES (4, 'abcde', REPEAT('ü', 100), 0x61);
UPDATE strings SET e = 'large', st = 'green,red', vc = 'changed' WHERE id = 1;
DELETE FROM strings WHERE id = 2;

-- ---- JSON and spatial -------------------------------------------------------
INSERT INTO docs (id, j, g, p, ls, pg, mp, mls, mpg, gc) VALUES
    (1, '{"a": [1, 2.5, "x", null, true, false], "b": {"c": "d"}, "n": 12345678901234567890}',
     ST_GeomFromText('POINT(1 2)'), ST_GeomFromText('POINT(-1.5 2.25)'),
     ST_GeomFromText('LINESTRING(0 0, 1 1, 2 3)'),
     ST_GeomFromText('POLYGON((0 0, 4 0, 4 4, 0 4, 0 0), (1 1, 2 1, 2 2, 1 1))'),
     ST_GeomFromText('MULTIPOINT(0 0, 1 2)'),
     ST_GeomFromText('MULTILINESTRING((0 0, 1 1), (2 2, 3 3))'),
     ST_GeomFromText('MULTIPOLYGON(((0 0, 1 0, 1 1, 0 0)), ((2 2, 3 2, 3 3, 2 2)))'),
     ST_GeomFromText('GEOMETRYCOLLECTION(POINT(1 1), LINESTRING(0 0, 1 1))'));
INSERT INTO docs (id, j) VALUES (2, '[]');
INSERT INTO docs (id, j) VALUES (3, '"just a string"');
INSERT INTO docs (id, j) VALUES (4, '-12.5e3');
INSERT INTO docs (id, j) VALUES (5, 'null');
INSERT INTO docs (id, j) VALUES (6, '{"emoji": "😀", "esc": "a\\"b\\\\c\\n", "empty": {}, "nested": [[[]]]}');
INSERT INTO docs (id, j, g) VALUES (7, '{"big": 1.0e300, "neg": -9223372036854775808, "u": 18446744073709551615}',
     ST_GeomFromText('POLYGON((0 0, 1 0, 1 1, 0 0))'));
INSERT INTO docs (id) VALUES (8);
UPDATE docs SET j = JSON_SET(j, '$.b.c', 'e', '$.z', 1) WHERE id = 1;
UPDATE docs SET j = JSON_ARRAY_APPEND(j, '$', 'appended') WHERE id = 2;
DELETE FROM docs WHERE id = 3;

-- ---- keys ---------------------------------------------------------------
INSERT INTO pk_change VALUES (1, 'one');
UPDATE pk_change SET id = 10 WHERE id = 1;
UPDATE pk_change SET v = 'ten' WHERE id = 10;
DELETE FROM pk_change WHERE id = 10;

INSERT INTO composite_pk VALUES (1, 'x', 100);
UPDATE composite_pk SET v = 101 WHERE a = 1 AND b = 'x';
UPDATE composite_pk SET b = 'y' WHERE a = 1 AND b = 'x';
DELETE FROM composite_pk WHERE a = 1;

INSERT INTO no_pk VALUES (1, 'a'), (1, 'a');
UPDATE no_pk SET v = 'b' WHERE a = 1 LIMIT 1;
DELETE FROM no_pk WHERE v = 'a';

INSERT INTO uniq_only VALUES ('k1', 1);
UPDATE uniq_only SET code = 'k2' WHERE code = 'k1';
DELETE FROM uniq_only WHERE code = 'k2';

-- ---- transactions -----------------------------------------------------------
-- Several rows in one statement, several statements and tables in one transaction.
BEGIN;
INSERT INTO pk_change VALUES (20, 'a'), (21, 'b'), (22, 'c');
UPDATE pk_change SET v = CONCAT(v, '!') WHERE id >= 20;
INSERT INTO composite_pk VALUES (2, 'z', 200);
DELETE FROM pk_change WHERE id IN (20, 22);
COMMIT;
-- A rolled back transaction leaves nothing in the binlog.
BEGIN;
INSERT INTO pk_change VALUES (30, 'never');
ROLLBACK;

-- ---- schema changes while streaming ----------------------------------------
INSERT INTO evolving VALUES (1, 1, 'x');
ALTER TABLE evolving ADD COLUMN c INT DEFAULT 7, ADD COLUMN d VARCHAR(10) NOT NULL DEFAULT 'dd';
INSERT INTO evolving (id, a, b) VALUES (2, 2, 'y');
UPDATE evolving SET a = 11 WHERE id = 1;
ALTER TABLE evolving DROP COLUMN b;
INSERT INTO evolving VALUES (3, 3, 33, 'z');
ALTER TABLE evolving MODIFY COLUMN a BIGINT UNSIGNED;
INSERT INTO evolving VALUES (4, 18446744073709551615, 44, 'w');
ALTER TABLE evolving CHANGE COLUMN c c_renamed INT DEFAULT 8;
INSERT INTO evolving (id, a) VALUES (5, 5);
DELETE FROM evolving WHERE id = 2;

CREATE TABLE created_later (id INT PRIMARY KEY, v VARCHAR(10));
INSERT INTO created_later VALUES (1, 'new');
RENAME TABLE old_name TO new_name;
INSERT INTO new_name VALUES (1, 'renamed');
DROP TABLE created_later;

INSERT INTO trunc VALUES (1, 1), (2, 2);
TRUNCATE TABLE trunc;
INSERT INTO trunc VALUES (3, 3);
