"""Rate and concurrency limits per route (issue 13, item 2).

Semantics under test: token buckets shared by every worker of the process (so `workers: 2` lets exactly the
configured number through, like `workers: 1`), refilled continuously at `rate`, holding `burst` tokens. Over a
limit: RESOURCE_EXHAUSTED (8) whose message names the limit, with `retry-after` (seconds, rounded up) and
`grpc-retry-pushback-ms`; refusals counted in grpcwebproxy_rejected_calls_total{stage, reason}. The key table
is capped by `max_keys`: past it, new keys share one overflow bucket.
"""

from __future__ import annotations

import os

os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")  # before grpc is imported: the tests start processes

import socket  # noqa: E402
import time  # noqa: E402

import grpc  # noqa: E402
import pytest  # noqa: E402

from conftest import default_route  # noqa: E402
from grpcweb_client import HTTPConnection, call, open_call  # noqa: E402
from test_ops_metrics import pick, scrape  # noqa: E402
from websockets.exceptions import ConnectionClosed  # noqa: E402
from ws_client import GrpcWsCall  # noqa: E402

pytestmark = pytest.mark.timeout(120)

UNARY = "/test.Echo/Unary"
STREAM = "/test.Echo/ServerStream"
REJECTED = "grpcwebproxy_rejected_calls_total"


def limited_route(**kw) -> dict:
    return default_route(name="limited", **kw)


def conn_from(proxy, source_ip: str) -> HTTPConnection:
    """A client connection whose address is `source_ip` (any 127/8 address works on Linux loopback)."""
    c = HTTPConnection.__new__(HTTPConnection)
    c.host, c.port = "127.0.0.1", proxy.port
    c.sock = socket.create_connection(("127.0.0.1", proxy.port), timeout=10, source_address=(source_ip, 0))
    c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    c.buf = bytearray()
    c.eof = False
    return c


def unary_from(proxy, source_ip: str = "127.0.0.1", metadata=None):
    """One call on its own connection (with several workers, connections spread over them)."""
    c = conn_from(proxy, source_ip)
    try:
        return call(proxy.base_url, UNARY, [b"hi"], metadata=metadata, conn=c, timeout_s=10)
    finally:
        c.close()


def statuses(results) -> list[int]:
    return [r.grpc_status for r in results]


@pytest.mark.parametrize("workers", [1, 2])
def test_burst_gets_exactly_burst_through_then_8_with_retry_metadata(start_proxy, workers):
    p = start_proxy(routes=[limited_route(rate_limits=[{"key": "client_address", "rate": "5/m", "burst": 5}])],
                    top_extra={"workers": workers})
    before = scrape(p)
    # One connection per call: SO_REUSEPORT spreads 12 connections over both workers (all on one: p = 2^-11).
    results = [unary_from(p) for _ in range(12)]
    assert statuses(results) == [0] * 5 + [8] * 7, [(r.grpc_status, r.grpc_message) for r in results]
    refused = results[5]
    assert refused.trailers_only
    assert refused.grpc_message.startswith('rate limit exceeded: 5/m per client_address (burst 5) on route "limited"'), \
        refused.grpc_message
    # 5/m: one token every 12 s; the calls took well under a second, so the next token is 11-12 s away.
    assert 11 <= int(refused.headers["retry-after"]) <= 12, refused.headers
    assert 10_000 < int(refused.headers["grpc-retry-pushback-ms"]) <= 12_000, refused.headers
    after = scrape(p)
    assert pick(after, REJECTED, route="limited", stage="rate_limit", reason="tokens") \
        - pick(before, REJECTED, route="limited", stage="rate_limit", reason="tokens") == 7


def test_client_addresses_have_independent_buckets(start_proxy):
    p = start_proxy(routes=[limited_route(rate_limits=[{"key": "client_address", "rate": "3/m"}])])
    assert statuses(unary_from(p, "127.0.0.1") for _ in range(4)) == [0, 0, 0, 8]
    assert statuses(unary_from(p, "127.0.0.2") for _ in range(4)) == [0, 0, 0, 8]
    assert unary_from(p, "127.0.0.1").grpc_status == 8


def test_header_keys_have_independent_buckets_and_calls_without_it_share_one(start_proxy):
    p = start_proxy(routes=[limited_route(rate_limits=[{"key": {"header": "X-Api-Key"}, "rate": "2/m"}])])
    for key in ("alpha", "beta"):
        assert statuses(unary_from(p, metadata={"x-api-key": key}) for _ in range(3)) == [0, 0, 8], key
    assert statuses(unary_from(p) for _ in range(3)) == [0, 0, 8]
    r = unary_from(p, metadata={"x-api-key": "alpha"})
    assert r.grpc_status == 8 and "per header x-api-key" in r.grpc_message, r.grpc_message


