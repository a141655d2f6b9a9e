"""HTTP/2 clients for the downstream HTTP/2 tests (issue 11): the proxy serving h2 over TLS (ALPN) and h2c with
prior knowledge on cleartext listeners.

* ``h2_proxy(start_proxy, pki=None, ...)``: the default test proxy, on TLS when ``pki`` is given, with
  ``listeners[0].http2`` and ``limits.http2`` set as asked.
* ``H2Client``: a well-behaved client on the ``h2`` package over a raw socket (h2c prior knowledge, or TLS with
  ALPN h2). Many gRPC-Web / native gRPC streams on one connection, each with its own flow-control policy (a
  stream can be left with a closed window to stall it).
* ``RawH2``: frames written by hand (HPACK literals, no state machine), for what a well-behaved client library
  refuses to send: HEADERS+RST_STREAM floods, endless CONTINUATION, PING floods, streams above the advertised
  limit, streams after GOAWAY. A reader thread records every frame the proxy sends, so a GOAWAY is seen even when
  the proxy closes the connection right after it.
* ``h2load(...)``: runs nghttp2's h2load and parses its summary.
* Metric names from the issue-11 contract.
"""

from __future__ import annotations

import re
import socket
import ssl
import struct
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import h2.config
import h2.connection
import h2.events
import h2.settings
import hpack

from grpcweb_client import call, frame, parse_frames, parse_trailer_block, percent_decode
from tls_support import client_context, tls_section

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
CT_GRPC_WEB = "application/grpc-web+proto"
CT_GRPC = "application/grpc"

UNARY = "/test.Echo/Unary"
STREAM = "/test.Echo/ServerStream"
CLIENT_STREAM = "/test.Echo/ClientStream"
BIDI = "/test.Echo/Bidi"

# RFC 9113 §7 error codes.
NO_ERROR = 0x0
PROTOCOL_ERROR = 0x1
INTERNAL_ERROR = 0x2
FLOW_CONTROL_ERROR = 0x3
REFUSED_STREAM = 0x7
CANCEL = 0x8
COMPRESSION_ERROR = 0x9
ENHANCE_YOUR_CALM = 0xB
ERROR_NAMES = {0x0: "NO_ERROR", 0x1: "PROTOCOL_ERROR", 0x2: "INTERNAL_ERROR", 0x3: "FLOW_CONTROL_ERROR",
               0x4: "SETTINGS_TIMEOUT", 0x5: "STREAM_CLOSED", 0x6: "FRAME_SIZE_ERROR", 0x7: "REFUSED_STREAM",
               0x8: "CANCEL", 0x9: "COMPRESSION_ERROR", 0xA: "CONNECT_ERROR", 0xB: "ENHANCE_YOUR_CALM",
               0xC: "INADEQUATE_SECURITY", 0xD: "HTTP_1_1_REQUIRED"}

# Frame types and flags (RFC 9113 §6).
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = range(10)
END_STREAM, ACK, END_HEADERS, PADDED, PRIORITY_FLAG = 0x1, 0x1, 0x4, 0x8, 0x20
SETTINGS_MAX_CONCURRENT_STREAMS = 0x3
SETTINGS_INITIAL_WINDOW_SIZE = 0x4
SETTINGS_MAX_HEADER_LIST_SIZE = 0x6
SETTINGS_ENABLE_CONNECT_PROTOCOL = 0x8
MAX_WINDOW = 2**31 - 1

# Metrics of the issue-11 contract.
H2_CONNECTIONS = "grpcwebproxy_downstream_http2_connections_total"
H2_STREAMS = "grpcwebproxy_http2_streams_total"
NATIVE_CALLS = "grpcwebproxy_native_grpc_calls_total"
STREAMS_REFUSED = "grpcwebproxy_http2_streams_refused_total"
HEADER_LIST_TOO_LARGE = "grpcwebproxy_http2_header_list_too_large_total"
RAPID_RESET_GOAWAYS = "grpcwebproxy_http2_rapid_reset_goaways_total"
FLOOD_GOAWAYS = "grpcwebproxy_http2_flood_goaways_total"
PROTOCOL_ERRORS = "grpcwebproxy_http2_protocol_errors_total"
DOWNSTREAM_CONNECTIONS = "grpcwebproxy_downstream_connections_total"


def error_name(code: int | None) -> str:
    return "None" if code is None else ERROR_NAMES.get(code, hex(code))


