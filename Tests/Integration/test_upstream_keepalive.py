"""Keepalive PING on idle upstream connections: off by default, sent every keepalive_interval when set."""

from __future__ import annotations

import time

import pytest

from conftest import cluster, default_route
from grpcweb_client import call

pytestmark = pytest.mark.timeout(30)


def _proxy_to_fault(start_proxy, fault_upstream, upstream, **cluster_options):
    f = fault_upstream()
    p = start_proxy(routes=[{"prefix": "/fault.", "cluster": "fault", "timeout": "0s"}, default_route()],
                    clusters=[cluster("backend", upstream.address), cluster("fault", f.address, **cluster_options)])
    r = call(p.base_url, "/fault.Ok/Call", [b"x"], timeout_s=10)  # opens the upstream connection
    assert r.grpc_status == 0, (r.http_status, r.headers, r.trailers)
    return f, p


def test_keepalive_pings_an_idle_upstream_connection(start_proxy, fault_upstream, upstream):
    f, p = _proxy_to_fault(start_proxy, fault_upstream, upstream, keepalive_interval="200ms", keepalive_timeout="1s")
    time.sleep(1.5)
    pings = f.stats()["pings_received"]
    assert 3 <= pings <= 10, f"expected a PING about every 200 ms of idleness, got {pings} in 1.5 s"
    # Answered pings keep the connection: the next call reuses it.
    connections = f.stats()["connections"]
    assert call(p.base_url, "/fault.Ok/Call", [b"y"], timeout_s=10).grpc_status == 0
    assert f.stats()["connections"] == connections


def test_no_keepalive_pings_by_default(start_proxy, fault_upstream, upstream):
    f, _ = _proxy_to_fault(start_proxy, fault_upstream, upstream)
    time.sleep(1.0)
    assert f.stats()["pings_received"] == 0
