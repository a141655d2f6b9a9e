"""Issue 11, native gRPC pass-through on the browser port: grpcio clients (insecure channel to the cleartext
listener, secure channel trusting the test CA to the TLS listener) call through the proxy. Unary, server, client
and bidi streaming against the real grpcio upstream, metadata and trailers intact (binary ones too), deadlines
(client's and route's) enforced and cancelled upstream, a client cancel cancelled upstream, a route miss
answered UNIMPLEMENTED as a trailers-only response; h2load with native gRPC requests; HTTP/1.1 still answers
`application/grpc` with 415."""

from __future__ import annotations

import os

os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")  # before grpc is imported: the tests start processes

import time  # noqa: E402

import grpc  # noqa: E402
import pytest  # noqa: E402

from conftest import cluster, default_route  # noqa: E402
from grpcweb_client import HTTPConnection, frame  # noqa: E402
from h2_support import BIDI, CLIENT_STREAM, NATIVE_CALLS, STREAM, UNARY, H2Client, h2_proxy, h2load, \
    metric_or_zero  # noqa: E402
from tls_support import pki  # noqa: F401,E402  (session fixture)
from upstream_server import pattern, stream_message  # noqa: E402

pytestmark = pytest.mark.timeout(30)

TRANSPORTS = ["tls", "h2c"]


@pytest.fixture
def channel_to(pki):
    """``channel_to(proxy, transport)``: a grpcio channel to the proxy (closed at test end)."""
    opened = []

    def make(proxy, transport: str):
        if transport == "tls":
            creds = grpc.ssl_channel_credentials(root_certificates=pki.ca.cert.read_bytes())
            ch = grpc.secure_channel(f"localhost:{proxy.port}", creds)
        else:
            ch = grpc.insecure_channel(f"127.0.0.1:{proxy.port}")
        opened.append(ch)
        grpc.channel_ready_future(ch).result(timeout=10)
        return ch

    yield make
    for ch in opened:
        ch.close()


def proxy_for(start_proxy, pki, transport, **kw):
    return h2_proxy(start_proxy, pki if transport == "tls" else None, **kw)


def md(call_result) -> dict:
    return {k: v for k, v in call_result}


# --------------------------------------------------------------------------------------
# The four kinds of call
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_unary_with_metadata_and_trailers(start_proxy, pki, upstream, channel_to, transport):
    proxy = proxy_for(start_proxy, pki, transport)
    before = metric_or_zero(proxy, NATIVE_CALLS)
    ch = channel_to(proxy, transport)
    fn = ch.unary_unary(UNARY)
    payload = pattern(5000)
    blob = bytes(range(256))
    reply, c = fn.with_call(payload, timeout=10, metadata=[
        ("x-header-custom", "h-value"), ("x-trailer-custom", "t-value"), ("x-header-data-bin", blob),
        ("x-trailer-data-bin", blob[::-1]), ("x-plain", "seen upstream")])
    assert reply == payload
    assert c.code() == grpc.StatusCode.OK
    initial, trailing = md(c.initial_metadata()), md(c.trailing_metadata())
    assert initial.get("x-server-id") == "u1", initial
    assert initial.get("x-header-custom") == "h-value" and initial.get("x-header-data-bin") == blob, initial
    assert trailing.get("x-trailer-custom") == "t-value" and trailing.get("x-trailer-data-bin") == blob[::-1], \
        trailing
    seen = upstream.stats()["last_metadata_by_method"][UNARY]
    assert seen.get("x-plain") == "seen upstream", seen
    assert metric_or_zero(proxy, NATIVE_CALLS) >= before + 1, "the native call was not counted"


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_server_streaming(start_proxy, pki, channel_to, transport):
    proxy = proxy_for(start_proxy, pki, transport)
    fn = channel_to(proxy, transport).unary_stream(STREAM)
    t0 = time.monotonic()
    it = fn(b"go", timeout=10, metadata=[("x-stream-count", "5"), ("x-stream-size", "300"),
                                          ("x-stream-interval-ms", "200"), ("x-trailer-end", "yes")])
    got, arrivals = [], []
    for m in it:
        got.append(m)
        arrivals.append(time.monotonic() - t0)
    assert got == [stream_message(k, 300) for k in range(5)]
    assert it.code() == grpc.StatusCode.OK
    assert md(it.trailing_metadata()).get("x-trailer-end") == "yes"
    assert arrivals[-1] - arrivals[0] >= 0.6, f"messages bunched together: {arrivals}"


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_client_streaming(start_proxy, pki, channel_to, transport):
    proxy = proxy_for(start_proxy, pki, transport)
    fn = channel_to(proxy, transport).stream_unary(CLIENT_STREAM)
    msgs = [pattern(1000 * k + 1) for k in range(20)]  # ~190 KB: beyond the initial windows
    reply, c = fn.with_call(iter(msgs), timeout=10, metadata=[("x-header-a", "1")])
    assert reply == b"count=20 bytes=%d" % sum(map(len, msgs))
    assert md(c.initial_metadata()).get("x-header-a") == "1"


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_bidi_ping_pong(start_proxy, pki, channel_to, transport):
    """Each message is echoed before the next is sent: the proxy forwards both directions as they come."""
    import queue

    proxy = proxy_for(start_proxy, pki, transport)
    fn = channel_to(proxy, transport).stream_stream(BIDI)
    outbox: queue.Queue = queue.Queue()

    def requests():
        while True:
            m = outbox.get()
            if m is None:
                return
            yield m

    it = fn(requests(), timeout=10, metadata=[("x-trailer-bidi", "done")])
    for i in range(10):
        m = b"ping %d " % i + pattern(i * 500)
        outbox.put(m)
        assert next(it) == m
    outbox.put(None)
    assert list(it) == []
    assert it.code() == grpc.StatusCode.OK
    assert md(it.trailing_metadata()).get("x-trailer-bidi") == "done"


