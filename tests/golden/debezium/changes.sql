-- The changes behind events.jsonl, run by capture.sh with
--   psql -X -q -v ON_ERROR_STOP=1 -f changes.sql
-- after schema.sql and after the connector is streaming. Every statement
-- outside BEGIN/COMMIT is its own transaction. All literals are absolute
-- (timestamptz values carry an offset), so the session time zone and the
-- date of the run do not change the events.

-- 1. Inserts into all_types ------------------------------------------------

-- Rows 1 and 2 share one transaction (same txId, consecutive LSNs).
BEGIN;

-- Row 1: typical values in every column.
INSERT INTO public.all_types (
    id, c_bool, c_bool_nn, c_int2, c_int4, c_int8, c_float4, c_float8,
    c_numeric_10_2, c_numeric_5, c_numeric, c_text, c_text_nn, c_varchar,
    c_char, c_bytea, c_date, c_time, c_time3, c_timetz, c_timestamp,
    c_timestamp3, c_timestamptz, c_timestamptz0, c_created, c_interval,
    c_uuid, c_json, c_jsonb, c_enum, c_int4_arr, c_text_arr, c_enum_arr,
    c_inet, c_money, c_xml, c_int4range, c_point, c_box, c_nullable_dflt)
VALUES (
    1, true, false, 32767, 2147483647, 9223372036854775807, 3.14, 2.718281828459045,
    12345678.91, 99999, 1.50, 'hello', 'row 1', 'héllo wörld',
    'ab', '\x00ff10', '2024-02-29', '13:45:30.123456', '13:45:30.123', '13:45:30.5+02',
    '2024-02-29 13:45:30.123456',
    '2024-02-29 13:45:30.123', '2024-02-29 13:45:30.123456+02', '2024-02-29 13:45:30+02',
    '2024-01-01 00:00:00+00', '1 year 2 months 3 days 04:05:06.789',
    'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"b": [1, 2],  "a":1}', '{"b": [1, 2],  "a":1}',
    'happy', '{1,2,3}',
    ARRAY['plain', 'with "quotes"', 'with,comma', NULL, '', 'NULL', 'back\slash', '{braces}', ' spaced '],
    '{sad,happy}',
    '192.168.0.1/24', '12.34', '<a b="1">text &amp; more</a>', '[1,10)', '(1.5,-2.25)',
    '((0,0),(1,1))', 'set');

-- Row 2: minimums, empty values, escapes; explicit NULL into a nullable
-- column that has a default (c_nullable_dflt).
INSERT INTO public.all_types (
    id, c_bool, c_bool_nn, c_int2, c_int4, c_int8, c_float4, c_float8,
    c_numeric_10_2, c_numeric_5, c_numeric, c_text, c_text_nn, c_varchar,
    c_char, c_bytea, c_date, c_time, c_time3, c_timetz, c_timestamp,
    c_timestamp3, c_timestamptz, c_timestamptz0, c_created, c_interval,
    c_uuid, c_json, c_jsonb, c_enum, c_int4_arr, c_text_arr, c_enum_arr,
    c_inet, c_money, c_xml, c_int4range, c_point, c_box, c_nullable_dflt)
VALUES (
    2, false, true, -32768, -2147483648, -9223372036854775808, 'NaN', '-0',
    -0.01, -99999, 100, E'line1\nline2\ttab "dq" \\ bs / sl \x01 ctrl \x7f del é 😀', '', '',
    'abcde', '\x', '1969-12-31', '00:00:00', '23:59:59.999', '00:00:00-08',
    '1969-12-31 23:59:59.999999',
    '1969-12-31 23:59:59.999', '1969-12-31 23:59:59.999999+00', '1970-01-01 00:00:00+00',
    '2024-01-01 00:00:00+00', '-1 days -00:00:01',
    '00000000-0000-0000-0000-000000000000', '[]', '{"z": null, "a": [true, 1.0, "x"], "n": 1e3}',
    'meh', '{}', '{}', '{}',
    '::1', '-1.50', '<empty/>', 'empty', '(0,0)',
    '((0,0),(0,0))', NULL);

COMMIT;

