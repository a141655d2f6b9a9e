"""Issue 11, gRPC-Web over HTTP/2 downstream: h2 chosen by ALPN on a TLS listener and by the client preface (h2c
with prior knowledge) on a cleartext one. Real clients only: curl --http2 / --http2-prior-knowledge (unary and a
server stream printed as it arrives), the Python h2 package on a raw socket (100 concurrent interleaved streams
on one connection, a stalled stream that holds nobody else up, the SETTINGS the proxy advertises, trailers-only
answers, CORS preflights), h2load with a gRPC-Web body; `http2: false` as the control."""

from __future__ import annotations

import re

import pytest

from grpcweb_client import CT_BINARY, HTTPConnection, call
from h2_support import BIDI, DATA, END_STREAM, H2_CONNECTIONS, H2_STREAMS, HEADERS, MAX_WINDOW, PREFACE, \
    RST_STREAM, SETTINGS_ENABLE_CONNECT_PROTOCOL, SETTINGS_INITIAL_WINDOW_SIZE, SETTINGS_MAX_CONCURRENT_STREAMS, \
    SETTINGS_MAX_HEADER_LIST_SIZE, STREAM, UNARY, H2Client, RawH2, h2_proxy, h2load, metric_or_zero, open_socket, \
    parse_ws_frames, wait_metric_above
from tls_support import TLSHTTPConnection, assert_call_ok, client_context, curl_grpcweb, tls_call
from tls_support import pki  # noqa: F401  (session fixture: pytest finds fixtures among a test module's names)
from upstream_server import pattern, stream_message
from ws_client import ResponseAssembler, client_frame, data_message, metadata_block

pytestmark = pytest.mark.timeout(30)

TRANSPORTS = ["tls", "h2c"]


def proxy_for(start_proxy, pki, transport, **kw):
    """The proxy with its listener on TLS (ALPN h2) or cleartext (h2c), and the PKI the client must use."""
    use = pki if transport == "tls" else None
    return h2_proxy(start_proxy, use, **kw), use


def curl_flag(transport: str) -> str:
    return "--http2" if transport == "tls" else "--http2-prior-knowledge"


def assert_curl_used_h2(r, transport: str) -> None:
    """curl -v says which protocol it used: ALPN h2 accepted over TLS, HTTP/2 with prior knowledge otherwise."""
    assert r.returncode == 0, r.stderr
    assert re.search(r"^> POST \S+ HTTP/2\r?$", r.stderr, re.M), r.stderr
    if transport == "tls":
        assert "ALPN: server accepted h2" in r.stderr and "using HTTP/2" in r.stderr, r.stderr
    assert r.status_line.startswith("HTTP/2 200"), r.status_line


# --------------------------------------------------------------------------------------
# curl
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("text", [False, True], ids=["binary", "text"])
def test_curl_unary_over_h2(start_proxy, pki, tmp_path, transport, text):
    proxy, use = proxy_for(start_proxy, pki, transport)
    before = metric_or_zero(proxy, H2_CONNECTIONS)
    payload = pattern(3000)
    r = curl_grpcweb(proxy.port, use, UNARY, [payload], text=text, workdir=tmp_path, http=curl_flag(transport),
                     metadata={"x-header-custom": "echoed"}, extra_args=["-v"])
    assert_curl_used_h2(r, transport)
    assert r.headers["content-type"].startswith("application/grpc-web-text" if text else "application/grpc-web"), \
        r.headers
    assert r.headers.get("x-header-custom") == "echoed", r.headers
    assert r.messages == [payload]
    assert r.trailers.get("grpc-status") == "0", r.trailers
    assert wait_metric_above(proxy, H2_CONNECTIONS, before) > before, "the HTTP/2 connection was not counted"


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_curl_server_stream_arrives_message_by_message_over_h2(start_proxy, pki, tmp_path, transport):
    """Messages 300 ms apart reach curl's output one by one: the first long before the stream ends."""
    proxy, use = proxy_for(start_proxy, pki, transport)
    r = curl_grpcweb(proxy.port, use, STREAM, [pattern(32)], workdir=tmp_path, http=curl_flag(transport),
                     metadata={"x-stream-count": "4", "x-stream-interval-ms": "300"}, extra_args=["-v"])
    assert_curl_used_h2(r, transport)
    assert r.messages == [stream_message(k, 32) for k in range(4)]
    assert r.trailers.get("grpc-status") == "0", r.trailers
    assert r.finished - r.arrivals[0] >= 0.6, \
        f"first message at {r.arrivals[0] - r.started:.2f}s, output ended at {r.finished - r.started:.2f}s"
    gaps = [b - a for a, b in zip(r.arrivals, r.arrivals[1:])]
    assert all(g >= 0.15 for g in gaps), f"messages arrived together over HTTP/2: gaps {gaps}"


