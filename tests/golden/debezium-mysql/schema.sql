-- Tables for the Debezium MySQL/MariaDB golden capture (capture.sh). Run on
-- both servers, in the test database, before the connector starts; then
-- schema-mysql.sql or schema-mariadb.sql for what only one server has.
-- Every column type of the binlog row format and each kind of key.

-- Integers of every width, signed and unsigned, BOOLEAN, YEAR and BIT.
CREATE TABLE ints (
    id INT PRIMARY KEY,
    t TINYINT,
    tu TINYINT UNSIGNED,
    s SMALLINT,
    su SMALLINT UNSIGNED,
    m MEDIUMINT,
    mu MEDIUMINT UNSIGNED,
    i INT,
    iu INT UNSIGNED,
    b BIGINT,
    bu BIGINT UNSIGNED,
    flag BOOLEAN,
    y YEAR,
    bit1 BIT(1),
    bit5 BIT(5),
    bit12 BIT(12),
    bit64 BIT(64),
    i_def INT NOT NULL DEFAULT 42,
    bu_def BIGINT UNSIGNED DEFAULT 18446744073709551615,
    bit_def BIT(3) DEFAULT b'101'
);

-- Exact and approximate numbers.
CREATE TABLE nums (
    id INT PRIMARY KEY,
    d_10_2 DECIMAL(10, 2),
    d_65_30 DECIMAL(65, 30),
    d_5_0 DECIMAL(5, 0),
    d_38_0 DECIMAL(38, 0),
    d_u DECIMAL(8, 3) UNSIGNED,
    f FLOAT,
    f_7_3 FLOAT(7, 3),
    d DOUBLE,
    r REAL,
    d_def DECIMAL(6, 2) DEFAULT 12.50,
    f_def DOUBLE NOT NULL DEFAULT 1.5
);

-- Dates and times with every fractional precision.
CREATE TABLE temporal (
    id INT PRIMARY KEY,
    d DATE,
    t0 TIME,
    t1 TIME(1),
    t3 TIME(3),
    t6 TIME(6),
    dt0 DATETIME,
    dt2 DATETIME(2),
    dt3 DATETIME(3),
    dt6 DATETIME(6),
    ts0 TIMESTAMP NULL,
    ts3 TIMESTAMP(3) NULL,
    ts6 TIMESTAMP(6) NULL,
    y YEAR,
    ts_now TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
    dt_def DATETIME DEFAULT '2020-02-02 02:02:02',
    d_def DATE DEFAULT '1999-12-31',
    t_def TIME(2) DEFAULT '-01:02:03.45'
);

-- Character and binary strings in three character sets, ENUM and SET.
CREATE TABLE strings (
    id INT PRIMARY KEY,
    c CHAR(5) CHARACTER SET utf8mb4,
    vc VARCHAR(100) CHARACTER SET utf8mb4,
    c_latin1 CHAR(5) CHARACTER SET latin1,
    vc_latin1 VARCHAR(50) CHARACTER SET latin1,
    vc_ascii VARCHAR(10) CHARACTER SET ascii,
    c_binary CHAR(4) CHARACTER SET binary,
    vc_binary VARCHAR(8) CHARACTER SET binary,
    tt TINYTEXT,
    tx TEXT,
    mt MEDIUMTEXT,
    lt LONGTEXT,
    tx_latin1 TEXT CHARACTER SET latin1,
    tb TINYBLOB,
    bl BLOB,
    mb MEDIUMBLOB,
    lb LONGBLOB,
    bn BINARY(4),
    vb VARBINARY(20),
    e ENUM('small', 'medium', 'large'),
    e_def ENUM('a', 'b', 'c') NOT NULL DEFAULT 'b',
    st SET('red', 'green', 'blue'),
    st_def SET('x', 'y', 'z') DEFAULT 'x,z',
    vc_def VARCHAR(20) DEFAULT 'hello',
    c_nn CHAR(3) NOT NULL DEFAULT ''
) DEFAULT CHARACTER SET utf8mb4;

-- JSON and spatial types.
CREATE TABLE docs (
    id INT PRIMARY KEY,
    j JSON,
    g GEOMETRY,
    p POINT,
    ls LINESTRING,
    pg POLYGON,
    mp MULTIPOINT,
    mls MULTILINESTRING,
    mpg MULTIPOLYGON,
    gc GEOMETRYCOLLECTION
);

-- Keys: a primary key that changes, a composite key in another order than
-- the columns, no key at all, only a unique key.
CREATE TABLE pk_change (id INT PRIMARY KEY, v VARCHAR(20));
CREATE TABLE composite_pk (a INT NOT NULL, b VARCHAR(10) NOT NULL, v INT, PRIMARY KEY (b, a));
CREATE TABLE no_pk (a INT, v VARCHAR(10));
CREATE TABLE uniq_only (code VARCHAR(10) NOT NULL, v INT, UNIQUE KEY (code));

-- Changes shape while streaming.
CREATE TABLE evolving (id INT PRIMARY KEY, a INT, b VARCHAR(10));
CREATE TABLE trunc (id INT PRIMARY KEY, v INT);
CREATE TABLE old_name (id INT PRIMARY KEY, v VARCHAR(10));

CREATE TABLE capture_end (id INT PRIMARY KEY);