-- Row 3: NULL in every nullable column, including those with defaults.
INSERT INTO public.all_types (
    id, c_bool, c_bool_nn, c_int2, c_int4, c_int8, c_float4, c_float8,
    c_numeric_10_2, c_numeric_5, c_numeric, c_text, c_text_nn, c_varchar,
    c_char, c_bytea, c_date, c_time, c_time3, c_timetz, c_timestamp,
    c_timestamp3, c_timestamptz, c_timestamptz0, c_created, c_interval,
    c_uuid, c_json, c_jsonb, c_enum, c_int4_arr, c_text_arr, c_enum_arr,
    c_inet, c_money, c_xml, c_int4range, c_point, c_box, c_nullable_dflt)
VALUES (
    3, NULL, false, NULL, 3, 3, NULL, NULL,
    NULL, NULL, NULL, NULL, 'row 3', NULL,
    NULL, NULL, NULL, NULL, NULL, NULL, NULL,
    NULL, NULL, NULL, '2024-01-01 00:00:00+00', NULL,
    NULL, NULL, NULL, NULL, NULL, NULL, NULL,
    NULL, NULL, NULL, NULL, NULL, NULL, NULL);

-- Row 4: every column with a default left to it (c_created is given
-- because its default, now(), would differ between runs).
INSERT INTO public.all_types (id, c_int4, c_text_nn, c_created)
VALUES (4, 4, 'row 4', '2024-01-01 00:00:00+00');

-- Row 5: positive special values.
INSERT INTO public.all_types (
    id, c_int4, c_text_nn, c_created, c_float4, c_float8,
    c_numeric_10_2, c_numeric_5, c_numeric, c_char, c_date, c_time, c_time3, c_timetz,
    c_timestamp, c_timestamp3, c_timestamptz, c_timestamptz0, c_interval,
    c_uuid, c_json, c_jsonb, c_int4_arr, c_text_arr, c_enum_arr,
    c_inet, c_money, c_xml, c_int4range)
VALUES (
    5, 5, 'row 5', '2024-01-01 00:00:00+00', 'Infinity', 'NaN',
    'NaN', 0, 'NaN', 'é', 'infinity', '24:00:00', '24:00:00', '23:59:59.999999-08',
    'infinity', 'infinity', 'infinity', 'infinity', '1 mon',
    'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11', '  {"spaces" :  true }  ', '"just a string"',
    '{1,NULL,3}', ARRAY[NULL]::text[], '{meh,NULL}',
    '10.0.0.1', '92233720368547758.07', '<p>ünï</p>', '(,)');

-- Row 6: negative special values.
INSERT INTO public.all_types (
    id, c_int4, c_text_nn, c_created, c_float4, c_float8,
    c_numeric, c_date, c_timetz,
    c_timestamp, c_timestamp3, c_timestamptz, c_timestamptz0, c_interval, c_money)
VALUES (
    6, 6, 'row 6', '2024-01-01 00:00:00+00', '-0', '-Infinity',
    -0.001, '-infinity', '24:00:00+00',
    '-infinity', '-infinity', '-infinity', '-infinity', '-1 year -2 months +3 days',
    '-92233720368547758.08');

-- Row 7: values outside the usual ranges: BC and far-future dates, an
-- interval too long for int64 microseconds, a two-dimensional array.
INSERT INTO public.all_types (
    id, c_int4, c_text_nn, c_created, c_float4, c_float8,
    c_numeric_10_2, c_numeric_5, c_numeric, c_date, c_time3,
    c_timestamp, c_timestamp3, c_timestamptz, c_timestamptz0, c_interval,
    c_int4_arr)
VALUES (
    7, 7, 'row 7', '2024-01-01 00:00:00+00', '-Infinity', 'Infinity',
    99999999.99, -1, 123456789012345678901234567890.123456789000, '0044-03-15 BC', '00:00:00.001',
    '0100-01-01 00:00:00 BC', '10000-01-01 00:00:00.5', '20000-01-01 00:00:00+00',
    '0044-03-15 12:00:00+00 BC', '178000000 years',
    '{{1,2},{3,4}}');

-- 2. Update, delete and key change on a REPLICA IDENTITY DEFAULT table ------

