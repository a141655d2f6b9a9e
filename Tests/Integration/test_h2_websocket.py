"""WebSocket over HTTP/2 (RFC 8441): grpc-websockets calls as extended CONNECT streams of one connection.

The clients are h2_support's: `H2Client` (the Python `h2` package on a raw socket, cleartext with prior knowledge
or TLS with ALPN h2 and the test CA) and `RawH2` (frames by hand, for what follows a GOAWAY, after which the h2
package refuses every frame). A WebSocket stream is `:method CONNECT` + `:protocol websocket`; its DATA payloads
carry the WebSocket byte stream both ways (client frames masked, exactly as over HTTP/1.1), framed with ws_client's
helpers. Every call goes through the proxy to the real grpcio upstream.
"""

from __future__ import annotations

import signal
import struct
import time

import pytest

from h2_support import (BIDI, CANCEL, CLIENT_STREAM, H2_CONNECTIONS, MAX_WINDOW, NO_ERROR,
                        SETTINGS_ENABLE_CONNECT_PROTOCOL, STREAM, UNARY, H2Client, H2Stream, RawH2, parse_ws_frames)
from tls_support import pki, start_tls_proxy  # noqa: F401  (pki is a fixture)
from ws_client import (HALF_CLOSE, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG, ResponseAssembler, client_frame,
                       data_message, metadata_block, stat, wait_for)

pytestmark = pytest.mark.timeout(90)

ORIGIN = "https://app.example"
WS_CALLS = "grpcwebproxy_websocket_calls_total"
CANCELLED_BY_CLIENT = "grpcwebproxy_cancelled_by_client_total"


# ---------------------------------------------------------------------------------------------------------------
# grpc-websockets on one extended CONNECT stream
# ---------------------------------------------------------------------------------------------------------------

def connect_headers(path: str, *, scheme: str = "http", origin: str | None = ORIGIN,
                    subprotocol: str | None = "grpc-websockets", version: str | None = "13") -> list[tuple[str, str]]:
    """An RFC 8441 extended CONNECT as Chromium sends it for `new WebSocket(url, "grpc-websockets")`."""
    headers = [(":method", "CONNECT"), (":protocol", "websocket"), (":scheme", scheme), (":path", path),
               (":authority", "localhost")]
    if subprotocol is not None:
        headers.append(("sec-websocket-protocol", subprotocol))
    if version is not None:
        headers.append(("sec-websocket-version", version))
    if origin is not None:
        headers.append(("origin", origin))
    return headers


def websocket_view(data: bytes):
    """The server's WebSocket frames in a stream's DATA: (gRPC result so far, close code, control frames)."""
    frames, rest = parse_ws_frames(data)
    assembler, close_code, control = ResponseAssembler(), None, []
    for fin, op, body in frames:
        assert fin, "the proxy never fragments"
        if op == OP_BINARY:
            assert close_code is None, "data after the close frame"
            assembler.feed(body)
        elif op == OP_CLOSE:
            close_code = struct.unpack(">H", body[:2])[0] if len(body) >= 2 else None
        else:
            control.append((op, body))
    result = assembler.finish(close_code, "")
    result.leftover_bytes += len(rest)
    return result, close_code, control


class WebSocketStream(H2Stream):
    """Its DATA is a WebSocket byte stream, not gRPC-Web frames: nothing to parse as they arrive."""

    def parse_body(self) -> None:
        pass


