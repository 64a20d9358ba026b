#!/usr/bin/env python3
"""Turns the benchmark's raw runs (runs.jsonl, written by bench/run.sh) into
figures: per workload and contender the median, min and max of each measure,
the ratios sluice's goals are stated in, a markdown table and a PNG chart.

  report.py --line JSON          one line summing up one run (for the log)
  report.py --results DIR [--publish DOCS_DIR] [--no-chart]

--publish replaces the results section of DOCS_DIR/benchmarks.md (between
the "results:begin" and "results:end" markers) and copies the chart to
DOCS_DIR/benchmarks.png. Only the standard library is needed, except for
the chart (matplotlib), which is skipped when it is missing.
"""
import argparse
import json
import os
import statistics
import sys

CONTENDERS = ["pg_recvlogical", "copy", "sluice-file", "sluice-file-stream", "sluice-kafka",
              "sluice-kafka-stream", "sluice-kafka-avro", "debezium", "debezium-avro"]
WORKLOADS = ["W1", "W2", "W2L", "W3", "W5", "S1", "S1W"]
SNAPSHOTS = ("S1", "S1W")
# Contenders whose commit-to-acknowledgement latency the probe reads from
# JSON values (W2L); the Avro ones write no JSON.
KAFKA = ("sluice-kafka", "debezium")

# Goals from the benchmark issue, checked against the medians.
GOAL_FILE_VS_RECVLOGICAL = 0.9
GOAL_KAFKA_VS_DEBEZIUM = 5.0
GOAL_P99_MS = 10.0
GOAL_P99_RATE = 5000
GOAL_RSS_STEADY_MB = 32
GOAL_RSS_W1_MB = 64
GOAL_AVRO_VS_RECVLOGICAL = 0.8
GOAL_SNAPSHOT_FILE_VS_COPY = 0.5
GOAL_SNAPSHOT_KAFKA_VS_DEBEZIUM = 10.0
GOAL_RSS_S1_MB = 64


def derive(run):
    """Adds the derived figures to one run's record and returns it."""
    wait = run.get("wait") or {}
    end = wait.get("last_write") or wait.get("last_append") or wait.get("done_at")
    run["end"] = end
    run["seconds"] = None
    run["rate"] = None
    if run["ok"] and end and run.get("t0"):
        run["seconds"] = end - run["t0"]
        if run["seconds"] > 0:
            run["rate"] = run["changes"] / run["seconds"]
    procs = (run.get("sample") or {}).get("procs") or []
    cdc = procs[0] if procs else {}
    run["cpu_s"] = cdc.get("cpu_s")
    run["sys_s"] = cdc.get("sys_s")
    run["rss_idle_mb"] = cdc.get("rss_start_kb", 0) / 1024 if cdc else None
    run["rss_peak_mb"] = cdc.get("peak_kb", 0) / 1024 if cdc else None
    run["walsender_cpu_s"] = procs[1].get("cpu_s") if len(procs) > 1 else None
    # The machine's 1-minute load average as the sampler started (the
    # probe records it since 2026-12-03; older results have none).
    sample = run.get("sample") or {}
    load = sample.get("load_1m_start")
    run["load_1m"] = load if load is not None and load >= 0 else None
    run["load_1m_max"] = sample.get("load_1m_max") if run["load_1m"] is not None else None
    lat = run.get("latency") or {}
    for k in ("p50_ms", "p99_ms", "p999_ms", "max_ms", "steady_p50_ms", "steady_p99_ms",
              "steady_p999_ms", "steady_max_ms"):
        run[k] = lat.get(k)
    return run


def fmt(v, digits=0):
    if v is None:
        return "–"
    if digits == 0:
        return f"{v:,.0f}"
    return f"{v:,.{digits}f}"


