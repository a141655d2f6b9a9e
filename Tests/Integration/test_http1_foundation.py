"""The HTTP/1.1 side of the proxy on its own terms: persistent connections, pipelining, many
connections, strict rejection of malformed or oversized input (each answered with a status,
``Connection: close`` and a closed socket), header-read timeout, admin readiness and the
SIGTERM drain."""

from __future__ import annotations

import signal
import threading
import time

import pytest

from grpcweb_client import HTTPConnection, call, frame, grpcweb_headers, read_call

UNARY = "/test.Echo/Unary"
STREAM = "/test.Echo/ServerStream"


def tokens(value: str | None) -> set[str]:
    return {t.strip().lower() for t in (value or "").split(",") if t.strip()}


def grpc_request(path: str = UNARY, payload: bytes = b"ping", extra: list | None = None) -> bytes:
    return HTTPConnection.build_request("POST", path, grpcweb_headers(extra=extra), frame(payload))


def assert_serving(proxy):
    r = call(proxy.base_url, UNARY, [b"still-serving"], timeout_s=10)
    assert r.grpc_status == 0 and r.messages == [b"still-serving"], (r.http_status, r.grpc_status, r.grpc_message)


# -- persistent connections -------------------------------------------------------------


def test_keepalive_several_requests_on_one_socket(proxy):
    with HTTPConnection(proxy.base_url) as c:
        for i in range(5):
            c.send(grpc_request(payload=b"req%d" % i))
            r = read_call(c)
            assert r.http_status == 200 and r.grpc_status == 0 and r.messages == [b"req%d" % i]
            assert "close" not in tokens(r.headers.get("connection"))
        assert not c.wait_closed(0.3), "the proxy closed a keep-alive connection"


def test_pipelined_requests_answered_in_order(proxy):
    with HTTPConnection(proxy.base_url) as c:
        # The first call is slower, so an out-of-order proxy would answer the second first.
        c.send(grpc_request(payload=b"first", extra=[("x-delay-ms", "300")])
               + HTTPConnection.build_request("POST", STREAM, grpcweb_headers(extra=[("x-stream-count", "2")]),
                                              frame(b"second"))
               + grpc_request(payload=b"third"))
        r1, r2, r3 = read_call(c), read_call(c), read_call(c)
    assert r1.grpc_status == 0 and r1.messages == [b"first"]
    assert r2.grpc_status == 0 and len(r2.messages) == 2 and r2.messages[0][:4] == b"\0\0\0\0"
    assert r3.grpc_status == 0 and r3.messages == [b"third"]


def test_connection_close_request_is_honoured(proxy):
    with HTTPConnection(proxy.base_url) as c:
        c.send(HTTPConnection.build_request("POST", UNARY, grpcweb_headers(extra=[("Connection", "close")]),
                                            frame(b"bye")))
        r = read_call(c)
        assert r.grpc_status == 0 and r.messages == [b"bye"]
        assert c.wait_closed(3), "proxy kept the connection after Connection: close"


@pytest.mark.timeout(120)
def test_200_concurrent_connections(proxy):
    conns = [HTTPConnection(proxy.base_url, timeout_s=60) for _ in range(200)]
    try:
        for i, c in enumerate(conns):
            c.send(grpc_request(payload=b"conn-%d" % i))
        bad = []
        for i, c in enumerate(conns):
            r = read_call(c, timeout_s=60)
            if r.grpc_status != 0 or r.messages != [b"conn-%d" % i]:
                bad.append((i, r.http_status, r.grpc_status, r.grpc_message, r.error))
        assert not bad, bad[:10]
    finally:
        for c in conns:
            c.close()
    assert_serving(proxy)


# -- rejections -------------------------------------------------------------------------

GRPC_HEADERS = "Host: x\r\nContent-Type: application/grpc-web+proto\r\nX-Grpc-Web: 1\r\n"
BODY = frame(b"x")


def raw(first_line: str, headers: str, body: bytes = BODY, cl: bool = True) -> bytes:
    extra = f"Content-Length: {len(body)}\r\n" if cl else ""
    return (first_line + "\r\n" + headers + extra + "\r\n").encode("latin-1") + body


