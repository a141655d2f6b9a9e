"""gRPC calls over the `grpc-websockets` transport: client streaming, bidi, statuses, trailers, deadlines.

Every call goes browser-style through the proxy to the real grpcio upstream (`upstream` fixture); the client is
the `websockets` library (see ws_client.GrpcWsCall). PROTOCOLS.md §3.1 describes the framing.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.parse

import pytest

from ws_client import GrpcWsCall, frame, stat, wait_for, ws_unary

pytestmark = pytest.mark.timeout(60)


def payload(i: int, size: int) -> bytes:
    """Deterministic message bodies that differ per index (so reordering or mixing would show)."""
    return bytes((i * 7 + j) % 256 for j in range(size))


def assert_ok_close(result) -> None:
    assert result.grpc_status == 0, (result.trailers, result.close_code)
    assert result.close_code == 1000, result.close_code
    assert result.leftover_bytes == 0, "the stream ended inside a frame"


# --- client streaming -----------------------------------------------------------------------------------------

def test_client_streaming_ten_messages(proxy, upstream):
    sizes = [i * 100 + 1 for i in range(10)]
    call = GrpcWsCall(proxy.base_url, "/test.Echo/ClientStream")
    assert call.subprotocol == "grpc-websockets"
    for i, n in enumerate(sizes):
        call.send(payload(i, n))
    call.half_close()
    r = call.finish(timeout=10)
    assert r.messages == [b"count=10 bytes=%d" % sum(sizes)]
    assert r.headers is not None and r.headers.get("x-server-id") == "u1", r.headers
    assert not r.trailers_only
    assert_ok_close(r)


def test_client_stream_frames_spanning_websocket_messages(proxy):
    """The server must treat the data messages as one byte stream: frames split across WS messages, several
    frames in one WS message, and a 1-byte WS message must all reassemble."""
    sizes = [0, 1, 300, 5, 4096, 17]
    stream = b"".join(frame(payload(i, n)) for i, n in enumerate(sizes))
    call = GrpcWsCall(proxy.base_url, "/test.Echo/ClientStream")
    cuts = [0, 1, 2, 7, 8, 300, 301, 2000, 4500, len(stream)]
    for a, b in zip(cuts, cuts[1:]):
        call.send_raw(b"\x00" + stream[a:b])
    call.half_close()
    r = call.finish(timeout=10)
    assert r.messages == [b"count=%d bytes=%d" % (len(sizes), sum(sizes))]
    assert_ok_close(r)


def test_client_stream_with_no_messages(proxy):
    call = GrpcWsCall(proxy.base_url, "/test.Echo/ClientStream")
    call.half_close()
    r = call.finish(timeout=10)
    assert r.messages == [b"count=0 bytes=0"]
    assert_ok_close(r)


# --- bidi -----------------------------------------------------------------------------------------------------

def test_bidi_ping_pong_twenty_rounds(proxy):
    call = GrpcWsCall(proxy.base_url, "/test.Echo/Bidi")
    for i in range(20):
        msg = payload(i, 10 + i * 50)
        call.send(msg)
        # The echo must arrive while our side of the stream is still open: nothing may wait for half-close.
        assert call.recv_message(timeout=5) == msg, f"round {i}"
    call.half_close()
    r = call.finish(timeout=10)
    assert len(r.messages) == 20
    assert_ok_close(r)


def test_bidi_burst_while_client_keeps_sending(proxy):
    """Each request is echoed 50 times while the client is still sending: both directions flow at once."""
    n_requests, burst = 20, 50
    call = GrpcWsCall(proxy.base_url, "/test.Echo/Bidi", {"x-bidi-burst": str(burst)})
    sent = [payload(i, 100 + i) for i in range(n_requests)]
    errors: list[BaseException] = []

    def sender():
        try:
            for m in sent:
                call.send(m)
                time.sleep(0.01)
            call.half_close()
        except BaseException as e:  # reported by the main thread
            errors.append(e)

    t = threading.Thread(target=sender)
    t.start()
    got = call.recv_messages(n_requests * burst, timeout=30)
    t.join(10)
    assert not errors, errors
    expected = [m for m in sent for _ in range(burst)]
    assert got == expected
    r = call.finish(timeout=10)
    assert_ok_close(r)


def test_bidi_half_duplex(proxy):
    """All requests, half-close, then all responses."""
    sent = [payload(i, 1 + 37 * i) for i in range(30)]
    call = GrpcWsCall(proxy.base_url, "/test.Echo/Bidi")
    for m in sent:
        call.send(m)
    call.half_close()
    r = call.finish(timeout=15)
    assert r.messages == sent
    assert_ok_close(r)


def test_offered_permessage_deflate_is_harmless(proxy):
    """Browsers always offer permessage-deflate; whether or not the proxy accepts it, calls must work."""
    call = GrpcWsCall(proxy.base_url, "/test.Echo/Bidi", compression="deflate")
    msg = b"compressible " * 200
    call.send(msg)
    assert call.recv_message(timeout=5) == msg
    call.half_close()
    assert_ok_close(call.finish(timeout=10))


# --- unary / metadata / statuses ------------------------------------------------------------------------------

def test_unary_over_websocket_with_metadata(proxy):
    r = ws_unary(proxy.base_url, "/test.Echo/Unary", b"hello ws",
                 {"x-header-color": "blue", "x-trailer-shape": "round"})
    assert r.messages == [b"hello ws"]
    assert r.headers.get("x-header-color") == "blue", r.headers
    assert r.trailers.get("x-trailer-shape") == "round", r.trailers
    assert "grpc-status" not in r.headers, "status belongs in the trailers when headers were sent"
    assert_ok_close(r)


def test_metadata_reaches_upstream(proxy, upstream):
    r = ws_unary(proxy.base_url, "/test.Echo/Unary", b"", [("x-echo-metadata", "1"), ("x-custom", "abc"),
                                                           ("authorization", "Bearer t0ken")])
    assert r.grpc_status == 0
    md = json.loads(r.messages[0])
    assert md.get("x-custom") == "abc" and md.get("authorization") == "Bearer t0ken", md


def test_failure_after_headers_with_custom_trailers(proxy):
    message = "precondition failed: caf\u00e9 \u2713"
    call = GrpcWsCall(proxy.base_url, "/test.Echo/Unary", {
        "x-fail-code": "9", "x-fail-after-headers": "1", "x-trailer-foo": "bar",
        "x-fail-message": urllib.parse.quote(message),
    })
    call.send(b"x")
    call.half_close()
    r = call.finish(timeout=10)
    assert r.headers is not None and r.headers.get("x-server-id") == "u1"
    assert not r.trailers_only
    assert r.messages == []
    assert r.grpc_status == 9
    assert r.trailers.get("x-trailer-foo") == "bar"
    assert r.grpc_message == message
    assert r.close_code == 1000


def test_unknown_method_fails_before_headers(proxy):
    r = ws_unary(proxy.base_url, "/test.Echo/Nope", b"x")
    assert r.messages == []
    assert r.trailers_only, "a call failing before headers answers with one 0x80 block"
    assert r.grpc_status == 12, r.trailers
    assert r.close_code in (1000, None)


def test_deadline_with_client_stream_left_open(proxy, upstream):
    """grpc-timeout in the metadata block bounds the whole call even though the client never half-closes."""
    before = stat(upstream.stats(), "cancelled", "/test.Echo/ClientStream")
    start = time.monotonic()
    call = GrpcWsCall(proxy.base_url, "/test.Echo/ClientStream", {"grpc-timeout": "300m"})
    call.send(b"one")
    r = call.finish(timeout=10)
    elapsed = time.monotonic() - start
    assert r.grpc_status == 4, (r.trailers, r.close_code)
    assert 0.25 <= elapsed < 3.0, elapsed
    assert wait_for(lambda: stat(upstream.stats(), "cancelled", "/test.Echo/ClientStream") > before, 2.0)


# --- cancellation ---------------------------------------------------------------------------------------------

def test_client_vanishing_mid_server_stream_cancels_upstream(proxy, upstream):
    before = stat(upstream.stats(), "cancelled", "/test.Echo/ServerStream")
    call = GrpcWsCall(proxy.base_url, "/test.Echo/ServerStream", {
        "x-stream-forever": "1", "x-stream-interval-ms": "20", "x-stream-size": "64"})
    call.send(b"go")
    call.half_close()
    msgs = call.recv_messages(3, timeout=5)
    assert [m[:4] for m in msgs] == [k.to_bytes(4, "big") for k in range(3)]
    call.abort()  # TCP close, no close frame
    t0 = time.monotonic()
    ok = wait_for(lambda: stat(upstream.stats(), "cancelled", "/test.Echo/ServerStream") > before, 2.0)
    assert ok, "upstream did not see the call cancelled within 2 s"
    assert time.monotonic() - t0 < 2.0


def test_client_vanishing_during_bidi_burst_cancels_upstream(proxy, upstream):
    """The upstream is blocked on flow control (the client stopped reading) when the client vanishes."""
    before = stat(upstream.stats(), "cancelled", "/test.Echo/Bidi")
    call = GrpcWsCall(proxy.base_url, "/test.Echo/Bidi", {"x-bidi-burst": "100000"})
    call.send(b"b" * 1024)
    call.recv_messages(5, timeout=5)
    time.sleep(0.3)  # let buffers fill up
    call.abort()
    ok = wait_for(lambda: stat(upstream.stats(), "cancelled", "/test.Echo/Bidi") > before, 2.0)
    assert ok, "upstream did not see the bidi call cancelled within 2 s"


def test_client_close_frame_cancels_upstream(proxy, upstream):
    """A browser calling ws.close() mid-call: the proxy answers the close handshake and cancels upstream."""
    before = stat(upstream.stats(), "cancelled", "/test.Echo/Bidi")
    call = GrpcWsCall(proxy.base_url, "/test.Echo/Bidi")
    call.send(b"hi")
    assert call.recv_message(timeout=5) == b"hi"
    start = time.monotonic()
    call.ws.close(1000)  # blocks until the server's close frame arrives (close_timeout=5)
    assert time.monotonic() - start < 4.0, "the proxy did not answer the close frame"
    assert wait_for(lambda: stat(upstream.stats(), "cancelled", "/test.Echo/Bidi") > before, 2.0)


def test_proxy_still_serves_after_cancellations(proxy):
    for i in range(3):
        call = GrpcWsCall(proxy.base_url, "/test.Echo/Bidi")
        call.send(b"x")
        call.recv_message(timeout=5)
        call.abort()
    r = ws_unary(proxy.base_url, "/test.Echo/Unary", b"still here")
    assert r.messages == [b"still here"]
    assert_ok_close(r)
