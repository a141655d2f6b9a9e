"""Access log (issue 12): one line per finished call, JSON or a format string, sampling and the error filter,
SIGUSR1 reopening for logrotate; request ids and W3C traceparent kept, replaced or generated, and forwarded."""

from __future__ import annotations

import json
import os
import re
import signal
import time
import urllib.request

import pytest

from conftest import default_route
from grpcweb_client import call, open_call
from ws_client import ws_unary

os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")
import grpc  # noqa: E402

UNARY = "/test.Echo/Unary"
STREAM = "/test.Echo/ServerStream"
FIELDS = ["start_time", "duration_ms", "listener", "route", "cluster", "upstream", "path", "transport",
          "http_version", "grpc_status", "grpc_message", "request_bytes", "response_bytes", "request_messages",
          "response_messages", "downstream_address", "user_agent", "request_id", "trace_id"]
HEX32 = re.compile(r"^[0-9a-f]{32}$")
TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
VALID_TP = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def echo_route(**kw) -> dict:
    return {"name": "echo", "service": "test.Echo", "cluster": "backend", **kw}


def log_proxy(start_proxy, tmp_path, routes=None, name="access.log", **access_log):
    path = tmp_path / name
    proxy = start_proxy(routes=routes or [echo_route()],
                        top_extra={"access_log": {"path": str(path), **access_log}})
    return proxy, path


