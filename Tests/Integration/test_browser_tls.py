"""A real browser over TLS (issue 10): headless Chromium loads a page over HTTPS from one origin and calls the
proxy, whose listener speaks HTTPS, on another: gRPC-Web unary and server streaming over `https://`, bidi over
`wss://` (grpc-websockets).

Chromium trusts exactly the test server certificate through `--ignore-certificate-errors-spki-list` (its SPKI
hash; Chromium honours the switch only with `--user-data-dir`, which the harness always gives), never through
`--ignore-certificate-errors`: a proxy presenting another certificate must still be refused, which the last test
checks. The page and its JS client are the ones of test_browser_grpcweb.py (browser/).
"""

from __future__ import annotations

import base64
import ssl

import pytest

from browser.harness import BrowserHarness, find_chromium
from tls_certs import make_test_pki, spki_hash

pytestmark = pytest.mark.timeout(60)

ALLOW_HEADERS = ["x-custom", "x-header-custom", "x-stream-count", "x-stream-interval-ms", "x-stream-size"]
EXPOSE_HEADERS = ["x-server-id", "x-header-custom"]
HANDSHAKES = "grpcwebproxy_downstream_tls_handshakes_total"


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_test_pki(tmp_path_factory.mktemp("browser-tls-pki"))


@pytest.fixture(scope="module")
def harness(pki):
    """The page's own HTTPS server (test server certificate), and Chromium trusting that certificate's key."""
    chromium = find_chromium()
    if chromium is None:
        pytest.skip("no chromium binary (apt-get install chromium, or set $CHROMIUM)")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pki.server.cert, pki.server.key)
    h = BrowserHarness(chromium, tls=ctx,
                       chromium_args=[f"--ignore-certificate-errors-spki-list={spki_hash(pki.server.cert)}"])
    yield h
    h.close()


def https_proxy(start_proxy, harness, pair):
    """A proxy whose listener speaks TLS with `pair` and whose CORS policy allows exactly the page's origin."""
    p = start_proxy(listener_extra={
        "tls": {"cert": str(pair.cert), "key": str(pair.key)},
        "cors": {"allow_origins": [harness.origin], "allow_headers": ALLOW_HEADERS,
                 "expose_headers": EXPOSE_HEADERS, "max_age": "1h", "allow_credentials": False}})
    return p, f"https://127.0.0.1:{p.port}"


def messages(r) -> list[bytes]:
    return [base64.b64decode(m) for m in r["messages"]]


def assert_ok(name: str, r: dict) -> None:
    assert "error" not in r, f"{name}: {r['error']}"
    assert r["status"] == 0, (name, r["status"], r["statusMessage"], r["trailers"], r["headers"])


def test_https_page_calls_the_proxy_over_https_and_wss(start_proxy, harness, pki, upstream):
    proxy, url = https_proxy(start_proxy, harness, pki.server)
    assert harness.origin.startswith("https://") and harness.origin != url
    res = harness.run(url, ["unary_binary", "unary_text", "stream_binary", "ws_bidi"])

    for name in ("unary_binary", "unary_text"):
        r = res[name]
        assert_ok(name, r)
        assert r["httpStatus"] == 200, name
        assert messages(r) == [base64.b64decode(r["request"])], name
        assert r["headers"].get("x-server-id") == "u1", (name, r["headers"])
        assert r["headers"].get("x-header-custom") == "echoed", (name, r["headers"])

    r = res["stream_binary"]
    assert_ok("stream_binary", r)
    msgs = messages(r)
    assert [m[:4] for m in msgs] == [k.to_bytes(4, "big") for k in range(5)]
    gaps = [b - a for a, b in zip(r["arrivals"], r["arrivals"][1:])]
    # 300 ms apart at the source: TLS records must not hold messages back (buffering would show ~0 ms gaps).
    assert all(g >= 150 for g in gaps), f"messages bunched together: gaps {gaps} ms"

    r = res["ws_bidi"]
    assert_ok("ws_bidi", r)
    assert r["protocol"] == "grpc-websockets"
    assert r["closeCode"] == 1000
    assert r["messages"] == r["sent"]
    assert r["headers"] and r["headers"].get("x-server-id") == "u1", r["headers"]

    # One connection per fetch/WebSocket at most, but at least one handshake: the calls really went over TLS.
    assert proxy.metric(HANDSHAKES) >= 1


def test_a_certificate_outside_the_spki_list_is_still_refused(start_proxy, harness, pki, upstream):
    """The SPKI list trusts one key, not everything: a proxy presenting a certificate from an unknown CA (another
    key) must fail in the browser, for fetch and for WebSocket alike, and no call may reach the upstream."""
    before = upstream.stats()["calls"].get("/test.Echo/Unary", 0)
    proxy, url = https_proxy(start_proxy, harness, pki.other_server)
    res = harness.run(url, ["unary_binary", "ws_bidi"])
    assert res["unary_binary"].get("error", "").startswith("TypeError"), res["unary_binary"]
    assert "WebSocket error" in res["ws_bidi"].get("error", ""), res["ws_bidi"]
    assert upstream.stats()["calls"].get("/test.Echo/Unary", 0) == before
    assert proxy.metric("grpcwebproxy_downstream_tls_handshake_failures_total") >= 1
