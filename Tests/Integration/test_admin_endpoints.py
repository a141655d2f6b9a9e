"""Admin endpoints (issue 12, item 5): /config (the running config as YAML, secrets and key files redacted),
/clusters (endpoints with health, ejection, calls and connections), /listeners, /stats.json (what the dashboard
polls: its totals must equal /metrics'), the bounded ring of recent failed calls, and 404 for anything else."""

from __future__ import annotations

import copy
import json
import urllib.request

import yaml

from cluster_support import wait_until
from conftest import cluster, default_route, free_port, to_yaml
from grpcweb_client import HTTPConnection, call, open_call
from test_ops_metrics import pick, wait_metric
from tls_support import pki, tls_section  # noqa: F401  (session fixture)

UNARY = "/test.Echo/Unary"
STREAM = "/test.Echo/ServerStream"
FAST_CHECKS = {"interval": "200ms", "timeout": "150ms", "unhealthy_threshold": 2, "healthy_threshold": 1}


def admin_json(proxy, path: str) -> dict:
    with urllib.request.urlopen(f"{proxy.admin_url}{path}", timeout=5) as r:
        assert r.status == 200
        assert r.headers["Content-Type"] == "application/json"
        return json.loads(r.read())


def redacted(doc, secrets: list[tuple]):
    """`doc` with the value at each key path (a tuple of keys and indexes) replaced by "<redacted>"."""
    out = copy.deepcopy(doc)
    for path in secrets:
        node = out
        for step in path[:-1]:
            node = node[step]
        node[path[-1]] = "<redacted>"
    return out


def test_config_is_the_running_file_with_key_paths_redacted(start_proxy, pki, upstream):
    mtls = cluster("mtls", f"127.0.0.1:{free_port()}",
                   tls={"ca": str(pki.ca.cert), "cert": str(pki.client.cert), "key": str(pki.client.key)})
    proxy = start_proxy(
        listener_extra={"tls": tls_section(pki), "name": "secure"},
        clusters=[cluster("backend", upstream.address), mtls])
    with urllib.request.urlopen(f"{proxy.admin_url}/config", timeout=5) as r:
        assert r.status == 200
        assert r.headers["Content-Type"] == "application/yaml"
        body = r.read().decode()
    served = yaml.safe_load(body)
    written = yaml.safe_load(proxy.config_text)
    assert served == redacted(written, [("listeners", 0, "tls", "key"), ("clusters", 1, "tls", "key")])
    # Key file paths appear nowhere; certificate and CA paths may.
    assert str(pki.server.key) not in body and str(pki.client.key) not in body
    assert str(pki.server.cert) in body and str(pki.ca.cert) in body

    # After a reload, /config shows the new file.
    written["listeners"][0]["routes"] = [default_route(name="everything")]
    proxy.config_path.write_text(to_yaml(written) + "\n")
    req = urllib.request.Request(f"{proxy.admin_url}/reload", method="POST")
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.status == 200
    status, body = proxy.admin_get("/config")
    assert status == 200
    assert yaml.safe_load(body) == redacted(written, [("listeners", 0, "tls", "key"), ("clusters", 1, "tls", "key")])


def test_clusters_show_a_healthy_and_a_dead_endpoint(start_proxy, upstream):
    dead = f"127.0.0.1:{free_port()}"
    proxy = start_proxy(top_extra={"workers": 2},
                        clusters=[cluster("backend", upstream.address, dead, health_check=FAST_CHECKS, retries=2)])

    def states() -> dict:
        doc = admin_json(proxy, "/clusters")
        return {e["address"]: e for e in doc["clusters"][0]["endpoints"]}

    assert wait_until(lambda: states()[dead]["state"] == "unhealthy", 10), states()
    doc = admin_json(proxy, "/clusters")
    assert doc["workers"] == 2 and doc["workers_missing"] == 0
    backend = doc["clusters"][0]
    assert backend["name"] == "backend"
    endpoints = {e["address"]: e for e in backend["endpoints"]}
    assert set(endpoints) == {upstream.address, dead}
    assert endpoints[upstream.address]["state"] == "healthy" and endpoints[upstream.address]["healthy"] is True
    assert endpoints[dead]["healthy"] is False and endpoints[dead]["connections_open"] == 0
    settings = backend["settings"]
    assert settings["configured_endpoints"] == [upstream.address, dead]
    assert settings["health_check"] == {"interval_ms": 200.0, "timeout_ms": 150.0, "unhealthy_threshold": 2,
                                        "healthy_threshold": 1, "service": ""}
    assert settings["load_balancing"] == "round_robin" and settings["retries"] == 2 and settings["tls"] is False

    # A call in flight shows as an active call and an open connection on the healthy endpoint.
    stream = open_call(proxy.base_url, STREAM, [b"s"], metadata={"x-stream-forever": "1", "x-stream-interval-ms": "50"})
    try:
        assert wait_until(lambda: states()[upstream.address]["active_calls"] == 1, 5), states()
        assert states()[upstream.address]["connections_open"] >= 1
    finally:
        stream.close()
    assert wait_until(lambda: states()[upstream.address]["active_calls"] == 0, 5), states()


