"""Helpers for the multi-backend tests (test_cluster_*.py, test_routing_*.py).

* ``HostUpstream``: ``upstream_server.py`` bound to a chosen address (``--host``), optionally made slower by a
  fixed per-server delay (the stock server only has the per-call ``x-delay-ms``; least-request needs servers that
  are slow whoever calls them). It runs the same server code through a two-line wrapper.
* ``host_upstreams`` fixture: ``host_upstreams(server_id, host="127.0.0.1", port=0, extra_delay_ms=0)``; every
  server it started is killed at test end.
* ``server_ids(...)``: fires calls (optionally concurrently) and counts the ``x-server-id`` of the answers.
* ``hosts_file``: writes the TEST-ONLY resolver override file read by the proxy when the hidden option
  ``--test-hosts FILE`` names it (``start_proxy(extra_args=["--test-hosts", str(path)])``; see
  docs/configuration.md, clusters). The environment variable it replaced is ignored.
"""

from __future__ import annotations

import collections
import concurrent.futures
import sys
import time
from pathlib import Path

import pytest

from conftest import HERE, UpstreamProcess
from grpcweb_client import call

UNARY = "/test.Echo/Unary"
HEALTH = "/grpc.health.v1.Health/Check"

# Wraps upstream_server.main(): every handler first sleeps UPSTREAM_EXTRA_DELAY_MS (default 0).
_WRAPPER = """
import os, sys, time
sys.path.insert(0, {here!r})
import upstream_server as u
extra = int(os.environ.get("UPSTREAM_EXTRA_DELAY_MS", "0")) / 1000.0
if extra:
    plain = u.Upstream.unary
    def slow_unary(self, request, context):
        time.sleep(extra)
        return plain(self, request, context)
    u.Upstream.unary = slow_unary
sys.argv[0] = "upstream_server.py"
sys.exit(u.main())
"""


class HostUpstream(UpstreamProcess):
    """An upstream bound to ``host`` (an IPv4 literal, or ``[::1]``) with an optional fixed extra delay."""

    def __init__(self, workdir: Path, server_id: str, host: str = "127.0.0.1", port: int = 0,
                 extra_delay_ms: int = 0) -> None:
        super().__init__(workdir, server_id, port, grace_s=1)
        self.host = host
        self.extra_delay_ms = extra_delay_ms

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self) -> "HostUpstream":
        import os
        import subprocess

        log = open(self.log_path, "ab")
        env = dict(os.environ, UPSTREAM_EXTRA_DELAY_MS=str(self.extra_delay_ms))
        self.proc = subprocess.Popen(
            [sys.executable, "-u", "-c", _WRAPPER.format(here=str(HERE)), "--host", self.host,
             "--port", str(self.port), "--id", self.server_id, "--grace", str(self.grace_s)],
            stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL, env=env)
        log.close()
        line = self.proc.stdout.readline().decode(errors="replace").strip()
        if not line.startswith("READY "):
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError(f"upstream {self.server_id} on {self.host} did not start ({line!r}):\n{self.log_text()}")
        self.port = int(line.split()[1])
        self._channel = None
        return self


@pytest.fixture
def host_upstreams(request, itest_workdir):
    started: list[HostUpstream] = []
    # The conftest report hook attaches the logs of everything in _itest_upstreams to a failed test.
    request.node._itest_upstreams = started

    def factory(server_id: str, host: str = "127.0.0.1", port: int = 0, extra_delay_ms: int = 0) -> HostUpstream:
        u = HostUpstream(itest_workdir, server_id, host, port, extra_delay_ms).start()
        started.append(u)
        return u

    yield factory
    for u in started:
        u.stop(grace=False)


def server_ids(base_url: str, n: int, *, concurrency: int = 1, path: str = UNARY, metadata=None,
               timeout_s: float = 20) -> tuple[collections.Counter, list]:
    """Makes ``n`` calls; returns (Counter of x-server-id over successful calls, [(i, status, message)] failures)."""
    def one(i: int):
        r = call(base_url, path, [b"n%d" % i], metadata=metadata, timeout_s=timeout_s)
        return i, r

    ids: collections.Counter = collections.Counter()
    failures = []
    if concurrency <= 1:
        results = [one(i) for i in range(n)]
    else:
        with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
            results = list(pool.map(one, range(n)))
    for i, r in results:
        if r.grpc_status == 0:
            ids[r.headers.get("x-server-id")] += 1
        else:
            failures.append((i, r.grpc_status, r.grpc_message))
    return ids, failures


def calls_seen(upstreams, method: str = UNARY) -> dict:
    """Calls each server received for ``method``, by server id."""
    return {u.server_id: u.stats()["calls"].get(method, 0) for u in upstreams}


def health_checks_seen(u) -> int:
    return u.stats()["calls"].get(HEALTH, 0)


def wait_until(predicate, timeout_s: float, interval_s: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout_s
    while True:
        if predicate():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(interval_s)


def hosts_file(path: Path, entries: dict[str, list[str]]) -> Path:
    """Writes an /etc/hosts-style file: one line per (address, name). Atomic (rename), the proxy may read it any time."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text("# written by the test\n" + "".join(f"{a} {name}\n" for name, addrs in entries.items() for a in addrs))
    tmp.replace(path)
    return path
