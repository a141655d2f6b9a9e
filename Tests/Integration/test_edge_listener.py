"""Issue 9, defects 11 and 12: listeners at the edge. At the open-file limit accept must not spin (the listener
pauses, queued clients get a clean close, serving resumes once descriptors free up), and a second instance on the
same ports must fail at start instead of sharing them through SO_REUSEPORT."""

from __future__ import annotations

import os
import resource
import socket
import subprocess
import time

import pytest

from conftest import build_config, free_port, require_proxy_bin, to_yaml, wait_port
from grpcweb_client import call

UNARY = "/test.Echo/Unary"


def cpu_seconds(pid: int) -> float:
    """utime + stime of the whole process (all threads), from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # After the command: state is field 3, utime field 14, stime field 15 (1-based, see proc(5)).
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def closed_within(s: socket.socket, timeout_s: float) -> bool:
    s.settimeout(timeout_s)
    try:
        return s.recv(1) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


@pytest.mark.timeout(90)
def test_accept_at_the_fd_limit_does_not_spin_and_recovers(upstream, itest_workdir):
    port, admin_port = free_port(), free_port()
    cfg = itest_workdir / "edge-fd-limit.yaml"
    cfg.write_text(to_yaml(build_config(port=port, admin_port=admin_port, upstream_port=upstream.port)) + "\n")
    log_path = itest_workdir / "edge-fd-limit.log"
    limit = 64

    def low_fd_limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))

    with open(log_path, "wb") as log:
        proc = subprocess.Popen([str(require_proxy_bin()), "--config", str(cfg), "--log-level", "info"],
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, preexec_fn=low_fd_limit)
    clients: list[socket.socket] = []
    try:
        assert wait_port(port, 15, proc) and wait_port(admin_port, 5, proc), log_path.read_text()
        text = log_path.read_text()
        assert "open-file limit" in text and "limits.max_connections is 100000" in text, text

        # Use up every descriptor, then queue some more clients behind the full table.
        for _ in range(limit + 16):
            clients.append(socket.create_connection(("127.0.0.1", port), timeout=5))
        deadline = time.monotonic() + 10
        while open_fds(proc.pid) < limit and time.monotonic() < deadline:
            time.sleep(0.05)
        assert open_fds(proc.pid) >= limit - 1, f"only {open_fds(proc.pid)} fds open; the limit was not reached"
        # Clients that could not get a descriptor are closed at once rather than left waiting in the backlog.
        refused = sum(closed_within(c, 0.05) for c in clients[-8:])
        deadline = time.monotonic() + 5
        while refused == 0 and time.monotonic() < deadline:
            refused = sum(closed_within(c, 0.2) for c in clients[-8:])
        assert refused > 0, "clients queued at the fd limit were neither served nor closed"

        # Idle at the limit: CPU time over 2 s must stay low (level-triggered epoll spun at ~63% of a core).
        before = cpu_seconds(proc.pid)
        time.sleep(2)
        used = cpu_seconds(proc.pid) - before
        print(f"fd limit {limit}: {open_fds(proc.pid)} fds open, {refused}/8 queued clients closed, CPU {used:.3f}s in 2s")
        assert used < 0.2, f"the proxy used {used:.2f}s of CPU in 2s while at the fd limit"

        for c in clients:
            c.close()
        clients.clear()
        deadline = time.monotonic() + 10
        result = None
        while time.monotonic() < deadline:
            try:
                result = call(f"http://127.0.0.1:{port}", UNARY, [b"back"], timeout_s=5)
                if result.grpc_status == 0:
                    break
            except OSError:
                pass
            time.sleep(0.2)
        assert result is not None and result.grpc_status == 0 and result.messages == [b"back"], \
            (result and (result.grpc_status, result.grpc_message), log_path.read_text()[-2000:])
        assert proc.poll() is None
    finally:
        for c in clients:
            c.close()
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def second_instance_fails(start_proxy, **kw) -> str:
    p = start_proxy(wait_ready=False, **kw)
    try:
        p.proc.wait(15)
    except subprocess.TimeoutExpired:
        pytest.fail("a second instance on the same address kept running:\n" + p.log_text()[-2000:])
    p.stopped_by_test = True
    assert p.proc.returncode != 0
    return p.log_text()


def test_second_instance_on_the_same_listener_port_fails(start_proxy):
    first = start_proxy()
    # Two workers: after the first socket's probe fails, no other worker may join the port with SO_REUSEPORT.
    text = second_instance_fails(start_proxy, port=first.port, top_extra={"workers": 2})
    assert "already in use" in text and f"127.0.0.1:{first.port}" in text, text
    assert first.ready_status() == 200
    for i in range(20):
        r = call(first.base_url, UNARY, [f"still-{i}".encode()], timeout_s=5)
        assert r.grpc_status == 0, (i, r.grpc_status, r.grpc_message, r.error)


def test_second_instance_on_the_same_admin_port_fails(start_proxy):
    first = start_proxy()
    text = second_instance_fails(start_proxy, admin_port=first.admin_port)
    assert "admin listener" in text and "already in use" in text, text
    assert first.ready_status() == 200


def test_two_workers_still_share_one_port(start_proxy):
    p = start_proxy(top_extra={"workers": 2})
    for i in range(6):
        r = call(p.base_url, UNARY, [f"w{i}".encode()])
        assert r.grpc_status == 0, (r.grpc_status, r.grpc_message)
