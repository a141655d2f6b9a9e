"""Just enough gRPC-Web (over HTTP/1.1) to build the benchmark's requests and check replies.

The hot loops use wrk, h2load and the C++ stream_sink; this module serves the sanity check, the
idle-connection scenario and the request files handed to those tools.
"""
import re
import socket
import struct

ECHO_PATH = "/bench.Bench/Echo"
STREAM_PATH = "/bench.Bench/Stream"
CHAT_PATH = "/bench.Bench/Chat"

# bench.Blob{data: 14 bytes} is 16 bytes on the wire: the "16-byte message" of the scenarios.
ECHO_MESSAGE = b"\x0a\x0e" + b"0123456789abcd"


def frame(message: bytes, flags: int = 0) -> bytes:
    return struct.pack(">BI", flags, len(message)) + message


def varint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def stream_request(total_bytes: int, message_bytes: int) -> bytes:
    """bench.StreamRequest{total_bytes, message_bytes}."""
    return b"\x08" + varint(total_bytes) + b"\x10" + varint(message_bytes)


def unary_http_request(port: int, bearer: str | None = None) -> bytes:
    body = frame(ECHO_MESSAGE)
    authorization = f"Authorization: Bearer {bearer}\r\n" if bearer else ""
    return (f"POST {ECHO_PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            "Content-Type: application/grpc-web+proto\r\nX-Grpc-Web: 1\r\n"
            f"Origin: http://bench.example\r\n{authorization}"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


_STATUS = re.compile(rb"grpc-status:\s*(\d+)", re.IGNORECASE)


class ResponseReader:
    """Incremental HTTP/1.1 response reader: feed bytes until `done`, then read the verdict."""

    def __init__(self):
        self.buffer = bytearray()
        self.done = False
        self.http_status = 0
        self.grpc_status: int | None = None

    def feed(self, data: bytes) -> None:
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self.buffer[:end]).decode("latin-1")
        body = bytes(self.buffer[end + 4:])
        lines = head.split("\r\n")
        self.http_status = int(lines[0].split()[1])
        fields = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            fields[name.strip().lower()] = value.strip()
        if fields.get("transfer-encoding", "").lower() == "chunked":
            decoded = _dechunk(body)
            if decoded is None:
                return
        else:
            length = int(fields.get("content-length", "0"))
            if len(body) < length:
                return
            decoded = body[:length]
        self.done = True
        match = _STATUS.search(_trailer_block(decoded))
        if match is None and "grpc-status" in fields:
            self.grpc_status = int(fields["grpc-status"])
        elif match is not None:
            self.grpc_status = int(match.group(1))

    @property
    def ok(self) -> bool:
        return self.done and self.http_status == 200 and self.grpc_status == 0


def _dechunk(body: bytes) -> bytes | None:
    """The de-chunked body, or None while the final zero-size chunk has not arrived."""
    out = bytearray()
    at = 0
    while True:
        line_end = body.find(b"\r\n", at)
        if line_end < 0:
            return None
        size = int(body[at:line_end].split(b";")[0], 16)
        at = line_end + 2
        if size == 0:
            return bytes(out) if body.find(b"\r\n", at) >= 0 else None
        if len(body) < at + size + 2:
            return None
        out += body[at:at + size]
        at += size + 2


def _trailer_block(body: bytes) -> bytes:
    """The header block of the 0x80 trailer frame, walking the frames from the start."""
    at = 0
    while at + 5 <= len(body):
        flags, length = struct.unpack(">BI", body[at:at + 5])
        if flags & 0x80:
            return body[at + 5:at + 5 + length]
        at += 5 + length
    return b""


def trailer_fields(body: bytes) -> dict[str, str]:
    """The fields of a gRPC-Web body's trailer frame, names lowercased ({} without one)."""
    fields = {}
    for line in _trailer_block(body).decode("latin-1").split("\r\n"):
        name, colon, value = line.partition(":")
        if colon:
            fields[name.strip().lower()] = value.strip()
    return fields


def sanity_check(port: int, tls_context=None, timeout: float = 5.0, bearer: str | None = None) -> None:
    """One unary call through a proxy (over TLS with an ssl.SSLContext); raises unless it answers
    200 with grpc-status 0."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    if tls_context:
        s = tls_context.wrap_socket(s, server_hostname="localhost")  # takes over the socket
    with s:
        s.sendall(unary_http_request(port, bearer))
        reader = ResponseReader()
        while not reader.done:
            data = s.recv(65536)
            if not data:
                break
            reader.feed(data)
    if not reader.ok:
        raise RuntimeError(f"HTTP {reader.http_status}, grpc-status {reader.grpc_status}, "
                           f"{len(reader.buffer)} bytes: {bytes(reader.buffer[:300])!r}")
