"""The benchmark's scenarios: each measures one target once and returns a dict of numbers.

A scenario that does not apply to a target (text mode or idle memory for direct, WebSockets for
Envoy) is listed in NOT_APPLICABLE and shown as "n/a". Proxy CPU is the proxy process's CPU time
over the measurement (procstat.cpu_seconds before/after); direct has no proxy, so no CPU column.
"""
import json
import os
import subprocess
import time
from dataclasses import dataclass

import grpcweb
import h2client
import idle
import loadgen
import procstat
import tls
from targets import CLIENT_CPU, Target


@dataclass
class Settings:
    work: str
    sink: str
    ws_client: str
    upstream_pid: int = 0
    seconds: float = 5.0
    stream_bytes: int = 256 << 20
    stream_message: int = 64 << 10
    idle_connections: int = 5000
    ws_connections: int = 64
    handshake_connections: int = 16
    h2_connections: int = 4
    h2_streams: int = 16  # concurrent calls per h2 connection
    jwt_tokens: dict | None = None  # {"RS256": token, "ES256": token} for the JWT rows


# Scenario names in report order, with the targets each one does not apply to.
ORDER = ["unary64", "unary1", "text64", "stream", "idle", "ws", "h2_grpcweb", "h2_native",
         "tls_unary", "tls_handshakes", "tls_idle", "log_unary", "jwt_rs256", "jwt_es256"]
NOT_APPLICABLE = {
    "text64": {"direct"},   # gRPC-Web text mode only exists in front of a proxy
    "h2_grpcweb": {"direct"},  # likewise gRPC-Web (h2_native has direct: the same load, no proxy)
    "idle": {"direct"},     # measures proxy memory
    "ws": {"direct", "envoy"},  # Envoy has no grpc-websockets
    # The upstream speaks h2c only; the TLS rows compare the proxies' TLS termination.
    "tls_unary": {"direct"},
    "tls_handshakes": {"direct"},
    "tls_idle": {"direct"},
    "log_unary": {"direct"},  # the proxies' access logs
    # Our JWT stage against our own unary64 row (the ratio the issue asks for); Envoy's jwt_authn is not set up.
    "jwt_rs256": {"direct", "envoy"},
    "jwt_es256": {"direct", "envoy"},
}
# Measured against each proxy's TLS process (its listener terminates TLS) instead of the plain one.
TLS = {"tls_unary", "tls_handshakes", "tls_idle"}
# Scenarios measured against a second process of each proxy started with a different config (a "variant"):
# its listener terminates TLS ("tls"), it writes an access log line per call ("log"), or its route requires a JWT
# ("jwt", ours only).
VARIANT = {**{s: "tls" for s in TLS}, "log_unary": "log", "jwt_rs256": "jwt", "jwt_es256": "jwt"}
# The scenario that warms each variant's process.
VARIANT_WARM_UP = {"tls": "tls_unary", "log": "log_unary", "jwt": "jwt_rs256"}
# Measured once per proxy after the rounds: a second pass would mostly reuse memory freed by the first.
ONCE = {"idle", "tls_idle"}


def _with_cpu(target: Target, settings: Settings, measure) -> tuple[dict, float, float]:
    """Runs measure(), returning its result with the proxy's CPU seconds and the wall time.

    The result also gets `client_core_busy`: how busy core 1 (upstream + load generator) was.
    Near 100% there means the client side, not the proxy, limited the rate.
    """
    cpu_before = procstat.cpu_seconds(target.pid) if target.pid else 0.0
    upstream_before = procstat.cpu_seconds(settings.upstream_pid)
    core_before = procstat.core_times(int(CLIENT_CPU))
    start = time.monotonic()
    result = measure()
    wall = time.monotonic() - start
    cpu = procstat.cpu_seconds(target.pid) - cpu_before if target.pid else 0.0
    result["client_core_busy"] = procstat.busy_fraction(core_before, procstat.core_times(int(CLIENT_CPU)))
    result["upstream_busy"] = (procstat.cpu_seconds(settings.upstream_pid) - upstream_before) / wall
    return result, cpu, wall


def _per_call(target: Target, result: dict, cpu: float, wall: float) -> dict:
    """Adds the proxy's CPU per 1,000 calls, its busy share and its RSS (nothing for direct)."""
    if target.pid:
        calls = max(result["calls"], 1)
        result["cpu_ms_per_1k"] = cpu * 1e6 / calls
        result["proxy_busy"] = cpu / wall
        result["rss_mib"] = procstat.rss_bytes(target.pid) / (1 << 20)
    return result


def unary(target: Target, settings: Settings, connections: int, mode: str = "binary", bearer: str | None = None) -> dict:
    if target.name == "direct":
        def measure():
            return loadgen.h2load_unary(target.port, connections, settings.seconds, settings.work)
    else:
        def measure():
            return loadgen.wrk_unary(target.port, connections, settings.seconds, mode, tls=target.tls, bearer=bearer)
    return _per_call(target, *_with_cpu(target, settings, measure))


