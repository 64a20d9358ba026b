-- The rows behind snapshot/events.jsonl: run after ../schema.sql and before
-- the connector starts (snapshot.mode=initial), so every row below comes out
-- as a read event (op r) of the initial snapshot. They are the inserts of
-- ../changes.sql, so that the snapshot and the streamed events of the same
-- rows can be compared, plus a few rows that give each table several.
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

-- The other tables, with several rows each where the ordering of keys shows.
INSERT INTO public.full_ident VALUES (1, 'one', 1), (2, 'two', NULL);
INSERT INTO public.no_pk VALUES (1, 'x'), (2, NULL);
INSERT INTO public.uniq_only VALUES ('k1', 1);
INSERT INTO public.composite_pk (b, a, v) VALUES ('x', 1, 'first');
INSERT INTO public.composite_pk (b, a, v) VALUES ('y', 1, 'same a'), ('a', 2, NULL);
INSERT INTO public.uniq_only VALUES ('k0', NULL);

-- Values stored out of line (TOAST) ------------------------------------------

INSERT INTO public.toasted VALUES (
    1, 0,
    repeat('0123456789abcdef', 256),
    decode(repeat('00ff', 2048), 'hex'),
    ARRAY(SELECT 'element-' || i FROM generate_series(1, 400) AS i),
    jsonb_build_object('k', repeat('x', 4000)));
