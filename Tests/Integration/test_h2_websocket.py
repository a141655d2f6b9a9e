"""WebSocket over HTTP/2 (RFC 8441): grpc-websockets calls as extended CONNECT streams of one connection.

The client is the Python `h2` package on a raw socket (cleartext with prior knowledge, or TLS with ALPN h2 and the
test CA). A WebSocket stream is `:method CONNECT` + `:protocol websocket`; its DATA payloads carry the WebSocket
byte stream both ways (client frames masked, exactly as over HTTP/1.1), framed and parsed with ws_client's helpers.
Every call goes through the proxy to the real grpcio upstream.
"""

from __future__ import annotations

import signal
import socket
import ssl
import struct
import time
from dataclasses import dataclass, field

import h2.config
import h2.connection
import h2.events
import h2.settings
import pytest

from tls_support import client_context, pki, start_tls_proxy  # noqa: F401  (pki is a fixture)
from ws_client import (HALF_CLOSE, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG, ResponseAssembler, client_frame,
                       data_message, frame, metadata_block, parse_header_block, stat, wait_for)

pytestmark = pytest.mark.timeout(90)

BIDI = "/test.Echo/Bidi"
UNARY = "/test.Echo/Unary"
ORIGIN = "https://app.example"
WS_CALLS = "grpcwebproxy_websocket_calls_total"
# Our connection window, raised once at the start: only stream windows limit what the proxy may send us, so a
# stream we stop reading exhausts its own window and nothing else.
CONNECTION_WINDOW_BOOST = 1 << 30


# ---------------------------------------------------------------------------------------------------------------
# A small HTTP/2 client over a raw socket
# ---------------------------------------------------------------------------------------------------------------

@dataclass
class StreamState:
    headers: dict[str, str] | None = None
    data: bytearray = field(default_factory=bytearray)
    trailers: dict[str, str] | None = None
    ended: bool = False
    reset: int | None = None
    # False: received DATA is not acknowledged (the stream's window closes, as for a reader that stalls).
    reading: bool = True
    unacked: int = 0

    @property
    def status(self) -> int | None:
        return int(self.headers[":status"]) if self.headers else None

    @property
    def closed(self) -> bool:
        return self.ended or self.reset is not None


