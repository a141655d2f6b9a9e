#!/usr/bin/env python3
"""Writes the small seed corpus in Fuzz/corpus/<target>/ (re-run after changing a target's input layout).

Each file is the control bytes a target reads first, then its payload; see the comment above each target's
LLVMFuzzerTestOneInput for the layout.
"""
import base64
import hashlib
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def frame(flags, payload):
    return bytes([flags]) + struct.pack(">I", len(payload)) + payload


def ws_frame(opcode, payload, fin=True, key=b"\x11\x22\x33\x44", length_form=None):
    b0 = (0x80 if fin else 0) | opcode
    n = len(payload)
    if length_form == 127 or n > 0xFFFF:
        head = bytes([b0, 0x80 | 127]) + struct.pack(">Q", n)
    elif length_form == 126 or n >= 126:
        head = bytes([b0, 0x80 | 126]) + struct.pack(">H", n)
    else:
        head = bytes([b0, 0x80 | n])
    return head + key + bytes(c ^ key[i % 4] for i, c in enumerate(payload))


HEAD = b"POST /pkg.Svc/M HTTP/1.1\r\nHost: h\r\nContent-Type: application/grpc-web+proto\r\n"
SEEDS = {
    "FuzzHTTP1Request": [
        b"\x00\x00" + HEAD + b"Content-Length: 5\r\n\r\nhello",
        b"\x00\x03" + b"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /x?y=1 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
        b"\x00\x01" + HEAD + b"Transfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n0\r\nT: v\r\n\r\n",
        b"\x21\x02" + b"\r\nOPTIONS * HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
        b"\x00\x07" + b"GET /chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
        b"\x00\x00" + b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3, 3\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
    ],
    "FuzzHTTP1Chunked": [
        b"\x00\x00\x00" + b"5\r\nhello\r\n0\r\n\r\n",
        b"\x00\x00\x03" + b"A;a=b;c=\"d\"\r\n0123456789\r\n1 \t;x\r\nZ\r\n0\r\nX: y\r\nZ: w\r\n\r\n",
        b"\x00\x11\x01" + b"ffffffffffffffff\r\n",
        b"\x01\x05\x03" + b"round trip body bytes",
        b"\x07\x09\x02" + bytes(range(256)),
    ],
    "FuzzGRPCFrames": [
        b"\x00\xff\x00" + frame(0, b"\x08\x01") + frame(0x80, b"grpc-status:0\r\n"),
        b"\x00\x0a\x03" + frame(1, b"x" * 20) + frame(0, b""),
        b"\x00\xff\x01" + b"\x00\xff\xff\xff\xff",
        b"\x00\x02\x02" + b"\x02\x00\x00\x00\x01a",
        b"\x01\x07\x03" + bytes(range(120)),
    ],
    "FuzzBase64Stream": [
        b"\x00\x03" + base64.b64encode(frame(0, b"\x08\x96\x01")),
        b"\x00\x02" + b"AAA=AAA=QUJD",
        b"\x00\x01" + b"QQ==QUI=QUJD\n",
        b"\x00\x00" + b"QUJ",
        b"\x01\x03" + bytes(range(64)),
    ],
    "FuzzGRPCTrailers": [
        b"\x00" + b"grpc-status: 0\r\ngrpc-message: ok%20done\r\nX-A:1\nnocolon\r\n:empty\r\n",
        b"\x00" + "caf\u00e9 % \x01 \u2603".encode(),
        b"\x01" + b"\x05ab\x01Status\x09Grpc-Status\x020\x13x\r\ny",
    ],
    "FuzzWebSocketFrames": [
        b"\x00\x00\x00" + ws_frame(2, b"\x00\x00\x00\x00\x02hi") + ws_frame(9, b"p") + ws_frame(8, b"\x03\xe8bye"),
        b"\x00\x00\x03" + ws_frame(1, "h\u00e9".encode(), fin=False) + ws_frame(9, b"") + ws_frame(0, b"llo"),
        b"\x00\x02\x01" + ws_frame(2, b"x" * 200) + ws_frame(2, b"y" * 130, length_form=127),
        b"\x00\x03\x00" + bytes([0x82, 0xFF]) + struct.pack(">Q", (1 << 63) - 1) + b"\x00\x00\x00\x00xyz",
        b"\x00\x02\x00" + bytes([0x02, 0xFF]) + struct.pack(">Q", (1 << 62)) + b"\x00\x00\x00\x00" + bytes([0x80, 0xFF]) + struct.pack(">Q", (1 << 62)) + b"\x00\x00\x00\x00",
        b"\x01\x09\x03" + b"\x07abcdefghijklmnopqrstuvwxyz\x42" + bytes(range(200)),
        # Described frames (mode 2): a 3-byte fragment, a ping, then a continuation announcing a large length.
        b"\x02\x00\x00" + b"\x02\x03KKKKabc" + b"\x89\x01KKKKp" + b"\x80\x80KKKKxyz",
        # The same with limits at Int.max (the configuration of issue #13), all lengths legal.
        b"\x02\x02\x03" + b"\x02\x03KKKKabc" + b"\x89\x01KKKKp" + b"\x80\x80KKKKxyz",
        # Issue #13 reproducer: limits at Int.max, a fragment, then a continuation announcing Int.max bytes.
        b"\x00\x02\x00" + ws_frame(2, b"abc", fin=False) + bytes([0x80, 0xFF]) + struct.pack(">Q", (1 << 63) - 1) + b"\x00" * 4,
    ],
    "FuzzWebSocketHandshake": [
        b"\x00" + b"GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n"
        b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        b"Sec-WebSocket-Protocol: grpc-websockets\r\nOrigin: http://h\r\n\r\n",
        b"\x01" + b"Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\n",
        b"\x01" + b"Sec-WebSocket-Version: 8\r\n",
        b"\x00" + b"POST /ws HTTP/1.0\r\nUpgrade: WebSocket\r\n\r\n",
    ],
    "FuzzGRPCWebSocketsMetadata": [
        b"\x00" + b"content-type: application/grpc-web+proto\r\nx-grpc-web: 1\r\nx-user-agent: grpc-web-javascript/0.1",
        b"\x00" + b"A-Bin: AAEC\n\n  \r\nx: \t v \t\r\n",
        b"\x03" + b"a:1\r\nb:2\r\nc:3\r\nd:4\r\n",
        b"\x00" + b" folded: x\r\nbad name: y\r\nz: \x7f\r\n",
    ],
    "FuzzGRPCHeaders": [b"99999999H", b"1n", b"250m", b"0S", b"16", b"4294967296", b" application/grpc-web-text+proto; charset=x",
                        b"application/grpc-web, application/grpc-web-text-base64"],
    "FuzzHTTPHeadersParam": [
        b"\x07" + b"%24httpHeaders=Content-Type%3Aapplication%2Fgrpc-web-text%0D%0AAccept%3Aapplication%2Fgrpc-web-text"
        b"%0D%0AX-User-Agent%3Agrpc-web-javascript%2F0.1%0D%0AX-Grpc-Web%3A1%0D%0Agrpc-timeout%3A1500m%0D%0A",
        b"\x02" + b"x=1&$httpHeaders=foo%3Abar%0D%0A&y",
        b"\x03" + b"$httpHeaders=a%3A+b+%09%0D%0AA%3A2%0Ac%3A%FF%ZZ",
        b"\x00" + b"%24httpHeaders=%3Apath%3A%2Fx%0D%0AHost%3Ay&%24httpHeaders=",
    ],
    "FuzzYAML": [],
    "FuzzConfig": [],
    "FuzzJSON": [
        b"\x10" + b'{"alg":"RS256","kid":"k1","typ":"JWT"}',
        b"\x10" + b'{"iss":"https://i/","aud":["a","b"],"exp":1700000000.5,"nested":{"x":[true,false,null]}}',
        b"\x04" + b'[[[[[[1]]]]]]',
        b"\x10" + b'"\\u00e9\\ud83d\\ude00\\n"',
        b"\x10" + b'{"keys":[{"kty":"EC","crv":"P-256","x":"AAAA","y":"AAAA"}]}',
        b"\x00" + b"eyJhbGciOiJub25lIn0",
    ],
}

