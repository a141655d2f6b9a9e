"""Backpressure both ways over WebSocket (issue: memory per call stays bounded whatever either side does).

- A slow upstream (it does not read its request stream for a while, so its HTTP/2 window closes) must make the
  proxy stop reading the browser's socket: the client cannot push much more than kernel buffers hold, and the
  proxy's memory does not grow with what the client tries to send.
- A slow browser (it stops reading) must make the proxy stop granting HTTP/2 window: the upstream cannot send
  everything, and the proxy's memory stays flat.
"""

from __future__ import annotations

import threading
import time

import pytest

from ws_client import GrpcWsCall, stat

pytestmark = pytest.mark.timeout(90)

MIB = 1024 * 1024


def test_slow_upstream_stops_reading_the_browser(start_proxy, upstream):
    proxy = start_proxy(top_extra={"limits": {"write_buffer_limit": "256KiB"}})
    rss0 = proxy.rss_kib()
    # The upstream sleeps 4 s before it reads any request message.
    call = GrpcWsCall(proxy.base_url, "/test.Echo/ClientStream", {"x-delay-ms": "4000"})
    message = bytes(range(256)) * 4096  # 1 MiB
    sent = 0
    stop = threading.Event()

    def pump():
        nonlocal sent
        while not stop.is_set() and sent < 400:
            call.send(message)  # blocks once the proxy stops reading and the kernel buffers are full
            sent += 1

    t = threading.Thread(target=pump, daemon=True)
    t.start()
    time.sleep(2.0)
    sent_while_upstream_slept = sent
    peak = proxy.rss_kib()
    # Without backpressure the proxy would swallow ~400 MiB in 2 s; loopback kernel buffers hold a few MiB.
    assert sent_while_upstream_slept < 64, f"client pushed {sent_while_upstream_slept} MiB into a stalled call"
    assert peak - rss0 < 48 * 1024, f"proxy RSS grew by {(peak - rss0) // 1024} MiB"
    stop.set()
    t.join(timeout=30)
    assert not t.is_alive(), "sending never resumed after the upstream started reading"
    call.half_close()
    result = call.finish(timeout=60)
    assert result.grpc_status == 0, result.trailers
    assert result.messages == [b"count=%d bytes=%d" % (sent, sent * len(message))]


def test_slow_browser_throttles_the_upstream(start_proxy, upstream):
    proxy = start_proxy()
    upstream.reset_stats()
    rss0 = proxy.rss_kib()
    total, size = 1024, 64 * 1024  # 64 MiB offered
    call = GrpcWsCall(proxy.base_url, "/test.Echo/ServerStream",
                      {"x-stream-count": str(total), "x-stream-size": str(size)})
    call.send(b"x")
    call.half_close()
    time.sleep(3.0)  # the browser reads nothing
    produced = stat(upstream.stats(), "sent", "/test.Echo/ServerStream") or 0
    peak = proxy.rss_kib()
    assert produced < total, "the upstream sent the whole stream although nobody read it"
    assert peak - rss0 < 48 * 1024, f"proxy RSS grew by {(peak - rss0) // 1024} MiB"
    # Reading resumes the flow: everything arrives, in order.
    got = call.recv_messages(total, timeout=60)
    assert [m[:4] for m in got[:3]] == [i.to_bytes(4, "big") for i in range(3)]
    assert len(got) == total and all(len(m) == size for m in got)
    result = call.finish(timeout=30)
    assert result.grpc_status == 0