class H2Client:
    """One HTTP/2 connection; `pump` reads the socket until a condition holds (single-threaded, deadline-bound)."""

    def __init__(self, port: int, *, tls: ssl.SSLContext | None = None, timeout_s: float = 10) -> None:
        raw = socket.create_connection(("127.0.0.1", port), timeout=timeout_s)
        if tls is not None:
            tls.set_alpn_protocols(["h2"])
            raw = tls.wrap_socket(raw, server_hostname="localhost")
            assert raw.selected_alpn_protocol() == "h2", raw.selected_alpn_protocol()
        self.sock = raw
        self.scheme = "https" if tls is not None else "http"
        self.authority = f"localhost:{port}" if tls is not None else f"127.0.0.1:{port}"
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
        self.conn.initiate_connection()
        self.conn.increment_flow_control_window(CONNECTION_WINDOW_BOOST)
        self.streams: dict[int, StreamState] = {}
        self.remote_settings: dict[int, int] = {}
        self.terminated: h2.events.ConnectionTerminated | None = None
        # The h2 package treats a received GOAWAY as the end of the connection (it then refuses every frame, both
        # ways), whereas the streams the GOAWAY names as processed go on (RFC 9113 §6.8). In raw mode the frames
        # are parsed here instead: DATA, RST_STREAM and GOAWAY, enough for a stream that runs through a drain.
        self.raw_mode = False
        self._raw = bytearray()
        self.flush()

    def flush(self) -> None:
        out = self.conn.data_to_send()
        if out:
            self.sock.sendall(out)

    def request(self, headers: list[tuple[str, str]], *, end_stream: bool = False) -> int:
        sid = self.conn.get_next_available_stream_id()
        self.streams[sid] = StreamState()
        self.conn.send_headers(sid, headers, end_stream=end_stream)
        self.flush()
        return sid

    def send_data(self, sid: int, data: bytes, *, end_stream: bool = False, timeout_s: float = 10) -> None:
        """Sends within the proxy's windows, pumping (reading) while they are closed."""
        view = memoryview(data)
        while True:
            room = min(self.conn.local_flow_control_window(sid), self.conn.max_outbound_frame_size)
            n = min(room, len(view))
            if n > 0 or not view:
                last = n == len(view)
                self.conn.send_data(sid, bytes(view[:n]), end_stream=end_stream and last)
                self.flush()
                view = view[n:]
                if last:
                    return
            else:
                before = self.conn.local_flow_control_window(sid)
                self.pump(lambda: self.conn.local_flow_control_window(sid) > before or self.streams[sid].closed,
                          timeout_s, what=f"window on stream {sid}")
                if self.streams[sid].closed:
                    raise AssertionError(f"stream {sid} closed while sending: {self.streams[sid]}")

    def end_stream(self, sid: int) -> None:
        self.conn.end_stream(sid)
        self.flush()

    def set_reading(self, sid: int, reading: bool) -> None:
        s = self.streams[sid]
        s.reading = reading
        if reading and s.unacked:
            self.conn.increment_flow_control_window(s.unacked, stream_id=sid)
            s.unacked = 0
            self.flush()

    def pump(self, until, timeout_s: float, what: str = "condition") -> None:
        deadline = time.monotonic() + timeout_s
        while not until():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no {what} within {timeout_s}s; streams: {self.streams}")
            self.sock.settimeout(min(remaining, 0.2))
            try:
                chunk = self.sock.recv(65536)
            except (socket.timeout, TimeoutError):
                continue
            if not chunk:
                raise ConnectionError(f"proxy closed the connection while waiting for {what}")
            if self.raw_mode:
                self._raw += chunk
                self._parse_raw()
                continue
            self._handle(self.conn.receive_data(chunk))
            self.flush()

    def _parse_raw(self) -> None:
        while len(self._raw) >= 9:
            length = int.from_bytes(self._raw[:3], "big")
            if len(self._raw) < 9 + length:
                return
            ftype, flags = self._raw[3], self._raw[4]
            sid = int.from_bytes(self._raw[5:9], "big") & 0x7FFFFFFF
            body = bytes(self._raw[9:9 + length])
            del self._raw[:9 + length]
            if ftype == 0x0:  # DATA (nghttp2 does not pad)
                assert not flags & 0x8, "padded DATA"
                self.streams[sid].data += body
                self.streams[sid].ended |= bool(flags & 0x1)
            elif ftype == 0x3:  # RST_STREAM
                self.streams[sid].reset = int.from_bytes(body[:4], "big")
            elif ftype == 0x7:  # GOAWAY
                self.terminated = h2.events.ConnectionTerminated()
                self.terminated.last_stream_id = int.from_bytes(body[:4], "big") & 0x7FFFFFFF
                self.terminated.error_code = int.from_bytes(body[4:8], "big")
            elif ftype == 0x1:
                raise AssertionError(f"HEADERS on stream {sid} in raw mode")

    def _handle(self, events) -> None:
        for e in events:
            if isinstance(e, h2.events.RemoteSettingsChanged):
                for code, setting in e.changed_settings.items():
                    self.remote_settings[int(code)] = setting.new_value
            elif isinstance(e, h2.events.ResponseReceived):
                self.streams[e.stream_id].headers = dict(e.headers)
            elif isinstance(e, h2.events.TrailersReceived):
                self.streams[e.stream_id].trailers = dict(e.headers)
            elif isinstance(e, h2.events.DataReceived):
                s = self.streams[e.stream_id]
                s.data += e.data
                n = e.flow_controlled_length
                if s.reading:
                    if n and e.stream_ended is None:  # no window updates on a stream that has ended
                        self.conn.increment_flow_control_window(n, stream_id=e.stream_id)
                else:
                    s.unacked += n
            elif isinstance(e, h2.events.StreamEnded):
                self.streams[e.stream_id].ended = True
            elif isinstance(e, h2.events.StreamReset):
                self.streams[e.stream_id].reset = e.error_code
            elif isinstance(e, h2.events.ConnectionTerminated):
                self.terminated = e

    def send_raw_data_frame(self, sid: int, payload: bytes, *, end_stream: bool) -> None:
        """A DATA frame written by hand: the h2 package sends nothing once it has received a GOAWAY, although
        the streams the GOAWAY names as processed go on (RFC 9113 §6.8)."""
        header = struct.pack(">I", len(payload))[1:] + bytes([0x0, 0x1 if end_stream else 0]) + struct.pack(">I", sid)
        self.sock.sendall(header + payload)

    def read_for(self, seconds: float) -> None:
        """Keeps reading (and acknowledging what the streams that read take) for `seconds`."""
        end = time.monotonic() + seconds
        self.pump(lambda: time.monotonic() >= end, seconds + 1)

    def wait_settings(self, timeout_s: float = 5) -> dict[int, int]:
        self.pump(lambda: bool(self.remote_settings), timeout_s, what="SETTINGS")
        return self.remote_settings

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self) -> "H2Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# ---------------------------------------------------------------------------------------------------------------
# grpc-websockets on one extended CONNECT stream
# ---------------------------------------------------------------------------------------------------------------

