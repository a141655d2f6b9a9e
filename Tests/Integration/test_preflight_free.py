"""Calls without a CORS preflight: the gRPC headers in the `$httpHeaders` query parameter of a CORS simple request
(issue 13 item 4), over HTTP/1.1 and HTTP/2.

The requests are built exactly as the official grpc-web JS client builds them with `suppressCorsPreflight: true`
(javascript/net/grpc/web/grpcwebclientbase.js startStream_ / processHeaders_ / setCorsOverride_, and Closure's
goog.net.rpc.HttpCors.setHttpHeadersWithOverwriteParam + goog.uri.utils.appendParam): the headers object
(metadata first, then Content-Type, Accept, X-User-Agent, X-Grpc-Web, grpc-timeout) becomes `name:value\\r\\n` lines,
the block is encodeURIComponent-ed as the value of the parameter `%24httpHeaders` (the name is encoded too), the
XHR carries no header of its own so goog.net.XhrIo sends `Content-Type: application/x-www-form-urlencoded;charset=utf-8`,
and the body is the base64 (grpc-web-text) request.
"""

from __future__ import annotations

import base64
import json
import urllib.parse

import pytest

from grpcweb_client import HTTPConnection, frame, parse_frames, read_call
from h2_support import H2Client, h2_proxy

UNARY = "/test.Echo/Unary"
ALLOWED = "http://page.example"
OTHER = "http://evil.example"
FORM = "application/x-www-form-urlencoded;charset=utf-8"

CORS = {"cors": {"allow_origins": [ALLOWED], "allow_headers": ["x-custom", "x-echo-metadata", "x-route"],
                 "max_age": "1h"}}


def encode_uri_component(s: str) -> str:
    """JavaScript's encodeURIComponent: everything but A-Z a-z 0-9 - _ . ! ~ * ' ( ) is percent-encoded (UTF-8)."""
    return urllib.parse.quote(s, safe="-_.!~*'()")


def header_block(headers) -> str:
    items = headers.items() if isinstance(headers, dict) else headers
    return "".join(f"{k}:{v}\r\n" for k, v in items)


def param_target(path: str, headers=None, *, raw_value: str | None = None, name: str = "%24httpHeaders") -> str:
    value = raw_value if raw_value is not None else encode_uri_component(header_block(headers))
    return f"{path}?{name}={value}"


def client_headers(metadata: dict | None = None, *, text: bool = True, timeout_ms: int | None = None) -> list:
    """The headers object of grpcwebclientbase.js in its order: metadata, then processHeaders_."""
    h = list((metadata or {}).items())
    if text:
        h += [("Content-Type", "application/grpc-web-text"), ("Accept", "application/grpc-web-text")]
    else:
        h += [("Content-Type", "application/grpc-web+proto")]
    h += [("X-User-Agent", "grpc-web-javascript/0.1"), ("X-Grpc-Web", "1")]
    if timeout_ms:
        h.append(("grpc-timeout", f"{timeout_ms}m"))
    return h


def simple_request(proxy, target: str, body: bytes, *, origin: str | None = ALLOWED, content_type: str = FORM,
                   extra=()):
    """Sends the simple request on a fresh HTTP/1.1 connection and reads the gRPC-Web answer (or the plain error)."""
    hl = [("Content-Type", content_type)]
    if origin:
        hl.append(("Origin", origin))
    hl += list(extra)
    conn = HTTPConnection(proxy.base_url, timeout_s=10)
    conn.send(HTTPConnection.build_request("POST", target, hl, body))
    return conn


def text_body(*messages: bytes) -> bytes:
    return base64.b64encode(b"".join(frame(m) for m in messages))


@pytest.fixture
def pf_proxy(start_proxy):
    return start_proxy(listener_extra=CORS)


def metric(proxy, name: str) -> int:
    return proxy.metric(name)


def upstream_calls(upstream) -> int:
    return sum(upstream.stats()["calls"].values())


