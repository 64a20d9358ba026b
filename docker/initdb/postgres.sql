-- The quick start's PostgreSQL database: two tables with a few rows, a
-- publication made by the superuser, and a least-privilege user for sluice
-- (REPLICATION plus SELECT; it creates its replication slot itself).
CREATE TABLE customers (
    id serial PRIMARY KEY,
    email text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE orders (
    id serial PRIMARY KEY,
    customer_id int NOT NULL REFERENCES customers (id),
    total numeric(10, 2) NOT NULL,
    status text NOT NULL DEFAULT 'new'
);
INSERT INTO customers (email) VALUES ('ada@example.com'), ('grace@example.com');
INSERT INTO orders (customer_id, total) VALUES (1, 12.50), (2, 99.00);

CREATE PUBLICATION sluice_inventory FOR TABLE customers, orders;
CREATE ROLE cdc WITH LOGIN REPLICATION PASSWORD 'cdc-secret';
GRANT SELECT ON customers, orders TO cdc;
