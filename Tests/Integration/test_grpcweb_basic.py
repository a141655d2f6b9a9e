"""gRPC-Web happy paths through the proxy to the real grpcio upstream: unary and server
streaming, binary and text, message sizes up to the limit, streaming without buffering,
and metadata in both directions (PROTOCOLS.md §1)."""

from __future__ import annotations

import base64

import pytest

from grpcweb_client import CT_TEXT, call, frame
from upstream_server import pattern, stream_message

UNARY = "/test.Echo/Unary"
STREAM = "/test.Echo/ServerStream"
LIMIT = 4 * 1024 * 1024  # max_message_size in the default test config


def is_text_ct(ct: str) -> bool:
    return ct.split(";")[0].strip().lower().startswith("application/grpc-web-text")


def assert_ok(r, messages=None):
    assert r.error is None, r.error
    assert r.http_status == 200, (r.http_status, r.headers)
    assert r.grpc_status == 0, (r.grpc_status, r.grpc_message, r.headers, r.trailers)
    assert r.complete
    if messages is not None:
        assert len(r.messages) == len(messages)
        for i, (got, want) in enumerate(zip(r.messages, messages)):
            assert got == want, f"message {i}: {len(got)} bytes vs {len(want)} expected"


def b64decode_any(v: str) -> bytes:
    """-bin values may arrive padded or unpadded."""
    return base64.b64decode(v + "=" * (-len(v) % 4))


MODES = [pytest.param(False, id="binary"), pytest.param(True, id="text")]


@pytest.mark.parametrize("text", MODES)
@pytest.mark.parametrize("size", [0, 1, 64 * 1024])
def test_unary_echo(proxy, text, size):
    payload = pattern(size)
    r = call(proxy.base_url, UNARY, [payload], text=text)
    assert_ok(r, [payload])
    ct = r.headers.get("content-type", "")
    assert ct.startswith("application/grpc-web"), ct
    assert is_text_ct(ct) == text, ct
    assert r.headers.get("x-server-id") == "u1"
    assert r.trailer_frames == 1 and r.trailers.get("grpc-status") == "0"
    if text:
        # every byte on the wire is base64
        assert set(r.raw_body) <= set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")
    else:
        assert r.raw_body == frame(payload) + r.raw_body[len(frame(payload)):]


def test_accept_text_with_binary_request_gets_text_response(proxy):
    r = call(proxy.base_url, UNARY, [b"abc"], text=False, accept_text=True)
    assert_ok(r, [b"abc"])
    assert is_text_ct(r.headers["content-type"])


def test_binary_request_without_accept_gets_binary_response(proxy):
    r = call(proxy.base_url, UNARY, [b"abc"], text=False, accept_text=False)
    assert_ok(r, [b"abc"])
    assert not is_text_ct(r.headers["content-type"])
    assert r.raw_body.startswith(frame(b"abc"))


@pytest.mark.parametrize("content_type", ["application/grpc-web", "application/grpc-web+proto",
                                          "application/grpc-web-text", "application/grpc-web-text+proto"])
def test_all_four_content_types_accepted(proxy, content_type):
    text = "text" in content_type
    r = call(proxy.base_url, UNARY, [b"ct"], text=text, content_type=content_type)
    assert_ok(r, [b"ct"])


@pytest.mark.parametrize("text", MODES)
def test_server_stream(proxy, text):
    r = call(proxy.base_url, STREAM, [pattern(100)], text=text, metadata={"x-stream-count": "5"})
    assert_ok(r, [stream_message(k, 100) for k in range(5)])


@pytest.mark.parametrize("text", MODES)
def test_server_stream_of_zero_messages(proxy, text):
    r = call(proxy.base_url, STREAM, [b"x"], text=text, metadata={"x-stream-count": "0"})
    assert_ok(r, [])