def test_bucket_refills_after_the_advertised_delay(start_proxy):
    # 10/s with burst 2: two calls at once, then one every 100 ms.
    p = start_proxy(routes=[limited_route(rate_limits=[{"rate": "10/s", "burst": 2}])])
    with HTTPConnection(p.base_url) as c:
        first = [call(p.base_url, UNARY, [b"x"], conn=c) for _ in range(3)]
        assert statuses(first) == [0, 0, 8], [(r.grpc_status, r.grpc_message) for r in first]
        pushback_ms = int(first[2].headers["grpc-retry-pushback-ms"])
        assert 0 < pushback_ms <= 100
        assert first[2].headers["retry-after"] == "1"
        # The advertised delay is exact: waiting it out gives one token.
        time.sleep(pushback_ms / 1000)
        assert call(p.base_url, UNARY, [b"x"], conn=c).grpc_status == 0
        # A whole window refills the burst, not more: exactly 2 through again.
        time.sleep(1.0)
        again = [call(p.base_url, UNARY, [b"x"], conn=c) for _ in range(3)]
        assert statuses(again) == [0, 0, 8]


def test_route_key_counts_every_client_together(start_proxy):
    p = start_proxy(routes=[limited_route(rate_limits=[{"rate": "3/m"}])])
    got = [unary_from(p, ip) for ip in ("127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4")]
    assert statuses(got) == [0, 0, 0, 8]
    assert got[3].grpc_message.startswith('rate limit exceeded: 3/m (burst 3) on route "limited"'), got[3].grpc_message


def wait_until_ok(fn, timeout_s: float = 10):
    deadline = time.monotonic() + timeout_s
    while True:
        r = fn()
        if r.grpc_status == 0 or time.monotonic() > deadline:
            return r
        time.sleep(0.05)


def hold_stream(p, source_ip="127.0.0.1"):
    """A server stream the upstream keeps open (one message, then nothing until cancelled)."""
    c = conn_from(p, source_ip)
    s = open_call(p.base_url, STREAM, [b"x"], conn=c, metadata={"x-stream-forever": "1", "x-stream-interval-ms": "60000"})
    assert s.result.headers.get("grpc-status") is None, s.result.headers
    assert s.next_message() is not None
    return s, c


def test_route_concurrency_limit_with_streams_held_open(start_proxy):
    p = start_proxy(routes=[limited_route(concurrency_limit={"max_calls": 2})], top_extra={"workers": 2})
    held = [hold_stream(p), hold_stream(p)]
    r = unary_from(p)
    assert r.grpc_status == 8 and r.grpc_message == 'concurrency limit exceeded: 2 calls in flight on route "limited"'
    assert "retry-after" not in r.headers
    # Closing one stream frees its slot (the proxy sees the client go and ends the call).
    s, c = held.pop()
    c.close()
    assert wait_until_ok(lambda: unary_from(p)).grpc_status == 0
    assert unary_from(p).grpc_status == 0  # unary calls end: they hold no slot afterwards
    snap = scrape(p)
    assert pick(snap, REJECTED, route="limited", stage="concurrency", reason="route") >= 1
    for s, c in held:
        c.close()


def test_per_client_concurrency_limit(start_proxy):
    p = start_proxy(routes=[limited_route(concurrency_limit={"max_calls_per_client": 1})])
    held = hold_stream(p, "127.0.0.1")
    r = unary_from(p, "127.0.0.1")
    assert r.grpc_status == 8
    assert r.grpc_message == 'concurrency limit exceeded: 1 calls in flight per client_address on route "limited"'
    assert unary_from(p, "127.0.0.2").grpc_status == 0
    held[1].close()
    assert wait_until_ok(lambda: unary_from(p, "127.0.0.1")).grpc_status == 0


def test_grpc_web_websocket_and_native_each_hit_the_limit(start_proxy):
    p = start_proxy(routes=[limited_route(rate_limits=[{"key": {"header": "x-k"}, "rate": "1/m"}])])
    before = scrape(p)
    # gRPC-Web
    assert statuses(unary_from(p, metadata={"x-k": "web"}) for _ in range(2)) == [0, 8]
    # WebSocket: the key is read from the metadata message.
    results = [ws_unary_while_refused(p, {"x-k": "ws"}) for _ in range(2)]
    assert [r.grpc_status for r in results] == [0, 8], results
    assert "rate limit exceeded: 1/m per header x-k" in results[1].grpc_message
    assert 59 <= int(results[1].trailers["retry-after"]) <= 60
    # Native gRPC (h2c)
    with grpc.insecure_channel(f"127.0.0.1:{p.port}") as ch:
        unary = ch.unary_unary(UNARY)
        assert unary(b"hi", metadata=(("x-k", "native"),), timeout=10) == b"hi"
        with pytest.raises(grpc.RpcError) as err:
            unary(b"hi", metadata=(("x-k", "native"),), timeout=10)
        assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "rate limit exceeded: 1/m per header x-k" in err.value.details()
        trailing = dict(err.value.trailing_metadata())
        assert 59 <= int(trailing["retry-after"]) <= 60 and int(trailing["grpc-retry-pushback-ms"]) > 58_000
    after = scrape(p)
    assert pick(after, REJECTED, route="limited", stage="rate_limit", reason="tokens") \
        - pick(before, REJECTED, route="limited", stage="rate_limit", reason="tokens") == 3