# --------------------------------------------------------------------------------------
# The proxy
# --------------------------------------------------------------------------------------


def h2_proxy(start_proxy, pki=None, *, http2: bool | None = None, limits: dict | None = None,
             listener_extra: dict | None = None, top_extra: dict | None = None, **kw):
    """The default test proxy (grpcio upstream behind it): HTTPS with the test server certificate when ``pki`` is
    given, else cleartext. ``http2`` sets ``listeners[0].http2`` (absent: the default, on); ``limits`` goes to
    ``limits.http2``."""
    extra = dict(listener_extra or {})
    if pki is not None:
        extra["tls"] = tls_section(pki)
    if http2 is not None:
        extra["http2"] = http2
    top = dict(top_extra or {})
    if limits:
        top.setdefault("limits", {})["http2"] = dict(limits)
    return start_proxy(listener_extra=extra, top_extra=top or None, **kw)


def open_socket(port: int, pki=None, *, alpn=("h2",), timeout_s: float = 10, rcvbuf: int | None = None,
                require_h2: bool = True):
    """A TCP connection to the proxy; over TLS (verifying the test CA, SNI localhost) when ``pki`` is given, with
    ``alpn`` offered. With ``require_h2`` the proxy must have selected h2."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.settimeout(timeout_s)
    sock.connect(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if pki is None:
        return sock
    ctx = client_context(pki)
    if alpn:
        ctx.set_alpn_protocols(list(alpn))
    tls = ctx.wrap_socket(sock, server_hostname="localhost")
    if require_h2:
        assert tls.selected_alpn_protocol() == "h2", f"ALPN selected {tls.selected_alpn_protocol()!r}, not h2"
    return tls


def grpcweb_request_headers(path: str, *, authority: str = "localhost", scheme: str = "http", metadata=None,
                            content_type: str = CT_GRPC_WEB, extra=()) -> list[tuple[str, str]]:
    hl = [(":method", "POST"), (":scheme", scheme), (":authority", authority), (":path", path),
          ("content-type", content_type), ("x-grpc-web", "1"), ("x-user-agent", "grpc-web-javascript/0.1")]
    hl += [(k.lower(), str(v)) for k, v in (metadata or {}).items()]
    return hl + list(extra)


def native_request_headers(path: str, *, authority: str = "localhost", scheme: str = "http", metadata=None,
                           content_type: str = CT_GRPC, timeout: str | None = None) -> list[tuple[str, str]]:
    hl = [(":method", "POST"), (":scheme", scheme), (":authority", authority), (":path", path),
          ("content-type", content_type), ("te", "trailers")]
    if timeout:
        hl.append(("grpc-timeout", timeout))
    return hl + [(k.lower(), str(v)) for k, v in (metadata or {}).items()]


# --------------------------------------------------------------------------------------
# H2Client: the h2 package on a raw socket
# --------------------------------------------------------------------------------------


@dataclass
class H2Stream:
    id: int
    started: float
    headers: dict = field(default_factory=dict)
    header_list: list = field(default_factory=list)
    data: bytearray = field(default_factory=bytearray)
    messages: list = field(default_factory=list)  # gRPC(-Web) data messages (0x80 frames excluded)
    arrivals: list = field(default_factory=list)  # monotonic time each message was parsed
    trailers: dict = field(default_factory=dict)  # the gRPC-Web trailer frame in the body
    trailer_frames: int = 0
    http_trailers: dict = field(default_factory=dict)  # HTTP/2 trailers (native gRPC)
    ended: bool = False  # END_STREAM seen
    reset_code: int | None = None  # RST_STREAM received (or sent by us)
    finished: float = 0.0
    stalled: bool = False  # flow control: never give this stream's window back
    _parsed: int = 0

    @property
    def status(self) -> int | None:
        s = self.headers.get(":status")
        return int(s) if s is not None else None

    @property
    def done(self) -> bool:
        return self.ended or self.reset_code is not None

    @property
    def grpc_status(self) -> int | None:
        for src in (self.trailers, self.http_trailers, self.headers):
            if "grpc-status" in src:
                return int(src["grpc-status"])
        return None

    @property
    def grpc_message(self) -> str | None:
        for src in (self.trailers, self.http_trailers, self.headers):
            if "grpc-status" in src:
                return percent_decode(src.get("grpc-message"))
        return None

    def describe(self) -> str:
        return (f"stream {self.id}: status {self.status} grpc-status {self.grpc_status} ({self.grpc_message!r}), "
                f"{len(self.messages)} messages, ended {self.ended}, reset {error_name(self.reset_code)}, "
                f"headers {self.headers}")

    def parse_body(self) -> None:
        frames, rest = parse_frames(bytes(self.data[self._parsed:]))
        self._parsed = len(self.data) - len(rest)
        now = time.monotonic()
        for flags, payload in frames:
            if flags & 0x80:
                self.trailer_frames += 1
                self.trailers.update(parse_trailer_block(payload))
            else:
                self.messages.append(payload)
                self.arrivals.append(now)

    @property
    def leftover(self) -> int:
        return len(self.data) - self._parsed


class H2Client:
    """One HTTP/2 client connection driven by ``h2.connection.H2Connection`` from the calling thread.

    ``initial_window``: SETTINGS_INITIAL_WINDOW_SIZE we send (the default is large, so streams never wait on us);
    streams opened with ``stalled=False`` get their window opened to the maximum at once, stalled ones keep the
    initial window and never get a WINDOW_UPDATE. The connection window is opened wide at the start.
    """

    def __init__(self, port: int, pki=None, *, initial_window: int = 16 * 1024 * 1024, timeout_s: float = 10,
                 max_header_list_size: int = 1 << 20) -> None:
        self.sock = open_socket(port, pki, timeout_s=timeout_s)
        self.scheme = "https" if pki is not None else "http"
        self.initial_window = initial_window
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
        self.conn.local_settings = h2.settings.Settings(client=True, initial_values={
            h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: initial_window,
            h2.settings.SettingCodes.MAX_HEADER_LIST_SIZE: max_header_list_size,
            h2.settings.SettingCodes.ENABLE_PUSH: 0,
        })
        self.conn.initiate_connection()
        self.conn.increment_flow_control_window(MAX_WINDOW - 65535)
        self.streams: dict[int, H2Stream] = {}
        self.pending_body: dict[int, tuple[bytearray, bool]] = {}
        self.goaway: h2.events.ConnectionTerminated | None = None
        self.remote_settings: dict[int, int] = {}
        self.closed = False
        self.flush()

    # -- sending ----------------------------------------------------------------------

    def flush(self) -> None:
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def open_stream(self, headers: list[tuple[str, str]], body: bytes = b"", *, end_stream: bool = True,
                    stalled: bool = False) -> int:
        sid = self.conn.get_next_available_stream_id()
        self.streams[sid] = H2Stream(sid, time.monotonic(), stalled=stalled)
        self.conn.send_headers(sid, headers, end_stream=not body and end_stream)
        if not stalled:
            self.conn.increment_flow_control_window(MAX_WINDOW - self.initial_window, stream_id=sid)
        if body:
            self.pending_body[sid] = (bytearray(body), end_stream)
            self._send_pending()
        self.flush()
        return sid

    def grpcweb(self, path: str, messages: list[bytes], metadata=None, *, stalled: bool = False,
                end_stream: bool = True, extra=()) -> int:
        """Opens a gRPC-Web call (binary content type) and sends its request messages."""
        hl = grpcweb_request_headers(path, scheme=self.scheme, metadata=metadata, extra=extra)
        return self.open_stream(hl, b"".join(frame(m) for m in messages), end_stream=end_stream, stalled=stalled)

    def native(self, path: str, messages: list[bytes], metadata=None, *, timeout: str | None = None,
               stalled: bool = False) -> int:
        """Opens a native gRPC call (``application/grpc``, ``te: trailers``)."""
        hl = native_request_headers(path, scheme=self.scheme, metadata=metadata, timeout=timeout)
        return self.open_stream(hl, b"".join(frame(m) for m in messages), stalled=stalled)

    def send_body(self, sid: int, data: bytes, end_stream: bool) -> None:
        buf, _ = self.pending_body.get(sid, (bytearray(), False))
        self.pending_body[sid] = (buf + data, end_stream)
        self._send_pending()
        self.flush()

    def _send_pending(self) -> None:
        for sid in list(self.pending_body):
            buf, end = self.pending_body[sid]
            while buf:
                n = min(len(buf), self.conn.local_flow_control_window(sid), self.conn.max_outbound_frame_size)
                if n <= 0:
                    break
                self.conn.send_data(sid, bytes(buf[:n]))
                del buf[:n]
            if not buf:
                if end:
                    self.conn.end_stream(sid)
                del self.pending_body[sid]

    def reset(self, sid: int, code: int = CANCEL) -> None:
        self.conn.reset_stream(sid, code)
        self.streams[sid].reset_code = code
        self.flush()

    def open_window(self, sid: int, increment: int) -> None:
        """Gives a stalled stream ``increment`` bytes of window (and lets it have its received bytes back later)."""
        st = self.streams[sid]
        st.stalled = False
        self.conn.increment_flow_control_window(increment, stream_id=sid)
        self.flush()

    # -- receiving --------------------------------------------------------------------

    def pump(self, timeout_s: float = 0.5) -> bool:
        """Reads once (up to ``timeout_s``) and handles the events; False once the connection is closed."""
        if self.closed:
            return False
        self.sock.settimeout(max(0.001, timeout_s))
        try:
            data = self.sock.recv(1 << 20)
        except (socket.timeout, ssl.SSLWantReadError):
            return True
        except (ConnectionResetError, BrokenPipeError, ssl.SSLError, OSError):
            data = b""
        if not data:
            self.closed = True
            return False
        for ev in self.conn.receive_data(data):
            self._on_event(ev)
        self._send_pending()
        self.flush()
        return True

    def _on_event(self, ev) -> None:
        now = time.monotonic()
        st = self.streams.get(getattr(ev, "stream_id", None) or -1)
        if isinstance(ev, (h2.events.ResponseReceived, h2.events.InformationalResponseReceived)):
            st.header_list += ev.headers
            st.headers.update({k: v for k, v in ev.headers})
        elif isinstance(ev, h2.events.TrailersReceived):
            st.http_trailers.update({k: v for k, v in ev.headers})
        elif isinstance(ev, h2.events.DataReceived):
            st.data += ev.data
            st.parse_body()
            if ev.flow_controlled_length:
                # Only the connection window gets its bytes back: a normal stream's window was opened to the
                # maximum when it started, a stalled one must stay closed.
                self.conn.increment_flow_control_window(ev.flow_controlled_length)
        elif isinstance(ev, h2.events.StreamEnded):
            st.ended = True
            st.finished = now
        elif isinstance(ev, h2.events.StreamReset):
            if st is not None:
                st.reset_code = int(ev.error_code)
                st.finished = now
        elif isinstance(ev, h2.events.ConnectionTerminated):
            self.goaway = ev
        elif isinstance(ev, h2.events.RemoteSettingsChanged):
            for code, change in ev.changed_settings.items():
                self.remote_settings[int(code)] = change.new_value

    def wait(self, predicate, timeout_s: float = 10) -> bool:
        """Pumps until ``predicate()`` holds (True) or the deadline / connection end (False)."""
        deadline = time.monotonic() + timeout_s
        while not predicate():
            left = deadline - time.monotonic()
            if left <= 0 or not self.pump(min(left, 0.2)):
                return predicate()
        return True

    def wait_streams(self, sids, timeout_s: float = 10) -> list[H2Stream]:
        sids = list(sids)
        self.wait(lambda: all(self.streams[s].done for s in sids), timeout_s)
        return [self.streams[s] for s in sids]

    def wait_settings(self, timeout_s: float = 5) -> dict[int, int]:
        self.wait(lambda: bool(self.remote_settings), timeout_s)
        return self.remote_settings

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# --------------------------------------------------------------------------------------
# RawH2: hand-written frames
# --------------------------------------------------------------------------------------


def hpack_literal(name: str | bytes, value: str | bytes) -> bytes:
    """One header field as an HPACK literal without indexing, new name, no Huffman (RFC 7541 §6.2.2): the
    proxy's dynamic table never changes, so blocks can be built in any order."""
    def string(s) -> bytes:
        b = s.encode("latin-1") if isinstance(s, str) else bytes(s)
        return hpack_int(len(b), 7, 0x00) + b
    return b"\x00" + string(name) + string(value)


