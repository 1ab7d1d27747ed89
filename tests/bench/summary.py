#!/usr/bin/env python3
"""Summary table of target/bench/*.json (written by tests/bench/bench.rs via tests/scripts/bench.sh)."""
import json
import os
import re
import statistics
import sys

out = sys.argv[1] if len(sys.argv) > 1 else "target/bench"


def load(name):
    p = os.path.join(out, name + ".json")
    if not os.path.exists(p):
        return None
    with open(p) as f:
        return json.load(f)


def runs(label):
    """Every run of a scenario: LABEL, then LABEL-r2, LABEL-r3, ... (BENCH_RUNS in bench.sh)."""
    found, i = [], 1
    while True:
        r = load(label if i == 1 else f"{label}-r{i}")
        if r is None:
            return found
        found.append(r)
        i += 1


def across(rs, get):
    """The median of `get` over runs, and the values of each run (None where a run lacks it)."""
    vals = [get(r) for r in rs]
    have = [v for v in vals if v is not None]
    return (statistics.median(have) if have else None), vals


def shown(v, vals, nd, unit=""):
    """`v` formatted; with more than one run, "(median of N: a, b, c)"."""
    txt = f"{fmt(v, nd)}{unit}"
    if len(vals) > 1:
        txt += f" (median of {len(vals)}: {', '.join(fmt(x, nd) for x in vals)})"
    return txt


def fmt(v, nd=2):
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{nd}f}"
    return str(v)


rows = []  # (metric, measured, target, verdict)


def row(metric, measured, target="", ok=None):
    verdict = "" if ok is None else ("met" if ok else "MISSED")
    rows.append((metric, measured, target, verdict))


m = load("machine") or {}
sim_txt = os.path.join(out, "sim-throughput.txt")
if os.path.exists(sim_txt):
    t = open(sim_txt).read()
    mm = re.search(r"=> (\d+) req/s", t)
    row("sim throughput (1 core, Get, 64 conns)", f"{mm.group(1)} req/s" if mm else t.strip())

r = load("shipped")
if r:
    # Issue 16 A: shipped defaults. Goals: <= 2.5 calls per object to Ready; all Ready within
    # 1.25 x (N*2/Q + Creating), the median within 1.25 x (N/2*2/Q + Creating).
    b, c = r["burst"], r["config"]
    n, q, cs = c["n"], c["operator_qps"], c["create_seconds"]
    tag = f"A shipped (n={n}, qps={q}, Creating {cs:g} s, {c['sim_latency_ms']} ms/call)"
    calls = sum(b["cloud_calls_per_object"].values())
    row(f"{tag}: cloud calls per object to Ready", f"{calls:.2f} ({', '.join(f'{k} {v}' for k, v in b['cloud_calls_per_object'].items())})",
        "<= 2.5", calls <= 2.5)
    goal_all = 1.25 * (n * 2 / q + cs)
    goal_med = 1.25 * (n / 2 * 2 / q + cs)
    e2e = b["k8s_create_to_ready_s"]
    row(f"{tag}: all Ready (wall)", f"{fmt(b['wall_to_all_ready_s'], 1)} s (ratio {b['wall_to_all_ready_s'] / goal_all:.2f})",
        f"<= {goal_all:.0f} s", b["wall_to_all_ready_s"] <= goal_all and not b.get("timed_out"))
    row(f"{tag}: median create -> Ready", f"{fmt(e2e['p50'], 1)} s (ratio {e2e['p50'] / goal_med:.2f})",
        f"<= {goal_med:.0f} s", e2e["p50"] <= goal_med)

r = load("fair")
if r and r.get("fair"):
    # Issue 16 B: with namespace A's burst in progress, one object in namespace B (same account) is Ready
    # within Creating + 3 s; one with another account's credentials is not slowed by A's burst at all.
    f, c = r["fair"], r["config"]
    cs = c["create_seconds"]
    tag = f"B fair (n={c['n']} in ns A, qps={c['operator_qps']}, probe {f['after_s']:g} s in)"
    same, other = f.get("same_account_other_namespace_ready_s"), f.get("other_account_ready_s")
    row(f"{tag}: ns B, same account: create -> Ready", f"{fmt(same, 1)} s", f"<= {cs + 3:g} s",
        same is not None and same <= cs + 3)
    row(f"{tag}: other account: create -> Ready", f"{fmt(other, 1)} s", f"<= {cs + 3:g} s",
        other is not None and other <= cs + 3)

