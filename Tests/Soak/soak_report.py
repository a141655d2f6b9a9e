"""The soak's pass criteria and its summary table."""

from __future__ import annotations

import collections

import soak_calls
import soak_measure

TIMER_HEAP_SLACK = 1024  # the loop drops cancelled timers once they outnumber live ones by this much (design.md)
CUT_EVIDENCE = 20  # failures listed in full


def second_half_growth_mib(rss: list[tuple[int, int]]) -> float | None:
    """RSS growth from the sample nearest half-way through the main phase to its last sample: a leak keeps
    growing there, while allocator warm-up and the kills' reconnections happen early. None without samples."""
    if len(rss) < 2:
        return None
    total = rss[-1][0]
    mid = min(rss, key=lambda s: abs(s[0] - total / 2))
    return (rss[-1][1] - mid[1]) / 1024


def criteria(before, after, args, alive: bool, upstream_active: int, rss_series) -> list[tuple]:
    """(what, before, after, limit, ok) for every pass criterion.

    RSS: the warmed-up process holds its code, worker loops and allocator arenas. What a run may add legitimately is
    transient per-call memory the allocator keeps: at most about one HTTP/2 stream window (1 MiB) plus one output
    buffer limit (1 MiB) per concurrent call, and the soak has at most ~30 calls in flight, so a bounded proxy
    stays well under 32 MiB (measured: about 1 MiB). 32 MiB over 100,000 calls would also catch a leak of 340 bytes
    per call; the second-half figure catches slower ones (4 MiB over the last 50,000 calls = 84 bytes per call)."""
    w = args.proxy_workers
    g = "grpcwebproxy_"
    b, a = before.gauges, after.gauges
    rss_growth = (after.rss_kib - before.rss_kib) / 1024
    # Upstream HTTP/2 connections are re-made lazily after each kill and after GOAWAYs: a couple per worker may
    # differ from the warmed-up count (the victim-only cluster, the GOAWAY cluster).
    up_tol = 2 * w
    heap_bound = 2 * a[g + "timers"] + w * (TIMER_HEAP_SLACK + 1)
    half = second_half_growth_mib(rss_series)
    return [
        ("proxy alive", "", alive, "yes", alive),
        ("fds, total", before.fds.total, after.fds.total,
         f"<= before + {up_tol}", after.fds.total <= before.fds.total + up_tol),
        ("  sockets to browsers", before.fds.downstream, after.fds.downstream, "== before",
         after.fds.downstream == before.fds.downstream),
        ("  sockets to upstreams", before.fds.upstream_total, after.fds.upstream_total, f"<= before + {up_tol}",
         after.fds.upstream_total <= before.fds.upstream_total + up_tol),
        ("  admin connections", before.fds.admin, after.fds.admin, "<= 1", after.fds.admin <= 1),
        ("  listening sockets", before.fds.listening, after.fds.listening, "== before",
         after.fds.listening == before.fds.listening),
        ("  other fds (epoll, eventfd, files...)", before.fds.non_sockets + before.fds.other_sockets,
         after.fds.non_sockets + after.fds.other_sockets, "== before",
         after.fds.non_sockets + after.fds.other_sockets == before.fds.non_sockets + before.fds.other_sockets),
        ("downstream_connections_active", b[g + "downstream_connections_active"],
         a[g + "downstream_connections_active"], "== before",
         a[g + "downstream_connections_active"] == b[g + "downstream_connections_active"]),
        ("calls_active", b[g + "calls_active"], a[g + "calls_active"], "0", a[g + "calls_active"] == 0),
        ("buffered_bytes", b[g + "buffered_bytes"], a[g + "buffered_bytes"], "0", a[g + "buffered_bytes"] == 0),
        ("timers", b[g + "timers"], a[g + "timers"], f"before +- {2 * w}",
         abs(a[g + "timers"] - b[g + "timers"]) <= 2 * w),
        ("timer_heap_entries", b[g + "timer_heap_entries"], a[g + "timer_heap_entries"],
         f"<= 2 x timers + {w} x {TIMER_HEAP_SLACK + 1}", a[g + "timer_heap_entries"] <= heap_bound),
        ("RSS MiB", f"{before.rss_kib / 1024:.1f}", f"{after.rss_kib / 1024:.1f}",
         f"growth < {args.rss_growth_mib:g}", rss_growth < args.rss_growth_mib),
        ("RSS MiB growth, 2nd half of main phase", "", "-" if half is None else f"{half:.1f}",
         f"< {args.rss_half_growth_mib:g}", half is None or half < args.rss_half_growth_mib),
        ("upstream calls still active", "", upstream_active, "0", upstream_active == 0),
    ]


