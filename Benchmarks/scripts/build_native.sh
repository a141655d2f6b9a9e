#!/usr/bin/env bash
# Builds the benchmark's native helpers into WORK_DIR (default Benchmarks/.work):
#   upstream_server  C++ gRPC upstream (protoc + grpc_cpp_plugin output is generated there too)
#   stream_sink      fast HTTP/1.1 gRPC-Web streaming reader
#   ws_pingpong      grpc-websockets bidi ping-pong client (epoll, one thread)
#   wrk_full_handshake.so  LD_PRELOAD shim: wrk makes a full TLS handshake on every connection
# Each is rebuilt only when one of its sources is newer than the binary.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
work="${1:-$here/.work}"
mkdir -p "$work/gen"

needs_build() {  # needs_build OUTPUT SOURCE...
    local out="$1"; shift
    [[ -x "$out" ]] || return 0
    local src
    for src in "$@"; do [[ "$src" -nt "$out" ]] && return 0; done
    return 1
}

if needs_build "$work/upstream_server" "$here/upstream/bench.proto" "$here/upstream/upstream_server.cc"; then
    echo "bench: building the C++ gRPC upstream" >&2
    protoc -I "$here/upstream" --cpp_out="$work/gen" --grpc_out="$work/gen" \
        --plugin=protoc-gen-grpc="$(command -v grpc_cpp_plugin)" "$here/upstream/bench.proto"
    # shellcheck disable=SC2046
    g++ -O2 -std=c++17 -I "$work/gen" -o "$work/upstream_server" \
        "$here/upstream/upstream_server.cc" "$work/gen/bench.pb.cc" "$work/gen/bench.grpc.pb.cc" \
        $(pkg-config --cflags --libs grpc++ protobuf) -lpthread
fi

if needs_build "$work/stream_sink" "$here/clients/stream_sink.cc"; then
    echo "bench: building stream_sink" >&2
    g++ -O2 -std=c++17 -Wall -o "$work/stream_sink" "$here/clients/stream_sink.cc"
fi

if needs_build "$work/ws_pingpong" "$here/clients/ws_pingpong.cc"; then
    echo "bench: building ws_pingpong" >&2
    g++ -O2 -std=c++17 -Wall -o "$work/ws_pingpong" "$here/clients/ws_pingpong.cc"
fi

if needs_build "$work/wrk_full_handshake.so" "$here/clients/wrk_full_handshake.c"; then
    echo "bench: building wrk_full_handshake.so" >&2
    gcc -O2 -Wall -shared -fPIC -o "$work/wrk_full_handshake.so" "$here/clients/wrk_full_handshake.c" -ldl
fi
