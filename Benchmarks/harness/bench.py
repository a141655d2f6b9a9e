"""Benchmark driver: direct vs Envoy vs ours, alternating round by round, medians reported.

    python3 bench.py --upstream BIN --sink BIN --ws-client BIN --envoy BIN --ours BIN --work DIR --json FILE

Run through Benchmarks/run.sh, which installs and builds everything and pins this process to
core 1 (the load generators inherit that; proxies are started on core 0). Environment knobs for
quick runs while developing: BENCH_ROUNDS (5), BENCH_SECONDS (5), BENCH_IDLE (5000),
BENCH_SCENARIOS (comma list of unary64,unary1,text64,stream,idle,ws,h2_grpcweb,h2_native,
tls_unary,tls_handshakes,tls_idle,log_unary); BENCH_PERF=ours records perf profiles (perfrecord.py).
The h2 rows reach the plain processes' ports with h2c prior knowledge. The TLS rows measure a
second process of each proxy whose listener terminates TLS with a certificate made here (tls.py).
"""
import argparse
import json
import os
import platform
import sys
import time

import jwtkeys
import perfrecord
import report
import scenarios
import targets
import tls


def log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def measure_safely(name: str, target: targets.Target, settings: scenarios.Settings) -> dict:
    """One measurement; any failure becomes {"error": ...} so the run always completes."""
    if not target.usable():
        return {"error": target.error or "unusable"}
    try:
        return scenarios.run(name, target, settings)
    except Exception as e:  # a broken target must not stop the other columns
        message = f"{type(e).__name__}: {e}"
        if not target.usable():
            message += f" (process died: {target.error})"
        return {"error": message}


def brief(result: dict) -> str:
    if "error" in result:
        return "FAILED " + result["error"][:160]
    for key in ("handshakes_per_s", "calls_per_s", "mb_per_s", "rss_kib_per_conn", "per_s"):
        if key in result:
            return f"{key}={result[key]:,.1f} errors={result.get('errors', 0)}"
    return ""


