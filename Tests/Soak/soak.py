#!/usr/bin/env python3
"""Soak test with faults: many mixed calls through one proxy while an upstream is killed and restarted, then a
check that the proxy is back where it started (fds, connections, calls, buffered bytes, timers, RSS).

    PROXY_BIN=.build/release/grpc-web-proxy python3 Tests/Soak/soak.py --calls 100000

Set-up: two grpcio upstreams (``upstream_server.py``) in cluster ``backend``; the second one, the *victim*, is also
alone in cluster ``victim`` (reached with the header ``x-soak-pin: victim``) so that streams are certainly open
through it when it is killed; ``fault_upstream.py`` behind routes ``/fault.`` (RST codes, 503, echo) and
``/fault.Goaway/`` (its own cluster, so its GOAWAYs do not disturb the other fault calls).

Run: a warm-up, the BEFORE snapshot, the main phase (client processes x threads, kinds in ``soak_calls.KINDS``;
the victim is killed ``--kills`` times at evenly spaced points, alternately SIGKILL and SIGTERM with a short grace,
each time with pinned streams open through it), a settle, the AFTER snapshot, and the verdict. Exit code 0 when
every call ended as expected and every criterion holds, 1 otherwise, 2 when the set-up itself failed.

A call that does not end as its kind expects is excused only if it went to the grpcio cluster, its status is one a
lost upstream explains (1, 13, 14, or a response cut without status), it was not answered by the survivor, and it
overlapped a kill window (from the signal until the restarted victim is ready, plus ``KILL_MARGIN_S``).
"""

from __future__ import annotations

import os

os.environ["GRPC_ENABLE_FORK_SUPPORT"] = "false"  # before anything imports grpc (the upstream stats RPCs do)

import argparse  # noqa: E402
import multiprocessing  # noqa: E402
import queue  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(REPO / "Tests" / "Integration"))
sys.path.insert(0, str(HERE))

from conftest import (FaultUpstreamProcess, ProxyProcess, UpstreamProcess, build_config, cluster,  # noqa: E402
                      default_route, free_port, tail, to_yaml)
import soak_calls  # noqa: E402
import soak_measure  # noqa: E402
import soak_report  # noqa: E402

SURVIVOR_ID, VICTIM_ID = "u1", "u2"
VICTIM_GRACE_S = 0.3  # SIGTERM: grpcio sends GOAWAY, lets calls run this long, then cancels the rest
DOWN_TIME_S = 0.5  # how long the victim stays down: calls meanwhile must be retried on the survivor
KILL_MARGIN_S = 0.5  # after the restarted victim is ready, failures are still excused this long
EXCUSABLE = frozenset({"1", "13", "14", "cut"})
PINNED_PER_KILL = 4  # gRPC-Web streams held open through the victim when it is killed
PINNED_WS_PER_KILL = 2  # and grpc-websockets streams
SETTLE_MIN_S = 2.0
SETTLE_MAX_S = 15.0


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=100_000, help="calls in the main phase")
    ap.add_argument("--warmup", type=int, default=1000, help="calls before the BEFORE snapshot")
    ap.add_argument("--proxy-workers", type=int, default=2)
    ap.add_argument("--clients", type=int, default=3, help="client processes")
    ap.add_argument("--threads", type=int, default=8, help="threads per client process")
    ap.add_argument("--kills", type=int, default=6, help="times the victim upstream is killed and restarted")
    ap.add_argument("--rss-growth-mib", type=float, default=32.0, help="allowed RSS growth over the warmed-up RSS")
    ap.add_argument("--rss-half-growth-mib", type=float, default=4.0,
                    help="allowed RSS growth over the second half of the main phase")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--proxy-bin", default=os.environ.get("PROXY_BIN",
                                                          str(REPO / ".build" / "release" / "grpc-web-proxy")))
    ap.add_argument("--only", default="", help="comma-separated kinds to run (diagnosis; default all)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory (logs) even on success")
    return ap.parse_args(argv)


def proxy_config(port: int, admin_port: int, survivor, victim, fault, workers: int) -> dict:
    no_ejection = {"consecutive_failures": 0}  # keep the victim in rotation: traffic must flow through it
    clusters = [
        cluster("backend", survivor.address, victim.address, outlier_detection=no_ejection),
        cluster("victim", victim.address, outlier_detection=no_ejection),
        cluster("fault", fault.address, outlier_detection=no_ejection),
        cluster("fault-goaway", fault.address, outlier_detection=no_ejection),
    ]
    routes = [
        default_route("fault-goaway", prefix="/fault.Goaway/"),
        default_route("fault", prefix="/fault."),
        default_route("victim", headers={soak_calls.PIN_HEADER: "victim"}),
        default_route("backend"),
    ]
    return build_config(port=port, admin_port=admin_port, upstream_port=None, routes=routes, clusters=clusters,
                        top_extra={"workers": workers, "log_level": "warn"})


