#!/usr/bin/env python3
"""A misbehaving HTTP/2 upstream (on the ``h2`` package) for fault injection.

The real grpcio server cannot be told to reset a stream with a chosen code, answer with a
non-gRPC HTTP error, refuse streams with GOAWAY, or never answer. This one can.

Usage: ``fault_upstream.py --port 0 [--mode MODE]``; prints ``READY <port> <control_port>``.
``GET http://127.0.0.1:<control_port>/stats`` returns JSON counters of what it received.

The mode of a request is, in order: ``--mode``; the request header ``x-fault``; the path
``/fault.<Mode>/<arg>`` (``/fault.Rst/INTERNAL_ERROR``, ``/fault.Http503/x``, ...); else ``ok``.

Modes:
  ok                 a gRPC echo: 200 application/grpc, the request frames back, grpc-status 0
  rst:<CODE>         RST_STREAM with CODE (name like REFUSED_STREAM or a number) before any header
  refuse_first:<N>   RST_STREAM(REFUSED_STREAM) for the first N streams (process-wide), then ok
  http503            :status 503, content-type text/plain, body "backend overloaded"
  goaway             GOAWAY(last-stream-id 0, NO_ERROR) when a request arrives, then close
  hang_stream        HTTP/2 is set up, the request is read, nothing is ever answered
  hang               (connection-level, --mode only) accept TCP and never send a byte
  close_at_once      (connection-level, --mode only) accept TCP and close at once with a RST (SO_LINGER 0),
                     before sending any HTTP/2 byte
  close_at_once_fin  (connection-level, --mode only) the same with a plain close (FIN)
  ping_flood         (connection-level, --mode only) sends its SETTINGS, reads the client's first bytes, then
                     sends PING frames (at most --flood-bytes) and never reads again: the client's PING ACKs
                     pile up
  hpack_bomb:<WHERE> an HPACK bomb in the response: WHERE is headers, trailers or trailers_only. The block adds
                     one large field (--bomb-value-size bytes) to the dynamic table, then references it
                     --bomb-refs times (one byte each): a small block that decodes to a huge header list
  reply              answers from the request header ``x-reply``, JSON: {"headers": [[k, v], ...],
                     "trailers": [[k, v], ...], "trailers_only": bool}. ``headers`` follow :status 200 and
                     content-type application/grpc; the body echoes the request; ``trailers`` end the stream
                     (default grpc-status 0). With trailers_only the headers and trailers go in one
                     END_STREAM block and nothing else is sent.
"""

from __future__ import annotations

import argparse
import http.server
import json
import struct
import signal
import socket
import socketserver
import sys
import threading
import time

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions


class Counters:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.connections = 0
        self.streams = 0
        self.paths: dict[str, int] = {}
        self.modes: dict[str, int] = {}
        self.rst_sent: dict[str, int] = {}
        self.goaway_sent = 0
        self.resets_received: dict[str, int] = {}
        self.data_bytes = 0
        self.last_headers: dict[str, str] = {}
        self.refused_so_far = 0
        self.pings_received = 0

    def snapshot(self) -> dict:
        with self.lock:
            return {
                "connections": self.connections,
                "streams": self.streams,
                "paths": dict(self.paths),
                "modes": dict(self.modes),
                "rst_sent": dict(self.rst_sent),
                "goaway_sent": self.goaway_sent,
                "resets_received": dict(self.resets_received),
                "data_bytes": self.data_bytes,
                "last_headers": dict(self.last_headers),
                "pings_received": self.pings_received,
            }


COUNTERS = Counters()
ARGS: argparse.Namespace


