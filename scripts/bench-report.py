#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
#
# Turn the BENCH lines of uintr_bench guest logs (scripts/bench.sh) into
# one JSON result file, a PNG chart of the latency ladder, a Markdown
# table and a plain-text table on stdout, and evaluate the targets of
# issue 7 on the emulated Sapphire Rapids.
#
# Usage: bench-report.py --json OUT.json --png OUT.png [--markdown OUT.md]
#        [conditions: --date --n --reps --ips --cpus --kernel-config
#        --commit --bochs --qemu] MACHINE=LOG...

import argparse
import json
import os
import sys

MACHINES = {
    "spr-bochs": {
        "title": "emulated Sapphire Rapids (Bochs 3.0 + project fixes)",
        "unit": "emulated TSC ticks",
        "note": ("Bochs cpu model sapphire_rapids, clock sync=none: the TSC advances with "
                 "the emulated instruction count (ips instructions per emulated second), "
                 "so a tick is roughly one emulated instruction, not a silicon cycle; "
                 "there is no cache, pipeline or memory-latency model"),
    },
    "qemu-tcg": {
        "title": "QEMU TCG (no UINTR)",
        "unit": "host TSC ticks",
        "note": ("QEMU TCG binary translation, -cpu max without UINTR: the guest TSC "
                 "follows the host's clock while emulating, so the numbers are "
                 "emulation speed, not the cost on any CPU"),
    },
}

CONFIG_KEYS = ["CONFIG_PREEMPT", "CONFIG_HZ", "CONFIG_PROVE_LOCKING", "CONFIG_LOCKDEP",
               "CONFIG_DEBUG_KMEMLEAK", "CONFIG_DEBUG_ATOMIC_SLEEP", "CONFIG_DEBUG_PREEMPT",
               "CONFIG_PROVE_RCU", "CONFIG_X86_USER_INTERRUPTS", "CONFIG_NR_CPUS",
               "CONFIG_MITIGATION_PAGE_TABLE_ISOLATION", "CONFIG_MITIGATION_RETPOLINE"]

ORDER = ["uipi_spin", "eventfd_poll", "signal_handler", "uipi_wait", "uipi_read", "futex", "eventfd",
         "pipe", "unix_socket", "signal_wait"]


def parse_log(path):
    recs = []
    with open(path, errors="replace") as f:
        for line in f:
            line = line.rstrip("\r\n")
            if not line.startswith("BENCH "):
                continue
            try:
                recs.append(json.loads(line[6:]))
            except json.JSONDecodeError:
                print(f"warning: {path}: unparsable line: {line[:120]}", file=sys.stderr)
    return recs


def read_config(path):
    cfg = {}
    if not path or not os.path.exists(path):
        return cfg
    with open(path) as f:
        for line in f:
            line = line.strip()
            for k in CONFIG_KEYS:
                if line.startswith(k + "="):
                    cfg[k] = line.split("=", 1)[1]
                elif line == f"# {k} is not set":
                    cfg[k] = "n"
    return cfg


def find(recs, kind, mech, mode, state=None):
    for r in recs:
        if (r.get("kind") == kind and r.get("mech") == mech and r.get("mode") == mode
                and "median" in r and (state is None or r.get("state") == state)):
            return r
    return None


