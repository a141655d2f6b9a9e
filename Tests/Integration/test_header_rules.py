"""Header rules per route and per cluster, and the x-forwarded-* defaults (issue 13, item 3).

The upstream echoes the metadata it received (`x-echo-metadata: 1`), so each test compares what it saw with
and without rules: exactly the configured edits, nothing else. Response rules are checked as a gRPC-Web and a
WebSocket client see them. Config errors are checked through `--validate` (located `file:line:col: path:`).
"""

from __future__ import annotations

import json
import socket

import pytest

from conftest import cluster, default_route
from grpcweb_client import HTTPConnection, call
from test_edge_config import located, validate, base
from ws_client import GrpcWsCall

pytestmark = pytest.mark.timeout(60)

UNARY = "/test.Echo/Unary"
ECHO = {"x-echo-metadata": "1"}
# Differ between calls whatever the rules: ids, and the headers the rules under test own.
VOLATILE = {"x-request-id", "traceparent"}


def seen_upstream(proxy, path: str = UNARY, metadata=None, *, source_ip: str | None = None, extra_headers=None) -> dict:
    conn = _conn(proxy, source_ip) if source_ip else None
    r = call(proxy.base_url, path, [b"x"], metadata={**ECHO, **(metadata or {})}, conn=conn,
             extra_headers=extra_headers, timeout_s=10)
    if conn:
        conn.close()
    assert r.grpc_status == 0, (r.grpc_status, r.grpc_message)
    return json.loads(r.messages[0])


def stable(md: dict) -> dict:
    return {k: v for k, v in md.items() if k not in VOLATILE}


def test_upstream_sees_exactly_the_configured_request_edits(start_proxy, upstream):
    route = default_route(name="rules", request_headers={
        "add": {"x-added": "one", "X-Multi": "rule"},
        "set": {"x-set": "%ROUTE% via %CLUSTER%"},
        "remove": ["x-drop"],
    })
    plain = start_proxy()
    ruled = start_proxy(routes=[route], clusters=[cluster("backend", f"127.0.0.1:{upstream.port}",
                                                          request_headers={"set": {"x-cluster": "c1", "x-set": "cluster"}})])
    client = {"x-drop": "1", "x-set": "client", "x-multi": "client", "x-keep": "k"}
    before = stable(seen_upstream(plain, metadata=client))
    after = stable(seen_upstream(ruled, metadata=client))
    expected = dict(before)
    del expected["x-drop"]
    # The cluster's rules run first, the route's after: the route's `set` wins.
    expected.update({"x-added": "one", "x-multi": ["client", "rule"], "x-set": "rules via backend", "x-cluster": "c1"})
    assert after == expected


def test_variables_are_expanded_per_call(start_proxy):
    p = start_proxy(routes=[default_route(name="vars", request_headers={"set": {
        "x-peer": "%DOWNSTREAM_REMOTE_ADDRESS%",
        "x-peer-host": "%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%",
        "x-id": "id=%REQ(x-request-id)%",
        "x-copy": "<%REQ(X-Client)%>",
        "x-pct": "100%% %ROUTE%",
        "x-absent": "[%REQ(x-nothing)%][%CLAIM(sub)%]",
    }})])
    with HTTPConnection(p.base_url) as c:
        port = c.sock.getsockname()[1]
        r = call(p.base_url, UNARY, [b"x"], metadata={**ECHO, "x-client": "abc"}, conn=c)
    md = json.loads(r.messages[0])
    assert md["x-peer"] == f"127.0.0.1:{port}"
    assert md["x-peer-host"] == "127.0.0.1"
    # The proxy generated the call's id before the rules ran: the variable carries the same one.
    assert md["x-id"] == "id=" + md["x-request-id"] and len(md["x-request-id"]) > 8
    assert md["x-copy"] == "<abc>"
    assert md["x-pct"] == "100% vars"
    assert md["x-absent"] == "[][]"
    # A client's own x-request-id is the one used.
    md = seen_upstream(p, metadata={"x-request-id": "client-id-1"})
    assert md["x-id"] == "id=client-id-1"


