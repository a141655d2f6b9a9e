"""Failures the proxy must turn into gRPC statuses a browser can read (PROTOCOLS.md §1.7-1.8,
§4): routing misses, unreachable or misbehaving upstreams, malformed bodies, deadlines.

Each test also checks that the proxy keeps serving afterwards.
"""

from __future__ import annotations

import socket
import time

import pytest

from conftest import cluster, default_route, free_port
from grpcweb_client import call, frame

UNARY = "/test.Echo/Unary"
STREAM = "/test.Echo/ServerStream"


def assert_still_serving(proxy, path=UNARY):
    r = call(proxy.base_url, path, [b"still-ok"], timeout_s=10)
    assert r.grpc_status == 0 and r.messages == [b"still-ok"], (r.http_status, r.grpc_status, r.grpc_message)


def assert_status(r, code, *, http=200):
    assert r.http_status == http, (r.http_status, r.headers)
    assert r.grpc_status == code, (r.grpc_status, r.grpc_message, r.headers, r.trailers)
    assert r.messages == []
    assert r.grpc_message, "a proxy-generated error should say what happened"


# -- routing ----------------------------------------------------------------------------


def test_unknown_route_is_unimplemented(start_proxy):
    p = start_proxy(routes=[{"service": "test.Echo", "cluster": "backend", "timeout": "0s"}])
    r = call(p.base_url, "/other.Svc/M", [b"x"])
    assert_status(r, 12)
    assert r.raw_body == b""
    assert_still_serving(p)


def test_method_route_matches_only_that_method(start_proxy):
    p = start_proxy(routes=[{"method": "test.Echo/Unary", "cluster": "backend", "timeout": "0s"}])
    assert_still_serving(p)
    r = call(p.base_url, STREAM, [b"x"])
    assert_status(r, 12)


def test_header_route_selects_cluster(start_proxy, upstream, upstream_factory):
    u2 = upstream_factory("u2")
    p = start_proxy(
        routes=[{"prefix": "/", "headers": {"x-tenant": "b"}, "cluster": "second", "timeout": "0s"},
                default_route()],
        clusters=[cluster("backend", upstream.address), cluster("second", u2.address)])
    r = call(p.base_url, UNARY, [b"x"], metadata={"x-tenant": "b"})
    assert r.grpc_status == 0 and r.headers.get("x-server-id") == "u2"
    r = call(p.base_url, UNARY, [b"x"], metadata={"x-tenant": "a"})
    assert r.grpc_status == 0 and r.headers.get("x-server-id") == "u1"


# -- upstream failures -------------------------------------------------------------------


def test_upstream_unreachable_is_unavailable(start_proxy):
    closed = free_port()  # nothing listens here
    p = start_proxy(clusters=[cluster("backend", f"127.0.0.1:{closed}", connect_timeout="1s")])
    r = call(p.base_url, UNARY, [b"x"], timeout_s=10)
    assert_status(r, 14)
    assert r.elapsed < 1.0 + 1.5, f"took {r.elapsed:.2f}s for a refused connection"
    r = call(p.base_url, STREAM, [b"x"], text=True, timeout_s=10)
    assert_status(r, 14)


@pytest.fixture
def blackhole_address():
    """An address whose TCP connects hang: a listener that never accepts, its accept queue full
    (Linux then drops new SYNs), so connect_timeout is what ends the attempt."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    addr = listener.getsockname()
    fillers = []
    for _ in range(3):
        s = socket.socket()
        s.setblocking(False)
        try:
            s.connect(addr)
        except BlockingIOError:
            pass
        fillers.append(s)
    time.sleep(0.1)
    probe = socket.socket()
    probe.settimeout(0.3)
    try:
        probe.connect(addr)
        pytest.skip("cannot make a hanging connect on this host")
    except OSError:
        pass
    finally:
        probe.close()
    yield f"{addr[0]}:{addr[1]}"
    for s in fillers:
        s.close()
    listener.close()


def test_upstream_connect_timeout_is_unavailable(start_proxy, blackhole_address):
    p = start_proxy(clusters=[cluster("backend", blackhole_address, connect_timeout="500ms")])
    t0 = time.monotonic()
    r = call(p.base_url, UNARY, [b"x"], timeout_s=10)
    elapsed = time.monotonic() - t0
    assert_status(r, 14)
    assert 0.4 <= elapsed <= 0.5 + 1.5, f"UNAVAILABLE after {elapsed:.2f}s with connect_timeout 500ms"


def test_upstream_never_answering_hits_deadline(start_proxy, fault_upstream):
    """TCP accepted but no HTTP/2 byte ever sent: the client's deadline still ends the call."""
    f = fault_upstream("hang")
    p = start_proxy(clusters=[cluster("backend", f.address, connect_timeout="1s")])
    t0 = time.monotonic()
    r = call(p.base_url, UNARY, [b"x"], metadata={"grpc-timeout": "500m"}, timeout_s=10)
    elapsed = time.monotonic() - t0
    assert r.grpc_status == 4, (r.grpc_status, r.grpc_message)
    assert elapsed < 2.5, f"took {elapsed:.2f}s"


