"""Malformed WebSocket input: each must get the RFC 6455 answer (HTTP status or close code) and must not disturb
the proxy, which has to serve a good call right afterwards.

Frames a conforming library refuses to send go through ws_client.RawWebSocket.
"""

from __future__ import annotations

import pytest

from ws_client import (OP_BINARY, OP_CLOSE, OP_PING, OP_PONG, OP_TEXT, RawWebSocket, client_frame,
                       data_message, metadata_block, ws_unary)

pytestmark = pytest.mark.timeout(60)

WS_LIMITS_64K = {
    "max_frame_size": "64KiB", "max_message_size": "128KiB", "ping_interval": "30s",
    "idle_timeout": "300s", "require_origin": False,
}


def assert_still_serving(proxy) -> None:
    r = ws_unary(proxy.base_url, "/test.Echo/Bidi", b"still serving")
    assert r.messages == [b"still serving"], r
    assert r.grpc_status == 0 and r.close_code == 1000


def open_raw(proxy, path: str = "/test.Echo/Bidi", **kw) -> RawWebSocket:
    ws = RawWebSocket.from_base_url(proxy.base_url)
    resp = ws.handshake(path, **kw)
    assert resp.status == 101, (resp.status, resp.reason, resp.body)
    return ws


def expect_close(ws: RawWebSocket, codes: tuple[int, ...]) -> None:
    code, reason, _ = ws.recv_close()
    assert code in codes, f"close code {code} ({reason!r}), expected {codes}"
    # Complete the closing handshake like a browser would; the server may already have dropped TCP.
    try:
        ws.send_frame(OP_CLOSE, code.to_bytes(2, "big"))
    except OSError:
        pass
    assert ws.wait_eof(5), "the proxy kept the TCP connection open after the close handshake"


# --- the handshake ----------------------------------------------------------------------------------------------

def test_good_handshake_headers(proxy):
    ws = RawWebSocket.from_base_url(proxy.base_url)
    resp = ws.handshake("/test.Echo/Bidi", extra_headers=[("Sec-WebSocket-Protocol", "chat")])
    assert resp.status == 101
    assert resp.headers["sec-websocket-accept"] == RawWebSocket.expected_accept(ws.key)
    # The grpc-websockets token is chosen even when other subprotocols are offered.
    assert resp.headers.get("sec-websocket-protocol") == "grpc-websockets"
    assert resp.headers.get("upgrade", "").lower() == "websocket"
    assert "upgrade" in resp.headers.get("connection", "").lower()
    ws.send_binary(metadata_block())
    ws.send_binary(data_message(b"raw hello"))
    ws.send_binary(b"\x01")
    code, _, frames = ws.recv_close()
    stream = b"".join(p for op, p in frames if op in (OP_BINARY, 0))
    assert b"raw hello" in stream
    assert code == 1000
    ws.close()


def test_missing_key_is_400(proxy):
    with RawWebSocket.from_base_url(proxy.base_url) as ws:
        assert ws.handshake("/test.Echo/Bidi", key=None).status == 400
    assert_still_serving(proxy)


def test_bad_key_is_400(proxy):
    with RawWebSocket.from_base_url(proxy.base_url) as ws:
        assert ws.handshake("/test.Echo/Bidi", key="not-base64-of-16-bytes").status == 400
    assert_still_serving(proxy)


def test_wrong_version_is_426(proxy):
    with RawWebSocket.from_base_url(proxy.base_url) as ws:
        resp = ws.handshake("/test.Echo/Bidi", version="8")
        assert resp.status == 426
        # RFC 6455 §4.4: the server says which version it speaks.
        assert resp.headers.get("sec-websocket-version") == "13", resp.headers
    assert_still_serving(proxy)


def test_missing_subprotocol_is_400(proxy):
    with RawWebSocket.from_base_url(proxy.base_url) as ws:
        assert ws.handshake("/test.Echo/Bidi", subprotocol=None).status == 400
    with RawWebSocket.from_base_url(proxy.base_url) as ws:
        assert ws.handshake("/test.Echo/Bidi", subprotocol="chat, superchat").status == 400
    assert_still_serving(proxy)


def test_disallowed_origin_is_403(start_proxy):
    proxy = start_proxy(listener_extra={"cors": {
        "allow_origins": ["https://good.example"], "allow_headers": ["x-custom"], "expose_headers": ["x-custom"],
        "max_age": "1h", "allow_credentials": False}})
    with RawWebSocket.from_base_url(proxy.base_url) as ws:
        assert ws.handshake("/test.Echo/Bidi", origin="https://evil.example").status == 403
    r = ws_unary(proxy.base_url, "/test.Echo/Bidi", b"good origin", origin="https://good.example")
    assert r.messages == [b"good origin"] and r.grpc_status == 0