class Killer(threading.Thread):
    """Kills and restarts the victim at evenly spaced points of the main phase, with pinned streams open."""

    def __init__(self, victim: UpstreamProcess, base_url: str, done, total: int, kills: int, t_start: float):
        super().__init__(daemon=True)
        self.victim, self.base_url, self.done, self.total, self.kills = victim, base_url, done, total, kills
        self.t_start = t_start
        self.stop_event = threading.Event()
        self.windows: list[tuple[float, float]] = []
        self.events: list[dict] = []
        self.failures: list[str] = []

    def run(self) -> None:
        for j in range(self.kills):
            target = self.total * (2 * j + 1) // (2 * self.kills)
            while self.done.value < target:
                if self.stop_event.wait(0.05):
                    return
            try:
                self._kill_once(j)
            except Exception as e:  # noqa: BLE001
                self.failures.append(f"kill #{j + 1}: {type(e).__name__}: {e}")

    def _kill_once(self, j: int) -> None:
        graceful = j % 2 == 1
        pinned = []
        try:
            pinned += [soak_calls.open_pinned_stream(self.base_url, VICTIM_ID) for _ in range(PINNED_PER_KILL)]
            pinned += [soak_calls.open_pinned_ws(self.base_url, VICTIM_ID) for _ in range(PINNED_WS_PER_KILL)]
        except Exception:
            for c in pinned:  # a stream left open would show up as a leaked call in the AFTER figures
                c.abort() if hasattr(c, "abort") else c.close()
            raise
        t0 = time.monotonic()
        self.victim.stop(grace=graceful)
        time.sleep(DOWN_TIME_S)
        deadline = time.monotonic() + 10
        while True:
            try:
                self.victim.start()
                break
            except RuntimeError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        t1 = time.monotonic()
        self.windows.append((t0, t1 + KILL_MARGIN_S))
        outcomes = [soak_calls.finish_pinned(c) for c in pinned]
        for label, detail in outcomes:
            if label not in EXCUSABLE:
                self.failures.append(f"kill #{j + 1}: a stream open through the victim ended with {label} ({detail})")
        self.events.append({"n": j + 1, "how": "SIGTERM+grace" if graceful else "SIGKILL", "at_s": t0 - self.t_start,
                            "down_s": t1 - t0, "pinned": [label for label, _ in outcomes]})


def run_clients(base_url: str, total: int, args, victim=None, proxy_pid: int | None = None) -> dict:
    """Runs ``total`` calls from ``args.clients`` processes; with ``victim``, the Killer runs alongside.
    With ``proxy_pid``, the proxy's RSS is sampled once a second as (calls done, KiB)."""
    only = frozenset(k for k in args.only.split(",") if k) or None
    mp = multiprocessing.get_context("spawn")
    claim, done, results = mp.Value("q", 0), mp.Value("q", 0), mp.Queue()
    procs = [mp.Process(target=soak_calls.client_process,
                        args=(base_url, claim, total, done, args.threads, args.seed, p, results, only), daemon=True)
             for p in range(args.clients)]
    t0 = time.monotonic()
    for p in procs:
        p.start()
    killer = None
    if victim is not None and args.kills > 0:
        killer = Killer(victim, base_url, done, total, args.kills, t0)
        killer.start()
    # Per-call timeouts bound every call; this bound only catches a driver that stopped making progress.
    budget_s = 120 + total / 50
    tallies, problems, rss = [], [], []
    last_print = t0
    while len(tallies) < len(procs):
        try:
            tallies.append(results.get(timeout=1))
        except queue.Empty:
            pass
        now = time.monotonic()
        if proxy_pid is not None:
            try:
                rss.append((done.value, soak_measure.rss_kib(proxy_pid)))
            except (OSError, RuntimeError):
                pass
        if now - last_print >= 15:
            last_print = now
            print(f"  ... {done.value}/{total} calls, {done.value / (now - t0):.0f} calls/s", flush=True)
        if now - t0 > budget_s:
            problems.append(f"client processes still running after {budget_s:.0f} s ({done.value}/{total} done)")
            break
    wall = time.monotonic() - t0
    for p in procs:
        p.join(5)
        if p.is_alive():
            p.terminate()
            p.join()
        elif p.exitcode not in (0, None):
            problems.append(f"client process exited with {p.exitcode}")
    if killer is not None:
        killer.stop_event.set()
        killer.join(60)
        problems += killer.failures
        if len(killer.events) < args.kills:
            problems.append(f"only {len(killer.events)} of {args.kills} kills happened")
    return {"tallies": tallies, "wall": wall, "problems": problems, "total": total, "rss": rss,
            "windows": killer.windows if killer else [], "events": killer.events if killer else []}


def classify(phase: dict) -> dict:
    """Splits the notable outcomes into excused (a kill explains them) and failures."""
    excused, failures = [], []
    for t in phase["tallies"]:
        for kind_name, label, server, detail, t0, t1 in t["notable"]:
            kind = soak_calls.KIND_BY_NAME[kind_name]
            in_window = any(t0 <= w1 and t1 >= w0 for w0, w1 in phase["windows"])
            if kind.killable and label in EXCUSABLE and server != SURVIVOR_ID and in_window:
                excused.append((kind_name, label))
            else:
                failures.append((kind_name, label, server, detail, t0))
        if t["notable_dropped"]:
            failures.append(("*", "dropped", None, f"{t['notable_dropped']} unexpected outcomes not recorded", 0))
    return {"excused": excused, "failures": failures}