def test_clusters_show_a_passively_ejected_endpoint(start_proxy, upstream):
    """No health checks: the dead endpoint is taken out by outlier detection on the worker that saw it fail."""
    dead = f"127.0.0.1:{free_port()}"
    proxy = start_proxy(clusters=[cluster("backend", dead, upstream.address, retries=1,
                                          outlier_detection={"consecutive_failures": 1, "base_ejection_time": "60s"})])
    for _ in range(4):
        assert call(proxy.base_url, UNARY, [b"x"]).grpc_status == 0  # retried on the live endpoint
    doc = admin_json(proxy, "/clusters")
    endpoints = {e["address"]: e for e in doc["clusters"][0]["endpoints"]}
    assert endpoints[dead]["state"] == "ejected", endpoints
    assert endpoints[dead]["healthy"] is True  # no active checks: only the passive verdict
    assert endpoints[dead]["ejected_workers"] == 1 and endpoints[dead]["ejections"] == 1
    assert 50_000 < endpoints[dead]["ejected_remaining_ms"] <= 60_000
    assert endpoints[upstream.address]["state"] == "healthy" and endpoints[upstream.address]["ejections"] == 0


def test_listeners_show_address_tls_routes_and_connections(start_proxy):
    proxy = start_proxy(routes=[{"name": "unary", "method": "test.Echo/Unary", "cluster": "backend"}, default_route()])
    doc = admin_json(proxy, "/listeners")
    (web,) = doc["listeners"]
    assert web["name"] == "web" and web["address"] == f"127.0.0.1:{proxy.port}" == web["bound_address"]
    assert web["tls"] is False and web["http2"] is True and web["websocket"] is True and web["cors"] is True
    assert [(r["name"], r["match"], r["cluster"]) for r in web["routes"]] == [
        ("unary", "method:test.Echo/Unary", "backend"), ("prefix:/", "prefix:/", "backend")]
    # The readiness wait's probe connection may still be closing.
    assert wait_until(lambda: admin_json(proxy, "/listeners")["listeners"][0]["connections_open"] == 0, 5)

    with HTTPConnection("127.0.0.1", proxy.port) as conn:
        assert call(proxy.base_url, UNARY, [b"x"], conn=conn).grpc_status == 0
        doc = admin_json(proxy, "/listeners")
        assert doc["listeners"][0]["connections_open"] == 1
        assert doc["listeners"][0]["connections_by_http_version"] == {"1.1": 1}
    assert wait_until(lambda: admin_json(proxy, "/listeners")["listeners"][0]["connections_open"] == 0, 5)


def test_tls_listener_is_shown_as_tls(start_proxy, pki):
    proxy = start_proxy(listener_extra={"tls": tls_section(pki)})
    (web,) = admin_json(proxy, "/listeners")["listeners"]
    assert web["tls"] is True and web["client_certificates"] is False


def test_stats_json_totals_equal_the_metrics(start_proxy):
    routes = [{"name": "unary", "method": "test.Echo/Unary", "cluster": "backend"}, default_route()]
    proxy = start_proxy(routes=routes, top_extra={"workers": 2})
    known = [({}, 0)] * 7 + [({"x-fail-code": "5"}, 5)] * 3 + [({"x-fail-code": "14"}, 14)] * 2
    for i, (md, status) in enumerate(known):
        assert call(proxy.base_url, UNARY, [b"u%d" % i], metadata={**md, "x-request-id": f"known-{i}"}).grpc_status == status
    for i in range(4):
        r = call(proxy.base_url, STREAM, [b"s"], metadata={"x-stream-count": "2", **({"x-fail-code": "9"} if i == 0 else {})})
        assert r.grpc_status == (9 if i == 0 else 0)
    metrics = wait_metric(proxy, "grpcwebproxy_calls_total", len(known) + 4)
    stats = admin_json(proxy, "/stats.json")
    assert stats["workers"] == 2 and stats["workers_missing"] == 0
    rows = {(r["route"], r["cluster"]): r for r in stats["routes"]}
    assert set(rows) == {("unary", "backend"), ("prefix:/", "backend")}
    for (route, clus), row in rows.items():
        total = pick(metrics, "grpcwebproxy_calls_total", route=route, cluster=clus)
        ok = pick(metrics, "grpcwebproxy_calls_total", route=route, cluster=clus, grpc_status="0")
        assert row["calls"] == total and row["errors"] == total - ok, (route, row)
        assert row["in_flight"] == 0
        for code, n in row["by_status"].items():
            assert n == pick(metrics, "grpcwebproxy_calls_total", route=route, cluster=clus, grpc_status=code)
        # The histogram's per-bucket counts add up to the calls, and match the cumulative buckets of /metrics.
        assert sum(row["buckets"]) == row["calls"] == pick(metrics, "grpcwebproxy_call_duration_seconds_count",
                                                           route=route, cluster=clus)
        assert sum(row["buckets"]) == pick(metrics, "grpcwebproxy_call_duration_seconds_bucket", route=route,
                                           cluster=clus, le="+Inf")
        assert abs(row["duration_sum_s"] - pick(metrics, "grpcwebproxy_call_duration_seconds_sum", route=route,
                                                cluster=clus)) < 1e-6
    assert rows[("unary", "backend")]["calls"] == 12 and rows[("unary", "backend")]["errors"] == 5
    assert rows[("unary", "backend")]["by_status"] == {"0": 7, "5": 3, "14": 2}
    assert rows[("prefix:/", "backend")]["by_status"] == {"0": 3, "9": 1}
    assert len(stats["bucket_bounds_s"]) + 1 == len(rows[("unary", "backend")]["buckets"])

    # The recent failed calls: the six non-OK ones, newest first, from both workers.
    failed = stats["recent_failed_calls"]
    assert [f["grpc_status"] for f in failed] == [9, 14, 14, 5, 5, 5]
    assert [f["request_id"] for f in failed[1:]] == [f"known-{i}" for i in (11, 10, 9, 8, 7)]
    assert failed[0]["path"] == STREAM and failed[0]["route"] == "prefix:/" and failed[0]["transport"] == "grpc-web"
    assert all(f["cluster"] == "backend" and f["listener"] == "web" for f in failed)
    assert [f["time_ms"] for f in failed] == sorted((f["time_ms"] for f in failed), reverse=True)
    # The clusters' endpoints, as /clusters shows them.
    assert [e["state"] for e in stats["clusters"][0]["endpoints"]] == ["healthy"]

    # A call in flight shows on its route until it ends.
    def in_flight() -> dict:
        return {r["route"]: r["in_flight"] for r in admin_json(proxy, "/stats.json")["routes"]}
    stream = open_call(proxy.base_url, STREAM, [b"s"], metadata={"x-stream-forever": "1", "x-stream-interval-ms": "50"})
    try:
        assert wait_until(lambda: in_flight() == {"unary": 0, "prefix:/": 1}, 5), in_flight()
    finally:
        stream.close()
    assert wait_until(lambda: in_flight() == {"unary": 0, "prefix:/": 0}, 5), in_flight()


