"""WebSocket clients for the `grpc-websockets` transport (improbable-eng, PROTOCOLS.md §3.1).

Two layers:

* `GrpcWsCall` drives one gRPC call over the `websockets` library's sync client, the way the improbable-eng
  browser client does: a metadata block, `0x00`-prefixed request bytes, a one-byte `0x01` half-close; the
  server's binary messages are concatenated into one byte stream and parsed as gRPC-Web frames (the first
  `0x80` frame = response headers, a later one = trailers, a lone one at close = trailers-only).
* `RawWebSocket` speaks the handshake and framing over a plain socket so tests can send what a correct
  library refuses to: unmasked frames, reserved opcodes, oversized length headers, garbage, broken handshakes.

Nothing here knows about the proxy's internals; it is a client written from the protocol description.
"""

from __future__ import annotations

import base64
import inspect
import os
import socket
import struct
import time
import urllib.parse
from dataclasses import dataclass, field

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect as ws_connect



def supported_kwargs(fn, **kwargs) -> dict:
    """Drops keyword arguments that this version of the websockets package does not know.

    `proxy=None` (15+: ignore $HTTP_PROXY for loopback tests) and `legacy=True` (17+: a connection used without
    `with` is the intended use here, not a mistake) only exist in newer versions."""
    params = inspect.signature(fn).parameters
    return {k: v for k, v in kwargs.items() if k in params}


_CONNECT_EXTRA = supported_kwargs(ws_connect, legacy=True, proxy=None)

SUBPROTOCOL = "grpc-websockets"
HALF_CLOSE = b"\x01"
GRPC_CONTENT_TYPE = "application/grpc-web+proto"
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

# WebSocket opcodes (RFC 6455 §5.2).
OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


# ---------------------------------------------------------------------------------------------------------------
# gRPC-Web framing over the WebSocket byte stream
# ---------------------------------------------------------------------------------------------------------------

def frame(payload: bytes, flags: int = 0) -> bytes:
    """One length-prefixed gRPC(-Web) frame: flags byte, uint32 big-endian length, payload."""
    return struct.pack(">BI", flags, len(payload)) + payload


def metadata_block(metadata=None, *, content_type: str = GRPC_CONTENT_TYPE) -> bytes:
    """The first client message: `name: value\\r\\n` lines, content-type and x-grpc-web first.

    `metadata` may be a dict or a list of (name, value) pairs (repeated names allowed)."""
    lines = [f"content-type: {content_type}", "x-grpc-web: 1"]
    items = metadata.items() if isinstance(metadata, dict) else (metadata or [])
    for name, value in items:
        lines.append(f"{name}: {value}")
    return ("\r\n".join(lines) + "\r\n").encode("ascii")


def data_message(payload: bytes) -> bytes:
    """A client data message carrying exactly one gRPC frame (what the improbable JS client sends)."""
    return b"\x00" + frame(payload)


def parse_header_block(block: bytes) -> dict[str, str]:
    """Parses a `name:value\\r\\n` block (space after the colon optional); names lower-cased, repeats joined."""
    out: dict[str, str] = {}
    for line in block.decode("latin-1").split("\r\n"):
        if not line.strip():
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise ValueError(f"header line without colon: {line!r}")
        name, value = name.strip().lower(), value.strip()
        out[name] = f"{out[name]}, {value}" if name in out else value
    return out