def ws_unary_while_refused(p, metadata):
    """A WebSocket unary call whose client sends its message and half-close right after the metadata, as browser
    clients do. A call refused on its metadata may be closed before those are sent: the send then fails, and the
    status must still arrive."""
    ws = GrpcWsCall(p.base_url, UNARY, metadata)
    try:
        ws.send(b"hi")
        ws.half_close()
    except ConnectionClosed:
        pass
    return ws.finish(timeout=10)


def test_a_refused_websocket_call_delivers_its_status_while_the_client_still_sends(start_proxy):
    # Regression: the proxy closed the socket with the client's frames unread, and the RST that followed destroyed
    # the status block before the client read it (about 1 call in 3). It now closes lingering.
    p = start_proxy(routes=[limited_route(rate_limits=[{"key": {"header": "x-k"}, "rate": "1/m"}])])
    results = [ws_unary_while_refused(p, {"x-k": "same"}) for _ in range(60)]
    assert results[0].grpc_status == 0
    lost = [(r.headers, r.trailers, r.close_code) for r in results[1:] if r.grpc_status != 8]
    assert lost == [], f"{len(lost)} of 59 refusals lost: {lost[:3]}"


def test_key_table_cap_shares_one_overflow_bucket_and_memory_stays_bounded(start_proxy):
    cap = 50
    p = start_proxy(routes=[limited_route(rate_limits=[{"key": {"header": "x-k"}, "rate": "1/m", "max_keys": cap}])])
    before = scrape(p)
    rss_before = p.rss_kib()
    # Long keys (2 KB each): stored as a hash, so the table's memory does not grow with the values.
    keys = [f"{i:06d}" + "k" * 2000 for i in range(600)]
    with HTTPConnection(p.base_url) as c:
        got = [call(p.base_url, UNARY, [b"x"], metadata={"x-k": k}, conn=c).grpc_status for k in keys]
        # The first `cap` keys get their own bucket; then the table is full (none idle for a minute) and the
        # other 550 share one overflow bucket: exactly one of them passes.
        assert got[:cap] == [0] * cap
        assert got[cap:] == [0] + [8] * (len(keys) - cap - 1)
        # Tracked keys keep their own (spent) bucket.
        assert call(p.base_url, UNARY, [b"x"], metadata={"x-k": keys[0]}, conn=c).grpc_status == 8
    after = scrape(p)
    assert pick(after, REJECTED, route="limited", stage="rate_limit", reason="overflow") \
        - pick(before, REJECTED, route="limited", stage="rate_limit", reason="overflow") == len(keys) - cap - 1
    assert p.rss_kib() - rss_before < 16 * 1024


def test_reload_keeps_unchanged_buckets_and_resets_changed_ones(start_proxy, upstream):
    from test_reload import post_reload, rewrite

    def routes(limit, marker=None):
        unary = {"method": "test.Echo/Unary", "name": "limited", "cluster": "backend", "rate_limits": limit}
        rest = default_route(name="rest")
        if marker:
            rest["response_headers"] = {"set": {"x-gen": marker}}
        return [unary, rest]

    limit = [{"key": "client_address", "rate": "2/m"}]
    p = start_proxy(routes=routes(limit))
    assert statuses(unary_from(p) for _ in range(3)) == [0, 0, 8]
    # Same limits, another change (a response header on the other route) to see when the new config is in force.
    rewrite(p, upstream.port, routes=routes(limit, marker="2"))
    status, body = post_reload(p)
    assert status == 200, body
    deadline = time.monotonic() + 10
    while call(p.base_url, STREAM, [b"x"], metadata={"x-stream-count": "1"}).headers.get("x-gen") != "2":
        assert time.monotonic() < deadline, "the reloaded config never took effect"
        time.sleep(0.05)
    assert unary_from(p).grpc_status == 8, "the bucket spent before the reload is still spent"
    # Changed limits start with full buckets.
    rewrite(p, upstream.port, routes=routes([{"key": "client_address", "rate": "3/m"}]))
    status, body = post_reload(p)
    assert status == 200, body
    assert wait_until_ok(lambda: unary_from(p)).grpc_status == 0


def test_websocket_over_http2_hits_the_limit(start_proxy):
    from h2.exceptions import H2Error
    from h2_support import H2Client
    from test_h2_websocket import H2GrpcWs

    p = start_proxy(routes=[limited_route(rate_limits=[{"key": {"header": "x-k"}, "rate": "1/m"}])])
    results = []
    with H2Client(p.port) as c:
        for _ in range(10):
            ws = H2GrpcWs(c, UNARY, metadata={"x-k": "h2"})
            try:
                ws.send(b"hi")
                ws.half_close()
            except H2Error:
                pass  # the refusal ended the stream first
            results.append(ws.finish())
    assert [r.grpc_status for r in results] == [0] + [8] * 9, [(r.trailers, r.close_code) for r in results]
    assert "rate limit exceeded: 1/m per header x-k" in results[1].grpc_message
    assert 59 <= int(results[1].trailers["retry-after"]) <= 60
