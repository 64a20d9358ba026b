-- MySQL 9 only (after schema.sql): VECTOR and a column with a spatial
-- reference system.
CREATE TABLE mysql_only (
    id INT PRIMARY KEY,
    vec VECTOR(3),
    p_srid POINT SRID 4326
);
