"""What an upstream answers in its header blocks must reach the browser safe and well formed (issue 9).

* An HPACK bomb (a small block that references one large indexed field many times) must not become a huge
  header list in the proxy: the advertised SETTINGS_MAX_HEADER_LIST_SIZE is enforced as fields arrive (#4).
* A final block without grpc-status gets 13 with a message (#14); several grpc-status values give 13, not a
  joined "0, 13"; of several grpc-message values the first is kept (minor).
* CORS response headers belong to the proxy's CORS policy: the upstream's are dropped (#16).
* Headers a request's Connection field names are hop-by-hop and not forwarded upstream (minor).
"""

from __future__ import annotations

import json

import pytest

from conftest import cluster
from grpcweb_client import call, parse_frames
from ws_client import GrpcWsCall

pytestmark = pytest.mark.timeout(120)

UNARY = "/test.Echo/Unary"
# The default `max_response_header_bytes` of a cluster (SETTINGS_MAX_HEADER_LIST_SIZE we advertise).
HEADER_LIMIT = 65536


@pytest.fixture
def fault_proxy(start_proxy, fault_upstream):
    f = fault_upstream()
    p = start_proxy(clusters=[cluster("backend", f.address)])
    p.fault = f
    return p


def reply(p, spec: dict, **kw):
    return call(p.base_url, UNARY, [b"hi"], metadata={"x-fault": "reply", "x-reply": json.dumps(spec)},
                timeout_s=10, **kw)


def trailer_lines(r) -> list[str]:
    """The lines of the response's trailer frame, as sent (repeats not joined)."""
    frames, _ = parse_frames(r.body)
    blocks = [payload for flags, payload in frames if flags & 0x80]
    assert len(blocks) == 1, r.body
    return [line for line in blocks[0].decode("latin-1").split("\r\n") if line]


# -- HPACK bomb ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["headers", "trailers", "trailers_only"])
def test_hpack_bomb_fails_the_call_with_13_and_bounded_memory(fault_proxy, where):
    p = fault_proxy
    rss_before = p.rss_kib()
    for _ in range(3):
        # Each block is about 34 KB on the wire and decodes to 30000 x 4 KB = 120 MB of header list.
        r = call(p.base_url, UNARY, [b"hi"], metadata={"x-fault": f"hpack_bomb:{where}"}, timeout_s=20)
        assert r.grpc_status == 13, (r.grpc_status, r.grpc_message, r.error)
        assert f"header list exceeded {HEADER_LIMIT} bytes" in r.grpc_message, r.grpc_message
        assert "x-bomb" not in r.headers and "x-bomb" not in r.trailers
        assert len(r.raw_body) < 64 * 1024
    grown_kib = p.rss_kib() - rss_before
    assert grown_kib < 8 * 1024, f"RSS grew by {grown_kib} KiB"
    # The proxy and its upstream connection still serve.
    ok = call(p.base_url, UNARY, [b"after"], timeout_s=5)
    assert ok.grpc_status == 0 and ok.messages == [b"after"], (ok.grpc_status, ok.grpc_message)


def test_hpack_bomb_on_a_websocket_call_fails_it_with_13(fault_proxy):
    c = GrpcWsCall(fault_proxy.base_url, UNARY, {"x-fault": "hpack_bomb:trailers_only"})
    c.send(b"hi")
    c.half_close()
    result = c.finish(timeout=10)
    assert result.grpc_status == 13, (result.trailers, result.close_code)
    assert f"header list exceeded {HEADER_LIMIT} bytes" in result.grpc_message


def test_header_list_just_under_the_limit_passes(fault_proxy):
    # 15 fields of 4000 + 6 + 32 bytes = 60570 bytes, plus the pseudo-header and content-type: under 64 KiB.
    fields = [[f"x-big-{i}", "v" * 4000] for i in range(15)]
    r = reply(fault_proxy, {"headers": fields})
    assert r.grpc_status == 0, (r.grpc_status, r.grpc_message, r.error)
    assert r.headers["x-big-14"] == "v" * 4000


def test_max_response_header_bytes_is_configurable(start_proxy, fault_upstream):
    f = fault_upstream()
    p = start_proxy(clusters=[cluster("backend", f.address, max_response_header_bytes="4KiB")])
    ok = reply(p, {"headers": [["x-small", "v" * 1000]]})
    assert ok.grpc_status == 0, (ok.grpc_status, ok.grpc_message)
    r = reply(p, {"headers": [[f"x-big-{i}", "v" * 1000] for i in range(5)]})
    assert r.grpc_status == 13, (r.grpc_status, r.grpc_message)
    assert "header list exceeded 4096 bytes" in r.grpc_message


# -- grpc-status that is missing or repeated ------------------------------------------------------------------


def test_trailers_without_grpc_status_get_13(fault_proxy):
    r = reply(fault_proxy, {"trailers": [["x-custom", "only"]]})
    assert r.grpc_status == 13, (r.grpc_status, r.grpc_message, r.trailers)
    assert "no grpc-status" in r.grpc_message
    assert r.messages == [b"hi"]
    assert r.trailers.get("x-custom") == "only"


