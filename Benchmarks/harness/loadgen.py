"""Runs the load generators and turns their output into plain numbers.

direct (native gRPC over h2c): h2load, latencies from its per-request log; the same for the h2
rows through the proxies (gRPC-Web or native gRPC over h2c).
proxies (gRPC-Web over HTTP/1.1, or HTTPS for the TLS rows): wrk with lua/grpcweb_unary.lua,
which checks every reply's grpc-status; the C++ stream_sink for server streaming.
Every generator inherits the harness's pinning to core 1.
"""
import json
import math
import os
import re
import subprocess

import grpcweb

HERE = os.path.dirname(os.path.abspath(__file__))
LUA = os.path.join(HERE, "..", "lua", "grpcweb_unary.lua")


class MeasureError(Exception):
    """A measurement that produced no usable numbers (tool failed, timed out, nothing parsed)."""


def _run(argv: list, timeout: float, env: dict | None = None) -> str:
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                                env={**os.environ, **env} if env else None)
    except subprocess.TimeoutExpired:
        raise MeasureError(f"{os.path.basename(argv[0])} timed out after {timeout:.0f}s (stall?)")
    if result.returncode != 0:
        raise MeasureError(f"{os.path.basename(argv[0])} exited {result.returncode}: "
                           f"{(result.stderr or result.stdout)[-400:]}")
    return result.stdout


def percentile(sorted_values: list, p: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return float("nan")
    rank = math.ceil(p / 100.0 * len(sorted_values))
    return sorted_values[min(max(rank, 1), len(sorted_values)) - 1]


def wrk_unary(port: int, connections: int, seconds: float, mode: str, tls: bool = False,
              new_connection_per_call: str | None = None, bearer: str | None = None) -> dict:
    """gRPC-Web unary calls through a proxy; mode is "binary" or "text"; tls: over HTTPS (wrk
    offers no ALPN, so HTTP/1.1).

    new_connection_per_call: the path of wrk_full_handshake.so. Every request then says
    `Connection: close`, so each call is made on a new connection (wrk opens it as soon as the
    proxy has answered and closed the old one), and the shim, preloaded into wrk, makes each of
    those a full TLS handshake instead of resuming the slot's previous session.

    bearer: a JWT sent as `Authorization: Bearer` on every call (the JWT rows).
    """
    url = f"{'https' if tls else 'http'}://127.0.0.1:{port}{grpcweb.ECHO_PATH}"
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "5s", "-s", LUA, url, "--", mode]
    env = None
    if new_connection_per_call:
        argv.append("close")
        env = {"LD_PRELOAD": new_connection_per_call}
    if bearer:
        # The script's third argument (the second says close or keep-alive).
        argv += ([] if new_connection_per_call else ["keep-alive"]) + [bearer]
    out = _run(argv, timeout=seconds + 30, env=env)
    match = re.search(r"^BENCHJSON (.*)$", out, re.MULTILINE)
    if not match:
        raise MeasureError(f"no result line from wrk: {out[-300:]}")
    r = json.loads(match.group(1))
    duration = r["duration_us"] / 1e6
    return {"calls": r["ok"], "seconds": duration, "calls_per_s": r["ok"] / duration, "p50_us": r["p50_us"], "p99_us": r["p99_us"],
            "errors": r["grpc_errors"] + r["http_errors"],
            # wrk counts a connection the server closed as a read error: keep-alive was not kept.
            "socket_errors": r["socket_errors"]}


# h2load request headers: gRPC-Web (as a browser on HTTP/2 sends it, Origin included so both
# proxies do their CORS work) and native gRPC.
GRPC_WEB_HEADERS = ["content-type: application/grpc-web+proto", "x-grpc-web: 1", "origin: http://bench.example"]
NATIVE_HEADERS = ["content-type: application/grpc", "te: trailers"]


