#!/usr/bin/env bash
# Starts the whole demo on this machine and stops it on Ctrl-C:
#   demo_upstream.py (gRPC, 127.0.0.1:50051) <- grpc-web-proxy (127.0.0.1:8080, admin :9901) <- page (127.0.0.1:8000)
#
# Usage: deploy/demo/run-demo.sh            (from anywhere; uses <repo>/.build/release/grpc-web-proxy)
#   PROXY_BIN=/path/to/grpc-web-proxy    use another binary
#   DEMO_CONFIG=/path/to/config.yaml     use another proxy config (default <repo>/config/demo.yaml)
set -euo pipefail

DEMO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$DEMO_DIR/../.." && pwd)"
PROXY_BIN="${PROXY_BIN:-$REPO/.build/release/grpc-web-proxy}"
DEMO_CONFIG="${DEMO_CONFIG:-$REPO/config/demo.yaml}"
PYTHON="${PYTHON:-python3}"
PAGE_PORT=8000

die() { echo "run-demo: $*" >&2; exit 1; }

command -v "$PYTHON" >/dev/null || die "python3 is required"
if ! "$PYTHON" -c 'import grpc' 2>/dev/null; then
  echo "run-demo: installing grpcio for the demo upstream…"
  "$PYTHON" -m pip install --quiet 'grpcio>=1.60,<2' || die "pip install grpcio failed"
fi
[ -x "$PROXY_BIN" ] || die "no proxy binary at $PROXY_BIN (build it: make release, or swift build -c release)"
[ -f "$DEMO_CONFIG" ] || die "no proxy config at $DEMO_CONFIG"

for port in 50051 8080 9901 "$PAGE_PORT"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    die "port $port is already in use (another demo still running?)"
  fi
done

PIDS=()
cleanup() {
  trap - INT TERM EXIT
  echo
  echo "run-demo: stopping…"
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM
trap cleanup EXIT

wait_port() {  # wait_port PORT NAME PID
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    kill -0 "$3" 2>/dev/null || die "$2 exited during start-up"
    sleep 0.1
  done
  die "$2 did not open port $1"
}

"$PYTHON" -u "$DEMO_DIR/demo_upstream.py" --port 50051 &
PIDS+=($!); wait_port 50051 "demo upstream" "$!"

"$PYTHON" -m http.server "$PAGE_PORT" --bind 127.0.0.1 --directory "$DEMO_DIR" >/dev/null 2>&1 &
PIDS+=($!); wait_port "$PAGE_PORT" "page server" "$!"

"$PROXY_BIN" --config "$DEMO_CONFIG" &
PIDS+=($!); wait_port 8080 "grpc-web-proxy" "$!"

cat <<EOF

  Demo running. Open  http://127.0.0.1:$PAGE_PORT/
  (or http://127.0.0.1:$PAGE_PORT/?demo=1 to run every call automatically)
  Proxy 127.0.0.1:8080 · admin http://127.0.0.1:9901/ready · upstream 127.0.0.1:50051
  Ctrl-C stops everything.

EOF
wait -n "${PIDS[@]}" || true
echo "run-demo: a process exited; shutting down the rest"