@pytest.mark.parametrize("code_name, want", [("INTERNAL_ERROR", 13), ("CANCEL", 1), ("PROTOCOL_ERROR", 13),
                                             ("ENHANCE_YOUR_CALM", 8), ("INADEQUATE_SECURITY", 7)])
def test_upstream_reset_maps_to_status(start_proxy, fault_upstream, upstream, code_name, want):
    f = fault_upstream()
    p = start_proxy(routes=[{"prefix": "/fault.", "cluster": "fault", "timeout": "0s"}, default_route()],
                    clusters=[cluster("backend", upstream.address), cluster("fault", f.address)])
    r = call(p.base_url, f"/fault.Rst/{code_name}", [b"x"], timeout_s=10)
    assert_status(r, want)
    assert f.stats()["paths"].get(f"/fault.Rst/{code_name}") == 1, "must not be retried"
    assert_still_serving(p)


def test_refused_stream_is_retried_then_unavailable(start_proxy, fault_upstream, upstream):
    f = fault_upstream()
    p = start_proxy(routes=[{"prefix": "/fault.", "cluster": "fault", "timeout": "0s"}, default_route()],
                    clusters=[cluster("backend", upstream.address), cluster("fault", f.address)])
    r = call(p.base_url, "/fault.Rst/REFUSED_STREAM", [b"x"], timeout_s=10)
    assert_status(r, 14)
    n = f.stats()["paths"].get("/fault.Rst/REFUSED_STREAM", 0)
    assert 2 <= n <= 4, f"REFUSED_STREAM is safe to retry: expected a bounded retry, saw {n} attempts"
    assert_still_serving(p)


def test_refused_stream_once_succeeds_on_retry(start_proxy, fault_upstream):
    f = fault_upstream("refuse_first:1")
    p = start_proxy(clusters=[cluster("backend", f.address)])
    r = call(p.base_url, UNARY, [b"retry-me"], timeout_s=10)
    assert r.grpc_status == 0, (r.grpc_status, r.grpc_message)
    assert r.messages == [b"retry-me"]
    assert f.stats()["streams"] == 2


def test_goaway_with_last_stream_zero_is_unavailable(start_proxy, fault_upstream):
    f = fault_upstream("goaway")
    p = start_proxy(clusters=[cluster("backend", f.address)])
    r = call(p.base_url, UNARY, [b"x"], timeout_s=10)
    assert_status(r, 14)
    assert f.stats()["goaway_sent"] >= 1
    r = call(p.base_url, UNARY, [b"x"], timeout_s=10)  # a fresh connection is tried, same answer
    assert_status(r, 14)


def test_non_grpc_503_becomes_unavailable_with_body_text(start_proxy, fault_upstream):
    f = fault_upstream("http503")
    p = start_proxy(clusters=[cluster("backend", f.address)])
    for text in (False, True):
        r = call(p.base_url, UNARY, [b"x"], text=text, timeout_s=10)
        assert_status(r, 14)
        assert "backend overloaded" in r.grpc_message, r.grpc_message
        assert r.raw_body == b""


# -- malformed request bodies -----------------------------------------------------------


def test_truncated_frame_is_internal(proxy, upstream):
    """The frame header says 100 bytes, the body ends after 50: INTERNAL (13)."""
    upstream.reset_stats()
    r = call(proxy.base_url, UNARY, body=frame(b"x" * 100)[:55], timeout_s=10)
    assert_status(r, 13)
    assert upstream.stats()["completed"].get(UNARY, 0) == 0
    assert_still_serving(proxy)


def test_truncated_frame_header_is_internal(proxy):
    r = call(proxy.base_url, UNARY, body=b"\x00\x00\x00", timeout_s=10)
    assert_status(r, 13)
    assert_still_serving(proxy)