class H2GrpcWs:
    """One grpc-websockets call on an extended CONNECT stream of an h2_support `H2Client`."""

    def __init__(self, client: H2Client, path: str, *, metadata=None, send_metadata: bool = True,
                 stalled: bool = False, **headers) -> None:
        self.client = client
        self.sid = client.open_stream(connect_headers(path, scheme=client.scheme, **headers), end_stream=False,
                                      stalled=stalled)
        self.st = client.streams[self.sid] = WebSocketStream(self.sid, time.monotonic(), stalled=stalled)
        assert client.wait(lambda: self.st.status is not None or self.st.done, 10), "no answer to the CONNECT"
        if self.st.status == 200 and send_metadata:
            self.send_raw(metadata_block(metadata))

    def send_raw(self, message: bytes, opcode: int = OP_BINARY, *, end_stream: bool = False) -> None:
        self.client.send_body(self.sid, client_frame(opcode, message), end_stream)

    def send(self, payload: bytes) -> None:
        self.send_raw(data_message(payload))

    def half_close(self) -> None:
        self.send_raw(HALF_CLOSE)

    def close(self, code: int = 1000) -> None:
        """Our close frame with END_STREAM (RFC 8441 §5: the stream's end is the byte stream's end)."""
        self.send_raw(struct.pack(">H", code), OP_CLOSE, end_stream=True)

    def view(self):
        return websocket_view(bytes(self.st.data))

    @property
    def messages(self) -> list[bytes]:
        return self.view()[0].messages

    def wait_messages(self, n: int, timeout_s: float = 10) -> list[bytes]:
        """All response messages so far, once there are `n` (or the call ended)."""
        self.client.wait(lambda: len(self.messages) >= n or self.st.done, timeout_s)
        got = self.messages
        assert len(got) >= n, f"{len(got)} of {n} messages: {self.st.describe()}"
        return got

    def finish(self, timeout_s: float = 10):
        """Waits for the server's END_STREAM (or reset); returns the assembled result."""
        assert self.client.wait(lambda: self.st.done, timeout_s), f"stream not ended: {self.st.describe()}"
        return self.view()[0]


def assert_ok(result, close_code: int = 1000) -> None:
    assert result.grpc_status == 0, (result.trailers, result.close_code)
    assert result.close_code == close_code
    assert result.leftover_bytes == 0


def payload(i: int, size: int) -> bytes:
    return bytes((i * 13 + j) % 251 for j in range(size))


def grpc_web_ok(client: H2Client, sid: int, messages: list[bytes], timeout_s: float = 10) -> None:
    st = client.wait_streams([sid], timeout_s)[0]
    assert st.status == 200 and st.grpc_status == 0 and st.messages == messages, st.describe()


# ---------------------------------------------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------------------------------------------

def test_enable_connect_protocol_is_advertised(proxy):
    with H2Client(proxy.port) as c:
        settings = c.wait_settings()
        assert settings.get(SETTINGS_ENABLE_CONNECT_PROTOCOL) == 1, settings


def bidi_exchange(c: H2Client, proxy) -> None:
    calls_before = proxy.metric(WS_CALLS)
    call = H2GrpcWs(c, BIDI, metadata={"x-header-probe": "h2"})
    assert call.st.status == 200, call.st.describe()
    assert call.st.headers.get("sec-websocket-protocol") == "grpc-websockets", call.st.headers
    # RFC 8441 §5: no Sec-WebSocket-Accept over HTTP/2.
    assert "sec-websocket-accept" not in call.st.headers, call.st.headers
    sent = []
    for i in range(2):
        sent.append(payload(i, 100 + i * 5000))
        call.send(sent[-1])
        # The echo arrives while our side is open: nothing waits for the half-close.
        assert call.wait_messages(i + 1) == sent, f"round {i}"
    call.half_close()
    result = call.finish()
    assert_ok(result)
    assert result.headers is not None and result.headers.get("x-server-id") == "u1", result.headers
    assert result.messages == sent
    assert call.st.ended and call.st.reset_code is None, call.st.describe()
    assert proxy.metric(WS_CALLS) == calls_before + 1


def test_bidi_over_cleartext_h2(proxy):
    with H2Client(proxy.port) as c:
        bidi_exchange(c, proxy)
        # The connection serves more calls after that one.
        bidi_exchange(c, proxy)


def test_bidi_over_tls_h2(start_proxy, pki):
    proxy = start_tls_proxy(start_proxy, pki)
    with H2Client(proxy.port, pki) as c:
        assert c.wait_settings().get(SETTINGS_ENABLE_CONNECT_PROTOCOL) == 1
        bidi_exchange(c, proxy)


