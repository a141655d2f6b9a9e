"""Retries, the pending queue and passive outlier ejection (issue #5, parts 2, 4 and 5).

Retries happen only when a call provably never reached a server (connect failure, REFUSED_STREAM, a stream above a
GOAWAY's last-stream-id), on another endpoint, at most `retries` times. Every test counts the calls at the servers
to show that nothing that reached a server was sent twice.
"""

from __future__ import annotations

import concurrent.futures
import re
import time

import pytest

from cluster_support import UNARY, calls_seen, host_upstreams, server_ids, wait_until  # noqa: F401
from conftest import cluster, free_port
from grpcweb_client import call


def test_pending_queue_is_bounded_and_overflow_fails_fast(start_proxy, host_upstreams):  # noqa: F811
    """One stream at a time (1 connection x 1 stream), 2 calls may wait: of 6 simultaneous slow calls, 3 are
    served in turn and 3 fail at once with UNAVAILABLE saying the cluster is overloaded."""
    u = host_upstreams("q")
    p = start_proxy(clusters=[cluster("backend", u.address, max_concurrent_streams=1, max_connections_per_endpoint=1,
                                      max_pending=2)])
    call(p.base_url, UNARY, [b"warm"])  # the connection exists, so the test does not race its set-up
    u.reset_stats()

    def slow(i):
        t0 = time.monotonic()
        r = call(p.base_url, UNARY, [b"s%d" % i], metadata={"x-delay-ms": "700"}, timeout_s=20)
        return r, time.monotonic() - t0

    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        first = pool.submit(slow, 0)
        assert wait_until(lambda: u.stats()["active"] >= 1, 3)
        rest = [pool.submit(slow, i) for i in range(1, 6)]
        results = [first.result()] + [f.result() for f in rest]
    ok = [(r, t) for r, t in results if r.grpc_status == 0]
    overloaded = [(r, t) for r, t in results if r.grpc_status != 0]
    assert len(ok) == 3, [(r.grpc_status, r.grpc_message) for r, _ in results]
    assert len(overloaded) == 3
    for r, t in overloaded:
        assert r.grpc_status == 14 and "overloaded" in r.grpc_message, (r.grpc_status, r.grpc_message)
        assert t < 0.5, f"the overload answer took {t:.2f}s"
    # Served one after the other: the last one waited for two others.
    assert max(t for _, t in ok) >= 3 * 0.7 - 0.1
    assert u.stats()["calls"][UNARY] == 3


def test_connect_failure_is_retried_on_another_endpoint(start_proxy, host_upstreams):  # noqa: F811
    ups = [host_upstreams("r0"), host_upstreams("r1")]
    dead = f"127.0.0.1:{free_port()}"
    p = start_proxy(clusters=[cluster("backend", dead, *(u.address for u in ups))])
    ids, failures = server_ids(p.base_url, 30)
    assert not failures, failures
    # Each call ran exactly once, on a live server.
    assert sum(ids.values()) == 30
    assert calls_seen(ups) == {"r0": ids["r0"], "r1": ids["r1"]}
    assert ids["r0"] >= 10 and ids["r1"] >= 10, ids


def test_retries_zero_means_no_retry(start_proxy, host_upstreams):  # noqa: F811
    u = host_upstreams("z")
    dead = f"127.0.0.1:{free_port()}"
    p = start_proxy(clusters=[cluster("backend", dead, u.address, retries=0)])
    r = call(p.base_url, UNARY, [b"x"])  # round robin starts at the first endpoint: the dead one
    assert r.grpc_status == 14, (r.grpc_status, r.grpc_message)
    assert "connect" in r.grpc_message
    assert calls_seen([u]) == {"z": 0}


def test_all_endpoints_dead_fails_after_bounded_attempts(start_proxy):
    dead = [f"127.0.0.1:{free_port()}" for _ in range(4)]
    p = start_proxy(clusters=[cluster("backend", *dead, retries=2)])
    t0 = time.monotonic()
    r = call(p.base_url, UNARY, [b"x"], timeout_s=10)
    assert r.grpc_status == 14, (r.grpc_status, r.grpc_message)
    assert time.monotonic() - t0 < 1.0
    log = p.log_text()
    attempts = len(re.findall(r"cannot connect to 127\.0\.0\.1", log))
    assert 1 <= attempts <= 3, f"{attempts} connect attempts for retries=2:\n{log[-2000:]}"


def test_server_errors_are_never_retried(start_proxy, host_upstreams):  # noqa: F811
    """The call reached a server, which answered UNAVAILABLE: that is the answer, not a reason to try elsewhere."""
    ups = [host_upstreams(f"e{i}") for i in range(3)]
    p = start_proxy(clusters=[cluster("backend", *(u.address for u in ups))])
    for i in range(6):
        r = call(p.base_url, UNARY, [b"x"], metadata={"x-fail-code": "14", "x-fail-message": "busy"})
        assert r.grpc_status == 14 and r.grpc_message == "busy", (r.grpc_status, r.grpc_message)
    assert sum(calls_seen(ups).values()) == 6, calls_seen(ups)


