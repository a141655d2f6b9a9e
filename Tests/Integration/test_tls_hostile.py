"""Issue 10, hostile clients on a TLS listener: plain HTTP and garbage bytes, a ClientHello written one byte at a
time, clients that stall mid-handshake (dropped at handshake_timeout while others are served), and a thousand
handshakes started and abandoned, twice (descriptors and memory come back). Failures are counted in /metrics."""

from __future__ import annotations

import select
import socket
import ssl
import struct
import time

import pytest

from conftest import SANITIZER_RSS_SLACK_MIB
from grpcweb_client import HTTPConnection, call
from tls_support import HANDSHAKE_FAILURES, HANDSHAKE_TIMEOUTS, HANDSHAKES, PLAINTEXT_REJECTED, UNARY, \
    MemoryBIOSocket, TLSHTTPConnection, assert_call_ok, capture_client_hello, cert_der, client_context, \
    settled_fds, start_tls_proxy, tls_call, open_fds, wait_metric
from tls_support import pki  # noqa: F401  (session fixture: pytest finds fixtures among a test module's names)


def read_until_closed(sock: socket.socket, timeout_s: float = 5) -> tuple[bytes, bool]:
    """Everything the peer sends until it closes; (data, closed within the timeout)."""
    deadline = time.monotonic() + timeout_s
    data = b""
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            piece = sock.recv(65536)
        except socket.timeout:
            return data, False
        except ConnectionResetError:
            return data, True
        if not piece:
            return data, True
        data += piece
    return data, False


