"""Route selection (issue #5, part 1): `prefix:`, `service:`, `method:` and `headers:` pick the cluster, the first
matching route in config order wins, per-route settings apply, and a path no route matches gets UNIMPLEMENTED (12)
naming the path. Each cluster is a different grpcio server, so the answering `x-server-id` shows which route won.
"""

from __future__ import annotations

import time

import pytest

from cluster_support import HEALTH, UNARY, host_upstreams  # noqa: F401  (fixture)
from conftest import cluster
from grpcweb_client import call
from ws_client import GrpcWsCall

STREAM = "/test.Echo/ServerStream"


@pytest.fixture
def routed(start_proxy, host_upstreams):  # noqa: F811
    """Four clusters, one server each, behind routes of every kind."""
    ups = {name: host_upstreams(name) for name in ("tenant", "method", "service", "prefix")}
    routes = [
        # Listed first: a service route with a header condition beats the method route below for blue tenants.
        {"service": "test.Echo", "headers": {"x-tenant": "blue"}, "cluster": "tenant", "timeout": "0s"},
        {"method": "test.Echo/ServerStream", "cluster": "method", "timeout": "0s"},
        {"service": "test.Echo", "cluster": "service", "timeout": "0s"},
        {"prefix": "/grpc.health.", "cluster": "prefix", "timeout": "0s"},
    ]
    p = start_proxy(routes=routes, clusters=[cluster(n, u.address) for n, u in ups.items()])
    return p, ups


def answered_by(r) -> str | None:
    assert r.grpc_status == 0, (r.grpc_status, r.grpc_message)
    return r.headers.get("x-server-id")


def test_method_route(routed):
    p, _ = routed
    assert answered_by(call(p.base_url, STREAM, [b"abc"], metadata={"x-stream-count": "1"})) == "method"


def test_service_route(routed):
    p, _ = routed
    assert answered_by(call(p.base_url, UNARY, [b"x"])) == "service"
    # Another method of the same service that has no method route of its own.
    r = call(p.base_url, "/test.Echo/ClientStream", [b"a", b"b"])
    assert answered_by(r) == "service" and r.messages == [b"count=2 bytes=2"]


def test_header_route_and_first_match_wins(routed):
    p, _ = routed
    # The header route comes first: it wins even for the method that has its own route.
    assert answered_by(call(p.base_url, UNARY, [b"x"], metadata={"x-tenant": "blue"})) == "tenant"
    assert answered_by(call(p.base_url, STREAM, [b"x"], metadata={"x-tenant": "blue", "x-stream-count": "1"})) == "tenant"
    # A different value does not match the condition: routing falls through to the next routes.
    assert answered_by(call(p.base_url, UNARY, [b"x"], metadata={"x-tenant": "red"})) == "service"
    assert answered_by(call(p.base_url, STREAM, [b"x"], metadata={"x-tenant": "red", "x-stream-count": "1"})) == "method"


def test_prefix_route(routed):
    p, ups = routed
    before = ups["prefix"].stats()["calls"].get(HEALTH, 0)
    r = call(p.base_url, HEALTH, [b""])
    assert r.grpc_status == 0 and r.messages == [b"\x08\x01"], (r.grpc_status, r.grpc_message, r.messages)
    assert ups["prefix"].stats()["calls"].get(HEALTH, 0) == before + 1
    for name in ("tenant", "method", "service"):
        assert ups[name].stats()["calls"].get(HEALTH, 0) == 0, name


@pytest.mark.parametrize("path", ["/other.Svc/Method", "/test.Echoo/Unary", "/grpc.healthz/x", "/test.Echo"])
def test_no_matching_route_is_unimplemented_naming_the_path(routed, path):
    p, ups = routed
    r = call(p.base_url, path, [b"x"])
    assert r.http_status == 200
    assert r.grpc_status == 12, (r.grpc_status, r.grpc_message)
    assert path in (r.grpc_message or ""), r.grpc_message
    for u in ups.values():
        assert sum(u.stats()["calls"].values()) == 0, f"{u.server_id} saw an unroutable call"


def test_websocket_calls_use_the_same_routes(routed):
    """A grpc-websockets call is routed at the upgrade, so `headers:` conditions see the upgrade request's HTTP
    headers (cookies, a header a native client adds); the metadata block sent afterwards does not reroute."""
    p, _ = routed
    c = GrpcWsCall(p.base_url, UNARY, {}, additional_headers={"x-tenant": "blue"})
    c.send(b"ws")
    c.half_close()
    r = c.finish(timeout=10)
    assert r.headers is not None and r.headers.get("x-server-id") == "tenant", (r.headers, r.trailers, r.close_code)
    c = GrpcWsCall(p.base_url, STREAM, {"x-stream-count": "1"})
    c.send(b"ws")
    c.half_close()
    r = c.finish(timeout=10)
    assert r.headers is not None and r.headers.get("x-server-id") == "method", (r.headers, r.trailers, r.close_code)


def test_per_route_timeout_applies_only_to_its_route(start_proxy, host_upstreams):  # noqa: F811
    u = host_upstreams("only")
    p = start_proxy(routes=[{"method": "test.Echo/Unary", "cluster": "c", "timeout": "300ms"},
                            {"prefix": "/", "cluster": "c", "timeout": "0s"}],
                    clusters=[cluster("c", u.address)])
    t0 = time.monotonic()
    r = call(p.base_url, UNARY, [b"x"], metadata={"x-delay-ms": "1500"})
    assert r.grpc_status == 4, (r.grpc_status, r.grpc_message)
    assert time.monotonic() - t0 < 1.2
    r = call(p.base_url, STREAM, [b"x"], metadata={"x-delay-ms": "600", "x-stream-count": "1"})
    assert r.grpc_status == 0, (r.grpc_status, r.grpc_message)


def test_many_routes_still_route_correctly(start_proxy, host_upstreams):  # noqa: F811
    """6,000 routes before the ones that matter: the compiled tables still find the right one."""
    a = host_upstreams("a")
    b = host_upstreams("b")
    routes = []
    for i in range(2000):
        routes.append({"method": f"pkg{i}.Svc/M", "cluster": "b", "timeout": "0s"})
        routes.append({"service": f"svc{i}.S", "cluster": "b", "timeout": "0s"})
        routes.append({"prefix": f"/pre{i}.", "cluster": "b", "timeout": "0s"})
    routes += [{"method": "test.Echo/ServerStream", "cluster": "a", "timeout": "0s"},
               {"service": "test.Echo", "cluster": "b", "timeout": "0s"},
               {"prefix": "/grpc.health.", "cluster": "a", "timeout": "0s"}]
    p = start_proxy(routes=routes, clusters=[cluster("a", a.address), cluster("b", b.address)])
    assert answered_by(call(p.base_url, STREAM, [b"x"], metadata={"x-stream-count": "1"})) == "a"
    assert answered_by(call(p.base_url, UNARY, [b"x"])) == "b"
    assert call(p.base_url, HEALTH, [b""]).grpc_status == 0
    assert a.stats()["calls"].get(HEALTH, 0) == 1 and b.stats()["calls"].get(HEALTH, 0) == 0
    r = call(p.base_url, "/pkg1999.Svc/Other", [b"x"])
    assert r.grpc_status == 12 and "/pkg1999.Svc/Other" in (r.grpc_message or ""), (r.grpc_status, r.grpc_message)