REJECTIONS = {
    "non-grpc-web-content-type": (raw("POST /test.Echo/Unary HTTP/1.1",
                                      "Host: x\r\nContent-Type: text/plain\r\n", b"hello"), 415),
    "json-content-type": (raw("POST /test.Echo/Unary HTTP/1.1",
                              "Host: x\r\nContent-Type: application/json\r\n", b"{}"), 415),
    "malformed-request-line": (b"GARBAGE\r\n\r\n", 400),
    "request-line-missing-version": (b"POST /test.Echo/Unary\r\nHost: x\r\n\r\n", 400),
    "space-before-colon": (raw("POST /test.Echo/Unary HTTP/1.1", GRPC_HEADERS + "X-Bad : 1\r\n"), 400),
    "content-length-and-transfer-encoding": (
        raw("POST /test.Echo/Unary HTTP/1.1", GRPC_HEADERS + "Transfer-Encoding: chunked\r\n",
            b"%x\r\n%s\r\n0\r\n\r\n" % (len(BODY), BODY)), 400),
    "obs-fold": (raw("POST /test.Echo/Unary HTTP/1.1", GRPC_HEADERS + "X-Folded: a\r\n b\r\n"), 400),
    "content-length-not-a-number": (raw("POST /test.Echo/Unary HTTP/1.1",
                                        GRPC_HEADERS + "Content-Length: abc\r\n", cl=False), 400),
    "content-length-negative": (raw("POST /test.Echo/Unary HTTP/1.1",
                                    GRPC_HEADERS + "Content-Length: -1\r\n", cl=False), 400),
    "content-length-conflicting": (raw("POST /test.Echo/Unary HTTP/1.1",
                                       GRPC_HEADERS + "Content-Length: 6\r\nContent-Length: 7\r\n", cl=False), 400),
    "unsupported-transfer-encoding": (
        raw("POST /test.Echo/Unary HTTP/1.1", GRPC_HEADERS + "Transfer-Encoding: gzip, chunked\r\n",
            b"%x\r\n%s\r\n0\r\n\r\n" % (len(BODY), BODY), cl=False), 501),
    "get-on-route": (b"GET /test.Echo/Unary HTTP/1.1\r\nHost: x\r\n\r\n", 405),
    "too-many-headers": (raw("POST /test.Echo/Unary HTTP/1.1",
                             GRPC_HEADERS + "".join(f"X-H{i}: v\r\n" for i in range(101))), 431),
    "headers-too-large": (raw("POST /test.Echo/Unary HTTP/1.1", GRPC_HEADERS + "X-Big: " + "a" * 70000 + "\r\n"),
                          431),
}


@pytest.mark.parametrize("name", list(REJECTIONS))
def test_bad_request_rejected_and_connection_closed(proxy, upstream, name):
    data, status = REJECTIONS[name]
    upstream.reset_stats()
    with HTTPConnection(proxy.base_url, timeout_s=10) as c:
        c.send(data)
        resp = c.read_head()
        assert resp.status == status, (resp.status, resp.reason, resp.headers)
        assert "close" in tokens(resp.headers.get("connection")), resp.headers
        assert c.wait_closed(3), "socket left open after a rejection"
    assert sum(upstream.stats()["calls"].values()) == 0, "a rejected request reached the upstream"
    assert_serving(proxy)


def test_body_over_max_request_body_size_is_413(start_proxy, upstream):
    p = start_proxy(top_extra={"limits": {"max_request_body_size": "1MiB"}})
    upstream.reset_stats()
    with HTTPConnection(p.base_url, timeout_s=10) as c:
        head = HTTPConnection.build_request("POST", UNARY, grpcweb_headers() + [("Content-Length", str(2 << 20))],
                                            None)
        c.send(head + frame(b"x" * 1000))  # announce 2 MiB, send a little: the length alone decides
        resp = c.read_head()
        assert resp.status == 413, (resp.status, resp.headers)
        assert "close" in tokens(resp.headers.get("connection"))
        assert c.wait_closed(3)
    assert sum(upstream.stats()["calls"].values()) == 0
    assert_serving(p)


def test_chunked_request_body_is_accepted(proxy):
    body = frame(b"chunky" * 100)
    chunks = [body[i:i + 37] for i in range(0, len(body), 37)]
    r = call(proxy.base_url, UNARY, body=chunks, chunked=True)
    assert r.grpc_status == 0 and r.messages == [b"chunky" * 100]


def test_header_read_timeout_closes_slowloris(start_proxy):
    p = start_proxy(top_extra={"limits": {"header_read_timeout": "1s"}})
    with HTTPConnection(p.base_url, timeout_s=10) as c:
        c.send(b"POST /test.Echo/Unary HTTP/1.1\r\nHost: x\r\nContent-Type: appl")
        t0 = time.monotonic()
        assert c.wait_closed(5), "proxy never closed a connection with half a request"
        elapsed = time.monotonic() - t0
    assert 0.8 <= elapsed <= 3.0, f"closed after {elapsed:.2f}s with header_read_timeout 1s"
    assert_serving(p)