def h2_unary(target: Target, settings: Settings, grpc_web: bool) -> dict:
    """Unary calls over h2c with prior knowledge, many streams per connection: gRPC-Web through a
    proxy, or native gRPC through a proxy (pass-through) or straight to the upstream (direct).

    One call with the Python h2 package first checks what h2load cannot (grpc-status, the echoed
    message) and gives the OK reply's body size, which h2load's byte count must then cover.
    """
    reply_body = h2client.check_echo(target.port, grpc_web)

    def measure():
        return loadgen.h2load_unary(target.port, settings.h2_connections, settings.seconds, settings.work,
                                    streams=settings.h2_streams, grpc_web=grpc_web, reply_body=reply_body)
    return _per_call(target, *_with_cpu(target, settings, measure))


def handshakes(target: Target, settings: Settings, connections: int) -> dict:
    """One call per new TLS connection (`Connection: close`), so one full handshake per call.

    The rate is the proxy's own count of completed handshakes (Envoy's listener ssl stats, our
    /metrics counter) over the measurement, less those Envoy reports as resumed (`resumed`, which
    the wrk shim keeps at 0; ours has no such counter). CPU per handshake includes the call made
    on the connection and the connection's accept and close.
    """
    before = tls.handshake_counts(target.name, target.admin_port)

    def measure():
        return loadgen.wrk_unary(target.port, connections, settings.seconds, "binary", tls=True,
                                 new_connection_per_call=os.path.join(settings.work, "wrk_full_handshake.so"))

    result, cpu, wall = _with_cpu(target, settings, measure)
    after = tls.handshake_counts(target.name, target.admin_port)
    if before is None or after is None:
        raise loadgen.MeasureError("the proxy's TLS handshake counter could not be read")
    result["handshakes"] = after[0] - before[0]
    if after[1] is not None:
        result["resumed"] = after[1] - before[1]
        result["handshakes"] -= result["resumed"]  # full ones only
    if result["handshakes"] <= 0:
        raise loadgen.MeasureError(f"no full handshake counted by the proxy ({result['calls']} calls)")
    result["handshakes_per_s"] = result["handshakes"] / result["seconds"]  # wrk's own clock, as calls/s
    result["cpu_us_per_handshake"] = cpu * 1e6 / result["handshakes"]
    # What one proxy core could do if the client kept up: the client's side of a handshake costs
    # more than the server's (signature verification, OpenSSL 3.0's per-handshake overhead), so
    # with one client core the measured rate is mostly the client's limit (see client core busy).
    result["handshakes_per_core_s"] = result["handshakes"] / cpu if cpu > 0 else 0.0
    result["proxy_busy"] = cpu / wall
    return result


def stream(target: Target, settings: Settings) -> dict:
    if target.name == "direct":
        def measure():
            return loadgen.h2load_stream(target.port, settings.stream_bytes, settings.stream_message, settings.work)
    else:
        def measure():
            return loadgen.sink_stream(settings.sink, target.port, settings.stream_bytes, settings.stream_message)
    result, cpu, _ = _with_cpu(target, settings, measure)
    if target.pid:
        result["cpu_s_per_gib"] = cpu / (result["bytes"] / (1 << 30))
    return result


def idle_memory(target: Target, settings: Settings) -> dict:
    r = idle.measure(target.port, target.pid, settings.idle_connections,
                     tls.client_context() if target.tls else None)
    r["rss_kib_per_conn"] = r.pop("rss_per_conn") / 1024
    return r


def websocket_pingpong(target: Target, settings: Settings) -> dict:
    def measure():
        argv = [settings.ws_client, "127.0.0.1", str(target.port), grpcweb.CHAT_PATH,
                str(settings.ws_connections), f"{settings.seconds:g}"]
        try:
            out = subprocess.run(argv, capture_output=True, text=True, timeout=settings.seconds + 60)
        except subprocess.TimeoutExpired:
            raise loadgen.MeasureError("ws_pingpong timed out (stall?)")
        if out.returncode != 0 or not out.stdout.strip():
            raise loadgen.MeasureError(f"ws_pingpong exited {out.returncode}: {out.stderr[-400:]}")
        return json.loads(out.stdout.strip().splitlines()[-1])

    r, cpu, wall = _with_cpu(target, settings, measure)
    if r["round_trips"] == 0:
        raise loadgen.MeasureError(f"no round trip completed ({r['failed_calls']} calls failed)")
    r["errors"] = r.pop("failed_calls")
    r["cpu_ms_per_1k"] = cpu * 1e6 / r["round_trips"]
    r["proxy_busy"] = cpu / wall
    r["ws_client_busy"] = r["client_cpu_s"] / r["seconds"]
    return r


def run(name: str, target: Target, settings: Settings) -> dict:
    if name == "unary64":
        return unary(target, settings, 64)
    if name == "unary1":
        return unary(target, settings, 1)
    if name == "text64":
        return unary(target, settings, 64, mode="text")
    if name == "stream":
        return stream(target, settings)
    if name == "idle":
        return idle_memory(target, settings)
    if name == "ws":
        return websocket_pingpong(target, settings)
    if name == "h2_grpcweb":
        return h2_unary(target, settings, grpc_web=True)
    if name == "h2_native":
        return h2_unary(target, settings, grpc_web=False)
    if name == "tls_unary":
        return unary(target, settings, 64)
    if name == "tls_handshakes":
        return handshakes(target, settings, settings.handshake_connections)
    if name == "tls_idle":
        return idle_memory(target, settings)
    if name == "log_unary":
        return unary(target, settings, 64)
    if name in ("jwt_rs256", "jwt_es256"):
        return unary(target, settings, 64, bearer=settings.jwt_tokens[name[4:].upper()])
    raise ValueError(name)