def targets(recs):
    """The four targets of issue 7, evaluated on one machine's records."""
    out = []
    for mode in ("threads", "processes"):
        u, e = find(recs, "ipc", "uipi_spin", mode), find(recs, "ipc", "eventfd", mode)
        if u and e:
            ratio = e["median"] / u["median"]
            # Entries the mechanism causes: system calls and faults (counted),
            # and the UINTR vectors through the IDT.  Timer ticks and other
            # interrupts in the window are background; slow_rts says how many
            # round trips they hit.
            zero = (u["syscalls_per_rt"] == 0 and u["faults_per_rt"] == 0
                    and u["uin_per_rt"] == 0 and u["uik_per_rt"] == 0)
            lines = ", ".join(f"{k} {v}" for k, v in u.get("irq_lines", {}).items()) or "none"
            out.append({
                "target": f"spinning user IPI >= 10x fewer ticks than eventfd, 0 kernel entries ({mode})",
                "met": ratio >= 10 and zero,
                "ratio": round(ratio, 2),
                "detail": (f"eventfd {e['median']:.0f} / uipi_spin {u['median']:.0f} = {ratio:.1f}x; "
                           f"uipi_spin per round trip: {u['syscalls_per_rt']:.3f} syscalls, "
                           f"{u['faults_per_rt']:.3f} faults, {u['uin_per_rt']:.3f} UIN and "
                           f"{u['uik_per_rt']:.3f} UIK interrupts; background in the "
                           f"measurement window: {lines} (all CPUs), "
                           f"{u.get('slow_rts', 0)} of {u['n'] * u.get('reps', 1)} round trips "
                           f"over 10x the median "
                           f"(max {u['max']})"),
            })
        w = find(recs, "ipc", "uipi_wait", mode)
        if w and e:
            ratio = w["median"] / e["median"]
            out.append({
                "target": f"blocked-receiver wake-up not longer than eventfd's ({mode})",
                "met": ratio <= 1.0,
                "ratio": round(ratio, 3),
                "detail": f"uipi_wait {w['median']:.0f} / eventfd {e['median']:.0f} = {ratio:.3f}",
            })
    for mode in ("threads", "processes"):
        bases = [r for r in (find(recs, "ctx", "ctx_plain", mode, "unloaded"),
                             find(recs, "ctx", "ctx_plain", mode, "unloaded-again")) if r]
        if not bases:
            continue
        base = sum(b["median"] for b in bases) / len(bases)
        btxt = " and ".join(f"{b['median']:.0f} {b['state']}" for b in bases)
        for state in ("loaded", "loaded+receivers"):
            r = find(recs, "ctx", "ctx_plain", mode, state)
            if r:
                slow = r["median"] / base - 1
                out.append({
                    "target": f"non-UINTR context switch at most 1% slower, module {state} ({mode})",
                    "met": slow <= 0.01,
                    "ratio": round(r["median"] / base, 4),
                    "detail": (f"round trip (2 switches) {r['median']:.0f} vs {btxt}: "
                               f"{100 * slow:+.2f}% (median of {r['reps']} runs' medians, "
                               f"{r['n']} round trips each)"),
                })
    sp, sr = find(recs, "syscall", "syscall_plain", "thread", "loaded"), \
        find(recs, "syscall", "syscall_receiver", "thread")
    ss = find(recs, "syscall", "syscall_sender", "thread")
    cp, cr = find(recs, "ctx", "ctx_plain", "threads", "loaded"), \
        find(recs, "ctx", "ctx_receivers", "threads")
    detail = ("argued from fpu_hooks.rs and logic/fpu.rs (see Documentation/benchmarks.md); "
              "measured cost of being a receiver:")
    if sp and sr:
        detail += f" getppid {sr['median']:.0f} vs {sp['median']:.0f} ticks"
        detail += f" ({ss['median']:.0f} in a sender);" if ss else ";"
    if cp and cr:
        detail += f" context-switch round trip {cr['median']:.0f} vs {cp['median']:.0f} ticks"
    out.append({
        "target": "receivers pay no extra XSAVES and at most one WRMSR per return to user",
        "met": None,
        "ratio": None,
        "detail": detail,
    })
    return out


def fmt(v, nd=0):
    if v is None:
        return "-"
    return f"{v:,.{nd}f}"