def test_slow_but_complete_headers_within_timeout_are_fine(start_proxy):
    p = start_proxy(top_extra={"limits": {"header_read_timeout": "2s"}})
    data = grpc_request(payload=b"slow")
    with HTTPConnection(p.base_url, timeout_s=10) as c:
        for i in range(0, len(data), 20):
            c.send(data[i:i + 20])
            time.sleep(0.02)
        r = read_call(c)
    assert r.grpc_status == 0 and r.messages == [b"slow"]


def test_idle_keepalive_connection_is_closed(start_proxy):
    p = start_proxy(top_extra={"limits": {"idle_timeout": "1s"}})
    with HTTPConnection(p.base_url, timeout_s=10) as c:
        c.send(grpc_request(payload=b"idle"))
        r = read_call(c)
        assert r.grpc_status == 0
        t0 = time.monotonic()
        assert c.wait_closed(5), "idle keep-alive connection never closed"
        elapsed = time.monotonic() - t0
    assert 0.8 <= elapsed <= 3.0, f"closed after {elapsed:.2f}s with idle_timeout 1s"


def test_active_stream_is_not_idle(start_proxy):
    """A server stream that keeps sending is activity: idle_timeout must not cut it."""
    p = start_proxy(top_extra={"limits": {"idle_timeout": "1s"}})
    r = call(p.base_url, STREAM, [b"abcd"], metadata={"x-stream-count": "6", "x-stream-interval-ms": "400"})
    assert r.grpc_status == 0 and len(r.messages) == 6, (r.grpc_status, r.grpc_message, len(r.messages), r.error)
    # a connection waiting for a slow upstream answer has an active request: not idle either
    r = call(p.base_url, UNARY, [b"slow"], metadata={"x-delay-ms": "2000"})
    assert r.grpc_status == 0 and r.messages == [b"slow"], (r.grpc_status, r.grpc_message, r.error)


# -- admin and lifecycle ----------------------------------------------------------------


def test_admin_ready(proxy):
    assert proxy.ready_status() == 200


@pytest.mark.timeout(60)
def test_sigterm_drains_in_flight_call(start_proxy):
    p = start_proxy(top_extra={"drain_timeout": "5s"})
    result = {}

    def slow_call():
        try:
            result["r"] = call(p.base_url, UNARY, [b"draining"], metadata={"x-delay-ms": "2000"}, timeout_s=20)
        except Exception as e:  # reported below
            result["e"] = e

    t = threading.Thread(target=slow_call)
    t.start()
    time.sleep(0.5)
    t_sig = time.monotonic()
    p.proc.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    ready = p.ready_status(timeout_s=1)
    assert ready in (503, None), f"/ready said {ready} while draining"
    t.join(20)
    assert "r" in result, f"the in-flight call failed: {result.get('e')!r}"
    r = result["r"]
    assert r.grpc_status == 0 and r.messages == [b"draining"], (r.grpc_status, r.grpc_message, r.error)
    rc = p.stop(timeout=6)  # marks the stop as intended; the process should already be exiting
    exited_after = time.monotonic() - t_sig
    assert rc == 0, f"exit code {rc}"
    assert exited_after <= 5.0 + 1.5, f"exited {exited_after:.2f}s after SIGTERM (drain_timeout 5s)"


@pytest.mark.timeout(60)
def test_sigterm_drain_timeout_bounds_shutdown(start_proxy):
    """A call longer than drain_timeout does not keep the process alive."""
    p = start_proxy(top_extra={"drain_timeout": "1s"})
    c_thread_result = {}

    def long_call():
        try:
            c_thread_result["r"] = call(p.base_url, UNARY, [b"x"], metadata={"x-delay-ms": "10000"}, timeout_s=20)
        except Exception as e:  # the proxy may just close the connection
            c_thread_result["e"] = e

    t = threading.Thread(target=long_call)
    t.start()
    time.sleep(0.5)
    t_sig = time.monotonic()
    p.proc.send_signal(signal.SIGTERM)
    try:
        rc = p.proc.wait(1.0 + 2.0)
    finally:
        p.stop(timeout=1)
    assert rc == 0, f"exit code {rc}"
    assert time.monotonic() - t_sig <= 3.0
    t.join(20)
    r = c_thread_result.get("r")
    assert r is None or r.grpc_status != 0, "a call cut by the drain must not look successful"


def test_new_connections_after_sigterm_are_not_served_as_ready(start_proxy):
    p = start_proxy(top_extra={"drain_timeout": "2s"})
    p.proc.send_signal(signal.SIGTERM)
    rc = p.stop(timeout=5)
    assert rc == 0
    assert p.ready_status(timeout_s=1) is None