def parse_server_frames(buf: bytearray) -> list[tuple[int, bytes]]:
    """Takes the complete server frames (unmasked, FIN set: the proxy never fragments) off the front of `buf`."""
    out = []
    while len(buf) >= 2:
        b0, b1 = buf[0], buf[1]
        assert not b1 & 0x80, "server frame is masked"
        n, pos = b1 & 0x7F, 2
        if n == 126:
            if len(buf) < 4:
                break
            (n,), pos = struct.unpack_from(">H", buf, 2), 4
        elif n == 127:
            if len(buf) < 10:
                break
            (n,), pos = struct.unpack_from(">Q", buf, 2), 10
        if len(buf) < pos + n:
            break
        assert b0 & 0x80, "fragmented server frame"
        out.append((b0 & 0x0F, bytes(buf[pos:pos + n])))
        del buf[:pos + n]
    return out


class H2GrpcWs:
    """One grpc-websockets call on an extended CONNECT stream of `client`."""

    def __init__(self, client: H2Client, path: str, *, origin: str | None = ORIGIN, metadata=None,
                 subprotocol: str | None = "grpc-websockets", version: str | None = "13",
                 send_metadata: bool = True, wait: bool = True) -> None:
        self.client = client
        headers = [(":method", "CONNECT"), (":protocol", "websocket"), (":scheme", client.scheme),
                   (":path", path), (":authority", client.authority)]
        if subprotocol is not None:
            headers.append(("sec-websocket-protocol", subprotocol))
        if version is not None:
            headers.append(("sec-websocket-version", version))
        if origin is not None:
            headers.append(("origin", origin))
        self.sid = client.request(headers)
        self.state = client.streams[self.sid]
        self.asm = ResponseAssembler()
        self.ws_buf = bytearray()
        self.taken = 0
        self.close_code: int | None = None
        self.control: list[tuple[int, bytes]] = []
        if wait:
            client.pump(lambda: self.state.headers is not None or self.state.closed, 10, what="CONNECT response")
            if self.state.status == 200 and send_metadata:
                self.send_raw(metadata_block(metadata))

    # -- sending --------------------------------------------------------------------------------------------------
    def send_raw(self, message: bytes, opcode: int = OP_BINARY) -> None:
        self.client.send_data(self.sid, client_frame(opcode, message))

    def send(self, payload: bytes) -> None:
        self.send_raw(data_message(payload))

    def half_close(self) -> None:
        self.send_raw(HALF_CLOSE)

    def close(self, code: int = 1000) -> None:
        """Our close frame, then END_STREAM (RFC 8441 §5: the stream's end is the byte stream's end)."""
        self.send_raw(struct.pack(">H", code), OP_CLOSE)
        self.client.end_stream(self.sid)

    # -- receiving ------------------------------------------------------------------------------------------------
    def _absorb(self) -> None:
        new = self.state.data[self.taken:]
        self.taken = len(self.state.data)
        self.ws_buf += new
        for op, payload in parse_server_frames(self.ws_buf):
            if op == OP_BINARY:
                assert self.close_code is None, "data after the close frame"
                self.asm.feed(payload)
            elif op == OP_CLOSE:
                self.close_code = struct.unpack(">H", payload[:2])[0] if len(payload) >= 2 else None
            else:
                self.control.append((op, payload))

    def recv_messages(self, n: int, timeout_s: float = 10) -> list[bytes]:
        got: list[bytes] = []

        def ready():
            self._absorb()
            got.extend(self.asm.take_pending())
            return len(got) >= n or self.close_code is not None or self.state.closed

        self.client.pump(ready, timeout_s, what=f"{n} messages on stream {self.sid}")
        assert len(got) >= n, f"call ended after {len(got)} of {n} messages: {self.asm.result}, {self.state}"
        return got[:n]

    def finish(self, timeout_s: float = 10):
        """Reads until the server's close frame and END_STREAM; returns the assembled result."""
        def done():
            self._absorb()
            return self.state.closed
        self.client.pump(done, timeout_s, what=f"end of stream {self.sid}")
        return self.asm.finish(self.close_code, "")