-- before is null; c_int2 set to NULL while it has a default.
UPDATE public.all_types SET c_text = 'updated', c_int2 = NULL WHERE id = 1;

-- before holds only the key; then a tombstone.
DELETE FROM public.all_types WHERE id = 3;

-- Primary key change: delete + tombstone for 4, create for 40.
UPDATE public.all_types SET id = 40 WHERE id = 4;

-- 3. REPLICA IDENTITY FULL ---------------------------------------------------

INSERT INTO public.full_ident VALUES (1, 'one', 1), (2, 'two', NULL);
UPDATE public.full_ident SET qty = 10, name = 'uno' WHERE id = 1;
UPDATE public.full_ident SET id = 3 WHERE id = 2;
DELETE FROM public.full_ident WHERE id = 1;

-- 4. Tables without a primary key -------------------------------------------

INSERT INTO public.no_pk VALUES (1, 'x'), (2, NULL);
UPDATE public.no_pk SET b = 'y' WHERE a = 1;
DELETE FROM public.no_pk WHERE a = 2;

INSERT INTO public.uniq_only VALUES ('k1', 1);
UPDATE public.uniq_only SET v = 2 WHERE code = 'k1';
UPDATE public.uniq_only SET code = 'k2' WHERE code = 'k1';
DELETE FROM public.uniq_only WHERE code = 'k2';

-- Key fields follow the primary key's column order (a, b), not the table's.
INSERT INTO public.composite_pk (b, a, v) VALUES ('x', 1, 'first');
UPDATE public.composite_pk SET v = 'second' WHERE a = 1 AND b = 'x';
DELETE FROM public.composite_pk WHERE a = 1 AND b = 'x';

-- 5. Unchanged TOAST values --------------------------------------------------

INSERT INTO public.toasted VALUES (
    1, 0,
    repeat('0123456789abcdef', 256),
    decode(repeat('00ff', 2048), 'hex'),
    ARRAY(SELECT 'element-' || i FROM generate_series(1, 400) AS i),
    jsonb_build_object('k', repeat('x', 4000)));
-- Only counter changes: every big column is unchanged TOAST.
UPDATE public.toasted SET counter = counter + 1 WHERE id = 1;
-- big_text gets a new (inline) value; the other big columns stay unchanged.
UPDATE public.toasted SET counter = counter + 1, big_text = 'short now' WHERE id = 1;
DELETE FROM public.toasted WHERE id = 1;

-- 6. Logical decoding messages (topic <prefix>.message) ----------------------

BEGIN;
INSERT INTO public.full_ident VALUES (5, 'five', 5);
SELECT pg_logical_emit_message(true, 'sluice-golden', 'transactional message');
COMMIT;
SELECT pg_logical_emit_message(false, 'sluice-golden', '\x00ff'::bytea);

-- 7. Schema changes while streaming ------------------------------------------

ALTER TABLE public.all_types
    ADD COLUMN c_added int4 DEFAULT 7,
    ADD COLUMN c_added_nn text NOT NULL DEFAULT 'added';
INSERT INTO public.all_types (id, c_int4, c_text_nn, c_created, c_float4, c_float8, c_numeric)
VALUES (8, 8, 'row 8', '2024-01-01 00:00:00+00', 1e10, 1e-10, 'Infinity');
-- An existing row after the ADD COLUMN (before null, after with the new columns).
UPDATE public.all_types SET c_int4 = 20 WHERE id = 2;

ALTER TABLE public.all_types DROP COLUMN c_xml;
INSERT INTO public.all_types (id, c_int4, c_text_nn, c_created, c_float4, c_float8, c_numeric)
VALUES (9, 9, 'row 9', '2024-01-01 00:00:00+00', 0.001, 12345678.9, 0);

-- 8. TRUNCATE (needs skipped.operations=none) -------------------------------

TRUNCATE public.full_ident;
TRUNCATE public.composite_pk, public.uniq_only;

-- 9. Extension types, domains, multi-dimensional arrays, ranges --------------