def test_recent_failed_calls_are_bounded_by_the_config(start_proxy):
    proxy = start_proxy(top_extra={"admin": {"recent_failed_calls": 3}})
    for i in range(7):
        assert call(proxy.base_url, UNARY, [b"x"], metadata={"x-fail-code": "13", "x-request-id": f"f{i}"}).grpc_status == 13
    wait_metric(proxy, "grpcwebproxy_calls_total", 7)
    failed = admin_json(proxy, "/stats.json")["recent_failed_calls"]
    assert [f["request_id"] for f in failed] == ["f6", "f5", "f4"]

    off = start_proxy(top_extra={"admin": {"recent_failed_calls": 0}})
    assert call(off.base_url, UNARY, [b"x"], metadata={"x-fail-code": "13"}).grpc_status == 13
    wait_metric(off, "grpcwebproxy_calls_total", 1)
    assert admin_json(off, "/stats.json")["recent_failed_calls"] == []


def test_dashboard_page_and_unknown_paths(start_proxy):
    proxy = start_proxy()
    with urllib.request.urlopen(f"{proxy.admin_url}/", timeout=5) as r:
        page = r.read().decode()
        assert r.headers["Content-Type"] == "text/html; charset=utf-8"
    # Self-contained: no external script, style sheet, image or font.
    assert 'el("canvas"' in page and 'fetch("stats.json"' in page
    for external in ("src=\"http", "href=\"http", "@import", "url(http", "<link"):
        assert external not in page
    for path in ["/nope", "/config/x", "/clusters/", "/dashboard", "/stats"]:
        status, body = proxy.admin_get(path)
        assert status == 404, path
        assert "/clusters" in body
    # HEAD: the GET's head, no body; query strings are ignored.
    req = urllib.request.Request(f"{proxy.admin_url}/stats.json?t=1", method="HEAD")
    with urllib.request.urlopen(req, timeout=5) as r:
        assert r.status == 200 and int(r.headers["Content-Length"]) > 0 and r.read() == b""
    req = urllib.request.Request(f"{proxy.admin_url}/config", method="POST", data=b"")
    try:
        urllib.request.urlopen(req, timeout=5)
        raise AssertionError("POST /config answered")
    except urllib.error.HTTPError as e:
        assert e.code == 405


def test_pipelined_admin_requests_answer_in_order(start_proxy):
    """Answers built later (from the workers) and at once (/config) keep the order of the requests."""
    proxy = start_proxy(top_extra={"workers": 2})
    with HTTPConnection("127.0.0.1", proxy.admin_port) as conn:
        paths = ["/clusters", "/config", "/stats.json", "/", "/listeners", "/metrics", "/ready"]
        conn.send(b"".join(f"GET {p} HTTP/1.1\r\nHost: a\r\n\r\n".encode() for p in paths))
        types = []
        for _ in paths:
            resp = conn.read_response("GET")
            assert resp.status == 200
            types.append(resp.header("content-type"))
    assert types == ["application/json", "application/yaml", "application/json", "text/html; charset=utf-8",
                     "application/json", "text/plain; version=0.0.4", "text/plain; charset=utf-8"]