def hpack_int(value: int, prefix_bits: int, first_byte_flags: int) -> bytes:
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first_byte_flags | value])
    out = bytearray([first_byte_flags | limit])
    value -= limit
    while value >= 128:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def header_block(headers) -> bytes:
    return b"".join(hpack_literal(k, v) for k, v in headers)


def frame_bytes(ftype: int, flags: int, sid: int, payload: bytes = b"") -> bytes:
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack(">I", sid) + payload


@dataclass
class RawFrame:
    type: int
    flags: int
    stream_id: int
    payload: bytes
    at: float
    headers: list | None = None  # decoded header block (HEADERS, with its CONTINUATIONs)

    @property
    def error_code(self) -> int | None:
        if self.type == RST_STREAM:
            return struct.unpack(">I", self.payload[:4])[0]
        if self.type == GOAWAY:
            return struct.unpack(">I", self.payload[4:8])[0]
        return None

    @property
    def last_stream_id(self) -> int | None:
        return struct.unpack(">I", self.payload[:4])[0] & 0x7FFFFFFF if self.type == GOAWAY else None


class RawH2:
    """An HTTP/2 client connection that writes frames by hand. ``start()`` sends the preface and an empty
    SETTINGS; a reader thread records every frame the proxy sends (``frames``), ACKs its SETTINGS, and gives DATA
    its window back (``auto_window``) unless the test wants the bytes to pile up. With ``read=False`` nothing is
    read at all until ``start_reading()``."""

    def __init__(self, port: int, pki=None, *, timeout_s: float = 10, settings: dict | None = None,
                 read: bool = True, auto_window: bool = True, rcvbuf: int | None = None) -> None:
        self.sock = open_socket(port, pki, timeout_s=timeout_s, rcvbuf=rcvbuf)
        self.scheme = "https" if pki is not None else "http"
        self.auto_window = auto_window
        self.frames: list[RawFrame] = []
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)
        self.send_lock = threading.Lock()
        self.eof = False
        self.eof_at: float | None = None
        self.read_error: str | None = None
        self._decoder = hpack.Decoder()
        self._decoder.max_header_list_size = 1 << 24
        self._reader: threading.Thread | None = None
        payload = b"".join(struct.pack(">HI", k, v) for k, v in (settings or {}).items())
        self.send(PREFACE + frame_bytes(SETTINGS, 0, 0, payload))
        if read:
            self.start_reading()

    # -- sending ----------------------------------------------------------------------

    def send(self, data: bytes) -> None:
        with self.send_lock:
            self.sock.sendall(data)

    def try_send(self, data: bytes) -> bool:
        """``send`` that reports a connection the proxy has closed instead of raising."""
        try:
            self.send(data)
            return True
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, socket.timeout, OSError):
            return False

    def headers(self, sid: int, headers, *, end_stream: bool = False) -> bytes:
        """A complete HEADERS frame (END_HEADERS), as bytes."""
        return frame_bytes(HEADERS, END_HEADERS | (END_STREAM if end_stream else 0), sid, header_block(headers))

    def grpcweb_headers(self, sid: int, path: str = UNARY, metadata=None, *, end_stream: bool = False,
                        extra=()) -> bytes:
        return self.headers(sid, grpcweb_request_headers(path, scheme=self.scheme, metadata=metadata, extra=extra),
                            end_stream=end_stream)

    @staticmethod
    def data(sid: int, payload: bytes, *, end_stream: bool = False) -> bytes:
        return frame_bytes(DATA, END_STREAM if end_stream else 0, sid, payload)

    @staticmethod
    def rst(sid: int, code: int = CANCEL) -> bytes:
        return frame_bytes(RST_STREAM, 0, sid, struct.pack(">I", code))

    @staticmethod
    def ping(opaque: bytes = b"\0" * 8) -> bytes:
        return frame_bytes(PING, 0, 0, opaque)

    def grpcweb_call(self, sid: int, path: str, messages: list[bytes], metadata=None) -> None:
        body = b"".join(frame(m) for m in messages)
        self.send(self.grpcweb_headers(sid, path, metadata) + self.data(sid, body, end_stream=True))

    # -- receiving --------------------------------------------------------------------

    def start_reading(self) -> None:
        self._reader = threading.Thread(target=self._read_loop, name="raw-h2-reader", daemon=True)
        self._reader.start()

    def _recv_exact(self, n: int, buf: bytearray) -> bytes | None:
        while len(buf) < n:
            try:
                chunk = self.sock.recv(1 << 16)
            except socket.timeout:
                continue
            except (ConnectionResetError, BrokenPipeError, ssl.SSLError, OSError) as e:
                self.read_error = f"{type(e).__name__}: {e}"
                return None
            if not chunk:
                return None
            buf += chunk
        out = bytes(buf[:n])
        del buf[:n]
        return out

    def _read_loop(self) -> None:
        self.sock.settimeout(0.5)
        buf = bytearray()
        block = bytearray()
        block_frame: RawFrame | None = None
        while True:
            head = self._recv_exact(9, buf)
            payload = None if head is None else self._recv_exact(int.from_bytes(head[:3], "big"), buf)
            if payload is None:
                with self.changed:
                    self.eof = True
                    self.eof_at = time.monotonic()
                    self.changed.notify_all()
                return
            ftype, flags, sid = head[3], head[4], struct.unpack(">I", head[5:9])[0] & 0x7FFFFFFF
            f = RawFrame(ftype, flags, sid, payload, time.monotonic())
            if ftype == HEADERS:
                block_frame, block = f, bytearray(self._strip_headers_payload(flags, payload))
            elif ftype == CONTINUATION and block_frame is not None:
                block += payload
            if ftype in (HEADERS, CONTINUATION) and flags & END_HEADERS and block_frame is not None:
                try:
                    block_frame.headers = [(k.decode() if isinstance(k, bytes) else k,
                                            v.decode(errors="replace") if isinstance(v, bytes) else v)
                                           for k, v in self._decoder.decode(bytes(block), raw=True)]
                except Exception as e:  # noqa: BLE001 - a decoding failure is a finding, recorded for the test
                    block_frame.headers = [("x-decode-error", str(e))]
                block_frame = None
            self._auto_reply(f)
            with self.changed:
                self.frames.append(f)
                self.changed.notify_all()

    @staticmethod
    def _strip_headers_payload(flags: int, payload: bytes) -> bytes:
        pad = 0
        if flags & PADDED:
            pad, payload = payload[0], payload[1:]
        if flags & PRIORITY_FLAG:
            payload = payload[5:]
        return payload[:len(payload) - pad] if pad else payload

    def _auto_reply(self, f: RawFrame) -> None:
        if f.type == SETTINGS and not f.flags & ACK:
            self.try_send(frame_bytes(SETTINGS, ACK, 0))
        elif f.type == DATA and self.auto_window and f.payload:
            n = len(f.payload)
            self.try_send(frame_bytes(WINDOW_UPDATE, 0, 0, struct.pack(">I", n)) +
                          (b"" if f.flags & END_STREAM else frame_bytes(WINDOW_UPDATE, 0, f.stream_id,
                                                                        struct.pack(">I", n))))

    def wait_for(self, predicate, timeout_s: float = 10):
        """Waits until ``predicate(frames)`` returns something truthy (returned) or the connection ended / the
        deadline passed (returns the last falsy result)."""
        deadline = time.monotonic() + timeout_s
        with self.changed:
            while True:
                result = predicate(self.frames)
                left = deadline - time.monotonic()
                if result or self.eof or left <= 0:
                    return result
                self.changed.wait(min(left, 0.2))

    def wait_goaway(self, timeout_s: float = 10, *, final: bool = False) -> RawFrame | None:
        """The first GOAWAY (``final``: the first one whose last-stream-id is not 2^31-1, i.e. not a shutdown
        notice), or None if none came before the connection closed / the deadline."""
        def find(frames):
            for f in frames:
                if f.type == GOAWAY and (not final or f.last_stream_id != MAX_WINDOW):
                    return f
            return None
        return self.wait_for(find, timeout_s)

    def wait_closed(self, timeout_s: float = 10) -> bool:
        deadline = time.monotonic() + timeout_s
        with self.changed:
            while not self.eof:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.changed.wait(min(left, 0.2))
            return True

    def stream_frames(self, sid: int) -> list[RawFrame]:
        with self.lock:
            return [f for f in self.frames if f.stream_id == sid]

    def stream_result(self, sid: int) -> H2Stream:
        """What the proxy sent on stream ``sid``, assembled like ``H2Client`` does."""
        st = H2Stream(sid, 0.0)
        for f in self.stream_frames(sid):
            if f.type == HEADERS and f.headers is not None:
                target = st.headers if ":status" not in st.headers else st.http_trailers
                target.update(dict(f.headers))
            elif f.type == DATA:
                st.data += f.payload
                st.parse_body()
            elif f.type == RST_STREAM:
                st.reset_code = f.error_code
            if f.flags & END_STREAM and f.type in (HEADERS, DATA):
                st.ended = True
        return st

    def wait_stream(self, sid: int, timeout_s: float = 10) -> H2Stream:
        self.wait_for(lambda frames: any(f.stream_id == sid and (f.type == RST_STREAM or (
            f.type in (HEADERS, DATA) and f.flags & END_STREAM)) for f in frames), timeout_s)
        return self.stream_result(sid)

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass
        if self._reader is not None:
            self._reader.join(2)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# --------------------------------------------------------------------------------------