def line(run):
    """One human-readable line about one run."""
    r = derive(run)
    got = (r.get("wait") or {}).get("messages") or (r.get("wait") or {}).get("lines")
    parts = [f"{r['workload']:<4} {r['contender']:<15} run {r['run']}:"]
    if r["ok"]:
        parts.append("ok")
    else:
        parts.append(f"FAILED ({r['error']})")
    if got is not None:
        parts.append(f"{got}/{r['messages']} events")
    if r["rate"]:
        parts.append(f"{fmt(r['rate'])} rows/s")
    if r["seconds"]:
        parts.append(f"{r['seconds']:.2f} s")
    if r["rss_peak_mb"] is not None:
        parts.append(f"RSS {r['rss_idle_mb']:.1f}→{r['rss_peak_mb']:.1f} MB")
    if r["cpu_s"] is not None:
        parts.append(f"CPU {r['cpu_s']:.2f} s")
    if r["walsender_cpu_s"] is not None:
        # The sampler's second process: the slot's walsender, or for the
        # MySQL workloads ("MW1/mysql") the database server's process.
        who = "server" if "/" in r["workload"] else "walsender"
        parts.append(f"{who} CPU {r['walsender_cpu_s']:.2f} s")
    if r["load_1m"] is not None:
        parts.append(f"load {r['load_1m']:.2f} (max {r['load_1m_max']:.2f})")
    if r["p99_ms"] is not None:
        parts.append(f"latency p50 {r['p50_ms']:.1f} p99 {r['p99_ms']:.1f} p99.9 {r['p999_ms']:.1f} ms")
    seam = r.get("seam")
    if seam:
        parts.append(f"seam {'exact' if seam.get('ok') else 'WRONG'} ({seam.get('reads', 0):,} reads, "
                     f"{seam.get('changes', 0):,} changes, {seam.get('missing', 0)} missing, "
                     f"{seam.get('extra', 0)} extra, {seam.get('differ', 0)} differing)")
    return "bench: " + " ".join(parts)


def load(results):
    runs = []
    with open(os.path.join(results, "runs.jsonl")) as f:
        for text in f:
            if text.strip():
                runs.append(derive(json.loads(text)))
    with open(os.path.join(results, "machine.json")) as f:
        machine = json.load(f)
    return runs, machine


class Stat:
    """Median, min and max of one measure over the runs that have it."""

    def __init__(self, values):
        self.values = [v for v in values if v is not None]
        self.n = len(self.values)
        self.med = statistics.median(self.values) if self.values else None
        self.lo = min(self.values) if self.values else None
        self.hi = max(self.values) if self.values else None

    def cell(self, digits=0):
        if self.med is None:
            return "–"
        if self.n == 1:
            return fmt(self.med, digits)
        return f"{fmt(self.med, digits)} ({fmt(self.lo, digits)}–{fmt(self.hi, digits)})"


def group(runs):
    g = {}
    for r in runs:
        g.setdefault((r["workload"], r["contender"]), []).append(r)
    return g


def stat(g, w, c, key):
    return Stat([r[key] for r in g.get((w, c), []) if r["ok"]])


def paired_ratio(g, w, num, den, key):
    """Ratio of the medians, and the range of the per-run ratios (run i of one
    contender against run i of the other, which ran right after it)."""
    a = {r["run"]: r[key] for r in g.get((w, num), []) if r["ok"] and r[key]}
    b = {r["run"]: r[key] for r in g.get((w, den), []) if r["ok"] and r[key]}
    if not a or not b:
        return None, None, None
    med = statistics.median(a.values()) / statistics.median(b.values())
    per = [a[i] / b[i] for i in a if i in b]
    return med, (min(per) if per else None), (max(per) if per else None)


def ratio_cell(t):
    med, lo, hi = t
    if med is None:
        return "–"
    if lo is None or lo == hi:
        return f"{med:.2f}"
    return f"{med:.2f} ({lo:.2f}–{hi:.2f})"


