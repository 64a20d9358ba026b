-- Tables for the Debezium golden capture. capture.sh runs this file once,
-- before the connector starts (snapshot.mode=no_data, so it produces no
-- events); changes.sql then makes every event in events.jsonl. sluice's
-- integration test replays both files the same way.
--
-- Run with psql -v ON_ERROR_STOP=1, outside a single transaction (the enum
-- value added below cannot be used in the transaction that adds it).

-- Extensions from Debian's packages (postgresql-15 contrib and
-- postgresql-15-postgis-3). pgvector has no Debian 12 package: the types
-- vector, halfvec and sparsevec below stand in for it, with the extension's
-- names and text I/O (textin/textout), so both Debezium and sluice map them
-- by name exactly as they would map the extension's types.
CREATE EXTENSION IF NOT EXISTS hstore;
CREATE EXTENSION IF NOT EXISTS ltree;
CREATE EXTENSION IF NOT EXISTS citext;
CREATE EXTENSION IF NOT EXISTS postgis;

CREATE TYPE public.vector;
CREATE FUNCTION public.vector_in(cstring) RETURNS public.vector
    AS 'textin' LANGUAGE internal IMMUTABLE STRICT;
CREATE FUNCTION public.vector_out(public.vector) RETURNS cstring
    AS 'textout' LANGUAGE internal IMMUTABLE STRICT;
CREATE TYPE public.vector (INPUT = public.vector_in, OUTPUT = public.vector_out, LIKE = text);
CREATE TYPE public.halfvec;
CREATE FUNCTION public.halfvec_in(cstring) RETURNS public.halfvec
    AS 'textin' LANGUAGE internal IMMUTABLE STRICT;
CREATE FUNCTION public.halfvec_out(public.halfvec) RETURNS cstring
    AS 'textout' LANGUAGE internal IMMUTABLE STRICT;
CREATE TYPE public.halfvec (INPUT = public.halfvec_in, OUTPUT = public.halfvec_out, LIKE = text);
CREATE TYPE public.sparsevec;
CREATE FUNCTION public.sparsevec_in(cstring) RETURNS public.sparsevec
    AS 'textin' LANGUAGE internal IMMUTABLE STRICT;
CREATE FUNCTION public.sparsevec_out(public.sparsevec) RETURNS cstring
    AS 'textout' LANGUAGE internal IMMUTABLE STRICT;
CREATE TYPE public.sparsevec (INPUT = public.sparsevec_in, OUTPUT = public.sparsevec_out,
                              LIKE = text);

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

-- Domains over several kinds of types, a domain over a domain, an array
-- domain, and an array of a domain (which Debezium leaves out). Not here: a
-- domain over an enum, which stops Debezium 3.6.1 at start (its type
-- registry reads a domain of category 'E' as an enum and finds no labels).
CREATE DOMAIN public.posint AS int4 CHECK (VALUE > 0);
CREATE DOMAIN public.amount AS numeric(12,3);
CREATE DOMAIN public.short_text AS varchar(10);
CREATE DOMAIN public.day AS date;
CREATE DOMAIN public.stamp AS timestamptz(3);
CREATE DOMAIN public.int_list AS int4[];
CREATE DOMAIN public.nested AS public.posint;

-- Extension types, the remaining built-in types, domains, multi-dimensional
-- arrays and ranges.
CREATE TABLE public.ext_types (
    id             int4 PRIMARY KEY,
    c_hstore       hstore,
    c_ltree        ltree,
    c_citext       citext,
    c_geometry     geometry,
    c_geom_point   geometry(Point, 4326),
    c_geography    geography(Point, 4326),
    c_vector       public.vector,
    c_halfvec      public.halfvec,
    c_sparsevec    public.sparsevec,
    c_hstore_arr   hstore[],
    c_ltree_arr    ltree[],
    c_citext_arr   citext[],
    c_tsvector     tsvector,
    c_macaddr      macaddr,
    c_macaddr8     macaddr8,
    c_cidr         cidr,
    c_oid          oid,
    c_name         name,
    c_bit1         bit(1),
    c_bit8         bit(8),
    c_varbit       varbit(16),
    c_char1        "char",
    c_pglsn        pg_lsn,
    c_int8range    int8range,
    c_numrange     numrange,
    c_tsrange      tsrange,
    c_tstzrange    tstzrange,
    c_daterange    daterange,
    c_multirange   int4multirange,
    c_posint       public.posint,
    c_amount       public.amount,
    c_short_text   public.short_text,
    c_day          public.day,
    c_stamp        public.stamp,
    c_int_list     public.int_list,
    c_nested       public.nested,
    c_posint_arr   public.posint[],
    c_int4_2d      int4[],
    c_text_2d      text[],
    c_line         line,
    c_lseg         lseg,
    c_path         path,
    c_polygon      polygon,
    c_circle       circle
);

-- Special values inside arrays.
CREATE TABLE public.array_specials (
    id            int4 PRIMARY KEY,
    c_date_arr    date[],
    c_tstz_arr    timestamptz[],
    c_ts_arr      timestamp[],
    c_time_arr    time[],
    c_timetz_arr  timetz[],
    c_num_arr     numeric[],
    c_num2_arr    numeric(6,2)[],
    c_float8_arr  float8[],
    c_float4_arr  float4[],
    c_uuid_arr    uuid[],
    c_json_arr    json[],
    c_jsonb_arr   jsonb[],
    c_bool_arr    bool[],
    c_int2_arr    int2[],
    c_int8_arr    int8[],
    c_bytea_arr   bytea[],
    c_varchar_arr varchar(5)[],
    c_bpchar_arr  char(3)[],
    c_inet_arr    inet[]
);

-- NOT NULL columns without defaults: a delete under REPLICA IDENTITY
-- DEFAULT carries only the key, and the rest get each type's fallback.
CREATE TABLE public.nn_fallbacks (
    id          int4 PRIMARY KEY,
    n_numeric   numeric(10,2) NOT NULL,
    n_numvar    numeric NOT NULL,
    n_interval  interval NOT NULL,
    n_point     point NOT NULL,
    n_hstore    hstore NOT NULL,
    n_date      date NOT NULL,
    n_time      time NOT NULL,
    n_timetz    timetz NOT NULL,
    n_ts        timestamp NOT NULL,
    n_uuid      uuid NOT NULL,
    n_jsonb     jsonb NOT NULL,
    n_money     money NOT NULL,
    n_bit4      bit(4) NOT NULL,
    n_bytea     bytea NOT NULL,
    n_geometry  geometry NOT NULL,
    n_int_arr   int4[] NOT NULL,
    n_enum      public.mood NOT NULL,
    n_ltree     ltree NOT NULL,
    n_vector    public.vector NOT NULL,
    n_inet      inet NOT NULL,
    n_range     int4range NOT NULL,
    n_float8    float8 NOT NULL
);

-- A table without columns: Debezium emits nothing for it.
CREATE TABLE public.zero_cols ();
ALTER TABLE public.zero_cols REPLICA IDENTITY FULL;

-- An enum that gains a label while streaming.
CREATE TYPE public.level AS ENUM ('low', 'high');
CREATE TABLE public.enum_evolve (
    id  int4 PRIMARY KEY,
    lvl public.level
);

-- Not in table.include.list: a transaction touching only this table has no
-- change events (but still transaction metadata).
CREATE TABLE public.not_captured (
    id int4 PRIMARY KEY
);

-- The last statement of changes.sql inserts here; its event tells the
-- capture that everything before it has been produced.
CREATE TABLE public.capture_end (
    id int4 PRIMARY KEY
);