def read_lines(path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def wait_lines(path, n: int, timeout_s: float = 5) -> list[str]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        lines = read_lines(path)
        if len(lines) >= n:
            return lines
        time.sleep(0.02)
    raise AssertionError(f"expected {n} access log lines, have {read_lines(path)}")


def ensure_no_more(path, n: int, settle_s: float = 0.3) -> None:
    """The writer flushes every 50 ms: after a few flushes, still exactly `n` lines."""
    time.sleep(settle_s)
    assert len(read_lines(path)) == n, read_lines(path)


def entries(path, n: int) -> list[dict]:
    return [json.loads(line) for line in wait_lines(path, n)]


def check_common(e: dict, proxy) -> None:
    assert list(e) == FIELDS, f"fields and their order: {list(e)}"
    assert TIME.match(e["start_time"]), e["start_time"]
    assert isinstance(e["duration_ms"], (int, float)) and e["duration_ms"] >= 0
    assert e["listener"] == "web"
    assert re.match(r"^127\.0\.0\.1:\d+$", e["downstream_address"]), e["downstream_address"]
    assert e["downstream_address"] != f"127.0.0.1:{proxy.port}"
    assert HEX32.match(e["request_id"]) and HEX32.match(e["trace_id"]), (e["request_id"], e["trace_id"])


def test_known_sequence_logs_exact_lines(start_proxy, upstream, tmp_path):
    proxy, path = log_proxy(start_proxy, tmp_path)
    up = f"127.0.0.1:{upstream.port}"
    n = 0

    # 1. OK unary (5-byte message: a 10-byte frame each way).
    r = call(proxy.base_url, UNARY, [b"hello"], extra_headers=[("User-Agent", "itest-agent/1")])
    assert r.grpc_status == 0
    n += 1
    e = entries(path, n)[-1]
    check_common(e, proxy)
    assert {k: e[k] for k in FIELDS if k not in ("start_time", "duration_ms", "downstream_address", "request_id",
                                                  "trace_id")} == {
        "listener": "web", "route": "echo", "cluster": "backend", "upstream": up, "path": UNARY,
        "transport": "grpc-web", "http_version": "1.1", "grpc_status": 0, "grpc_message": "",
        "request_bytes": 10, "response_bytes": 10, "request_messages": 1, "response_messages": 1,
        "user_agent": "itest-agent/1"}

    # 2. An error status from the upstream, with its message; grpc-web-text counts decoded bytes.
    r = call(proxy.base_url, UNARY, [b"abc"], text=True, metadata={"x-fail-code": "5", "x-fail-message": "no such thing"})
    assert r.grpc_status == 5
    n += 1
    e = entries(path, n)[-1]
    check_common(e, proxy)
    assert (e["transport"], e["grpc_status"], e["grpc_message"]) == ("grpc-web-text", 5, "no such thing")
    assert (e["request_bytes"], e["request_messages"], e["response_bytes"], e["response_messages"]) == (8, 1, 0, 0)

    # 3. A deadline the proxy enforces.
    r = call(proxy.base_url, UNARY, [b"x"], metadata={"grpc-timeout": "200m", "x-delay-ms": "3000"})
    assert r.grpc_status == 4
    n += 1
    e = entries(path, n)[-1]
    check_common(e, proxy)
    assert (e["grpc_status"], e["grpc_message"], e["route"]) == (4, "deadline of 200 ms exceeded", "echo")
    assert 150 <= e["duration_ms"] < 2000, e["duration_ms"]

    # 4. The client goes away in the middle of a server stream.
    c = open_call(proxy.base_url, STREAM, [b"go"], metadata={"x-stream-forever": "1", "x-stream-interval-ms": "20",
                                                              "x-stream-size": "16"})
    c.read_headers()
    for _ in range(3):
        assert c.next_message() is not None
    c.close()
    n += 1
    e = entries(path, n)[-1]
    check_common(e, proxy)
    assert (e["path"], e["grpc_status"], e["grpc_message"]) == (STREAM, 1, "cancelled by the client")
    assert e["request_messages"] == 1 and e["response_messages"] >= 3
    assert e["response_bytes"] == 21 * e["response_messages"] or e["response_bytes"] > 21 * 3

    # 5. A WebSocket call.
    w = ws_unary(proxy.base_url, UNARY, b"websocket!")
    assert w.grpc_status == 0
    n += 1
    e = entries(path, n)[-1]
    check_common(e, proxy)
    assert (e["transport"], e["http_version"], e["grpc_status"], e["route"], e["upstream"]) == ("websocket", "1.1", 0, "echo", up)
    assert (e["request_bytes"], e["response_bytes"], e["request_messages"], e["response_messages"]) == (15, 15, 1, 1)

    # 6. Native gRPC over h2c.
    with grpc.insecure_channel(f"127.0.0.1:{proxy.port}") as ch:
        assert ch.unary_unary(UNARY)(b"native", timeout=10) == b"native"
    n += 1
    e = entries(path, n)[-1]
    check_common(e, proxy)
    assert (e["transport"], e["http_version"], e["grpc_status"], e["route"], e["cluster"]) == ("grpc", "2", 0, "echo", "backend")
    assert (e["request_bytes"], e["response_bytes"], e["request_messages"], e["response_messages"]) == (11, 11, 1, 1)
    assert e["user_agent"].startswith("grpc-python"), e["user_agent"]

    # 7. No route: the proxy's own status is a call too (no route, no cluster, no upstream).
    r = call(proxy.base_url, "/other.Svc/M", [b"x"])
    assert r.grpc_status == 12
    n += 1
    e = entries(path, n)[-1]
    check_common(e, proxy)
    assert (e["grpc_status"], e["grpc_message"], e["route"], e["cluster"], e["upstream"]) == (12, "no route for /other.Svc/M", "", "", "")

    # A preflight and a plain HTTP error are not calls.
    req = urllib.request.Request(proxy.base_url + UNARY, method="GET")
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(req, timeout=5)
    ensure_no_more(path, n)


def test_format_string_and_default_route_name(start_proxy, upstream, tmp_path):
    fmt = "%route% %cluster% %path% %grpc_status% [%grpc_message%] %request_messages%/%response_messages% %%"
    proxy, path = log_proxy(start_proxy, tmp_path, routes=[default_route()], format=fmt)
    assert call(proxy.base_url, UNARY, [b"a", b"b"]).grpc_status == 0
    call(proxy.base_url, UNARY, [b"a"], metadata={"x-fail-code": "9", "x-fail-message": "line%0Abreak"})
    lines = wait_lines(path, 2)
    assert lines == [f"prefix:/ backend {UNARY} 0 [-] 2/1 %", f"prefix:/ backend {UNARY} 9 [line?break] 1/0 %"]


def test_only_errors_and_sample_zero(start_proxy, upstream, tmp_path):
    proxy, path = log_proxy(start_proxy, tmp_path, only_errors=True)
    for _ in range(3):
        assert call(proxy.base_url, UNARY, [b"ok"]).grpc_status == 0
    assert call(proxy.base_url, UNARY, [b"x"], metadata={"x-fail-code": "7"}).grpc_status == 7
    assert [json.loads(line)["grpc_status"] for line in wait_lines(path, 1)] == [7]
    ensure_no_more(path, 1)

    proxy2, path2 = log_proxy(start_proxy, tmp_path, name="sampled.log", sample=0)
    for _ in range(3):
        assert call(proxy2.base_url, UNARY, [b"ok"]).grpc_status == 0
    assert call(proxy2.base_url, UNARY, [b"x"], metadata={"x-fail-code": "7"}).grpc_status == 7
    ensure_no_more(path2, 0)


def test_rename_and_sigusr1_lose_no_line(start_proxy, upstream, tmp_path):
    proxy, path = log_proxy(start_proxy, tmp_path)
    rotated = tmp_path / "access.log.1"
    total = 0
    for i in range(40):
        assert call(proxy.base_url, UNARY, [f"m{i}".encode()], metadata={"x-request-id": f"rid-{i}"}).grpc_status == 0
        total += 1
        if i == 19:
            os.rename(path, rotated)
            os.kill(proxy.pid, signal.SIGUSR1)
            assert proxy.wait_log("access log reopened", 5)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and len(read_lines(rotated)) + len(read_lines(path)) < total:
        time.sleep(0.02)
    ids = [json.loads(line)["request_id"] for line in read_lines(rotated) + read_lines(path)]
    assert ids == [f"rid-{i}" for i in range(total)]
    assert read_lines(path), "nothing was written to the reopened file"


def echoed_metadata(base_url, metadata) -> dict:
    r = call(base_url, UNARY, [b""], metadata={"x-echo-metadata": "1", **metadata})
    assert r.grpc_status == 0, r.grpc_message
    return json.loads(r.messages[0])


def test_traceparent_and_request_id_kept_replaced_generated(start_proxy, upstream, tmp_path):
    proxy, path = log_proxy(start_proxy, tmp_path)

    kept = echoed_metadata(proxy.base_url, {"traceparent": VALID_TP, "tracestate": "vendor=abc", "x-request-id": "my-id-1"})
    assert (kept["traceparent"], kept["tracestate"], kept["x-request-id"]) == (VALID_TP, "vendor=abc", "my-id-1")
    e = entries(path, 1)[-1]
    assert (e["request_id"], e["trace_id"]) == ("my-id-1", "4bf92f3577b34da6a3ce929d0e0e4736")

    malformed = ["00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",  # upper case
                 "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  # zero trace id
                 "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  # zero parent id
                 "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  # unknown version
                 "garbage"]
    for i, bad in enumerate(malformed):
        got = echoed_metadata(proxy.base_url, {"traceparent": bad})
        tp = got["traceparent"]
        assert isinstance(tp, str) and tp != bad, f"{bad!r} forwarded as {tp!r}"
        m = re.match(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-01$", tp)
        assert m, tp
        assert HEX32.match(got["x-request-id"])
        e = entries(path, 2 + i)[-1]
        assert (e["trace_id"], e["request_id"]) == (m.group(1), got["x-request-id"])

    generated = [echoed_metadata(proxy.base_url, {}) for _ in range(2)]
    for g in generated:
        assert re.match(r"^00-[0-9a-f]{32}-[0-9a-f]{16}-01$", g["traceparent"])
        assert HEX32.match(g["x-request-id"])
    assert generated[0]["x-request-id"] != generated[1]["x-request-id"]
    assert generated[0]["traceparent"] != generated[1]["traceparent"]
    last = entries(path, 1 + len(malformed) + 2)[-1]
    assert last["request_id"] == generated[1]["x-request-id"]
    assert last["trace_id"] == generated[1]["traceparent"][3:35]


def test_websocket_and_native_calls_forward_ids(start_proxy, upstream, tmp_path):
    proxy, path = log_proxy(start_proxy, tmp_path)
    w = ws_unary(proxy.base_url, UNARY, b"", metadata={"x-echo-metadata": "1", "traceparent": VALID_TP})
    assert w.grpc_status == 0
    got = json.loads(w.messages[0])
    assert got["traceparent"] == VALID_TP and HEX32.match(got["x-request-id"])
    assert entries(path, 1)[-1]["request_id"] == got["x-request-id"]
    with grpc.insecure_channel(f"127.0.0.1:{proxy.port}") as ch:
        reply = ch.unary_unary(UNARY)(b"", timeout=10, metadata=[("x-echo-metadata", "1"), ("x-request-id", "native-1")])
    got = json.loads(reply)
    assert got["x-request-id"] == "native-1" and re.match(r"^00-[0-9a-f]{32}-[0-9a-f]{16}-01$", got["traceparent"])
    e = entries(path, 2)[-1]
    assert (e["request_id"], e["trace_id"]) == ("native-1", got["traceparent"][3:35])


def test_dropped_counter_is_exported(start_proxy, upstream, tmp_path):
    proxy, _ = log_proxy(start_proxy, tmp_path)
    with urllib.request.urlopen(f"http://127.0.0.1:{proxy.admin_port}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    assert re.search(r"^grpcwebproxy_access_log_dropped_total 0$", text, re.M), text


def test_bad_access_log_config_is_located(start_proxy, tmp_path):
    import subprocess
    from conftest import require_proxy_bin
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("listeners:\n  - name: web\n    address: 127.0.0.1:0\n    routes:\n      - prefix: /\n        cluster: b\n"
                   "clusters:\n  - name: b\n    endpoints: [127.0.0.1:1]\n"
                   "access_log:\n  format: \"%route% %stauts%\"\n")
    out = subprocess.run([str(require_proxy_bin()), "--config", str(cfg), "--validate"], capture_output=True, text=True, timeout=10)
    assert out.returncode != 0
    assert re.search(r"bad\.yaml:\d+:\d+: access_log\.format: unknown access log field %stauts%", out.stderr + out.stdout), out.stderr
