"""The benchmark's scenarios: each measures one target once and returns a dict of numbers.

A scenario that does not apply to a target (text mode or idle memory for direct, WebSockets for
Envoy) is listed in NOT_APPLICABLE and shown as "n/a". Proxy CPU is the proxy process's CPU time
over the measurement (procstat.cpu_seconds before/after); direct has no proxy, so no CPU column.
"""
import json
import subprocess
import time
from dataclasses import dataclass

import grpcweb
import idle
import loadgen
import procstat
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


# Scenario names in report order, with the targets each one does not apply to.
ORDER = ["unary64", "unary1", "text64", "stream", "idle", "ws"]
NOT_APPLICABLE = {
    "text64": {"direct"},   # gRPC-Web text mode only exists in front of a proxy
    "idle": {"direct"},     # measures proxy memory
    "ws": {"direct", "envoy"},  # Envoy has no grpc-websockets
}


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


def unary(target: Target, settings: Settings, connections: int, mode: str = "binary") -> dict:
    if target.name == "direct":
        def measure():
            return loadgen.h2load_unary(target.port, connections, settings.seconds, settings.work)
    else:
        def measure():
            return loadgen.wrk_unary(target.port, connections, settings.seconds, mode)
    result, cpu, wall = _with_cpu(target, settings, measure)
    if target.pid:
        calls = max(result["calls"], 1)
        result["cpu_ms_per_1k"] = cpu * 1e6 / calls
        result["proxy_busy"] = cpu / wall
        result["rss_mib"] = procstat.rss_bytes(target.pid) / (1 << 20)
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
    r = idle.measure(target.port, target.pid, settings.idle_connections)
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
    raise ValueError(name)