YAML_SAMPLES = [
    b"listeners:\n  - name: web\n    address: \"127.0.0.1:8080\"\n    cors: {allow_origins: ['*'], max_age: 1h}\n"
    b"    routes:\n      - prefix: /\n        cluster: b\nclusters:\n- name: b\n  endpoints: [127.0.0.1:1, 'h:2']\n",
    b"a: [1, {b: [2, 3]}, \"\\u00e9\\n\\t\"]\nc: 'it''s'\n# comment\n",
    b"k: ${HOME:-/root}\nlist:\n- - a\n  - b\n-\nempty:\nq: ~\n",
    b"x: &anchor 1\ny: *anchor\n---\nz: |\n  block\n",
    b"a:\n  b:\n    c:\n      d: [[[[[[[[[1]]]]]]]]]\n",
]


def main():
    for name in sorted(SEEDS):
        seeds = list(SEEDS[name])
        if name == "FuzzYAML":
            seeds = [bytes([64]) + s for s in YAML_SAMPLES]
        if name == "FuzzConfig":
            seeds = list(YAML_SAMPLES[:1])
            for cfg in ("minimal.yaml", "demo.yaml", "tls.yaml"):
                with open(os.path.join(HERE, "..", "config", cfg), "rb") as f:
                    seeds.append(f.read())
            seeds.append(b"listeners:\n- name: a\n  address: 127.0.0.1:${PORT}\n  routes: [{prefix: /, cluster: c}]\n"
                         b"clusters:\n- name: c\n  endpoints: [$UPSTREAM]\nwebsocket:\n  max_frame_size: 9223372036854775807\n"
                         b"limits:\n  idle_timeout: 99999999999h\n  max_request_body_size: 8EiB\n")
        folder = os.path.join(HERE, "corpus", name)
        os.makedirs(folder, exist_ok=True)
        for seed in seeds:
            digest = hashlib.sha1(seed).hexdigest()[:16]
            with open(os.path.join(folder, f"seed-{digest}"), "wb") as f:
                f.write(seed)


if __name__ == "__main__":
    main()
