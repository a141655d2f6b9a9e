"""The soak's call kinds and the client process that runs them.

Each kind is one small function that makes one call through the proxy and returns ``(label, server_id, detail)``:
the label is the gRPC status as a string ("0", "4", "14", ...), or one of

* ``cancelled``: the client read the first message and went away (what the cancel kinds want);
* ``cut``: the response ended without a status (connection closed, truncated body, WebSocket closed early);
* ``hang``: a socket read waited ``CALL_TIMEOUT_S`` without progress (always a failure);
* ``bad``: status 0 but the data was wrong (echo mismatch, wrong message count or sequence);
* ``http-NNN``: a non-200 answer without grpc-status; ``error``: anything else the client raised.

Every kind declares the labels it expects. Anything else is "notable" and is sent back to the driver with its
start/end times and the answering server, and the driver decides whether a kill of the upstream explains it.
"""

from __future__ import annotations

import collections
import os
import random
import socket
import threading
import time
import traceback
from dataclasses import dataclass

from grpcweb_client import ConnectionClosed, HTTPConnection, StreamingCall
from websockets.exceptions import ConnectionClosed as WSConnectionClosed
from ws_client import GrpcWsCall

CALL_TIMEOUT_S = 10.0  # longest wait for any single socket read: beyond it the call counts as a hang
UNARY = "/test.Echo/Unary"
STREAM = "/test.Echo/ServerStream"
BIDI = "/test.Echo/Bidi"
PIN_HEADER = "x-soak-pin"  # routes a call to the cluster that holds only the upstream that gets killed
NOTABLE_CAP = 20000  # per client process; more than this many unexpected outcomes is a failure anyway


