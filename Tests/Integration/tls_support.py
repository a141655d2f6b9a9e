"""Helpers for the downstream (browser-facing) TLS tests: the test PKI, a proxy whose listener speaks HTTPS,
and real TLS clients (Python ssl over the raw HTTP/1.1 client, ssl.MemoryBIO for byte-level control, curl and
openssl s_client).

* ``pki`` (session fixture): ``tls_certs.make_test_pki`` in the session's work directory.
* ``start_tls_proxy(start_proxy, pki, **tls)``: the default test proxy with ``listeners[0].tls`` set.
* ``TLSHTTPConnection`` / ``tls_call``: gRPC-Web calls over a verified TLS connection.
* ``MemoryBIOSocket``: a TLS client whose records the test writes itself (split ClientHello, stalls).
* ``curl_grpcweb``, ``s_client``: the command-line clients, with parsing of what they print.
"""

from __future__ import annotations

import hashlib
import os
import re
import socket
import ssl
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from grpcweb_client import Base64StreamDecoder, HTTPConnection, call, encode_request_body, parse_frames, \
    parse_trailer_block
from tls_certs import CertPair, make_test_pki

HANDSHAKES = "grpcwebproxy_downstream_tls_handshakes_total"
HANDSHAKE_FAILURES = "grpcwebproxy_downstream_tls_handshake_failures_total"
HANDSHAKE_TIMEOUTS = "grpcwebproxy_downstream_tls_handshake_timeouts_total"
PLAINTEXT_REJECTED = "grpcwebproxy_downstream_tls_plaintext_rejected_total"

UNARY = "/test.Echo/Unary"
STREAM = "/test.Echo/ServerStream"


@pytest.fixture(scope="session")
def pki(itest_workdir):
    return make_test_pki(itest_workdir / "pki")


# --------------------------------------------------------------------------------------
# The proxy with a TLS listener
# --------------------------------------------------------------------------------------


def tls_section(pki, cert: CertPair | None = None, **extra) -> dict:
    """``listeners[].tls`` with ``cert``/``key`` (default: the localhost certificate) plus ``extra`` keys.
    CertPair values in ``extra["certificates"]`` become ``{cert, key}`` mappings."""
    pair = cert or pki.server
    section = {"cert": str(pair.cert), "key": str(pair.key)}
    for k, v in extra.items():
        if k == "certificates":
            v = [{"cert": str(c.cert), "key": str(c.key)} for c in v]
        elif isinstance(v, Path):
            v = str(v)
        section[k] = v
    return section


def start_tls_proxy(start_proxy, pki, cert: CertPair | None = None, listener_extra: dict | None = None, **tls):
    """The default test proxy (grpcio upstream behind it) with its listener on HTTPS."""
    extra = dict(listener_extra or {})
    extra["tls"] = tls_section(pki, cert, **tls)
    return start_proxy(listener_extra=extra)


# --------------------------------------------------------------------------------------
# Python TLS clients
# --------------------------------------------------------------------------------------


