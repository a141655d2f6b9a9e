"""Issue 11, HTTP/2 abuse: the known attacks on an HTTP/2 server, each written frame by frame (h2c, so every
byte is the test's own): rapid reset (CVE-2023-44487), an endless CONTINUATION sequence, oversized header lists
(literal and HPACK-amplified), control-frame floods (PING read and unread, SETTINGS, PRIORITY, empty DATA),
streams beyond max_concurrent_streams, an idle connection, and SIGTERM's graceful GOAWAY. Each test checks the
proxy's answer (GOAWAY code / RST_STREAM code), the contract's counter in /metrics, and that other connections
are still served within a deadline afterwards."""

from __future__ import annotations

import signal
import struct
import time

import pytest

from h2_support import CONTINUATION, END_STREAM, COMPRESSION_ERROR, DATA, END_HEADERS, ENHANCE_YOUR_CALM, \
    FLOOD_GOAWAYS, GOAWAY, HEADER_LIST_TOO_LARGE, HEADERS, NO_ERROR, PING, PRIORITY, \
    PROTOCOL_ERROR, PROTOCOL_ERRORS, RAPID_RESET_GOAWAYS, REFUSED_STREAM, RST_STREAM, SETTINGS, STREAM, \
    STREAMS_REFUSED, UNARY, RawH2, assert_h2_still_serving, error_name, frame_bytes, grpcweb_request_headers, \
    h2_proxy, h2load, header_block, hpack_int, metric_or_zero, wait_metric_above
from conftest import SANITIZER_RSS_SLACK_MIB
from grpcweb_client import frame

pytestmark = pytest.mark.timeout(30)

CONNECTION_ERRORS = {PROTOCOL_ERROR, COMPRESSION_ERROR, ENHANCE_YOUR_CALM}


def assert_goaway(conn: RawH2, codes: set[int], what: str, timeout_s: float = 10):
    g = conn.wait_goaway(timeout_s)
    assert g is not None, f"{what}: no GOAWAY (connection closed: {conn.eof}, read error: {conn.read_error})"
    assert g.error_code in codes, f"{what}: GOAWAY {error_name(g.error_code)}, wanted one of " \
                                  f"{[error_name(c) for c in codes]}"
    return g


def request_frames(conn: RawH2, sid: int, path: str = UNARY, metadata=None, body: bytes = b"x") -> bytes:
    return conn.grpcweb_headers(sid, path, metadata) + conn.data(sid, frame(body), end_stream=True)


# --------------------------------------------------------------------------------------
# Rapid reset
# --------------------------------------------------------------------------------------