# h2load
# --------------------------------------------------------------------------------------


@dataclass
class H2LoadResult:
    returncode: int
    output: str
    total: int = 0
    succeeded: int = 0
    failed: int = 0
    errored: int = 0
    timeout: int = 0
    status_2xx: int = 0
    protocol: str | None = None


def h2load(url: str, body_file: Path, headers: list[str], *, requests: int, clients: int, streams: int,
           timeout_s: float = 25) -> H2LoadResult:
    """``h2load -n requests -c clients -m streams -d body_file -H ...`` (POST of the file's bytes). h2load does
    not verify certificates; the TLS tests check that separately with curl."""
    cmd = ["h2load", "-n", str(requests), "-c", str(clients), "-m", str(streams), "-d", str(body_file),
           "-T", "10", "-N", "10"]
    for h in headers:
        cmd += ["-H", h]
    cmd.append(url)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
    out = p.stdout + p.stderr
    r = H2LoadResult(p.returncode, out)
    m = re.search(r"requests: (\d+) total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed, (\d+) errored, "
                  r"(\d+) timeout", out)
    if m:
        r.total, r.succeeded, r.failed, r.errored, r.timeout = map(int, m.groups())
    m = re.search(r"status codes: (\d+) 2xx", out)
    if m:
        r.status_2xx = int(m.group(1))
    m = re.search(r"Application protocol: (\S+)", out)
    if m:
        r.protocol = m.group(1)
    return r


