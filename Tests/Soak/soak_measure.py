"""What the soak measures on the proxy process: its file descriptors (sorted by what they are), its RSS, and the
gauges of the admin ``/metrics`` page. One ``Snapshot`` is taken after the warm-up and one after the settle; the
pass criteria compare the two.

File descriptors are classified through /proc/net/tcp so that "back to baseline" can be exact where it must be
(sockets to browsers, non-socket fds) and tolerant where a restart legitimately changes the count (HTTP/2
connections to upstreams are re-made lazily, one per cluster endpoint and worker).
"""

from __future__ import annotations

import os
import re
import urllib.request
from dataclasses import dataclass, field

GAUGES = (
    "grpcwebproxy_calls_active",
    "grpcwebproxy_buffered_bytes",
    "grpcwebproxy_timers",
    "grpcwebproxy_timer_heap_entries",
    "grpcwebproxy_downstream_connections_active",
)
# Counters shown as deltas over the main phase (information, not criteria).
COUNTERS = (
    "grpcwebproxy_downstream_connections_total",
    "grpcwebproxy_grpcweb_calls_total",
    "grpcwebproxy_websocket_calls_total",
    "grpcwebproxy_deadline_exceeded_total",
    "grpcwebproxy_cancelled_by_client_total",
    "grpcwebproxy_upstream_failures_total",
    "grpcwebproxy_responses_aborted_mid_message_total",
    "grpcwebproxy_output_limit_pauses_total",
)
_METRIC_LINE = re.compile(r"^([a-z_]+)(\{[^}]*\})? (-?[0-9]+(?:\.[0-9]+)?)$")
_TCP_LISTEN = "0A"


def metrics(admin_url: str, timeout_s: float = 5) -> dict[str, float]:
    """The admin page as {name or name{labels}: value}."""
    with urllib.request.urlopen(f"{admin_url}/metrics", timeout=timeout_s) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        m = _METRIC_LINE.match(line)
        if m:
            out[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return out


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def _tcp_sockets() -> dict[str, tuple[int, int, str]]:
    """inode -> (local port, remote port, state hex) for every IPv4/IPv6 TCP socket on the machine."""
    out = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    parts = line.split()
                    local, remote, state, inode = parts[1], parts[2], parts[3], parts[9]
                    out[inode] = (int(local.rsplit(":", 1)[1], 16), int(remote.rsplit(":", 1)[1], 16), state)
        except FileNotFoundError:
            continue
    return out


@dataclass
class FdCensus:
    total: int = 0
    listening: int = 0
    downstream: int = 0  # accepted connections on the proxy listener
    admin: int = 0  # accepted connections on the admin listener
    upstream: dict[int, int] = field(default_factory=dict)  # upstream port -> open connections
    other_sockets: int = 0
    non_sockets: int = 0
    others: list[str] = field(default_factory=list)  # what the fds in the two counts above are

    @property
    def upstream_total(self) -> int:
        return sum(self.upstream.values())


def fd_census(pid: int, proxy_port: int, admin_port: int, upstream_ports: set[int]) -> FdCensus:
    links = []
    fd_dir = f"/proc/{pid}/fd"
    for name in os.listdir(fd_dir):
        try:
            links.append(os.readlink(f"{fd_dir}/{name}"))
        except OSError:  # closed between listdir and readlink
            continue
    tcp = _tcp_sockets()
    c = FdCensus(total=len(links))
    for link in links:
        if not link.startswith("socket:["):
            c.non_sockets += 1
            c.others.append(link if link.startswith(("anon_inode:", "pipe:")) else "file")
            continue
        entry = tcp.get(link[len("socket:["):-1])
        if entry is None:  # not TCP (or a TCP socket already gone from the table: reset, fd still open)
            c.other_sockets += 1
            c.others.append("socket without a TCP entry")
            continue
        local, remote, state = entry
        if state == _TCP_LISTEN:
            c.listening += 1
        elif local == proxy_port:
            c.downstream += 1
        elif local == admin_port:
            c.admin += 1
        elif remote in upstream_ports:
            c.upstream[remote] = c.upstream.get(remote, 0) + 1
        else:
            c.other_sockets += 1
            c.others.append(f"tcp {local}->{remote} state {state}")
    return c


@dataclass
class Snapshot:
    rss_kib: int
    fds: FdCensus
    gauges: dict[str, float]

    def gauge(self, name: str) -> float:
        return self.gauges.get(name, float("nan"))


def snapshot(pid: int, admin_url: str, proxy_port: int, admin_port: int, upstream_ports: set[int]) -> Snapshot:
    # fds first: the /metrics request itself is an admin connection that may still be open right after.
    fds = fd_census(pid, proxy_port, admin_port, upstream_ports)
    rss = rss_kib(pid)
    m = metrics(admin_url)
    return Snapshot(rss, fds, {g: m.get(g, float("nan")) for g in GAUGES + COUNTERS})
