"""Issue 9, defect 5: the admin endpoint at the edge. Pipelined requests from a client that never reads must not
grow memory; admin sockets follow limits.header_read_timeout / limits.idle_timeout, are counted and capped
(admin.max_connections); the endpoint runs on its own thread; HEAD answers without a body; `--probe` lets an exec
probe check a loopback-only endpoint."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import time
from pathlib import Path

import pytest

from conftest import require_proxy_bin

REQUEST = b"GET /metrics HTTP/1.1\r\nHost: admin\r\n\r\n"


def connect(port: int, timeout_s: float = 5) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout_s)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def closed_within(s: socket.socket, timeout_s: float) -> tuple[bool, bytes]:
    """Reads until EOF or `timeout_s`; returns (closed by the peer, bytes received)."""
    deadline = time.monotonic() + timeout_s
    data = b""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return False, data
        s.settimeout(left)
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            return False, data
        except ConnectionResetError:
            return True, data
        if not chunk:
            return True, data
        data += chunk


def read_head(s: socket.socket, buffered: bytes = b"") -> tuple[bytes, bytes]:
    """One response head (through the blank line) and whatever followed it."""
    data = buffered
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        assert chunk, f"connection closed inside a response head: {data!r}"
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest


def content_length(head: bytes) -> int:
    m = re.search(rb"(?im)^content-length:\s*(\d+)\s*$", head)
    assert m, head
    return int(m.group(1))


def metric(text: str, name: str) -> int:
    m = re.search(rf"(?m)^{name} (\d+)$", text)
    assert m, f"{name} missing from /metrics:\n{text}"
    return int(m.group(1))


@pytest.mark.timeout(60)
def test_pipelined_metrics_from_a_client_that_never_reads_stay_bounded(start_proxy):
    p = start_proxy(log_level="info")
    base = p.rss_kib()
    s = connect(p.admin_port)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.setblocking(False)
    burst = REQUEST * 2000
    sent = 0
    peak = base
    deadline = time.monotonic() + 4
    while time.monotonic() < deadline:
        try:
            sent += s.send(burst)
        except BlockingIOError:
            time.sleep(0.01)
        except OSError:
            break
        peak = max(peak, p.rss_kib())
        if peak - base > 512 * 1024:
            break  # enough to know; spare the machine the rest
    growth_mib = (p.rss_kib() - base) / 1024
    peak_mib = (peak - base) / 1024
    # While one client floods, the endpoint still answers others.
    assert p.ready_status(timeout_s=3) == 200
    s.close()
    print(f"admin flood: {sent // len(REQUEST)} requests sent, RSS peak +{peak_mib:.1f} MiB, end +{growth_mib:.1f} MiB")
    assert p.alive()
    assert peak_mib < 48, (f"RSS grew by {peak_mib:.0f} MiB (now {growth_mib:.0f} MiB) while {sent // len(REQUEST)} "
                           "pipelined GET /metrics were sent and none read")


def test_head_answers_without_a_body(proxy):
    s = connect(proxy.admin_port)
    s.sendall(b"HEAD /metrics HTTP/1.1\r\nHost: a\r\n\r\nGET /ready HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    head, rest = read_head(s)
    assert head.startswith(b"HTTP/1.1 200"), head
    assert content_length(head) > 0, "HEAD keeps the Content-Length a GET would have"
    _, data = closed_within(s, 5)
    data = rest + data
    # The next bytes after the HEAD answer's head are the next response, not a body.
    assert data.startswith(b"HTTP/1.1 200"), data[:200]
    head2, body2 = data.split(b"\r\n\r\n", 1)
    assert body2 == b"ready\n", (head2, body2)
    s.close()


def test_admin_head_must_arrive_within_header_read_timeout(start_proxy):
    p = start_proxy(top_extra={"limits": {"header_read_timeout": "1s", "idle_timeout": "60s"}})
    s = connect(p.admin_port)
    s.sendall(b"GET /metrics HTTP/1.1\r\nHost: a\r\n")  # the blank line never comes
    t0 = time.monotonic()
    closed, data = closed_within(s, 6)
    took = time.monotonic() - t0
    assert closed, "an admin connection with an unfinished head stayed open"
    assert data.startswith(b"HTTP/1.1 408"), data[:200]
    assert 0.8 <= took <= 3, f"closed after {took:.2f}s (header_read_timeout 1s)"


def test_idle_admin_connection_is_closed_after_idle_timeout(start_proxy):
    p = start_proxy(top_extra={"limits": {"header_read_timeout": "10s", "idle_timeout": "1s"}})
    quiet = connect(p.admin_port)
    used = connect(p.admin_port)
    used.sendall(REQUEST)
    head, rest = read_head(used)
    assert head.startswith(b"HTTP/1.1 200")
    t0 = time.monotonic()
    closed, _ = closed_within(quiet, 6)
    assert closed, "a silent admin connection outlived idle_timeout"
    closed, _ = closed_within(used, 6)
    assert closed, "a keep-alive admin connection outlived idle_timeout after its answer"
    took = time.monotonic() - t0
    assert took <= 4, f"closed after {took:.2f}s (idle_timeout 1s)"


def test_admin_connections_are_capped_and_counted(start_proxy):
    p = start_proxy(top_extra={"admin": {"max_connections": 3}, "limits": {"idle_timeout": "60s"}})
    held = [connect(p.admin_port) for _ in range(3)]
    held[0].sendall(REQUEST)  # make sure all three are accepted before the fourth arrives
    read_head(held[0])
    extra = connect(p.admin_port)
    closed, data = closed_within(extra, 3)
    assert closed and data == b"", "a 4th admin connection stayed open with admin.max_connections: 3"
    held.pop().close()
    # The slot frees once the admin loop has seen the close; until then new connections are still refused.
    deadline = time.monotonic() + 5
    status, text = None, ""
    while status != 200 and time.monotonic() < deadline:
        try:
            status, text = p.admin_get("/metrics")
        except OSError:
            time.sleep(0.05)
    assert status == 200, status
    assert metric(text, "grpcwebproxy_admin_connections_rejected_total") >= 1
    assert metric(text, "grpcwebproxy_admin_connections_active") == 3  # two held + this request's own
    assert metric(text, "grpcwebproxy_admin_connections_total") >= 4
    for s in held:
        s.close()


def test_admin_runs_on_its_own_thread(proxy):
    names = set()
    for task in Path(f"/proc/{proxy.pid}/task").iterdir():
        try:
            names.add((task / "comm").read_text().strip())
        except OSError:
            pass
    assert "admin" in names, f"no thread named admin among {sorted(names)}"
    assert "worker-0" in names, sorted(names)


def test_probe_option_checks_an_admin_path(proxy):
    binary = str(require_proxy_bin())

    def probe(target: str) -> subprocess.CompletedProcess:
        return subprocess.run([binary, "--probe", target], capture_output=True, text=True, timeout=10,
                              stdin=subprocess.DEVNULL)

    r = probe(f"127.0.0.1:{proxy.admin_port}/ready")
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert "200" in r.stdout
    r = probe(f"http://127.0.0.1:{proxy.admin_port}/healthz")
    assert r.returncode == 0, (r.stdout, r.stderr)
    r = probe(f"127.0.0.1:{proxy.admin_port}/nope")
    assert r.returncode == 1 and "404" in r.stderr, (r.returncode, r.stdout, r.stderr)
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    r = probe(f"127.0.0.1:{port}/ready")
    assert r.returncode == 1 and "connect" in r.stderr, (r.returncode, r.stderr)
    assert os.path.exists(binary)