def stable_snapshot(proxy: ProxyProcess, take, timeout_s: float = 10):
    """The BEFORE snapshot: once no call and no browser connection is open and two samples 0.2 s apart agree on
    every fd (a socket the warm-up's last client just closed is still being torn down for a moment)."""
    deadline = time.monotonic() + timeout_s
    prev = None
    while True:
        cur = take()
        quiet = cur.gauge("grpcwebproxy_calls_active") == 0 and cur.fds.downstream == 0
        if (quiet and prev is not None and sorted(prev.fds.others) == sorted(cur.fds.others)
                and prev.fds.total == cur.fds.total) or time.monotonic() > deadline or not proxy.alive():
            return cur
        prev = cur
        time.sleep(0.2)


def settle_and_measure(proxy, before, take, args, upstreams, rss_series) -> tuple:
    """At least SETTLE_MIN_S, then samples until every criterion holds or SETTLE_MAX_S passed."""
    t0 = time.monotonic()
    time.sleep(SETTLE_MIN_S)
    while True:
        after = take()
        checks = soak_report.criteria(before, after, args, proxy.alive(), upstream_active(upstreams), rss_series)
        if all(ok for _, _, _, _, ok in checks) or time.monotonic() - t0 > SETTLE_MAX_S or not proxy.alive():
            return after, checks, time.monotonic() - t0
        time.sleep(0.5)


def upstream_active(upstreams) -> int:
    """Calls the grpcio servers still see in flight (a stream the proxy failed to reset stays active there)."""
    return sum(u.stats()["active"] for u in upstreams)


def main(argv=None) -> int:
    args = parse_args(argv)
    binary = Path(args.proxy_bin)
    if not (binary.is_file() and os.access(binary, os.X_OK)):
        print(f"soak: proxy binary not found at {binary} (build it or set PROXY_BIN)", file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="grpcweb-soak-"))
    survivor = UpstreamProcess(workdir, SURVIVOR_ID, grace_s=VICTIM_GRACE_S)
    victim = UpstreamProcess(workdir, VICTIM_ID, grace_s=VICTIM_GRACE_S)
    fault = FaultUpstreamProcess(workdir)
    proxy = None
    ok = False
    try:
        survivor.start()
        victim.start()
        fault.start()
        port, admin_port = free_port(), free_port()
        cfg = proxy_config(port, admin_port, survivor, victim, fault, args.proxy_workers)
        cfg_path = workdir / "proxy.yaml"
        cfg_text = to_yaml(cfg) + "\n"
        cfg_path.write_text(cfg_text)
        proxy = ProxyProcess(binary, cfg_path, cfg_text, port, admin_port, workdir / "proxy.log", "warn")
        proxy.start()
        upstream_ports = {survivor.port, victim.port, fault.port}

        def take():
            return soak_measure.snapshot(proxy.pid, proxy.admin_url, port, admin_port, upstream_ports)

        print(f"soak: proxy {binary} (pid {proxy.pid}, {args.proxy_workers} workers), {args.clients} client "
              f"processes x {args.threads} threads, work dir {workdir}", flush=True)
        print(f"soak: warm-up, {args.warmup} calls", flush=True)
        warm = run_clients(proxy.base_url, args.warmup, args)
        before = stable_snapshot(proxy, take)
        print(f"soak: main phase, {args.calls} calls, {args.kills} kills of upstream {VICTIM_ID}", flush=True)
        main_phase = run_clients(proxy.base_url, args.calls, args, victim=victim, proxy_pid=proxy.pid)
        after, checks, settle_s = settle_and_measure(proxy, before, take, args, [survivor, victim], main_phase["rss"])
        verdicts = {"warm-up": classify(warm), "main": classify(main_phase)}
        exit_rc = proxy.stop() if proxy.alive() else None
        checks.append(("proxy exit code on SIGTERM", "", exit_rc, "0", exit_rc == 0))
        ok = soak_report.print_summary(args, warm, main_phase, verdicts, before, after, checks, settle_s)
        if not ok:
            print(f"\nproxy log tail ({workdir / 'proxy.log'}):\n{tail(workdir / 'proxy.log', 40)}")
        return 0 if ok else 1
    except Exception as e:  # noqa: BLE001
        print(f"soak: set-up failed: {type(e).__name__}: {e}", file=sys.stderr)
        if proxy is not None:
            print(tail(workdir / "proxy.log", 40), file=sys.stderr)
        return 2
    finally:
        if proxy is not None and proxy.alive():
            proxy.stop()
        for u in (survivor, victim):
            u.stop(grace=False)
        fault.stop()
        if ok and not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"soak: logs kept in {workdir}")


if __name__ == "__main__":
    sys.exit(main())