r = load("limited")
if r:
    # Issue 16 F: the simulator enforces the limit; all Ready within 1.25 x (N*2/Q + Creating), <= 1 % throttled.
    b, c = r["burst"], r["config"]
    n, q, cs = c["n"], c["operator_qps"], c["create_seconds"]
    tag = f"F limited (n={n}, sim limit {c['sim_qps_limit']:g}/s, --qps {q})"
    goal = 1.25 * (n * 2 / q + cs)
    row(f"{tag}: all Ready (wall)", f"{fmt(b['wall_to_all_ready_s'], 1)} s (ratio {b['wall_to_all_ready_s'] / goal:.2f})",
        f"<= {goal:.0f} s", b["wall_to_all_ready_s"] <= goal and not b.get("timed_out"))
    total = sum(b["cloud_calls"].values())
    share = b["cloud_errors"] / total if total else 0.0
    row(f"{tag}: failed (throttled) calls", f"{b['cloud_errors']} of {total} ({share:.2%})", "<= 1 %", share <= 0.01)
    row(f"{tag}: cloud calls per object to Ready", f"{sum(b['cloud_calls_per_object'].values()):.2f}")

for label in ("burst", "burst3000", "burst-c32", "approval", "scale"):
    r = load(label)
    if not r:
        continue
    b, c = r["burst"], r["config"]
    n = c["n"]
    o = b["overhead_s"]
    tag = f"{label} (n={n}, conc={c['operator_concurrency']}, qps={c['operator_qps']})"
    if b.get("timed_out"):
        row(f"{tag}: TIMED OUT", f"{b['ready']}/{n} Ready", "", False)
    # Issue 16 C: without a rate limit, overhead to Ready p50 <= 0.3 s and p99 <= 1.5 s.
    c_row = label in ("burst", "burst3000")
    row(
        f"{tag}: Ready overhead p50/p90/p99/max" + (f" (C, Creating {c['create_seconds']:g} s, {c['sim_latency_ms']} ms/call)" if c_row else ""),
        f"{fmt(o['p50'])} / {fmt(o['p90'])} / {fmt(o['p99'])} / {fmt(o['max'])} s",
        "p50 <= 0.3 s, p99 <= 1.5 s" if c_row else "",
        (o["p50"] <= 0.3 and o["p99"] <= 1.5) if c_row and o["count"] else None,
    )
    parts = b["overhead_parts_s"]
    row(
        f"{tag}: overhead = poll lag + write/watch (p99)",
        f"{fmt(parts['poll_lag']['p99'])} + {fmt(parts['status_write_and_watch']['p99'])} s",
    )
    row(f"{tag}: k8s create -> cloud Create p50/p99",
        f"{fmt(b['k8s_create_to_cloud_create_s']['p50'])} / {fmt(b['k8s_create_to_cloud_create_s']['p99'])} s")
    row(f"{tag}: wall time apply / all Ready", f"{fmt(b['apply_wall_s'], 1)} / {fmt(b['wall_to_all_ready_s'], 1)} s")
    calls = ", ".join(f"{k.replace('VpcEndpointService', '~')} {v}" for k, v in b["cloud_calls_per_object"].items())
    row(f"{tag}: cloud calls per object", calls)
    row(f"{tag}: status patches / object writes per object",
        f"{fmt(b['status_patches_per_object'])} / {fmt(b['object_writes_per_object']['mean'])}")
    cpu = b["cpu_s"]
    row(f"{tag}: CPU s operator / apiserver / sim",
        f"{fmt(cpu['operator'])} / {fmt(cpu['apiserver'])} / {fmt(cpu['sim'])}")
    mem = r["memory"]
    row(f"{tag}: operator RSS / HWM after all Ready", f"{mem['rss_mib_all_ready']} / {mem['hwm_mib_all_ready']} MiB")
    rs = r.get("restart")
    if rs:
        row(f"{tag}: restarted operator RSS / HWM once all re-reconciled",
            f"{rs['rss_mib']} / {rs['hwm_mib']} MiB ({rs['seconds_to_reconcile_all']} s, {fmt(rs['status_patches'], 0)} status patches)",
            )
    s = r.get("steady")
    if s:
        row(f"{tag}: steady cloud reads / writes per object per resync",
            f"{s['cloud_reads_per_object_per_interval']} / {s['cloud_writes_per_object_per_interval']}",
            "<= 1.5 / 0 (reads: +5 % resync jitter at the window edges)" if label != "approval" else "",
            (s["cloud_reads_per_object_per_interval"] <= 1.575 and s["cloud_writes_per_object_per_interval"] == 0)
            if label != "approval" else None)
        if label == "approval" and "list_connections_per_object_per_poll" in s:
            lists = s["list_connections_per_object_per_poll"]
            row(f"{tag}: steady ListVpcEndpointConnections per object per connection-poll interval",
                f"{lists}", "<= 1", lists <= 1.05)
        elif label != "approval":
            lists = s["cloud_calls"].get("ListVpcEndpointConnections", 0) / n / s["intervals"]
            row(f"{tag}: steady ListVpcEndpointConnections per object per resync (no lists: drift cycle only)",
                f"{lists:.3f}", "<= 1/6 = 0.167 (+5 %)", lists <= 0.175)
        row(f"{tag}: steady k8s writes (status patches, object writes)",
            f"{fmt(s['status_patches'], 0)}, {s['k8s_object_writes_seen_by_watch']}", "0",
            s["status_patches"] == 0 and s["k8s_object_writes_seen_by_watch"] == 0)
        row(f"{tag}: steady RSS / operator CPU over {s['window_s']} s",
            f"{s['rss_mib_end']} MiB / {s['operator_cpu_s']} s")