def h2load_unary(port: int, connections: int, seconds: float, work: str, streams: int = 1,
                 grpc_web: bool = False, reply_body: int | None = None) -> dict:
    """Unary Echo calls over cleartext HTTP/2 (prior knowledge): native gRPC (straight to the
    upstream, or through a proxy) or gRPC-Web through a proxy; `streams` concurrent calls per
    connection.

    h2load counts non-2xx statuses and failed streams but cannot read a grpc-status. With
    `reply_body` (the body size of an OK reply, from the sanity call) the DATA bytes it received
    must cover that many bytes per finished call: an error reply has no message frame (a
    trailers-only one no body at all), so a shortfall counts as that many failed calls
    (`short_replies`).
    """
    body = os.path.join(work, "echo_request.bin")
    log = os.path.join(work, "h2load_requests.log")
    with open(body, "wb") as f:
        f.write(grpcweb.frame(grpcweb.ECHO_MESSAGE))
    headers = [arg for h in (GRPC_WEB_HEADERS if grpc_web else NATIVE_HEADERS) for arg in ("-H", h)]
    out = _run(["h2load", "-t1", f"-c{connections}", f"-m{streams}", f"-D{seconds:g}", "-d", body]
               + headers + ["--log-file", log, f"http://127.0.0.1:{port}{grpcweb.ECHO_PATH}"],
               timeout=seconds + 30)
    latencies = []
    non_200 = 0
    with open(log) as f:
        for line in f:
            fields = line.split("\t")
            if len(fields) < 3:
                continue
            if fields[1] != "200":
                non_200 += 1
            else:
                latencies.append(int(fields[2]))
    os.remove(log)
    counts = re.search(r"requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, "
                       r"(\d+) errored, (\d+) timeout", out)
    data = re.search(r"traffic: .* total, .* headers .*, .*\((\d+)\) data", out)
    if not counts or not data or not latencies:
        raise MeasureError(f"h2load gave no results: {out[-300:]}")
    latencies.sort()
    failed = int(counts.group(3)) + int(counts.group(4)) + int(counts.group(5))
    short = 0
    if reply_body:
        # Calls still open when the time is up may have received part of a reply (counted in the
        # bytes, not in "done"), so only a shortfall is an error, never a surplus.
        short = max(0, int(counts.group(1)) - int(data.group(1)) // reply_body)
    return {"calls": len(latencies), "calls_per_s": len(latencies) / seconds,
            "p50_us": percentile(latencies, 50), "p99_us": percentile(latencies, 99),
            "errors": non_200 + failed + short, "short_replies": short, "socket_errors": 0}


def sink_stream(sink: str, port: int, total: int, message: int) -> dict:
    """One server-streaming gRPC-Web call through a proxy, read by the C++ stream_sink."""
    out = _run([sink, "127.0.0.1", str(port), grpcweb.STREAM_PATH, str(total), str(message)], timeout=60)
    r = json.loads(out.strip().splitlines()[-1])
    if "error" in r:
        raise MeasureError(r["error"])
    ok = r["http"] == 200 and r["grpc_status"] == 0 and r["messages"] * message >= total
    return {"bytes": r["body_bytes"], "seconds": r["seconds"], "mb_per_s": r["body_bytes"] / r["seconds"] / 1e6,
            "errors": 0 if ok else 1}


def h2load_stream(port: int, total: int, message: int, work: str) -> dict:
    """The same streaming call as native gRPC straight to the upstream."""
    body = os.path.join(work, "stream_request.bin")
    with open(body, "wb") as f:
        f.write(grpcweb.frame(grpcweb.stream_request(total, message)))
    out = _run(["h2load", "-t1", "-c1", "-n1", "-d", body, "-H", "content-type: application/grpc",
                "-H", "te: trailers", f"http://127.0.0.1:{port}{grpcweb.STREAM_PATH}"], timeout=60)
    finished = re.search(r"finished in ([\d.]+)(ms|s|us)", out)
    data = re.search(r"traffic: .* total, .* headers .*, .*\((\d+)\) data", out)
    ok = re.search(r"1 succeeded", out) and re.search(r"status codes: 1 2xx", out)
    if not finished or not data:
        raise MeasureError(f"h2load gave no results: {out[-300:]}")
    seconds = float(finished.group(1)) / {"s": 1, "ms": 1e3, "us": 1e6}[finished.group(2)]
    nbytes = int(data.group(1))
    return {"bytes": nbytes, "seconds": seconds, "mb_per_s": nbytes / seconds / 1e6,
            "errors": 0 if ok and nbytes >= total else 1}