def assert_ok(result, close_code: int = 1000) -> None:
    assert result.grpc_status == 0, (result.trailers, result.close_code)
    assert result.close_code == close_code
    assert result.leftover_bytes == 0


def payload(i: int, size: int) -> bytes:
    return bytes((i * 13 + j) % 251 for j in range(size))


def grpc_web_unary(client: H2Client, message: bytes, path: str = UNARY) -> int:
    """Starts a gRPC-Web unary call (request complete); returns the stream id."""
    sid = client.request([(":method", "POST"), (":scheme", client.scheme), (":path", path),
                          (":authority", client.authority), ("content-type", "application/grpc-web+proto"),
                          ("x-grpc-web", "1"), ("origin", ORIGIN)])
    client.send_data(sid, frame(message), end_stream=True)
    return sid


def grpc_web_result(state: StreamState) -> tuple[list[bytes], dict[str, str]]:
    """Messages and the trailer frame of a complete gRPC-Web response body."""
    messages, trailers, buf = [], None, bytes(state.data)
    while buf:
        flags, n = struct.unpack_from(">BI", buf)
        body, buf = buf[5:5 + n], buf[5 + n:]
        if flags & 0x80:
            trailers = parse_header_block(body)
        else:
            messages.append(body)
    return messages, trailers


# ---------------------------------------------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------------------------------------------

def test_enable_connect_protocol_is_advertised(proxy):
    with H2Client(proxy.port) as c:
        settings = c.wait_settings()
        assert settings.get(int(h2.settings.SettingCodes.ENABLE_CONNECT_PROTOCOL)) == 1, settings


def bidi_exchange(c: H2Client, proxy) -> None:
    calls_before = proxy.metric(WS_CALLS)
    call = H2GrpcWs(c, BIDI, metadata={"x-header-probe": "h2"})
    assert call.state.status == 200, (call.state, bytes(call.state.data))
    assert call.state.headers.get("sec-websocket-protocol") == "grpc-websockets", call.state.headers
    # RFC 8441 §5: no Sec-WebSocket-Accept over HTTP/2.
    assert "sec-websocket-accept" not in call.state.headers, call.state.headers
    for i in range(2):
        msg = payload(i, 100 + i * 5000)
        call.send(msg)
        # The echo arrives while our side is open: nothing waits for the half-close.
        assert call.recv_messages(1) == [msg], f"round {i}"
    call.half_close()
    result = call.finish()
    assert_ok(result)
    assert result.headers is not None and result.headers.get("x-server-id") == "u1", result.headers
    assert result.messages == [payload(0, 100), payload(1, 5100)]
    assert call.state.ended and call.state.reset is None, call.state
    assert proxy.metric(WS_CALLS) == calls_before + 1


def test_bidi_over_cleartext_h2(proxy):
    with H2Client(proxy.port) as c:
        bidi_exchange(c, proxy)
        # The connection serves more calls after that one.
        bidi_exchange(c, proxy)


def test_bidi_over_tls_h2(start_proxy, pki):
    proxy = start_tls_proxy(start_proxy, pki)
    with H2Client(proxy.port, tls=client_context(pki)) as c:
        assert c.wait_settings().get(int(h2.settings.SettingCodes.ENABLE_CONNECT_PROTOCOL)) == 1
        bidi_exchange(c, proxy)


def test_unary_over_h2_websocket(proxy):
    with H2Client(proxy.port) as c:
        call = H2GrpcWs(c, UNARY, metadata={"x-trailer-extra": "t1"})
        assert call.state.status == 200
        call.send(b"hello over rfc 8441")
        call.half_close()
        result = call.finish()
        assert_ok(result)
        assert result.messages == [b"hello over rfc 8441"]
        assert result.trailers.get("x-trailer-extra") == "t1", result.trailers


def test_client_close_ends_the_call_and_the_stream(proxy, upstream):
    """Our close frame + END_STREAM mid-call: the proxy answers the close, ends its side, cancels upstream."""
    with H2Client(proxy.port) as c:
        call = H2GrpcWs(c, BIDI)
        call.send(b"one")
        assert call.recv_messages(1) == [b"one"]
        call.close(1000)
        result = call.finish()
        assert result.close_code == 1000
        assert call.state.ended and call.state.reset is None, call.state
        # The connection is still fine.
        bidi_exchange(c, proxy)