@pytest.mark.parametrize("text", MODES)
def test_message_just_under_limit_both_directions(proxy, text):
    """A 4 MiB - 5 byte payload (a 4 MiB frame) passes in both directions."""
    size = LIMIT - 5
    payload = pattern(size)
    r = call(proxy.base_url, UNARY, [payload], text=text, timeout_s=60)
    assert_ok(r, [payload])
    r = call(proxy.base_url, UNARY, [b""], text=text, metadata={"x-response-size": str(size)}, timeout_s=60)
    assert_ok(r, [pattern(size)])


@pytest.mark.parametrize("text", MODES)
def test_request_message_over_limit_is_resource_exhausted(proxy, upstream, text):
    upstream.reset_stats()
    r = call(proxy.base_url, UNARY, [pattern(5 * 1024 * 1024)], text=text, timeout_s=60)
    assert r.http_status == 200, (r.http_status, r.headers)
    assert r.grpc_status == 8, (r.grpc_status, r.grpc_message)
    assert r.messages == []
    assert upstream.stats()["completed"].get(UNARY, 0) == 0, "the oversized message reached the upstream"
    assert_ok(call(proxy.base_url, UNARY, [b"after"]), [b"after"])


@pytest.mark.parametrize("text", MODES)
def test_response_message_over_limit_is_resource_exhausted(proxy, text):
    r = call(proxy.base_url, UNARY, [b""], text=text, metadata={"x-response-size": str(5 * 1024 * 1024)},
             timeout_s=60)
    assert r.grpc_status == 8, (r.http_status, r.grpc_status, r.grpc_message, r.error)
    assert r.messages == [], "no part of the oversized message may be delivered"
    assert_ok(call(proxy.base_url, UNARY, [b"after"]), [b"after"])


def test_text_request_in_independently_padded_chunks(proxy):
    """SPEC-WEB lets a sender flush padded base64 at any point; each chunk is padded on its own."""
    stream = frame(b"hello world")  # 16 bytes
    pieces = [stream[0:1], stream[1:5], stream[5:7], stream[7:16]]  # every length mod 3 appears
    chunks = [base64.b64encode(p) for p in pieces]
    assert any(c.endswith(b"==") for c in chunks) and any(c.endswith(b"=") and not c.endswith(b"==") for c in chunks)
    r = call(proxy.base_url, UNARY, body=chunks, chunked=True, text=True)
    assert_ok(r, [b"hello world"])


def test_text_request_chunked_at_odd_boundaries(proxy):
    """One base64 string, cut into HTTP chunks that do not align with 4-character quanta."""
    payload = pattern(1000)
    text = base64.b64encode(frame(payload))
    chunks = [text[i:i + 7] for i in range(0, len(text), 7)]
    r = call(proxy.base_url, UNARY, body=chunks, chunked=True, text=True)
    assert_ok(r, [payload])


@pytest.mark.parametrize("text", MODES)
def test_server_stream_is_not_buffered(proxy, text):
    """Each message reaches the client when the upstream sends it (200 ms apart)."""
    r = call(proxy.base_url, STREAM, [pattern(32)], text=text,
             metadata={"x-stream-count": "5", "x-stream-interval-ms": "200"})
    assert_ok(r, [stream_message(k, 32) for k in range(5)])
    gaps = [b - a for a, b in zip(r.arrivals, r.arrivals[1:])]
    assert all(g >= 0.150 for g in gaps), f"messages arrived together: gaps {gaps}"
    assert "chunked" in r.headers.get("transfer-encoding", "").lower()
    assert "content-length" not in r.headers
    if text:
        # grpc-web JS decodes only 4-aligned prefixes: every flush must end on a padded quantum
        assert all(off % 4 == 0 for off in r.raw_offsets), r.raw_offsets


def test_request_metadata_reaches_upstream(proxy):
    binval = b"\x00\x01\xfe\xff"
    r = call(proxy.base_url, UNARY, [b""],
             metadata=[("x-echo-metadata", "1"), ("x-custom", "hello"), ("x-data-bin", binval),
                       ("authorization", "Bearer t0k")])
    assert_ok(r)
    import json

    md = json.loads(r.messages[0])
    assert md["x-custom"] == "hello"
    assert md["authorization"] == "Bearer t0k"
    assert base64.b64decode(md["x-data-bin"]) == binval
    # HTTP/1-only fields must not be forwarded to the HTTP/2 upstream
    for name in ("connection", "keep-alive", "transfer-encoding", "host", "content-length"):
        assert name not in md, f"{name} forwarded upstream: {md}"


