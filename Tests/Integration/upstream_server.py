#!/usr/bin/env python3
"""The real gRPC upstream for the integration tests (grpcio, no generated code).

Run as a subprocess: ``upstream_server.py --port 0 --id u1``. Once serving it prints
``READY <port>`` on stdout (the fixture waits for that line). SIGTERM stops it with a
grace period, which makes grpcio send GOAWAY to every connected client (the proxy).

Every method uses identity (de)serializers, so handlers see and return raw ``bytes``.
Behaviour is controlled by request metadata; see the module docstring of each handler.
Per-method counters are exposed through ``/test.Control/Stats`` so tests can check what
the upstream saw (calls, cancellations, messages actually sent for flow-control tests).
"""

from __future__ import annotations

import argparse
import base64
import json
import signal
import sys
import threading
import time
import urllib.parse
from concurrent import futures

import grpc

MAX_MESSAGE = 64 * 1024 * 1024  # far above the proxy's 4 MiB, so the proxy's limit is what is tested

HEALTH_SERVING = b"\x08\x01"  # HealthCheckResponse{status: SERVING}
HEALTH_NOT_SERVING = b"\x08\x02"  # HealthCheckResponse{status: NOT_SERVING}


def reset_by_client(context, grace_s: float = 0.1) -> bool:
    """True if the request stream ended because the client reset it (RST_STREAM CANCEL) rather than half-closed.

    grpcio can end the request iterator before it has processed the reset, so `is_active()` may still be true for
    a moment: look again briefly before calling the call completed (otherwise cancellations are miscounted).
    """
    deadline = time.monotonic() + grace_s
    while True:
        if not context.is_active():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.005)


def pattern(n: int) -> bytes:
    """n bytes where byte i = i % 251 (a prime, so chunk boundaries never line up with it)."""
    block = bytes(range(251))
    reps, rest = divmod(n, 251)
    return block * reps + block[:rest]


def stream_message(k: int, size: int) -> bytes:
    body = pattern(size)
    if size >= 4:
        body = k.to_bytes(4, "big") + body[4:]
    return body