INSERT INTO public.ext_types VALUES (
    1, 'a=>1, b=>NULL, "c d"=>"x\"y", zz=>""', 'Top.Science.Astronomy', 'MiXeD Case',
    'SRID=3857;LINESTRING(0 0,1 1)', 'SRID=4326;POINT(1 2)', 'SRID=4326;POINT(13.4 52.5)',
    '[1,2.5,-3]', '[1.5,2,-0.25]', '{1:1.5,3:-2}/5',
    ARRAY['a=>1'::hstore, NULL], ARRAY['a.b'::ltree], ARRAY['X'::citext, 'y'],
    'a fat cat', '08:00:2b:01:02:03', '08:00:2b:01:02:03:04:05', '10.1.0.0/16', 4294967295,
    'a_name', B'1', B'10100101', B'101', 'x', '16/B374D848',
    '[1,9223372036854775807)', '(1.5,2.5]', '[2024-01-01 00:00,2024-01-02 00:00)',
    '[2024-01-01 00:00+00,)', '[2024-01-01,2024-02-01)', '{[1,3),[5,7)}',
    42, 12.3456, 'short', '2024-03-01', '2024-03-01 12:00:00.123+00', '{1,2}', 7,
    '{1,2}', '{{1,2},{3,4}}', '{{a,b},{c,NULL}}',
    '{1,2,3}', '[(0,0),(1,1)]', '[(0,0),(1,1)]', '((0,0),(1,1),(2,0))', '<(0,0),1>');
INSERT INTO public.ext_types (id, c_hstore, c_vector, c_sparsevec)
VALUES (2, '', '[0]', '{}/3');

-- 10. Special values inside arrays -------------------------------------------

INSERT INTO public.array_specials VALUES (
    1, '{infinity,-infinity,2024-01-01,NULL}',
    '{infinity,-infinity,"2024-01-01 00:00:00.5+00"}',
    '{infinity,-infinity,"2024-01-01 12:00:00.5"}',
    '{24:00:00,00:00:00.5,12:34:56.789012}', '{24:00:00+00,13:45:30.5+02}',
    '{1.5,NaN,-0.001}', '{1.50,2}', '{NaN,Infinity,-0,1e10}', '{NaN,-Infinity,3.14}',
    '{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}', ARRAY['{"a":1}'::json], ARRAY['{"a": 1}'::jsonb],
    '{t,f,NULL}', '{1,-32768}', '{9223372036854775807}', '{"\\x00ff",NULL}', '{abc,de}',
    '{a,bc}', '{10.0.0.1,::1}');
INSERT INTO public.array_specials (id, c_num_arr, c_date_arr, c_time_arr)
VALUES (2, '{1.5,-2,0}', '{2024-01-01,1969-12-31}', '{00:00:01}');

-- 11. Fallbacks of a delete's missing columns ---------------------------------

INSERT INTO public.nn_fallbacks VALUES (
    1, 1.25, 2.5, '1 day', '(1,2)', 'k=>v', '2024-01-01', '12:00:00', '12:00:00+00',
    '2024-01-01 00:00:00', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"a": 1}', '3.50',
    B'1010', '\x01', 'SRID=4326;POINT(1 2)', '{1}', 'ok', 'a.b', '[1,2]', '10.0.0.1',
    '[1,5)', 1.5);
DELETE FROM public.nn_fallbacks WHERE id = 1;

-- 12. A table without columns; an enum that gains a label ---------------------

INSERT INTO public.zero_cols DEFAULT VALUES;
DELETE FROM public.zero_cols;

INSERT INTO public.enum_evolve VALUES (1, 'low');
ALTER TYPE public.level ADD VALUE 'mid' BEFORE 'high';
INSERT INTO public.enum_evolve VALUES (2, 'mid');

-- 13. Large and mixed transactions (transaction metadata) ---------------------

BEGIN;
INSERT INTO public.full_ident VALUES (20, 'twenty', 20), (21, 'twenty-one', 21);
INSERT INTO public.composite_pk (b, a, v) VALUES ('y', 2, 'mixed');
UPDATE public.full_ident SET qty = 22 WHERE id = 20;
INSERT INTO public.enum_evolve VALUES (3, 'high');
COMMIT;
INSERT INTO public.not_captured VALUES (1);

-- Last: the capture waits for this event.
INSERT INTO public.capture_end VALUES (1);
