#!/usr/bin/env python3
"""Compares the same changes written by two sluice connectors: one with an
Avro converter, read back by tests/lib/avro_topics.py --raw (confluent-kafka
and fastavro, not sluice), the other with the JSON converter without
schemas. Every message must carry the same key, value and headers.

usage: avro_vs_json.py AVRO.jsonl AVRO_PREFIX JSON.jsonl JSON_PREFIX

JSON.jsonl has one message a line, {"topic","key","value","headers"}, key
and value as the JSON text Kafka delivered. Keys written by the JSON
converter on the Avro side (Avro values with JSON keys) are compared as JSON.
Masked: the envelope's ts_ms/ts_us/ts_ns (each connector's own clock) and
source.name (the topic prefix). Exit status 1 on any difference.
"""
import base64
import json
import math
import struct
import sys


def load(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def as_json_form(x):
    """An Avro datum as the JSON converter writes it: bytes as base64."""
    if isinstance(x, dict):
        return {k: as_json_form(v) for k, v in x.items()}
    if isinstance(x, list):
        return [as_json_form(v) for v in x]
    if isinstance(x, str) and x.startswith("b64:"):
        return x[4:]
    return x


def same(a, b):
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) or isinstance(b, float):
        if isinstance(a, (int, float)) and isinstance(b, (int, float)):
            if math.isnan(a) or math.isnan(b):
                return math.isnan(a) and math.isnan(b)
            # A float column: the JSON text is the shortest for the float,
            # the Avro datum that float widened to a double.
            return a == b or struct.pack("<f", a) == struct.pack("<f", b)
        return False
    return a == b and type(a) is type(b)


def mask(value, prefix):
    if not isinstance(value, dict):
        return value
    value = dict(value)
    for k in ("ts_ms", "ts_us", "ts_ns"):
        if k in value:
            value[k] = 0
    if isinstance(value.get("source"), dict) and value["source"].get("name") == prefix:
        value["source"] = dict(value["source"], name="<prefix>")
    return value


def main():
    avro_path, avro_prefix, json_path, json_prefix = sys.argv[1:5]
    avro, js = {}, {}
    for r in load(avro_path):
        topic = "<prefix>" + r["topic"][len(avro_prefix):]
        key = r["key"]
        if isinstance(key, dict) and set(key) == {"text"}:
            key = json.loads(key["text"])
        value = r["value"]
        headers = [[h, v] for h, v in r["headers"] if not h.endswith(("runId", "LogicalName"))]
        avro.setdefault(topic, []).append((as_json_form(key), mask(as_json_form(value), avro_prefix), headers))
    for r in load(json_path):
        topic = "<prefix>" + r["topic"][len(json_prefix):]
        key = json.loads(r["key"]) if r["key"] is not None else None
        value = json.loads(r["value"]) if r["value"] is not None else None
        headers = [[h, v] for h, v in r["headers"] if not h.endswith(("runId", "LogicalName"))]
        js.setdefault(topic, []).append((key, mask(value, json_prefix), headers))

    problems = []
    if avro.keys() != js.keys():
        problems.append("topics differ: %s vs %s" % (sorted(avro), sorted(js)))
    compared = 0
    for topic in sorted(js):
        a, j = avro.get(topic, []), js[topic]
        if len(a) != len(j):
            problems.append("%s: %d Avro messages, %d JSON messages" % (topic, len(a), len(j)))
        for i, (x, y) in enumerate(zip(a, j)):
            for part, u, v in (("key", x[0], y[0]), ("value", x[1], y[1]), ("headers", x[2], y[2])):
                if not same(u, v):
                    problems.append("%s#%d %s:\n  avro %s\n  json %s" % (
                        topic, i, part, json.dumps(u)[:600], json.dumps(v)[:600]))
            compared += 1
    print("%d messages in %d topics compared" % (compared, len(js)))
    for p in problems:
        print("DIFFERENT " + p)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