def test_websocket_disabled_listener_refuses_upgrade(start_proxy):
    proxy = start_proxy(listener_extra={"websocket": False})
    with RawWebSocket.from_base_url(proxy.base_url) as ws:
        resp = ws.handshake("/test.Echo/Bidi")
        assert resp.status != 101
        assert 400 <= resp.status < 500, resp.status
    # gRPC-Web over HTTP/1.1 on that listener still works.
    from grpcweb_client import call
    r = call(proxy.base_url, "/test.Echo/Unary", [b"plain grpc-web"])
    assert r.grpc_status == 0 and r.messages == [b"plain grpc-web"]


# --- frames -----------------------------------------------------------------------------------------------------

def test_unmasked_client_frame_is_1002(proxy):
    ws = open_raw(proxy)
    ws.send_frame(OP_BINARY, metadata_block(), mask=False)
    expect_close(ws, (1002,))
    ws.close()
    assert_still_serving(proxy)


def test_reserved_opcode_is_1002(proxy):
    ws = open_raw(proxy)
    ws.send_binary(metadata_block())
    ws.send_frame(0x3, b"\x00abc")
    expect_close(ws, (1002,))
    ws.close()
    assert_still_serving(proxy)


def test_rsv_bits_without_extension_are_1002(proxy):
    ws = open_raw(proxy)
    ws.send_frame(OP_BINARY, metadata_block(), rsv=0b100)
    expect_close(ws, (1002,))
    ws.close()
    assert_still_serving(proxy)


def test_text_first_message_is_rejected(proxy):
    ws = open_raw(proxy)
    ws.send_frame(OP_TEXT, metadata_block())
    expect_close(ws, (1003, 1002))
    ws.close()
    assert_still_serving(proxy)


def test_garbage_after_handshake_is_1002(proxy):
    ws = open_raw(proxy)
    # 'G' = 0x47: RSV1 set and opcode 7 — invalid however it is read.
    ws.send_raw(b"GET /again HTTP/1.1\r\n\r\n")
    expect_close(ws, (1002,))
    ws.close()
    assert_still_serving(proxy)


def test_frame_over_max_frame_size_is_1009(start_proxy):
    proxy = start_proxy(top_extra={"websocket": WS_LIMITS_64K})
    # Exactly at the limit works: 1 prefix byte + 5 frame header bytes + payload = 64 KiB.
    big = bytes(i % 253 for i in range(64 * 1024 - 6))
    r = ws_unary(proxy.base_url, "/test.Echo/Bidi", big)
    assert r.grpc_status == 0 and r.messages == [big]
    ws = open_raw(proxy)
    ws.send_binary(metadata_block())
    # Announce one byte over the limit and send nothing more: the proxy must decide from the header alone
    # instead of buffering the payload first.
    ws.send_raw(client_frame(OP_BINARY, b"", length_override=64 * 1024 + 1))
    expect_close(ws, (1009,))
    ws.close()
    assert_still_serving(proxy)


def test_fragmented_message_over_max_message_size_is_1009(start_proxy):
    proxy = start_proxy(top_extra={"websocket": WS_LIMITS_64K})
    ws = open_raw(proxy)
    ws.send_binary(metadata_block())
    chunk = b"\x00" + bytes(60 * 1024 - 1)
    ws.send_frame(OP_BINARY, chunk, fin=False)
    ws.send_frame(0x0, bytes(60 * 1024), fin=False)
    # Third fragment pushes the message to 180 KiB > 128 KiB; again only its header is sent.
    ws.send_raw(client_frame(0x0, b"", fin=True, length_override=60 * 1024))
    expect_close(ws, (1009,))
    ws.close()
    assert_still_serving(proxy)


# --- control frames ---------------------------------------------------------------------------------------------

def test_ping_is_answered_with_pong(proxy):
    ws = open_raw(proxy)
    ws.send_binary(metadata_block())
    ws.send_frame(OP_PING, b"are you there")
    for _ in range(10):
        fin, op, body = ws.recv_frame()
        if op == OP_PONG:
            assert body == b"are you there"
            break
    else:
        pytest.fail("no pong")
    ws.send_binary(b"\x01")
    code, _, _ = ws.recv_close()
    assert code == 1000
    ws.close()


def test_client_close_is_echoed(proxy):
    ws = open_raw(proxy)
    ws.send_binary(metadata_block())
    ws.send_frame(OP_CLOSE, (1000).to_bytes(2, "big") + b"bye")
    code, _, _ = ws.recv_close()
    assert code == 1000
    assert ws.wait_eof(5), "the proxy must close TCP after echoing the client's close"
    ws.close()
    assert_still_serving(proxy)


def test_invalid_metadata_block_is_rejected(proxy):
    """A first message that is not a header block (a line without a colon, a control byte) ends the call: either a
    close with 1002/1008 or a gRPC error status; the upstream is never left hanging and the proxy keeps serving."""
    ws = open_raw(proxy)
    ws.send_binary(b"content-type: application/grpc-web+proto\r\nthis line has no colon\x01\r\n")
    code, _, frames = ws.recv_close()
    stream = b"".join(p for op, p in frames if op in (OP_BINARY, 0))
    assert code in (1002, 1008) or (b"grpc-status" in stream and b"grpc-status:0" not in stream.replace(b" ", b"")), \
        (code, stream)
    ws.close()
    assert_still_serving(proxy)