def markdown(runs, machine, chart_name):
    g = group(runs)
    workloads = [w for w in WORKLOADS if any(r["workload"] == w for r in runs)]
    contenders = [c for c in CONTENDERS if any(r["contender"] == c for r in runs)]
    sizes = machine["sizes"]
    out = []
    m = machine
    out.append(
        f"Run of {m['date']} on {m['nproc']} × {m['cpu']}, {m['memory']} RAM, {m['kernel']}; "
        f"PostgreSQL {m['postgresql']}, Kafka {m['kafka']}, Debezium {m['debezium']} "
        f"({m['java']}, heap `{m['debezium_heap']}`), librdkafka {m['librdkafka']}, "
        + (f"sluice {m['sluice_label']}" if m.get("sluice_label") else
           f"sluice {m['sluice_commit']}"
           + (f" plus {m['sluice_uncommitted_files']} uncommitted source files" if m["sluice_uncommitted_files"] else ""))
        + (f" with {m['sluice_settings']}" if m.get("sluice_settings") else "")
        + f". {m['runs']} run(s) per contender and workload"
        + (", smoke sizes" if m["smoke"] else "")
        + (f", sizes scaled by {m['scale']}" if float(m["scale"]) != 1 else "")
        + "."
    )
    out.append("")
    out.append(
        f"Workloads: W1 {sizes['W1_rows']:,} rows inserted, updated and deleted in transactions of "
        f"{sizes['W1_batch']:,}; W2 {sizes['W2_tx']:,} single-row transactions from "
        f"{sizes['W2_clients']} clients, unpaced; W2L {sizes['W2L_tx']:,} single-row transactions "
        f"from {sizes['W2L_clients']} clients paced at {sizes['W2L_rate']:,}/s; W3 "
        f"{sizes['W3_rows']:,} rows of about 2 kB in transactions of {sizes['W3_batch']:,}"
        + (f"; W5 {sizes['W5_rows']:,} rows of six columns in one transaction (the -stream "
           "contenders: sluice with stream.in.progress.transactions)"
           if "W5_rows" in sizes and any(r["workload"] == "W5" for r in runs) else "")
        + (f"; S1 an initial snapshot of {sizes['S1_rows']:,} rows of six columns and S1W of "
           f"{sizes['S1W_rows']:,} rows of about 2 kB, each while {sizes['seam_writes']:,} changes "
           "are made as it starts, keys and values without schemas, the events of every run "
           "replayed per key against the table" if "S1_rows" in sizes and any(
               r["workload"] in SNAPSHOTS for r in runs) else "")
        + ". Each cell is the median, with the minimum and maximum in brackets."
    )
    out.append("")

    def table(title, key, digits, unit_note=""):
        out.append(f"**{title}**{unit_note}")
        out.append("")
        out.append("| workload | " + " | ".join(contenders) + " |")
        out.append("|---|" + "---|" * len(contenders))
        for w in workloads:
            cells = [stat(g, w, c, key).cell(digits) for c in contenders]
            out.append(f"| {w} | " + " | ".join(cells) + " |")
        out.append("")

    table("Rows per second", "rate", 0, ", first commit to last event acknowledged (Kafka) or written; "
          "for S1 and S1W, the slot's creation to the last row's event (copy: the whole \\copy)")
    table("Peak RSS (MB) during the workload", "rss_peak_mb", 1)
    table("RSS (MB) when idle, streaming, before the workload", "rss_idle_mb", 1)
    table("CPU seconds of the CDC process during the workload", "cpu_s", 2)
    if any(r.get("sys_s") is not None for r in runs):
        table("of which system (kernel) CPU seconds", "sys_s", 2)
    table("CPU seconds of the slot's walsender (PostgreSQL's decoding)", "walsender_cpu_s", 2)
    if any(r.get("load_1m") is not None for r in runs):
        table("1-minute load average of the machine as the run started", "load_1m", 2)

    if "W2L" in workloads and any(c in KAFKA for c in contenders):
        out.append(f"**Commit-to-acknowledgement latency (ms), W2L at {sizes['W2L_rate']:,} transactions/s**")
        out.append("")
        out.append("| contender | p50 | p99 | p99.9 | max | after warm-up: p50 | p99 | p99.9 | max | achieved tx/s | pgbench schedule lag avg / max (ms) |")
        out.append("|---|---|---|---|---|---|---|---|---|---|---|")
        for c in contenders:
            if c not in KAFKA:
                continue
            rs = [r for r in g.get(("W2L", c), []) if r["ok"]]
            tps = Stat([(r.get("driver") or {}).get("tps") for r in rs])
            lag = Stat([(r.get("driver") or {}).get("schedule_lag_avg_ms") for r in rs])
            lagmax = Stat([(r.get("driver") or {}).get("schedule_lag_max_ms") for r in rs])
            out.append(
                f"| {c} | {stat(g, 'W2L', c, 'p50_ms').cell(1)} | {stat(g, 'W2L', c, 'p99_ms').cell(1)} | "
                f"{stat(g, 'W2L', c, 'p999_ms').cell(1)} | {stat(g, 'W2L', c, 'max_ms').cell(1)} | "
                + " | ".join(stat(g, "W2L", c, k).cell(1) for k in
                             ("steady_p50_ms", "steady_p99_ms", "steady_p999_ms", "steady_max_ms"))
                + f" | {tps.cell(0)} | {lag.cell(1)} / {lagmax.cell(1)} |"
            )
        warm = [r["latency"].get("warmup_s") for r in runs if r.get("latency")]
        if any(w is not None for w in warm):
            out.append("")
            out.append(f"\"After warm-up\" leaves out the transactions committed in the first "
                       f"{max(w for w in warm if w is not None):g} s of the run, while a contender "
                       "that has just started settles.")
        out.append("")

    # Ratios and goals.
    out.append("**Ratios and goals** (ratio of the medians; range of the per-run ratios in brackets)")
    out.append("")
    out.append("| measure | " + " | ".join(workloads) + " | goal | met? |")
    out.append("|---|" + "---|" * len(workloads) + "---|---|")

    def verdict(values, ok):
        vals = [v for v in values if v is not None]
        if not vals:
            return "–"
        return "met" if all(ok(v) for v in vals) else "missed"

    # W2L is paced: every contender that keeps up shows the offered rate, so
    # its rate ratios say nothing about speed and are left out of the goals.
    def rate_row(label, num, den, goal, only=None):
        rs = [paired_ratio(g, w, num, den, "rate") if only is None or w in only else (None, None, None)
              for w in workloads]
        cells = [ratio_cell(t) + (" (paced)" if w == "W2L" and t[0] is not None else "")
                 for w, t in zip(workloads, rs)]
        judged = [t[0] for w, t in zip(workloads, rs) if w != "W2L"]
        out.append(f"| {label} | " + " | ".join(cells)
                   + f" | ≥ {goal:g} | {verdict(judged, lambda v: v >= goal)} |")

    streams = [w for w in workloads if w not in SNAPSHOTS]
    snaps = [w for w in workloads if w in SNAPSHOTS]
    if "sluice-file" in contenders and "pg_recvlogical" in contenders and streams:
        rate_row("rate sluice-file / pg_recvlogical", "sluice-file", "pg_recvlogical",
                 GOAL_FILE_VS_RECVLOGICAL, streams)
    if "sluice-kafka" in contenders and "debezium" in contenders and streams:
        rate_row("rate sluice-kafka / Debezium", "sluice-kafka", "debezium", GOAL_KAFKA_VS_DEBEZIUM,
                 streams)
    if "sluice-file" in contenders and "copy" in contenders and snaps:
        rate_row("snapshot rate sluice-file / COPY", "sluice-file", "copy",
                 GOAL_SNAPSHOT_FILE_VS_COPY, snaps)
    if "sluice-kafka" in contenders and "debezium" in contenders and snaps:
        rate_row("snapshot rate sluice-kafka / Debezium", "sluice-kafka", "debezium",
                 GOAL_SNAPSHOT_KAFKA_VS_DEBEZIUM, snaps)
    if "sluice-kafka" in contenders and "debezium" in contenders:
        rs = [paired_ratio(g, w, "debezium", "sluice-kafka", "rss_peak_mb") for w in workloads]
        out.append("| peak RSS Debezium / sluice-kafka | " + " | ".join(ratio_cell(t) for t in rs) + " | | |")
        rs = [paired_ratio(g, w, "debezium", "sluice-kafka", "cpu_s") for w in workloads]
        out.append("| CPU s Debezium / sluice-kafka | " + " | ".join(ratio_cell(t) for t in rs) + " | | |")
    if "sluice-kafka-avro" in contenders and "pg_recvlogical" in contenders:
        rate_row("rate sluice-kafka-avro / pg_recvlogical", "sluice-kafka-avro", "pg_recvlogical",
                 GOAL_AVRO_VS_RECVLOGICAL)
    if "sluice-kafka-avro" in contenders and "debezium-avro" in contenders:
        rate_row("rate sluice-kafka-avro / Debezium (Avro)", "sluice-kafka-avro", "debezium-avro",
                 GOAL_KAFKA_VS_DEBEZIUM)
    sluices = [c for c in ("sluice-file", "sluice-kafka", "sluice-kafka-avro") if c in contenders]
    if "W2L" in workloads and "sluice-kafka" in contenders:
        note = "" if sizes["W2L_rate"] == GOAL_P99_RATE else f" (offered {sizes['W2L_rate']}/s, goal is stated at {GOAL_P99_RATE}/s)"
        for label, key in (("sluice-kafka p99 commit→ack, whole run", "p99_ms"),
                           ("sluice-kafka p99 commit→ack, after warm-up", "steady_p99_ms")):
            p99 = stat(g, "W2L", "sluice-kafka", key).med
            if p99 is None:
                continue
            cells = ["" if w != "W2L" else fmt(p99, 1) + " ms" for w in workloads]
            out.append(
                f"| {label} | " + " | ".join(cells)
                + f" | ≤ {GOAL_P99_MS:g} ms at {GOAL_P99_RATE:,}/s | {verdict([p99], lambda v: v <= GOAL_P99_MS)}{note} |"
            )
    for wl, label, goal in (("W2L", "sluice RSS, steady (peak during W2L)", GOAL_RSS_STEADY_MB),
                            ("W1", "sluice peak RSS during W1", GOAL_RSS_W1_MB),
                            ("S1", "sluice peak RSS during S1", GOAL_RSS_S1_MB),
                            ("S1W", "sluice peak RSS during S1W", GOAL_RSS_S1_MB)):
        if not sluices or wl not in workloads:
            continue
        peak = [stat(g, wl, c, "rss_peak_mb").hi for c in sluices]
        peak = max([v for v in peak if v is not None], default=None)
        cells = ["" if w != wl else fmt(peak, 1) + " MB" for w in workloads]
        out.append(
            f"| {label} | " + " | ".join(cells)
            + f" | ≤ {goal} MB | {verdict([peak], lambda v: v <= goal)} |"
        )
    for w in snaps:
        rs = [r for r in runs if r["workload"] == w and r.get("seam") is not None]
        if not rs:
            continue
        exact = sum(1 for r in rs if r["seam"].get("ok"))
        cells = ["" if x != w else f"{exact} of {len(rs)} runs exact" for x in workloads]
        out.append(f"| snapshot/stream seam, per key, {w} | " + " | ".join(cells)
                   + f" | every run | {'met' if exact == len(rs) else 'missed'} |")
    out.append("")
    failed = [r for r in runs if not r["ok"]]
    if failed:
        out.append("**Failed runs:** " + "; ".join(f"{r['workload']} {r['contender']} run {r['run']}: {r['error']}" for r in failed))
        out.append("")
    if chart_name:
        out.append(f"![benchmark chart]({chart_name})")
        out.append("")
    return "\n".join(out)