class Stats:
    """Thread-safe counters, keyed by full method path."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self.calls: dict[str, int] = {}
        self.cancelled: dict[str, int] = {}
        self.completed: dict[str, int] = {}
        self.sent: dict[str, int] = {}
        self.received: dict[str, int] = {}
        self.cancel_times: dict[str, list[float]] = {}
        self.last_metadata: dict = {}
        self.last_metadata_by_method: dict[str, dict] = {}
        self.last_time_remaining: dict[str, float | None] = {}
        self.active = 0

    def bump(self, table: dict, method: str, n: int = 1) -> None:
        with self.lock:
            table[method] = table.get(method, 0) + n

    def snapshot(self) -> dict:
        with self.lock:
            return {
                "calls": dict(self.calls),
                "cancelled": dict(self.cancelled),
                "completed": dict(self.completed),
                "sent": dict(self.sent),
                "received": dict(self.received),
                "cancel_times": {k: list(v) for k, v in self.cancel_times.items()},
                "last_metadata": dict(self.last_metadata),
                "last_metadata_by_method": {k: dict(v) for k, v in self.last_metadata_by_method.items()},
                "last_time_remaining": dict(self.last_time_remaining),
                "active": self.active,
                "now": time.monotonic(),  # CLOCK_MONOTONIC is system-wide, comparable with the test's clock
            }


def metadata_to_json(md) -> dict:
    """Request metadata as JSON: binary values base64; a repeated key becomes a list."""
    out: dict = {}
    for key, value in md:
        if isinstance(value, bytes):
            value = base64.b64encode(value).decode("ascii")
        if key in out:
            prev = out[key]
            out[key] = prev + [value] if isinstance(prev, list) else [prev, value]
        else:
            out[key] = value
    return out


def peer_certificate_json(context) -> dict:
    """What TLS told grpcio about the client: its certificate's common name and SANs (empty for cleartext or a
    client that sent no certificate)."""
    out: dict = {}
    for key, values in (context.auth_context() or {}).items():
        if key.startswith("x509_") or key == "transport_security_type":
            out[key] = [v.decode(errors="replace") if isinstance(v, bytes) else v for v in values]
    return out


class Call:
    """Per-call helper: parsed controls, bookkeeping, and cancellation tracking."""

    def __init__(self, server: "Upstream", method: str, context: grpc.ServicerContext) -> None:
        self.server = server
        self.method = method
        self.context = context
        self.md = list(context.invocation_metadata() or ())
        self.first: dict = {}
        for k, v in self.md:
            self.first.setdefault(k, v)
        self.done = False
        stats = server.stats
        stats.bump(stats.calls, method)
        md_json = metadata_to_json(self.md)
        with stats.lock:
            stats.last_metadata = md_json
            stats.last_metadata_by_method[method] = md_json
            stats.last_time_remaining[method] = context.time_remaining()
            stats.active += 1
        context.add_callback(self._on_terminate)

    def _on_terminate(self) -> None:
        stats = self.server.stats
        with stats.lock:
            stats.active -= 1
            if self.done:
                stats.completed[self.method] = stats.completed.get(self.method, 0) + 1
            else:
                stats.cancelled[self.method] = stats.cancelled.get(self.method, 0) + 1
                stats.cancel_times.setdefault(self.method, []).append(time.monotonic())

    def text(self, key: str, default: str | None = None) -> str | None:
        v = self.first.get(key)
        if v is None:
            return default
        return v.decode("latin-1") if isinstance(v, bytes) else v

    def int(self, key: str, default: int) -> int:
        v = self.text(key)
        return default if v is None or v == "" else int(v)

    def sleep(self, seconds: float) -> bool:
        """Sleeps in small steps; returns False as soon as the call is no longer active."""
        end = time.monotonic() + seconds
        while True:
            if not self.context.is_active():
                return False
            left = end - time.monotonic()
            if left <= 0:
                return True
            time.sleep(min(left, 0.01))

    def echo_metadata(self) -> tuple[list, list]:
        """(initial, trailing) metadata to send: x-server-id plus the x-header-* / x-trailer-* echoes."""
        initial = [("x-server-id", self.server.server_id)]
        trailing = []
        for k, v in self.md:
            if k.startswith("x-header-"):
                initial.append((k, v))
            elif k.startswith("x-trailer-"):
                trailing.append((k, v))
        return initial, trailing

    def fail_code(self) -> grpc.StatusCode | None:
        code = self.int("x-fail-code", 0)
        if code == 0:
            return None
        for sc in grpc.StatusCode:
            if sc.value[0] == code:
                return sc
        raise ValueError(f"unknown status code {code}")

    def start(self) -> tuple[bool, list]:
        """Applies x-delay-ms, then sends initial metadata unless the call must be trailers-only.

        Returns (alive, trailing metadata still to send). A trailers-only failure sends every
        piece of metadata (x-server-id and the x-header-* echoes) as trailers, because grpc core
        only produces a trailers-only response when no initial metadata was given.
        """
        initial, trailing = self.echo_metadata()
        delay = self.int("x-delay-ms", 0)
        if delay and not self.sleep(delay / 1000.0):
            return False, trailing
        trailers_only = self.fail_code() is not None and self.text("x-fail-after-headers") != "1"
        if trailers_only:
            trailing = initial + trailing
        else:
            self.context.send_initial_metadata(initial)
        return True, trailing

    def finish(self, trailing: list) -> None:
        """Sets trailers and the failure status if asked; marks the call completed."""
        if trailing:
            self.context.set_trailing_metadata(trailing)
        code = self.fail_code()
        self.done = True
        if code is not None:
            self.context.set_code(code)
            # Percent-decoded here so tests can ask for non-ASCII text through an ASCII header;
            # grpcio percent-encodes it again as grpc-message on the wire.
            self.context.set_details(urllib.parse.unquote(self.text("x-fail-message", "") or ""))
        else:
            self.context.set_code(grpc.StatusCode.OK)


class Upstream:
    def __init__(self, server_id: str) -> None:
        self.server_id = server_id
        self.stats = Stats()
        self.health = HEALTH_SERVING

    # --- test.Echo -------------------------------------------------------------------

    def unary(self, request: bytes, context) -> bytes:
        """Echo the request; x-response-size, x-delay-ms, x-fail-* (x-fail-message is percent-decoded), x-header-*,
        x-trailer-*, x-echo-metadata, x-echo-peer (TLS servers: the client certificate the proxy presented)."""
        call = Call(self, "/test.Echo/Unary", context)
        call.server.stats.bump(call.server.stats.received, call.method)
        alive, trailing = call.start()
        if not alive:
            return b""
        if call.fail_code() is not None:
            call.finish(trailing)
            return None
        if call.text("x-echo-metadata") == "1":
            reply = json.dumps(metadata_to_json(call.md), sort_keys=True).encode()
        elif call.text("x-echo-peer") == "1":
            reply = json.dumps(peer_certificate_json(context), sort_keys=True).encode()
        elif call.text("x-response-size") is not None:
            reply = pattern(call.int("x-response-size", 0))
        else:
            reply = request
        call.server.stats.bump(call.server.stats.sent, call.method)
        call.finish(trailing)
        return reply

    def server_stream(self, request: bytes, context):
        """x-stream-count (3), x-stream-size (len(request)), x-stream-interval-ms (0), x-stream-forever."""
        call = Call(self, "/test.Echo/ServerStream", context)
        stats = self.stats
        stats.bump(stats.received, call.method)
        alive, trailing = call.start()
        if not alive:
            return
        if call.fail_code() is not None and call.text("x-fail-after-headers") != "1":
            call.finish(trailing)  # trailers-only: no message may precede the status
            return
        count = call.int("x-stream-count", 3)
        size = call.int("x-stream-size", len(request))
        interval = call.int("x-stream-interval-ms", 0) / 1000.0
        forever = call.text("x-stream-forever") == "1"
        k = 0
        while forever or k < count:
            if k > 0 and interval and not call.sleep(interval):
                return
            if not context.is_active():
                return
            msg = stream_message(k, size)
            # grpcio's sync server pulls the next item only after the previous send completed,
            # so this counter lags the bytes accepted by HTTP/2 flow control by at most one message.
            yield msg
            stats.bump(stats.sent, call.method)
            k += 1
        call.finish(trailing)

    def client_stream(self, request_iterator, context) -> bytes:
        call = Call(self, "/test.Echo/ClientStream", context)
        alive, trailing = call.start()
        if not alive:
            return b""
        n = total = 0
        for msg in request_iterator:
            n += 1
            total += len(msg)
            self.stats.bump(self.stats.received, call.method)
        if reset_by_client(context):
            return None
        if call.fail_code() is not None:
            call.finish(trailing)
            return None
        self.stats.bump(self.stats.sent, call.method)
        call.finish(trailing)
        return b"count=%d bytes=%d" % (n, total)

    def bidi(self, request_iterator, context):
        call = Call(self, "/test.Echo/Bidi", context)
        alive, trailing = call.start()
        if not alive:
            return
        burst = call.int("x-bidi-burst", 1)
        for msg in request_iterator:
            self.stats.bump(self.stats.received, call.method)
            for _ in range(burst):
                yield msg
                self.stats.bump(self.stats.sent, call.method)
        if reset_by_client(context):
            return
        call.finish(trailing)

    # --- test.Control / grpc.health.v1.Health ----------------------------------------

    def control_stats(self, request: bytes, context) -> bytes:
        return json.dumps(self.stats.snapshot(), sort_keys=True).encode()

    def control_reset(self, request: bytes, context) -> bytes:
        with self.stats.lock:
            self.stats.reset()
        return b""

    def control_set_health(self, request: bytes, context) -> bytes:
        if request == b"SERVING":
            self.health = HEALTH_SERVING
        elif request == b"NOT_SERVING":
            self.health = HEALTH_NOT_SERVING
        else:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "payload must be SERVING or NOT_SERVING")
        return b""

    def health_check(self, request: bytes, context) -> bytes:
        self.stats.bump(self.stats.calls, "/grpc.health.v1.Health/Check")
        return self.health

    def handlers(self) -> list:
        u = grpc.unary_unary_rpc_method_handler
        return [
            grpc.method_handlers_generic_handler("test.Echo", {
                "Unary": u(self.unary),
                "ServerStream": grpc.unary_stream_rpc_method_handler(self.server_stream),
                "ClientStream": grpc.stream_unary_rpc_method_handler(self.client_stream),
                "Bidi": grpc.stream_stream_rpc_method_handler(self.bidi),
            }),
            grpc.method_handlers_generic_handler("test.Control", {
                "Stats": u(self.control_stats),
                "Reset": u(self.control_reset),
                "SetHealth": u(self.control_set_health),
            }),
            grpc.method_handlers_generic_handler("grpc.health.v1.Health", {
                "Check": u(self.health_check),
            }),
        ]


def server_credentials(args) -> grpc.ServerCredentials:
    """TLS credentials from the --tls-* options. With --client-ca but without --require-client-auth, grpcio asks
    for a client certificate and accepts a client that sends none."""
    def read(path: str | None) -> bytes | None:
        if path is None:
            return None
        with open(path, "rb") as f:
            return f.read()

    return grpc.ssl_server_credentials([(read(args.tls_key), read(args.tls_cert))],
                                       root_certificates=read(args.client_ca),
                                       require_client_auth=args.require_client_auth)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--id", default="u1")
    ap.add_argument("--grace", type=float, default=5.0, help="seconds in-flight calls get on SIGTERM")
    ap.add_argument("--workers", type=int, default=300)
    # TLS (all optional; without --tls-cert the server listens in cleartext exactly as before).
    ap.add_argument("--tls-cert", help="PEM certificate chain: serve TLS (ALPN h2) instead of cleartext")
    ap.add_argument("--tls-key", help="PEM private key of --tls-cert")
    ap.add_argument("--client-ca", help="PEM CA bundle that client certificates are verified against")
    ap.add_argument("--require-client-auth", action="store_true", help="refuse clients without a certificate")
    args = ap.parse_args()
    if bool(args.tls_cert) != bool(args.tls_key):
        ap.error("--tls-cert and --tls-key go together")
    if args.require_client_auth and not args.client_ca:
        ap.error("--require-client-auth needs --client-ca")

    upstream = Upstream(args.id)
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=args.workers),
        handlers=upstream.handlers(),
        options=[
            ("grpc.max_send_message_length", MAX_MESSAGE),
            ("grpc.max_receive_message_length", MAX_MESSAGE),
            ("grpc.so_reuseport", 1),
        ],
    )
    if args.tls_cert:
        port = server.add_secure_port(f"{args.host}:{args.port}", server_credentials(args))
    else:
        port = server.add_insecure_port(f"{args.host}:{args.port}")
    if port == 0:
        print(f"cannot bind {args.host}:{args.port}", file=sys.stderr, flush=True)
        return 2
    server.start()

    stopping = threading.Event()

    def on_signal(signum, frame):
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    print(f"READY {port}", flush=True)
    while not stopping.wait(0.2):
        pass
    # stop(grace) refuses new calls at once (GOAWAY) and lets in-flight calls finish.
    server.stop(args.grace).wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