r = load("rate")
if r:
    rt, c = r["burst"]["rate"], r["config"]
    row(f"rate (n={c['n']}, --qps {c['operator_qps']} --burst {c['operator_burst']}): sim-observed rate",
        f"sustained {rt.get('sustained_rps_after_2s')} req/s, peak 1 s {rt.get('peak_1s')}",
        # A bound: the account never sees more than --qps sustained, nor more than --qps + --burst in a
        # second (a run whose objects wait on Creating has seconds with less to do, so under is not a miss).
        f"<= {c['operator_qps']}/s sustained (+10 %), <= {c['operator_qps'] + c['operator_burst']} in any 1 s",
        (rt.get("sustained_rps_after_2s") or 0) <= 1.1 * c["operator_qps"]
        and (rt.get("peak_1s") or 0) <= c["operator_qps"] + c["operator_burst"])
r = load("conc")
if r:
    rt, c = r["burst"]["rate"], r["config"]
    row(f"conc (n={c['n']}, --concurrency {c['operator_concurrency']}, {c['sim_latency_ms']} ms latency): in-flight calls",
        f"max {rt.get('max_in_flight_estimate')}, sustained {rt.get('sustained_rps_after_2s')} req/s",
        f"<= {c['operator_concurrency']}", (rt.get("max_in_flight_estimate") or 0) <= c["operator_concurrency"])

# ---- Issue 16: one row per target, goal / measured / ratio (measured over goal; <= 1 meets it) ----
goals = []  # (target, goal, measured, ratio, verdict)


def goal(target, goal_txt, measured, ratio, ok):
    goals.append((target, goal_txt, measured, "-" if ratio is None else f"{ratio:.2f}",
                  "-" if ok is None else ("met" if ok else "MISSED")))


# A, B and C are short runs: bench.sh repeats them (BENCH_RUNS, default 3); the goals use the medians.
rs = runs("shipped")
if rs:
    c = rs[0]["config"]
    n, q, cs = c["n"], c["operator_qps"], c["create_seconds"]
    calls, cv = across(rs, lambda r: sum(r["burst"]["cloud_calls_per_object"].values()))
    goal(f"A calls per object to Ready (n={n}, --qps {q})", "<= 2.5", shown(calls, cv, 2), calls / 2.5, calls <= 2.5)
    ga, gm = 1.25 * (n * 2 / q + cs), 1.25 * (n / 2 * 2 / q + cs)
    wall, wv = across(rs, lambda r: None if r["burst"].get("timed_out") else r["burst"]["wall_to_all_ready_s"])
    med, mv = across(rs, lambda r: r["burst"]["k8s_create_to_ready_s"]["p50"])
    goal(f"A all Ready (n={n})", f"<= {ga:.0f} s", shown(wall, wv, 1, " s"), None if wall is None else wall / ga,
         wall is not None and wall <= ga and None not in wv)
    goal(f"A median create -> Ready (n={n})", f"<= {gm:.0f} s", shown(med, mv, 1, " s"), med / gm, med <= gm)
