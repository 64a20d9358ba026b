#!/usr/bin/env python3
"""Compares sluice's Kafka messages with Debezium's, event by event.

usage: compare.py [--mysql] EXPECTED.jsonl ACTUAL.jsonl KNOWN.json

Both files hold one message a line: {"topic", "key", "value", "headers"},
key and value as the raw JSON text Kafka delivered (null for none). Events
are matched per topic, in order. Fields that differ between any two runs
(timestamps, LSNs, transaction ids) are masked; of a heartbeat topic only
the first message is compared. Numbers are compared by
their text, so 1.0E10 and 1e10 differ, as they would for a consumer that
compares bytes.

KNOWN.json lists accepted differences: {"path": "...", "reason": "..."}
with optional "events" ([i, ...], default all), "topic" and "contains" (a
text the difference must contain), and "not_in_golden" for a difference
these events do not show (found by other runs; listed for its reason); a difference at or below an accepted
path that fits the rest is reported but does not fail the comparison. An
entry with "absent": true and "events" names expected events sluice does
not send at all: they are left out of the matching.
Exit status 1 when any other difference remains.

--mysql: MySQL/MariaDB events, whose source block names places in a binlog
that differ between two servers: the connection id (thread) is masked, and
the binlog file's number, the position (pos) and the GTID's transaction
number are compared relative to the lowest of the row events (the server's
UUID masked), and so is the GTID that is a transaction's id in transaction
metadata: a server whose binlog index does not start at 000001 gives the
same events, while the file's name, its number's width, a change of file
and the distances between positions are still compared.
"""
import json
import re
import sys
from collections import defaultdict

# Masked: they differ between two runs of the same connector.
VOLATILE_SOURCE = {"ts_ms", "ts_us", "ts_ns", "txId", "lsn", "sequence", "version", "db"}
VOLATILE_ENVELOPE = {"ts_ms", "ts_us", "ts_ns"}
VOLATILE_HEADERS = {"__debezium.context.runId"}
# Heartbeats come at intervals: only the first of each run is compared.
HEARTBEAT_PREFIX = "__debezium-heartbeat."
# A PostgreSQL transaction id as Debezium writes it in transaction
# metadata, "xid:lsn": both numbers differ between runs, the form does not.
TXID = re.compile(r"^[0-9]+:[0-9]+$")


class Raw(str):
    """A number kept as the text it was written with."""


def parse(text):
    if text is None:
        return None
    return json.loads(
        text,
        object_pairs_hook=lambda pairs: ("obj", pairs),
        parse_float=Raw,
        parse_int=Raw,
        parse_constant=Raw,
    )


MYSQL = {"on": False}


def relative_gtid(v, base):
    """MySQL "uuid[:tag]:N" or MariaDB "D-S-N": the number relative to base's, the UUID masked."""
    m = re.match(r"^(.*[:-])(\d+)$", v)
    if not m:
        return v
    prefix = re.sub(r"^[0-9a-f-]{36}", "<uuid>", m.group(1))
    return prefix + str(int(m.group(2)) - base[1])


def mask_txid(v, base=None):
    """A transaction id: PostgreSQL's "xid:lsn" masked, MySQL's GTID made relative."""
    if not isinstance(v, str):
        return v
    if MYSQL["on"]:
        return relative_gtid(v, base) if base else v
    return "<xid>:<lsn>" if TXID.match(v) else v


BINLOG_FILE = re.compile(r"^(.*\.)(\d+)$")


def relative_source(v, base):
    """MySQL: thread masked, pos, the GTID's number and the file's relative to base (pos, gno, file)."""
    for j, (sk, sv) in enumerate(v[1]):
        if sk == "thread":
            v[1][j] = (sk, "<masked>")
        elif sk == "file" and isinstance(sv, str) and base:
            m = BINLOG_FILE.match(sv)
            if m:
                n = m.group(2)
                v[1][j] = (sk, "%s<first+%d, %d digits>" % (m.group(1), int(n) - base[2], len(n)))
        elif sk == "pos" and isinstance(sv, str) and base:
            v[1][j] = (sk, str(int(sv) - base[0]))
        elif sk == "gtid" and isinstance(sv, str) and base:
            v[1][j] = (sk, relative_gtid(sv, base))