RESPONSE_RULES = {
    "response_headers": {"add": {"x-resp": "%ROUTE%"}, "remove": ["x-server-id"]},
    "response_trailers": {"set": {"x-trail": "t-%CLUSTER%"}, "add": {"x-trailer-echo": "rule"}},
}


def test_response_headers_and_trailers_reach_a_grpc_web_client(start_proxy):
    p = start_proxy(routes=[default_route(name="resp", **RESPONSE_RULES)])
    r = call(p.base_url, UNARY, [b"x"], metadata={"x-trailer-echo": "upstream"})
    assert r.grpc_status == 0
    assert r.headers["x-resp"] == "resp"
    assert "x-server-id" not in r.headers
    assert r.trailers["x-trail"] == "t-backend"
    # `add` appends: the upstream's trailer and the rule's are both there.
    assert r.trailers["x-trailer-echo"] in ("upstream, rule", "upstream,rule"), r.trailers
    # A trailers-only answer gets both blocks' edits.
    r = call(p.base_url, UNARY, [b"x"], metadata={"x-fail-code": "5"})
    assert r.grpc_status == 5 and r.trailers_only
    assert r.headers["x-resp"] == "resp" and r.headers["x-trail"] == "t-backend" and "x-server-id" not in r.headers


def test_response_headers_and_trailers_reach_a_websocket_client(start_proxy):
    p = start_proxy(routes=[default_route(name="resp", **RESPONSE_RULES)])
    ws = GrpcWsCall(p.base_url, UNARY, {"x-header-up": "1"})
    ws.send(b"x")
    ws.half_close()
    result = ws.finish(timeout=10)
    assert result.grpc_status == 0
    assert result.headers["x-resp"] == "resp" and result.headers["x-header-up"] == "1"
    assert "x-server-id" not in result.headers
    assert result.trailers["x-trail"] == "t-backend"


def test_forwarded_headers_by_default_replace_a_client_chain(start_proxy):
    p = start_proxy()
    md = seen_upstream(p, metadata={"x-forwarded-for": "203.0.113.7", "x-forwarded-proto": "https"}, source_ip="127.0.0.2")
    assert md["x-forwarded-for"] == "127.0.0.2"
    assert md["x-forwarded-proto"] == "http"


def test_forwarded_headers_from_a_trusted_proxy_are_kept_and_appended(start_proxy):
    p = start_proxy(
        routes=[default_route(name="limited", rate_limits=[{"key": "client_address", "rate": "1/m"}])],
        listener_extra={"forwarded_headers": {"trusted_proxies": ["127.0.0.2/32", "10.0.0.0/8"]}})
    # 127.0.0.2 is trusted: its chain is kept and it is appended; the client is the right-most untrusted hop.
    md = seen_upstream(p, metadata={"x-forwarded-for": "203.0.113.7, 10.1.2.3", "x-forwarded-proto": "https"},
                       source_ip="127.0.0.2")
    assert md["x-forwarded-for"] == "203.0.113.7, 10.1.2.3, 127.0.0.2"
    assert md["x-forwarded-proto"] == "https"
    # ... so the rate limit counts 203.0.113.7 (spent above) and 198.51.100.1 separately.
    r = call(p.base_url, UNARY, [b"x"], metadata={"x-forwarded-for": "203.0.113.7"}, conn=_conn(p, "127.0.0.2"))
    assert r.grpc_status == 8 and "per client_address" in r.grpc_message
    r = call(p.base_url, UNARY, [b"x"], metadata={"x-forwarded-for": "198.51.100.1"}, conn=_conn(p, "127.0.0.2"))
    assert r.grpc_status == 0
    # 127.0.0.1 is not trusted: its claimed chain is replaced, and it is its own client.
    md = seen_upstream(p, metadata={"x-forwarded-for": "198.51.100.99"}, source_ip="127.0.0.1")
    assert md["x-forwarded-for"] == "127.0.0.1"


