-- Tables for the Debezium golden capture. capture.sh runs this file once,
-- before the connector starts (snapshot.mode=no_data, so it produces no
-- events); changes.sql then makes every event in events.jsonl. sluice's
-- integration test replays both files the same way.
--
-- Run with psql -v ON_ERROR_STOP=1, outside a single transaction (the enum
-- value added below cannot be used in the transaction that adds it).

-- 'meh' is added after the others but sorts before 'ok', so the enum's
-- pg_enum.enumsortorder order (sad, meh, ok, happy) differs from OID order.
CREATE TYPE public.mood AS ENUM ('sad', 'ok', 'happy');
ALTER TYPE public.mood ADD VALUE 'meh' BEFORE 'ok';

-- One column per supported type; REPLICA IDENTITY DEFAULT (the primary key).
-- Columns with literal defaults check the schema "default" in the events;
-- c_created has a function default, c_box a type Debezium does not map.
CREATE TABLE public.all_types (
    id              int4 PRIMARY KEY,
    c_bool          bool,
    c_bool_nn       bool NOT NULL DEFAULT true,
    c_int2          int2 DEFAULT -7,
    c_int4          int4 NOT NULL,
    c_int8          int8 NOT NULL DEFAULT 9000000000,
    c_float4        float4,
    c_float8        float8 DEFAULT 2.5,
    c_numeric_10_2  numeric(10,2) DEFAULT 1.50,
    c_numeric_5     numeric(5),
    c_numeric       numeric DEFAULT 3.14,
    c_text          text,
    c_text_nn       text NOT NULL,
    c_varchar       varchar(20) DEFAULT 'dflt',
    c_char          char(5),
    c_bytea         bytea,
    c_date          date DEFAULT '2000-01-01',
    c_time          time DEFAULT '12:00:00',
    c_time3         time(3),
    c_timetz        timetz,
    c_timestamp     timestamp,
    c_timestamp3    timestamp(3),
    c_timestamptz   timestamptz DEFAULT '2020-02-02 02:02:02.5+00',
    c_timestamptz0  timestamptz(0),
    c_created       timestamptz NOT NULL DEFAULT now(),
    c_interval      interval DEFAULT '1 day',
    c_uuid          uuid,
    c_json          json DEFAULT '{"d": 1}',
    c_jsonb         jsonb,
    c_enum          public.mood DEFAULT 'ok',
    c_int4_arr      int4[],
    c_text_arr      text[],
    c_enum_arr      public.mood[],
    c_inet          inet,
    c_money         money,
    c_xml           xml,
    c_int4range     int4range,
    c_point         point,
    c_box           box,
    c_nullable_dflt text DEFAULT 'fallback'
);
COMMENT ON COLUMN public.all_types.c_text IS 'free-form text';

-- Full before images on update and delete.
CREATE TABLE public.full_ident (
    id   int4 PRIMARY KEY,
    name text NOT NULL,
    qty  int4
);
ALTER TABLE public.full_ident REPLICA IDENTITY FULL;

-- No primary key and no unique index: the Kafka key is null. FULL identity
-- is what lets PostgreSQL publish its updates and deletes at all.
CREATE TABLE public.no_pk (
    a int4,
    b text
);
ALTER TABLE public.no_pk REPLICA IDENTITY FULL;

-- No primary key, but a unique index used as the replica identity.
CREATE TABLE public.uniq_only (
    code text NOT NULL,
    v    int4
);
CREATE UNIQUE INDEX uniq_only_code ON public.uniq_only (code);
ALTER TABLE public.uniq_only REPLICA IDENTITY USING INDEX uniq_only_code;

-- Key columns in a different order than the table's columns.
CREATE TABLE public.composite_pk (
    b text,
    a int4,
    v text,
    PRIMARY KEY (a, b)
);

-- EXTERNAL storage keeps values out of line without compression, so every
-- big value below is a TOAST pointer that an update of `counter` leaves
-- unchanged (pgoutput then sends it as "unchanged toast").
CREATE TABLE public.toasted (
    id        int4 PRIMARY KEY,
    counter   int4 NOT NULL,
    big_text  text,
    big_bytea bytea,
    big_arr   text[],
    big_jsonb jsonb
);
ALTER TABLE public.toasted
    ALTER COLUMN big_text SET STORAGE EXTERNAL,
    ALTER COLUMN big_bytea SET STORAGE EXTERNAL,
    ALTER COLUMN big_arr SET STORAGE EXTERNAL,
    ALTER COLUMN big_jsonb SET STORAGE EXTERNAL;

-- The last statement of changes.sql inserts here; its event tells the
-- capture that everything before it has been produced.
CREATE TABLE public.capture_end (
    id int4 PRIMARY KEY
);
