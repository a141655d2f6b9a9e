"""Active health checks (issue #5, part 3): `grpc.health.v1.Health/Check` against every endpoint; NOT_SERVING or
failed checks take an endpoint out of rotation, recovery brings it back; with every endpoint out, calls fail fast
with UNAVAILABLE, or with `panic_mode: true` go to all of them anyway.
"""

from __future__ import annotations

import re
import threading
import time

import pytest

from cluster_support import UNARY, calls_seen, health_checks_seen, host_upstreams, server_ids, wait_until  # noqa: F401
from conftest import cluster
from grpcweb_client import call

FAST_CHECKS = {"interval": "200ms", "timeout": "150ms", "unhealthy_threshold": 3, "healthy_threshold": 2}


def unhealthy_line(u) -> str:
    return rf"{re.escape(u.address)} is unhealthy"


def healthy_again_line(u) -> str:
    return rf"{re.escape(u.address)} is healthy again"


@pytest.mark.timeout(60)
def test_not_serving_is_ejected_then_readmitted(start_proxy, host_upstreams):  # noqa: F811
    ups = [host_upstreams(f"h{i}") for i in range(3)]
    p = start_proxy(clusters=[cluster("backend", *(u.address for u in ups), health_check=FAST_CHECKS)])
    ids, failures = server_ids(p.base_url, 30)
    assert not failures and ids == {"h0": 10, "h1": 10, "h2": 10}, (ids, failures)
    assert wait_until(lambda: health_checks_seen(ups[1]) >= 2, 3), "the proxy never health-checked h1"

    ups[1].set_health(False)
    # An explicit NOT_SERVING answer counts at once, not after unhealthy_threshold checks.
    t0 = time.monotonic()
    assert p.wait_log(unhealthy_line(ups[1]) + ": health check answered NOT_SERVING", 3), p.log_text()[-3000:]
    assert time.monotonic() - t0 < 1.0
    ups[1].reset_stats()
    ids, failures = server_ids(p.base_url, 30)
    assert not failures, failures
    assert ids == {"h0": 15, "h2": 15}, ids
    assert calls_seen([ups[1]]) == {"h1": 0}

    ups[1].set_health(True)
    assert p.wait_log(healthy_again_line(ups[1]), 3), p.log_text()[-3000:]
    ids, failures = server_ids(p.base_url, 30)
    assert not failures and ids == {"h0": 10, "h1": 10, "h2": 10}, (ids, failures)