def _conn(p, ip: str) -> HTTPConnection:
    c = HTTPConnection.__new__(HTTPConnection)
    c.host, c.port = "127.0.0.1", p.port
    c.sock = socket.create_connection(("127.0.0.1", p.port), timeout=10, source_address=(ip, 0))
    c.buf, c.eof = bytearray(), False
    return c


def test_forwarded_headers_disabled_pass_the_client_values(start_proxy):
    p = start_proxy(listener_extra={"forwarded_headers": {"enabled": False}})
    md = seen_upstream(p, metadata={"x-forwarded-for": "203.0.113.7"})
    assert md["x-forwarded-for"] == "203.0.113.7"
    assert "x-forwarded-proto" not in md


@pytest.mark.parametrize("block,edit,name,why", [
    ("request_headers", "set", ":authority", "pseudo-header \":authority\" cannot be edited"),
    ("request_headers", "add", "Connection", "hop-by-hop header \"connection\" cannot be edited"),
    ("request_headers", "add", "te", "hop-by-hop header \"te\" cannot be edited"),
    ("request_headers", "set", "host", "header \"host\" cannot be edited"),
    ("request_headers", "set", "content-type", "header \"content-type\" cannot be edited"),
    ("response_headers", "add", "transfer-encoding", "hop-by-hop header \"transfer-encoding\" cannot be edited"),
    ("response_trailers", "set", "grpc-status", "header \"grpc-status\" cannot be edited (it carries the call's status)"),
    ("response_trailers", "add", "grpc-message", "header \"grpc-message\" cannot be edited"),
])
def test_protected_headers_are_config_errors(tmp_path, block, edit, name, why):
    route = default_route(**{block: {edit: {name: "v"}}})
    r = validate(tmp_path, base(routes=[route]))
    assert r.returncode != 0
    assert located(r, f"listeners[0].routes[0].{block}.{edit}.{name}").startswith(why)


def test_removing_a_pseudo_header_and_unknown_variables_are_config_errors(tmp_path):
    r = validate(tmp_path, base(routes=[default_route(request_headers={"remove": [":path"]})]))
    assert located(r, "listeners[0].routes[0].request_headers.remove[0]").startswith("pseudo-header \":path\"")
    r = validate(tmp_path, base(routes=[default_route(request_headers={"set": {"x-a": "%ROUTEE%"}})]))
    assert "unknown variable %ROUTEE%" in located(r, "listeners[0].routes[0].request_headers.set.x-a")
    assert "did you mean %ROUTE%?" in located(r, "listeners[0].routes[0].request_headers.set.x-a")
    r = validate(tmp_path, base(routes=[default_route(request_headers={"sett": {}})]))
    assert "did you mean \"set\"?" in located(r, "listeners[0].routes[0].request_headers.sett")
    r = validate(tmp_path, base(listener_extra={"forwarded_headers": {"trusted_proxies": ["10.0.0.0/33"]}}))
    assert located(r, "listeners[0].forwarded_headers.trusted_proxies[0]").startswith("invalid CIDR \"10.0.0.0/33\"")


def test_response_headers_and_trailers_reach_a_native_grpc_client(start_proxy):
    import os
    os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")
    import grpc

    p = start_proxy(routes=[default_route(name="resp", **RESPONSE_RULES)])
    with grpc.insecure_channel(f"127.0.0.1:{p.port}") as ch:
        reply, c = ch.unary_unary(UNARY).with_call(b"x", metadata=(("x-header-up", "1"),), timeout=10)
    assert reply == b"x"
    initial = dict(c.initial_metadata())
    assert initial["x-resp"] == "resp" and initial["x-header-up"] == "1" and "x-server-id" not in initial
    assert dict(c.trailing_metadata())["x-trail"] == "t-backend"