def chart(runs, path):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    g = group(runs)
    workloads = [w for w in WORKLOADS if any(r["workload"] == w for r in runs)]
    contenders = [c for c in CONTENDERS if any(r["contender"] == c for r in runs)]
    colours = {"pg_recvlogical": "#888888", "copy": "#555555", "sluice-file": "#4c9be8",
               "sluice-kafka": "#1f5fa8", "sluice-kafka-avro": "#2a9d8f", "debezium": "#d9822b",
               "debezium-avro": "#e9c46a", "sluice-file-stream": "#9cc7f2",
               "sluice-kafka-stream": "#5a8bc4"}
    panels = [("rate", "rows/s (higher is better)", workloads, False),
              ("rss_peak_mb", "peak RSS, MB (log; lower is better)", workloads, True),
              ("cpu_s", "CPU seconds (lower is better)", workloads, False)]
    has_lat = "W2L" in workloads and any(c in KAFKA for c in contenders)
    fig, axes = plt.subplots(1, len(panels) + (1 if has_lat else 0), figsize=(15, 4))
    width = 0.8 / max(1, len(contenders))
    for ax, (key, title, ws, log) in zip(axes, panels):
        for i, c in enumerate(contenders):
            xs, meds, lo, hi = [], [], [], []
            for j, w in enumerate(ws):
                s = stat(g, w, c, key)
                if s.med is None:
                    continue
                xs.append(j + (i - (len(contenders) - 1) / 2) * width)
                meds.append(s.med)
                lo.append(s.med - s.lo)
                hi.append(s.hi - s.med)
            ax.bar(xs, meds, width, yerr=[lo, hi], capsize=2, color=colours[c], label=c)
        ax.set_xticks(range(len(ws)))
        ax.set_xticklabels(ws)
        ax.set_title(title, fontsize=10)
        if log:
            ax.set_yscale("log")
        ax.tick_params(labelsize=8)
    if has_lat:
        ax = axes[-1]
        ks = [c for c in contenders if c in KAFKA]
        pts = [("p50_ms", "p50"), ("p99_ms", "p99"), ("p999_ms", "p99.9")]
        w2 = 0.8 / len(ks)
        for i, c in enumerate(ks):
            xs, meds, lo, hi = [], [], [], []
            for j, (k, _) in enumerate(pts):
                s = stat(g, "W2L", c, k)
                if s.med is None:
                    continue
                xs.append(j + (i - (len(ks) - 1) / 2) * w2)
                meds.append(s.med)
                lo.append(s.med - s.lo)
                hi.append(s.hi - s.med)
            ax.bar(xs, meds, w2, yerr=[lo, hi], capsize=2, color=colours[c], label=c)
        ax.axhline(GOAL_P99_MS, color="#c0392b", linewidth=0.8, linestyle="--")
        ax.set_xticks(range(len(pts)))
        ax.set_xticklabels([p[1] for p in pts])
        ax.set_yscale("log")
        ax.set_title("W2L commit→Kafka ack, ms (log)", fontsize=10)
        ax.tick_params(labelsize=8)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    return True


