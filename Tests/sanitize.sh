#!/usr/bin/env bash
# `make sanitize`: builds the proxy with AddressSanitizer (.build-asan) and ThreadSanitizer (.build-tsan) and runs
# the whole integration suite against each (PROXY_BIN). A sanitizer report stops the proxy (halt_on_error=1) and
# fails the test that ran it: conftest scans every proxy's log for reports at teardown.
#   usage: Tests/sanitize.sh [address] [thread]     (default: both)
#   extra pytest arguments, shell-quoted: SANITIZE_PYTEST_ARGS="-x -k 'jwt or reload'"
set -uo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
KINDS=("$@")
[ ${#KINDS[@]} -eq 0 ] && KINDS=(address thread)

status=0
for kind in "${KINDS[@]}"; do
    case "$kind" in
        address) scratch=.build-asan ;;
        thread) scratch=.build-tsan ;;
        *) echo "unknown sanitizer '$kind' (address or thread)" >&2; exit 2 ;;
    esac
    start=$(date +%s)
    # The C shim (CProxyLinux) is instrumented too, so its memory accesses are checked and seen by TSan.
    if ! swift build --product grpc-web-proxy --scratch-path "$scratch" \
            -Xswiftc -sanitize="$kind" -Xcc -fsanitize="$kind"; then
        echo "$kind: build failed" >&2
        exit 2
    fi
    built=$(date +%s)
    # halt_on_error: the first finding stops the proxy, so it cannot go unnoticed behind a passing test.
    # TSan needs an address space without randomisation on kernels with large vm.mmap_rnd_bits ("unexpected
    # memory mapping" at start-up); setarch -R turns ASLR off for pytest and every process it starts.
    # detect_leaks=0: LeakSanitizer at exit reports 32 bytes for every Swift object that is still alive and once
    # had a weak reference (its side table is referenced only from the object's encoded refcount word, which LSan
    # cannot read as a pointer), so every proxy exit "leaks" one per upstream connection. Growth is measured by
    # the soak test instead. quarantine_size_mb=16 (default 256): freed memory held back to catch use-after-free
    # counts as RSS, and the suite's memory-bound tests allow tens of MiB of growth, not hundreds (they add
    # conftest's SANITIZER_RSS_SLACK_MIB when PROXY_SANITIZER=address: shadow memory counts as resident too).
    export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:detect_leaks=0:detect_stack_use_after_return=1:quarantine_size_mb=16}
    export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1:history_size=4}
    # Parsed as shell words, so a quoted -k expression stays one argument.
    extra=()
    [ -n "${SANITIZE_PYTEST_ARGS:-}" ] && eval "extra=(${SANITIZE_PYTEST_ARGS})"
    PROXY_SANITIZER=$kind PROXY_BIN=$PWD/$scratch/debug/grpc-web-proxy setarch "$(uname -m)" -R \
        "$PYTHON" -m pytest Tests/Integration -q -p no:cacheprovider "${extra[@]}"
    rc=$?
    echo "$kind sanitizer: build $((built - start)) s, integration suite $(( $(date +%s) - built )) s, pytest exit $rc"
    [ $rc -ne 0 ] && status=1
done
exit $status
