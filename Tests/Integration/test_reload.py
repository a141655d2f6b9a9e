"""Live reload (issue 12, item 1): SIGHUP and POST /reload re-read the config file; new calls take the new
routes and clusters, calls in flight finish, an invalid file or a change that needs a restart leaves everything as
it was."""

from __future__ import annotations

import signal
import socket
import threading
import time
import urllib.request

from conftest import build_config, cluster, default_route, free_port, to_yaml
from grpcweb_client import HTTPConnection, StreamingCall, call

UNARY = "/test.Echo/Unary"
STREAM = "/test.Echo/ServerStream"


def post_reload(proxy) -> tuple[int, str]:
    req = urllib.request.Request(f"{proxy.admin_url}/reload", data=b"", method="POST")
    try:
        with urllib.request.urlopen(req, timeout=15) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def rewrite(proxy, upstream_port: int, **kw) -> None:
    """Writes a new config for the same listener and admin ports."""
    text = to_yaml(build_config(port=proxy.port, admin_port=proxy.admin_port, upstream_port=upstream_port, **kw)) + "\n"
    proxy.config_path.write_text(text)


def config_hash(proxy) -> str:
    _, text = proxy.admin_get("/metrics")
    line = next(l for l in text.splitlines() if l.startswith("grpcwebproxy_config_info"))
    return line.split('hash="')[1].split('"')[0]


def test_post_reload_switches_routes_and_clusters(start_proxy, upstream):
    proxy = start_proxy(routes=[{"service": "test.Echo", "cluster": "backend"}])
    assert call(proxy.base_url, UNARY, [b"before"]).grpc_status == 0
    before_hash = config_hash(proxy)
    # test.Echo now goes to a new cluster "second" (same server); "backend" is removed.
    rewrite(proxy, upstream.port, routes=[{"service": "test.Echo", "cluster": "second"}],
            clusters=[cluster("second", f"127.0.0.1:{upstream.port}")])
    status, body = post_reload(proxy)
    assert status == 200 and "second" in body and "removed: backend" in body, body
    r = call(proxy.base_url, UNARY, [b"after"])
    assert r.grpc_status == 0 and r.messages == [b"after"], r.grpc_message
    assert proxy.metric("grpcwebproxy_config_reloads_total") == 1
    assert config_hash(proxy) != before_hash
    # A route that no longer exists answers 12 after the next reload.
    rewrite(proxy, upstream.port, routes=[{"service": "other.Svc", "cluster": "second"}],
            clusters=[cluster("second", f"127.0.0.1:{upstream.port}")])
    proxy.proc.send_signal(signal.SIGHUP)
    assert proxy.wait_log(r"config reloaded", timeout_s=5)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and call(proxy.base_url, UNARY, [b"x"]).grpc_status != 12:
        time.sleep(0.05)
    assert call(proxy.base_url, UNARY, [b"x"]).grpc_status == 12


def test_an_invalid_file_leaves_everything_as_it_was(start_proxy, upstream):
    proxy = start_proxy()
    before_hash = config_hash(proxy)
    good = proxy.config_path.read_text()
    proxy.config_path.write_text(good + "listeners: [\n")
    status, body = post_reload(proxy)
    assert status == 400, body
    assert "not reloaded" in body and ":" in body and "listeners" in body, body
    assert proxy.ready_status() == 200
    assert call(proxy.base_url, UNARY, [b"still"]).grpc_status == 0
    assert proxy.metric("grpcwebproxy_config_reload_failures_total") == 1
    assert proxy.metric("grpcwebproxy_config_reloads_total") == 0
    assert config_hash(proxy) == before_hash
    # A cluster pointing at a route target that does not exist is a located config error too.
    proxy.config_path.write_text(good.replace("cluster: backend", "cluster: nowhere"))
    status, body = post_reload(proxy)
    assert status == 400 and "nowhere" in body, body
    assert proxy.log_text().count("config not reloaded") == 2


def test_a_change_that_needs_a_restart_is_refused(start_proxy, upstream):
    proxy = start_proxy()
    text = proxy.config_path.read_text()
    proxy.config_path.write_text(text.replace("workers: 1", "workers: 2"))
    status, body = post_reload(proxy)
    assert status == 400 and "workers" in body and "restart" in body, body
    # A listener moved to an address another process holds: refused before anything changed.
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    proxy.config_path.write_text(text.replace(f"127.0.0.1:{proxy.port}", f"127.0.0.1:{holder.getsockname()[1]}"))
    status, body = post_reload(proxy)
    holder.close()
    assert status == 400 and "listeners[0].address" in body and "nothing was reloaded" in body, body
    assert call(proxy.base_url, UNARY, [b"still"]).grpc_status == 0
    assert proxy.metric("grpcwebproxy_config_reloads_total") == 0


def _refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        return False
    except ConnectionRefusedError:
        return True