def main() -> int:
    parser = argparse.ArgumentParser()
    for option in ("upstream", "sink", "ws-client", "envoy", "ours", "work", "json"):
        parser.add_argument(f"--{option}", required=option not in ("envoy", "ours"))
    args = parser.parse_args()

    rounds = int(os.environ.get("BENCH_ROUNDS", "5"))
    settings = scenarios.Settings(work=args.work, sink=args.sink, ws_client=args.ws_client,
                                  seconds=float(os.environ.get("BENCH_SECONDS", "5")),
                                  idle_connections=int(os.environ.get("BENCH_IDLE", "5000")))
    chosen = os.environ.get("BENCH_SCENARIOS", ",".join(scenarios.ORDER)).split(",")
    per_round = [s for s in scenarios.ORDER if s in chosen and s not in scenarios.ONCE]
    once = [s for s in scenarios.ORDER if s in chosen and s in scenarios.ONCE]
    started = time.monotonic()

    upstream, upstream_port = targets.start_upstream(args.upstream, args.work)
    settings.upstream_pid = upstream.pid
    all_targets = [targets.Target("direct", upstream_port, None)]
    # (variant, column name) -> that proxy's process for the variant's scenarios (scenarios.VARIANT)
    variant_targets: dict[tuple[str, str], targets.Target] = {}
    access_log_lines: dict[str, int] = {}
    raw = {s: {name: [] for name in report.TARGETS if name not in scenarios.NOT_APPLICABLE.get(s, set())}
           for s in scenarios.ORDER if s in chosen}
    try:
        for name, binary in (("envoy", args.envoy), ("ours", args.ours)):
            target = targets.start_proxy(name, binary, args.work, upstream_port)
            log(f"{name}: " + (f"listening on {target.port}" if not target.error else f"FAILED: {target.error}"))
            all_targets.append(target)
        for variant in sorted({scenarios.VARIANT[s] for s in chosen if s in scenarios.VARIANT}):
            tls_files = tls.ensure_certificate(args.work) if variant == "tls" else None
            jwt_setup = jwtkeys.make(args.work) if variant == "jwt" else None
            if jwt_setup:
                settings.jwt_tokens = jwt_setup[1]
            for name, binary in (("envoy", args.envoy), ("ours", args.ours)):
                if variant == "jwt" and name == "envoy":
                    continue  # ours only (scenarios.NOT_APPLICABLE)
                target = targets.start_proxy(name, binary, args.work, upstream_port, tls_files, variant, jwt_setup)
                log(f"{name} ({variant}): " + (f"listening on {target.port}" if not target.error
                                               else f"FAILED: {target.error}"))
                variant_targets[(variant, name)] = target

        def measured(scenario: str, column: targets.Target) -> targets.Target:
            variant = scenarios.VARIANT.get(scenario)
            return variant_targets[(variant, column.name)] if variant else column

        warm = scenarios.Settings(**{**settings.__dict__, "seconds": 1})
        for target in all_targets:
            # Warm caches, pools and upstream connections, and the h2 code paths when measured.
            for scenario in ["unary64"] + [s for s in ("h2_grpcweb", "h2_native") if s in chosen]:
                if target.usable() and target.name not in scenarios.NOT_APPLICABLE.get(scenario, set()):
                    measure_safely(scenario, target, warm)
        for (variant, _), target in variant_targets.items():
            if target.usable():
                measure_safely(scenarios.VARIANT_WARM_UP[variant], target, warm)

        for round_index in range(rounds):
            # Rotate who goes first so slow drift on the shared machine does not favour one column.
            order = all_targets[round_index % 3:] + all_targets[:round_index % 3]
            for scenario in per_round:
                for target in order:
                    if target.name in raw[scenario]:
                        column = measured(scenario, target)
                        with perfrecord.recorded(column, scenario, f"r{round_index + 1}", args.work):
                            result = measure_safely(scenario, column, settings)
                        raw[scenario][target.name].append(result)
                        log(f"round {round_index + 1}/{rounds} {scenario:<14} {target.name:<6} {brief(result)}")

        for scenario in once:
            # Once per proxy, last: a second pass would mostly reuse memory freed by the first.
            for target in all_targets:
                if target.name in raw[scenario]:
                    result = measure_safely(scenario, measured(scenario, target), settings)
                    raw[scenario][target.name].append(result)
                    log(f"{scenario:<14} {target.name:<6} {brief(result)}")
    finally:
        for target in all_targets[1:] + list(variant_targets.values()):
            target.stop()
        for name in ("envoy", "ours"):
            # The access log rows write a few hundred MB: their line counts are kept (proof that every call was
            # logged), the files are not.
            path = os.path.join(args.work, f"{name}-access.log")
            if os.path.exists(path):
                with open(path, "rb") as f:
                    access_log_lines[name] = sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))
                os.remove(path)
                log(f"{name}: {access_log_lines[name]:,} access log lines")
        upstream.stop()

    counters = None
    try:
        with open(upstream.log_path) as f:
            lines = [l for l in f.read().splitlines() if l.startswith("{")]
        counters = json.loads(lines[-1]) if lines else None
    except (OSError, ValueError):
        pass

    summary = report.aggregate(raw)
    print()
    print(report.table(summary, settings))
    problems = report.failures(summary)
    if problems:
        print("\nfailures:\n" + problems)
    document = {
        "generated": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"cores": os.cpu_count(), "kernel": platform.release()},
        "settings": {"rounds": rounds, **{k: v for k, v in settings.__dict__.items() if k not in ("work", "sink", "ws_client", "upstream_pid")}},
        "pinning": {"proxy": "core 0", "upstream_and_clients": "core 1"},
        "targets": {**{t.name: {"error": t.error} for t in all_targets},
                    **{f"{t.name}-{v}": {"error": t.error} for (v, _), t in variant_targets.items()}},
        "summary": summary,
        "rounds": raw,
        "upstream_counters": counters,
        "access_log_lines": access_log_lines,
        "seconds_total": round(time.monotonic() - started, 1),
    }
    report.write_json(args.json, document)
    print(f"\nJSON: {args.json}  ({document['seconds_total']} s of measuring)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