def _fmt(v) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _kind_table(phase: dict, verdict: dict) -> tuple[list[str], int]:
    counts: collections.Counter = collections.Counter()
    lat_sum: collections.Counter = collections.Counter()
    lat_max: dict[str, float] = {}
    for t in phase["tallies"]:
        counts.update(t["counts"])
        lat_sum.update(t["latency_sum"])
        for k, v in t["latency_max"].items():
            lat_max[k] = max(lat_max.get(k, 0.0), v)
    excused = collections.Counter(k for k, _ in verdict["excused"])
    failed = collections.Counter(f[0] for f in verdict["failures"])
    rows = [f"{'kind':<14}{'calls':>8}{'as expected':>12}{'excused':>9}{'failed':>8}{'mean ms':>9}{'max ms':>8}"
            f"  outcomes"]
    total = 0
    for kind in soak_calls.KINDS:
        labels = {label: n for (k, label), n in counts.items() if k == kind.name}
        n = sum(labels.values())
        total += n
        if not n:
            continue
        good = sum(v for label, v in labels.items() if label in kind.expected)
        outcome = " ".join(f"{label}:{v}" for label, v in sorted(labels.items(), key=lambda x: -x[1]))
        rows.append(f"{kind.name:<14}{n:>8}{good:>12}{excused[kind.name]:>9}{failed[kind.name]:>8}"
                    f"{1000 * lat_sum[kind.name] / n:>9.1f}{1000 * lat_max.get(kind.name, 0):>8.0f}  {outcome}")
    rows.append(f"{'total':<14}{total:>8}{total - len(verdict['excused']) - len(verdict['failures']):>12}"
                f"{len(verdict['excused']):>9}{len(verdict['failures']):>8}")
    return rows, total


def print_summary(args, warm, main, verdicts, before, after, checks, settle_s) -> bool:
    reasons = []
    print()
    rows, total = _kind_table(main, verdicts["main"])
    rate = total / main["wall"] if main["wall"] else 0
    print(f"== main phase: {total} calls in {main['wall']:.1f} s = {rate:.0f} calls/s "
          f"({args.clients} client processes x {args.threads} threads, proxy workers {args.proxy_workers})")
    print("\n".join(rows))
    if total != main["total"]:
        reasons.append("calls missing")
        print(f"!! {main['total'] - total} calls were never made")
    print("\n== kills of the victim upstream (pinned = outcome of the streams held open through it)")
    for e in main["events"]:
        print(f"#{e['n']} {e['how']:<14} at {e['at_s']:6.1f} s, down {e['down_s']:.2f} s, pinned: "
              f"{' '.join(e['pinned'])}")
    print(f"\n== proxy before (after {args.warmup} warm-up calls) and after (settled {settle_s:.1f} s)")
    print(f"{'measure':<40}{'before':>10}{'after':>10}  {'limit':<28}ok")
    for name, b, a, limit, good in checks:
        print(f"{name:<40}{_fmt(b):>10}{_fmt(a):>10}  {limit:<28}{'yes' if good else 'NO'}")
        if not good:
            reasons.append(name.strip())
    if main["rss"]:
        step = max(1, len(main["rss"]) // 10)
        series = " ".join(f"{n // 1000}k:{kib / 1024:.1f}" for n, kib in main["rss"][::step])
        print(f"RSS MiB during the run (calls done:MiB): {series}")
    growth = (after.rss_kib - before.rss_kib) * 1024 / max(total, 1)
    deltas = " ".join(f"{c.removeprefix('grpcwebproxy_').removesuffix('_total')}:"
                      f"+{_fmt(after.gauge(c) - before.gauge(c))}" for c in soak_measure.COUNTERS)
    print(f"proxy counters over the main phase: {deltas}")
    if sorted(before.fds.others) != sorted(after.fds.others):
        print(f"other fds before: {dict(collections.Counter(before.fds.others))}")
        print(f"other fds after:  {dict(collections.Counter(after.fds.others))}")
    print(f"RSS growth per call: {growth:.1f} bytes; upstream connections by port: before {before.fds.upstream}, "
          f"after {after.fds.upstream}")
    for phase_name, phase in (("warm-up", warm), ("main", main)):
        v = verdicts[phase_name]
        if phase["problems"] or v["failures"]:
            reasons.append(f"{phase_name}: {len(v['failures'])} unexpected outcomes, {len(phase['problems'])} problems")
            print(f"\n!! {phase_name}: {len(v['failures'])} unexpected outcomes, problems: {phase['problems']}")
            for kind, label, server, detail, _ in v["failures"][:CUT_EVIDENCE]:
                print(f"   {kind}: {label} (server {server}) {detail}")
    print(f"\nsoak PASSED" if not reasons else f"\nsoak FAILED: {'; '.join(reasons)}")
    return not reasons
