"""Issue 11, a real browser on HTTP/2: headless Chromium loads a page over HTTPS (harness.py, test certificate
trusted by its SPKI hash) and calls the proxy's TLS listener, where ALPN selects h2.

* 20 concurrent server streams all get their first message within a second; the same page against a listener
  with `http2: false` is the control: there Chromium's 6-connections-per-origin limit holds more than 6 back.
* a `wss://` bidi call runs over HTTP/2 (RFC 8441 extended CONNECT): every TLS connection the browser opened to
  the proxy was an HTTP/2 one, so the WebSocket did not get an HTTP/1.1 connection of its own.
"""

from __future__ import annotations

import base64
import ssl

import pytest

from browser.harness import BrowserHarness, find_chromium
from h2_support import H2_CONNECTIONS, metric_or_zero
from tls_certs import make_test_pki, spki_hash

pytestmark = pytest.mark.timeout(60)

ALLOW_HEADERS = ["x-custom", "x-header-custom", "x-stream-count", "x-stream-interval-ms", "x-stream-size"]
EXPOSE_HEADERS = ["x-server-id", "x-header-custom"]
HANDSHAKES = "grpcwebproxy_downstream_tls_handshakes_total"
WEBSOCKET_CALLS = "grpcwebproxy_websocket_calls_total"
HTTP11_CONNECTIONS_PER_ORIGIN = 6


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_test_pki(tmp_path_factory.mktemp("browser-h2-pki"))


@pytest.fixture(scope="module")
def harness(pki):
    chromium = find_chromium()
    if chromium is None:
        pytest.skip("no chromium binary (apt-get install chromium, or set $CHROMIUM)")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pki.server.cert, pki.server.key)
    h = BrowserHarness(chromium, tls=ctx,
                       chromium_args=[f"--ignore-certificate-errors-spki-list={spki_hash(pki.server.cert)}"])
    yield h
    h.close()


def https_proxy(start_proxy, harness, pki, *, http2: bool | None = None, credentials: bool = False):
    listener = {
        "tls": {"cert": str(pki.server.cert), "key": str(pki.server.key)},
        "cors": {"allow_origins": [harness.origin], "allow_headers": ALLOW_HEADERS,
                 "expose_headers": EXPOSE_HEADERS, "max_age": "1h", "allow_credentials": credentials}}
    if http2 is not None:
        listener["http2"] = http2
    p = start_proxy(listener_extra=listener)
    return p, f"https://127.0.0.1:{p.port}"


def assert_streams_ok(r: dict) -> None:
    assert "error" not in r, r["error"]
    assert r["warmStatus"] == 0, r
    bad = [(i, x) for i, x in enumerate(r["results"]) if x.get("status") != 0 or x.get("messages") != 2]
    assert not bad, f"streams that failed: {bad}"


def test_20_concurrent_server_streams_all_start_at_once_over_h2(start_proxy, harness, pki, upstream):
    proxy, url = https_proxy(start_proxy, harness, pki)
    h2_before, tls_before = metric_or_zero(proxy, H2_CONNECTIONS), proxy.metric(HANDSHAKES)
    r = harness.run(url, ["fanout20"])["fanout20"]
    assert_streams_ok(r)
    late = [(i, round(t)) for i, t in enumerate(r["firsts"]) if t is None or t >= 1000]
    assert not late, f"streams whose first message took 1 s or more over HTTP/2: {late} (all: {r['firsts']})"
    h2_conns = metric_or_zero(proxy, H2_CONNECTIONS) - h2_before
    tls_conns = proxy.metric(HANDSHAKES) - tls_before
    assert 1 <= h2_conns <= 2 and tls_conns == h2_conns, \
        f"{tls_conns} TLS connections, {h2_conns} of them HTTP/2: the streams did not share HTTP/2 connections"


def test_control_20_streams_stall_beyond_6_over_http11(start_proxy, harness, pki, upstream):
    """The same page against `http2: false`: Chromium holds every stream beyond the 6th until one ends."""
    proxy, url = https_proxy(start_proxy, harness, pki, http2=False)
    r = harness.run(url, ["fanout20"])["fanout20"]
    assert_streams_ok(r)
    late = [t for t in r["firsts"] if t is None or t >= 1000]
    assert len(late) > 20 - HTTP11_CONNECTIONS_PER_ORIGIN - 1, \
        f"only {len(late)} of 20 streams waited over HTTP/1.1 (firsts: {r['firsts']}): the control proves nothing"
    assert metric_or_zero(proxy, H2_CONNECTIONS) == 0


def test_wss_bidi_runs_over_the_http2_connection(start_proxy, harness, pki, upstream):
    proxy, url = https_proxy(start_proxy, harness, pki, credentials=True)
    h2_before, tls_before = metric_or_zero(proxy, H2_CONNECTIONS), proxy.metric(HANDSHAKES)
    ws_before = proxy.metric(WEBSOCKET_CALLS)
    r = harness.run(url, ["credentialed_then_ws_bidi"])["credentialed_then_ws_bidi"]
    assert "error" not in r, r["error"]
    assert r["warmStatus"] == 200, r
    assert r["status"] == 0 and r["protocol"] == "grpc-websockets", r
    assert [base64.b64decode(m) for m in r["messages"]] == [base64.b64decode(m) for m in r["sent"]]
    assert proxy.metric(WEBSOCKET_CALLS) == ws_before + 1
    h2_conns = metric_or_zero(proxy, H2_CONNECTIONS) - h2_before
    tls_conns = proxy.metric(HANDSHAKES) - tls_before
    assert h2_conns >= 1 and tls_conns == h2_conns, \
        f"{tls_conns} TLS connections but {h2_conns} HTTP/2 ones: the WebSocket took an HTTP/1.1 connection"