def mask(value, topic="", base=None):
    """Blanks the volatile members of a parsed envelope or record, in place."""
    if not (isinstance(value, tuple) and value[0] == "obj"):
        return value
    pairs = value[1]
    payload = next((v for k, v in pairs if k == "payload"), None)
    if payload is None or not (isinstance(payload, tuple) and payload[0] == "obj"):
        payload = value  # schemas disabled: the whole message is the payload
    record = topic.endswith(".transaction") or topic.startswith(HEARTBEAT_PREFIX)
    for i, (k, v) in enumerate(payload[1]):
        if k in VOLATILE_ENVELOPE:
            payload[1][i] = (k, "<masked>")
        if k == "id" and record:
            payload[1][i] = (k, mask_txid(v, base))
        if k == "source" and isinstance(v, tuple):
            for j, (sk, sv) in enumerate(v[1]):
                if sk in VOLATILE_SOURCE:
                    v[1][j] = (sk, "<masked>")
            if MYSQL["on"]:
                relative_source(v, base)
        if k == "transaction" and isinstance(v, tuple):
            for j, (sk, sv) in enumerate(v[1]):
                if sk == "id":
                    v[1][j] = (sk, mask_txid(sv, base))
    return value


def mysql_base(messages):
    """The lowest pos, GTID number and binlog file number of the row events (those on a table topic)."""
    pos, gno, fno = None, None, None
    for m in messages:
        if not m.get("value") or m["topic"].count(".") < 2:
            continue
        src = json.loads(m["value"]).get("payload", {}).get("source", {})
        g = re.search(r"(\d+)$", src.get("gtid") or "")
        p = int(src.get("pos", 0))
        pos = p if pos is None else min(pos, p)
        if g:
            gno = int(g.group(1)) if gno is None else min(gno, int(g.group(1)))
        f = BINLOG_FILE.match(src.get("file") or "")
        if f:
            fno = int(f.group(2)) if fno is None else min(fno, int(f.group(2)))
    return (pos or 0, gno or 0, fno or 0)


def label(item, index):
    if isinstance(item, tuple) and item[0] == "obj":
        for k, v in item[1]:
            if k == "field":
                return v
    return str(index)


def report_members(path, ka, kb, out):
    """Names missing or extra on sluice's side, or the same names in another order."""
    missing = [k for k in ka if k not in kb]
    extra = [k for k in kb if k not in ka]
    if missing:
        out.append((path, "missing %s" % missing))
    if extra:
        out.append((path, "extra %s" % extra))
    if not missing and not extra:
        out.append((path, "order %s != %s" % (ka, kb)))


def diff(a, b, path, out):
    if isinstance(a, tuple) and isinstance(b, tuple):
        ka = [k for k, _ in a[1]]
        kb = [k for k, _ in b[1]]
        common = [k for k in ka if k in kb]
        if ka != kb:
            report_members(path, ka, kb, out)
        da, db = dict(a[1]), dict(b[1])
        for k in common:
            diff(da[k], db[k], path + "." + k, out)
        return
    if isinstance(a, list) and isinstance(b, list):
        la = [label(x, i) for i, x in enumerate(a)]
        lb = [label(x, i) for i, x in enumerate(b)]
        named = all(isinstance(x, tuple) for x in a + b) and any(
            not l.isdigit() for l in la + lb)
        if named:
            # Struct fields of a schema: matched by name, so an extra field is one difference.
            if la != lb:
                report_members(path, la, lb, out)
            ib = dict(zip(lb, b))
            for name, va in zip(la, a):
                if name in ib:
                    diff(va, ib[name], "%s[%s]" % (path, name), out)
            return
        if len(a) != len(b):
            out.append((path, "%d items != %d items" % (len(a), len(b))))
        for i, (va, vb) in enumerate(zip(a, b)):
            diff(va, vb, "%s[%d]" % (path, i), out)
        return
    if type(a) is not type(b) or a != b:
        out.append((path, "%s != %s" % (show(a), show(b))))


