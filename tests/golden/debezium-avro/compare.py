#!/usr/bin/env python3
"""Compares sluice's Avro topics with Debezium's, message by message and
schema by schema.

usage: compare.py GOLDEN_DIR ACTUAL.jsonl ACTUAL_SCHEMAS.json KNOWN.json [PREFIX]

GOLDEN_DIR holds events.jsonl and schemas.json as capture.sh wrote them;
ACTUAL.jsonl and ACTUAL_SCHEMAS.json are the same for sluice's topics, read
with tests/lib/avro_topics.py. PREFIX is sluice's topic.prefix when it is not
the golden's ("golden"): it is renamed in topics, subjects, schema names,
source.name and the connectorLogicalName header before comparing.

For each message: the decoded key and value (volatile fields masked: commit
and connector times, LSNs, transaction ids, the connector version, the
database name), the
headers (runId masked), and the writer schemas of key and value, found by the
ids in the messages: their text, their parsed JSON (every property) and their
Parsing Canonical Form. KNOWN.json lists accepted differences: {"path",
"contains", "reason"}; a difference whose path starts with "path" and whose
text contains "contains" is reported as known. Exit status 1 when any other
difference remains.
"""
import json
import sys

from fastavro.schema import parse_schema, to_parsing_canonical_form

VOLATILE_SOURCE = {"ts_ms", "ts_us", "ts_ns", "txId", "lsn", "sequence", "version", "db"}
VOLATILE_ENVELOPE = {"ts_ms", "ts_us", "ts_ns"}
VOLATILE_HEADERS = {"__debezium.context.runId"}