class Ctx:
    """Per client thread: the keep-alive connection and a seeded random generator."""

    def __init__(self, base_url: str, seed: int) -> None:
        self.base_url = base_url
        self.rng = random.Random(seed)
        self.conn: HTTPConnection | None = None

    def keepalive(self) -> HTTPConnection:
        if self.conn is None:
            self.conn = HTTPConnection(self.base_url, timeout_s=CALL_TIMEOUT_S)
        return self.conn

    def drop(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def payload(self, i: int, lo: int = 16, hi: int = 600) -> bytes:
        tag = b"soak-%d-" % i
        return tag + os.urandom(self.rng.randint(lo, hi))


def _exc_label(e: BaseException) -> str:
    if isinstance(e, (socket.timeout, TimeoutError)):
        return "hang"
    if isinstance(e, (ConnectionClosed, OSError, EOFError)):
        return "cut"
    return "error"


def grpcweb(ctx: Ctx, path: str, messages, *, text=False, metadata=None, keepalive=True, check=None, **kw):
    """One gRPC-Web call, read to the end. ``check(result) -> error text or None`` validates a status-0 answer."""
    conn = ctx.keepalive() if keepalive else None
    c = None
    try:
        c = StreamingCall(ctx.base_url, path, messages, text=text, metadata=metadata, timeout_s=CALL_TIMEOUT_S,
                          conn=conn, **kw)
        c.read_headers()
        r = c.read_all()
    except Exception as e:  # noqa: BLE001 (every failure is classified, none may stop the soak)
        if keepalive:
            ctx.drop()
        elif c is not None:
            c.close()
        return _exc_label(e), None, f"{type(e).__name__}: {e}"
    if not keepalive:
        c.close()
    server = r.headers.get("x-server-id")
    reusable = r.complete and r.error is None and r.headers.get("connection", "").lower() != "close"
    if keepalive and not reusable:
        ctx.drop()
    if r.error is not None:
        return ("hang" if "timed out" in r.error else "cut"), server, r.error
    if r.http_status != 200:
        return f"http-{r.http_status}", server, r.body[:200]
    if r.grpc_status is None:
        return "cut", server, "body ended without grpc-status"
    if r.grpc_status == 0 and check is not None:
        problem = check(r)
        if problem:
            return "bad", server, problem
    return str(r.grpc_status), server, r.grpc_message


def _echo(expected: bytes):
    return lambda r: None if r.messages == [expected] else f"echo mismatch: {len(r.messages)} messages"


def _sequence(count: int, size: int):
    def check(r):
        if len(r.messages) != count:
            return f"{len(r.messages)} of {count} stream messages"
        for k, m in enumerate(r.messages):
            if len(m) != size or (size >= 4 and int.from_bytes(m[:4], "big") != k):
                return f"message {k} is wrong (len {len(m)})"
        return None
    return check


# --------------------------------------------------------------------------------------------------------------
# Kinds against the grpcio cluster (two upstreams, one of them killed and restarted during the run)
# --------------------------------------------------------------------------------------------------------------

def unary(ctx: Ctx, i: int):
    p = ctx.payload(i)
    return grpcweb(ctx, UNARY, [p], check=_echo(p))


def unary_text(ctx: Ctx, i: int):
    p = ctx.payload(i)
    return grpcweb(ctx, UNARY, [p], text=True, check=_echo(p))


def _stream(ctx: Ctx, count: int, size: int, interval_ms: int = 0, text: bool = False):
    md = {"x-stream-count": str(count), "x-stream-size": str(size)}
    if interval_ms:
        md["x-stream-interval-ms"] = str(interval_ms)
    return grpcweb(ctx, STREAM, [b"s"], text=text, metadata=md, check=_sequence(count, size))


def stream(ctx: Ctx, i: int):
    return _stream(ctx, ctx.rng.randint(2, 8), ctx.rng.randint(8, 2048))


def stream_text(ctx: Ctx, i: int):
    return _stream(ctx, ctx.rng.randint(2, 8), ctx.rng.randint(8, 2048), text=True)


def long_stream(ctx: Ctx, i: int):
    """Open for about 100 ms, so that a kill usually finds some of these in flight."""
    return _stream(ctx, 6, 256, interval_ms=20)


def deadline(ctx: Ctx, i: int):
    """grpc-timeout far shorter than the upstream's delay: the proxy must answer 4 on time."""
    return grpcweb(ctx, UNARY, [b"d"], metadata={"grpc-timeout": "80m", "x-delay-ms": "3000"})


def status_passthrough(ctx: Ctx, i: int):
    return grpcweb(ctx, UNARY, [b"f"], metadata={"x-fail-code": "5", "x-fail-message": "soak"})


def slow_reader(ctx: Ctx, i: int):
    """A 256 KiB stream read 4 KiB at a time with pauses through a 4 KiB receive buffer: the proxy must hold it
    back (HTTP/2 window) rather than buffer it, and finish it correctly."""
    md = {"x-stream-count": "32", "x-stream-size": "8192"}
    return grpcweb(ctx, STREAM, [b"slow"], metadata=md, keepalive=False, rcvbuf=4096, read_size=4096,
                   read_delay_s=0.002, check=_sequence(32, 8192))


def cancel(ctx: Ctx, i: int):
    """A never-ending stream; the client closes the socket after the first message."""
    md = {"x-stream-forever": "1", "x-stream-interval-ms": "10", "x-stream-size": "64"}
    c = None
    try:
        c = StreamingCall(ctx.base_url, STREAM, [b"c"], metadata=md, timeout_s=CALL_TIMEOUT_S)
        r = c.read_headers()
        first = c.next_message()
    except Exception as e:  # noqa: BLE001
        return _exc_label(e), None, f"{type(e).__name__}: {e}"
    finally:
        if c is not None:
            c.close()
    server = r.headers.get("x-server-id")
    if first is not None:
        return "cancelled", server, None
    if r.error is not None:
        return ("hang" if "timed out" in r.error else "cut"), server, r.error
    return (str(r.grpc_status) if r.grpc_status is not None else "cut"), server, r.grpc_message


def _ws_label(res, server):
    if res.grpc_status is None:
        return "cut", server, f"closed {res.close_code} {res.close_reason!r} without grpc-status"
    return str(res.grpc_status), server, res.grpc_message


def ws_bidi(ctx: Ctx, i: int):
    """grpc-websockets: three messages echoed one by one, then half-close and the trailers."""
    call_ = None
    try:
        call_ = GrpcWsCall(ctx.base_url, BIDI, open_timeout=CALL_TIMEOUT_S)
        try:
            for k in range(3):
                p = ctx.payload(i * 4 + k, 8, 300)
                call_.send(p)
                got = call_.recv_message(timeout=CALL_TIMEOUT_S)
                if got is None:
                    break
                if got != p:
                    call_.close()
                    return "bad", None, f"bidi echo {k} mismatch"
            else:
                call_.half_close()
        except WSConnectionClosed:
            # The proxy ended the call (its upstream was killed) between our recv and our send: its status block
            # and close frame were already received, and finish() reads them.
            pass
        res = call_.finish(timeout=CALL_TIMEOUT_S)
    except Exception as e:  # noqa: BLE001
        if call_ is not None:
            call_.abort()
        return _exc_label(e), None, f"{type(e).__name__}: {e}"
    server = (res.headers or {}).get("x-server-id")
    if res.grpc_status == 0 and len(res.messages) != 3:
        return "bad", server, f"{len(res.messages)} bidi echoes"
    return _ws_label(res, server)


def ws_cancel(ctx: Ctx, i: int):
    """A never-ending stream over grpc-websockets; the client drops the TCP connection after the first message."""
    call_ = None
    try:
        call_ = GrpcWsCall(ctx.base_url, STREAM, {"x-stream-forever": "1", "x-stream-interval-ms": "10",
                                                  "x-stream-size": "64"}, open_timeout=CALL_TIMEOUT_S)
        call_.send(b"w")
        call_.half_close()
        first = call_.recv_message(timeout=CALL_TIMEOUT_S)
        if first is not None:
            call_.abort()
            return "cancelled", (call_._asm.result.headers or {}).get("x-server-id"), None
        res = call_.finish(timeout=CALL_TIMEOUT_S)
    except Exception as e:  # noqa: BLE001
        if call_ is not None:
            call_.abort()
        return _exc_label(e), None, f"{type(e).__name__}: {e}"
    return _ws_label(res, (res.headers or {}).get("x-server-id"))


# --------------------------------------------------------------------------------------------------------------
# Kinds against the fault upstream (fault_upstream.py picks its behaviour from the path)
# --------------------------------------------------------------------------------------------------------------

def _fault(path: str, echo: bool = False):
    def run(ctx: Ctx, i: int):
        p = ctx.payload(i, 8, 64)
        return grpcweb(ctx, path, [p], check=_echo(p) if echo else None)
    return run


@dataclass(frozen=True)
class Kind:
    name: str
    run: object
    weight: int  # calls of this kind in every block of 100
    expected: frozenset
    killable: bool  # goes to the grpcio cluster, so a kill of the victim upstream may excuse a failure


def _k(name, run, weight, expected, killable=True) -> Kind:
    return Kind(name, run, weight, frozenset(expected), killable)


KINDS = [
    _k("unary", unary, 37, {"0"}),
    _k("unary_text", unary_text, 10, {"0"}),
    _k("stream", stream, 12, {"0"}),
    _k("stream_text", stream_text, 4, {"0"}),
    _k("long_stream", long_stream, 3, {"0"}),
    _k("ws_bidi", ws_bidi, 8, {"0"}),
    _k("cancel", cancel, 4, {"cancelled"}),
    _k("ws_cancel", ws_cancel, 2, {"cancelled"}),
    _k("deadline", deadline, 3, {"4"}),
    _k("status_5", status_passthrough, 2, {"5"}),
    _k("slow_reader", slow_reader, 1, {"0"}),
    # GOAWAY(last-stream-id 0) on every attempt: the proxy retries (nothing was processed) and then gives up: 14.
    _k("goaway", _fault("/fault.Goaway/x"), 3, {"14"}, killable=False),
    # RST_STREAM codes map per the gRPC spec: CANCEL -> 1, INTERNAL_ERROR -> 13, ENHANCE_YOUR_CALM -> 8;
    # REFUSED_STREAM is retried, then 14.
    _k("rst_cancel", _fault("/fault.Rst/CANCEL"), 2, {"1"}, killable=False),
    _k("rst_internal", _fault("/fault.Rst/INTERNAL_ERROR"), 2, {"13"}, killable=False),
    _k("rst_calm", _fault("/fault.Rst/ENHANCE_YOUR_CALM"), 1, {"8"}, killable=False),
    _k("rst_refused", _fault("/fault.Rst/REFUSED_STREAM"), 2, {"14"}, killable=False),
    _k("http503", _fault("/fault.Http503/x"), 2, {"14"}, killable=False),
    _k("fault_ok", _fault("/fault.Ok/x", echo=True), 2, {"0"}, killable=False),
]
KIND_BY_NAME = {k.name: k for k in KINDS}


def schedule(seed: int, only: frozenset | None = None) -> list[str]:
    """The order kinds are drawn in: one shuffled block of 100 per weights, repeated (``only``: just those kinds)."""
    names = [k.name for k in KINDS for _ in range(k.weight) if not only or k.name in only]
    random.Random(seed).shuffle(names)
    return names


# --------------------------------------------------------------------------------------------------------------
# The client process
# --------------------------------------------------------------------------------------------------------------

class Tally:
    """What one client process saw: counts per (kind, label), latency per kind, and the notable outcomes."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts: collections.Counter = collections.Counter()
        self.latency_sum: collections.Counter = collections.Counter()
        self.latency_max: dict[str, float] = {}
        self.notable: list[tuple] = []
        self.notable_dropped = 0

    def add(self, kind: Kind, label: str, server, detail, t0: float, t1: float) -> None:
        with self.lock:
            self.counts[(kind.name, label)] += 1
            self.latency_sum[kind.name] += t1 - t0
            self.latency_max[kind.name] = max(self.latency_max.get(kind.name, 0.0), t1 - t0)
            if label not in kind.expected:
                if len(self.notable) < NOTABLE_CAP:
                    self.notable.append((kind.name, label, server, str(detail)[:300], t0, t1))
                else:
                    self.notable_dropped += 1

    def as_dict(self) -> dict:
        return {"counts": dict(self.counts), "latency_sum": dict(self.latency_sum),
                "latency_max": dict(self.latency_max), "notable": self.notable,
                "notable_dropped": self.notable_dropped}


def _thread_main(base_url: str, order: list[str], claim, total: int, done, tally: Tally, seed: int) -> None:
    ctx = Ctx(base_url, seed)
    while True:
        with claim.get_lock():
            i = claim.value
            if i >= total:
                break
            claim.value = i + 1
        kind = KIND_BY_NAME[order[i % len(order)]]
        t0 = time.monotonic()
        try:
            label, server, detail = kind.run(ctx, i)
        except Exception:  # noqa: BLE001 (a bug in the driver must show up as a failure, not a lost call)
            label, server, detail = "error", None, traceback.format_exc(limit=3)
            ctx.drop()
        tally.add(kind, label, server, detail, t0, time.monotonic())
        with done.get_lock():
            done.value += 1
    ctx.drop()


def client_process(base_url: str, claim, total: int, done, threads: int, seed: int, proc_id: int, results,
                   only: frozenset | None = None) -> None:
    """Entry point of one client process: ``threads`` threads claim call indices until ``total`` is reached.
    The kind of call ``i`` depends on ``i`` and ``seed`` only, whichever process runs it."""
    order = schedule(seed, only)
    tally = Tally()
    workers = [threading.Thread(target=_thread_main, args=(base_url, order, claim, total, done, tally,
                                                           seed * 10007 + proc_id * 101 + t), daemon=True)
               for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    results.put(tally.as_dict())


# --------------------------------------------------------------------------------------------------------------
# Streams pinned to the victim upstream, opened by the driver just before each kill
# --------------------------------------------------------------------------------------------------------------

def open_pinned_stream(base_url: str, server_id: str) -> StreamingCall:
    """A never-ending gRPC-Web stream routed to the victim only; returns once its first message arrived."""
    md = {PIN_HEADER: "victim", "x-stream-forever": "1", "x-stream-interval-ms": "20", "x-stream-size": "32"}
    c = StreamingCall(base_url, STREAM, [b"pin"], metadata=md, timeout_s=CALL_TIMEOUT_S)
    r = c.read_headers()
    first = c.next_message() if r.grpc_status is None else None
    if first is None or r.headers.get("x-server-id") != server_id:
        c.close()
        raise RuntimeError(f"pinned stream did not start on {server_id}: server {r.headers.get('x-server-id')}, "
                           f"status {r.grpc_status} {r.grpc_message!r} {r.error}")
    return c


def open_pinned_ws(base_url: str, server_id: str) -> GrpcWsCall:
    """The same over grpc-websockets (the pin header rides on the upgrade request)."""
    c = GrpcWsCall(base_url, STREAM, {"x-stream-forever": "1", "x-stream-interval-ms": "20", "x-stream-size": "32"},
                   open_timeout=CALL_TIMEOUT_S, additional_headers={PIN_HEADER: "victim"})
    c.send(b"pin")
    c.half_close()
    first = c.recv_message(timeout=CALL_TIMEOUT_S)
    server = (c._asm.result.headers or {}).get("x-server-id")
    if first is None or server != server_id:
        c.abort()
        raise RuntimeError(f"pinned WebSocket stream did not start on {server_id}: server {server}")
    return c


def finish_pinned(c) -> tuple[str, str | None]:
    """Reads a pinned stream to its end after the kill: (label, detail)."""
    if isinstance(c, GrpcWsCall):
        try:
            res = c.finish(timeout=CALL_TIMEOUT_S)
        except Exception as e:  # noqa: BLE001
            c.abort()
            return _exc_label(e), f"{type(e).__name__}: {e}"
        label, _, detail = _ws_label(res, None)
        return label, detail
    try:
        r = c.read_all()
    except Exception as e:  # noqa: BLE001
        return _exc_label(e), f"{type(e).__name__}: {e}"
    finally:
        c.close()
    if r.error is not None:
        return ("hang" if "timed out" in r.error else "cut"), r.error
    return (str(r.grpc_status) if r.grpc_status is not None else "cut"), r.grpc_message
