-- MariaDB only (after changes.sql).
SET time_zone = '+00:00';
SET timestamp = 1700000000.123456;
INSERT INTO mariadb_only VALUES (1, '123e4567-e89b-12d3-a456-426614174000');
INSERT INTO mariadb_only VALUES (2, NULL);
INSERT INTO mariadb_only VALUES (3, 'ffffffff-ffff-ffff-ffff-ffffffffffff');
DELETE FROM mariadb_only WHERE id = 2;
