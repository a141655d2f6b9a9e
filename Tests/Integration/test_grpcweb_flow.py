"""Stream lifecycle and resource behaviour: browser disconnects cancel upstream streams,
end-to-end flow control for slow readers, concurrency, connection reuse, upstream GOAWAY."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from grpcweb_client import HTTPConnection, call, frame, grpcweb_headers, open_call
from upstream_server import pattern, stream_message

UNARY = "/test.Echo/Unary"
STREAM = "/test.Echo/ServerStream"
MiB = 1024 * 1024


def wait_for(predicate, timeout_s: float, interval: float = 0.05):
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


@pytest.mark.parametrize("text", [False, True], ids=["binary", "text"])
def test_browser_disconnect_cancels_upstream_stream(proxy, upstream, text):
    upstream.reset_stats()
    c = open_call(proxy.base_url, STREAM, [b"abcd"], text=text,
                  metadata={"x-stream-forever": "1", "x-stream-interval-ms": "50"})
    assert c.result.http_status == 200
    assert c.next_message() == stream_message(0, 4)
    assert c.next_message() == stream_message(1, 4)
    closed_at = time.monotonic()
    c.close()
    st = wait_for(lambda: (s := upstream.stats())["cancelled"].get(STREAM) and s, 3.0)
    assert st, f"upstream never saw the stream cancelled: {upstream.stats()}"
    lag = st["cancel_times"][STREAM][-1] - closed_at
    assert lag < 2.0, f"upstream saw the cancellation {lag:.2f}s after the browser left"
    r = call(proxy.base_url, UNARY, [b"ok"])
    assert r.grpc_status == 0


def test_disconnect_during_unary_cancels_upstream(proxy, upstream):
    upstream.reset_stats()
    conn = HTTPConnection(proxy.base_url)
    conn.send(HTTPConnection.build_request("POST", UNARY, grpcweb_headers(metadata={"x-delay-ms": "5000"}), frame(b"x")))
    assert wait_for(lambda: upstream.stats()["calls"].get(UNARY), 3.0), "call never reached upstream"
    closed_at = time.monotonic()
    conn.close()
    st = wait_for(lambda: (s := upstream.stats())["cancelled"].get(UNARY) and s, 3.0)
    assert st, "upstream never saw the unary call cancelled"
    assert st["cancel_times"][UNARY][-1] - closed_at < 2.0


@pytest.mark.timeout(90)
def test_slow_reader_gets_backpressure_not_buffering(proxy, upstream):
    """64 MiB offered in 64 KiB messages, read at ~1 MiB/s: the proxy must stop granting
    HTTP/2 window instead of buffering, so its RSS stays flat and the upstream stalls."""
    upstream.reset_stats()
    total_msgs, size = 1024, 64 * 1024
    rss0 = proxy.rss_kib()
    c = open_call(proxy.base_url, STREAM, [b"x"], rcvbuf=64 * 1024, read_size=16 * 1024,
                  metadata={"x-stream-count": str(total_msgs), "x-stream-size": str(size)})
    assert c.result.http_status == 200
    start = time.monotonic()
    got = 0
    peak_rss = rss0
    while time.monotonic() - start < 4.0:
        m = c.next_message()
        assert m is not None, f"stream ended early: {c.result.grpc_status} {c.result.grpc_message} {c.result.error}"
        assert m[:4] == got.to_bytes(4, "big")
        got += 1
        # pace to ~1 MiB/s
        ahead = start + got * size / MiB - time.monotonic()
        if ahead > 0:
            time.sleep(ahead)
        if got % 8 == 0:
            peak_rss = max(peak_rss, proxy.rss_kib())
    time.sleep(0.5)  # let whatever can be buffered be buffered
    sent = upstream.stats()["sent"].get(STREAM, 0)
    peak_rss = max(peak_rss, proxy.rss_kib())
    c.close()
    assert got >= 8, f"only {got} messages read in 4 s"
    assert sent < total_msgs, f"upstream sent all {total_msgs} messages while the reader took {got}: no backpressure"
    assert (peak_rss - rss0) < 100 * 1024, f"proxy RSS grew {(peak_rss - rss0) / 1024:.1f} MiB"
    # the abandoned stream is cancelled, and the proxy is fine
    assert wait_for(lambda: upstream.stats()["cancelled"].get(STREAM), 5.0)
    assert call(proxy.base_url, UNARY, [b"ok"]).grpc_status == 0


@pytest.mark.timeout(120)
def test_slow_reader_eventually_gets_everything(proxy):
    """Backpressure is not loss: a reader that pauses still receives every byte in order."""
    c = open_call(proxy.base_url, STREAM, [b"x"], rcvbuf=64 * 1024,
                  metadata={"x-stream-count": "64", "x-stream-size": str(64 * 1024)})
    time.sleep(1.0)
    n = 0
    while (m := c.next_message()) is not None:
        assert m == stream_message(n, 64 * 1024)
        n += 1
    c.close()
    assert n == 64 and c.result.grpc_status == 0, (n, c.result.grpc_status, c.result.error)


def test_100_concurrent_unary_calls(proxy):
    def one(i: int):
        payload = b"call-%03d-" % i + pattern(i * 37)
        r = call(proxy.base_url, UNARY, [payload], text=(i % 2 == 1), metadata={"x-delay-ms": "200"}, timeout_s=30)
        return i, payload, r

    with ThreadPoolExecutor(100) as ex:
        results = list(ex.map(one, range(100)))
    bad = [(i, r.http_status, r.grpc_status, r.grpc_message, r.error) for i, p, r in results
           if r.grpc_status != 0 or r.messages != [p]]
    assert not bad, bad


def test_keepalive_reuses_connection_across_calls(proxy):
    with HTTPConnection(proxy.base_url) as conn:
        for i in range(10):
            text = i % 2 == 1
            if i % 3 == 2:
                r = call(proxy.base_url, STREAM, [b"abcd"], conn=conn, text=text, metadata={"x-stream-count": "2"})
                want = [stream_message(0, 4), stream_message(1, 4)]
            else:
                r = call(proxy.base_url, UNARY, [b"n%d" % i], conn=conn, text=text)
                want = [b"n%d" % i]
            assert r.grpc_status == 0 and r.messages == want, (i, r.grpc_status, r.grpc_message, r.error)
            assert "close" not in r.headers.get("connection", "").lower()
        # errors do not close the connection either
        r = call(proxy.base_url, UNARY, [b"x"], conn=conn, metadata={"x-fail-code": "9"})
        assert r.grpc_status == 9
        r = call(proxy.base_url, UNARY, [b"last"], conn=conn)
        assert r.grpc_status == 0 and r.messages == [b"last"]


@pytest.mark.timeout(90)
def test_upstream_goaway_restart_mid_sequence(proxy, upstream):
    """grpcio's graceful stop sends GOAWAY: the call in flight finishes, later calls use a new
    connection to the restarted server."""
    for i in range(5):
        r = call(proxy.base_url, UNARY, [b"before%d" % i])
        assert r.grpc_status == 0
    inflight = {}

    def slow():
        inflight["r"] = call(proxy.base_url, UNARY, [b"inflight"], metadata={"x-delay-ms": "1000"}, timeout_s=30)

    t = threading.Thread(target=slow)
    t.start()
    assert wait_for(lambda: upstream.stats().get("active", 0) >= 1, 3.0), "slow call never reached upstream"
    upstream.restart()
    t.join(30)
    r = inflight["r"]
    assert r.grpc_status in (0, 14), (r.grpc_status, r.grpc_message)
    if r.grpc_status == 14:  # allowed once: retry it
        r = call(proxy.base_url, UNARY, [b"inflight"], metadata={"x-delay-ms": "1000"})
        assert r.grpc_status == 0
    assert r.messages == [b"inflight"]
    failures = []
    for i in range(15):
        r = call(proxy.base_url, UNARY, [b"after%d" % i], timeout_s=10)
        if r.grpc_status != 0 or r.messages != [b"after%d" % i]:
            failures.append((i, r.grpc_status, r.grpc_message))
    assert not failures, failures
