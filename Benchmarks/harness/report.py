"""Medians over rounds, the printed table (with ours/Envoy ratios) and the JSON document."""
import json
import statistics

import scenarios

TARGETS = ["direct", "envoy", "ours"]

# Error counters are summed over rounds; every other number is a median over rounds.
SUMMED = {"errors", "socket_errors", "resumed", "short_replies"}


def _ms(v):
    return f"{v / 1000:.2f}"


def _us(v):
    return f"{v:,.0f}"


def _pct(v):
    return f"{v * 100:.0f}%"


def _int(v):
    return f"{v:,.0f}"


def _f1(v):
    return f"{v:.1f}"


def _f2(v):
    return f"{v:.2f}"


def _wrk_rows(client: str) -> list:
    """The rows of a unary load measured with wrk (keep-alive connections, one call at a time on each)."""
    return [
        ("calls/s", "calls_per_s", _int, True),
        ("p50 latency (ms)", "p50_us", _ms, True),
        ("p99 latency (ms)", "p99_us", _ms, True),
        ("proxy CPU per 1,000 calls (ms)", "cpu_ms_per_1k", _f1, True),
        ("proxy core busy", "proxy_busy", _pct, False),
        (f"client core busy ({client})", "client_core_busy", _pct, False),
        ("  of which the upstream", "upstream_busy", _pct, False),
        ("proxy RSS after (MiB)", "rss_mib", _f1, True),
        ("non-OK calls (sum)", "errors", _int, False),
        ("closed/failed sockets (sum)", "socket_errors", _int, False),
    ]


# The two h2 rows (gRPC-Web and native gRPC, both measured with h2load).
H2_ROWS = [
    ("calls/s", "calls_per_s", _int, True),
    ("p50 latency (ms)", "p50_us", _ms, True),
    ("p99 latency (ms)", "p99_us", _ms, True),
    ("proxy CPU per 1,000 calls (ms)", "cpu_ms_per_1k", _f1, True),
    ("proxy core busy", "proxy_busy", _pct, False),
    ("client core busy (upstream + h2load)", "client_core_busy", _pct, False),
    ("  of which the upstream", "upstream_busy", _pct, False),
    ("proxy RSS after (MiB)", "rss_mib", _f1, True),
    ("non-OK calls (sum)", "errors", _int, False),
]

# (scenario, title, [(label, metric, formatter, show_ratio)])
ROWS = [
    ("unary64", "unary 16 B, 64 keep-alive conns", _wrk_rows("upstream + wrk/h2load")),
    ("unary1", "unary, 1 conn, one call at a time", [
        ("calls/s", "calls_per_s", _int, True),
        ("p50 latency (us)", "p50_us", _us, True),
        ("p99 latency (us)", "p99_us", _us, True),
        ("added p50 over direct (us)", "added_p50_us", _us, True),
        ("added p99 over direct (us)", "added_p99_us", _us, True),
        ("proxy CPU per 1,000 calls (ms)", "cpu_ms_per_1k", _f1, True),
        ("non-OK calls (sum)", "errors", _int, False),
        ("closed/failed sockets (sum)", "socket_errors", _int, False),
    ]),
    ("text64", "text mode unary (grpc-web-text), 64 conns", _wrk_rows("upstream + wrk/h2load")),
    ("stream", "server stream, 256 MiB in 64 KiB messages", [
        ("MB/s", "mb_per_s", _int, True),
        ("proxy CPU per GiB (s)", "cpu_s_per_gib", _f2, True),
        ("client core busy (upstream + reader)", "client_core_busy", _pct, False),
        ("failed calls (sum)", "errors", _int, False),
    ]),
    ("idle", "{idle_connections} idle keep-alive conns, one call each", [
        ("connections opened", "connections", _int, False),
        ("still open after the call", "held_open", _int, False),
        ("RSS per open connection (KiB)", "rss_kib_per_conn", _f1, True),
        ("non-OK calls (sum)", "errors", _int, False),
    ]),
    ("ws", "bidi ping-pong over 64 WebSockets", [
        ("round trips/s", "per_s", _int, False),
        ("p50 round trip (us)", "p50_us", _us, False),
        ("p99 round trip (us)", "p99_us", _us, False),
        ("proxy CPU per 1,000 round trips (ms)", "cpu_ms_per_1k", _f1, False),
        ("proxy core busy", "proxy_busy", _pct, False),
        ("client core busy (upstream + client)", "client_core_busy", _pct, False),
        ("  of which the upstream", "upstream_busy", _pct, False),
        ("  of which the ws client", "ws_client_busy", _pct, False),
        ("failed calls (sum)", "errors", _int, False),
    ]),
    ("h2_grpcweb", "h2c: gRPC-Web unary 16 B, {h2_streams} streams over {h2_connections} conns", H2_ROWS),
    ("h2_native", "h2c: native gRPC unary 16 B, {h2_streams} streams over {h2_connections} conns", H2_ROWS),
    ("tls_unary", "TLS: unary 16 B, 64 keep-alive conns", _wrk_rows("upstream + wrk")),
    ("log_unary", "access log on (one JSON line per call to a file): unary 16 B, 64 conns", _wrk_rows("upstream + wrk")),
    ("tls_handshakes", "TLS: new connection per call (full handshake), {handshake_connections} conns", [
        ("full handshakes/s (proxy's count)", "handshakes_per_s", _int, True),
        ("full handshakes per proxy core-second", "handshakes_per_core_s", _int, True),
        ("calls/s", "calls_per_s", _int, True),
        ("p50 call incl. connect+handshake (ms)", "p50_us", _ms, True),
        ("p99 call incl. connect+handshake (ms)", "p99_us", _ms, True),
        ("proxy CPU per handshake+call (us)", "cpu_us_per_handshake", _f1, True),
        ("proxy core busy", "proxy_busy", _pct, False),
        ("client core busy (upstream + wrk)", "client_core_busy", _pct, False),
        ("resumed handshakes (sum; must be 0)", "resumed", _int, False),
        ("non-OK calls (sum)", "errors", _int, False),
        ("closed/failed sockets (sum)", "socket_errors", _int, False),
    ]),
    ("tls_idle", "{idle_connections} idle TLS keep-alive conns, one call each", [
        ("connections opened", "connections", _int, False),
        ("still open after the call", "held_open", _int, False),
        ("RSS per open connection (KiB)", "rss_kib_per_conn", _f1, True),
        ("non-OK calls (sum)", "errors", _int, False),
    ]),
    # Ours only: compare with ours in the unary row (the bound: CPU per call with JWT at most 1.2x).
    ("jwt_rs256", "JWT: unary 16 B, 64 conns, RS256 token on every call (cached)", _wrk_rows("upstream + wrk")),
    ("jwt_es256", "JWT: unary 16 B, 64 conns, ES256 token on every call (cached)", _wrk_rows("upstream + wrk")),
]