rs = [r for r in runs("fair") if r.get("fair")]
if rs:
    cs = rs[0]["config"]["create_seconds"]
    for key, what in (("same_account_other_namespace_ready_s", "ns B, same account"),
                      ("other_account_ready_s", "other account")):
        v, vals = across(rs, lambda r: r["fair"].get(key))
        goal(f"B {what}: create -> Ready during A's burst", f"<= {cs + 3:g} s", shown(v, vals, 1, " s"),
             None if v is None else v / (cs + 3), v is not None and v <= cs + 3)
for label in ("burst", "burst3000"):
    rs = runs(label)
    if rs:
        n, q = rs[0]["config"]["n"], rs[0]["config"]["operator_qps"]
        p50, v50 = across(rs, lambda r: r["burst"]["overhead_s"]["p50"])
        p99, v99 = across(rs, lambda r: r["burst"]["overhead_s"]["p99"])
        goal(f"C overhead to Ready p50 (n={n}, --qps {q})", "<= 0.3 s", shown(p50, v50, 2, " s"), p50 / 0.3, p50 <= 0.3)
        goal(f"C overhead to Ready p99 (n={n})", "<= 1.5 s", shown(p99, v99, 2, " s"), p99 / 1.5, p99 <= 1.5)
small, big = load("burst"), load("scale")
if small:
    h = small["memory"]["hwm_mib_all_ready"]
    goal(f"D RSS peak (HWM) at {small['config']['n']}", "<= 32 MiB", f"{h} MiB", h / 32, h <= 32)
if big:
    n = big["config"]["n"]
    h = max(big["memory"]["hwm_mib_all_ready"], (big.get("restart") or {}).get("hwm_mib", 0))
    goal(f"D RSS peak (HWM) at {n}, burst and restart", "<= 64 MiB", f"{h} MiB", h / 64, h <= 64)
    if small and n > small["config"]["n"]:
        slope = (big["memory"]["rss_mib_all_ready"] - small["memory"]["rss_mib_all_ready"]) * 1024 / (n - small["config"]["n"])
        goal(f"D bytes per resource (RSS slope {small['config']['n']} -> {n})", "", f"{slope:.1f} KiB", None, None)
    s = big.get("steady")
    if s:
        reads = s["cloud_reads_per_object_per_interval"]
        ok = reads <= 1.575 and s["cloud_writes_per_object_per_interval"] == 0 and s["status_patches"] == 0
        goal(f"E steady reads / writes per object per resync (n={n})", "<= 1.5 (+5 % jitter) / 0",
             f"{reads} / {s['cloud_writes_per_object_per_interval']}", reads / 1.5, ok)
    rs = big.get("restart")
    if rs:
        resync = big["config"]["resync_seconds"]
        ready = rs.get("readyz_after_s")
        goal(f"G restart with {n} Ready: /readyz", "<= 60 s", f"{fmt(ready, 1)} s",
             None if ready is None else ready / 60, ready is not None and ready <= 60 and rs["status_patches"] == 0)
        spread = rs["seconds_to_reconcile_all"]
        goal(f"G first resync spread (re-reads of all {n})", f">= 0.9 x {resync} s", f"{spread} s",
             0.9 * resync / spread if spread else None, spread >= 0.9 * resync)
r = load("limited")
if r:
    b, c = r["burst"], r["config"]
    n, q, cs = c["n"], c["operator_qps"], c["create_seconds"]
    g = 1.25 * (n * 2 / q + cs)
    goal(f"F all Ready (n={n}, sim limit {c['sim_qps_limit']:g}/s, --qps {q})", f"<= {g:.0f} s",
         f"{b['wall_to_all_ready_s']:.1f} s", b["wall_to_all_ready_s"] / g, b["wall_to_all_ready_s"] <= g and not b.get("timed_out"))
    total = sum(b["cloud_calls"].values())
    share = b["cloud_errors"] / total if total else 0.0
    goal(f"F throttled calls (n={n})", "<= 1 %", f"{share:.2%}", share / 0.01, share <= 0.01)

print(f"# privatelink-operator benchmarks ({m.get('nproc', '?')} cores, {m.get('cpu', '?')}, load at start {m.get('loadavg', '?')})\n")
if goals:
    print("## Issue 16 targets (A-G): goal, measured, ratio (measured / goal; a spread is goal / measured)\n")
    print("| target | goal | measured | ratio | |")
    print("|---|---|---|---|---|")
    for g_ in sorted(goals, key=lambda g_: g_[0][0]):
        print("| " + " | ".join(g_) + " |")
    print("\n## Details\n")
print("| metric | measured | target | |")
print("|---|---|---|---|")
for r_ in rows:
    print("| " + " | ".join(str(x) for x in r_) + " |")
