"""A small gRPC-Web client and raw HTTP/1.1 helpers for the integration tests.

Written on plain sockets (no http.client) so the tests control every byte that goes out
and see the response body as it arrives: each gRPC-Web message gets the monotonic time at
which it was parsed (``arrivals``), which is how "the proxy does not buffer a stream" is
checked.

Main entry points:

* ``call(base_url, path, messages, ...) -> GrpcWebResult``: one complete call.
* ``open_call(...) -> StreamingCall``: the same, but the caller pulls messages one by one
  (slow readers, disconnecting mid-stream).
* ``HTTPConnection``: a raw HTTP/1.1 connection (keep-alive, pipelining, malformed input).
* ``frame``, ``parse_frames``, ``trailer_block``, ``percent_decode``: wire helpers.
"""

from __future__ import annotations

import base64
import binascii
import collections
import socket
import threading
import time
import urllib.parse
from dataclasses import dataclass, field

CT_BINARY = "application/grpc-web+proto"
CT_TEXT = "application/grpc-web-text"
BACKGROUND_SEND_THRESHOLD = 256 * 1024

# --------------------------------------------------------------------------------------
# gRPC-Web framing
# --------------------------------------------------------------------------------------


def frame(payload: bytes, flags: int = 0) -> bytes:
    """One length-prefixed frame: flags byte, uint32 big-endian length, payload."""
    return bytes([flags]) + len(payload).to_bytes(4, "big") + payload


def parse_frames(data: bytes) -> tuple[list[tuple[int, bytes]], bytes]:
    """Splits ``data`` into complete frames ``[(flags, payload)]`` and the leftover bytes."""
    frames = []
    pos = 0
    while len(data) - pos >= 5:
        length = int.from_bytes(data[pos + 1:pos + 5], "big")
        if len(data) - pos - 5 < length:
            break
        frames.append((data[pos], bytes(data[pos + 5:pos + 5 + length])))
        pos += 5 + length
    return frames, bytes(data[pos:])


def trailer_block(fields: dict[str, str]) -> bytes:
    """The payload of a 0x80 trailer frame: ``name:value\\r\\n`` per field."""
    return b"".join(f"{k}:{v}\r\n".encode("latin-1") for k, v in fields.items())


def parse_trailer_block(block: bytes) -> dict[str, str]:
    """Parses a trailer block; names lower-cased, values trimmed, repeats joined with ', '."""
    out: dict[str, str] = {}
    for line in block.split(b"\r\n"):
        if not line:
            continue
        name, sep, value = line.partition(b":")
        if not sep:
            raise ValueError(f"trailer line without colon: {line!r}")
        k = name.strip().decode("latin-1").lower()
        v = value.strip().decode("latin-1")
        out[k] = f"{out[k]}, {v}" if k in out else v
    return out


def percent_decode(value: str | None) -> str | None:
    """grpc-message decoding: %XX sequences are UTF-8 bytes; never fails."""
    if value is None:
        return None
    return urllib.parse.unquote(value, encoding="utf-8", errors="replace")