class FrameStreamParser:
    """Incremental gRPC-Web frame parser over a byte stream whose chunk boundaries mean nothing."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        self._buf += data
        out = []
        while len(self._buf) >= 5:
            flags, length = struct.unpack_from(">BI", self._buf, 0)
            if len(self._buf) < 5 + length:
                break
            out.append((flags, bytes(self._buf[5:5 + length])))
            del self._buf[:5 + length]
        return out

    @property
    def leftover(self) -> int:
        return len(self._buf)


@dataclass
class GrpcWsResult:
    headers: dict[str, str] | None = None
    messages: list[bytes] = field(default_factory=list)
    arrivals: list[float] = field(default_factory=list)
    trailers: dict[str, str] | None = None
    trailers_only: bool = False
    close_code: int | None = None
    close_reason: str = ""
    leftover_bytes: int = 0
    message_flags: list[int] = field(default_factory=list)

    @property
    def grpc_status(self) -> int | None:
        if self.trailers is None or "grpc-status" not in self.trailers:
            return None
        return int(self.trailers["grpc-status"])

    @property
    def grpc_message(self) -> str:
        if not self.trailers:
            return ""
        return urllib.parse.unquote(self.trailers.get("grpc-message", ""))


class ResponseAssembler:
    """Turns the server's concatenated WS payloads into headers / messages / trailers."""

    def __init__(self) -> None:
        self.parser = FrameStreamParser()
        self.result = GrpcWsResult()
        self._pending: list[bytes] = []

    def feed(self, data: bytes) -> None:
        for flags, payload in self.parser.feed(data):
            if flags & 0x80:
                block = parse_header_block(payload)
                if self.result.headers is None and not self.result.messages:
                    self.result.headers = block
                elif self.result.trailers is None:
                    self.result.trailers = block
                else:
                    raise AssertionError("more than two 0x80 frames in one call")
            else:
                if self.result.trailers is not None:
                    raise AssertionError("data frame after trailers")
                self.result.messages.append(payload)
                self.result.message_flags.append(flags)
                self.result.arrivals.append(time.monotonic())
                self._pending.append(payload)

    def take_pending(self) -> list[bytes]:
        out, self._pending = self._pending, []
        return out

    def finish(self, code: int | None, reason: str) -> GrpcWsResult:
        r = self.result
        r.close_code, r.close_reason, r.leftover_bytes = code, reason, self.parser.leftover
        # A lone 0x80 block that carries grpc-status is a trailers-only answer (the improbable client reads the
        # status from it when the socket closes).
        if r.trailers is None and r.headers is not None and "grpc-status" in r.headers and not r.messages:
            r.trailers, r.trailers_only = r.headers, True
        return r


# ---------------------------------------------------------------------------------------------------------------
# A call over the `websockets` library
# ---------------------------------------------------------------------------------------------------------------

def ws_url(base_url: str, path: str) -> str:
    """http://host:port + /svc/M -> ws://host:port/svc/M."""
    if base_url.startswith("http://"):
        base_url = "ws://" + base_url[len("http://"):]
    elif base_url.startswith("https://"):
        base_url = "wss://" + base_url[len("https://"):]
    return base_url.rstrip("/") + path


class GrpcWsCall:
    """One gRPC call over a grpc-websockets connection (sync; not thread-safe)."""

    def __init__(self, base_url: str, path: str, metadata=None, *, origin: str | None = None,
                 open_timeout: float = 10, compression: str | None = None, send_metadata: bool = True,
                 additional_headers=None) -> None:
        self.ws = ws_connect(ws_url(base_url, path), subprotocols=[SUBPROTOCOL], origin=origin,
                             open_timeout=open_timeout, compression=compression,
                             max_size=None, ping_interval=None, close_timeout=5,
                             additional_headers=additional_headers, **_CONNECT_EXTRA)
        self.subprotocol = self.ws.subprotocol
        self.response_headers = {k.lower(): v for k, v in self.ws.response.headers.raw_items()}
        self._asm = ResponseAssembler()
        self._closed = False
        if send_metadata:
            self.ws.send(metadata_block(metadata))

    # -- sending --------------------------------------------------------------------------------------------------
    def send(self, payload: bytes) -> None:
        self.ws.send(data_message(payload))

    def send_raw(self, message: bytes) -> None:
        """Sends one binary WS message verbatim (caller adds the 0x00 / 0x01 prefix)."""
        self.ws.send(message)

    def half_close(self) -> None:
        self.ws.send(HALF_CLOSE)

    # -- receiving ------------------------------------------------------------------------------------------------
    def _pump(self, deadline: float) -> bool:
        """Reads one WS message into the assembler. False once the connection is closed."""
        if self._closed:
            return False
        remaining = max(0.0, deadline - time.monotonic())
        try:
            data = self.ws.recv(timeout=remaining)
        except TimeoutError:
            raise TimeoutError("no WebSocket message within the timeout") from None
        except ConnectionClosed:
            self._closed = True
            return False
        if isinstance(data, str):
            raise AssertionError(f"server sent a text message: {data!r}")
        self._asm.feed(data)
        return True

    def recv_message(self, timeout: float = 10) -> bytes | None:
        """The next response message, or None when the call ended (trailers or close) first."""
        deadline = time.monotonic() + timeout
        while True:
            pending = self._asm.take_pending()
            if pending:
                # Keep any extra messages for later calls.
                self._asm._pending = pending[1:] + self._asm._pending
                return pending[0]
            if self._asm.result.trailers is not None:
                return None
            if not self._pump(deadline):
                return None

    def recv_messages(self, n: int, timeout: float = 10) -> list[bytes]:
        out = []
        deadline = time.monotonic() + timeout
        while len(out) < n:
            m = self.recv_message(timeout=max(0.0, deadline - time.monotonic()))
            if m is None:
                raise AssertionError(f"call ended after {len(out)} of {n} messages: {self._asm.result}")
            out.append(m)
        return out

    def finish(self, timeout: float = 10) -> GrpcWsResult:
        """Reads until the server closes the socket; returns everything received."""
        deadline = time.monotonic() + timeout
        while self._pump(deadline):
            pass
        code = self.ws.close_code
        reason = self.ws.close_reason or ""
        self.ws.close()
        return self._asm.finish(code, reason)

    def abort(self) -> None:
        """Closes the TCP connection without a close frame (a browser tab that vanished)."""
        try:
            self.ws.socket.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.ws.socket.close()
        self._closed = True

    def close(self) -> None:
        self.ws.close()