def error_code(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        return int(h2.errors.ErrorCodes[text.upper()])


def code_name(code: int) -> str:
    try:
        return h2.errors.ErrorCodes(code).name
    except ValueError:
        return str(code)


def mode_for(headers: dict[str, str]) -> str:
    if ARGS.mode:
        return ARGS.mode
    if "x-fault" in headers:
        return headers["x-fault"]
    path = headers.get(":path", "")
    if path.startswith("/fault."):
        service, _, arg = path[len("/fault."):].partition("/")
        name = {"rst": "rst", "refusefirst": "refuse_first", "http503": "http503", "goaway": "goaway",
                "hangstream": "hang_stream", "hpackbomb": "hpack_bomb", "reply": "reply",
                "ok": "ok"}.get(service.lower(), "ok")
        return f"{name}:{arg}" if name in ("rst", "refuse_first", "hpack_bomb") else name
    return "ok"


class Handler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with COUNTERS.lock:
            COUNTERS.connections += 1
        if ARGS.mode == "hang":
            while sock.recv(65536):  # read and drop; never answer
                pass
            return
        if ARGS.mode in ("close_at_once", "close_at_once_fin"):
            if ARGS.mode == "close_at_once":
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()
            return
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False, header_encoding="utf-8"))
        conn.initiate_connection()
        sock.sendall(conn.data_to_send())
        if ARGS.mode == "ping_flood":
            self._ping_flood(sock)
            return
        bodies: dict[int, bytearray] = {}
        modes: dict[int, str] = {}
        pending: dict[int, tuple[bytes, list]] = {}  # ok-mode responses waiting for flow-control window
        replies: dict[int, dict] = {}  # reply-mode instructions per stream
        closing_at: float | None = None
        sock.settimeout(0.2)
        while True:
            if closing_at is not None and time.monotonic() > closing_at:
                return
            try:
                data = sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            if not data:
                return
            try:
                events = conn.receive_data(data)
            except h2.exceptions.ProtocolError:
                if closing_at is not None:
                    continue  # after our GOAWAY, h2 rejects new frames: ignore until we close
                return
            for ev in events:
                if isinstance(ev, h2.events.RequestReceived):
                    headers = {k: v for k, v in ev.headers}
                    mode = mode_for(headers)
                    with COUNTERS.lock:
                        COUNTERS.streams += 1
                        path = headers.get(":path", "")
                        COUNTERS.paths[path] = COUNTERS.paths.get(path, 0) + 1
                        COUNTERS.last_headers = headers
                        if mode.startswith("refuse_first:"):
                            if COUNTERS.refused_so_far < int(mode.split(":", 1)[1]):
                                COUNTERS.refused_so_far += 1
                                mode = "rst:REFUSED_STREAM"
                            else:
                                mode = "ok"
                        COUNTERS.modes[mode] = COUNTERS.modes.get(mode, 0) + 1
                    modes[ev.stream_id] = mode
                    bodies[ev.stream_id] = bytearray()
                    if mode == "reply":
                        replies[ev.stream_id] = json.loads(headers.get("x-reply", "{}"))
                    if mode.startswith("rst:"):
                        code = error_code(mode.split(":", 1)[1])
                        conn.reset_stream(ev.stream_id, code)
                        with COUNTERS.lock:
                            name = code_name(code)
                            COUNTERS.rst_sent[name] = COUNTERS.rst_sent.get(name, 0) + 1
                    elif mode == "http503":
                        body = b"backend overloaded"
                        conn.send_headers(ev.stream_id, [(":status", "503"), ("content-type", "text/plain"),
                                                         ("content-length", str(len(body)))])
                        conn.send_data(ev.stream_id, body, end_stream=True)
                    elif mode == "goaway":
                        conn.close_connection(error_code=0, last_stream_id=0)
                        with COUNTERS.lock:
                            COUNTERS.goaway_sent += 1
                        closing_at = time.monotonic() + 1.0
                elif isinstance(ev, h2.events.DataReceived):
                    conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                    if ev.stream_id in bodies:
                        bodies[ev.stream_id] += ev.data
                    with COUNTERS.lock:
                        COUNTERS.data_bytes += len(ev.data)
                elif isinstance(ev, h2.events.StreamEnded):
                    mode = modes.get(ev.stream_id, "")
                    body = bytes(bodies.get(ev.stream_id, b""))
                    if mode == "ok":
                        conn.send_headers(ev.stream_id, [(":status", "200"), ("content-type", "application/grpc"),
                                                         ("x-server-id", "fault")])
                        pending[ev.stream_id] = (body, [("grpc-status", "0")])
                    elif mode.startswith("hpack_bomb:"):
                        self._send_bomb(conn, ev.stream_id, mode.split(":", 1)[1], body, pending)
                    elif mode == "reply":
                        self._send_reply(conn, ev.stream_id, replies.pop(ev.stream_id, {}), body, pending)
                elif isinstance(ev, h2.events.StreamReset):
                    with COUNTERS.lock:
                        name = code_name(ev.error_code)
                        COUNTERS.resets_received[name] = COUNTERS.resets_received.get(name, 0) + 1
                    pending.pop(ev.stream_id, None)
                elif isinstance(ev, h2.events.PingReceived):
                    with COUNTERS.lock:
                        COUNTERS.pings_received += 1
                elif isinstance(ev, h2.events.ConnectionTerminated):
                    closing_at = closing_at or time.monotonic()
            self._flush_pending(conn, pending)
            out = conn.data_to_send()
            if out:
                try:
                    sock.sendall(out)
                except OSError:
                    return

    @staticmethod
    def _ping_flood(sock: socket.socket) -> None:
        sock.recv(65536)
        ping = struct.pack(">I", 8)[1:] + bytes([6, 0]) + struct.pack(">I", 0) + b"12345678"
        chunk = ping * 4096
        sent = 0
        sock.settimeout(10)
        try:
            while sent < ARGS.flood_bytes:
                sock.sendall(chunk)
                sent += len(chunk)
        except OSError:
            pass
        with COUNTERS.lock:
            COUNTERS.data_bytes += sent

    @staticmethod
    def _send_bomb(conn: h2.connection.H2Connection, sid: int, where: str, body: bytes, pending: dict) -> None:
        # h2's encoder indexes the first occurrence; every repeat is then a one-byte indexed reference.
        bomb = [("x-bomb", "b" * ARGS.bomb_value_size)] * ARGS.bomb_refs
        head = [(":status", "200"), ("content-type", "application/grpc")]
        if where == "headers":
            conn.send_headers(sid, head + bomb)
            pending[sid] = (body, [("grpc-status", "0")])
        elif where == "trailers":
            conn.send_headers(sid, head)
            pending[sid] = (body, [("grpc-status", "0")] + bomb)
        else:  # trailers_only
            conn.send_headers(sid, head + [("grpc-status", "0")] + bomb, end_stream=True)

    @staticmethod
    def _send_reply(conn: h2.connection.H2Connection, sid: int, spec: dict, body: bytes, pending: dict) -> None:
        head = [(":status", "200"), ("content-type", "application/grpc")] + [tuple(f) for f in spec.get("headers", [])]
        trailers = [tuple(f) for f in spec.get("trailers", [["grpc-status", "0"]])]
        if spec.get("trailers_only"):
            conn.send_headers(sid, head + trailers, end_stream=True)
        else:
            conn.send_headers(sid, head)
            pending[sid] = (body, trailers)

    @staticmethod
    def _flush_pending(conn: h2.connection.H2Connection, pending: dict) -> None:
        for sid in list(pending):
            body, trailers = pending[sid]
            try:
                while body:
                    window = min(conn.local_flow_control_window(sid), conn.max_outbound_frame_size)
                    if window <= 0:
                        break
                    conn.send_data(sid, body[:window])
                    body = body[window:]
                if body:
                    pending[sid] = (body, trailers)
                else:
                    conn.send_headers(sid, trailers, end_stream=True)
                    del pending[sid]
            except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError):
                del pending[sid]


class ThreadingServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True


class ControlHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps(COUNTERS.snapshot()).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args) -> None:
        pass


def main() -> int:
    global ARGS
    ap = argparse.ArgumentParser(description="fault-injecting HTTP/2 upstream")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--mode", default=None, help="force one mode for every request (see module doc)")
    ap.add_argument("--flood-bytes", type=int, default=64 << 20, help="ping_flood: bytes of PING frames at most")
    ap.add_argument("--bomb-refs", type=int, default=30000, help="hpack_bomb: references to the large field")
    ap.add_argument("--bomb-value-size", type=int, default=4000, help="hpack_bomb: size of the large field's value")
    ARGS = ap.parse_args()
    server = ThreadingServer(("127.0.0.1", ARGS.port), Handler)
    control = http.server.ThreadingHTTPServer(("127.0.0.1", 0), ControlHandler)
    control.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    threading.Thread(target=control.serve_forever, daemon=True).start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print(f"READY {server.server_address[1]} {control.server_address[1]}", flush=True)
    while not stop.wait(0.2):
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
