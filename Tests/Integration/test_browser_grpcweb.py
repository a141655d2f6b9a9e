"""A real browser (headless Chromium) calling the proxy cross-origin: fetch-based gRPC-Web (binary and text,
unary and server streaming, statuses and trailers, deadline, abort) and grpc-websockets bidi / client streaming.

The page and its JS live in browser/ and deploy/demo/grpc-web-lite.js; see browser/harness.py. The page reports
raw observations as JSON and the assertions are made here.
"""

from __future__ import annotations

import base64

import pytest

from browser.harness import BrowserHarness, find_chromium
from ws_client import stat, wait_for

pytestmark = pytest.mark.timeout(120)

# The page sends these request headers, so the preflight must allow them; it reads these response headers.
ALLOW_HEADERS = ["x-custom", "x-header-custom", "x-stream-count", "x-stream-interval-ms", "x-stream-size",
                 "x-stream-forever", "x-fail-code", "x-fail-message", "x-fail-after-headers", "x-trailer-foo",
                 "x-delay-ms"]
EXPOSE_HEADERS = ["x-server-id", "x-header-custom"]


@pytest.fixture(scope="module")
def harness():
    chromium = find_chromium()
    if chromium is None:
        pytest.skip("no chromium binary (apt-get install chromium, or set $CHROMIUM)")
    h = BrowserHarness(chromium)
    yield h
    h.close()


@pytest.fixture
def browser_proxy(start_proxy, harness):
    """A proxy whose CORS policy allows exactly the harness page's origin (not "*")."""
    return start_proxy(listener_extra={"cors": {
        "allow_origins": [harness.origin], "allow_headers": ALLOW_HEADERS, "expose_headers": EXPOSE_HEADERS,
        "max_age": "1h", "allow_credentials": False}})


def run(harness, proxy, *tests):
    results = harness.run(proxy.base_url, list(tests))
    for name in tests:
        assert "error" not in results[name], f"{name}: {results[name]['error']} (page log: {harness.page_log})"
    return results


def messages(r) -> list[bytes]:
    return [base64.b64decode(m) for m in r["messages"]]


def assert_ok(r) -> None:
    assert r["status"] == 0, (r["status"], r["statusMessage"], r["trailers"], r["headers"])


def test_unary_binary_and_text(harness, browser_proxy):
    res = run(harness, browser_proxy, "unary_binary", "unary_text")
    for name in ("unary_binary", "unary_text"):
        r = res[name]
        assert r["httpStatus"] == 200, name
        assert_ok(r)
        assert messages(r) == [base64.b64decode(r["request"])], name
        assert not r["trailersOnly"], name
        # Exposed response headers are readable cross-origin; upstream initial metadata arrives as headers.
        assert r["headers"].get("x-server-id") == "u1", (name, r["headers"])
        assert r["headers"].get("x-header-custom") == "echoed", (name, r["headers"])
    assert res["unary_text"]["headers"]["content-type"].startswith("application/grpc-web-text")
    assert res["unary_binary"]["headers"]["content-type"].startswith("application/grpc-web")
    assert not res["unary_binary"]["headers"]["content-type"].startswith("application/grpc-web-text")


@pytest.mark.parametrize("mode", ["binary", "text"])
def test_server_stream_arrives_spread_out(harness, browser_proxy, mode):
    """5 messages 300 ms apart must reach the page 300 ms apart: nothing on the path may buffer the stream."""
    r = run(harness, browser_proxy, f"stream_{mode}")[f"stream_{mode}"]
    assert_ok(r)
    msgs = messages(r)
    assert [m[:4] for m in msgs] == [k.to_bytes(4, "big") for k in range(5)]
    assert all(len(m) == 8 for m in msgs)
    t = r["arrivals"]
    gaps = [b - a for a, b in zip(t, t[1:])]
    # 300 ms apart at the source; 150 ms leaves room for scheduling jitter while buffering would show ~0 ms.
    assert all(g >= 150 for g in gaps), f"messages bunched together: gaps {gaps} ms"
    assert t[-1] - t[0] >= 1000, t


def test_error_statuses_and_trailers(harness, browser_proxy):
    res = run(harness, browser_proxy, "error_trailers_only", "error_after_headers", "deadline")

    r = res["error_trailers_only"]
    assert r["httpStatus"] == 200
    assert r["trailersOnly"], "a call failing before any message should be trailers-only"
    assert r["status"] == 5 and r["statusMessage"] == "gone \u2713", r
    assert r["messages"] == []

    r = res["error_after_headers"]  # text mode
    assert not r["trailersOnly"]
    assert r["status"] == 9, r
    assert r["trailers"].get("x-trailer-foo") == "bar", r["trailers"]
    assert r["headers"].get("x-server-id") == "u1"

    r = res["deadline"]
    assert r["status"] == 4, r
    assert 250 <= r["elapsed"] < 2500, r["elapsed"]


def test_page_abort_cancels_upstream(harness, browser_proxy, upstream):
    before = stat(upstream.stats(), "cancelled", "/test.Echo/ServerStream")
    r = run(harness, browser_proxy, "abort_stream")["abort_stream"]
    assert r["aborted"] and r["abortError"] == "AbortError" and r["seen"] >= 3, r
    assert wait_for(lambda: stat(upstream.stats(), "cancelled", "/test.Echo/ServerStream") > before, 2.0), \
        "the upstream call was not cancelled within 2 s of the page aborting"


def test_websocket_bidi_and_client_stream(harness, browser_proxy):
    res = run(harness, browser_proxy, "ws_bidi", "ws_client_stream")

    r = res["ws_bidi"]
    assert r["protocol"] == "grpc-websockets"
    assert_ok(r)
    assert r["closeCode"] == 1000
    assert r["messages"] == r["sent"]
    assert r["headers"] and r["headers"].get("x-server-id") == "u1", r["headers"]

    r = res["ws_client_stream"]
    assert_ok(r)
    assert r["text"] == r["expected"], r
    assert r["closeCode"] == 1000