def test_unary_over_h2_websocket(proxy):
    with H2Client(proxy.port) as c:
        call = H2GrpcWs(c, UNARY, metadata={"x-trailer-extra": "t1"})
        assert call.st.status == 200
        call.send(b"hello over rfc 8441")
        call.half_close()
        result = call.finish()
        assert_ok(result)
        assert result.messages == [b"hello over rfc 8441"]
        assert result.trailers.get("x-trailer-extra") == "t1", result.trailers


def test_client_close_ends_the_call_and_the_stream(proxy):
    """Our close frame + END_STREAM mid-call: the proxy answers the close and ends its side (no reset)."""
    with H2Client(proxy.port) as c:
        call = H2GrpcWs(c, BIDI)
        call.send(b"one")
        assert call.wait_messages(1) == [b"one"]
        call.close(1000)
        result = call.finish()
        assert result.close_code == 1000
        assert call.st.ended and call.st.reset_code is None, call.st.describe()
        # The connection is still fine.
        bidi_exchange(c, proxy)


def test_end_stream_without_close_frame_resets_the_call(proxy):
    """END_STREAM is the byte stream's EOF: like a socket closed mid-call over HTTP/1.1, the call is cancelled
    (counted once) and the stream reset with CANCEL."""
    with H2Client(proxy.port) as c:
        call = H2GrpcWs(c, BIDI)
        call.send(b"x")
        assert call.wait_messages(1) == [b"x"]
        cancelled = proxy.metric(CANCELLED_BY_CLIENT)
        c.send_body(call.sid, b"", True)
        assert c.wait(lambda: call.st.done, 5), call.st.describe()
        assert call.st.reset_code == CANCEL, call.st.describe()
        assert wait_for(lambda: proxy.metric(CANCELLED_BY_CLIENT) == cancelled + 1, 5)
        assert proxy.metric(CANCELLED_BY_CLIENT) == cancelled + 1


def test_client_reset_cancels_the_call_once(proxy, upstream):
    with H2Client(proxy.port) as c:
        call = H2GrpcWs(c, BIDI)
        call.send(b"x")
        assert call.wait_messages(1) == [b"x"]
        cancelled = proxy.metric(CANCELLED_BY_CLIENT)
        c.reset(call.sid, CANCEL)
        assert wait_for(lambda: proxy.metric(CANCELLED_BY_CLIENT) == cancelled + 1, 5)
        bidi_exchange(c, proxy)
        assert proxy.metric(CANCELLED_BY_CLIENT) == cancelled + 1


def test_ping_answered_with_pong(proxy):
    with H2Client(proxy.port) as c:
        call = H2GrpcWs(c, BIDI)
        call.send_raw(b"are you there", OP_PING)
        assert c.wait(lambda: call.view()[2], 5), "no pong"
        assert call.view()[2] == [(OP_PONG, b"are you there")]
        call.half_close()
        assert_ok(call.finish())


@pytest.mark.parametrize("case", ["origin", "subprotocol", "version", "disabled"])
def test_refusals_are_http_errors_on_the_stream(start_proxy, case):
    listener = {"cors": {"allow_origins": [ORIGIN]}}
    if case == "disabled":
        listener["websocket"] = False
    proxy = start_proxy(listener_extra=listener)
    kw = {"origin": "https://evil.example"} if case == "origin" else {}
    if case == "subprotocol":
        kw["subprotocol"] = "graphql-ws"
    if case == "version":
        kw["version"] = "8"
    expected = {"origin": 403, "subprotocol": 400, "version": 426, "disabled": 403}[case]
    why = {"origin": "https://evil.example", "subprotocol": "grpc-websockets", "version": "13",
           "disabled": "disabled"}[case]
    with H2Client(proxy.port) as c:
        calls_before = proxy.metric(WS_CALLS)
        call = H2GrpcWs(c, BIDI, send_metadata=False, **kw)
        assert c.wait(lambda: call.st.done, 5), call.st.describe()
        assert call.st.status == expected, call.st.describe()
        assert call.st.ended and call.st.reset_code is None
        assert why in call.st.data.decode(), bytes(call.st.data)
        if case == "version":
            assert call.st.headers.get("sec-websocket-version") == "13", call.st.headers
        assert proxy.metric(WS_CALLS) == calls_before
        # A refusal ends one stream, not the connection: a gRPC-Web call on it still works.
        grpc_web_ok(c, c.grpcweb(UNARY, [b"after refusal"]), [b"after refusal"])