# --------------------------------------------------------------------------------------
# Errors, deadlines, cancellation
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_upstream_status_and_message_pass_through(start_proxy, pki, channel_to, transport):
    proxy = proxy_for(start_proxy, pki, transport)
    fn = channel_to(proxy, transport).unary_unary(UNARY)
    with pytest.raises(grpc.RpcError) as e:
        fn(b"x", timeout=10, metadata=[("x-fail-code", "9"), ("x-fail-message", "not%20now%20%E2%9C%93"),
                                        ("x-trailer-why", "because")])
    assert e.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert e.value.details() == "not now \u2713"
    assert md(e.value.trailing_metadata()).get("x-trailer-why") == "because"


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_client_deadline_enforced_and_cancelled_upstream(start_proxy, pki, upstream, channel_to, transport):
    proxy = proxy_for(start_proxy, pki, transport)
    fn = channel_to(proxy, transport).unary_unary(UNARY)
    before = upstream.stats()["cancelled"].get(UNARY, 0)
    t0 = time.monotonic()
    with pytest.raises(grpc.RpcError) as e:
        fn(b"slow", timeout=0.5, metadata=[("x-delay-ms", "5000")])
    elapsed = time.monotonic() - t0
    assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert elapsed < 2, elapsed
    st = upstream.wait_stat("cancelled", UNARY, before + 1)
    assert st["cancelled"].get(UNARY, 0) >= before + 1, "the upstream call outlived the deadline"
    # The upstream got the deadline as grpc-timeout (no more than the client's 500 ms).
    remaining = st["last_time_remaining"].get(UNARY)
    assert remaining is not None and remaining <= 0.5 + 0.01, remaining  # the proxy may round to its unit


def test_route_timeout_enforced_by_the_proxy(start_proxy, upstream):
    """No client deadline: the route's timeout ends the call with DEADLINE_EXCEEDED from the proxy (a
    trailers-only answer) and cancels the upstream call."""
    proxy = h2_proxy(start_proxy, routes=[default_route(timeout="400ms")])
    before = upstream.stats()["cancelled"].get(UNARY, 0)
    ch = grpc.insecure_channel(f"127.0.0.1:{proxy.port}")
    try:
        t0 = time.monotonic()
        with pytest.raises(grpc.RpcError) as e:
            ch.unary_unary(UNARY)(b"slow", metadata=[("x-delay-ms", "5000")], timeout=10)
        assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED, (e.value.code(), e.value.details())
        assert 0.3 <= time.monotonic() - t0 < 2.5
    finally:
        ch.close()
    st = upstream.wait_stat("cancelled", UNARY, before + 1)
    assert st["cancelled"].get(UNARY, 0) >= before + 1


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_client_cancel_is_cancelled_upstream(start_proxy, pki, upstream, channel_to, transport):
    proxy = proxy_for(start_proxy, pki, transport)
    fn = channel_to(proxy, transport).unary_stream(STREAM)
    before = upstream.stats()["cancelled"].get(STREAM, 0)
    it = fn(b"go", timeout=10, metadata=[("x-stream-forever", "1"), ("x-stream-interval-ms", "50"),
                                          ("x-stream-size", "16")])
    for _ in range(3):
        next(it)
    t_cancel = time.monotonic()
    it.cancel()
    st = upstream.wait_stat("cancelled", STREAM, before + 1)
    assert st["cancelled"].get(STREAM, 0) >= before + 1, "the cancel did not reach the upstream"
    cancel_at = st["cancel_times"][STREAM][-1]
    assert cancel_at - t_cancel < 2, f"upstream saw the cancel {cancel_at - t_cancel:.2f}s later"


