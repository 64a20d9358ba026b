#!/usr/bin/env python3
"""The paced driver of the MW2L workload (bench/lib/mysql.sh): what
`pgbench --rate` is to W2L, for MariaDB and MySQL, which have no pgbench.

  mysql_pace.py --rate N --tx N --clients N --table T -- CLIENT [ARGS...]

Starts CLIENTS copies of the server's command-line client (CLIENT ARGS...,
reading SQL on its standard input, autocommit) and hands them, round robin,
TX single-row INSERTs on a fixed schedule: transaction i is due at
start + i / RATE. Each row carries the time it was scheduled (sched_us) and
the server's clock as the statement ran (t_us, read right before its
one-statement transaction commits), so the lag behind the schedule and the
commit-to-event latency can both be read from the rows afterwards. A client
that falls behind queues statements in its pipe; the schedule goes on, as
pgbench's does, and the lag shows it.

Prints one JSON object: the transactions sent, the seconds from the first
due time to the last client's exit, and the rate that makes.
"""
import argparse
import json
import subprocess
import sys
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rate", type=float, required=True)
    ap.add_argument("--tx", type=int, required=True)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--table", required=True)
    ap.add_argument("client", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.client[1:] if a.client[:1] == ["--"] else a.client
    if not cmd or a.rate <= 0 or a.tx < 1 or a.clients < 1:
        sys.exit("mysql_pace: usage: --rate N --tx N --clients N --table T -- CLIENT [ARGS...]")
    clients = [subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, bufsize=0)
               for _ in range(a.clients)]
    # Let the clients connect before the schedule starts.
    for c in clients:
        c.stdin.write(b"SELECT 1;\n")
    time.sleep(0.5)
    start = time.time() + 0.05
    interval = 1.0 / a.rate
    i = 0
    while i < a.tx:
        now = time.time()
        due = start + i * interval
        if due > now:
            time.sleep(due - now)
            continue
        # Everything due by now goes out, one statement per transaction.
        while i < a.tx and start + i * interval <= now:
            sched_us = int((start + i * interval) * 1e6)
            client = i % a.clients
            stmt = (f"INSERT INTO {a.table} (client, n, label, sched_us, t_us) VALUES "
                    f"({client}, {(i * 7919) % 1000000}, 'one small transaction', {sched_us}, "
                    "UNIX_TIMESTAMP(SYSDATE(6)) * 1000000);\n")
            clients[client].stdin.write(stmt.encode())
            i += 1
    failed = 0
    for c in clients:
        c.stdin.close()
    for c in clients:
        if c.wait() != 0:
            failed += 1
    end = time.time()
    print(json.dumps({"tx": a.tx, "clients": a.clients, "offered_rate": a.rate,
                      "seconds": round(end - start, 3),
                      "tps": round(a.tx / (end - start), 1) if end > start else None,
                      "failed_clients": failed}))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