def load_lines(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def rename(text, prefix):
    return text if prefix == "golden" else text.replace(prefix + ".", "golden.")


def schemas_by_id(subjects, prefix):
    out = {}
    for subject, versions in subjects.items():
        for v in versions:
            out[v["id"]] = (rename(subject, prefix), v["version"], rename(v["schema"], prefix))
    return out


def mask(value):
    if not isinstance(value, dict):
        return value
    value = dict(value)
    for k in VOLATILE_ENVELOPE & value.keys():
        value[k] = "<masked>"
    if isinstance(value.get("source"), dict):
        value["source"] = {k: ("<masked>" if k in VOLATILE_SOURCE else v)
                           for k, v in value["source"].items()}
    return value


def diff(path, a, b, out):
    """Differences between golden a and sluice's b, as (path, text) pairs."""
    if isinstance(a, dict) and isinstance(b, dict):
        missing = [k for k in a if k not in b]
        extra = [k for k in b if k not in a]
        if missing:
            out.append((path, "missing %s" % missing))
        if extra:
            out.append((path, "extra %s" % extra))
        for k in a:
            if k in b:
                diff("%s.%s" % (path, k), a[k], b[k], out)
        return
    if isinstance(a, list) and isinstance(b, list):
        # Record fields are lists of {"name": ...}: match them by name.
        if all(isinstance(x, dict) and "name" in x for x in a + b) and (a or b):
            names_a = [x["name"] for x in a]
            names_b = [x["name"] for x in b]
            if names_a != names_b:
                missing = [n for n in names_a if n not in names_b]
                extra = [n for n in names_b if n not in names_a]
                if missing:
                    out.append((path, "missing %s" % missing))
                if extra:
                    out.append((path, "extra %s" % extra))
                if not missing and not extra:
                    out.append((path, "order %s != %s" % (names_a, names_b)))
            by_name = {x["name"]: x for x in b}
            for x in a:
                if x["name"] in by_name:
                    diff("%s[%s]" % (path, x["name"]), x, by_name[x["name"]], out)
            return
        if len(a) != len(b):
            out.append((path, "%d items != %d" % (len(a), len(b))))
        for i, (x, y) in enumerate(zip(a, b)):
            diff("%s[%d]" % (path, i), x, y, out)
        return
    if a != b or type(a) is not type(b):
        out.append((path, "golden %s != sluice %s" % (json.dumps(a)[:200], json.dumps(b)[:200])))


def strip_fields(schema, names):
    """The schema without record fields of the given names (for canonical forms)."""
    if isinstance(schema, dict):
        s = {k: strip_fields(v, names) for k, v in schema.items()}
        if isinstance(s.get("fields"), list):
            s["fields"] = [f for f in s["fields"] if f.get("name") not in names]
        return s
    if isinstance(schema, list):
        return [strip_fields(x, names) for x in schema]
    return schema


def canonical(text, drop=()):
    schema = json.loads(text)
    if drop:
        schema = strip_fields(schema, set(drop))
    return to_parsing_canonical_form(parse_schema(schema, _write_hint=False))


def main():
    golden_dir, actual_events, actual_schemas, known_path = sys.argv[1:5]
    prefix = sys.argv[5] if len(sys.argv) > 5 else "golden"
    golden = load_lines(golden_dir + "/events.jsonl")
    with open(golden_dir + "/schemas.json", encoding="utf-8") as f:
        golden_ids = schemas_by_id(json.load(f), "golden")
    actual = load_lines(actual_events)
    with open(actual_schemas, encoding="utf-8") as f:
        actual_ids = schemas_by_id(json.load(f), prefix)
    with open(known_path, encoding="utf-8") as f:
        known = json.load(f)
    extra_fields = [name for k in known for name in k.get("extra_fields", [])]

    by_topic = {}
    for r in actual:
        r["topic"] = rename(r["topic"], prefix)
        if isinstance(r.get("value"), dict) and isinstance(r["value"].get("source"), dict):
            if r["value"]["source"].get("name") == prefix:
                r["value"]["source"]["name"] = "golden"
        r["headers"] = [[h, "golden" if h.endswith("connectorLogicalName") and v == prefix else v]
                        for h, v in r["headers"]]
        by_topic.setdefault(r["topic"], []).append(r)

    diffs = []
    schema_pairs = {}
    golden_by_topic = {}
    for g in golden:
        golden_by_topic.setdefault(g["topic"], []).append(g)
    for topic, gs in sorted(golden_by_topic.items()):
        acts = by_topic.get(topic, [])
        if len(acts) != len(gs):
            diffs.append(("%s" % topic, "%d messages != %d" % (len(gs), len(acts))))
        for i, (g, a) in enumerate(zip(gs, acts)):
            where = "%s#%d" % (topic, i)
            diff(where + ".key", g["key"], a["key"], diffs)
            diff(where + ".value", mask(g["value"]), mask(a["value"]), diffs)
            hg = [h for h in g["headers"] if h[0] not in VOLATILE_HEADERS]
            ha = [h for h in a["headers"] if h[0] not in VOLATILE_HEADERS]
            diff(where + ".headers", hg, ha, diffs)
            for part in ("key", "value"):
                gid, aid = g[part + "_schema_id"], a[part + "_schema_id"]
                if (gid is None) != (aid is None):
                    diffs.append((where + "." + part, "schema id %s != %s" % (gid, aid)))
                elif gid is not None:
                    schema_pairs[(golden_ids[gid][0], golden_ids[gid][1])] = (golden_ids[gid], actual_ids[aid])

    identical = canonical_equal = 0
    for (subject, version), (g, a) in sorted(schema_pairs.items()):
        where = "schema[%s v%d]" % (subject, version)
        if g[0] != a[0]:
            diffs.append((where, "sluice's subject is %s" % a[0]))
        if g[2] == a[2]:
            identical += 1
        diff(where, json.loads(g[2]), json.loads(a[2]), diffs)
        if canonical(g[2]) == canonical(a[2]):
            canonical_equal += 1
        elif canonical(g[2]) == canonical(a[2], extra_fields):
            canonical_equal += 1
            diffs.append((where + ".canonical", "equal without the fields %s" % extra_fields))
        else:
            diffs.append((where + ".canonical", "Parsing Canonical Forms differ"))

    accepted, unexplained = [], []
    for path, text in diffs:
        reason = next((k["reason"] for k in known
                       if path.startswith(k["path"]) and k.get("contains", "") in text), None)
        (accepted if reason else unexplained).append((path, text, reason))

    print("%d messages in %d topics; %d schema versions: %d with the same text, %d with the "
          "same Parsing Canonical Form (after known differences)"
          % (len(golden), len(golden_by_topic), len(schema_pairs), identical, canonical_equal))
    reasons = {}
    for path, text, reason in accepted:
        reasons.setdefault(reason, []).append("%s: %s" % (path, text))
    for reason, items in reasons.items():
        print("known (%d): %s" % (len(items), reason))
        for item in items[:3]:
            print("    " + item)
    for path, text, _ in unexplained:
        print("DIFFERENT %s: %s" % (path, text))
    sys.exit(1 if unexplained else 0)


if __name__ == "__main__":
    main()