# --------------------------------------------------------------------------------------
# Protocol selection
# --------------------------------------------------------------------------------------


def test_alpn_selects_h2_and_http11_still_works(start_proxy, pki):
    """ALPN offers h2 first; a client offering only http/1.1 still gets HTTP/1.1 on the same listener."""
    proxy = h2_proxy(start_proxy, pki)
    for offer, expected in ((["h2", "http/1.1"], "h2"), (["http/1.1", "h2"], "h2"), (["http/1.1"], "http/1.1")):
        sock = open_socket(proxy.port, pki, alpn=offer, require_h2=False)
        try:
            assert sock.selected_alpn_protocol() == expected, (offer, sock.selected_alpn_protocol())
        finally:
            sock.close()
    ctx = client_context(pki)
    ctx.set_alpn_protocols(["http/1.1"])
    with TLSHTTPConnection(proxy.port, ctx) as conn:
        assert_call_ok(tls_call(proxy, pki, UNARY, [b"over 1.1"], conn=conn), [b"over 1.1"])


def test_cleartext_listener_serves_http11_and_h2c_side_by_side(start_proxy):
    proxy = h2_proxy(start_proxy)
    r = call(proxy.base_url, UNARY, [b"one"])
    assert r.grpc_status == 0 and r.messages == [b"one"], (r.http_status, r.grpc_status, r.error)
    with H2Client(proxy.port) as c:
        st = c.wait_streams([c.grpcweb(UNARY, [b"two"])])[0]
    assert st.status == 200 and st.grpc_status == 0 and st.messages == [b"two"], st.describe()


def test_http2_false_tls_offers_only_http11(start_proxy, pki):
    proxy = h2_proxy(start_proxy, pki, http2=False)
    sock = open_socket(proxy.port, pki, alpn=["h2", "http/1.1"], require_h2=False)
    try:
        assert sock.selected_alpn_protocol() == "http/1.1", sock.selected_alpn_protocol()
    finally:
        sock.close()
    # A client that insists on h2 gets no h2 either.
    sock = open_socket(proxy.port, pki, alpn=["h2"], require_h2=False)
    try:
        assert sock.selected_alpn_protocol() != "h2"
    finally:
        sock.close()