@pytest.mark.timeout(90)
def test_killed_server_is_avoided_and_gets_traffic_after_restart(start_proxy, host_upstreams):  # noqa: F811
    """Calls keep flowing while one of three servers is killed: only calls already in flight (or dispatched within
    one health-check interval of the kill) may fail, with UNAVAILABLE; later calls all succeed elsewhere. The
    restarted server passes its checks and gets calls again."""
    interval = 0.5
    checks = {"interval": "500ms", "timeout": "300ms", "unhealthy_threshold": 2, "healthy_threshold": 1}
    ups = [host_upstreams(f"k{i}") for i in range(3)]
    p = start_proxy(clusters=[cluster("backend", *(u.address for u in ups), health_check=checks)])
    victim = ups[1]

    results = []  # (start, end, status, server id)
    stop = threading.Event()

    def load():
        while not stop.is_set():
            t = time.monotonic()
            r = call(p.base_url, UNARY, [b"load"], metadata={"x-delay-ms": "100"}, timeout_s=10)
            results.append((t, time.monotonic(), r.grpc_status, r.headers.get("x-server-id"), r.grpc_message))

    threads = [threading.Thread(target=load) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    kill_time = time.monotonic()
    victim.stop(grace=False)  # SIGKILL: connections die, nothing is drained
    time.sleep(2.5)
    stop.set()
    for t in threads:
        t.join(15)

    assert p.wait_log(unhealthy_line(victim), 3), p.log_text()[-3000:]
    before = [r for r in results if r[0] < kill_time]
    after = [r for r in results if r[0] >= kill_time + interval]
    assert any(r[3] == "k1" for r in before), "the victim had calls before it was killed"
    bad = [r for r in results if r[2] != 0]
    assert all(r[2] == 14 for r in bad), bad
    late_failures = [r for r in bad if r[0] >= kill_time + interval]
    assert not late_failures, f"calls started more than one check interval after the kill failed: {late_failures}"
    assert len(after) > 20 and all(r[3] in ("k0", "k2") for r in after), after[:5]

    # Restart on the same port: it passes a check and gets its share again.
    back = host_upstreams("k1", port=victim.port)
    assert p.wait_log(healthy_again_line(back), 5), p.log_text()[-3000:]
    ids, failures = server_ids(p.base_url, 30)
    assert not failures, failures
    assert ids["k1"] >= 8, ids


def test_all_unhealthy_fails_fast_with_unavailable(start_proxy, host_upstreams):  # noqa: F811
    ups = [host_upstreams(f"d{i}") for i in range(2)]
    p = start_proxy(clusters=[cluster("backend", *(u.address for u in ups), health_check=FAST_CHECKS)])
    for u in ups:
        u.set_health(False)
    for u in ups:
        assert p.wait_log(unhealthy_line(u), 3), p.log_text()[-3000:]
    for u in ups:
        u.reset_stats()
    t0 = time.monotonic()
    r = call(p.base_url, UNARY, [b"x"], timeout_s=10)
    assert r.grpc_status == 14, (r.grpc_status, r.grpc_message)
    assert "no healthy endpoint" in r.grpc_message, r.grpc_message
    assert "connect error" not in r.grpc_message, r.grpc_message
    assert time.monotonic() - t0 < 0.5
    assert calls_seen(ups) == {"d0": 0, "d1": 0}

    # One comes back: calls flow again, all to it.
    ups[0].set_health(True)
    assert p.wait_log(healthy_again_line(ups[0]), 3), p.log_text()[-3000:]
    ids, failures = server_ids(p.base_url, 6)
    assert not failures and ids == {"d0": 6}, (ids, failures)


def test_panic_mode_uses_every_endpoint_when_none_is_healthy(start_proxy, host_upstreams):  # noqa: F811
    ups = [host_upstreams(f"p{i}") for i in range(2)]
    p = start_proxy(clusters=[cluster("backend", *(u.address for u in ups), health_check=FAST_CHECKS, panic_mode=True)])
    for u in ups:
        u.set_health(False)
    for u in ups:
        assert p.wait_log(unhealthy_line(u), 3), p.log_text()[-3000:]
    ids, failures = server_ids(p.base_url, 10)
    assert not failures, failures
    assert ids == {"p0": 5, "p1": 5}, ids
    # Panic mode only applies when nobody is healthy: with one healthy endpoint, it takes everything.
    ups[1].set_health(True)
    assert p.wait_log(healthy_again_line(ups[1]), 3), p.log_text()[-3000:]
    ids, failures = server_ids(p.base_url, 10)
    assert not failures and ids == {"p1": 10}, (ids, failures)


def test_one_health_checker_per_process_not_per_worker(start_proxy, host_upstreams):  # noqa: F811
    """Four workers, one checker: the server sees about one check per interval, not four."""
    u = host_upstreams("once")
    p = start_proxy(clusters=[cluster("backend", u.address, health_check={"interval": "200ms"})],
                    top_extra={"workers": 4})
    assert wait_until(lambda: health_checks_seen(u) >= 1, 3)
    start = health_checks_seen(u)
    time.sleep(2.0)
    n = health_checks_seen(u) - start
    assert 6 <= n <= 13, f"{n} checks in 2 s at a 200 ms interval"
    assert server_ids(p.base_url, 4)[0] == {"once": 4}


def test_without_health_check_no_probes_are_sent(start_proxy, host_upstreams):  # noqa: F811
    u = host_upstreams("quiet")
    p = start_proxy(clusters=[cluster("backend", u.address)])
    assert server_ids(p.base_url, 3)[0] == {"quiet": 3}
    time.sleep(0.5)
    assert health_checks_seen(u) == 0