def show(v):
    text = json.dumps(unparse(v), ensure_ascii=False)
    return text if len(text) < 120 else text[:117] + "..."


def unparse(v):
    if isinstance(v, tuple):
        return {k: unparse(x) for k, x in v[1]}
    if isinstance(v, list):
        return [unparse(x) for x in v]
    return v


def load(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def main():
    args = sys.argv[1:]
    if args and args[0] == "--mysql":
        MYSQL["on"] = True
        args = args[1:]
    expected, actual, known = load(args[0]), load(args[1]), json.load(open(args[2]))
    absent = set()
    for k in known:
        if k.get("absent"):
            absent.update(k.get("events", []))
    base_e = mysql_base(expected) if MYSQL["on"] else None
    base_a = mysql_base(actual) if MYSQL["on"] else None
    by_topic = defaultdict(list)
    for m in actual:
        by_topic[m["topic"]].append(m)
    seen = defaultdict(int)
    failures, accepted = [], []
    used = set()

    def accept(event, topic, path, what):
        for n, k in enumerate(known):
            if path != k["path"] and not path.startswith(k["path"] + ".") \
                    and not path.startswith(k["path"] + "["):
                continue
            if k.get("events", "all") != "all" and event not in k["events"]:
                continue
            if k.get("topic") and k["topic"] != topic:
                continue
            if k.get("contains") and k["contains"] not in what:
                continue
            used.add(n)
            return k["reason"]
        return None

    for i, e in enumerate(expected):
        topic = e["topic"]
        if i in absent:
            reason = next(k["reason"] for k in known if k.get("absent") and i in k["events"])
            accepted.append((i, topic, "event", "not sent by sluice", reason))
            for n, k in enumerate(known):
                if k.get("absent") and i in k["events"]:
                    used.add(n)
            continue
        k = seen[topic]
        seen[topic] += 1
        if topic.startswith(HEARTBEAT_PREFIX) and k > 0:
            continue
        if k >= len(by_topic[topic]):
            found = [("event", "missing: %s message %d of the topic" % (topic, k))]
        else:
            a = by_topic[topic][k]
            found = []
            diff(mask(parse(e["key"]), topic, base_e), mask(parse(a["key"]), topic, base_a),
                 "key", found)
            diff(mask(parse(e["value"]), topic, base_e), mask(parse(a["value"]), topic, base_a),
                 "value", found)
            eh = [h for h in e.get("headers", []) if h[0] not in VOLATILE_HEADERS]
            ah = [h for h in a.get("headers", []) if h[0] not in VOLATILE_HEADERS]
            if eh != ah:
                found.append(("headers", "%s != %s" % (eh, ah)))
        for path, what in found:
            reason = accept(i, topic, path, what)
            (accepted if reason else failures).append((i, topic, path, what, reason))
    extra = {t: len(ms) - seen[t] for t, ms in by_topic.items()
             if len(ms) > seen[t] and not t.startswith(HEARTBEAT_PREFIX)}
    for t, n in extra.items():
        what = "%d unexpected extra messages" % n
        reason = accept(-1, t, "event", what)
        (accepted if reason else failures).append((-1, t, "event", what, reason))

    grouped = defaultdict(list)
    for i, topic, path, what, reason in accepted:
        grouped[(topic, path, what, reason)].append(i)
    for (topic, path, what, reason), events in grouped.items():
        print("known    %s %s: %s in %d event(s) (%s)" % (topic, path, what, len(events), reason))
    for i, topic, path, what, _ in failures:
        print("DIFFERS  #%d %s %s: %s" % (i, topic, path, what))
    for n, k in enumerate(known):
        if n not in used and not k.get("not_in_golden"):
            print("stale    known difference no longer seen: %s" % k["path"])
    print("%d events compared: %d differences, %d of them known"
          % (len(expected), len(failures) + len(accepted), len(accepted)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