def ws_unary(base_url: str, path: str, payload: bytes, metadata=None, timeout: float = 10, **kw) -> GrpcWsResult:
    """A complete one-request call over grpc-websockets: metadata, one message, half-close, read to the end."""
    call = GrpcWsCall(base_url, path, metadata, **kw)
    call.send(payload)
    call.half_close()
    return call.finish(timeout=timeout)


# ---------------------------------------------------------------------------------------------------------------
# Raw socket client for malformed input
# ---------------------------------------------------------------------------------------------------------------

def client_frame(opcode: int, payload: bytes, *, fin: bool = True, mask: bool = True, rsv: int = 0,
                 length_override: int | None = None) -> bytes:
    """Encodes one client frame. `length_override` announces a length different from the payload sent."""
    b0 = (0x80 if fin else 0) | ((rsv & 7) << 4) | (opcode & 0xF)
    n = len(payload) if length_override is None else length_override
    if n < 126:
        hdr = struct.pack(">BB", b0, (0x80 if mask else 0) | n)
    elif n < 1 << 16:
        hdr = struct.pack(">BBH", b0, (0x80 if mask else 0) | 126, n)
    else:
        hdr = struct.pack(">BBQ", b0, (0x80 if mask else 0) | 127, n)
    if not mask:
        return hdr + payload
    key = os.urandom(4)
    masked = bytes(b ^ key[i & 3] for i, b in enumerate(payload))
    return hdr + key + masked


@dataclass
class HandshakeResponse:
    status: int
    reason: str
    headers: dict[str, str]
    body: bytes