def test_listeners_are_opened_moved_and_closed_by_a_reload(start_proxy, upstream):
    """A reload opens a new listener, moves one to a new port (its old socket stops accepting on every worker, a
    call in flight on it finishes and its connection then closes) and later closes one; the admin answer names
    what happened."""
    proxy = start_proxy(top_extra={"workers": 2})
    old_port, moved_port, extra_port = proxy.port, free_port(), free_port()
    streaming = StreamingCall(proxy.base_url, STREAM, [b"s"], metadata={"x-stream-count": "20", "x-stream-interval-ms": "100"})
    base = build_config(port=moved_port, admin_port=proxy.admin_port, upstream_port=upstream.port, top_extra={"workers": 2})
    extra = dict(base["listeners"][0], name="extra", address=f"127.0.0.1:{extra_port}")
    base["listeners"].append(extra)
    proxy.config_path.write_text(to_yaml(base) + "\n")
    status, body = post_reload(proxy)
    assert status == 200 and "listeners opened: extra" in body and "listeners moved: web" in body, body
    for port in (moved_port, extra_port):
        r = call(f"http://127.0.0.1:{port}", UNARY, [b"new"])
        assert r.grpc_status == 0 and r.messages == [b"new"], (port, r.grpc_status, r.grpc_message)
    # Both workers closed the old socket (SO_REUSEPORT would otherwise hand some connections to a leftover).
    assert all(_refused(old_port) for _ in range(20))
    # The stream started on the old port before the move got every message.
    r = streaming.read_all()
    assert r.grpc_status == 0 and len(r.messages) == 20, (r.grpc_status, r.grpc_message, len(r.messages))
    # ...and its connection was then closed by the proxy (drained), not kept alive.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and proxy.metric('grpcwebproxy_downstream_connections_open{listener="web",http_version="1.1"}') != 0:
        time.sleep(0.05)
    assert proxy.metric('grpcwebproxy_downstream_connections_open{listener="web",http_version="1.1"}') == 0
    # Closing "extra": its port refuses, "web" still serves.
    base["listeners"].pop()
    proxy.config_path.write_text(to_yaml(base) + "\n")
    status, body = post_reload(proxy)
    assert status == 200 and "listeners closed (draining): extra" in body, body
    assert all(_refused(extra_port) for _ in range(20))
    assert call(f"http://127.0.0.1:{moved_port}", UNARY, [b"x"]).grpc_status == 0


def test_reload_under_load_fails_no_call(start_proxy, upstream):
    """5,000 unary calls (4 keep-alive clients) and 20 server streams (a message every 100 ms for ~4 s) while the
    config is reloaded 10 times, alternating routes and adding and removing a cluster: no call fails, every stream
    gets all its messages, and every reload is applied."""
    port = upstream.port
    proxy = start_proxy(top_extra={"workers": 2})
    configs = []
    for i in range(10):
        clusters = [cluster("backend", f"127.0.0.1:{port}")]
        routes = [default_route()]
        if i % 2 == 0:
            clusters.append(cluster(f"extra{i}", f"127.0.0.1:{port}"))
            routes = [{"service": "test.Echo", "cluster": f"extra{i}"}, default_route()]
        configs.append((routes, clusters))

    failures: list[str] = []
    done = threading.Event()
    counts = [0] * 4

    def unary_worker(k: int) -> None:
        conn = HTTPConnection("127.0.0.1", proxy.port, timeout_s=30)
        while counts[k] < 1250 and not done.is_set():
            r = call(proxy.base_url, UNARY, [b"u%d" % counts[k]], conn=conn)
            if r.grpc_status != 0 or r.messages != [b"u%d" % counts[k]]:
                failures.append(f"unary: {r.grpc_status} {r.grpc_message} {r.error}")
                conn = HTTPConnection("127.0.0.1", proxy.port, timeout_s=30)
            counts[k] += 1

    stream_results: list = []

    def stream_worker() -> None:
        r = call(proxy.base_url, STREAM, [b"s" * 8], metadata={"x-stream-count": "40", "x-stream-interval-ms": "100"})
        stream_results.append(r)

    threads = [threading.Thread(target=unary_worker, args=(k,)) for k in range(4)]
    threads += [threading.Thread(target=stream_worker) for _ in range(20)]
    for t in threads:
        t.start()
    try:
        for routes, clusters in configs:
            time.sleep(0.3)
            rewrite(proxy, port, routes=routes, clusters=clusters, top_extra={"workers": 2})
            status, body = post_reload(proxy)
            assert status == 200, body
    finally:
        for t in threads:
            t.join(60)
        done.set()
    assert not failures, failures[:5]
    assert sum(counts) == 5000
    assert len(stream_results) == 20
    for r in stream_results:
        assert r.grpc_status == 0 and len(r.messages) == 40, (r.grpc_status, r.grpc_message, len(r.messages))
    assert proxy.metric("grpcwebproxy_config_reloads_total") == 10
    assert proxy.metric("grpcwebproxy_calls_active") == 0


def test_an_unchanged_cluster_keeps_its_health_state(start_proxy, upstream_factory):
    """An endpoint the health checker took out stays out across a reload that does not touch its cluster (a new
    pool would start it healthy and send it calls), and a cluster whose settings change starts afresh."""
    u = upstream_factory("hk")
    checks = {"interval": "200ms", "timeout": "150ms", "unhealthy_threshold": 1, "healthy_threshold": 2}
    clusters = [cluster("backend", u.address, health_check=checks)]
    proxy = start_proxy(clusters=clusters)
    u.set_health(False)
    assert proxy.wait_log(r"is unhealthy", 5), proxy.log_text()[-2000:]
    r = call(proxy.base_url, UNARY, [b"x"], timeout_s=10)
    assert r.grpc_status == 14 and "no healthy endpoint" in r.grpc_message, r.grpc_message
    # Only a route changes: the cluster keeps its pool and its verdict.
    rewrite(proxy, u.port, routes=[{"service": "test.Echo", "cluster": "backend"}], clusters=clusters)
    status, body = post_reload(proxy)
    assert status == 200 and "new or changed clusters: none" in body, body
    r = call(proxy.base_url, UNARY, [b"x"], timeout_s=10)
    assert r.grpc_status == 14 and "no healthy endpoint" in r.grpc_message, r.grpc_message
    # The cluster's settings change (a longer connect timeout): a new pool, endpoints healthy until checked.
    changed = [cluster("backend", u.address, connect_timeout="2s", health_check=checks)]
    rewrite(proxy, u.port, routes=[{"service": "test.Echo", "cluster": "backend"}], clusters=changed)
    status, body = post_reload(proxy)
    assert status == 200 and "new or changed clusters: backend" in body, body