def test_rapid_reset_gets_goaway_enhance_your_calm(start_proxy, upstream):
    """1,000 HEADERS+RST_STREAM pairs (the limit is 200 resets per 10 s): GOAWAY ENHANCE_YOUR_CALM, the
    connection closed, the counter moved, and not all 1,000 calls were started upstream."""
    proxy = h2_proxy(start_proxy)
    before = metric_or_zero(proxy, RAPID_RESET_GOAWAYS)
    upstream.reset_stats()
    with RawH2(proxy.port) as c:
        burst = b"".join(c.grpcweb_headers(sid, STREAM, {"x-stream-forever": "1", "x-stream-interval-ms": 100}) +
                         c.rst(sid) for sid in range(1, 2001, 2))
        c.try_send(burst)
        g = assert_goaway(c, {ENHANCE_YOUR_CALM}, "rapid reset")
        assert g.last_stream_id < 1999, g.last_stream_id
        assert c.wait_closed(5), "the connection stayed open after GOAWAY"
    assert wait_metric_above(proxy, RAPID_RESET_GOAWAYS, before) > before, "rapid reset GOAWAY not counted"
    assert_h2_still_serving(proxy)
    st = upstream.stats()
    assert st["calls"].get(STREAM, 0) < 1000, st["calls"]
    deadline = time.monotonic() + 5
    while upstream.stats()["active"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert upstream.stats()["active"] == 0, "reset streams left calls running upstream"


def test_resets_below_the_limit_are_fine(start_proxy):
    """A client that cancels a few calls now and then is not an attacker: 50 resets, then normal calls."""
    proxy = h2_proxy(start_proxy)
    with RawH2(proxy.port) as c:
        c.send(b"".join(c.grpcweb_headers(sid, STREAM, {"x-stream-forever": "1"}) + c.rst(sid)
                        for sid in range(1, 101, 2)))
        c.grpcweb_call(101, UNARY, [b"after resets"])
        st = c.wait_stream(101, 5)
        assert st.grpc_status == 0 and st.messages == [b"after resets"], st.describe()
        assert c.wait_goaway(0.3) is None


# --------------------------------------------------------------------------------------
# CONTINUATION and header lists
# --------------------------------------------------------------------------------------


def test_endless_continuation_is_a_connection_error(start_proxy):
    """HEADERS without END_HEADERS, then CONTINUATION frames that never end (CVE-2024-27316 family): the proxy
    ends the connection long before 10,000 frames, instead of buffering them."""
    proxy = h2_proxy(start_proxy)
    before = metric_or_zero(proxy, PROTOCOL_ERRORS)
    with RawH2(proxy.port) as c:
        c.send(frame_bytes(HEADERS, 0, 1, header_block(grpcweb_request_headers(UNARY))))
        sent = 0
        piece = header_block([("x-pad", "a" * 100)])
        t0 = time.monotonic()
        while sent < 10_000 and not c.eof and c.wait_goaway(0) is None:
            if not c.try_send(b"".join(frame_bytes(CONTINUATION, 0, 1, piece) for _ in range(50))):
                break
            sent += 50
        g = assert_goaway(c, CONNECTION_ERRORS, "endless CONTINUATION")
        assert c.wait_closed(5), "the connection stayed open after GOAWAY"
        assert time.monotonic() - t0 < 10
    assert sent < 10_000, "10,000 CONTINUATION frames went in without the proxy reacting"
    assert g.last_stream_id == 0, g.last_stream_id
    assert wait_metric_above(proxy, PROTOCOL_ERRORS, before) > before, "the protocol error was not counted"
    assert_h2_still_serving(proxy)


def test_one_mib_literal_header_list(start_proxy, upstream):
    """A 1 MiB header list sent as HEADERS + CONTINUATION frames of 16 KiB: RST_STREAM or GOAWAY, never an
    upstream call."""
    proxy = h2_proxy(start_proxy)
    counters = (HEADER_LIST_TOO_LARGE, PROTOCOL_ERRORS)
    before = {m: metric_or_zero(proxy, m) for m in counters}
    calls_before = upstream.stats()["calls"].get(UNARY, 0)
    block = header_block(grpcweb_request_headers(UNARY) + [(f"x-big-{i}", "b" * 16_000) for i in range(66)])
    assert len(block) > 1 << 20
    chunks = [block[i:i + 16_384] for i in range(0, len(block), 16_384)]
    with RawH2(proxy.port) as c:
        wire = frame_bytes(HEADERS, 0, 1, chunks[0])
        wire += b"".join(frame_bytes(CONTINUATION, END_HEADERS if i == len(chunks) - 1 else 0, 1, ch)
                         for i, ch in enumerate(chunks[1:], 1))
        c.try_send(wire + c.data(1, frame(b"x"), end_stream=True))
        answer = c.wait_for(lambda fs: next((f for f in fs if f.type == GOAWAY or
                                             (f.type == RST_STREAM and f.stream_id == 1)), None), 10)
        assert answer is not None, f"no RST_STREAM or GOAWAY (closed: {c.eof})"
        if answer.type == GOAWAY:
            assert answer.error_code in CONNECTION_ERRORS, error_name(answer.error_code)
        assert not any(f.type == HEADERS and f.stream_id == 1 and dict(f.headers or []).get(":status") == "200"
                       for f in c.frames), "the oversized request was answered 200"
    moved = [m for m in counters if wait_metric_above(proxy, m, before[m], 2) > before[m]]
    assert moved, f"neither {counters} moved"
    assert upstream.stats()["calls"].get(UNARY, 0) == calls_before, "the oversized request reached the upstream"
    assert_h2_still_serving(proxy)


def hpack_bomb(value_size: int = 4000, refs: int = 262) -> bytes:
    """A small header block that decodes to ~1 MiB: one field added to the dynamic table (literal with
    incremental indexing) and then referenced ``refs`` times by its index (62, one byte each)."""
    name, value = b"x-bomb", b"v" * value_size
    add = b"\x40" + hpack_int(len(name), 7, 0) + name + hpack_int(len(value), 7, 0) + value
    return add + bytes([0x80 | 62]) * refs


def test_hpack_amplified_header_list_is_refused(start_proxy, upstream):
    """~1 MiB of decoded headers from a 4 KiB block: the limit applies to the decoded list (RST_STREAM, or a
    GOAWAY); when only the stream was reset, the connection still serves the next call."""
    proxy = h2_proxy(start_proxy)
    before = metric_or_zero(proxy, HEADER_LIST_TOO_LARGE)
    calls_before = upstream.stats()["calls"].get(UNARY, 0)
    with RawH2(proxy.port) as c:
        block = header_block(grpcweb_request_headers(UNARY)) + hpack_bomb()
        assert len(block) < 5000
        c.send(frame_bytes(HEADERS, END_HEADERS, 1, block) + c.data(1, frame(b"x"), end_stream=True))
        answer = c.wait_for(lambda fs: next((f for f in fs if f.type == GOAWAY or
                                             (f.type == RST_STREAM and f.stream_id == 1)), None), 10)
        assert answer is not None, f"no RST_STREAM or GOAWAY (closed: {c.eof})"
        if answer.type == GOAWAY:
            assert answer.error_code in CONNECTION_ERRORS, error_name(answer.error_code)
        else:
            c.grpcweb_call(3, UNARY, [b"next on the same connection"])
            st = c.wait_stream(3, 5)
            assert st.grpc_status == 0 and st.messages == [b"next on the same connection"], st.describe()
    assert wait_metric_above(proxy, HEADER_LIST_TOO_LARGE, before) > before, "the oversized list was not counted"
    assert upstream.stats()["calls"].get(UNARY, 0) == calls_before + (0 if answer.type == GOAWAY else 1)
    assert_h2_still_serving(proxy)


def test_header_list_just_over_the_limit_resets_only_that_stream(start_proxy):
    """80 KiB of headers in five frames (within the CONTINUATION allowance) against the 64 KiB default: a stream
    error, RST_STREAM (or a 431-style answer), and the connection goes on."""
    proxy = h2_proxy(start_proxy)
    before = metric_or_zero(proxy, HEADER_LIST_TOO_LARGE)
    block = header_block(grpcweb_request_headers(UNARY) + [(f"x-big-{i}", "c" * 8000) for i in range(10)])
    chunks = [block[i:i + 16_384] for i in range(0, len(block), 16_384)]
    assert len(chunks) <= 6
    with RawH2(proxy.port) as c:
        wire = frame_bytes(HEADERS, END_HEADERS if len(chunks) == 1 else 0, 1, chunks[0])
        wire += b"".join(frame_bytes(CONTINUATION, END_HEADERS if i == len(chunks) - 1 else 0, 1, ch)
                         for i, ch in enumerate(chunks[1:], 1))
        c.send(wire + c.data(1, frame(b"x"), end_stream=True))
        st = c.wait_stream(1, 5)
        assert st.reset_code is not None or (st.status is not None and 400 <= st.status < 500), st.describe()
        assert c.wait_goaway(0.2) is None, "a stream error ended the whole connection"
        c.grpcweb_call(3, UNARY, [b"next"])
        nxt = c.wait_stream(3, 5)
        assert nxt.grpc_status == 0 and nxt.messages == [b"next"], nxt.describe()
    assert wait_metric_above(proxy, HEADER_LIST_TOO_LARGE, before) > before


# --------------------------------------------------------------------------------------
# Control-frame floods
# --------------------------------------------------------------------------------------


def flood_frame(kind: str, i: int) -> bytes:
    if kind == "ping":
        return frame_bytes(PING, 0, 0, struct.pack(">Q", i))
    if kind == "settings":
        return frame_bytes(SETTINGS, 0, 0)
    if kind == "priority":
        return frame_bytes(PRIORITY, 0, 1 + 2 * (i % 1000), struct.pack(">IB", 0, 15))
    if kind == "empty_data":
        return frame_bytes(DATA, 0, 1)
    raise ValueError(kind)


@pytest.mark.parametrize("kind", ["ping", "settings", "priority", "empty_data"])
def test_control_frame_flood_read_by_the_client(start_proxy, kind):
    """20,000 control frames (or empty DATA frames on an open stream) from a client that reads every answer: the
    limit is 10,000 per window, so GOAWAY ENHANCE_YOUR_CALM before the end."""
    proxy = h2_proxy(start_proxy)
    before = metric_or_zero(proxy, FLOOD_GOAWAYS)
    with RawH2(proxy.port) as c:
        if kind == "empty_data":  # a stream that stays open: its request body never ends
            c.send(c.grpcweb_headers(1, STREAM, {"x-stream-forever": "1", "x-stream-interval-ms": 1000}))
        for start in range(0, 20_000, 1000):
            if not c.try_send(b"".join(flood_frame(kind, i) for i in range(start, start + 1000))) or c.eof:
                break
        assert_goaway(c, {ENHANCE_YOUR_CALM}, f"{kind} flood")
        assert c.wait_closed(5), "the connection stayed open after GOAWAY"
        if kind == "ping":
            acks = sum(1 for f in c.frames if f.type == PING)
            assert acks < 20_000, "every PING was answered: no flood limit"
    assert wait_metric_above(proxy, FLOOD_GOAWAYS, before) > before, "the flood GOAWAY was not counted"
    assert_h2_still_serving(proxy)


def test_ping_flood_from_a_client_that_never_reads(start_proxy):
    """20,000 PINGs and no reading (a small receive buffer, so the ACKs back up): the proxy must end the
    connection rather than queue ACKs forever. If a GOAWAY comes, it says ENHANCE_YOUR_CALM."""
    proxy = h2_proxy(start_proxy)
    counters = (FLOOD_GOAWAYS, PROTOCOL_ERRORS)
    before = {m: metric_or_zero(proxy, m) for m in counters}
    rss_before = proxy.rss_kib()
    c = RawH2(proxy.port, read=False, rcvbuf=4096, timeout_s=3)
    try:
        sent = 0
        for start in range(0, 20_000, 1000):
            if not c.try_send(b"".join(flood_frame("ping", i) for i in range(start, start + 1000))):
                break
            sent += 1000
        c.start_reading()
        assert c.wait_closed(10), f"the connection is still open after {sent} unanswered PINGs"
        goaways = [f for f in c.frames if f.type == GOAWAY]
        assert all(g.error_code == ENHANCE_YOUR_CALM for g in goaways), [error_name(g.error_code) for g in goaways]
    finally:
        c.close()
    moved = [m for m in counters if wait_metric_above(proxy, m, before[m], 2) > before[m]]
    assert moved, f"neither {counters} moved"
    assert proxy.rss_kib() - rss_before < (32 + SANITIZER_RSS_SLACK_MIB) * 1024
    assert_h2_still_serving(proxy)


# --------------------------------------------------------------------------------------
# Concurrency limit, idle timeout, SIGTERM
# --------------------------------------------------------------------------------------


def test_streams_beyond_an_acknowledged_max_concurrent_streams_end_the_connection(start_proxy):
    """max_concurrent_streams 5, SETTINGS acknowledged, then 6 long calls at once. nghttp2 1.52 treats a stream over
    an acknowledged limit as a connection error (GOAWAY PROTOCOL_ERROR; RFC 9113 §5.1.2 asks for a stream error,
    which nghttp2 gives only before the ACK). A client that respects the limit never sees this; one that does not
    loses only its own connection: it is counted, and other connections are served."""
    proxy = h2_proxy(start_proxy, limits={"max_concurrent_streams": 5})
    before = metric_or_zero(proxy, PROTOCOL_ERRORS)
    with RawH2(proxy.port) as c:
        # The reader ACKs the proxy's SETTINGS before recording them: once they are seen, the ACK is out.
        settings = c.wait_for(lambda fs: any(f.type == SETTINGS and not f.flags & 1 for f in fs), 5)
        assert settings
        md = {"x-stream-count": 3, "x-stream-interval-ms": 300}
        c.send(b"".join(request_frames(c, sid, STREAM, md) for sid in range(1, 13, 2)))
        g = assert_goaway(c, {PROTOCOL_ERROR}, "a stream over the acknowledged limit")
        assert g.last_stream_id <= 9, g.last_stream_id
        assert c.wait_closed(5), "the connection stayed open after GOAWAY"
    assert wait_metric_above(proxy, PROTOCOL_ERRORS, before) > before, "the connection error was not counted"
    assert_h2_still_serving(proxy)


def test_streams_over_the_limit_before_the_settings_ack_are_refused(start_proxy, upstream, tmp_path):
    """h2load opens 20 streams at once, before the proxy's SETTINGS (max_concurrent_streams 5) can have reached it:
    the streams over the limit get RST_STREAM(REFUSED_STREAM) (counted; a client may retry them), the others
    succeed, and the connection stays up (no protocol error)."""
    proxy = h2_proxy(start_proxy, limits={"max_concurrent_streams": 5})
    errors_before = metric_or_zero(proxy, PROTOCOL_ERRORS)
    refused_before = metric_or_zero(proxy, STREAMS_REFUSED)
    body = tmp_path / "grpcweb-body.bin"
    body.write_bytes(b"\x00" + (5).to_bytes(4, "big") + b"hello")
    r = h2load(f"http://127.0.0.1:{proxy.port}{UNARY}", body, ["content-type: application/grpc-web+proto"],
               requests=200, clients=1, streams=20)
    assert r.total == 200 and r.succeeded >= 180 and r.succeeded + r.errored == 200, r.output
    refused = metric_or_zero(proxy, STREAMS_REFUSED) - refused_before
    assert refused == r.errored, (refused, r.output)
    assert metric_or_zero(proxy, PROTOCOL_ERRORS) == errors_before


def test_idle_connection_gets_goaway_no_error(start_proxy):
    """limits.idle_timeout 1s: a connection without streams gets GOAWAY NO_ERROR and is closed; one whose stream
    is still running (messages 700 ms apart, 2.1 s in all) is not idle."""
    proxy = h2_proxy(start_proxy, top_extra={"limits": {"idle_timeout": "1s"}})
    with RawH2(proxy.port) as idle, RawH2(proxy.port) as busy:
        busy.send(request_frames(busy, 1, STREAM, {"x-stream-count": 4, "x-stream-interval-ms": 700}))
        t0 = time.monotonic()
        g = assert_goaway(idle, {NO_ERROR}, "idle timeout", timeout_s=5)
        assert 0.8 <= g.at - t0 < 3, g.at - t0
        assert idle.wait_closed(3)
        st = busy.wait_stream(1, 10)
        assert st.grpc_status == 0 and len(st.messages) == 4, st.describe()
        ended_at = max(f.at for f in busy.stream_frames(1))
        assert not any(f.type == GOAWAY and f.at < ended_at for f in busy.frames), "a busy connection was idle"


def test_sigterm_drains_with_goaway(start_proxy, upstream):
    """SIGTERM with a stream in flight: GOAWAY NO_ERROR naming that stream as the last one, the stream finishes
    with all its messages, a stream opened after the GOAWAY is not served, the connection then closes and the
    proxy exits 0."""
    proxy = h2_proxy(start_proxy, top_extra={"drain_timeout": "5s"})
    calls_before = upstream.stats()["calls"].get(UNARY, 0)
    with RawH2(proxy.port) as c:
        c.send(request_frames(c, 1, STREAM, {"x-stream-count": 5, "x-stream-interval-ms": 300}))
        assert c.wait_for(lambda fs: any(f.type == DATA and f.stream_id == 1 for f in fs), 5)
        proxy.stopped_by_test = True
        proxy.proc.send_signal(signal.SIGTERM)
        g = c.wait_goaway(5, final=True)
        assert g is not None, f"no GOAWAY after SIGTERM (closed: {c.eof})"
        assert g.error_code == NO_ERROR and g.last_stream_id == 1, (error_name(g.error_code), g.last_stream_id)
        c.try_send(request_frames(c, 3, UNARY, body=b"too late"))
        st = c.wait_stream(1, 5)
        assert st.grpc_status == 0 and len(st.messages) == 5, st.describe()
        assert c.wait_closed(5), "the connection stayed open after its last stream"
        late = c.stream_result(3)
        assert late.status is None or late.reset_code == REFUSED_STREAM, late.describe()
    assert proxy.proc.wait(10) == 0
    assert upstream.stats()["calls"].get(UNARY, 0) == calls_before, "a stream after GOAWAY reached the upstream"


def test_sigterm_drain_timeout_cuts_a_longer_stream(start_proxy):
    """A stream longer than drain_timeout (1 s) does not keep the process alive, and does not end looking
    successful."""
    proxy = h2_proxy(start_proxy, top_extra={"drain_timeout": "1s"})
    with RawH2(proxy.port) as c:
        c.send(request_frames(c, 1, STREAM, {"x-stream-count": 30, "x-stream-interval-ms": 300}))
        assert c.wait_for(lambda fs: any(f.type == DATA and f.stream_id == 1 for f in fs), 5)
        proxy.stopped_by_test = True
        t0 = time.monotonic()
        proxy.proc.send_signal(signal.SIGTERM)
        assert proxy.proc.wait(5) == 0
        assert time.monotonic() - t0 <= 1 + 2
        assert c.wait_closed(5)
        st = c.stream_result(1)
        assert st.grpc_status != 0 and len(st.messages) < 30, st.describe()


def test_a_client_that_never_ends_its_side_after_the_answer_is_reset(start_proxy):
    """A request the proxy answers itself (a content type that is not gRPC-Web: 415) while the client keeps its
    side open (no END_STREAM, no body): the answer arrives at once, and after the 5 s grace the stream is ended
    with RST_STREAM(NO_ERROR) (RFC 9113 §8.1), so it does not hold a slot of max_concurrent_streams forever."""
    proxy = h2_proxy(start_proxy)
    headers = [(k, "application/json" if k == "content-type" else v) for k, v in grpcweb_request_headers(UNARY)]
    with RawH2(proxy.port) as c:
        t0 = time.monotonic()
        c.send(frame_bytes(HEADERS, END_HEADERS, 1, header_block(headers)))
        answered = c.wait_for(lambda fs: any(f.stream_id == 1 and f.type == DATA and f.flags & END_STREAM for f in fs), 5)
        assert answered, c.stream_result(1).describe()
        assert c.stream_result(1).headers.get(":status") == "415", c.stream_result(1).describe()
        reset = c.wait_for(lambda fs: any(f.stream_id == 1 and f.type == RST_STREAM for f in fs), 10)
        assert reset, "the half-open stream was never reset"
        st = c.stream_result(1)
        assert st.reset_code == NO_ERROR, st.describe()
        assert 4 <= time.monotonic() - t0 < 9
    assert_h2_still_serving(proxy)
