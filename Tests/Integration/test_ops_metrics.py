"""Labelled metrics in /metrics (issue 12, item 3): per route, cluster and transport from the calls' summaries,
per endpoint from the upstream pools, per listener and HTTP version from the downstream connections. Every
assertion is a delta between two scrapes, exact per label set."""

from __future__ import annotations

import re
import time

import pytest

from conftest import cluster, free_port
from grpcweb_client import HTTPConnection, call
from h2_support import H2Client

UNARY = "/test.Echo/Unary"
STREAM = "/test.Echo/ServerStream"

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse(text: str) -> dict[tuple[str, frozenset], float]:
    """Every sample of a Prometheus text page, keyed by (name, frozenset of (label, value))."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, f"not a sample line: {line!r}"
        labels = frozenset(LABEL.findall(m.group(2) or ""))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


def scrape(proxy) -> dict:
    status, text = proxy.admin_get("/metrics")
    assert status == 200, status
    return parse(text)


def pick(samples: dict, name: str, **labels) -> float:
    """Sum of the samples of `name` whose labels include `labels` (0 when none)."""
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= set(ls))


def delta(before: dict, after: dict, name: str, **labels) -> float:
    return pick(after, name, **labels) - pick(before, name, **labels)


def wait_metric(proxy, name: str, expected: float, timeout_s: float = 5, **labels) -> dict:
    """Scrapes until pick(name, labels) == expected; returns the last scrape (the caller asserts on it)."""
    deadline = time.monotonic() + timeout_s
    while True:
        s = scrape(proxy)
        if pick(s, name, **labels) == expected or time.monotonic() > deadline:
            return s
        time.sleep(0.02)


def test_metrics_help_type_and_old_unlabelled_counters(start_proxy):
    proxy = start_proxy(top_extra={"workers": 2})
    status, text = proxy.admin_get("/metrics")
    assert status == 200
    for family in ["grpcwebproxy_calls_total", "grpcwebproxy_call_duration_seconds", "grpcwebproxy_request_bytes_total",
                   "grpcwebproxy_response_bytes_total", "grpcwebproxy_request_messages_total",
                   "grpcwebproxy_response_messages_total", "grpcwebproxy_upstream_connections_open",
                   "grpcwebproxy_upstream_connections_opened_total", "grpcwebproxy_upstream_connections_failed_total",
                   "grpcwebproxy_endpoint_healthy", "grpcwebproxy_endpoint_ejections_total",
                   "grpcwebproxy_downstream_connections_open"]:
        assert f"\n# HELP {family} " in text, family
        assert f"\n# TYPE {family} " in text, family
    # The process-wide counters stay, unlabelled.
    assert re.search(r"^grpcwebproxy_downstream_connections_total \d+$", text, re.M)
    assert re.search(r"^grpcwebproxy_calls_by_status_total\{code=\"0\"\} \d+$", text, re.M)
    samples = parse(text)
    assert pick(samples, "grpcwebproxy_metrics_workers_missing") == 0
    # Every configured endpoint shows up before any traffic, healthy, with nothing open.
    ep = {"cluster": "backend"}
    assert pick(samples, "grpcwebproxy_endpoint_healthy", **ep) == 1
    assert pick(samples, "grpcwebproxy_upstream_connections_open", **ep) == 0


def test_downstream_connections_by_listener_and_http_version(start_proxy):
    proxy = start_proxy(top_extra={"workers": 2})
    name = "grpcwebproxy_downstream_connections_open"
    h1 = {"listener": "web", "http_version": "1.1"}
    h2 = {"listener": "web", "http_version": "2"}
    # The start-up readiness probe's TCP connection may still be closing: wait for it to go.
    before = wait_metric(proxy, name, 0, **h1)
    assert pick(before, name, **h1) == 0 and pick(before, name, **h2) == 0
    conns = [HTTPConnection("127.0.0.1", proxy.port) for _ in range(3)]
    try:
        for c in conns:  # a call each, so the connections are surely accepted and parsed as HTTP/1.1
            r = call(proxy.base_url, UNARY, [b"x"], conn=c)
            assert r.grpc_status == 0, r.error
        h2c = H2Client(proxy.port)
        try:
            sid = h2c.grpcweb(UNARY, [b"y"])
            assert h2c.wait_streams([sid])[0].grpc_status == 0
            s = wait_metric(proxy, name, 1, **h2)
            assert pick(s, name, **h2) == 1
            assert pick(s, name, **h1) == 3
        finally:
            h2c.close()
    finally:
        for c in conns:
            c.close()
    s = wait_metric(proxy, name, 0, **h1)
    assert pick(s, name, **h1) == 0
    s = wait_metric(proxy, name, 0, **h2)
    assert pick(s, name, **h2) == 0


def test_upstream_connections_and_failures_per_endpoint(start_proxy, upstream):
    dead_port = free_port()  # nothing listens there: connects are refused
    dead = f"127.0.0.1:{dead_port}"
    live = f"127.0.0.1:{upstream.port}"
    proxy = start_proxy(
        clusters=[cluster("backend", live), cluster("down", dead, connect_timeout="500ms", retries=0)])
    before = scrape(proxy)
    for _ in range(4):
        assert call(proxy.base_url, UNARY, [b"z"]).grpc_status == 0
    after = scrape(proxy)
    live_ep = {"cluster": "backend", "endpoint": live}
    assert pick(after, "grpcwebproxy_upstream_connections_open", **live_ep) == 1, "one worker, one multiplexed connection"
    assert delta(before, after, "grpcwebproxy_upstream_connections_opened_total", **live_ep) == 1
    assert delta(before, after, "grpcwebproxy_upstream_connections_failed_total", **live_ep) == 0
    assert pick(after, "grpcwebproxy_endpoint_healthy", **live_ep) == 1
    dead_ep = {"cluster": "down", "endpoint": dead}
    assert pick(after, "grpcwebproxy_upstream_connections_failed_total", **dead_ep) == 0
    assert ("grpcwebproxy_endpoint_ejections_total", frozenset({("cluster", "down"), ("endpoint", dead)})) in after


def test_failed_connects_counted_per_endpoint(start_proxy):
    dead = f"127.0.0.1:{free_port()}"
    proxy = start_proxy(clusters=[cluster("backend", dead, connect_timeout="500ms", retries=0)])
    ep = {"cluster": "backend", "endpoint": dead}
    before = scrape(proxy)
    for _ in range(2):
        r = call(proxy.base_url, UNARY, [b"z"])
        assert r.grpc_status == 14, (r.grpc_status, r.grpc_message)
    after = wait_metric(proxy, "grpcwebproxy_upstream_connections_failed_total",
                        pick(before, "grpcwebproxy_upstream_connections_failed_total", **ep) + 2, **ep)
    # Each call opened one connection that failed (retries 0; a refused connect backs off, which can make the
    # second call fail without a new attempt: then opened and failed both moved by 1).
    opened = delta(before, after, "grpcwebproxy_upstream_connections_opened_total", **ep)
    failed = delta(before, after, "grpcwebproxy_upstream_connections_failed_total", **ep)
    assert opened == failed and 1 <= failed <= 2, (opened, failed)
    assert pick(after, "grpcwebproxy_upstream_connections_open", **ep) == 0


# ---------------------------------------------------------------------------------------------------------------
# The calls deliver a CallSummary to WorkerContext.callObservers when they end; these metrics are built from it.
# ---------------------------------------------------------------------------------------------------------------

def test_call_metrics_exact_deltas(start_proxy):
    proxy = start_proxy(top_extra={"workers": 2})
    before = scrape(proxy)
    payload = b"p" * 100
    # 4 fast OK unary (binary), 2 OK unary (text), 3 NOT_FOUND unary, 2 OK server streams of 3 messages of 50
    # bytes each, 2 OK unary delayed 300 ms.
    for _ in range(4):
        assert call(proxy.base_url, UNARY, [payload]).grpc_status == 0
    for _ in range(2):
        assert call(proxy.base_url, UNARY, [payload], text=True).grpc_status == 0
    for _ in range(3):
        assert call(proxy.base_url, UNARY, [payload], metadata={"x-fail-code": "5"}).grpc_status == 5
    for _ in range(2):
        r = call(proxy.base_url, STREAM, [payload], metadata={"x-stream-count": "3", "x-stream-size": "50"})
        assert r.grpc_status == 0 and len(r.messages) == 3
    for _ in range(2):
        assert call(proxy.base_url, UNARY, [payload], metadata={"x-delay-ms": "300"}).grpc_status == 0
    total = 4 + 2 + 3 + 2 + 2
    after = wait_metric(proxy, "grpcwebproxy_calls_total", pick(before, "grpcwebproxy_calls_total") + total)

    routes = {dict(ls)["route"] for (n, ls), _ in after.items() if n == "grpcwebproxy_calls_total"}
    assert len(routes) == 1 and "" not in routes, routes
    base = {"listener": "web", "cluster": "backend"}
    calls = "grpcwebproxy_calls_total"
    assert delta(before, after, calls, **base, transport="grpc-web", grpc_status="0") == 4 + 2 + 2
    assert delta(before, after, calls, **base, transport="grpc-web-text", grpc_status="0") == 2
    assert delta(before, after, calls, **base, transport="grpc-web", grpc_status="5") == 3
    assert delta(before, after, calls) == total
    rc = {"cluster": "backend"}
    assert delta(before, after, "grpcwebproxy_request_messages_total", **rc) == total
    # Failed calls send no message; each stream 3, each OK unary 1.
    assert delta(before, after, "grpcwebproxy_response_messages_total", **rc) == 4 + 2 + 2 * 3 + 2
    # Bytes: the payloads, with or without the 5-byte gRPC frame headers (either is a fair reading of "bytes").
    req = delta(before, after, "grpcwebproxy_request_bytes_total", **rc)
    assert total * 100 <= req <= total * 105, req
    resp = delta(before, after, "grpcwebproxy_response_bytes_total", **rc)
    resp_payload = (4 + 2 + 2) * 100 + 2 * 3 * 50
    assert resp_payload <= resp <= resp_payload + 5 * 14, resp
    h = "grpcwebproxy_call_duration_seconds"
    assert delta(before, after, h + "_count", **rc) == total
    assert delta(before, after, h + "_bucket", **rc, le="+Inf") == total
    assert delta(before, after, h + "_bucket", **rc, le="3600") == total
    # The two 300 ms calls are above 0.25 s; the others (local, no delay) below it.
    assert delta(before, after, h + "_bucket", **rc, le="0.25") == total - 2
    assert delta(before, after, h + "_bucket", **rc, le="10") == total
    assert delta(before, after, h + "_sum", **rc) >= 0.6


def test_calls_in_flight_per_route_and_cluster(start_proxy):
    """Streams held open show in grpcwebproxy_calls_in_flight{route,cluster} (gRPC-Web over HTTP/1.1 and a
    WebSocket call alike) and leave it when they end."""
    from grpcweb_client import StreamingCall
    from ws_client import ws_unary

    proxy = start_proxy(routes=[{"name": "echo", "service": "test.Echo", "cluster": "backend"}], top_extra={"workers": 2})
    labels = {"route": "echo", "cluster": "backend"}
    streams = [StreamingCall(proxy.base_url, STREAM, [b"s"], metadata={"x-stream-count": "10", "x-stream-interval-ms": "100"})
               for _ in range(3)]
    for s in streams:
        assert s.read_headers().http_status == 200
    s = wait_metric(proxy, "grpcwebproxy_calls_in_flight", 3, **labels)
    assert pick(s, "grpcwebproxy_calls_in_flight", **labels) == 3
    for s in streams:
        r = s.read_all()
        assert r.grpc_status == 0 and len(r.messages) == 10, (r.grpc_status, r.grpc_message)
    assert ws_unary(proxy.base_url, UNARY, b"w").grpc_status == 0
    s = wait_metric(proxy, "grpcwebproxy_calls_in_flight", 0, **labels)
    assert pick(s, "grpcwebproxy_calls_in_flight", **labels) == 0
    assert pick(s, "grpcwebproxy_calls_total", **labels) == 4


def test_limit_rejections_labelled_by_config_key(start_proxy):
    """Each limit that refuses work counts in grpcwebproxy_limit_rejections_total{limit="<config key>"}: headers
    too large (431), a message over max_message_size (8), the connection cap, the header read timeout."""
    import socket

    proxy = start_proxy(top_extra={"limits": {"max_request_headers_size": "8KiB", "max_message_size": "1KiB",
                                              "max_connections": 3, "header_read_timeout": "1s"}})
    name = "grpcwebproxy_limit_rejections_total"
    before = scrape(proxy)
    r = call(proxy.base_url, UNARY, [b"x"], metadata={"x-big": "a" * 9000})
    assert r.http_status == 431, r.http_status
    r = call(proxy.base_url, UNARY, [b"m" * 2000])
    assert r.grpc_status == 8, (r.grpc_status, r.grpc_message)
    # Three connections with half a request head fill the cap; a fourth is closed at once, and the three get 408
    # at the header read timeout.
    held = [socket.create_connection(("127.0.0.1", proxy.port)) for _ in range(3)]
    for s in held:
        s.sendall(b"POST /test.Echo/Unary HTTP/1.1\r\nHost: x\r\n")
    wait_metric(proxy, "grpcwebproxy_downstream_connections_open", 3)
    extra = socket.create_connection(("127.0.0.1", proxy.port))
    extra.settimeout(5)
    assert extra.recv(1) == b""
    for s in held:
        s.settimeout(5)
        assert b"408" in s.recv(4096)
        s.close()
    after = scrape(proxy)
    assert delta(before, after, name, limit="limits.max_request_headers_size") == 1
    assert delta(before, after, name, limit="limits.max_message_size") == 1
    assert delta(before, after, name, limit="limits.max_connections") == 1
    assert delta(before, after, name, limit="limits.header_read_timeout") == 3
    assert delta(before, after, name, limit="limits.max_request_body_size") == 0