def test_simple_request_carries_the_call(pf_proxy, upstream):
    upstream.reset_stats()
    target = param_target(UNARY, client_headers({"x-custom": "from the page", "x-echo-metadata": "1"}, timeout_ms=5000))
    # What the request line looks like: only the encoded parameter, the gRPC headers nowhere else.
    assert target.startswith(UNARY + "?%24httpHeaders=x-custom%3Afrom%20the%20page%0D%0A")
    with simple_request(pf_proxy, target, text_body(b"ignored")) as conn:
        r = read_call(conn)
    assert r.http_status == 200 and r.grpc_status == 0, (r.http_status, r.headers, r.grpc_message, r.error)
    assert r.headers["content-type"].startswith("application/grpc-web-text"), r.headers
    assert r.headers.get("access-control-allow-origin") == ALLOWED
    md = json.loads(r.messages[0])
    # The upstream saw the decoded metadata as real headers, and the gRPC content type, not the form one.
    assert md["x-custom"] == "from the page", md
    assert md["x-user-agent"] == "grpc-web-javascript/0.1", md
    assert not any("httpheaders" in k.lower() or "form-urlencoded" in str(v) for k, v in md.items()), md
    st = upstream.stats()
    # A clean :path: grpcio dispatched the call to its method (a path with a query would be UNIMPLEMENTED there).
    assert st["calls"].get(UNARY) == 1, st["calls"]
    # grpc-timeout from the parameter became the upstream deadline (5 s, minus what passed).
    remaining = st["last_time_remaining"].get(UNARY)
    assert remaining is not None and 3.0 < remaining <= 5.0, remaining
    assert metric(pf_proxy, "grpcwebproxy_cors_preflights_total") == 0
    assert metric(pf_proxy, "grpcwebproxy_http_headers_param_calls_total") == 1


def test_text_plain_and_unencoded_param_name(pf_proxy, upstream):
    """text/plain is the other CORS-safelisted body type; `$httpHeaders` written literally also counts, and other
    query parameters are left alone (here: dropped with the param only, so the path stays routable)."""
    target = param_target(UNARY, client_headers({"x-echo-metadata": "1"}), name="$httpHeaders")
    with simple_request(pf_proxy, target, text_body(b"x"), content_type="text/plain;charset=UTF-8") as conn:
        r = read_call(conn)
    assert r.grpc_status == 0, (r.http_status, r.grpc_message, r.error)
    assert json.loads(r.messages[0])["x-grpc-web"] == "1"


def test_routing_sees_the_merged_headers(start_proxy, upstream):
    """A route that matches on a header must see the one carried in the parameter: the merge happens before the
    route match."""
    routes = [{"prefix": "/", "headers": {"x-route": "blue"}, "cluster": "backend", "timeout": "0s"}]
    proxy = start_proxy(routes=routes, listener_extra=CORS)
    with simple_request(proxy, param_target(UNARY, client_headers({"x-route": "blue"})), text_body(b"r")) as conn:
        r = read_call(conn)
    assert r.grpc_status == 0 and r.messages == [b"r"], (r.http_status, r.grpc_message)
    with simple_request(proxy, param_target(UNARY, client_headers({"x-route": "green"})), text_body(b"r")) as conn:
        r = read_call(conn)
    assert r.grpc_status == 12, (r.grpc_status, r.grpc_message)  # no route: UNIMPLEMENTED, read by the page
    assert r.headers.get("access-control-allow-origin") == ALLOWED


def test_binary_call_over_http2(start_proxy, upstream):
    proxy = h2_proxy(start_proxy, listener_extra=CORS)
    upstream.reset_stats()
    target = param_target(UNARY, client_headers({"x-custom": "h2", "x-echo-metadata": "1"}, text=False))
    with H2Client(proxy.port) as c:
        sid = c.open_stream([(":method", "POST"), (":scheme", "http"), (":authority", "localhost"), (":path", target),
                             ("content-type", FORM), ("origin", ALLOWED)], frame(b"over h2"))
        st = c.wait_streams([sid])[0]
    assert st.status == 200 and st.grpc_status == 0, st.describe()
    assert st.headers.get("access-control-allow-origin") == ALLOWED
    md = json.loads(st.messages[0])
    assert md["x-custom"] == "h2" and md["x-grpc-web"] == "1", md
    assert upstream.stats()["calls"].get(UNARY) == 1
    assert metric(proxy, "grpcwebproxy_cors_preflights_total") == 0


