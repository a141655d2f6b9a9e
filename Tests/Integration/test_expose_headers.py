"""Access-Control-Expose-Headers computed per response (issue 13 item 5): with `expose_headers: auto` (the default)
each cross-origin response exposes the fields it actually carries, custom metadata included, and on trailers-only
answers grpc-status / grpc-message and the metadata sent with them; a list keeps the static header."""

from __future__ import annotations

import pytest

from grpcweb_client import call
from h2_support import H2Client, h2_proxy

UNARY = "/test.Echo/Unary"
ORIGIN = "http://page.example"


def tokens(value: str | None) -> list[str]:
    return [t.strip().lower() for t in (value or "").split(",") if t.strip()]


# Fields the proxy adds for CORS or HTTP/1.1 framing, after the expose list was computed; content-type is always
# readable (CORS-safelisted) so it is never listed.
NOT_EXPOSED = {"content-type", "vary", "transfer-encoding", "content-length", "connection", "date"}


def sent_names(header_list) -> set[str]:
    """The response's own fields: what an auto expose list must name, exactly."""
    return {k.lower() for k, _ in header_list
            if k.lower() not in NOT_EXPOSED and not k.lower().startswith("access-control-")}


def auto_cors(**extra) -> dict:
    """listener_extra for a CORS policy without expose_headers (None deletes the test default's static list)."""
    return {"cors": {"allow_origins": [ORIGIN], "allow_headers": ["*"], "max_age": "1h", "expose_headers": None, **extra}}


@pytest.fixture
def auto_proxy(start_proxy):
    return start_proxy(listener_extra=auto_cors())


def test_custom_response_metadata_is_exposed(auto_proxy):
    r = call(auto_proxy.base_url, UNARY, [b"hi"], origin=ORIGIN, metadata={"x-header-flavour": "mint"})
    assert r.grpc_status == 0, (r.grpc_status, r.grpc_message)
    assert r.headers.get("x-header-flavour") == "mint" and r.headers.get("x-server-id") == "u1"
    exposed = tokens(r.headers.get("access-control-expose-headers"))
    # Exactly the fields this head carries (grpcio's grpc-accept-encoding too), each once.
    assert {"x-header-flavour", "x-server-id"} <= set(exposed), exposed
    assert set(exposed) == sent_names(r.header_list) and len(exposed) == len(set(exposed)), (exposed, r.header_list)
    assert "content-type" not in exposed


def test_trailers_only_answer_exposes_status_and_metadata(auto_proxy):
    r = call(auto_proxy.base_url, UNARY, [b"x"], origin=ORIGIN,
             metadata={"x-fail-code": "7", "x-fail-message": "no", "x-header-reason": "quota", "x-trailer-k": "v"})
    assert r.trailers_only and r.grpc_status == 7, (r.headers, r.trailer_frames)
    exposed = tokens(r.headers.get("access-control-expose-headers"))
    for name in ("grpc-status", "grpc-message", "x-server-id", "x-header-reason", "x-trailer-k"):
        assert name in exposed, (name, exposed)
    assert set(exposed) == sent_names(r.header_list) and len(exposed) == len(set(exposed)), (exposed, r.header_list)


def test_repeated_metadata_listed_once(auto_proxy):
    r = call(auto_proxy.base_url, UNARY, [b"x"], origin=ORIGIN,
             metadata=[("x-header-multi", "1"), ("x-header-multi", "2")])
    assert r.grpc_status == 0
    assert tokens(r.headers.get("access-control-expose-headers")).count("x-header-multi") == 1


def test_proxy_local_answer_still_exposes_the_status(auto_proxy):
    r = call(auto_proxy.base_url, "/no.Such/Method", [b"x"], origin=ORIGIN)
    assert r.grpc_status == 12 and r.trailers_only, (r.grpc_status, r.grpc_message)
    assert {"grpc-status", "grpc-message"} <= set(tokens(r.headers.get("access-control-expose-headers")))


def test_no_origin_no_cors_fields(auto_proxy):
    r = call(auto_proxy.base_url, UNARY, [b"x"], metadata={"x-header-a": "1"})
    assert r.grpc_status == 0
    assert "access-control-expose-headers" not in r.headers
    assert "access-control-allow-origin" not in r.headers


def test_static_list_mode(start_proxy):
    proxy = start_proxy(listener_extra=auto_cors(expose_headers=["x-header-a"]))
    r = call(proxy.base_url, UNARY, [b"x"], origin=ORIGIN, metadata={"x-header-a": "1", "x-header-b": "2"})
    assert r.grpc_status == 0
    assert r.headers.get("access-control-expose-headers") == "grpc-status, grpc-message, x-header-a"
    proxy2 = start_proxy(listener_extra=auto_cors(expose_headers=[]))
    r = call(proxy2.base_url, UNARY, [b"x"], origin=ORIGIN, metadata={"x-header-a": "1"})
    assert r.headers.get("access-control-expose-headers") == "grpc-status, grpc-message"


def test_route_overrides_the_mode(start_proxy):
    routes = [{"prefix": "/test.Echo/Unary", "cluster": "backend", "timeout": "0s", "cors": {"expose_headers": "auto"}},
              {"prefix": "/", "cluster": "backend", "timeout": "0s"}]
    proxy = start_proxy(routes=routes, listener_extra=auto_cors(expose_headers=["x-listed"]))
    r = call(proxy.base_url, UNARY, [b"x"], origin=ORIGIN, metadata={"x-header-a": "1"})
    exposed = tokens(r.headers.get("access-control-expose-headers"))
    assert "x-header-a" in exposed and set(exposed) == sent_names(r.header_list), exposed
    r = call(proxy.base_url, "/test.Echo/ServerStream", [b"x"], origin=ORIGIN, metadata={"x-header-a": "1"})
    assert r.headers.get("access-control-expose-headers") == "grpc-status, grpc-message, x-listed"


def test_auto_over_http2(start_proxy):
    proxy = h2_proxy(start_proxy, listener_extra=auto_cors())
    with H2Client(proxy.port) as c:
        sid = c.grpcweb(UNARY, [b"h2"], {"x-header-h2": "yes", "origin": ORIGIN})
        st = c.wait_streams([sid])[0]
    assert st.grpc_status == 0, st.describe()
    exposed = tokens(st.headers.get("access-control-expose-headers"))
    assert "x-header-h2" in exposed and set(exposed) == sent_names(st.header_list) - {":status"}, exposed
