"""Flow control must not let slow browsers stall other calls on a shared upstream connection (issue 9, #3).

Window for a DATA payload goes back to the server in two parts: the connection-level window as soon as the bytes
are received, the stream-level window only when the browser's socket has taken them. A browser that does not
read then holds back its own stream (backpressure, at most `initial_stream_window` held by the proxy) but never
the connection window that every other call on that HTTP/2 connection shares.
"""

from __future__ import annotations

import time

import pytest

from conftest import SANITIZER_RSS_SLACK_MIB, cluster
from grpcweb_client import HTTPConnection, call, frame, grpcweb_headers

pytestmark = pytest.mark.timeout(120)

STREAM_WINDOW = 65536
CONNECTION_WINDOW = 4 * 65536
# More stalled streams than the connection window can cover: 10 x 64 KiB > 256 KiB.
STALLED_BROWSERS = 10
SERVER_STREAM = "/test.Echo/ServerStream"


def open_stalled_stream(base_url: str) -> HTTPConnection:
    """A browser that asks for an endless server stream and never reads a byte of the answer."""
    conn = HTTPConnection(base_url, timeout_s=10, rcvbuf=4096)
    hl = grpcweb_headers(metadata={"x-stream-forever": "1", "x-stream-size": "16384"})
    conn.send(HTTPConnection.build_request("POST", SERVER_STREAM, hl, frame(b"x")))
    return conn


def wait_until_stalled(upstream, timeout_s: float = 30) -> int:
    """Waits until the server has stopped producing messages (every stream is blocked by flow control)."""
    deadline = time.monotonic() + timeout_s
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        sent = upstream.stats().get("sent", {}).get(SERVER_STREAM, 0)
        if sent != last:
            last, since = sent, time.monotonic()
        elif time.monotonic() - since >= 1.0:
            return sent
        time.sleep(0.1)
    raise AssertionError(f"the server streams never stalled (sent {last} messages)")


def test_browsers_that_never_read_do_not_stall_other_calls_on_the_connection(start_proxy, upstream_factory):
    u = upstream_factory("flow")
    p = start_proxy(clusters=[cluster("backend", u.address, initial_stream_window=str(STREAM_WINDOW),
                                      initial_connection_window=str(CONNECTION_WINDOW))])
    # One upstream connection exists before the browsers arrive, so every call below shares it (workers: 1).
    assert call(p.base_url, "/test.Echo/Unary", [b"warm"], timeout_s=5).grpc_status == 0
    rss_before = p.rss_kib()
    browsers = [open_stalled_stream(p.base_url) for _ in range(STALLED_BROWSERS)]
    try:
        wait_until_stalled(u)
        t0 = time.monotonic()
        victim = call(p.base_url, "/test.Echo/Unary", [b"v"], metadata={"x-response-size": "100000"}, timeout_s=5)
        elapsed = time.monotonic() - t0
        assert victim.grpc_status == 0, (victim.grpc_status, victim.grpc_message, victim.error)
        assert len(victim.messages[0]) == 100000
        assert elapsed < 2.0, f"the victim's call took {elapsed:.2f}s"
        # What the proxy holds for the stalled streams stays bounded by their stream windows (plus the socket
        # queues' slack): returning the connection window early must not turn into unbounded buffering.
        grown_kib = p.rss_kib() - rss_before
        limit_kib = STALLED_BROWSERS * STREAM_WINDOW // 1024 + (16 + SANITIZER_RSS_SLACK_MIB) * 1024
        assert grown_kib < limit_kib, f"RSS grew by {grown_kib} KiB"
    finally:
        for b in browsers:
            b.close()
    # The browsers left: their streams are cancelled and the connection keeps serving.
    r = call(p.base_url, "/test.Echo/Unary", [b"after"], metadata={"x-response-size": "300000"}, timeout_s=5)
    assert r.grpc_status == 0, (r.grpc_status, r.grpc_message, r.error)
