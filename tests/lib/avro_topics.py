#!/usr/bin/env python3
"""Reads Kafka topics written in Confluent's Avro wire format and prints them
as JSON lines, decoded by libraries that are not sluice: confluent-kafka
(librdkafka) for Kafka and fastavro for Avro, with each writer schema fetched
from the schema registry by the id in the message.

usage: avro_topics.py --bootstrap HOST:PORT --registry URL --out FILE
                      [--schemas FILE] [--raw] [--from-offset N]
                      [--prefix P | TOPIC...]

--registry is the registry's Confluent API (.../apis/ccompat/v7). Topics are
read from the beginning (or offset N of each partition) to their end. Each output line is
  {"topic", "partition", "offset", "key", "value", "headers",
   "key_schema_id", "value_schema_id", "key_body", "value_body"}
where key and value are the decoded datum (null for a null key or a
tombstone) or, for a message that is not in Avro framing, {"text": ...}.
key_body and value_body are the Avro binary after the 5-byte header, in hex,
for byte-level comparisons. Datums are rendered as JSON with bytes as
"b64:<base64>" and decimals as "dec:<text>" (with --raw, decimals stay their
two's-complement bytes, as the JSON converter writes them, and are rendered
as bytes). --schemas writes every subject
of the topics as {subject: [{"version", "id", "schema"}...]}.
"""
import argparse
import base64
import datetime
import decimal
import io
import json
import sys
import urllib.error
import urllib.request

import fastavro
from confluent_kafka import Consumer, KafkaError, TopicPartition


def http_json(url):
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return json.loads(r.read().decode())
    except urllib.error.HTTPError as e:
        sys.exit("avro_topics: GET %s: HTTP %d %s" % (url, e.code, e.read().decode(errors="replace")))


class Registry:
    def __init__(self, url):
        self.url = url.rstrip("/")
        self.parsed = {}
        self.text = {}

    def schema(self, schema_id):
        if schema_id not in self.parsed:
            text = http_json("%s/schemas/ids/%d" % (self.url, schema_id))["schema"]
            self.text[schema_id] = text
            self.parsed[schema_id] = fastavro.parse_schema(json.loads(text))
        return self.parsed[schema_id]

    def subjects(self):
        return http_json(self.url + "/subjects")

    def versions(self, subject):
        out = []
        quoted = urllib.request.quote(subject, safe="")
        for v in http_json("%s/subjects/%s/versions" % (self.url, quoted)):
            d = http_json("%s/subjects/%s/versions/%d" % (self.url, quoted, v))
            out.append({"version": d["version"], "id": d["id"], "schema": d["schema"]})
        return out


def render(x):
    if isinstance(x, dict):
        return {k: render(v) for k, v in x.items()}
    if isinstance(x, list):
        return [render(v) for v in x]
    if isinstance(x, (bytes, bytearray)):
        return "b64:" + base64.b64encode(bytes(x)).decode()
    if isinstance(x, decimal.Decimal):
        return "dec:" + format(x, "f")
    if isinstance(x, (datetime.date, datetime.time, datetime.datetime)):
        return "time:" + x.isoformat()
    if isinstance(x, float) and x != x:
        return "NaN"
    if isinstance(x, float) and x in (float("inf"), float("-inf")):
        return "Infinity" if x > 0 else "-Infinity"
    return x


def decode(reg, data):
    """(datum, schema id, body hex) of one message key or value."""
    if data is None:
        return None, None, None
    if len(data) >= 5 and data[0] == 0:
        schema_id = int.from_bytes(data[1:5], "big")
        body = data[5:]
        fo = io.BytesIO(body)
        datum = fastavro.schemaless_reader(fo, reg.schema(schema_id), None)
        if fo.tell() != len(body):
            raise ValueError("%d bytes left after the datum" % (len(body) - fo.tell()))
        return render(datum), schema_id, body.hex()
    return {"text": data.decode("utf-8", "replace")}, None, None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--registry", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--schemas")
    ap.add_argument("--prefix")
    ap.add_argument("--raw", action="store_true")
    ap.add_argument("--from-offset", type=int, default=0)
    ap.add_argument("topics", nargs="*")
    a = ap.parse_args()
    if a.raw:
        # fastavro looks logical types up in this table; without an entry
        # a decimal is read as its bytes.
        import fastavro.read
        fastavro.read.LOGICAL_READERS.pop("bytes-decimal", None)
        fastavro.read.LOGICAL_READERS.pop("fixed-decimal", None)
    reg = Registry(a.registry)

    consumer = Consumer({
        "bootstrap.servers": a.bootstrap,
        "group.id": "sluice-avro-readback",
        "enable.auto.commit": False,
        "enable.partition.eof": True,
    })
    md = consumer.list_topics(timeout=30)
    topics = list(a.topics)
    if a.prefix:
        topics += sorted(t for t in md.topics if t.startswith(a.prefix + "."))
    parts = []
    for t in topics:
        if t not in md.topics or md.topics[t].error is not None:
            sys.exit("avro_topics: no topic %s" % t)
        for p in md.topics[t].partitions:
            lo, hi = consumer.get_watermark_offsets(TopicPartition(t, p), timeout=30)
            lo = max(lo, a.from_offset)
            if hi > lo:
                parts.append(TopicPartition(t, p, lo))
    consumer.assign(parts)
    left = {(tp.topic, tp.partition) for tp in parts}
    rows = []
    while left:
        m = consumer.poll(30)
        if m is None:
            sys.exit("avro_topics: no message for 30 s, still waiting for %s" % sorted(left))
        if m.error():
            if m.error().code() == KafkaError._PARTITION_EOF:
                left.discard((m.topic(), m.partition()))
                continue
            sys.exit("avro_topics: %s" % m.error())
        key, kid, kbody = decode(reg, m.key())
        value, vid, vbody = decode(reg, m.value())
        rows.append({
            "topic": m.topic(), "partition": m.partition(), "offset": m.offset(),
            "key": key, "value": value,
            "headers": [[h, v.decode("utf-8", "replace") if v is not None else None]
                        for h, v in (m.headers() or [])],
            "key_schema_id": kid, "value_schema_id": vid,
            "key_body": kbody, "value_body": vbody,
        })
    consumer.close()
    rows.sort(key=lambda r: (r["topic"], r["partition"], r["offset"]))
    with open(a.out, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    if a.schemas:
        subjects = {}
        wanted = set(topics)
        for s in reg.subjects():
            base = s.rsplit("-", 1)[0]
            if base in wanted:
                subjects[s] = reg.versions(s)
        with open(a.schemas, "w", encoding="utf-8") as f:
            json.dump(subjects, f, indent=1, ensure_ascii=False, sort_keys=True)
            f.write("\n")


if __name__ == "__main__":
    main()