def test_two_websockets_and_grpc_web_interleaved_on_one_connection(proxy):
    calls_before = proxy.metric(WS_CALLS)
    with H2Client(proxy.port) as c:
        a = H2GrpcWs(c, BIDI, metadata={"x-bidi-burst": "2"})
        b = H2GrpcWs(c, BIDI)
        web = c.grpcweb(STREAM, [b"web"], metadata={"x-stream-count": "3", "x-stream-interval-ms": "50"})
        for i in range(2):
            a.send(b"a%d" % i)
            b.send(b"b%d" % i)
        # Read them in the opposite order of sending: each stream is independent.
        assert b.wait_messages(2) == [b"b0", b"b1"]
        assert a.wait_messages(4) == [b"a0", b"a0", b"a1", b"a1"]
        st = c.wait_streams([web])[0]
        assert st.grpc_status == 0 and len(st.messages) == 3, st.describe()
        b.half_close()
        a.half_close()
        assert_ok(a.finish())
        assert_ok(b.finish())
    assert proxy.metric(WS_CALLS) == calls_before + 2
    assert proxy.metric(H2_CONNECTIONS) >= 1


def test_stalled_websocket_reader_does_not_stall_other_streams(proxy, upstream):
    """Stream A asks for 4 MiB and stops reading (its window closes at 64 KiB): the proxy holds back the upstream
    (no queue grows without bound), while stream B and a gRPC-Web call on the same connection run normally.
    When A reads again, everything arrives: the stream's queue draining gives the upstream its window back."""
    upstream.reset_stats()
    msg_size, burst = 16 * 1024, 256
    with H2Client(proxy.port, initial_window=65_535) as c:
        a = H2GrpcWs(c, BIDI, metadata={"x-bidi-burst": str(burst)}, stalled=True)
        a.send(payload(7, msg_size))
        # A's window (65,535 bytes) fills up; more would arrive now if the proxy did not respect it.
        assert c.wait(lambda: len(a.st.data) >= 60_000, 10), len(a.st.data)
        c.wait(lambda: False, 0.5)
        assert len(a.st.data) <= 65_535, len(a.st.data)
        started = time.monotonic()
        b = H2GrpcWs(c, BIDI)
        for i in range(3):
            b.send(b"b%d" % i)
            assert b.wait_messages(i + 1)[-1] == b"b%d" % i
        grpc_web_ok(c, c.grpcweb(UNARY, [b"while A is stalled"]), [b"while A is stalled"], 5)
        assert time.monotonic() - started < 3, "other streams were slowed by the stalled one"
        b.half_close()
        assert_ok(b.finish())
        # The upstream could not send all of A's burst: the proxy did not take it all while A was stalled.
        sent_while_stalled = stat(upstream.stats(), "sent", BIDI) - 3  # B's three echoes
        assert sent_while_stalled < burst, "the proxy took everything while the reader was stalled"
        c.open_window(a.sid, MAX_WINDOW - 65_535)
        a.half_close()
        result = a.finish(timeout_s=30)
        assert_ok(result)
        assert len(result.messages) == burst
        assert all(m == payload(7, msg_size) for m in result.messages)