def tables(data):
    """Plain-text and Markdown tables."""
    txt, md = [], []
    for m, info in data["machines"].items():
        recs = [r for r in data["results"] if r.get("machine") == m]
        head = f"{info['title']} [{m}], {info['unit']}, n={data['conditions']['n']}"
        txt.append(head)
        txt.append(f"  ({info['note']})")
        md.append(f"### {info['title']} (`{m}`)\n")
        md.append(f"Unit: {info['unit']}. {info['note']}.\n")
        md.append("| mechanism | mode | median | p99 | / uipi_spin | kernel entries/rt | syscalls | irqs | ctx sw |")
        md.append("|---|---|---:|---:|---:|---:|---:|---:|---:|")
        txt.append(f"  {'mechanism':16} {'mode':10} {'median':>10} {'p99':>10} {'ratio':>7} "
                   f"{'entries':>8} {'sysc':>6} {'irqs':>6} {'csw':>5}")
        for mode in ("threads", "processes"):
            for mech in ORDER:
                r = next((x for x in recs if x.get("kind") == "ipc" and x.get("mech") == mech
                          and x.get("mode") == mode), None)
                if r is None:
                    continue
                if "median" not in r:
                    why = r.get("skipped") or r.get("error")
                    txt.append(f"  {mech:16} {mode:10} {'skipped: ' + why}")
                    md.append(f"| {mech} | {mode} | skipped: {why} | | | | | | |")
                    continue
                ratio = r.get("ratio_to_uipi_spin")
                txt.append(f"  {mech:16} {mode:10} {fmt(r['median']):>10} {fmt(r['p99']):>10} "
                           f"{fmt(ratio, 2):>7} {r['kernel_entries_per_rt']:8.2f} "
                           f"{r['syscalls_per_rt']:6.2f} {r['irqs_per_rt']:6.2f} "
                           f"{r['ctxsw_per_rt']:5.2f}")
                md.append(f"| {mech} | {mode} | {fmt(r['median'])} | {fmt(r['p99'])} | "
                          f"{fmt(ratio, 2)} | {r['kernel_entries_per_rt']:.2f} | "
                          f"{r['syscalls_per_rt']:.2f} | {r['irqs_per_rt']:.2f} | "
                          f"{r['ctxsw_per_rt']:.2f} |")
        md.append("")
        md.append("| context switch (pipe ping-pong, one CPU) | mode | module | round trip | per switch | p99 | run medians |")
        md.append("|---|---|---|---:|---:|---:|---|")
        txt.append(f"  {'context switch':16} {'mode':10} {'module':18} {'rt':>10} {'switch':>8} {'p99':>10}")
        for r in recs:
            if r.get("kind") != "ctx":
                continue
            if "median" not in r:
                txt.append(f"  {r['mech']:16} {r['mode']:10} {r.get('state', ''):18} "
                           f"skipped: {r.get('skipped') or r.get('error')}")
                continue
            runs = ", ".join(f"{v:.0f}" for v in r["rep_medians"])
            txt.append(f"  {r['mech']:16} {r['mode']:10} {r['state']:18} {fmt(r['median']):>10} "
                       f"{fmt(r['per_switch']):>8} {fmt(r['p99']):>10}")
            md.append(f"| {r['mech']} | {r['mode']} | {r['state']} | {fmt(r['median'])} | "
                      f"{fmt(r['per_switch'])} | {fmt(r['p99'])} | {runs} |")
        md.append("")
        md.append("| system call (getppid) | module | median | p99 |")
        md.append("|---|---|---:|---:|")
        for r in recs:
            if r.get("kind") != "syscall" or "median" not in r:
                continue
            txt.append(f"  {r['mech']:16} {'':10} {r['state']:18} {fmt(r['median']):>10} "
                       f"{'':8} {fmt(r['p99']):>10}")
            md.append(f"| {r['mech']} | {r['state']} | {fmt(r['median'])} | {fmt(r['p99'])} |")
        md.append("")
        txt.append("")
    txt.append("targets (emulated Sapphire Rapids):")
    md.append("### Targets (emulated Sapphire Rapids)\n")
    md.append("| target | verdict | ratio | measured |")
    md.append("|---|---|---:|---|")
    for t in data["targets"]:
        verdict = {True: "met", False: "NOT met", None: "argued"}[t["met"]]
        txt.append(f"  [{verdict}] {t['target']}: {t['detail']}")
        md.append(f"| {t['target']} | {verdict} | {fmt(t['ratio'], 3) if t['ratio'] is not None else '-'} "
                  f"| {t['detail']} |")
    return "\n".join(txt), "\n".join(md) + "\n"