class RawWebSocket:
    """A WebSocket client on a bare socket: full control over the handshake and every frame byte."""

    def __init__(self, host: str, port: int, timeout: float = 10) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.settimeout(timeout)
        self._buf = bytearray()

    @classmethod
    def from_base_url(cls, base_url: str, timeout: float = 10) -> "RawWebSocket":
        u = urllib.parse.urlsplit(base_url)
        return cls(u.hostname, u.port, timeout)

    # -- handshake ------------------------------------------------------------------------------------------------
    def handshake(self, path: str, *, key: str | None = "auto", version: str | None = "13",
                  subprotocol: str | None = SUBPROTOCOL, origin: str | None = None,
                  extra_headers: list[tuple[str, str]] | None = None) -> HandshakeResponse:
        """Sends an upgrade request (a header is omitted when its argument is None) and reads the response head.

        For non-101 answers the body is read too (Content-Length, or until close)."""
        if key == "auto":
            key = base64.b64encode(os.urandom(16)).decode()
        self.key = key
        lines = [f"GET {path} HTTP/1.1", f"Host: {self.sock.getpeername()[0]}:{self.sock.getpeername()[1]}",
                 "Upgrade: websocket", "Connection: Upgrade"]
        if key is not None:
            lines.append(f"Sec-WebSocket-Key: {key}")
        if version is not None:
            lines.append(f"Sec-WebSocket-Version: {version}")
        if subprotocol is not None:
            lines.append(f"Sec-WebSocket-Protocol: {subprotocol}")
        if origin is not None:
            lines.append(f"Origin: {origin}")
        for name, value in extra_headers or []:
            lines.append(f"{name}: {value}")
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        return self.read_response_head()

    def read_response_head(self) -> HandshakeResponse:
        while b"\r\n\r\n" not in self._buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"connection closed during handshake; got {bytes(self._buf)!r}")
            self._buf += chunk
        head, _, rest = bytes(self._buf).partition(b"\r\n\r\n")
        self._buf = bytearray(rest)
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        parts = status_line.split(" ", 2)
        status, reason = int(parts[1]), parts[2] if len(parts) > 2 else ""
        headers: dict[str, str] = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            headers[name] = f"{headers[name]}, {value.strip()}" if name in headers else value.strip()
        body = b""
        if status != 101:
            n = headers.get("content-length")
            if n is not None:
                body = self._read_exact(int(n))
        return HandshakeResponse(status, reason, headers, body)

    @staticmethod
    def expected_accept(key: str) -> str:
        import hashlib
        return base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()

    # -- frames ---------------------------------------------------------------------------------------------------
    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send_frame(self, opcode: int, payload: bytes = b"", **kw) -> None:
        self.sock.sendall(client_frame(opcode, payload, **kw))

    def send_binary(self, payload: bytes) -> None:
        self.send_frame(OP_BINARY, payload)

    def _read_exact(self, n: int) -> bytes:
        while len(self._buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError(f"connection closed with {len(self._buf)} of {n} bytes")
            self._buf += chunk
        out = bytes(self._buf[:n])
        del self._buf[:n]
        return out

    def recv_frame(self) -> tuple[bool, int, bytes]:
        """(fin, opcode, payload) of the next server frame. Raises EOFError when the socket closes first."""
        b0, b1 = self._read_exact(2)
        if b1 & 0x80:
            raise AssertionError("server frame is masked")
        n = b1 & 0x7F
        if n == 126:
            (n,) = struct.unpack(">H", self._read_exact(2))
        elif n == 127:
            (n,) = struct.unpack(">Q", self._read_exact(8))
        return bool(b0 & 0x80), b0 & 0xF, self._read_exact(n)

    def recv_close(self) -> tuple[int | None, str, list[tuple[int, bytes]]]:
        """Reads frames until a close frame; returns (code, reason, frames before it).

        code is None when the socket closed (or was reset) without a close frame."""
        before = []
        try:
            while True:
                fin, op, payload = self.recv_frame()
                if op == OP_CLOSE:
                    if len(payload) >= 2:
                        return struct.unpack(">H", payload[:2])[0], payload[2:].decode("utf-8", "replace"), before
                    return None, "", before
                before.append((op, payload))
        except (EOFError, ConnectionResetError):
            return None, "", before

    def wait_eof(self, timeout: float = 5) -> bool:
        """True if the server closes the TCP connection within `timeout` (after any close frame)."""
        self.sock.settimeout(timeout)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
        except ConnectionResetError:
            return True
        except (socket.timeout, TimeoutError):
            return False

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# ---------------------------------------------------------------------------------------------------------------
# Small test helpers shared by the WebSocket and browser tests
# ---------------------------------------------------------------------------------------------------------------

def stat(stats: dict, table: str, method: str) -> int:
    """A counter from the upstream's /test.Control/Stats snapshot (keys are full paths like /test.Echo/Bidi)."""
    return int(stats.get(table, {}).get(method, 0))


def wait_for(predicate, timeout: float, interval: float = 0.05):
    """Polls `predicate` until it returns a truthy value or `timeout` passes; returns the last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)
