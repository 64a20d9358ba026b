-- The quick start's MariaDB database and a user with the rights a binlog
-- reader needs.
CREATE TABLE shop.products (
    id int AUTO_INCREMENT PRIMARY KEY,
    name varchar(200) NOT NULL,
    price decimal(10, 2) NOT NULL
);
INSERT INTO shop.products (name, price) VALUES ('kettle', 24.90), ('teapot', 18.00);

CREATE USER 'cdc'@'%' IDENTIFIED BY 'cdc-secret';
GRANT SELECT, RELOAD, SHOW DATABASES, REPLICATION SLAVE, REPLICATION CLIENT, BINLOG MONITOR
    ON *.* TO 'cdc'@'%';