def client_context(pki, client_cert: CertPair | None = None, ca: Path | None = None) -> ssl.SSLContext:
    """A verifying client context that trusts the test CA (or ``ca``)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile=str(ca or pki.ca.cert))
    if client_cert is not None:
        ctx.load_cert_chain(str(client_cert.cert), str(client_cert.key))
    return ctx


class TLSHTTPConnection(HTTPConnection):
    """``HTTPConnection`` over a verified TLS socket (handshake done in the constructor)."""

    def __init__(self, port: int, ctx: ssl.SSLContext, server_hostname: str | None = "localhost",
                 timeout_s: float = 10) -> None:
        super().__init__("127.0.0.1", port, timeout_s=timeout_s)
        self.sock = ctx.wrap_socket(self.sock, server_hostname=server_hostname)

    def peer_cert_der(self) -> bytes:
        return self.sock.getpeercert(binary_form=True)


def tls_call(proxy, pki, path: str = UNARY, messages=None, *, client_cert: CertPair | None = None,
             conn: HTTPConnection | None = None, **kw):
    """One gRPC-Web call over TLS (on ``conn`` if given, else on a fresh connection closed afterwards)."""
    if conn is not None:
        return call("", path, messages, conn=conn, **kw)
    with TLSHTTPConnection(proxy.port, client_context(pki, client_cert)) as c:
        return call("", path, messages, conn=c, **kw)


def assert_call_ok(r, messages=None) -> None:
    assert r.error is None, r.error
    assert r.http_status == 200, (r.http_status, r.headers)
    assert r.grpc_status == 0, (r.grpc_status, r.grpc_message)
    if messages is not None:
        assert r.messages == messages


class MemoryBIOSocket:
    """A TLS client driven through ``ssl.MemoryBIO``: the test sees every record before it goes out and decides
    how to write it. Also socket-like (``recv``/``sendall``/``settimeout``), so it can stand in for
    ``HTTPConnection.sock`` once the handshake is done."""

    def __init__(self, raw: socket.socket, ctx: ssl.SSLContext, server_hostname: str | None = "localhost") -> None:
        self.raw = raw
        self.incoming = ssl.MemoryBIO()
        self.outgoing = ssl.MemoryBIO()
        self.tls = ctx.wrap_bio(self.incoming, self.outgoing, server_hostname=server_hostname)

    def client_hello(self) -> bytes:
        """The first flight (the ClientHello record), produced without sending anything."""
        try:
            self.tls.do_handshake()
        except ssl.SSLWantReadError:
            pass
        return self.outgoing.read()

    def _flush(self) -> None:
        data = self.outgoing.read()
        if data:
            self.raw.sendall(data)

    def _pull(self) -> bool:
        try:
            data = self.raw.recv(65536)
        except ConnectionResetError:
            data = b""
        if not data:
            self.incoming.write_eof()
            return False
        self.incoming.write(data)
        return True

    def finish_handshake(self) -> None:
        """Completes the handshake after the caller has sent ``client_hello()`` itself."""
        self.outgoing.read()  # already sent by the caller, however it chose to
        while True:
            try:
                self.tls.do_handshake()
                self._flush()
                return
            except ssl.SSLWantReadError:
                self._flush()
                if not self._pull():
                    raise ConnectionError("closed by the server during the handshake")

    def peer_cert_der(self) -> bytes:
        return self.tls.getpeercert(binary_form=True)

    # -- the socket interface HTTPConnection uses --------------------------------------

    def sendall(self, data: bytes) -> None:
        self.tls.write(data)
        self._flush()

    def recv(self, n: int) -> bytes:
        while True:
            try:
                return self.tls.read(n)
            except ssl.SSLWantReadError:
                self._flush()
                if not self._pull():
                    return b""
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                return b""

    def settimeout(self, t) -> None:
        self.raw.settimeout(t)

    def gettimeout(self):
        return self.raw.gettimeout()

    def close(self) -> None:
        self.raw.close()


def capture_client_hello(pki, server_hostname: str | None = "localhost") -> bytes:
    """A real ClientHello (Python's OpenSSL, TLS 1.2-1.3, SNI) as bytes, for replaying on many sockets."""
    ctx = client_context(pki)
    return MemoryBIOSocket(socket.socket(), ctx, server_hostname).client_hello()


# --------------------------------------------------------------------------------------
# curl
# --------------------------------------------------------------------------------------


@dataclass
class CurlResult:
    returncode: int
    stderr: str
    status_line: str = ""
    headers: dict = field(default_factory=dict)
    messages: list = field(default_factory=list)
    arrivals: list = field(default_factory=list)  # monotonic time each data message was parsed
    trailers: dict = field(default_factory=dict)
    started: float = 0.0
    finished: float = 0.0  # when curl's output ended


def curl_grpcweb(port: int, pki, path: str, messages: list[bytes], *, metadata: dict | None = None,
                 text: bool = False, client_cert: CertPair | None = None, host: str = "localhost",
                 extra_args=(), timeout_s: float = 20, workdir: Path, http: str = "--http1.1") -> CurlResult:
    """``curl --http1.1`` over HTTPS (trusting only the test CA), one gRPC-Web call. curl's stdout is read as it
    arrives (``-N``: curl writes each piece as soon as it has it), so ``arrivals`` show streaming.
    ``http`` is curl's protocol switch (``--http2``, ``--http2-prior-knowledge``); ``pki=None`` means cleartext
    ``http://``."""
    header_file = workdir / f"curl-headers-{time.monotonic_ns()}.txt"
    scheme = "http" if pki is None else "https"
    trust = [] if pki is None else ["--cacert", str(pki.ca.cert)]
    args = ["curl", http, "-sS", "-N", *trust,
            "--resolve", f"{host}:{port}:127.0.0.1", "--max-time", str(timeout_s),
            "-X", "POST", "-D", str(header_file), "--data-binary", "@-", "-o", "-",
            "-H", "Content-Type: " + ("application/grpc-web-text" if text else "application/grpc-web+proto"),
            "-H", "X-Grpc-Web: 1"]
    if text:
        args += ["-H", "Accept: application/grpc-web-text"]
    for k, v in (metadata or {}).items():
        args += ["-H", f"{k}: {v}"]
    if client_cert is not None:
        args += ["--cert", str(client_cert.cert), "--key", str(client_cert.key)]
    args += list(extra_args) + [f"{scheme}://{host}:{port}{path}"]

    result = CurlResult(returncode=-1, stderr="", started=time.monotonic())
    proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdin.write(encode_request_body(messages, text))
    proc.stdin.close()
    pending = b""
    decoder = Base64StreamDecoder()
    out_fd = proc.stdout.fileno()
    while True:
        chunk = os.read(out_fd, 65536)
        if not chunk:
            break
        if text:
            chunk = decoder.feed(chunk)
        frames, pending = parse_frames(pending + chunk)
        now = time.monotonic()
        for flags, payload in frames:
            if flags & 0x80:
                result.trailers.update(parse_trailer_block(payload))
            else:
                result.messages.append(payload)
                result.arrivals.append(now)
    result.finished = time.monotonic()
    result.returncode = proc.wait(timeout_s)
    result.stderr = proc.stderr.read().decode(errors="replace")
    proc.stdout.close()
    proc.stderr.close()
    if header_file.exists():
        lines = header_file.read_text(errors="replace").splitlines()
        result.status_line = lines[0] if lines else ""
        for line in lines[1:]:
            k, sep, v = line.partition(":")
            if sep:
                result.headers[k.strip().lower()] = v.strip()
        header_file.unlink()
    assert not pending, f"{len(pending)} bytes of an incomplete frame at the end of curl's output"
    return result


# --------------------------------------------------------------------------------------
# openssl s_client
# --------------------------------------------------------------------------------------

PEM_CERT = re.compile(r"-----BEGIN CERTIFICATE-----\n.*?-----END CERTIFICATE-----\n?", re.S)


def s_client(port: int, *args: str, ca: Path | None = None, stdin: bytes = b"", timeout_s: float = 15) -> str:
    """``openssl s_client`` against the proxy; returns stdout + stderr (the handshake summary and any error).
    stdin at EOF makes s_client close as soon as the handshake is over (and the request in ``stdin`` sent)."""
    cmd = ["openssl", "s_client", "-connect", f"127.0.0.1:{port}"]
    if ca is not None:
        cmd += ["-CAfile", str(ca)]
    cmd += list(args)
    r = subprocess.run(cmd, input=stdin, capture_output=True, timeout=timeout_s)
    return r.stdout.decode(errors="replace") + r.stderr.decode(errors="replace")


def served_cert_der(s_client_output: str) -> bytes | None:
    """The server's leaf certificate as s_client printed it (the first PEM block), in DER."""
    m = PEM_CERT.search(s_client_output)
    return ssl.PEM_cert_to_DER_cert(m.group(0)) if m else None


def handshake_done(s_client_output: str) -> bool:
    return re.search(r"^New, TLSv1\.[23], Cipher is ", s_client_output, re.M) is not None


def cert_der(path: Path) -> bytes:
    """DER of the first certificate of a PEM file."""
    m = PEM_CERT.search(Path(path).read_text())
    assert m, f"no certificate in {path}"
    return ssl.PEM_cert_to_DER_cert(m.group(0))


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------------------
# Observing the proxy
# --------------------------------------------------------------------------------------


def wait_metric(proxy, name: str, at_least: int, timeout_s: float = 5) -> int:
    """Polls /metrics until ``name`` reaches ``at_least``; returns the last value seen."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = proxy.metric(name)
        if value >= at_least or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def settled_fds(pid: int, timeout_s: float = 5) -> int:
    """The fd count once it stops changing (two equal readings 200 ms apart)."""
    deadline = time.monotonic() + timeout_s
    last = open_fds(pid)
    while time.monotonic() < deadline:
        time.sleep(0.2)
        now = open_fds(pid)
        if now == last:
            return now
        last = now
    return last


def wait_log_count(proxy, pattern: str, count: int, timeout_s: float = 5) -> int:
    """Waits until ``pattern`` matches at least ``count`` times in the proxy's log; returns the matches seen."""
    rx = re.compile(pattern)
    deadline = time.monotonic() + timeout_s
    while True:
        n = len(rx.findall(proxy.log_text()))
        if n >= count or time.monotonic() > deadline:
            return n
        time.sleep(0.05)