def publish(docs, md, chart_path):
    doc = os.path.join(docs, "benchmarks.md")
    begin, end = "<!-- results:begin -->", "<!-- results:end -->"
    with open(doc) as f:
        text = f.read()
    if begin not in text or end not in text:
        sys.exit(f"report: {doc} has no {begin} ... {end} section")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    with open(doc, "w") as f:
        f.write(head + begin + "\n" + md.replace("(chart.png)", "(benchmarks.png)") + "\n" + end + tail)
    if chart_path and os.path.exists(chart_path):
        import shutil

        shutil.copyfile(chart_path, os.path.join(docs, "benchmarks.png"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--line")
    ap.add_argument("--results")
    ap.add_argument("--publish")
    ap.add_argument("--no-chart", action="store_true")
    a = ap.parse_args()
    if a.line:
        print(line(json.loads(a.line)))
        return
    if not a.results:
        ap.error("--line or --results is needed")
    runs, machine = load(a.results)
    chart_path = os.path.join(a.results, "chart.png")
    have_chart = not a.no_chart and chart(runs, chart_path)
    md = markdown(runs, machine, "chart.png" if have_chart else None)
    with open(os.path.join(a.results, "results.md"), "w") as f:
        f.write(md + "\n")
    if machine.get("smoke"):
        # One line per contender: did it deliver everything everywhere?
        for c in CONTENDERS:
            rs = [r for r in runs if r["contender"] == c]
            if not rs:
                continue
            bad = [r for r in rs if not r["ok"]]
            detail = ", ".join(
                f"{r['workload']} {(r.get('wait') or {}).get('messages', (r.get('wait') or {}).get('lines', '?'))}/{r['messages']}"
                if c not in ("pg_recvlogical", "copy")
                else f"{r['workload']} {'to end LSN' if r['ok'] else 'stalled'}" if c == "pg_recvlogical"
                else f"{r['workload']} {'copied' if r['ok'] else 'failed'}"
                for r in rs)
            print(f"smoke: {c:<15} {'FAILED' if bad else 'ok'} ({detail})")
    else:
        print(md)
    if a.publish:
        publish(a.publish, md, chart_path if have_chart else None)


if __name__ == "__main__":
    main()
