"""Upstream endpoints that misbehave at the connection level (issue 9).

* An endpoint that accepts TCP and closes at once, before a single HTTP/2 byte, cannot have processed anything:
  its streams are retried on another endpoint like refused ones, and without a retry the call fails with 14
  saying so (minor).
* A PING flood from a server that never reads what we send is bounded and ends its connection.
"""

from __future__ import annotations

import pytest

from conftest import cluster
from grpcweb_client import call

pytestmark = pytest.mark.timeout(120)

UNARY = "/test.Echo/Unary"


@pytest.mark.parametrize("mode", ["close_at_once", "close_at_once_fin"], ids=["rst", "fin"])
def test_endpoint_closing_before_http2_is_retried_elsewhere(start_proxy, fault_upstream, upstream, mode):
    bad = fault_upstream(mode)
    # Round robin starts at the first endpoint: the bad one.
    p = start_proxy(clusters=[cluster("backend", bad.address, upstream.address)])
    for i in range(6):
        r = call(p.base_url, UNARY, [b"c%d" % i], timeout_s=5)
        assert r.grpc_status == 0, (i, r.grpc_status, r.grpc_message)
        assert r.messages == [b"c%d" % i]
    assert bad.stats()["connections"] >= 1


@pytest.mark.parametrize("mode", ["close_at_once", "close_at_once_fin"], ids=["rst", "fin"])
def test_endpoint_closing_before_http2_without_retry_says_so(start_proxy, fault_upstream, mode):
    bad = fault_upstream(mode)
    p = start_proxy(clusters=[cluster("backend", bad.address, retries=0)])
    r = call(p.base_url, UNARY, [b"x"], timeout_s=5)
    assert r.grpc_status == 14, (r.grpc_status, r.grpc_message)
    assert "before speaking HTTP/2" in r.grpc_message, r.grpc_message


def test_ping_flood_from_an_upstream_that_never_reads_closes_its_connection(start_proxy, fault_upstream, upstream):
    """The PING ACKs the proxy owes pile up when the server stops reading: they are bounded (1 MiB in the socket
    queue, then nghttp2's 1000 queued ACKs) and the connection is closed, the other cluster unaffected."""
    flood = fault_upstream("ping_flood")
    p = start_proxy(routes=[{"prefix": "/test.Echo/Unary", "cluster": "good", "timeout": "0s"},
                            {"prefix": "/", "cluster": "flood", "timeout": "0s"}],
                    clusters=[cluster("flood", flood.address, retries=0), cluster("good", upstream.address)])
    rss_before = p.rss_kib()
    r = call(p.base_url, "/test.Echo/ServerStream", [b"x"], timeout_s=30)
    assert r.grpc_status == 14, (r.grpc_status, r.grpc_message)
    assert "flood" in r.grpc_message.lower(), r.grpc_message
    grown_kib = p.rss_kib() - rss_before
    assert grown_kib < 16 * 1024, f"RSS grew by {grown_kib} KiB"
    ok = call(p.base_url, UNARY, [b"still"], timeout_s=5)
    assert ok.grpc_status == 0 and ok.messages == [b"still"]