def aggregate(raw: dict) -> dict:
    """raw[scenario][target] = list of per-round dicts ({"error": ...} for a failed round)."""
    summary = {}
    for scenario, per_target in raw.items():
        summary[scenario] = {}
        for target, rounds in per_target.items():
            good = [r for r in rounds if "error" not in r]
            failures = [r["error"] for r in rounds if "error" in r]
            entry = {"rounds": len(rounds), "failed_rounds": len(failures), "failures": failures[:5]}
            if good:
                keys = sorted({k for r in good for k, v in r.items() if isinstance(v, (int, float))})
                entry["median"] = {k: (sum(r.get(k, 0) for r in good) if k in SUMMED
                                       else statistics.median(r[k] for r in good if k in r)) for k in keys}
            summary[scenario][target] = entry
    # Added latency over direct, from the medians (the same rounds' conditions, noise averaged).
    direct = summary.get("unary1", {}).get("direct", {}).get("median")
    if direct:
        for target in ("envoy", "ours"):
            m = summary["unary1"].get(target, {}).get("median")
            if m:
                m["added_p50_us"] = m["p50_us"] - direct["p50_us"]
                m["added_p99_us"] = m["p99_us"] - direct["p99_us"]
    return summary


def _cell(summary: dict, scenario: str, target: str, metric: str, fmt) -> str:
    if target in scenarios.NOT_APPLICABLE.get(scenario, set()):
        return "n/a"
    entry = summary.get(scenario, {}).get(target)
    if entry is None:
        return "-"
    median = entry.get("median")
    if median is None:
        return "failed"
    if metric not in median:
        return "-"
    text = fmt(median[metric])
    if entry["failed_rounds"]:
        text += "*"
    return text


def table(summary: dict, settings) -> str:
    label_width, col = 44, 12
    lines = [f"{'':<{label_width}}" + "".join(f"{t:>{col}}" for t in TARGETS) + f"{'ours/envoy':>{col}}"]
    for scenario, title, rows in ROWS:
        if scenario not in summary:
            continue
        lines.append(title.format(idle_connections=f"{settings.idle_connections:,}",
                                  handshake_connections=settings.handshake_connections,
                                  h2_streams=settings.h2_connections * settings.h2_streams,
                                  h2_connections=settings.h2_connections))
        for label, metric, fmt, ratio in rows:
            cells = [_cell(summary, scenario, t, metric, fmt) for t in TARGETS]
            ratio_text = ""
            if ratio:
                envoy = summary.get(scenario, {}).get("envoy", {}).get("median", {}).get(metric)
                ours = summary.get(scenario, {}).get("ours", {}).get("median", {}).get(metric)
                if envoy and ours is not None and envoy > 0 and ours >= 0:
                    ratio_text = f"{ours / envoy:.2f}"
            lines.append(f"  {label:<{label_width - 2}}" + "".join(f"{c:>{col}}" for c in cells)
                         + f"{ratio_text:>{col}}")
    costs = []
    for t in ("envoy", "ours"):
        plain = summary.get("unary64", {}).get(t, {}).get("median", {}).get("cpu_ms_per_1k")
        logged = summary.get("log_unary", {}).get(t, {}).get("median", {}).get("cpu_ms_per_1k")
        if plain and logged:
            costs.append(f"{t} {100 * (logged / plain - 1):+.0f}%")
    if costs:
        lines.append("access log cost (CPU per call, log_unary vs unary64): " + ", ".join(costs))
    lines.append("medians over rounds; * = some rounds failed (see JSON); n/a = does not apply; "
                 "ratio = ours / Envoy (above 1 is better only for calls/s and MB/s)")
    return "\n".join(lines)


def failures(summary: dict) -> str:
    out = []
    for scenario in scenarios.ORDER:
        for target, entry in summary.get(scenario, {}).items():
            for f in entry["failures"][:2]:
                out.append(f"  {scenario}/{target}: {f[:300]}")
    return "\n".join(out)


def write_json(path: str, document: dict) -> None:
    with open(path, "w") as f:
        json.dump(document, f, indent=2, sort_keys=True)
        f.write("\n")
