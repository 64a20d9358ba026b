#!/usr/bin/env python3
"""Checks the Avro schemas sluice registered against the Kafka Connect
schemas a real Debezium wrote for the same tables (a golden events.jsonl
captured with JsonConverter schemas.enable=true), by Kafka Connect's
AvroData rules: a struct is a record named by its Connect name (its
namespace the name's dotted part) with the fields in the same order; an
optional schema is a union with "null", first when there is no default;
int8/int16 are "int" with connect.type, int32 "int", int64 "long",
float32/float64 (JsonConverter's "float"/"double") "float"/"double"; a Connect name, version, parameters and
default are connect.name, connect.version, connect.parameters and
connect.default (bytes defaults as Avro's ISO-8859-1 text); Decimal is the
decimal logical type with its precision and scale.

usage: avro_vs_connect.py EVENTS.jsonl SCHEMAS.json PREFIX DB

SCHEMAS.json is tests/lib/avro_topics.py's --schemas output for sluice's
topics with topic.prefix PREFIX and database DB; each topic's latest key and
value versions are checked against the schemas of the golden's last message
on the same topic ("golden.<db>.<table>" and "golden"; a null key is not
checked). Exit status 1 on any difference. Run on Debezium's own Avro
(tests/golden/debezium-avro/schemas.json against tests/golden/debezium's
events of the same tables, prefix golden, db public) it finds none.
"""
import base64
import json
import sys

PRIMITIVE = {"int8": "int", "int16": "int", "int32": "int", "int64": "long", "float32": "float",
             "float64": "double", "float": "float", "double": "double", "boolean": "boolean", "string": "string", "bytes": "bytes"}
AVRO_PRIMITIVES = {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}


class Checker:
    def __init__(self):
        self.problems = []
        self.named = {}

    def bad(self, path, text):
        self.problems.append("%s: %s" % (path, text))

    def default_of(self, conn, value):
        """A Connect default as AvroData writes it in JSON."""
        if conn["type"] == "bytes" and isinstance(value, str):
            return base64.b64decode(value).decode("latin-1")
        return value

    def check(self, conn, avro, path, ns):
        if conn.get("optional"):
            if not (isinstance(avro, list) and len(avro) == 2 and "null" in avro):
                self.bad(path, "optional but not a union with null: %s" % json.dumps(avro)[:200])
                return
            with_default = conn.get("default") is not None
            if (avro[1] == "null") != with_default:
                self.bad(path, "union order %s with%s a default" % (
                    json.dumps(avro)[:80], "" if with_default else "out"))
            avro = avro[0] if avro[1] == "null" else avro[1]
        elif isinstance(avro, list):
            self.bad(path, "required but a union")
            return
        if isinstance(avro, str) and avro not in AVRO_PRIMITIVES:
            full = avro if "." in avro else "%s.%s" % (ns, avro) if ns else avro
            if full not in self.named:
                self.bad(path, "unknown named type %s" % avro)
                return
            avro, ns = self.named[full]
        t = conn["type"]
        if t == "struct":
            self.record(conn, avro, path, ns)
            return
        base = avro if isinstance(avro, str) else avro.get("type")
        props = avro if isinstance(avro, dict) else {}
        if t == "array":
            if base != "array":
                self.bad(path, "array is %s" % base)
                return
            self.check(conn["items"], props["items"], path + "[]", ns)
        elif PRIMITIVE.get(t) != base:
            self.bad(path, "%s is Avro %s" % (t, base))
            return
        if t in ("int8", "int16") and props.get("connect.type") != t:
            self.bad(path, "connect.type %s, not %s" % (props.get("connect.type"), t))
        self.props(conn, props, path)
        if conn.get("name") == "org.apache.kafka.connect.data.Decimal":
            p = conn.get("parameters", {})
            if props.get("logicalType") != "decimal" or \
                    str(props.get("scale")) != p.get("scale") or \
                    str(props.get("precision")) != p.get("connect.decimal.precision", "64"):
                self.bad(path, "decimal %s vs parameters %s" % (json.dumps(props), p))

    def props(self, conn, props, path):
        for ckey, akey in (("name", "connect.name"), ("version", "connect.version"),
                           ("parameters", "connect.parameters")):
            if conn.get(ckey) != props.get(akey):
                self.bad(path, "%s %r, Debezium's %s %r" % (akey, props.get(akey), ckey,
                                                          conn.get(ckey)))
        if conn["type"] != "struct":
            want = conn.get("default")
            want = self.default_of(conn, want) if want is not None else None
            if want != props.get("connect.default"):
                self.bad(path, "connect.default %r, Debezium's default %r" % (
                    props.get("connect.default"), want))

    def record(self, conn, avro, path, ns):
        if not isinstance(avro, dict) or avro.get("type") != "record":
            self.bad(path, "struct is not a record: %s" % json.dumps(avro)[:200])
            return
        ns = avro.get("namespace", ns)
        full = "%s.%s" % (ns, avro["name"]) if ns else avro["name"]
        self.named[full] = (avro, ns)
        if conn.get("name") and conn["name"] != full:
            self.bad(path, "record %s, Debezium's struct %s" % (full, conn["name"]))
        cf = [f["field"] for f in conn["fields"]]
        af = [f["name"] for f in avro["fields"]]
        if cf != af:
            self.bad(path, "fields %s, Debezium's %s" % (af, cf))
            return
        self.props(conn, avro, path)
        for c, a in zip(conn["fields"], avro["fields"]):
            sub = "%s.%s" % (path, c["field"])
            self.check(c, a["type"], sub, ns)
            want = c.get("default")
            if want is not None and self.default_of(c, want) != a.get("default"):
                self.bad(sub, "field default %r, Debezium's %r" % (a.get("default"), want))
            if want is None and c.get("optional") and a.get("default", 0) is not None:
                self.bad(sub, "optional field without default null")


def main():
    events_path, schemas_path, prefix, db = sys.argv[1:5]
    with open(schemas_path, encoding="utf-8") as f:
        subjects = json.load(f)
    last = {}
    with open(events_path, encoding="utf-8") as f:
        for line in f:
            e = json.loads(line)
            # Transaction metadata: the golden run asked for it, the Avro run does not.
            if e["topic"] == "golden.transaction":
                continue
            if e["value"] is not None:
                last[e["topic"]] = e
    problems = []
    checked = 0
    for topic, e in sorted(last.items()):
        mine = prefix if topic == "golden" else "%s.%s.%s" % (prefix, db, topic.split(".", 2)[2])
        for side in ("key", "value"):
            if e[side] is None:
                continue
            # Debezium's record names carry its topic prefix and database.
            text = e[side].replace('"%s.' % topic.rsplit(".", 1)[0], '"%s.%s.' % (prefix, db)) \
                if topic != "golden" else e[side]
            conn = json.loads(text)["schema"]
            versions = subjects.get("%s-%s" % (mine, side))
            if not versions:
                problems.append("%s-%s: not registered" % (mine, side))
                continue
            c = Checker()
            c.check(conn, json.loads(versions[-1]["schema"]), "%s-%s" % (mine, side), None)
            problems += c.problems
            checked += 1
    print("%d schemas checked against Debezium's Connect schemas" % checked)
    for p in problems:
        print("DIFFERENT " + p)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