def reset_on_close(sock: socket.socket) -> None:
    """close() then sends RST instead of FIN (SO_LINGER with a zero timeout)."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def wait_for_server_flight(socks: list[socket.socket], timeout_s: float = 5) -> list[socket.socket]:
    """Waits until each socket has bytes from the server (its answer to our ClientHello), leaving them unread;
    returns the sockets still without an answer at the deadline."""
    waiting = {s.fileno(): s for s in socks}
    poller = select.poll()  # not select(): the test holds hundreds of sockets, fds may pass FD_SETSIZE
    for fd in waiting:
        poller.register(fd, select.POLLIN)
    deadline = time.monotonic() + timeout_s
    while waiting and time.monotonic() < deadline:
        for fd, _ in poller.poll(max(0.0, deadline - time.monotonic()) * 1000):
            poller.unregister(fd)
            waiting.pop(fd, None)
    return list(waiting.values())


# --------------------------------------------------------------------------------------
# Not TLS at all
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("method, path, headers, body", [
    ("GET", "/", [], None),
    ("POST", UNARY, [("Content-Type", "application/grpc-web+proto"), ("X-Grpc-Web", "1")], b"\0\0\0\0\0"),
], ids=["GET", "grpc-web-POST"])
def test_plain_http_gets_400_this_port_speaks_https(start_proxy, pki, method, path, headers, body):
    proxy = start_tls_proxy(start_proxy, pki)
    rejected, failures = proxy.metric(PLAINTEXT_REJECTED), proxy.metric(HANDSHAKE_FAILURES)
    with HTTPConnection("127.0.0.1", proxy.port, timeout_s=5) as c:
        c.request(method, path, headers, body, host=f"localhost:{proxy.port}")
        resp = c.read_response(method)
        assert resp.version == "HTTP/1.1" and resp.status == 400, (resp.status, resp.header_list)
        assert resp.header("connection").lower() == "close", resp.header_list
        assert b"this port speaks HTTPS" in resp.body, resp.body
        assert c.wait_closed(5), "the connection stayed open after the 400"
    assert wait_metric(proxy, PLAINTEXT_REJECTED, rejected + 1) == rejected + 1
    assert wait_metric(proxy, HANDSHAKE_FAILURES, failures + 1) >= failures + 1
    assert_call_ok(tls_call(proxy, pki, UNARY, [b"after"]), [b"after"])


@pytest.mark.parametrize("garbage", [
    b"\x00\x01\x02\x03 garbage \xfe\xff",
    b"\xff" * 64,
    b"12345\r\n\r\n",
    b"\r\n\r\n",
], ids=["binary", "all-ones", "digits", "crlf"])
def test_non_tls_bytes_are_closed_without_answer(start_proxy, pki, garbage):
    proxy = start_tls_proxy(start_proxy, pki)
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as s:
        s.sendall(garbage)
        data, closed = read_until_closed(s)
    assert closed, "garbage on the TLS port left the connection open"
    assert data == b"", f"the proxy answered garbage with {data[:80]!r}"
    assert_call_ok(tls_call(proxy, pki, UNARY, [b"after"]), [b"after"])


def test_garbage_inside_a_tls_record_fails_the_handshake(start_proxy, pki):
    """A handshake record header followed by nonsense: closed, at most a TLS alert sent, counted as a failure."""
    proxy = start_tls_proxy(start_proxy, pki)
    failures, handshakes = proxy.metric(HANDSHAKE_FAILURES), proxy.metric(HANDSHAKES)
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as s:
        s.sendall(b"\x16\x03\x01\x00\x20" + bytes(range(0x40, 0x60)))
        data, closed = read_until_closed(s)
    assert closed, "bad TLS record left the connection open"
    assert data == b"" or data[0] == 0x15, f"expected nothing or a TLS alert record, got {data[:40]!r}"
    assert wait_metric(proxy, HANDSHAKE_FAILURES, failures + 1) >= failures + 1
    assert proxy.metric(HANDSHAKES) == handshakes


def test_client_refusing_the_certificate_counts_as_failure(start_proxy, pki):
    """A browser that does not trust the certificate aborts with an alert: a failed handshake in /metrics."""
    proxy = start_tls_proxy(start_proxy, pki)
    failures = proxy.metric(HANDSHAKE_FAILURES)
    with pytest.raises(ssl.SSLCertVerificationError):
        TLSHTTPConnection(proxy.port, client_context(pki, ca=pki.other_ca.cert))
    assert wait_metric(proxy, HANDSHAKE_FAILURES, failures + 1) >= failures + 1


# --------------------------------------------------------------------------------------
# Byte-level handshakes
# --------------------------------------------------------------------------------------


def test_client_hello_in_one_byte_writes(start_proxy, pki):
    proxy = start_tls_proxy(start_proxy, pki)
    handshakes = proxy.metric(HANDSHAKES)
    conn = HTTPConnection("127.0.0.1", proxy.port, timeout_s=10)
    bio = MemoryBIOSocket(conn.sock, client_context(pki))
    hello = bio.client_hello()
    assert hello[0] == 0x16 and len(hello) > 200, hello[:16]
    for i in range(len(hello)):
        conn.sock.send(hello[i:i + 1])  # TCP_NODELAY is set: one segment per byte
    bio.finish_handshake()
    assert bio.peer_cert_der() == cert_der(pki.server.cert)
    conn.sock = bio
    with conn:
        assert_call_ok(call("", UNARY, [b"split hello"], conn=conn), [b"split hello"])
    assert wait_metric(proxy, HANDSHAKES, handshakes + 1) >= handshakes + 1


@pytest.mark.timeout(30)
def test_stalled_handshakes_dropped_at_timeout_while_others_are_served(start_proxy, pki):
    proxy = start_tls_proxy(start_proxy, pki, handshake_timeout="1s")
    timeouts, failures = proxy.metric(HANDSHAKE_TIMEOUTS), proxy.metric(HANDSHAKE_FAILURES)
    hello = capture_client_hello(pki)
    stalled: dict[socket.socket, tuple[str, float]] = {}
    for kind in ("silent", "half-hello", "hello-only") * 2:
        s = socket.create_connection(("127.0.0.1", proxy.port), timeout=5)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if kind == "half-hello":
            s.sendall(hello[:len(hello) // 2])
        elif kind == "hello-only":
            s.sendall(hello)  # the proxy answers with its flight and waits for ours, which never comes
        stalled[s] = (kind, time.monotonic())

    closed_after: dict[str, list[float]] = {}
    served: list[float] = []  # durations of the calls made while stalled clients were open
    deadline = time.monotonic() + 6
    try:
        while stalled and time.monotonic() < deadline:
            t = time.monotonic()
            assert_call_ok(tls_call(proxy, pki, UNARY, [b"meanwhile"], timeout_s=5), [b"meanwhile"])
            served.append(time.monotonic() - t)
            readable, _, _ = select.select(list(stalled), [], [], 0.05)
            for s in readable:
                try:
                    if s.recv(65536):
                        continue  # the server's flight to a hello-only client
                except ConnectionResetError:
                    pass
                kind, opened = stalled.pop(s)
                closed_after.setdefault(kind, []).append(time.monotonic() - opened)
                s.close()
    finally:
        for s in stalled:
            s.close()
    assert not stalled, f"still open after 6 s with handshake_timeout 1s: {[k for k, _ in stalled.values()]}"
    for kind, times in closed_after.items():
        assert all(0.9 <= t <= 3.0 for t in times), f"{kind} clients closed after {times}, timeout is 1 s"
    assert len(served) >= 5, f"only {len(served)} calls served while the handshakes stalled"
    assert max(served) < 1.0, f"calls were held up by stalled handshakes: {served}"
    assert wait_metric(proxy, HANDSHAKE_TIMEOUTS, timeouts + 6) == timeouts + 6
    assert wait_metric(proxy, HANDSHAKE_FAILURES, failures + 6) >= failures + 6


def abandon_handshakes(proxy, hello: bytes, count: int = 1000) -> tuple[list[socket.socket], int]:
    """``count`` connections send ``hello`` (100 at a time, each batch answered by the proxy before the next) and
    are abandoned: a third close (FIN), a third reset, a third go silent (returned, still open). Also returns the
    highest fd count of the proxy seen meanwhile."""
    silent: list[socket.socket] = []
    peak = 0
    for batch in range(count // 100):
        group = [socket.create_connection(("127.0.0.1", proxy.port), timeout=5) for _ in range(100)]
        for s in group:
            s.sendall(hello)
        unanswered = wait_for_server_flight(group)
        assert not unanswered, f"batch {batch}: {len(unanswered)} ClientHellos got no answer within 5 s"
        peak = max(peak, open_fds(proxy.pid))
        for i, s in enumerate(group):
            if i % 3 == 0:
                s.shutdown(socket.SHUT_WR)
                s.close()
            elif i % 3 == 1:
                reset_on_close(s)
                s.close()
            else:
                silent.append(s)
    return silent, peak


def wait_fds_at_most(pid: int, limit: int, timeout_s: float) -> int:
    deadline = time.monotonic() + timeout_s
    while open_fds(pid) > limit and time.monotonic() < deadline:
        time.sleep(0.1)
    return open_fds(pid)


@pytest.mark.timeout(30)
def test_thousand_abandoned_handshakes_free_everything(start_proxy, pki):
    """Twice 1,000 connections send a ClientHello and go away (closed, reset, or silent until handshake_timeout
    while the client still holds them). Each time the fd count returns to its baseline, every handshake counts as
    failed, and the proxy keeps serving; the second round does not grow RSS (the first may, as the allocator keeps
    what it once held)."""
    proxy = start_tls_proxy(start_proxy, pki, handshake_timeout="1s")
    assert_call_ok(tls_call(proxy, pki, UNARY, [b"warm-up"]), [b"warm-up"])  # upstream connection opened
    baseline = settled_fds(proxy.pid)
    hello = capture_client_hello(pki)
    rss_after_round = []
    for round_ in range(2):
        timeouts, failures = proxy.metric(HANDSHAKE_TIMEOUTS), proxy.metric(HANDSHAKE_FAILURES)
        handshakes = proxy.metric(HANDSHAKES)
        silent, peak = abandon_handshakes(proxy, hello)
        try:
            assert peak >= baseline + 100, f"the proxy never held a batch of handshakes (fds {baseline} -> {peak})"
            left = wait_fds_at_most(proxy.pid, baseline, 10)
            assert left <= baseline, f"round {round_}: {left - baseline} descriptors still open 10 s after the " \
                                     f"flood (baseline {baseline}, peak {peak})"
        finally:
            for s in silent:
                s.close()
        assert wait_metric(proxy, HANDSHAKE_TIMEOUTS, timeouts + len(silent)) == timeouts + len(silent)
        assert wait_metric(proxy, HANDSHAKE_FAILURES, failures + 1000) == failures + 1000
        assert proxy.metric(HANDSHAKES) == handshakes
        assert_call_ok(tls_call(proxy, pki, UNARY, [b"after the flood"]), [b"after the flood"])
        rss_after_round.append(proxy.rss_kib())
    grown_mib = (rss_after_round[1] - rss_after_round[0]) / 1024
    assert grown_mib < 4 + SANITIZER_RSS_SLACK_MIB, \
        f"RSS grew {grown_mib:.1f} MiB over the second 1,000 abandoned handshakes: something is not freed"
