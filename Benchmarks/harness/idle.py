"""Idle keep-alive connections: open many, make one unary call on each, keep them open.

A connection that has served one call is what a browser tab leaves behind, so this measures the
memory a proxy keeps per idle keep-alive connection (RSS delta / connections still open). The
TLS variant does the same over TLS connections (each a full handshake, then the call).
"""
import selectors
import socket
import ssl
import time

import grpcweb
import procstat


def measure(port: int, pid: int, count: int, tls_context: ssl.SSLContext | None = None, batch: int = 100,
            timeout: float = 60.0) -> dict:
    """Returns ok/failed call counts, how many connections the proxy kept open, and RSS figures.

    With `tls_context` every connection is a TLS connection (a full handshake, then the call).
    """
    rss_before = procstat.rss_bytes(pid)
    request = grpcweb.unary_http_request(port)
    sockets: list[socket.socket] = []
    ok = failed = 0
    deadline = time.monotonic() + timeout * (3 if tls_context else 1)
    try:
        for start in range(0, count, batch):
            # Batches keep the pending-accept queue short, so no SYN is dropped and retried.
            readers = {}
            selector = selectors.DefaultSelector()
            for _ in range(min(batch, count - start)):
                s = socket.create_connection(("127.0.0.1", port), timeout=10)
                if tls_context:
                    # A blocking handshake, one connection after the other: the proxy never has
                    # more than one handshake in flight, as with the plain connects.
                    s = tls_context.wrap_socket(s, server_hostname="localhost")
                s.sendall(request)
                s.setblocking(False)
                sockets.append(s)
                readers[s] = grpcweb.ResponseReader()
                selector.register(s, selectors.EVENT_READ)
            pending = len(readers)
            while pending and time.monotonic() < deadline:
                for key, _ in selector.select(timeout=1.0):
                    s = key.fileobj
                    reader = readers[s]
                    try:
                        data = _read_available(s)
                    except (BlockingIOError, ssl.SSLWantReadError):
                        continue
                    if data:
                        reader.feed(data)
                    if reader.done or not data:
                        selector.unregister(s)
                        pending -= 1
                        ok += reader.ok
                        failed += not reader.ok
            failed += pending
            selector.close()
        time.sleep(0.5)  # let the proxy settle (and close, if it does) before counting and measuring
        open_count = sum(1 for s in sockets if _still_open(s))
        rss_after = procstat.rss_bytes(pid)
    finally:
        for s in sockets:
            s.close()
    held = max(open_count, 1)
    return {"connections": count, "ok": ok, "errors": failed, "held_open": open_count,
            "rss_before": rss_before, "rss_after": rss_after,
            "rss_per_conn": (rss_after - rss_before) / held}


def _read_available(s: socket.socket) -> bytes:
    """What one readable event brings; for TLS also the rest of the record OpenSSL already holds
    (a decrypted record may be larger than what one recv returns, and the fd will not signal it)."""
    data = s.recv(65536)
    if isinstance(s, ssl.SSLSocket):
        while data and s.pending():
            data += s.recv(65536)
    return data


def _still_open(s: socket.socket) -> bool:
    """True unless the peer has closed (EOF or reset) this idle socket.

    Peeks at the TCP socket itself, under TLS too (socket.socket.recv bypasses the SSL layer):
    any bytes (a TLS alert or ticket) mean open; EOF or an error mean closed.
    """
    try:
        data = socket.socket.recv(s, 1, socket.MSG_PEEK)
        return bool(data)  # unexpected bytes, but the connection is open
    except BlockingIOError:
        return True
    except OSError:
        return False