def test_refusal_over_http2(start_proxy, upstream):
    proxy = h2_proxy(start_proxy, listener_extra=CORS)
    before = upstream_calls(upstream)
    target = param_target(UNARY, client_headers({"Host": "internal.example"}, text=False))
    with H2Client(proxy.port) as c:
        sid = c.open_stream([(":method", "POST"), (":scheme", "http"), (":authority", "localhost"), (":path", target),
                             ("content-type", FORM), ("origin", ALLOWED)], frame(b"x"))
        st = c.wait_streams([sid])[0]
    assert st.status == 400, st.describe()
    assert b"Host cannot be set" in bytes(st.data), bytes(st.data)
    assert st.headers.get("access-control-allow-origin") == ALLOWED
    assert upstream_calls(upstream) == before


BAD_PERCENT = encode_uri_component("Content-Type:application/grpc-web-text\r\n") + "x%ZZ"

REFUSALS = [
    # (name, target, content type, origin, status, words in the message)
    ("malformed_percent", param_target(UNARY, raw_value=BAD_PERCENT), FORM, ALLOWED, 400, "percent-encoding"),
    ("truncated_percent", param_target(UNARY, raw_value=encode_uri_component(header_block(client_headers())) + "%0"),
     FORM, ALLOWED, 400, "percent-encoding"),
    ("bare_lf", param_target(UNARY, raw_value=encode_uri_component(header_block(client_headers())) + "x-a%3Ab%0Ax-c%3Ad"),
     FORM, ALLOWED, 400, "CRLF"),
    ("no_colon", param_target(UNARY, client_headers()) + "x-broken%0D%0A", FORM, ALLOWED, 400, "no ':'"),
    ("bad_name", param_target(UNARY, client_headers() + [("x bad", "1")]), FORM, ALLOWED, 400, "not a valid header name"),
    ("host", param_target(UNARY, client_headers() + [("Host", "internal.example")]), FORM, ALLOWED, 400, "cannot be set"),
    ("cookie", param_target(UNARY, client_headers() + [("Cookie", "session=stolen")]), FORM, ALLOWED, 400, "cannot be set"),
    ("content_length", param_target(UNARY, client_headers() + [("Content-Length", "0")]), FORM, ALLOWED, 400,
     "cannot be set"),
    ("origin", param_target(UNARY, client_headers() + [("Origin", ALLOWED)]), FORM, OTHER, 400, "cannot be set"),
    ("pseudo_path", param_target(UNARY, client_headers() + [(":path", "/admin.Svc/Drop")]), FORM, ALLOWED, 400,
     "pseudo-header :path"),
    ("duplicate_header", param_target(UNARY, client_headers({"x-custom": "1", "X-Custom": "2"})), FORM, ALLOWED, 400,
     "more than once"),
    ("duplicate_param", param_target(UNARY, client_headers()) + "&" + param_target("", client_headers())[1:], FORM,
     ALLOWED, 400, "more than once"),
    ("no_content_type", param_target(UNARY, [("X-Grpc-Web", "1")]), FORM, ALLOWED, 415, "gRPC-Web content-type"),
    ("non_grpc_content_type", param_target(UNARY, [("Content-Type", "text/plain"), ("X-Grpc-Web", "1")]), FORM,
     ALLOWED, 415, "gRPC-Web content-type"),
    ("form_without_param", UNARY, FORM, ALLOWED, 415, "$httpHeaders"),
    ("text_plain_without_param", UNARY + "?x=1", "text/plain", ALLOWED, 415, "$httpHeaders"),
    ("origin_not_allowed", param_target(UNARY, client_headers()), FORM, OTHER, 403, "not in cors.allow_origins"),
    ("header_not_allowed", param_target(UNARY, client_headers({"authorization": "Bearer x"})), FORM, ALLOWED, 403,
     "cors.allow_headers"),
]


@pytest.mark.parametrize("case", REFUSALS, ids=[c[0] for c in REFUSALS])
def test_refusals_are_clear_and_reach_no_upstream(pf_proxy, upstream, case):
    _, target, content_type, origin, status, words = case
    before = upstream_calls(upstream)
    refused_before = metric(pf_proxy, "grpcwebproxy_http_headers_param_refused_total")
    with simple_request(pf_proxy, target, text_body(b"x"), origin=origin, content_type=content_type) as conn:
        resp = conn.read_response()
    text = resp.body.decode(errors="replace")
    assert resp.status == status, (resp.status, text)
    assert words in text, text
    # The page can read why when its origin is allowed (the CORS headers come with the error).
    if origin == ALLOWED:
        assert resp.header("access-control-allow-origin") == ALLOWED, resp.headers
    else:
        assert resp.header("access-control-allow-origin") is None, resp.headers
    assert upstream_calls(upstream) == before
    if "$httpHeaders" not in words:
        assert metric(pf_proxy, "grpcwebproxy_http_headers_param_refused_total") == refused_before + 1
    assert metric(pf_proxy, "grpcwebproxy_http_headers_param_calls_total") == 0