def test_slow_upstream_holds_back_the_stream_window(start_proxy, upstream):
    """An upstream that does not read makes the proxy stop granting the WebSocket stream's window: the client
    cannot push more than about the window plus write_buffer_limit (plus the upstream's own window), and all of it
    arrives once the upstream reads."""
    proxy = start_proxy(top_extra={"limits": {"write_buffer_limit": "256KiB"}})
    message = bytes(range(256)) * 128  # 32 KiB per gRPC message
    ws_frame = client_frame(OP_BINARY, data_message(message))
    with H2Client(proxy.port) as c:
        call = H2GrpcWs(c, CLIENT_STREAM, metadata={"x-delay-ms": "4000"})
        queued = 0
        started = time.monotonic()
        # Queue messages while the proxy takes them; stop once our backlog has not moved for a second.
        while time.monotonic() - started < 20:
            if call.sid in c.pending_body:
                backlog = len(c.pending_body[call.sid][0])
                if not c.wait(lambda: call.sid not in c.pending_body or len(c.pending_body[call.sid][0]) < backlog, 1.0):
                    break
                continue
            c.send_body(call.sid, ws_frame, False)
            queued += 1
        assert time.monotonic() - started < 4, "the window never closed: the proxy took everything"
        accepted = queued * len(ws_frame) - len(c.pending_body[call.sid][0])
        # Our stream window (256 KiB by default) + write_buffer_limit + the upstream's own window: a few MiB.
        assert 256 * 1024 <= accepted < 16 * 1024 * 1024, accepted
        call.half_close()
        result = call.finish(timeout_s=30)
        assert_ok(result)
        assert result.messages == [b"count=%d bytes=%d" % (queued, queued * len(message))]


def test_sigterm_goaway_lets_the_websocket_stream_finish(start_proxy):
    """Drain as over HTTP/1.1: the call in flight keeps running (GOAWAY NO_ERROR names its stream as processed),
    ends normally, and once the stream is done the connection closes and the process exits within drain_timeout.
    (RawH2: the h2 package refuses every frame after a GOAWAY.)"""
    p = start_proxy(top_extra={"drain_timeout": "5s"})
    with RawH2(p.port) as c:
        c.send(c.headers(1, connect_headers(STREAM)))
        c.send(c.data(1, client_frame(OP_BINARY, metadata_block({"x-stream-count": "4", "x-stream-interval-ms": "400"}))
                      + client_frame(OP_BINARY, data_message(b"drain")) + client_frame(OP_BINARY, HALF_CLOSE)))

        def messages(frames) -> int:
            return len(websocket_view(b"".join(f.payload for f in frames if f.stream_id == 1 and f.type == 0))[0].messages)
        assert c.wait_for(lambda frames: messages(frames) >= 1, 10), "the stream did not start"
        t_sig = time.monotonic()
        p.proc.send_signal(signal.SIGTERM)
        goaway = c.wait_goaway(5, final=True)
        assert goaway is not None and goaway.error_code == NO_ERROR and goaway.last_stream_id >= 1, goaway
        st = c.wait_stream(1, 10)
        result, close_code, _ = websocket_view(bytes(st.data))
        assert st.ended and close_code == 1000, st.describe()
        assert_ok(result)
        assert len(result.messages) == 4, result.messages
        # Our side ends too (close frame + END_STREAM): the connection closes, well before drain_timeout.
        c.send(c.data(1, client_frame(OP_CLOSE, struct.pack(">H", 1000)), end_stream=True))
        assert c.wait_closed(4), "the connection stayed open after its last stream"
        assert c.eof_at - t_sig < 4
    rc = p.stop(timeout=6)
    assert rc == 0, f"exit code {rc}"
    assert time.monotonic() - t_sig <= 5.0 + 1.5


def test_client_that_never_ends_its_side_is_reset_after_the_close(proxy):
    """Over HTTP/1.1 the proxy closes the socket after its close frame; over HTTP/2 it ends its side and gives the
    client a grace (5 s) to end its own, then RST_STREAM(NO_ERROR): a silent client cannot hold the stream."""
    with H2Client(proxy.port) as c:
        call = H2GrpcWs(c, UNARY)
        call.send(b"bye")
        call.half_close()
        assert_ok(call.finish())
        ended_at = time.monotonic()
        assert c.wait(lambda: call.st.reset_code is not None, 10), call.st.describe()
        waited = time.monotonic() - ended_at
        assert call.st.reset_code == NO_ERROR, call.st.describe()
        assert 4.0 <= waited <= 8.0, f"reset {waited:.1f}s after the close"
