#!/usr/bin/env python3
"""The MySQL/MariaDB part of the benchmark's report: the runs of the MW
workloads (bench/lib/mysql.sh) in runs.jsonl, per server, with the ratios
the goals are stated in, as markdown in RESULTS/results-mysql.md.

  report_mysql.py --results DIR [--publish DOCS_DIR] [--no-chart]
  report_mysql.py --results DIR --summary

--summary prints only the medians over the runs, one line per workload and
server: the goals' ratios (sluice-file / binlog tool and sluice-kafka /
Debezium rates), sluice's peak RSS, the server's CPU seconds per contender
and the load average. --publish replaces the section between the "mysql-results:begin" and
"mysql-results:end" markers of DOCS_DIR/benchmarks.md. The medians, ratios
and cells are report.py's.
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report  # noqa: E402

CONTENDERS = ["binlog-tool", "sluice-file", "sluice-kafka", "debezium"]
WORKLOADS = ["MW1", "MW1N", "MW2L", "MW3", "MWC", "MWCS"]
# The catch-ups: the changes are in the binlog before a contender starts, so
# the rate is the contender's own, not the server's pace. The decoder goal
# (sluice-file against the binlog tool) is judged on MWC when it ran: the
# outputs of comparable size (keys and values without schemas).
CATCHUP = ("MWC", "MWCS")
GOAL_FILE_VS_TOOL_ON = "MWC"
# Contenders whose commit-to-acknowledgement latency the probe reads from
# the Kafka messages (MW2L); the binlog tool's and the file sink's outputs
# carry no time per event.
KAFKA = ("sluice-kafka", "debezium")
SERVERS = [("mariadb", "MariaDB", "mariadb-binlog"), ("mysql", "MySQL", "mysqlbinlog")]

# Goals from the benchmark issue (issue 9), checked against the medians.
GOAL_FILE_VS_TOOL = 1.0
GOAL_KAFKA_VS_DEBEZIUM = 5.0
GOAL_RSS_W1_MB = 64


def markdown(runs, machine, info):
    g = report.group(runs)
    m = machine
    sizes = info.get("sizes", {})
    out = [
        f"Run of {m['date']} on {m['nproc']} × {m['cpu']}, {m['memory']} RAM; "
        f"MariaDB {info.get('mariadb') or '–'}, MySQL {info.get('mysql') or '–'}, "
        f"Kafka {m['kafka']}, Debezium's MySQL connector {info.get('debezium_mysql') or '–'} and "
        f"MariaDB connector {info.get('debezium_mariadb') or '–'} "
        f"(heap `{m['debezium_heap']}`), librdkafka {m['librdkafka']}, "
        + (f"sluice {m['sluice_label']}" if m.get("sluice_label") else f"sluice {m['sluice_commit']}")
        + (f" with {m['sluice_settings']}" if m.get("sluice_settings") else "")
        + f". {m['runs']} run(s) per contender and workload"
        + (", smoke sizes" if m["smoke"] else "")
        + (f", sizes scaled by {m['scale']}" if float(m["scale"]) != 1 else "")
        + ".",
        "",
        f"Workloads: MW1 {sizes.get('MW1_rows', 0):,} rows inserted, updated and deleted in "
        f"transactions of {sizes.get('MW1_batch', 0):,} (JSON with schemas, JsonConverter's default); "
        "MW1N the same with keys and values without schemas (schemas.enable=false, for sluice and "
        "Debezium alike; the binlog tool writes the same text in both); "
        f"MW2L {sizes.get('MW2L_tx', 0):,} single-row transactions from "
        f"{sizes.get('MW2L_clients', 0)} clients paced at {sizes.get('MW2L_rate', 0):,} per second; "
        f"MW3 {sizes.get('MW3_rows', 0):,} rows of "
        f"about 2 kB in transactions of {sizes.get('MW3_batch', 0):,}"
        + ("; MWC (keys and values without schemas) and MWCS (with schemas) MW1's changes "
           "written first, with no contender running, each contender then started at the "
           "beginning of their binlog file and timed from its start to its last change (the "
           "decoder's own rate)" if any(r["workload"].split("/")[0] in CATCHUP for r in runs) else "")
        + ". binlog-tool is "
        "mariadb-binlog (MariaDB) or mysqlbinlog (MySQL) with -v, reading remotely into a file. "
        "Each cell is the median, with the minimum and maximum in brackets.",
        "",
    ]
    for server, name, tool in SERVERS:
        ws = [w for w in WORKLOADS if any(r["workload"] == f"{w}/{server}" for r in runs)]
        if not ws:
            continue
        all_ws = ws
        catchups = [w for w in ws if w in CATCHUP]
        ws = [w for w in ws if w not in CATCHUP]
        cs = [c for c in CONTENDERS if any(r["contender"] == c and r["workload"].endswith("/" + server)
                                           for r in runs)]
        out.append(f"#### {name}")
        out.append("")

        def table(title, key, digits, rows=None):
            rows = ws if rows is None else rows
            # The contenders that ran these workloads (Debezium runs no catch-up).
            cols = [c for c in cs if any(g.get((f"{w}/{server}", c)) for w in rows)]
            if not rows or not cols:
                return
            out.append(f"**{title}**")
            out.append("")
            out.append("| workload | " + " | ".join(tool if c == "binlog-tool" else c for c in cols) + " |")
            out.append("|---|" + "---|" * len(cols))
            for w in rows:
                out.append(f"| {w} | " + " | ".join(
                    report.stat(g, f"{w}/{server}", c, key).cell(digits) for c in cols) + " |")
            out.append("")

        if catchups:
            out.append("**Catch-up (" + ", ".join(catchups) + "): the changes already in the "
                       "binlog, each contender timed from its start to its last change**")
            out.append("")
            table("Catch-up: changes per second", "rate", 0, catchups)
            table("Catch-up: seconds from the contender's start to its last change", "seconds", 2, catchups)
            table("Catch-up: user CPU seconds", "user_s", 2, catchups)
            table("Catch-up: system (kernel) CPU seconds", "sys_s", 2, catchups)
            table("Catch-up: peak RSS (MB)", "rss_peak_mb", 1, catchups)
            table("Catch-up: output (MB)", "output_mb", 0, catchups)
            table("Catch-up: CPU seconds of the server process (the dump thread reading and "
                  "sending the binlog)", "server_cpu_s", 2, catchups)
            table("Catch-up: 1-minute load average at the contender's start", "load_1m", 2, catchups)
            # One writing serves every contender of a run: counted once per run.
            writes = []
            for w in catchups:
                per_run = {r["run"]: r["write_s"] for r in runs
                           if r["workload"] == f"{w}/{server}" and r["write_s"] is not None}
                writes.append(f"{w} {report.Stat(list(per_run.values())).cell(1)} s")
            out.append("The server wrote the changes, with no contender running, in "
                       + "; ".join(writes) + ".")
            out.append("")

        table("Rows per second, first commit to last event written or acknowledged", "rate", 0)
        table("Seconds the workload's statements took in the contender's run (the server's "
              "own pace, which bounds every contender that keeps up)", "workload_s", 1)
        table("Seconds from the end of the workload to the last event (how far behind the "
              "contender was when the server finished)", "behind_s", 2)
        table("Peak RSS (MB) during the workload", "rss_peak_mb", 1)
        table("RSS (MB) when idle, streaming, before the workload", "rss_idle_mb", 1)
        table("CPU seconds of the CDC process during the workload", "cpu_s", 2)
        table("of which system (kernel) CPU seconds", "sys_s", 2)
        table(f"CPU seconds of the server process ({'mysqld' if server == 'mysql' else 'mariadbd'}, "
              "all its threads: the workload's statements and the dump thread) during the run",
              "server_cpu_s", 2)
        table("1-minute load average of the machine as the run started", "load_1m", 2)

        if "MW2L" in ws:
            lat_table(out, g, server, cs, sizes)

        out.append("**Ratios and goals** (ratio of the medians; range of the per-run ratios in brackets)")
        out.append("")
        ws = all_ws
        out.append("| measure | " + " | ".join(ws) + " | goal | met? |")
        out.append("|---|" + "---|" * len(ws) + "---|---|")

        def rate_row(label, num, den, goal, judge_on=None):
            # MW2L's rate is its pace (every contender that keeps up has it):
            # shown, but not held against a goal on decoding speed.
            rs = [report.paired_ratio(g, f"{w}/{server}", num, den, "rate") for w in ws]
            vals = [t[0] for w, t in zip(ws, rs) if t[0] is not None and w != "MW2L"
                    and (judge_on is None or w == judge_on)]
            verdict = "–" if not vals else "met" if all(v >= goal for v in vals) else "missed"
            if judge_on is not None and vals:
                verdict += f" (on {judge_on})"
            out.append(f"| {label} | " + " | ".join(
                report.ratio_cell(t) + (" (paced, no goal)" if w == "MW2L" and t[0] is not None else "")
                for w, t in zip(ws, rs)) + f" | ≥ {goal:g} | {verdict} |")

        if "sluice-file" in cs and "binlog-tool" in cs:
            # With the catch-up run, the goal is judged on it: in the other
            # workloads both keep up and the ratio is the server's pace.
            rate_row(f"rate sluice-file / {tool}", "sluice-file", "binlog-tool", GOAL_FILE_VS_TOOL,
                     GOAL_FILE_VS_TOOL_ON if GOAL_FILE_VS_TOOL_ON in ws else None)
            # When both keep up with the server, the rates are its pace; the
            # CPU each needed is what tells the decoders apart.
            rs = [report.paired_ratio(g, f"{w}/{server}", "sluice-file", "binlog-tool", "cpu_s")
                  for w in ws]
            out.append(f"| CPU s sluice-file / {tool} | "
                       + " | ".join(report.ratio_cell(t) for t in rs) + " | | |")
            rs = [report.paired_ratio(g, f"{w}/{server}", "sluice-file", "binlog-tool", "server_cpu_s")
                  for w in ws]
            if any(t[0] is not None for t in rs):
                out.append(f"| server CPU s with sluice-file / with {tool} | "
                           + " | ".join(report.ratio_cell(t) for t in rs) + " | | |")
        if "sluice-kafka" in cs and "debezium" in cs:
            rate_row("rate sluice-kafka / Debezium", "sluice-kafka", "debezium", GOAL_KAFKA_VS_DEBEZIUM)
            rs = [report.paired_ratio(g, f"{w}/{server}", "debezium", "sluice-kafka", "rss_peak_mb")
                  for w in ws]
            out.append("| peak RSS Debezium / sluice-kafka | "
                       + " | ".join(report.ratio_cell(t) for t in rs) + " | | |")
            rs = [report.paired_ratio(g, f"{w}/{server}", "debezium", "sluice-kafka", "cpu_s") for w in ws]
            out.append("| CPU s Debezium / sluice-kafka | "
                       + " | ".join(report.ratio_cell(t) for t in rs) + " | | |")
        sluices = [c for c in ("sluice-file", "sluice-kafka") if c in cs]
        for bulk in ("MW1", "MW1N"):
            if bulk not in ws or not sluices:
                continue
            peak = max([v for v in (report.stat(g, f"{bulk}/{server}", c, "rss_peak_mb").hi
                                    for c in sluices) if v is not None], default=None)
            if peak is not None:
                cells = ["" if w != bulk else report.fmt(peak, 1) + " MB" for w in ws]
                out.append(f"| sluice peak RSS during {bulk} | " + " | ".join(cells)
                           + f" | ≤ {GOAL_RSS_W1_MB} MB | {'met' if peak <= GOAL_RSS_W1_MB else 'missed'} |")
        out.append("")
    failed = [r for r in runs if not r["ok"]]
    if failed:
        out.append("**Failed runs:** " + "; ".join(
            f"{r['workload']} {r['contender']} run {r['run']}: {r['error']}" for r in failed))
        out.append("")
    return "\n".join(out)


def summary(runs):
    """The medians over the runs, one line per workload and server: the goals'
    ratios (of the medians, as in the markdown), sluice's peak RSS, the
    server's CPU seconds in each contender's runs, the load average."""
    g = report.group(runs)
    out = []
    for server, _, tool in SERVERS:
        for w in WORKLOADS:
            key = f"{w}/{server}"
            rs = [r for r in runs if r["workload"] == key]
            if not rs:
                continue
            n = max(len([r for r in g.get((key, c), []) if r["ok"]]) for c in CONTENDERS)
            parts = [f"{key:<13} {n} run(s):"]
            for label, num, den in ((f"file/{tool}", "sluice-file", "binlog-tool"),
                                    ("kafka/debezium", "sluice-kafka", "debezium")):
                med = report.paired_ratio(g, key, num, den, "rate")[0]
                if med is not None:
                    parts.append(f"{label} {med:.2f}")
            peaks = [report.stat(g, key, c, "rss_peak_mb").med for c in ("sluice-file", "sluice-kafka")]
            peaks = [p for p in peaks if p is not None]
            if peaks:
                parts.append(f"sluice peak RSS {max(peaks):.1f} MB")
            cpu = [f"{c} {report.stat(g, key, c, 'server_cpu_s').med:.2f}" for c in CONTENDERS
                   if report.stat(g, key, c, "server_cpu_s").med is not None]
            if cpu:
                parts.append("server CPU s (" + ", ".join(cpu) + ")")
            load = report.Stat([r.get("load_1m") for r in rs if r["ok"]])
            if load.med is not None:
                parts.append(f"load {load.med:.2f} ({load.lo:.2f}–{load.hi:.2f})")
            failed = len([r for r in rs if not r["ok"]])
            if failed:
                parts.append(f"{failed} FAILED")
            out.append(" ".join(parts))
    return "\n".join(out) if out else "no MySQL/MariaDB runs"


def lat_table(out, g, server, cs, sizes):
    """MW2L's latencies (Kafka contenders) and what the pacer achieved (all)."""
    w = f"MW2L/{server}"
    out.append(f"**MW2L: commit-to-acknowledgement latency (ms) at {sizes.get('MW2L_rate', 0):,} "
               "transactions/s offered**")
    out.append("")
    out.append("| contender | p50 | p99 | p99.9 | max | after warm-up: p50 | p99 | p99.9 | max "
               "| achieved tx/s | schedule lag avg / max (ms) |")
    out.append("|---|---|---|---|---|---|---|---|---|---|---|")
    for c in cs:
        rs = [r for r in g.get((w, c), []) if r["ok"]]
        tps = report.Stat([(r.get("driver") or {}).get("tps") for r in rs])
        lag = report.Stat([(r.get("driver") or {}).get("schedule_lag_avg_ms") for r in rs])
        lagmax = report.Stat([(r.get("driver") or {}).get("schedule_lag_max_ms") for r in rs])
        if c in KAFKA:
            lat = " | ".join(report.stat(g, w, c, k).cell(1) for k in
                             ("p50_ms", "p99_ms", "p999_ms", "max_ms", "steady_p50_ms",
                              "steady_p99_ms", "steady_p999_ms", "steady_max_ms"))
        else:
            lat = " | ".join(["not measured"] + ["–"] * 7)
        name = c if c != "binlog-tool" else dict((s, t) for s, _, t in SERVERS)[server]
        out.append(f"| {name} | {lat} | {tps.cell(0)} | {lag.cell(1)} / {lagmax.cell(1)} |")
    out.append("")
    if any(c not in KAFKA for c in cs):
        out.append("The binlog tool and the file sink write no time per event, so their latency is "
                   "not measured; for them MW2L shows CPU and memory at a steady light load.")
        out.append("")