# --------------------------------------------------------------------------------------
# Waiting on the proxy
# --------------------------------------------------------------------------------------


def metric_or_zero(proxy, name: str) -> int:
    """A contract metric, 0 if the proxy does not export it yet (the assertion on its growth then fails with a
    clear message instead of a KeyError-like AssertionError before the interesting part)."""
    try:
        return proxy.metric(name)
    except AssertionError:
        return 0


def wait_metric_above(proxy, name: str, before: int, timeout_s: float = 5) -> int:
    deadline = time.monotonic() + timeout_s
    while True:
        value = metric_or_zero(proxy, name)
        if value > before or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def h2_unary(port: int, pki=None, payload: bytes = b"still served", timeout_s: float = 5) -> H2Stream:
    """One gRPC-Web unary call on a fresh HTTP/2 connection, bounded by ``timeout_s``."""
    with H2Client(port, pki, timeout_s=timeout_s) as c:
        sid = c.grpcweb(UNARY, [payload])
        return c.wait_streams([sid], timeout_s)[0]


def assert_h2_still_serving(proxy, pki=None) -> None:
    """Other connections are still served, within a deadline: a new HTTP/2 connection and an HTTP/1.1 one."""
    t0 = time.monotonic()
    st = h2_unary(proxy.port, pki)
    assert st.grpc_status == 0 and st.messages == [b"still served"], st.describe()
    assert time.monotonic() - t0 < 5
    if pki is None:
        r = call(proxy.base_url, UNARY, [b"http/1.1 too"], timeout_s=5)
        assert r.grpc_status == 0 and r.messages == [b"http/1.1 too"], (r.http_status, r.grpc_status, r.error)


def parse_ws_frames(data: bytes) -> tuple[list[tuple[bool, int, bytes]], bytes]:
    """Server WebSocket frames (unmasked) in ``data``: ``[(fin, opcode, payload)]`` and the leftover bytes."""
    out, pos = [], 0
    while len(data) - pos >= 2:
        b0, b1 = data[pos], data[pos + 1]
        n, head = b1 & 0x7F, 2
        if n == 126:
            if len(data) - pos < 4:
                break
            n, head = struct.unpack(">H", data[pos + 2:pos + 4])[0], 4
        elif n == 127:
            if len(data) - pos < 10:
                break
            n, head = struct.unpack(">Q", data[pos + 2:pos + 10])[0], 10
        if b1 & 0x80:
            raise ValueError("a server frame must not be masked")
        if len(data) - pos - head < n:
            break
        out.append((bool(b0 & 0x80), b0 & 0x0F, bytes(data[pos + head:pos + head + n])))
        pos += head + n
    return out, bytes(data[pos:])