class Base64StreamDecoder:
    """Decodes a base64 stream made of independently padded chunks.

    Decodes quantum-aligned prefixes; a quantum that ends in '=' closes a chunk, so decoding
    restarts after it (padding may appear in the middle of the stream, SPEC-WEB allows it).
    """

    def __init__(self) -> None:
        self.pending = b""

    def feed(self, data: bytes) -> bytes:
        buf = self.pending + bytes(data).translate(None, b"\r\n")
        usable = len(buf) - len(buf) % 4
        self.pending = buf[usable:]
        out = []
        pos = 0
        while pos < usable:
            eq = buf.find(b"=", pos, usable)
            end = usable if eq < 0 else ((eq // 4) + 1) * 4
            out.append(base64.b64decode(buf[pos:end], validate=True))
            pos = end
        return b"".join(out)

    def finish(self) -> None:
        if self.pending:
            raise binascii.Error(f"base64 stream ends with {len(self.pending)} stray characters")


# --------------------------------------------------------------------------------------
# Raw HTTP/1.1
# --------------------------------------------------------------------------------------


def split_url(base_url: str) -> tuple[str, int]:
    u = urllib.parse.urlsplit(base_url)
    return u.hostname or "127.0.0.1", u.port or 80


class ConnectionClosed(Exception):
    """The peer closed the connection before a complete response arrived."""


@dataclass
class HTTPResponse:
    status: int
    reason: str
    version: str
    header_list: list[tuple[str, str]]
    body: bytes = b""

    @property
    def headers(self) -> dict[str, str]:
        return headers_dict(self.header_list)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


def headers_dict(header_list: list[tuple[str, str]]) -> dict[str, str]:
    """Lower-case names; repeated fields joined with ', ' (RFC 9110 list semantics)."""
    out: dict[str, str] = {}
    for k, v in header_list:
        k = k.lower()
        out[k] = f"{out[k]}, {v}" if k in out else v
    return out


class HTTPConnection:
    """One raw HTTP/1.1 client connection with its own read buffer.

    ``rcvbuf`` shrinks SO_RCVBUF before connecting, so a slow reader really pushes back
    instead of letting the kernel absorb megabytes.
    """

    def __init__(self, base_url_or_host: str, port: int | None = None, *, timeout_s: float = 30,
                 rcvbuf: int | None = None) -> None:
        if port is None:
            self.host, self.port = split_url(base_url_or_host)
        else:
            self.host, self.port = base_url_or_host, port
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout_s)
        self.sock.connect((self.host, self.port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.eof = False

    # -- sending ----------------------------------------------------------------------

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    @staticmethod
    def build_request(method: str, path: str, headers: list[tuple[str, str]] | dict | None = None,
                      body: bytes | None = None, *, host: str | None = "127.0.0.1",
                      chunked: bool = False, content_length: bool = True) -> bytes:
        """Serialises a request. With ``chunked`` the body (bytes or list of chunks) is chunked."""
        hl = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
        names = {k.lower() for k, _ in hl}
        if host is not None and "host" not in names:
            hl.insert(0, ("Host", host))
        payload = b""
        if chunked:
            chunks = body if isinstance(body, list) else ([body] if body else [])
            if "transfer-encoding" not in names:
                hl.append(("Transfer-Encoding", "chunked"))
            payload = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks if c) + b"0\r\n\r\n"
        elif body is not None:
            if content_length and "content-length" not in names:
                hl.append(("Content-Length", str(len(body))))
            payload = body
        head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in hl) + "\r\n"
        return head.encode("latin-1") + payload

    def request(self, method: str, path: str, headers=None, body: bytes | None = None, **kw) -> None:
        self.send(self.build_request(method, path, headers, body, **kw))

    # -- receiving --------------------------------------------------------------------

    def _fill(self, max_bytes: int = 65536) -> bool:
        if self.eof:
            return False
        try:
            data = self.sock.recv(max_bytes)
        except ConnectionResetError:
            data = b""
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def read_line(self, limit: int = 1 << 20) -> bytes:
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line = bytes(self.buf[:i])
                del self.buf[:i + 2]
                return line
            if len(self.buf) > limit:
                raise ValueError("line too long")
            if not self._fill():
                raise ConnectionClosed(f"closed while reading a line (buffered {bytes(self.buf[:200])!r})")

    def read_exact(self, n: int) -> bytes:
        while len(self.buf) < n:
            if not self._fill(max(65536, n - len(self.buf))):
                raise ConnectionClosed(f"closed with {n - len(self.buf)} body bytes missing")
        data = bytes(self.buf[:n])
        del self.buf[:n]
        return data

    def read_head(self) -> HTTPResponse:
        """Status line and header fields (1xx responses skipped)."""
        while True:
            line = self.read_line()
            version, _, rest = line.decode("latin-1").partition(" ")
            code, _, reason = rest.partition(" ")
            if not version.startswith("HTTP/") or not code.isdigit():
                raise ValueError(f"bad status line {line!r}")
            hl = []
            while True:
                h = self.read_line()
                if not h:
                    break
                k, sep, v = h.decode("latin-1").partition(":")
                if not sep:
                    raise ValueError(f"bad header line {h!r}")
                hl.append((k.strip(), v.strip()))
            resp = HTTPResponse(int(code), reason, version, hl)
            if 100 <= resp.status < 200 and resp.status != 101:
                continue
            return resp

    def body_chunks(self, resp: HTTPResponse, method: str = "POST", read_size: int = 65536,
                    read_delay_s: float = 0):
        """Yields the response body piece by piece as it arrives (de-chunked)."""
        h = resp.headers
        if method == "HEAD" or resp.status in (204, 304) or 100 <= resp.status < 200:
            return
        te = h.get("transfer-encoding", "").lower()
        if te:
            if te.split(",")[-1].strip() != "chunked":
                raise ValueError(f"unexpected transfer-encoding {te!r}")
            while True:
                size_line = self.read_line()
                size = int(size_line.split(b";")[0].strip(), 16)
                if size == 0:
                    while self.read_line():  # trailer section of the chunked body
                        pass
                    return
                left = size
                while left:
                    if not self.buf:
                        if read_delay_s:
                            time.sleep(read_delay_s)
                        if not self._fill(read_size):
                            raise ConnectionClosed(f"closed inside a chunk ({left} bytes missing)")
                    take = min(left, len(self.buf))
                    piece = bytes(self.buf[:take])
                    del self.buf[:take]
                    left -= take
                    yield piece
                if self.read_line() != b"":
                    raise ValueError("chunk not followed by CRLF")
        elif "content-length" in h:
            left = int(h["content-length"])
            while left:
                if not self.buf:
                    if read_delay_s:
                        time.sleep(read_delay_s)
                    if not self._fill(read_size):
                        raise ConnectionClosed(f"closed with {left} body bytes missing")
                take = min(left, len(self.buf))
                piece = bytes(self.buf[:take])
                del self.buf[:take]
                left -= take
                yield piece
        else:  # delimited by close
            while True:
                if self.buf:
                    piece = bytes(self.buf)
                    self.buf.clear()
                    yield piece
                if not self._fill(read_size):
                    return

    def read_response(self, method: str = "POST") -> HTTPResponse:
        resp = self.read_head()
        resp.body = b"".join(self.body_chunks(resp, method))
        return resp

    def wait_closed(self, timeout_s: float = 5) -> bool:
        """True if the peer closes (EOF or reset) within timeout, discarding any data it sends."""
        deadline = time.monotonic() + timeout_s
        old = self.sock.gettimeout()
        try:
            while time.monotonic() < deadline:
                self.sock.settimeout(max(0.01, deadline - time.monotonic()))
                try:
                    data = self.sock.recv(65536)
                except socket.timeout:
                    return False
                except (ConnectionResetError, BrokenPipeError):
                    return True
                if not data:
                    return True
            return False
        finally:
            self.sock.settimeout(old)

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def http_request(base_url: str, method: str, path: str, headers=None, body: bytes | None = None,
                 timeout_s: float = 10) -> HTTPResponse:
    """One request on a fresh connection, full response read."""
    with HTTPConnection(base_url, timeout_s=timeout_s) as c:
        c.request(method, path, headers, body)
        return c.read_response(method)


# --------------------------------------------------------------------------------------
# gRPC-Web calls
# --------------------------------------------------------------------------------------


@dataclass
class GrpcWebResult:
    http_status: int = 0
    headers: dict = field(default_factory=dict)
    header_list: list = field(default_factory=list)
    messages: list = field(default_factory=list)
    arrivals: list = field(default_factory=list)
    raw_offsets: list = field(default_factory=list)  # raw body bytes received when each message was parsed
    trailers: dict = field(default_factory=dict)
    trailer_frames: int = 0
    grpc_status: int | None = None
    grpc_message: str | None = None
    raw_body: bytes = b""  # the HTTP body as received (base64 text in text mode), de-chunked
    body: bytes = b""  # the binary gRPC-Web stream (decoded in text mode)
    complete: bool = False  # body ended cleanly (chunk terminator / length reached)
    error: str | None = None  # set if the connection broke or the body was malformed
    started: float = 0.0
    finished: float = 0.0

    @property
    def elapsed(self) -> float:
        return self.finished - self.started

    @property
    def trailers_only(self) -> bool:
        return "grpc-status" in self.headers and self.trailer_frames == 0


def _metadata_list(metadata) -> list[tuple[str, str]]:
    if metadata is None:
        return []
    items = metadata.items() if isinstance(metadata, dict) else metadata
    out = []
    for k, v in items:
        if isinstance(v, bytes):  # -bin values go out base64 (padded, as browsers do)
            v = base64.b64encode(v).decode("ascii")
        out.append((k, str(v)))
    return out


def grpcweb_headers(*, text: bool = False, accept_text: bool | None = None, metadata=None,
                    content_type: str | None = None, origin: str | None = None,
                    extra: list | None = None) -> list[tuple[str, str]]:
    """The request headers a browser's gRPC-Web client sends."""
    if accept_text is None:
        accept_text = text
    hl = [("Content-Type", content_type or (CT_TEXT if text else CT_BINARY)), ("X-Grpc-Web", "1"),
          ("X-User-Agent", "grpc-web-javascript/0.1")]
    if accept_text:
        hl.append(("Accept", CT_TEXT))
    if origin:
        hl.append(("Origin", origin))
    hl += _metadata_list(metadata)
    hl += list(extra or [])
    return hl


def encode_request_body(messages: list[bytes], text: bool) -> bytes:
    data = b"".join(frame(m) for m in messages)
    return base64.b64encode(data) if text else data


class StreamingCall:
    """A gRPC-Web call whose response the caller reads message by message."""

    def __init__(self, base_url: str, path: str, messages: list[bytes] | None = None, *, text: bool = False,
                 accept_text: bool | None = None, metadata=None, timeout_s: float = 30,
                 body: bytes | list[bytes] | None = None, chunked: bool = False,
                 content_type: str | None = None, origin: str | None = None, extra_headers=None,
                 conn: HTTPConnection | None = None, rcvbuf: int | None = None, read_size: int = 65536,
                 read_delay_s: float = 0, send: bool = True) -> None:
        self.result = GrpcWebResult()
        self.result.started = time.monotonic()
        self.own_conn = conn is None
        self.conn = conn or HTTPConnection(base_url, timeout_s=timeout_s, rcvbuf=rcvbuf)
        self.conn.sock.settimeout(timeout_s)
        self.read_size = read_size
        self.read_delay_s = read_delay_s
        if body is None:
            body = encode_request_body(messages or [], text)
        hl = grpcweb_headers(text=text, accept_text=accept_text, metadata=metadata, content_type=content_type,
                             origin=origin, extra=extra_headers)
        self.send_error: OSError | None = None
        self._sender: threading.Thread | None = None
        if send:
            data = HTTPConnection.build_request("POST", path, hl, body, chunked=chunked)
            if len(data) <= BACKGROUND_SEND_THRESHOLD:
                self.conn.send(data)
            else:
                # A large body is written from a thread: the proxy may answer (and close) before
                # reading all of it, and the response must still be read.
                self._sender = threading.Thread(target=self._send_bg, args=(data,), daemon=True)
                self._sender.start()
        self.text_response = False
        self._pending = b""
        self._b64 = Base64StreamDecoder()
        self._chunks = None
        self._queue: collections.deque = collections.deque()
        self._done = False
        self._raw = []
        self._raw_len = 0
        self._bin = []

    def _send_bg(self, data: bytes) -> None:
        try:
            self.conn.sock.sendall(data)
        except OSError as e:
            self.send_error = e

    def read_headers(self) -> GrpcWebResult:
        if self._chunks is not None:
            return self.result
        r = self.result
        resp = self.conn.read_head()
        r.http_status, r.header_list, r.headers = resp.status, resp.header_list, resp.headers
        ct = r.headers.get("content-type", "")
        self.text_response = ct.split(";")[0].strip().lower().startswith("application/grpc-web-text")
        if "grpc-status" in r.headers:
            r.grpc_status = int(r.headers["grpc-status"])
            r.grpc_message = percent_decode(r.headers.get("grpc-message"))
        self._chunks = self.conn.body_chunks(resp, "POST", self.read_size, self.read_delay_s)
        return r

    def next_message(self) -> bytes | None:
        """The next data message, or None once the body ended (trailers are then in ``result``)."""
        self.read_headers()
        r = self.result
        while True:
            if self._queue:
                return self._queue.popleft()
            if self._done:
                return None
            try:
                piece = next(self._chunks)
            except StopIteration:
                self._finish(clean=True)
                continue
            except (ConnectionClosed, OSError, ValueError) as e:
                r.error = f"{type(e).__name__}: {e}"
                self._finish(clean=False)
                continue
            self._raw.append(piece)
            self._raw_len += len(piece)
            if self.text_response:
                try:
                    piece = self._b64.feed(piece)
                except (binascii.Error, ValueError) as e:
                    r.error = f"bad base64 in response: {e}"
                    self._finish(clean=False)
                    continue
            self._bin.append(piece)
            frames, self._pending = parse_frames(self._pending + piece)
            now = time.monotonic()  # every frame completed by this read arrived now
            for flags, payload in frames:
                if flags & 0x80:
                    self._handle_trailers(flags, payload)
                else:
                    if r.trailer_frames and r.error is None:
                        r.error = "data frame after the trailer frame"
                    r.messages.append(payload)
                    r.arrivals.append(now)
                    r.raw_offsets.append(self._raw_len)
                    self._queue.append(payload)

    def _handle_trailers(self, flags: int, payload: bytes) -> None:
        r = self.result
        r.trailer_frames += 1
        r.trailers.update(parse_trailer_block(payload))
        if "grpc-status" in r.trailers:
            r.grpc_status = int(r.trailers["grpc-status"])
            r.grpc_message = percent_decode(r.trailers.get("grpc-message"))

    def _finish(self, clean: bool) -> None:
        r = self.result
        r.finished = time.monotonic()
        r.raw_body = b"".join(self._raw)
        r.body = b"".join(self._bin)
        r.complete = clean
        if clean and self._pending and r.error is None:
            r.error = f"{len(self._pending)} bytes of an incomplete frame at end of body"
        if clean and self.text_response and r.error is None:
            try:
                self._b64.finish()
            except binascii.Error as e:
                r.error = str(e)
        self._chunks = iter(())
        self._pending = b""
        self._done = True

    def read_all(self) -> GrpcWebResult:
        while self.next_message() is not None:
            pass
        return self.result

    def close(self) -> None:
        """Abort: close the socket (what a browser does when the page cancels the call)."""
        self.conn.close()
        if self._sender is not None:
            self._sender.join(5)


def read_call(conn: HTTPConnection, timeout_s: float = 30) -> GrpcWebResult:
    """Reads one gRPC-Web response from ``conn`` for a request the caller already sent (pipelining)."""
    c = StreamingCall("", "", conn=conn, timeout_s=timeout_s, send=False)
    c.read_headers()
    return c.read_all()


def open_call(base_url: str, path: str, messages: list[bytes] | None = None, **kw) -> StreamingCall:
    call_ = StreamingCall(base_url, path, messages, **kw)
    call_.read_headers()
    return call_


def call(base_url: str, path: str, messages: list[bytes] | None = None, *, text: bool = False,
         accept_text: bool | None = None, metadata=None, timeout_s: float = 30, read_delay_s: float = 0,
         conn: HTTPConnection | None = None, **kw) -> GrpcWebResult:
    """One gRPC-Web call, fully read.

    ``text``: base64 request body (and, unless ``accept_text`` says otherwise, ask for a text
    response). ``metadata``: dict or list of pairs; bytes values are base64-encoded (for -bin keys).
    ``conn``: reuse a keep-alive connection. Extra keywords go to ``StreamingCall`` (body, chunked,
    content_type, origin, extra_headers, rcvbuf, read_size).
    """
    c = StreamingCall(base_url, path, messages, text=text, accept_text=accept_text, metadata=metadata,
                      timeout_s=timeout_s, read_delay_s=read_delay_s, conn=conn, **kw)
    try:
        c.read_headers()
        return c.read_all()
    finally:
        if conn is None:
            c.close()
