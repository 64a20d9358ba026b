-- MariaDB only (after schema.sql): its own types. INET4 and INET6 are left
-- out: Debezium's MariaDB connector 3.5.0 cannot parse them ("DDL statement
-- couldn't be parsed" for a CREATE TABLE with an inet4 or inet6 column) and
-- fails as soon as such a table is in a captured database.
CREATE TABLE mariadb_only (
    id INT PRIMARY KEY,
    u UUID
);
