"""Headless Chromium on another origin: a gRPC-Web call sent as a CORS simple request with `$httpHeaders` exactly as
the official grpc-web client's suppressCorsPreflight mode sends it (no OPTIONS reaches the proxy), and response
metadata, trailers-only metadata included, read with response.headers.get() without any configured
expose_headers. Page: browser/preflight.html + preflight.js."""

from __future__ import annotations

import json

import pytest

# The module-scoped Chromium harness fixture (skips without chromium), shared rather than copied.
from test_browser_grpcweb import harness  # noqa: F401

pytestmark = pytest.mark.timeout(120)

# Request metadata the page sends; nothing is listed under expose_headers (None removes the test default's list).
ALLOW_HEADERS = ["x-custom", "x-echo-metadata", "x-fail-code", "x-fail-message", "x-header-reason",
                 "x-header-flavour", "x-header-where"]


@pytest.fixture
def page_proxy(start_proxy, harness):
    return start_proxy(listener_extra={"cors": {
        "allow_origins": [harness.origin], "allow_headers": ALLOW_HEADERS, "expose_headers": None, "max_age": "1h"}})


def run(harness, proxy, *tests):
    results = harness.run(proxy.base_url, list(tests), page="preflight.html")
    for name in tests:
        assert "error" not in results[name], f"{name}: {results[name]['error']} (page log: {harness.page_log})"
    return results


def test_simple_request_with_http_headers_makes_no_preflight(harness, page_proxy, upstream):
    upstream.reset_stats()
    res = run(harness, page_proxy, "simple_call", "simple_call_failure", "simple_call_forbidden_header")

    r = res["simple_call"]
    assert r["httpStatus"] == 200 and r["contentType"].startswith("application/grpc-web-text"), r
    assert r["trailers"].get("grpc-status") == "0", r
    md = json.loads(r["messages"][0])
    assert md["x-custom"] == "from the page" and md["x-grpc-web"] == "1", md
    # The page reads initial metadata it never configured as exposed.
    assert r["headers"]["x-server-id"] == "u1", r

    r = res["simple_call_failure"]
    assert r["httpStatus"] == 200 and r["messages"] == [], r
    assert r["headers"]["grpc-status"] == "7" and r["headers"]["grpc-message"] == "not you", r
    assert r["headers"]["x-header-reason"] == "quota", r

    r = res["simple_call_forbidden_header"]
    assert r["httpStatus"] == 400 and "cookie cannot be set" in r["body"], r

    # Two calls reached the upstream on their clean method path; the proxy saw no OPTIONS at all.
    assert upstream.stats()["calls"].get("/test.Echo/Unary") == 2
    assert page_proxy.metric("grpcwebproxy_cors_preflights_total") == 0
    assert page_proxy.metric("grpcwebproxy_http_headers_param_calls_total") == 2


def test_page_reads_metadata_nobody_listed(harness, page_proxy):
    res = run(harness, page_proxy, "custom_metadata", "trailers_only_metadata")

    r = res["custom_metadata"]
    assert r["trailers"].get("grpc-status") == "0", r
    assert r["headers"] == {"x-header-flavour": "mint", "x-server-id": "u1"}, r

    r = res["trailers_only_metadata"]
    assert r["messages"] == [] and r["trailers"] == {}, r
    assert r["headers"] == {"grpc-status": "5", "grpc-message": "gone", "x-header-where": "nowhere",
                            "x-server-id": "u1"}, r
    # These calls were preflighted (custom request headers): the counter does see OPTIONS.
    assert page_proxy.metric("grpcwebproxy_cors_preflights_total") >= 1
