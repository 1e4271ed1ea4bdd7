#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Turn the "sched:" lines of a guest log (uintr_guest=sched, or bench)
into a Markdown table on stdout and a chart: short-task latency p50 and
p99 per preemption source and quantum, on a log scale.

Usage: sched-report.py LOG PNG
"""
import re
import sys

log, png = sys.argv[1], sys.argv[2]
head, rows = {}, []
for line in open(log, errors="replace"):
    line = line.strip().replace("\r", "")
    if not line.startswith("sched: ") or "running" in line:
        continue
    fields = dict(re.findall(r"(\w+)=([^\s]+)", line))
    if "mode" in fields and "short_p50_us" in fields:
        rows.append(fields)
    elif "tsc_per_us" in fields:
        head = fields
if not rows:
    sys.exit(f"{log}: no sched results")

print(f"{head.get('tasks')} tasks, load {head.get('load')}, "
      f"short {head.get('short_us')} us, long {head.get('long_us')} us "
      f"({int(head.get('long_permille', 0)) / 10:g}% long), "
      f"TSC {head.get('tsc_per_us')} per us\n")
print("| preemption | quantum (us) | short p50 (us) | short p99 (us) | long p50 (us) "
      "| preemptions | ticks | in (us) | out (us) | time in tasks |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
base = rows[0]
for r in rows:
    q = r["quantum_us"] if r["mode"] != "none" else "-"
    print(f"| {r['mode']} | {q} | {float(r['short_p50_us']):.1f} "
          f"| {float(r['short_p99_us']):.1f} | {float(r['long_p50_us']):.1f} "
          f"| {r['preemptions']} | {r['ticks']} "
          f"| {float(r['in_us']):.1f} | {float(r['out_us']):.1f} "
          f"| {float(r['busy_ratio']):.2f}x |")
print()
print("Ratios against run to completion (short p99):")
for r in rows[1:]:
    print(f"- {r['mode']}, {r['quantum_us']} us: "
          f"{float(r['short_p99_us']) / float(base['short_p99_us']):.2f}x p99, "
          f"{float(r['short_p50_us']) / float(base['short_p50_us']):.2f}x p50")

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt

labels = [r["mode"] if r["mode"] == "none" else f"{r['mode']}\n{int(r['quantum_us']) // 1000} ms"
          for r in rows]
x = range(len(rows))
fig, ax = plt.subplots(figsize=(8, 4))
ax.bar([i - 0.2 for i in x], [float(r["short_p50_us"]) for r in rows], 0.4, label="short p50")
ax.bar([i + 0.2 for i in x], [float(r["short_p99_us"]) for r in rows], 0.4, label="short p99")
ax.set_yscale("log")
ax.set_xticks(list(x))
ax.set_xticklabels(labels)
ax.set_ylabel("latency, emulated us (log)")
ax.set_title("Short-task latency by preemption source (emulated Sapphire Rapids)")
ax.legend()
fig.tight_layout()
fig.savefig(png, dpi=100)