def test_request_headers_rewritten_for_upstream(proxy, upstream):
    upstream.reset_stats()
    r = call(proxy.base_url, UNARY, [b"x"], text=True)
    assert_ok(r, [b"x"])
    md = upstream.stats()["last_metadata_by_method"][UNARY]
    assert "content-length" not in md


def test_response_metadata_headers_and_trailers(proxy):
    binval = bytes([0, 1, 2, 250, 255])
    r = call(proxy.base_url, UNARY, [b"m"],
             metadata=[("x-header-plain", "v1"), ("x-header-raw-bin", binval),
                       ("x-trailer-t", "tv"), ("x-trailer-tb-bin", binval)])
    assert_ok(r, [b"m"])
    assert r.headers.get("x-header-plain") == "v1"
    assert b64decode_any(r.headers["x-header-raw-bin"]) == binval
    assert r.trailers.get("x-trailer-t") == "tv"
    assert b64decode_any(r.trailers["x-trailer-tb-bin"]) == binval
    # trailers are in the body, not in the headers
    assert "x-trailer-t" not in r.headers and "grpc-status" not in r.headers


def test_trailer_frame_is_last_and_lower_case(proxy):
    r = call(proxy.base_url, UNARY, [b"q"], metadata={"x-trailer-abc": "1"})
    assert_ok(r, [b"q"])
    body = r.body
    assert body.startswith(frame(b"q"))
    trailer = body[len(frame(b"q")):]
    assert trailer[0] == 0x80
    assert int.from_bytes(trailer[1:5], "big") == len(trailer) - 5, "trailer frame must end the body"
    block = trailer[5:]
    for line in block.split(b"\r\n"):
        if line:
            name = line.split(b":")[0]
            assert name == name.lower(), f"trailer name not lower-case: {line!r}"


NON_ASCII = "é ✓ done"
NON_ASCII_WIRE = "%C3%A9 %E2%9C%93 done"


@pytest.mark.parametrize("text", MODES)
def test_non_ascii_grpc_message_in_trailer_frame(proxy, text):
    r = call(proxy.base_url, UNARY, [b"x"], text=text,
             metadata={"x-fail-code": "3", "x-fail-after-headers": "1", "x-fail-message": NON_ASCII_WIRE})
    assert r.http_status == 200
    assert r.grpc_status == 3
    assert r.grpc_message == NON_ASCII
    raw = r.trailers["grpc-message"]
    assert raw.isascii() and "%" in raw, f"grpc-message not percent-encoded on the wire: {raw!r}"


def test_trailers_only_error(proxy):
    """An immediate upstream error: HTTP 200, grpc-status in the headers, empty body."""
    r = call(proxy.base_url, UNARY, [b"x"],
             metadata={"x-fail-code": "5", "x-fail-message": NON_ASCII_WIRE, "x-trailer-why": "gone"})
    assert r.http_status == 200
    assert r.headers.get("grpc-status") == "5"
    assert r.grpc_status == 5
    assert r.grpc_message == NON_ASCII
    assert r.headers["grpc-message"].isascii()
    assert r.headers.get("x-trailer-why") == "gone"
    assert r.raw_body == b"", "trailers-only must have an empty body (no empty 0x80 frame)"
    assert r.trailer_frames == 0
    assert r.headers.get("content-type", "").startswith("application/grpc-web")


def test_server_stream_error_after_messages(proxy):
    r = call(proxy.base_url, STREAM, [pattern(8)],
             metadata={"x-stream-count": "2", "x-fail-code": "10", "x-fail-after-headers": "1",
                       "x-fail-message": "stop"})
    assert r.http_status == 200
    assert r.messages == [stream_message(0, 8), stream_message(1, 8)]
    assert r.grpc_status == 10 and r.grpc_message == "stop"
    assert r.trailer_frames == 1 and "grpc-status" not in r.headers