def test_no_route_is_unimplemented_trailers_only(start_proxy, upstream):
    """The proxy answers itself, naming the path (grpcio's own "Method not found!" would not)."""
    proxy = h2_proxy(start_proxy, routes=[{"service": "test.Echo", "cluster": "backend", "timeout": "0s"}])
    ch = grpc.insecure_channel(f"127.0.0.1:{proxy.port}")
    try:
        with pytest.raises(grpc.RpcError) as e:
            ch.unary_unary("/other.Svc/Method")(b"x", timeout=5)
        assert e.value.code() == grpc.StatusCode.UNIMPLEMENTED
        assert "/other.Svc/Method" in (e.value.details() or ""), e.value.details()
    finally:
        ch.close()
    # On the wire: one HEADERS frame with END_STREAM, :status 200, application/grpc, grpc-status 12.
    with H2Client(proxy.port) as c:
        st = c.wait_streams([c.native("/other.Svc/Method", [b"x"])])[0]
    assert st.ended and st.status == 200 and st.data == b"" and not st.http_trailers, st.describe()
    assert st.headers.get("content-type", "").startswith("application/grpc"), st.headers
    assert st.headers.get("grpc-status") == "12", st.describe()


def test_native_grpc_over_http11_is_still_415(start_proxy):
    proxy = h2_proxy(start_proxy)
    with HTTPConnection(proxy.base_url, timeout_s=5) as conn:
        conn.request("POST", UNARY, [("Content-Type", "application/grpc"), ("TE", "trailers")], frame(b"x"))
        resp = conn.read_response()
    assert resp.status == 415, (resp.status, resp.header_list)


@pytest.mark.parametrize("content_type", ["application/grpc+proto", "application/grpc+json"])
def test_native_content_type_variants_are_passed_through(start_proxy, fault_upstream, content_type):
    """The fault upstream (an h2 echo) records the request headers it got: content-type and te unchanged,
    custom metadata there, no x-grpc-web translation applied."""
    f = fault_upstream()
    proxy = h2_proxy(start_proxy, clusters=[cluster("backend", f.address)])
    with H2Client(proxy.port) as c:
        sid = c.open_stream([(":method", "POST"), (":scheme", "http"), (":authority", "localhost"),
                             (":path", UNARY), ("content-type", content_type), ("te", "trailers"),
                             ("x-custom-md", "kept")], frame(b"{}"))
        st = c.wait_streams([sid])[0]
    assert st.status == 200 and st.http_trailers.get("grpc-status") == "0", st.describe()
    assert st.messages == [b"{}"], st.messages
    seen = f.stats()["last_headers"]
    assert seen.get("content-type") == content_type and seen.get("te") == "trailers", seen
    assert seen.get("x-custom-md") == "kept" and seen.get(":path") == UNARY, seen


# --------------------------------------------------------------------------------------
# h2load
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_h2load_native(start_proxy, pki, upstream, tmp_path, transport):
    proxy = proxy_for(start_proxy, pki, transport)
    body = tmp_path / "grpc-body.bin"
    body.write_bytes(frame(pattern(64)))
    upstream.reset_stats()
    before = metric_or_zero(proxy, NATIVE_CALLS)
    n = 2000
    scheme = "https" if transport == "tls" else "http"
    r = h2load(f"{scheme}://127.0.0.1:{proxy.port}{UNARY}", body, ["content-type: application/grpc", "te: trailers"],
               requests=n, clients=4, streams=16)
    assert r.returncode == 0, r.output
    assert r.protocol == ("h2" if transport == "tls" else "h2c"), r.output
    assert (r.total, r.succeeded, r.failed, r.errored, r.timeout, r.status_2xx) == (n, n, 0, 0, 0, n), r.output
    st = upstream.wait_stat("completed", UNARY, n)
    assert st["completed"].get(UNARY, 0) == n and st["cancelled"].get(UNARY, 0) == 0, st
    assert metric_or_zero(proxy, NATIVE_CALLS) >= before + n