def test_oversized_param_refused_with_431(start_proxy, upstream):
    proxy = start_proxy(listener_extra=CORS, top_extra={"limits": {"max_http_headers_param_size": "1KiB"}})
    before = upstream_calls(upstream)
    small = param_target(UNARY, client_headers({"x-custom": "a" * 600}))
    big = param_target(UNARY, client_headers({"x-custom": "a" * 1100}))
    with simple_request(proxy, small, text_body(b"fits")) as conn:
        r = read_call(conn)
    assert r.grpc_status == 0 and r.messages == [b"fits"], (r.http_status, r.grpc_message)
    with simple_request(proxy, big, text_body(b"x")) as conn:
        resp = conn.read_response()
    assert resp.status == 431, resp.status
    assert "over the limit of 1024" in resp.body.decode(), resp.body
    assert upstream_calls(upstream) == before + 1
    _, text = proxy.admin_get("/metrics")
    assert 'grpcwebproxy_limit_rejections_total{limit="limits.max_http_headers_param_size"} 1' in text


def test_header_lines_count_against_max_headers_count(start_proxy, upstream):
    proxy = start_proxy(listener_extra=CORS, top_extra={"limits": {"max_headers_count": 12}})
    many = {f"x-custom-{i}": str(i) for i in range(20)}
    with simple_request(proxy, param_target(UNARY, client_headers(many)), text_body(b"x")) as conn:
        resp = conn.read_response()
    assert resp.status == 431, resp.status
    assert "more than 12 header lines" in resp.body.decode(), resp.body


def test_switched_off_per_route(start_proxy, upstream):
    routes = [{"prefix": "/test.Echo/ServerStream", "cluster": "backend", "timeout": "0s",
               "cors": {"allow_http_headers_param": False}},
              {"prefix": "/", "cluster": "backend", "timeout": "0s"}]
    proxy = start_proxy(routes=routes, listener_extra=CORS)
    with simple_request(proxy, param_target("/test.Echo/ServerStream", client_headers()), text_body(b"s")) as conn:
        resp = conn.read_response()
    assert resp.status == 403 and "allow_http_headers_param: false" in resp.body.decode(), (resp.status, resp.body)
    with simple_request(proxy, param_target(UNARY, client_headers()), text_body(b"u")) as conn:
        r = read_call(conn)
    assert r.grpc_status == 0 and r.messages == [b"u"]


def test_same_origin_and_non_browser_clients_need_no_cors(start_proxy, upstream):
    """Without a CORS policy the parameter still works for requests no preflight would have guarded (no Origin, or
    the page's own origin); a cross-origin page is refused."""
    proxy = start_proxy(listener_extra={"cors": None})
    target = param_target(UNARY, client_headers({"x-custom": "1"}))
    with simple_request(proxy, target, text_body(b"a"), origin=None) as conn:
        r = read_call(conn)
    assert r.grpc_status == 0 and r.messages == [b"a"], (r.http_status, r.grpc_message)
    with simple_request(proxy, target, text_body(b"b"), origin="http://127.0.0.1") as conn:
        r = read_call(conn)
    assert r.grpc_status == 0 and r.messages == [b"b"], (r.http_status, r.grpc_message)
    with simple_request(proxy, target, text_body(b"c"), origin=OTHER) as conn:
        resp = conn.read_response()
    assert resp.status == 403 and "CORS is not enabled" in resp.body.decode(), (resp.status, resp.body)


def test_preflight_counter_counts_options(pf_proxy):
    """The counter the no-OPTIONS assertions rely on does count a real preflight."""
    with HTTPConnection(pf_proxy.base_url) as conn:
        conn.request("OPTIONS", UNARY, {"Origin": ALLOWED, "Access-Control-Request-Method": "POST",
                                        "Access-Control-Request-Headers": "content-type,x-grpc-web"})
        assert conn.read_response("OPTIONS").status == 204
    assert metric(pf_proxy, "grpcwebproxy_cors_preflights_total") == 1
