"""CORS as browsers need it for gRPC-Web (PROTOCOLS.md §2): preflights answered by the proxy,
allow/expose headers on every response including errors, nothing for foreign origins."""

from __future__ import annotations

import pytest

from grpcweb_client import call, http_request

UNARY = "/test.Echo/Unary"
ALLOWED = "http://allowed.example"
OTHER = "http://evil.example"

CORS = {"cors": {"allow_origins": [ALLOWED], "allow_headers": ["x-custom"], "expose_headers": ["x-custom"],
                 "max_age": "1h", "allow_credentials": False}}


def tokens(value: str | None) -> set[str]:
    return {t.strip().lower() for t in (value or "").split(",") if t.strip()}


def preflight(base_url: str, origin: str, req_headers: str = "content-type,x-grpc-web,x-user-agent,grpc-timeout",
              path: str = UNARY):
    return http_request(base_url, "OPTIONS", path, {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": req_headers,
    })


@pytest.fixture
def cors_proxy(start_proxy):
    return start_proxy(listener_extra=CORS)


def test_preflight_from_allowed_origin(cors_proxy, upstream):
    upstream.reset_stats()
    r = preflight(cors_proxy.base_url, ALLOWED, "content-type,x-grpc-web,x-user-agent,grpc-timeout,x-custom")
    assert r.status == 204, (r.status, r.headers)
    h = r.headers
    assert h.get("access-control-allow-origin") == ALLOWED
    assert "post" in tokens(h.get("access-control-allow-methods"))
    allowed = tokens(h.get("access-control-allow-headers"))
    for name in ("content-type", "x-grpc-web", "x-user-agent", "grpc-timeout", "x-custom"):
        assert name in allowed, f"{name} missing from allow-headers {allowed}"
    assert h.get("access-control-max-age") == "3600"
    assert "origin" in tokens(h.get("vary"))
    assert r.body == b""
    # the preflight is answered by the proxy, never forwarded to the gRPC server
    assert sum(upstream.stats()["calls"].values()) == 0


def test_preflight_with_mixed_case_request_headers(cors_proxy):
    r = preflight(cors_proxy.base_url, ALLOWED, "X-Grpc-Web, Content-Type, X-User-Agent")
    assert r.status == 204
    assert r.headers.get("access-control-allow-origin") == ALLOWED


def test_actual_response_carries_cors_headers(cors_proxy):
    r = call(cors_proxy.base_url, UNARY, [b"hi"], origin=ALLOWED, metadata={"x-header-x": "1"})
    assert r.grpc_status == 0 and r.messages == [b"hi"]
    assert r.headers.get("access-control-allow-origin") == ALLOWED
    exposed = tokens(r.headers.get("access-control-expose-headers"))
    assert {"grpc-status", "grpc-message", "x-custom"} <= exposed, exposed
    assert "origin" in tokens(r.headers.get("vary"))


def test_upstream_error_response_carries_cors_headers(cors_proxy):
    r = call(cors_proxy.base_url, UNARY, [b"hi"], origin=ALLOWED, metadata={"x-fail-code": "7"})
    assert r.grpc_status == 7 and r.http_status == 200
    assert r.headers.get("access-control-allow-origin") == ALLOWED
    assert {"grpc-status", "grpc-message"} <= tokens(r.headers.get("access-control-expose-headers"))


def test_proxy_generated_error_carries_cors_headers(start_proxy):
    p = start_proxy(routes=[{"service": "test.Echo", "cluster": "backend", "timeout": "0s"}], listener_extra=CORS)
    r = call(p.base_url, "/other.Svc/M", [b"x"], origin=ALLOWED)
    assert r.grpc_status == 12
    assert r.headers.get("access-control-allow-origin") == ALLOWED
    assert {"grpc-status", "grpc-message"} <= tokens(r.headers.get("access-control-expose-headers"))


def test_disallowed_origin_gets_no_cors_headers(cors_proxy, upstream):
    upstream.reset_stats()
    r = preflight(cors_proxy.base_url, OTHER)
    assert not any(k.startswith("access-control-") for k in r.headers), r.headers
    assert sum(upstream.stats()["calls"].values()) == 0, "a rejected preflight must not reach the gRPC server"
    r = call(cors_proxy.base_url, UNARY, [b"hi"], origin=OTHER)
    assert not any(k.startswith("access-control-") for k in r.headers), r.headers


def test_wildcard_origin_allows_any_origin(proxy):
    """The default test config allows "*"."""
    r = preflight(proxy.base_url, "http://anything.example")
    assert r.status == 204
    assert r.headers.get("access-control-allow-origin") in ("*", "http://anything.example")
    r = call(proxy.base_url, UNARY, [b"hi"], origin="http://anything.example")
    assert r.grpc_status == 0
    assert r.headers.get("access-control-allow-origin") in ("*", "http://anything.example")


def test_request_without_origin_has_no_allow_origin(cors_proxy):
    r = call(cors_proxy.base_url, UNARY, [b"hi"])
    assert r.grpc_status == 0
    assert "access-control-allow-origin" not in r.headers


def test_credentials_flag_echoes_origin(start_proxy):
    # "*" with credentials is refused by the config (test_edge_config.py): credentials need listed origins.
    cors = {"cors": dict(CORS["cors"], allow_origins=[ALLOWED], allow_credentials=True)}
    p = start_proxy(listener_extra=cors)
    r = preflight(p.base_url, ALLOWED)
    assert r.status == 204
    # with credentials a browser refuses "*": the origin must be echoed
    assert r.headers.get("access-control-allow-origin") == ALLOWED
    assert r.headers.get("access-control-allow-credentials") == "true"
    r = call(p.base_url, UNARY, [b"hi"], origin=ALLOWED)
    assert r.headers.get("access-control-allow-origin") == ALLOWED
    assert r.headers.get("access-control-allow-credentials") == "true"
