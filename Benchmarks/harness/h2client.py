"""One unary call over cleartext HTTP/2 (prior knowledge), with the Python `h2` package.

The h2 rows' sanity call: before each h2load measurement the harness makes the same call once
through the same port and checks what h2load cannot see, the grpc-status (in the gRPC-Web
trailer frame for gRPC-Web, in the HTTP/2 trailers for native gRPC) and the echoed message. The
size of that OK reply's body is then what every reply h2load counts must add up to.
"""
import socket
import time

import h2.config
import h2.connection
import h2.events

import grpcweb


class Reply:
    def __init__(self):
        self.status = 0
        self.headers: dict[str, str] = {}
        self.trailers: dict[str, str] = {}
        self.body = bytearray()
        self.ended = False
        self.reset: int | None = None  # RST_STREAM error code, if the stream was reset


def _fields(pairs) -> dict[str, str]:
    return {(n.decode() if isinstance(n, bytes) else n).lower(): (v.decode() if isinstance(v, bytes) else v)
            for n, v in pairs}


def call(port: int, path: str, headers: list[tuple[str, str]], body: bytes, timeout: float = 5.0) -> Reply:
    """POSTs `body` on one stream of a new h2c connection and reads the reply to END_STREAM."""
    connection = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding=None))
    reply = Reply()
    deadline = time.monotonic() + timeout
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        connection.initiate_connection()
        stream = connection.get_next_available_stream_id()
        connection.send_headers(stream, [(":method", "POST"), (":scheme", "http"), (":path", path),
                                         (":authority", f"127.0.0.1:{port}")] + headers)
        connection.send_data(stream, body, end_stream=True)
        s.sendall(connection.data_to_send())
        while not reply.ended and reply.reset is None:
            s.settimeout(max(deadline - time.monotonic(), 0.01))
            data = s.recv(65536)
            if not data:
                raise RuntimeError("connection closed before the reply ended")
            for event in connection.receive_data(data):
                if getattr(event, "stream_id", stream) != stream:
                    continue
                if isinstance(event, h2.events.ResponseReceived):
                    reply.headers = _fields(event.headers)
                    reply.status = int(reply.headers.get(":status", "0"))
                elif isinstance(event, h2.events.DataReceived):
                    reply.body += event.data
                    connection.acknowledge_received_data(event.flow_controlled_length, stream)
                elif isinstance(event, h2.events.TrailersReceived):
                    reply.trailers = _fields(event.headers)
                elif isinstance(event, h2.events.StreamEnded):
                    reply.ended = True
                elif isinstance(event, h2.events.StreamReset):
                    reply.reset = event.error_code
                elif isinstance(event, h2.events.ConnectionTerminated):
                    raise RuntimeError(f"GOAWAY {event.error_code} before the reply ended")
            s.sendall(connection.data_to_send())
        connection.close_connection()
        s.sendall(connection.data_to_send())
    return reply


def check_echo(port: int, grpc_web: bool) -> int:
    """One Echo call (gRPC-Web or native gRPC); raises unless it is :status 200, grpc-status 0 and
    the message echoed. Returns the size of the reply's body (DATA bytes)."""
    content_type = "application/grpc-web+proto" if grpc_web else "application/grpc"
    headers = [("content-type", content_type)]
    headers += [("x-grpc-web", "1"), ("origin", "http://bench.example")] if grpc_web else [("te", "trailers")]
    reply = call(port, grpcweb.ECHO_PATH, headers, grpcweb.frame(grpcweb.ECHO_MESSAGE))
    body = bytes(reply.body)
    message = grpcweb.frame(grpcweb.ECHO_MESSAGE)
    if grpc_web:  # the message frame, then the trailer frame
        status = grpcweb.trailer_fields(body).get("grpc-status", reply.headers.get("grpc-status"))
        echoed = body.startswith(message)
    else:  # the message alone; the status in HTTP/2 trailers (or trailers-only headers)
        status = reply.trailers.get("grpc-status", reply.headers.get("grpc-status"))
        echoed = body == message
    if reply.reset is not None or reply.status != 200 or status != "0" or not echoed:
        raise RuntimeError(f"h2 {'gRPC-Web' if grpc_web else 'native gRPC'} call: :status {reply.status}, "
                           f"grpc-status {status}, reset {reply.reset}, headers {reply.headers}, "
                           f"trailers {reply.trailers}, body {body[:200]!r}")
    return len(body)
