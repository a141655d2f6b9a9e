"""The upstream connection's flow-control window must come back for every byte, whatever the order of events.

The proxy gives HTTP/2 window back only once the browser's socket has taken the bytes. A call often ends
(trailers, stream closed) before its last bytes have drained downstream; if that window were lost, every call
would leak a little and a long-lived upstream connection would eventually stall for all calls. With a tiny
connection window (64 KiB) a leak shows after a few dozen calls instead of after half a million.
"""

from __future__ import annotations

import pytest

from conftest import cluster
from grpcweb_client import call
from ws_client import GrpcWsCall

pytestmark = pytest.mark.timeout(120)

SMALL_WINDOWS = {"initial_connection_window": "65535", "initial_stream_window": "65535"}


@pytest.fixture
def small_window_proxy(start_proxy, upstream):
    return start_proxy(clusters=[cluster("backend", upstream.address, **SMALL_WINDOWS)])


@pytest.mark.parametrize("text", [False, True], ids=["binary", "text"])
def test_many_unary_calls_never_exhaust_the_connection_window(small_window_proxy, text):
    # 300 responses of 2 KiB = 600 KiB through one upstream connection whose window is 64 KiB.
    for i in range(300):
        r = call(small_window_proxy.base_url, "/test.Echo/Unary", [b"x"], text=text,
                 metadata={"x-response-size": "2048"}, timeout_s=5)
        assert r.grpc_status == 0, f"call {i}: {r.grpc_status} {r.grpc_message} {r.error}"
        assert len(r.messages[0]) == 2048


def test_many_server_streams_never_exhaust_the_connection_window(small_window_proxy):
    for i in range(40):
        r = call(small_window_proxy.base_url, "/test.Echo/ServerStream", [b"x"],
                 metadata={"x-stream-count": "8", "x-stream-size": "4096"}, timeout_s=5)
        assert r.grpc_status == 0, f"stream {i}: {r.grpc_status} {r.grpc_message} {r.error}"
        assert len(r.messages) == 8


def test_many_websocket_calls_never_exhaust_the_connection_window(small_window_proxy):
    for i in range(60):
        c = GrpcWsCall(small_window_proxy.base_url, "/test.Echo/Bidi", {"x-bidi-burst": "4"})
        c.send(bytes(2048))
        c.half_close()
        result = c.finish(timeout=5)
        assert result.grpc_status == 0, f"call {i}: {result.trailers} close={result.close_code}"
        assert len(result.messages) == 4
