"""The overload manager (issue 9): a process-wide budget of buffered bytes (and optionally RSS).

Stages (docs/configuration.md, `overload:`): at 80% of a budget new connections are accepted and closed, at 90%
new calls get grpc-status 14, at 100% the connections holding the largest queues are reset until pressure is
below 95%. The thresholds themselves are unit-tested (Tests/ProxyTests/OverloadMonitorTests.swift); here the
actions run against real clients.
"""

from __future__ import annotations

import socket
import time

import pytest

from grpcweb_client import HTTPConnection, call, frame, grpcweb_headers
from ws_client import stat, wait_for

pytestmark = pytest.mark.timeout(90)

MIB = 1024 * 1024


def hostile_stream(proxy, size: int) -> socket.socket:
    """A server stream of `size` bytes from a client that never reads (a tiny receive buffer)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", proxy.port))
    hl = grpcweb_headers(metadata={"x-stream-count": str(size // MIB), "x-stream-size": str(MIB)})
    s.sendall(HTTPConnection.build_request("POST", "/test.Echo/ServerStream", hl, frame(b"x")))
    return s


def is_reset(s: socket.socket, timeout_s: float) -> bool:
    """True once the proxy has reset (or closed) the socket; data sent before that is read and discarded."""
    s.settimeout(0.2)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if not s.recv(1 << 20):
                return True
        except socket.timeout:
            continue
        except ConnectionResetError:
            return True
    return False


def test_over_budget_the_largest_queue_is_reset_and_others_keep_working(start_proxy, upstream):
    # A 32 MiB stream window lets one non-reading client make the proxy queue far more than the 4 MiB budget.
    proxy = start_proxy(
        top_extra={"overload": {"max_buffered_bytes": "4MiB"}, "limits": {"output_buffer_limit": "64MiB"}},
        clusters=[{"name": "backend", "endpoints": [upstream.address], "connect_timeout": "1s",
                   "initial_stream_window": "32MiB", "initial_connection_window": "64MiB"}])
    upstream.reset_stats()
    # A keep-alive connection opened before the overload: its calls go on being served afterwards.
    victim = HTTPConnection(proxy.base_url, timeout_s=10)
    assert call(proxy.base_url, "/test.Echo/Unary", [b"before"], conn=victim).grpc_status == 0
    hog = hostile_stream(proxy, 256 * MIB)
    assert wait_for(lambda: proxy.metric("grpcwebproxy_overload_connections_reset_total") >= 1, 15), \
        f"buffered={proxy.metric('grpcwebproxy_buffered_bytes')}"
    assert is_reset(hog, 5), "the connection holding the largest queue was not reset"
    hog.close()
    # The hog's call was cancelled upstream, the budget is free again, everybody else is served.
    assert wait_for(lambda: stat(upstream.stats(), "cancelled", "/test.Echo/ServerStream") >= 1, 5)
    assert wait_for(lambda: proxy.metric("grpcwebproxy_buffered_bytes") < 1 * MIB, 5)
    r = call(proxy.base_url, "/test.Echo/Unary", [b"after"], conn=victim)
    assert r.grpc_status == 0 and r.messages == [b"after"]
    assert call(proxy.base_url, "/test.Echo/Unary", [b"new"]).grpc_status == 0
    victim.close()


def test_over_the_rss_budget_new_connections_are_refused_and_counted(start_proxy, upstream):
    # Any real process is above a 1 MiB RSS budget: the proxy must refuse new work, while the admin stays up.
    proxy = start_proxy(top_extra={"overload": {"max_rss": "1MiB"}})
    for _ in range(5):
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as s:
            s.sendall(HTTPConnection.build_request("POST", "/test.Echo/Unary", grpcweb_headers(), frame(b"x")))
            s.settimeout(5)
            try:
                data = s.recv(1024)
            except ConnectionResetError:
                data = b""
            assert data == b"", f"an overloaded proxy answered: {data[:80]!r}"
    # (the fixture's readiness probe was refused too)
    assert proxy.metric("grpcwebproxy_overload_connections_refused_total") >= 5
    assert proxy.ready_status() == 200