def test_end_stream_without_close_frame_resets_the_call(proxy):
    """END_STREAM is the byte stream's EOF: like a socket closed mid-call over HTTP/1.1, the call is cancelled and
    the stream reset with CANCEL."""
    with H2Client(proxy.port) as c:
        call = H2GrpcWs(c, BIDI)
        call.send(b"x")
        assert call.recv_messages(1) == [b"x"]
        cancelled = proxy.metric("grpcwebproxy_cancelled_by_client_total")
        c.end_stream(call.sid)
        c.pump(lambda: call.state.closed, 5, what="stream reset")
        assert call.state.reset == 0x8, call.state
        assert wait_for(lambda: proxy.metric("grpcwebproxy_cancelled_by_client_total") == cancelled + 1, 5)


def test_ping_answered_with_pong(proxy):
    with H2Client(proxy.port) as c:
        call = H2GrpcWs(c, BIDI)
        call.send_raw(b"are you there", OP_PING)
        c.pump(lambda: (call._absorb(), call.control)[1], 5, what="pong")
        assert call.control == [(OP_PONG, b"are you there")]
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
        c.pump(lambda: call.state.closed, 5, what="refusal")
        assert call.state.status == expected, call.state
        assert call.state.ended and call.state.reset is None
        assert why in call.state.data.decode(), bytes(call.state.data)
        if case == "version":
            assert call.state.headers.get("sec-websocket-version") == "13", call.state.headers
        assert proxy.metric(WS_CALLS) == calls_before
        # A refusal ends one stream, not the connection: a gRPC-Web call on it still works.
        sid = grpc_web_unary(c, b"after refusal")
        c.pump(lambda: c.streams[sid].closed, 10, what="gRPC-Web answer")
        messages, trailers = grpc_web_result(c.streams[sid])
        assert messages == [b"after refusal"] and trailers.get("grpc-status") == "0", (messages, trailers)


def test_two_websockets_and_grpc_web_interleaved_on_one_connection(proxy, upstream):
    calls_before = proxy.metric(WS_CALLS)
    with H2Client(proxy.port) as c:
        a = H2GrpcWs(c, BIDI, metadata={"x-bidi-burst": "2"})
        b = H2GrpcWs(c, BIDI)
        web = grpc_web_unary(c, b"web payload")
        for i in range(2):
            a.send(b"a%d" % i)
            b.send(b"b%d" % i)
        # Read them in the opposite order of sending: each stream is independent.
        assert b.recv_messages(2) == [b"b0", b"b1"]
        assert a.recv_messages(4) == [b"a0", b"a0", b"a1", b"a1"]
        c.pump(lambda: c.streams[web].closed, 10, what="gRPC-Web answer")
        messages, trailers = grpc_web_result(c.streams[web])
        assert messages == [b"web payload"] and trailers.get("grpc-status") == "0"
        b.half_close()
        a.half_close()
        assert_ok(a.finish())
        assert_ok(b.finish())
    assert proxy.metric(WS_CALLS) == calls_before + 2
    assert proxy.metric("grpcwebproxy_downstream_http2_connections_total") >= 1


def test_stalled_websocket_reader_does_not_stall_other_streams(proxy, upstream):
    """Stream A asks for 4 MiB and stops reading (its window closes at 64 KiB): the proxy holds back the upstream
    (no queue grows without bound), while stream B and a gRPC-Web call on the same connection run normally.
    When A reads again, everything arrives: the stream's queue draining gives the upstream its window back."""
    upstream.reset_stats()
    msg_size, burst = 16 * 1024, 256
    with H2Client(proxy.port) as c:
        a = H2GrpcWs(c, BIDI, metadata={"x-bidi-burst": str(burst)})
        c.set_reading(a.sid, False)
        a.send(payload(7, msg_size))
        # A's window (65,535 bytes) fills up.
        c.pump(lambda: len(a.state.data) >= 60_000, 10, what="A's window to fill")
        c.read_for(0.5)  # more would arrive now if the proxy did not respect the window
        assert len(a.state.data) <= 65_535, len(a.state.data)
        b = H2GrpcWs(c, BIDI)
        started = time.monotonic()
        for i in range(3):
            b.send(b"b%d" % i)
            assert b.recv_messages(1) == [b"b%d" % i]
        web = grpc_web_unary(c, b"while A is stalled")
        c.pump(lambda: c.streams[web].closed, 5, what="gRPC-Web answer")
        assert grpc_web_result(c.streams[web])[0] == [b"while A is stalled"]
        assert time.monotonic() - started < 3, "other streams were slowed by the stalled one"
        b.half_close()
        assert_ok(b.finish())
        # The upstream could not send all of A's burst: the proxy did not take it all while A was stalled.
        sent_while_stalled = stat(upstream.stats(), "sent", BIDI) - 3  # B's three echoes
        assert sent_while_stalled < burst, "the proxy took everything while the reader was stalled"
        c.set_reading(a.sid, True)
        a.half_close()
        result = a.finish(timeout_s=30)
        assert_ok(result)
        assert len(result.messages) == burst
        assert all(m == payload(7, msg_size) for m in result.messages)