@pytest.mark.timeout(60)
def test_call_lost_with_its_server_is_not_retried(start_proxy, host_upstreams):  # noqa: F811
    ups = [host_upstreams("l0"), host_upstreams("l1")]
    p = start_proxy(clusters=[cluster("backend", *(u.address for u in ups))])
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        fut = pool.submit(call, p.base_url, UNARY, [b"doomed"], metadata={"x-delay-ms": "3000"}, timeout_s=20)
        assert wait_until(lambda: any(u.stats()["active"] >= 1 for u in ups), 3)
        victim = next(u for u in ups if u.stats()["active"] >= 1)
        other = next(u for u in ups if u is not victim)
        victim.stop(grace=False)
        r = fut.result()
    assert r.grpc_status == 14, (r.grpc_status, r.grpc_message)
    time.sleep(0.2)
    assert calls_seen([other]) == {other.server_id: 0}, "a call that had reached a server was sent again"


def test_refused_streams_are_retried_elsewhere_and_only_there(start_proxy, fault_upstream, host_upstreams):  # noqa: F811
    """An endpoint that refuses every stream (RST_STREAM REFUSED_STREAM): each call it refuses is retried on the
    real server and succeeds; the real server sees every call exactly once."""
    f = fault_upstream("rst:REFUSED_STREAM")
    u = host_upstreams("real")
    p = start_proxy(clusters=[cluster("backend", f.address, u.address)])
    ids, failures = server_ids(p.base_url, 20)
    assert not failures, failures
    assert ids == {"real": 20}
    assert calls_seen([u]) == {"real": 20}
    refused = f.stats()["streams"]
    assert 1 <= refused <= 20, refused


def test_goaway_streams_are_retried_on_another_endpoint(start_proxy, fault_upstream, host_upstreams):  # noqa: F811
    """GOAWAY with last-stream-id 0: the server processed nothing, so the stream goes to the other endpoint."""
    f = fault_upstream("goaway")
    u = host_upstreams("real")
    p = start_proxy(clusters=[cluster("backend", f.address, u.address)])
    ids, failures = server_ids(p.base_url, 10)
    assert not failures, failures
    assert ids == {"real": 10} and calls_seen([u]) == {"real": 10}
    assert f.stats()["goaway_sent"] >= 1


def test_resets_after_reaching_a_server_are_not_retried(start_proxy, fault_upstream, host_upstreams):  # noqa: F811
    f = fault_upstream("rst:INTERNAL_ERROR")
    u = host_upstreams("real")
    p = start_proxy(clusters=[cluster("backend", f.address, u.address, outlier_detection={"consecutive_failures": 0})])
    ids, failures = server_ids(p.base_url, 10)
    assert len(failures) == 5 and all(s == 13 for _, s, _ in failures), failures
    assert ids == {"real": 5} and calls_seen([u]) == {"real": 5}
    assert f.stats()["streams"] == 5


@pytest.mark.timeout(60)
def test_outlier_ejection_with_growing_backoff(start_proxy, fault_upstream, host_upstreams):  # noqa: F811
    """An endpoint whose streams keep getting reset is ejected after `consecutive_failures` in a row, for
    `base_ejection_time`; the next ejection lasts twice as long."""
    f = fault_upstream("rst:INTERNAL_ERROR")
    u = host_upstreams("real")
    p = start_proxy(clusters=[cluster("backend", f.address, u.address,
                                      outlier_detection={"consecutive_failures": 3, "base_ejection_time": "1s",
                                                         "max_ejection_time": "10s"})])
    ids, failures = server_ids(p.base_url, 20)
    assert len(failures) == 3, failures  # round robin: the 3rd failure ejects it, the rest go to the real server
    assert ids == {"real": 17}
    assert p.wait_log(r"ejecting 127\.0\.0\.1:\d+ for 1\.0 seconds after 3 consecutive failures", 1)

    time.sleep(1.2)  # first ejection over
    ids, failures = server_ids(p.base_url, 20)
    assert len(failures) == 3, failures
    assert p.wait_log(r"ejecting 127\.0\.0\.1:\d+ for 2\.0 seconds", 1), p.log_text()[-2000:]

    time.sleep(1.2)  # the second ejection (2 s) is not over yet
    ids, failures = server_ids(p.base_url, 10)
    assert not failures and ids == {"real": 10}, (ids, failures)
    assert f.stats()["streams"] == 6


def test_last_available_endpoint_is_never_ejected(start_proxy, fault_upstream):
    f = fault_upstream("rst:INTERNAL_ERROR")
    p = start_proxy(clusters=[cluster("backend", f.address, outlier_detection={"consecutive_failures": 2})])
    for _ in range(5):
        r = call(p.base_url, UNARY, [b"x"])
        assert r.grpc_status == 13, (r.grpc_status, r.grpc_message)  # the server's answer, not "no healthy endpoint"
    assert f.stats()["streams"] == 5
    assert "ejecting" not in p.log_text()
