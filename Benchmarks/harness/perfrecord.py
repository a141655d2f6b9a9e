"""Optional CPU profiles of the proxies while they are measured (BENCH_PERF).

BENCH_PERF=ours (or envoy, or ours,envoy) attaches `perf record -g` to that column's process for
each of its measurements and writes Benchmarks/.work/perf/<scenario>-<column>-r<round>.data
(never committed); read one with `perf report -i FILE --no-children`. perf costs the proxy some
CPU, so the figures of a profiled run are not the ones to report.
"""
import os
import signal
import subprocess
from contextlib import contextmanager

import targets


def columns() -> set[str]:
    return {c for c in os.environ.get("BENCH_PERF", "").split(",") if c}


@contextmanager
def recorded(target: targets.Target, scenario: str, round_label: str, work: str):
    """Runs the body under `perf record -g -p PID` when BENCH_PERF names this column."""
    if target.name not in columns() or not target.pid or not target.usable():
        yield
        return
    directory = os.path.join(work, "perf")
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, f"{scenario}-{target.name}-{round_label}.data")
    with open(path + ".log", "wb") as log:
        # perf itself runs on the client core, like the load generators.
        perf = subprocess.Popen(["perf", "record", "-g", "-q", "-o", path, "-p", str(target.pid)],
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            yield
        finally:
            perf.send_signal(signal.SIGINT)  # perf writes its file and exits on SIGINT
            try:
                perf.wait(30)
            except subprocess.TimeoutExpired:
                perf.kill()
                perf.wait()