def publish(docs, md):
    doc = os.path.join(docs, "benchmarks.md")
    begin, end = "<!-- mysql-results:begin -->", "<!-- mysql-results:end -->"
    with open(doc) as f:
        text = f.read()
    if begin not in text or end not in text:
        sys.exit(f"report_mysql: {doc} has no {begin} ... {end} section")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    with open(doc, "w") as f:
        f.write(head + begin + "\n" + md + "\n" + end + tail)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--results", required=True)
    ap.add_argument("--publish")
    ap.add_argument("--no-chart", action="store_true", help="accepted for report.py's arguments")
    ap.add_argument("--summary", action="store_true", help="medians only, one line per workload and server")
    a = ap.parse_args()
    runs, machine = report.load(a.results)
    runs = [r for r in runs if "/" in r["workload"]]
    for r in runs:
        d = (r.get("driver") or {}).get("seconds")
        r["workload_s"] = d if r["ok"] else None
        # The driver's clock starts a moment before the first commit (t0).
        r["behind_s"] = (max(0.0, r["seconds"] - d) if r["ok"] and d is not None
                         and r.get("seconds") is not None else None)
        # The catch-ups' driver: the writing before the contender started,
        # and the load average as it started.
        drv = r.get("driver") or {}
        r["write_s"] = drv.get("write_seconds")
        # The load as the sampler started (report.derive); results written
        # before the probe recorded it have the catch-ups' driver's only.
        load = drv.get("load_average")
        if r.get("load_1m") is None and load:
            r["load_1m"] = float(load.split()[0])
        # The probe's second process is the server's (bench/lib/mysql.sh).
        r["server_cpu_s"] = r.get("walsender_cpu_s")
        r["user_s"] = (r["cpu_s"] - r["sys_s"] if r.get("cpu_s") is not None
                       and r.get("sys_s") is not None else None)
        b = (r.get("wait") or {}).get("bytes")
        r["output_mb"] = b / 1e6 if r["ok"] and b is not None else None
    try:
        with open(os.path.join(a.results, "mysql.json")) as f:
            info = json.load(f)
    except OSError:
        info = {}
    if a.summary:
        print(summary(runs))
        return
    md = markdown(runs, machine, info)
    with open(os.path.join(a.results, "results-mysql.md"), "w") as f:
        f.write(md + "\n")
    if machine.get("smoke"):
        for c in CONTENDERS:
            rs = [r for r in runs if r["contender"] == c]
            if not rs:
                continue
            bad = [r for r in rs if not r["ok"]]
            detail = ", ".join(f"{r['workload']} {'ok' if r['ok'] else 'FAILED'}" for r in rs)
            print(f"smoke: {c:<15} {'FAILED' if bad else 'ok'} ({detail})")
    else:
        print(md)
    if a.publish:
        publish(a.publish, md)


if __name__ == "__main__":
    main()