def test_slow_upstream_holds_back_the_stream_window(start_proxy, upstream):
    """An upstream that does not read makes the proxy stop granting the WebSocket stream's window: the client
    cannot push more than about the window plus write_buffer_limit, and all of it arrives once the upstream reads."""
    proxy = start_proxy(top_extra={"limits": {"write_buffer_limit": "256KiB"}})
    message = bytes(range(256)) * 128  # 32 KiB per gRPC message
    with H2Client(proxy.port) as c:
        call = H2GrpcWs(c, "/test.Echo/ClientStream", metadata={"x-delay-ms": "4000"})
        sent = 0
        started = time.monotonic()
        # Push until the stream window stays closed for a second (the proxy holds it back).
        while time.monotonic() - started < 20:
            data = client_frame(OP_BINARY, data_message(message))
            if c.conn.local_flow_control_window(call.sid) < len(data):
                before = c.conn.local_flow_control_window(call.sid)
                try:
                    c.pump(lambda: c.conn.local_flow_control_window(call.sid) > before, 1.0, what="window")
                except TimeoutError:
                    break
                continue
            c.send_data(call.sid, data)
            sent += 1
        assert time.monotonic() - started < 4, "the window never closed: the proxy took everything"
        # Our stream window (256 KiB by default) + write_buffer_limit + the upstream's own window: at most a few MiB.
        assert 256 * 1024 <= sent * len(message) < 16 * 1024 * 1024, sent
        for _ in range(3):
            call.send(message)
        call.half_close()
        result = call.finish(timeout_s=30)
        assert_ok(result)
        assert result.messages == [b"count=%d bytes=%d" % (sent + 3, (sent + 3) * len(message))]


def test_sigterm_goaway_lets_the_websocket_stream_finish(start_proxy):
    """Drain as over HTTP/1.1: the call in flight keeps running (GOAWAY NO_ERROR names its stream as processed),
    ends normally, and once the stream is done the connection closes and the process exits within drain_timeout."""
    p = start_proxy(top_extra={"drain_timeout": "5s"})
    with H2Client(p.port) as c:
        call = H2GrpcWs(c, "/test.Echo/ServerStream", metadata={"x-stream-count": "4", "x-stream-interval-ms": "400"})
        call.send(b"drain")
        call.half_close()
        assert len(call.recv_messages(1)) == 1  # the stream is under way
        c.raw_mode = True  # the h2 package gives up at the GOAWAY (see H2Client)
        t_sig = time.monotonic()
        p.proc.send_signal(signal.SIGTERM)
        c.pump(lambda: c.terminated is not None, 5, what="GOAWAY")
        assert c.terminated.error_code == 0 and c.terminated.last_stream_id >= call.sid, c.terminated
        result = call.finish()
        assert_ok(result)
        assert len(result.messages) == 4, result.messages
        # The stream ended by us too (close frame + END_STREAM), the connection closes before drain_timeout.
        c.send_raw_data_frame(call.sid, client_frame(OP_CLOSE, struct.pack(">H", 1000)), end_stream=True)
        with pytest.raises(ConnectionError):
            c.read_for(3)
        closed_after = time.monotonic() - t_sig
        assert closed_after < 4, f"connection closed {closed_after:.1f}s after SIGTERM, not when its stream ended"
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
        result = call.finish()
        assert_ok(result)
        ended_at = time.monotonic()
        c.pump(lambda: call.state.reset is not None, 10, what="RST_STREAM after the grace")
        waited = time.monotonic() - ended_at
        assert call.state.reset == 0, call.state
        assert 4.0 <= waited <= 8.0, f"reset {waited:.1f}s after the close"
