#!/usr/bin/env python3
"""The demo's gRPC server: a friendly Greeter with one method of each streaming kind.

Messages are raw UTF-8 bytes (identity serializers, no protobuf), so the browser page can show them as text:

* ``demo.Greeter/SayHello``  unary: request = a name, reply "Hello, <name>!" (empty name -> INVALID_ARGUMENT).
* ``demo.Greeter/Countdown`` server streaming: request = N (1..30, default 5), replies "N", ..., "1", one per second.
* ``demo.Greeter/Chat``      bidi: every request comes back upper-cased, immediately.
* ``grpc.health.v1.Health/Check`` answers SERVING, so the proxy's active health checks pass.

Run: ``python3 demo_upstream.py [--port 50051]``.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from concurrent import futures

import grpc

HEALTH_SERVING = b"\x08\x01"  # grpc.health.v1.HealthCheckResponse{status: SERVING}, protobuf-encoded by hand


def say_hello(request: bytes, context: grpc.ServicerContext) -> bytes:
    name = request.decode("utf-8", "replace").strip()
    if not name:
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, "please tell me your name")
    context.set_trailing_metadata([("x-greeted-at", time.strftime("%H:%M:%S"))])
    return f"Hello, {name}!".encode()


def countdown(request: bytes, context: grpc.ServicerContext):
    text = request.decode("utf-8", "replace").strip() or "5"
    try:
        n = int(text)
    except ValueError:
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"not a number: {text}")
    if not 1 <= n <= 30:
        context.abort(grpc.StatusCode.OUT_OF_RANGE, "count from 1 to 30")
    for k in range(n, 0, -1):
        if not context.is_active():  # the page went away: stop counting
            return
        yield str(k).encode()
        if k > 1:
            time.sleep(1)


def chat(request_iterator, context: grpc.ServicerContext):
    for message in request_iterator:
        yield message.decode("utf-8", "replace").upper().encode()


def health_check(request: bytes, context: grpc.ServicerContext) -> bytes:
    return HEALTH_SERVING


def main() -> int:
    ap = argparse.ArgumentParser(description="grpc-web-proxy demo upstream")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=50051)
    args = ap.parse_args()

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=32), handlers=[
        grpc.method_handlers_generic_handler("demo.Greeter", {
            "SayHello": grpc.unary_unary_rpc_method_handler(say_hello),
            "Countdown": grpc.unary_stream_rpc_method_handler(countdown),
            "Chat": grpc.stream_stream_rpc_method_handler(chat),
        }),
        grpc.method_handlers_generic_handler("grpc.health.v1.Health", {
            "Check": grpc.unary_unary_rpc_method_handler(health_check),
        }),
    ])
    if server.add_insecure_port(f"{args.host}:{args.port}") == 0:
        print(f"demo upstream: cannot listen on {args.host}:{args.port}", file=sys.stderr)
        return 1
    server.start()
    print(f"demo upstream: serving demo.Greeter on {args.host}:{args.port}", flush=True)

    # Only a plain flag in the handler: taking a lock there (threading.Event.set) can deadlock when a second
    # signal (Ctrl-C sends SIGINT, then run-demo.sh sends SIGTERM) interrupts the first handler.
    stopping: list[int] = []
    signal.signal(signal.SIGTERM, lambda signum, _frame: stopping.append(signum))
    signal.signal(signal.SIGINT, lambda signum, _frame: stopping.append(signum))
    while not stopping:
        time.sleep(0.2)
    server.stop(2).wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
