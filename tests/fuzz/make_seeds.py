#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets into tests/fuzz/corpus/.

The seeds are small, deterministic inputs in each target's format (see the
comment at the top of each fuzz_*.c): the captured pgoutput stream of
tests/golden/pgoutput/ under a few modes, one plausible value per column type
for the converters, and a few connector files for the config loader.
Run it again after changing a target's input format, and commit the result.
"""
import hashlib
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)


def write(target, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()[:16]
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def clear(target):
    d = os.path.join(HERE, "corpus", target)
    if os.path.isdir(d):
        for f in os.listdir(d):
            os.unlink(os.path.join(d, f))


def pgoutput():
    clear("pgoutput")
    msgs = []
    with open(os.path.join(TESTS, "golden", "pgoutput", "stream.hex")) as f:
        for line in f:
            line = line.strip()
            if line:
                msgs.append(bytes.fromhex(line.split(" ", 1)[1]))
    # Large values (the capture's TOASTed rows) only slow the fuzzer down.
    msgs = [m for m in msgs if len(m) <= 2048]
    def record(tag, body):
        return bytes([tag]) + struct.pack(">H", len(body)) + body
    # Transactions of the capture, each a session of its own, and the whole stream.
    sessions, cur = [], []
    for m in msgs:
        cur.append(m)
        if m[:1] == b"C":
            sessions.append(cur)
            cur = []
    sessions.append(msgs)
    # Relations come before their changes in the stream; give each session the
    # Relation and Type messages seen before it so its changes decode.
    preamble = [m for m in msgs if m[:1] in (b"R", b"Y")]
    for i, sess in enumerate(sessions):
        body = b"".join(record(0, m) for m in preamble + sess)
        # modes, catalog policy, stored position, batch capacity
        write("pgoutput", bytes([i * 37 & 0xFF, (i * 11) & 0x1F, 0, i * 5]) + body)
    # Defaults from the catalog, a keepalive frame and a reconnect mid-transaction.
    keepalive = b"k" + struct.pack(">QQB", 0x2000000, 0, 1)
    body = (record(2, b"'abc'::text") + record(2, b"42") + record(1, keepalive)
            + b"".join(record(0, m) for m in preamble + msgs[:6]) + record(3, b"")
            + b"".join(record(0, m) for m in preamble + msgs))
    write("pgoutput", bytes([0, 0x08, 0, 29]) + body)


# (type index in fuzz_types.h order is not stable to refer to; use names)
TYPE_ORDER = None


def type_names():
    names = []
    with open(os.path.join(HERE, "fuzz_types.h")) as f:
        for line in f:
            line = line.strip()
            for marker in ("FZ_BASE(", "FZ_ARRAY("):
                if line.startswith(marker):
                    names.append(line.split('"')[1])
            if line.startswith("{.oid =") or line.startswith(".name ="):
                if '.name = "' in line:
                    names.append(line.split('.name = "')[1].split('"')[0])
    return names


VALUES = {
    "bool": ["t", "f"], "bytea": ["\\x00ff10"], "char": ["x"], "name": ["relname"],
    "int8": ["-9223372036854775808", "42"], "int2": ["32767", "-1"], "int4": ["2147483647"],
    "text": ["hello, \u00e9t\u00e9"], "oid": ["4294967295"], "json": ['{"a": [1, 2]}'],
    "xml": ["<a>b</a>"], "point": ["(1.5,-2)"], "cidr": ["10.0.0.0/8"], "float4": ["1.1", "NaN"],
    "float8": ["-1.7976931348623157e+308", "Infinity"], "macaddr8": ["08:00:2b:01:02:03:04:05"],
    "money": ["-$1,234.56"], "macaddr": ["08:00:2b:01:02:03"], "inet": ["::1/128"],
    "bpchar": ["ab  "], "varchar": ["v"], "date": ["2024-02-29", "infinity", "0044-03-15 BC"],
    "time": ["23:59:59.999999", "24:00:00"], "timestamp": ["2024-01-02 03:04:05.123456"],
    "timestamptz": ["2024-01-02 03:04:05.5+00", "-infinity"], "interval": ["1 year 2 mons -3 days 04:05:06.7"],
    "timetz": ["10:11:12.5+05:30"], "bit": ["1"], "varbit": ["10110"],
    "numeric": ["-12345.678900", "NaN", "1e-1000"], "uuid": ["a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"],
    "pg_lsn": ["16/B374D848"], "tsvector": ["'a' 'b':2"], "jsonb": ['{"k": null}'],
    "int4range": ["[1,10)"], "box": ["(1,1),(0,0)"], "mood": ["happy"], "money2": ["12.34"],
    "posint": ["7"], "cash": ["1.5"], "feeling": ["sad"], "citext": ["CaSe"], "ltree": ["a.b.c"],
    "hstore": ['"a"=>"b"'], "isbn": ["978-0-393-04002-9"],
    "_bool": ["{t,f,NULL}"], "_bytea": ['{"\\\\x00",NULL}'], "_int4": ["{1,2,3}"],
    "_text": ['{a,"b c",NULL,"\\""}'], "_numeric": ["{1.5,NaN}"], "_timestamptz": ['{"2024-01-01 00:00:00+00"}'],
    "_date": ["{2024-01-01,infinity}"], "_uuid": ["{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}"],
    "_mood": ["{sad,happy}"], "intlist": ["{1,2}"], "_jsonb": ['{"{\\"a\\": 1}"}'],
    "_int4range": ['{"[1,2)"}'], "_point": ['{"(1,2)"}'], "_interval": ['{"1 day"}'],
}


def pg_types():
    clear("pg_types")
    names = type_names()
    for idx, name in enumerate(names):
        for j, text in enumerate(VALUES.get(name, ["1"])):
            modes = (idx * 7 + j) & 0x7F
            typmod = -1
            flags = 1 | (2 if j % 2 else 0)
            head = bytes([idx, modes]) + struct.pack(">i", typmod) + bytes([flags, 0])
            write("pg_types", head + text.encode())
    # Typmods and defaults: numeric(10,2), timestamp(3), bit(5), with defaults.
    idx = {n: i for i, n in enumerate(names)}
    for name, typmod, default, text in [
        ("numeric", (10 << 16 | 2) + 4, "0.00", "123.45"),
        ("timestamp", 3, "'2020-01-01 00:00:00'::timestamp without time zone", "2020-05-06 07:08:09.123"),
        ("bit", 5, "B'10101'::\"bit\"", "10101"),
        ("varchar", 10, "'x'::character varying", "y"),
        ("timestamptz", 2, "now()", "2024-01-02 03:04:05.12+00"),
        ("interval", -1, "'01:00:00'::interval", "00:00:01"),
        ("mood", -1, "'ok'::mood", "ok"),
        ("uuid", -1, "gen_random_uuid()", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
    ]:
        d = default.encode()
        head = bytes([idx[name], 0x80]) + struct.pack(">i", typmod) + bytes([4 | 8, len(d)])
        write("pg_types", head + d + text.encode())


def config():
    clear("config")
    base = ('"connector.class": "io.debezium.connector.postgresql.PostgresConnector", '
            '"database.hostname": "db", "database.user": "cdc", "database.dbname": "app", '
            '"kafka.bootstrap.servers": "k:9092"')
    seeds = [
        '{"name": "a", "topic.prefix": "a", %s}' % base,
        '{"name": "b", "config": {"topic.prefix": "b", "database.password": "${file:secret}", %s}}' % base,
        '{"name": "c", "topic.prefix": "c", "database.password": "${env:FUZZ_SECRET}", '
        '"database.sslpassword": "${file:secrets.properties:password}", %s}' % base,
        '{"name": "d", "topic.prefix": "d", "table.include.list": "public\\\\.t\\\\d+,x", '
        '"decimal.handling.mode": "double", "max.batch.size": 10, "slot.drop.on.stop": true, %s}' % base,
        '{"name": "e", "topic.prefix": "e", "sink.type": "file", "sink.file.directory": "out", '
        '"schema.include.list": "s[", "errors.max.retries": -1, %s}' % base,
        '{"name": "f", "topic.prefix": "${FUZZ_SECRET}", "slot.name": "${FUZZ_SECRET}", '
        '"publication.name": "p\\\\q", %s}' % base,
        '{"name": "g", "topic.prefix": "g", "kafka.message.max.bytes": "2000000", '
        '"kafka.queue.buffering.max.kbytes": "1024", "database.password": "S3cr$${t-XYZ}", %s}' % base,
    ]
    for s in seeds:
        write("config", s.encode())


if __name__ == "__main__":
    pgoutput()
    pg_types()
    config()
    for t in ("pgoutput", "pg_types", "config"):
        n = len(os.listdir(os.path.join(HERE, "corpus", t)))
        print(f"{t}: {n} seeds", file=sys.stderr)