def chart(data, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    machines = [m for m in data["machines"]
                if any(r.get("machine") == m and r.get("kind") == "ipc" and "median" in r
                       for r in data["results"])]
    ctx = [r for r in data["results"] if r.get("machine") == "spr-bochs"
           and r.get("kind") == "ctx" and "median" in r]
    rows = len(machines) + (1 if ctx else 0)
    heights = [4.8] * len(machines) + ([3.6] if ctx else [])
    fig, axes = plt.subplots(rows, 1, figsize=(10, sum(heights)), squeeze=False,
                             gridspec_kw={"height_ratios": heights})
    for ax, m in zip(axes[:, 0], machines):
        info = data["machines"][m]
        recs = [r for r in data["results"] if r.get("machine") == m and r.get("kind") == "ipc"
                and "median" in r]
        base = {r["mode"]: r["median"] for r in recs if r["mech"] == "uipi_spin"}
        mechs = [x for x in ORDER if any(r["mech"] == x for r in recs)]
        mechs.sort(key=lambda x: min(r["median"] for r in recs if r["mech"] == x))
        h = 0.38
        for j, (mode, color) in enumerate((("threads", "#3b6ea8"), ("processes", "#d08a2e"))):
            ys, meds, p99s = [], [], []
            for i, mech in enumerate(mechs):
                r = next((x for x in recs if x["mech"] == mech and x["mode"] == mode), None)
                if r:
                    ys.append(i + (j - 0.5) * h)
                    meds.append(r["median"])
                    p99s.append(r["p99"])
            ax.barh(ys, meds, height=h, color=color, label=f"{mode} (median)")
            ax.scatter(p99s, ys, marker="|", s=120, color="black", zorder=3,
                       label="p99" if j == 0 else None)
            for y, v, p in zip(ys, meds, p99s):
                b = base.get(mode)
                label = f"{v:,.0f}" + (f"  ({v / b:,.0f}x)" if b else "")
                ax.text(max(v, p) * 1.15, y, label, va="center", fontsize=7)
        ax.set_yticks(range(len(mechs)))
        ax.set_yticklabels(mechs)
        ax.invert_yaxis()
        ax.set_xscale("log")
        ax.set_xlabel(f"round trip, {info['unit']} (log scale)")
        c = data["conditions"]
        ax.set_title(f"{info['title']}: ping-pong round trip, 2 CPUs, "
                     f"{c['reps']} x {c['n']} round trips", fontsize=10)
        ax.legend(loc="upper right", fontsize=8)
        ax.grid(axis="x", which="both", alpha=0.3)
        ax.set_xlim(right=max(r["p99"] for r in recs) * 12)
    if ctx:
        ax = axes[-1, 0]
        labels, vals, reps = [], [], []
        for r in ctx:
            labels.append(f"{r['mech']} {r['mode']}\n{r['state']}")
            vals.append(r["median"])
            reps.append(r.get("rep_medians", []))
        colors = ["#888888" if r["state"].startswith("unloaded") else
                  ("#3b6ea8" if r["mech"] == "ctx_plain" else "#a83b3b") for r in ctx]
        ax.barh(range(len(vals)), vals, color=colors)
        for i, rv in enumerate(reps):
            ax.scatter(rv, [i] * len(rv), s=8, color="black", zorder=3)
            ax.text(vals[i] * 1.01, i, f"{vals[i]:,.0f}", va="center", fontsize=7)
        ax.set_yticks(range(len(vals)))
        ax.set_yticklabels(labels, fontsize=6)
        ax.invert_yaxis()
        ax.set_xlim(min(vals) * 0.85, max(max(v) for v in reps if v) * 1.08)
        ax.set_xlabel("pipe ping-pong round trip on one CPU (2 context switches), "
                      "emulated TSC ticks; dots: each run's median")
        ax.set_title("emulated Sapphire Rapids: context switch by module state", fontsize=10)
        ax.grid(axis="x", alpha=0.3)
    cfg = data["conditions"].get("kernel_config", {})
    debug = [k[len("CONFIG_"):] for k in ("CONFIG_PROVE_LOCKING", "CONFIG_PROVE_RCU",
                                          "CONFIG_DEBUG_KMEMLEAK") if cfg.get(k) == "y"]
    kernel = ("kernel with " + ", ".join(debug)) if debug else "kernel without lock or leak debugging"
    fig.text(0.01, 0.003,
             f"Measured {data['conditions']['date']} with uintr_bench (scripts/bench.sh), {kernel}. "
             "Emulated ticks are emulated instructions (Bochs ips-based TSC), not silicon "
             "cycles; QEMU numbers are TCG emulation.", fontsize=7)
    fig.tight_layout(rect=(0, 0.015, 1, 1))
    fig.savefig(path, dpi=110)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", required=True)
    ap.add_argument("--png")
    ap.add_argument("--markdown")
    ap.add_argument("--date", default="")
    ap.add_argument("--n", type=int)
    ap.add_argument("--reps", type=int)
    ap.add_argument("--ips", type=int)
    ap.add_argument("--cpus", type=int)
    ap.add_argument("--kernel-config")
    ap.add_argument("--commit", default="")
    ap.add_argument("--bochs", default="")
    ap.add_argument("--qemu", default="")
    ap.add_argument("logs", nargs="+", metavar="MACHINE=LOG")
    a = ap.parse_args()

    data = {
        "what": "uintr_bench: ping-pong round trips, context switches and system calls",
        "conditions": {
            "date": a.date, "n": a.n, "reps": a.reps, "ips": a.ips, "cpus": a.cpus,
            "commit": a.commit, "bochs": a.bochs, "qemu": a.qemu,
            "kernel_config": read_config(a.kernel_config),
            "kernel_entries": ("system calls counted at each call site (plus one rt_sigreturn "
                               "per signal handled); page faults and context switches from "
                               "getrusage(RUSAGE_THREAD) deltas of both sides; interrupts from "
                               "/proc/interrupts deltas summed over all CPUs, local timer "
                               "ticks apart (timer_irqs_per_rt) and not counted as entries"),
        },
        "machines": {},
        "results": [],
    }
    for arg in a.logs:
        m, _, path = arg.partition("=")
        info = dict(MACHINES.get(m, {"title": m, "unit": "TSC ticks", "note": ""}))
        recs = parse_log(path)
        secs = path[:-4] + ".seconds" if path.endswith(".log") else None
        if secs and os.path.exists(secs):
            info["wall_seconds"] = int(open(secs).read().strip() or 0)
        info["guest"] = [r for r in recs if r.get("kind") == "machine"]
        if m == "spr-bochs":
            info["ips"] = a.ips
        data["machines"][m] = info
        data["results"] += [r for r in recs if r.get("kind") not in ("machine", "end")]
        if not any(r.get("kind") == "end" for r in recs):
            print(f"warning: {m}: the benchmark did not reach its end", file=sys.stderr)
    spr = [r for r in data["results"] if r.get("machine") == "spr-bochs"]
    data["targets"] = targets(spr) if spr else []

    with open(a.json, "w") as f:
        json.dump(data, f, indent=1)
        f.write("\n")
    txt, md = tables(data)
    if a.markdown:
        with open(a.markdown, "w") as f:
            f.write(md)
    if a.png:
        chart(data, a.png)
    print(txt)


if __name__ == "__main__":
    main()