def test_trailers_only_without_grpc_status_gets_13(fault_proxy):
    r = reply(fault_proxy, {"trailers": [["x-custom", "only"]], "trailers_only": True})
    assert r.trailers_only, r
    assert r.grpc_status == 13, (r.grpc_status, r.grpc_message, r.headers)
    assert "no grpc-status" in r.grpc_message


def test_websocket_trailers_only_without_grpc_status_gets_13(fault_proxy):
    spec = json.dumps({"trailers": [["x-custom", "only"]], "trailers_only": True})
    c = GrpcWsCall(fault_proxy.base_url, UNARY, {"x-fault": "reply", "x-reply": spec})
    c.send(b"hi")
    c.half_close()
    result = c.finish(timeout=10)
    assert result.grpc_status == 13, (result.trailers, result.close_code)


def test_websocket_trailers_without_grpc_status_get_13(fault_proxy):
    spec = json.dumps({"trailers": [["x-custom", "only"]]})
    c = GrpcWsCall(fault_proxy.base_url, UNARY, {"x-fault": "reply", "x-reply": spec})
    c.send(b"hi")
    c.half_close()
    result = c.finish(timeout=10)
    assert result.grpc_status == 13, (result.trailers, result.close_code)
    assert "no grpc-status" in result.grpc_message


def test_repeated_grpc_status_gives_13_and_the_first_grpc_message(fault_proxy):
    r = reply(fault_proxy, {"trailers": [["grpc-status", "0"], ["grpc-status", "13"],
                                         ["grpc-message", "first"], ["grpc-message", "second"]]})
    lines = trailer_lines(r)
    status_lines = [line for line in lines if line.startswith("grpc-status:")]
    message_lines = [line for line in lines if line.startswith("grpc-message:")]
    assert status_lines == ["grpc-status:13"], lines
    assert len(message_lines) == 1, lines
    assert r.grpc_status == 13
    assert "2 grpc-status values" in r.grpc_message and "first" in r.grpc_message, r.grpc_message


def test_repeated_grpc_message_keeps_the_first(fault_proxy):
    r = reply(fault_proxy, {"trailers": [["grpc-status", "5"], ["grpc-message", "first"],
                                         ["grpc-message", "second"]]})
    assert [line for line in trailer_lines(r) if line.startswith("grpc-message:")] == ["grpc-message:first"]
    assert (r.grpc_status, r.grpc_message) == (5, "first")


# -- CORS and other proxy-owned response headers --------------------------------------------------------------

UPSTREAM_CORS = [["access-control-allow-origin", "http://evil.example"],
                 ["access-control-allow-credentials", "true"],
                 ["access-control-expose-headers", "x-secret"],
                 ["proxy-authenticate", "Basic"]]


@pytest.mark.parametrize("trailers_only", [False, True], ids=["headers", "trailers_only"])
def test_upstream_cors_headers_are_dropped(fault_proxy, trailers_only):
    spec = {"headers": UPSTREAM_CORS + [["x-kept", "1"]]}
    if trailers_only:
        spec = {"trailers": [["grpc-status", "0"]] + UPSTREAM_CORS + [["x-kept", "1"]], "trailers_only": True}
    r = reply(fault_proxy, spec, origin="http://page.example")
    assert r.grpc_status == 0, (r.grpc_status, r.grpc_message)
    acao = [v for k, v in r.header_list if k.lower() == "access-control-allow-origin"]
    assert len(acao) == 1 and acao[0] != "http://evil.example", r.header_list
    names = [k.lower() for k, _ in r.header_list]
    assert "access-control-allow-credentials" not in names
    assert "proxy-authenticate" not in names
    assert "x-secret" not in r.headers.get("access-control-expose-headers", "")
    assert r.headers.get("x-kept") == "1"


def test_upstream_cors_fields_in_trailers_are_dropped(fault_proxy):
    r = reply(fault_proxy, {"trailers": [["grpc-status", "0"]] + UPSTREAM_CORS}, origin="http://page.example")
    assert r.grpc_status == 0
    assert not any(line.lower().startswith(("access-control-", "proxy-authenticate")) for line in trailer_lines(r))


# -- Connection-nominated request headers ---------------------------------------------------------------------


def test_headers_named_in_connection_are_not_forwarded(fault_proxy):
    r = call(fault_proxy.base_url, UNARY, [b"hi"], timeout_s=5,
             extra_headers=[("Connection", "keep-alive, X-Hop"), ("X-Hop", "secret"), ("X-Kept", "1"),
                            ("Proxy-Authorization", "Basic abc")])
    assert r.grpc_status == 0, (r.grpc_status, r.grpc_message)
    seen = fault_proxy.fault.stats()["last_headers"]
    assert "x-hop" not in seen and "proxy-authorization" not in seen, seen
    assert seen.get("x-kept") == "1"