@pytest.mark.parametrize("body", [b"!!!!", b"AAAA*AAA", b"AAAAA", b"AA=A"],
                         ids=["bad-alphabet", "bad-char-mid", "dangling-char", "pad-in-middle"])
def test_invalid_base64_is_invalid_argument(proxy, upstream, body):
    upstream.reset_stats()
    r = call(proxy.base_url, UNARY, body=body, text=True, timeout_s=10)
    assert_status(r, 3)
    assert upstream.stats()["completed"].get(UNARY, 0) == 0
    assert_still_serving(proxy)


def test_compressed_flag_without_encoding_is_rejected(proxy):
    """Flag 0x01 without grpc-encoding cannot be decompressed by anyone: not OK."""
    r = call(proxy.base_url, UNARY, body=frame(b"zz", flags=1), timeout_s=10)
    assert r.grpc_status not in (None, 0), (r.grpc_status, r.messages)
    assert_still_serving(proxy)


# -- deadlines --------------------------------------------------------------------------


def wait_cancelled(upstream, method, before, timeout_s=2.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        st = upstream.stats()
        if st["cancelled"].get(method, 0) > before:
            return st
        time.sleep(0.05)
    raise AssertionError(f"upstream never saw {method} cancelled: {upstream.stats()['cancelled']}")


@pytest.mark.parametrize("text", [False, True], ids=["binary", "text"])
def test_grpc_timeout_header_is_enforced(proxy, upstream, text):
    upstream.reset_stats()
    t0 = time.monotonic()
    r = call(proxy.base_url, UNARY, [b"x"], text=text, metadata={"grpc-timeout": "200m", "x-delay-ms": "2000"},
             timeout_s=10)
    elapsed = time.monotonic() - t0
    assert_status(r, 4)
    assert 0.15 <= elapsed <= 1.0, f"DEADLINE_EXCEEDED after {elapsed:.3f}s"
    wait_cancelled(upstream, UNARY, 0)
    assert_still_serving(proxy)


def test_grpc_timeout_forwarded_upstream(proxy, upstream):
    upstream.reset_stats()
    r = call(proxy.base_url, UNARY, [b"x"], metadata={"grpc-timeout": "5S"})
    assert r.grpc_status == 0
    remaining = upstream.stats()["last_time_remaining"][UNARY]
    assert 3.0 < remaining <= 5.0, f"upstream saw {remaining}s of deadline"


def test_route_timeout(start_proxy, upstream):
    p = start_proxy(routes=[default_route(timeout="300ms")])
    upstream.reset_stats()
    t0 = time.monotonic()
    r = call(p.base_url, UNARY, [b"x"], metadata={"x-delay-ms": "2000"}, timeout_s=10)
    elapsed = time.monotonic() - t0
    assert_status(r, 4)
    assert 0.25 <= elapsed <= 1.0, f"DEADLINE_EXCEEDED after {elapsed:.3f}s"
    wait_cancelled(upstream, UNARY, 0)
    assert_still_serving(p)


def test_route_timeout_after_stream_started_ends_with_trailer(start_proxy):
    """Deadline hits after headers and two messages: the status comes in a trailer frame."""
    p = start_proxy(routes=[default_route(timeout="500ms")])
    r = call(p.base_url, STREAM, [b"abcd"],
             metadata={"x-stream-count": "100", "x-stream-interval-ms": "200"}, timeout_s=10)
    assert r.http_status == 200
    assert r.grpc_status == 4, (r.grpc_status, r.grpc_message, r.error)
    assert 1 <= len(r.messages) <= 4
    assert r.trailer_frames == 1, "headers were already sent, the status must be in a trailer frame"


def test_bad_grpc_timeout_value_is_rejected_or_ignored(proxy):
    """An unparsable grpc-timeout must not crash or hang the call."""
    r = call(proxy.base_url, UNARY, [b"x"], metadata={"grpc-timeout": "123456789S"}, timeout_s=10)
    assert r.grpc_status in (0, 3, 13), (r.grpc_status, r.grpc_message)
    r = call(proxy.base_url, UNARY, [b"x"], metadata={"grpc-timeout": "soon"}, timeout_s=10)
    assert r.grpc_status in (0, 3, 13), (r.grpc_status, r.grpc_message)
    assert_still_serving(proxy)