def test_http2_false_cleartext_answers_the_preface_with_an_http11_error(start_proxy):
    proxy = h2_proxy(start_proxy, http2=False)
    with HTTPConnection(proxy.base_url, timeout_s=5) as conn:
        conn.send(PREFACE + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        resp = conn.read_head()
        assert resp.version == "HTTP/1.1" and resp.status in (400, 505), (resp.status, resp.reason)
        assert conn.wait_closed(5), "the connection stayed open after the error"
    r = call(proxy.base_url, UNARY, [b"still HTTP/1.1"])
    assert r.grpc_status == 0, (r.http_status, r.grpc_status, r.error)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_settings_advertised_by_default(start_proxy, pki, transport):
    proxy, use = proxy_for(start_proxy, pki, transport)
    with H2Client(proxy.port, use) as c:
        s = c.wait_settings()
    assert s.get(SETTINGS_MAX_CONCURRENT_STREAMS) == 100, s
    assert s.get(SETTINGS_INITIAL_WINDOW_SIZE) == 256 * 1024, s
    assert s.get(SETTINGS_MAX_HEADER_LIST_SIZE) == 64 * 1024, s
    assert s.get(SETTINGS_ENABLE_CONNECT_PROTOCOL) == 1, s


def test_settings_follow_the_config(start_proxy):
    proxy = h2_proxy(start_proxy, limits={"max_concurrent_streams": 7, "initial_stream_window": "128KiB",
                                          "initial_connection_window": "4MiB", "max_header_list_size": "32KiB"})
    with H2Client(proxy.port) as c:
        s = c.wait_settings()
        assert s.get(SETTINGS_MAX_CONCURRENT_STREAMS) == 7, s
        assert s.get(SETTINGS_INITIAL_WINDOW_SIZE) == 128 * 1024, s
        assert s.get(SETTINGS_MAX_HEADER_LIST_SIZE) == 32 * 1024, s
        # The connection window is raised with a WINDOW_UPDATE on stream 0 after the preface.
        c.wait(lambda: c.conn.outbound_flow_control_window == 4 * 1024 * 1024, 2)
        assert c.conn.outbound_flow_control_window == 4 * 1024 * 1024, c.conn.outbound_flow_control_window


# --------------------------------------------------------------------------------------
# Many streams on one connection
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_100_concurrent_streams_interleaved_on_one_connection(start_proxy, pki, transport):
    """100 calls at once on one connection, unary and server streams mixed, each with its own payload size and
    metadata: every one answered correctly, and the streams' messages interleave (every stream's first message
    before any stream's last one)."""
    proxy, use = proxy_for(start_proxy, pki, transport)
    conns_before = metric_or_zero(proxy, H2_CONNECTIONS)
    streams_before = metric_or_zero(proxy, H2_STREAMS)
    with H2Client(proxy.port, use, timeout_s=15) as c:
        sids = {}
        for i in range(100):
            if i % 2:
                sids[i] = c.grpcweb(STREAM, [b"go"], {"x-stream-count": 5, "x-stream-interval-ms": 150,
                                                      "x-stream-size": 10 + i, "x-header-n": i})
            else:
                sids[i] = c.grpcweb(UNARY, [pattern(100 + i)], {"x-header-n": i})
        results = dict(zip(sids, c.wait_streams(sids.values(), 20)))
    for i, st in results.items():
        assert st.status == 200 and st.grpc_status == 0, st.describe()
        assert st.headers.get("x-header-n") == str(i), st.describe()
        assert st.leftover == 0 and st.trailer_frames == 1, st.describe()
        if i % 2:
            assert st.messages == [stream_message(k, 10 + i) for k in range(5)], st.describe()
        else:
            assert st.messages == [pattern(100 + i)], st.describe()
    streamed = [st for i, st in results.items() if i % 2]
    last_first = max(st.arrivals[0] for st in streamed)
    first_last = min(st.arrivals[-1] for st in streamed)
    assert last_first < first_last, \
        f"streams were served one after another: a first message came {last_first - first_last:.2f}s after a last"
    assert metric_or_zero(proxy, H2_CONNECTIONS) == conns_before + 1
    assert metric_or_zero(proxy, H2_STREAMS) >= streams_before + 100


def test_a_stalled_stream_does_not_hold_up_the_others(start_proxy, upstream):
    """One stream's window is never opened (tiny SETTINGS_INITIAL_WINDOW_SIZE, no WINDOW_UPDATE): its large server
    stream must wait, while 20 other calls on the same connection, with opened windows, finish. The proxy does not
    read the whole stalled stream from the upstream meanwhile (flow control end to end); once the window opens,
    the stalled stream completes intact."""
    count, size = 400, 16 * 1024  # 6.4 MiB: far beyond every window and buffer on the way
    proxy = h2_proxy(start_proxy)
    upstream.reset_stats()
    with H2Client(proxy.port, initial_window=1024, timeout_s=15) as c:
        stalled = c.grpcweb(STREAM, [b"big"], {"x-stream-count": count, "x-stream-size": size}, stalled=True)
        assert c.wait(lambda: len(c.streams[stalled].data) > 0, 5), "the stalled stream got no data at all"
        others = [c.grpcweb(UNARY, [pattern(1000 + i)], {"x-response-size": 100_000}) for i in range(20)]
        done = c.wait_streams(others, 10)
        for st in done:
            assert st.grpc_status == 0 and st.messages == [pattern(100_000)], st.describe()
        st = c.streams[stalled]
        assert len(st.data) <= 1024 and not st.done, f"stalled stream: {len(st.data)} bytes, {st.describe()}"
        produced = upstream.stats()["sent"].get(STREAM, 0)
        assert produced < count, f"the upstream sent all {count} messages of a stream nobody reads"

        c.open_window(stalled, MAX_WINDOW - 1024)
        st = c.wait_streams([stalled], 20)[0]
    assert st.grpc_status == 0, st.describe()
    assert len(st.messages) == count and all(m == stream_message(k, size) for k, m in enumerate(st.messages))


# --------------------------------------------------------------------------------------
# gRPC-Web semantics over HTTP/2
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_trailers_only_error_is_one_headers_frame(start_proxy, pki, transport):
    """An upstream failure without messages: HEADERS with END_STREAM carrying grpc-status, no DATA."""
    proxy, use = proxy_for(start_proxy, pki, transport)
    with H2Client(proxy.port, use) as c:
        st = c.wait_streams([c.grpcweb(UNARY, [b"x"], {"x-fail-code": 5, "x-fail-message": "gone"})])[0]
    assert st.ended and st.status == 200, st.describe()
    assert st.headers.get("grpc-status") == "5" and st.headers.get("grpc-message") == "gone", st.describe()
    assert st.data == b"" and not st.http_trailers, st.describe()


def test_error_after_headers_in_the_trailer_frame(start_proxy):
    proxy = h2_proxy(start_proxy)
    with H2Client(proxy.port) as c:
        st = c.wait_streams([c.grpcweb(STREAM, [b"x"], {"x-fail-code": 9, "x-fail-after-headers": "1",
                                                         "x-stream-count": 2, "x-trailer-foo": "bar"})])[0]
    assert st.status == 200 and st.ended, st.describe()
    assert st.trailer_frames == 1 and st.trailers.get("grpc-status") == "9", st.describe()
    assert st.trailers.get("x-trailer-foo") == "bar", st.trailers
    assert len(st.messages) == 2 and not st.http_trailers


def test_deadline_over_h2(start_proxy, upstream):
    proxy = h2_proxy(start_proxy)
    before = upstream.stats()["cancelled"].get(UNARY, 0)
    with H2Client(proxy.port) as c:
        sid = c.grpcweb(UNARY, [b"slow"], {"x-delay-ms": 5000, "grpc-timeout": "300m"})
        st = c.wait_streams([sid], 5)[0]
        assert st.grpc_status == 4, st.describe()
        assert 0.25 <= st.finished - st.started < 2, st.finished - st.started
        # The other streams of the connection are unaffected.
        ok = c.wait_streams([c.grpcweb(UNARY, [b"next"])])[0]
        assert ok.grpc_status == 0 and ok.messages == [b"next"], ok.describe()
    st = upstream.wait_stat("cancelled", UNARY, before + 1)
    assert st["cancelled"].get(UNARY, 0) >= before + 1, "the upstream call outlived its deadline"


def test_cors_preflight_over_h2(start_proxy):
    proxy = h2_proxy(start_proxy)
    with H2Client(proxy.port) as c:
        sid = c.open_stream([(":method", "OPTIONS"), (":scheme", "http"), (":authority", "localhost"),
                             (":path", UNARY), ("origin", "https://app.example"),
                             ("access-control-request-method", "POST"),
                             ("access-control-request-headers", "content-type,x-grpc-web,x-custom")])
        st = c.wait_streams([sid])[0]
    assert st.status == 204 and st.ended, st.describe()
    assert st.headers.get("access-control-allow-origin") in ("*", "https://app.example"), st.headers
    assert "x-custom" in st.headers.get("access-control-allow-headers", "").lower(), st.headers
    assert "POST" in st.headers.get("access-control-allow-methods", ""), st.headers


def test_client_reset_cancels_the_upstream_call(start_proxy, upstream):
    proxy = h2_proxy(start_proxy)
    before = upstream.stats()["cancelled"].get(STREAM, 0)
    with H2Client(proxy.port) as c:
        sid = c.grpcweb(STREAM, [b"go"], {"x-stream-forever": "1", "x-stream-interval-ms": 50, "x-stream-size": 8})
        assert c.wait(lambda: len(c.streams[sid].messages) >= 3, 5), c.streams[sid].describe()
        c.reset(sid)
        ok = c.wait_streams([c.grpcweb(UNARY, [b"after reset"])])[0]
        assert ok.grpc_status == 0 and ok.messages == [b"after reset"], ok.describe()
    st = upstream.wait_stat("cancelled", STREAM, before + 1)
    assert st["cancelled"].get(STREAM, 0) >= before + 1, "RST_STREAM did not cancel the upstream call"


# --------------------------------------------------------------------------------------
# h2load
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_h2load_grpcweb(start_proxy, pki, upstream, tmp_path, transport):
    proxy, use = proxy_for(start_proxy, pki, transport)
    body = tmp_path / "grpcweb-body.bin"
    body.write_bytes(b"\x00" + (64).to_bytes(4, "big") + pattern(64))
    upstream.reset_stats()
    scheme = "https" if use else "http"
    n = 2000
    r = h2load(f"{scheme}://127.0.0.1:{proxy.port}{UNARY}", body,
               [f"content-type: {CT_BINARY}", "x-grpc-web: 1"], requests=n, clients=4, streams=16)
    assert r.returncode == 0, r.output
    assert r.protocol == ("h2" if use else "h2c"), r.output
    assert (r.total, r.succeeded, r.failed, r.errored, r.timeout, r.status_2xx) == (n, n, 0, 0, 0, n), r.output
    st = upstream.wait_stat("completed", UNARY, n)
    assert st["completed"].get(UNARY, 0) == n and st["cancelled"].get(UNARY, 0) == 0, st


# --------------------------------------------------------------------------------------
# WebSocket over HTTP/2 (RFC 8441)
# --------------------------------------------------------------------------------------


def test_extended_connect_runs_a_grpc_websockets_call(start_proxy, upstream):
    """Extended CONNECT (`:protocol websocket`, sub-protocol grpc-websockets) on an h2c connection: :status 200,
    then WebSocket frames in DATA both ways; a bidi call echoes each message, ends with grpc-status 0 and a close
    frame, and a gRPC-Web call on the same connection is unaffected."""
    proxy = h2_proxy(start_proxy)
    ws_before = proxy.metric("grpcwebproxy_websocket_calls_total")
    msgs = [b"over h2 %d " % i + pattern(i * 300) for i in range(5)]
    with RawH2(proxy.port) as c:
        c.send(c.headers(1, [(":method", "CONNECT"), (":protocol", "websocket"), (":scheme", "http"),
                             (":authority", "localhost"), (":path", BIDI), ("sec-websocket-version", "13"),
                             ("sec-websocket-protocol", "grpc-websockets")]))
        ws_out = client_frame(2, metadata_block({"x-header-ws": "over-h2"}))
        ws_out += b"".join(client_frame(2, data_message(m)) for m in msgs) + client_frame(2, b"\x01")
        c.send(c.data(1, ws_out))
        c.grpcweb_call(3, UNARY, [b"side by side"])
        side = c.wait_stream(3, 5)
        assert side.grpc_status == 0 and side.messages == [b"side by side"], side.describe()

        def closed_by_server(frames):
            mine = [f for f in frames if f.stream_id == 1]
            if any(f.flags & END_STREAM or f.type == RST_STREAM for f in mine if f.type in (HEADERS, DATA, RST_STREAM)):
                return True  # the stream is over (a refusal ends it at once)
            body = b"".join(f.payload for f in mine if f.type == DATA)
            return any(op == 8 for _, op, _ in parse_ws_frames(body)[0])
        c.wait_for(closed_by_server, 10)
        st = c.stream_result(1)
    assert st.status == 200, st.describe()
    assert st.headers.get("sec-websocket-protocol") == "grpc-websockets", st.headers
    ws_frames, rest = parse_ws_frames(bytes(st.data))
    assert rest == b"", f"{len(rest)} bytes of an incomplete WebSocket frame"
    assembler = ResponseAssembler()
    for _, opcode, payload in ws_frames:
        if opcode == 2:
            assembler.feed(payload)
    close = [p for _, op, p in ws_frames if op == 8]
    assert close and int.from_bytes(close[0][:2], "big") == 1000, close
    r = assembler.finish(1000, "")
    assert r.messages == msgs
    assert r.headers and r.headers.get("x-header-ws") == "over-h2", r.headers
    assert r.grpc_status == 0, r.trailers
    assert proxy.metric("grpcwebproxy_websocket_calls_total") == ws_before + 1
