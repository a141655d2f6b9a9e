#!/usr/bin/env bash
# Builds the libFuzzer targets (ASan + fuzzer instrumentation, scratch path .build-fuzz) and runs each for
# FUZZ_SECONDS (default 60) of wall time, starting from the committed seeds in Fuzz/corpus/<target>/ plus what
# earlier runs found (.build-fuzz/corpus/<target>/, never committed). Crashing inputs go to
# .build-fuzz/artifacts/<target>/. Exits non-zero if any target crashed, leaked, timed out or ran out of memory.
#   usage: Fuzz/run-fuzz.sh [target...]     (default: all targets in Fuzz/Package.swift)
set -uo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET=${FUZZ_SECONDS:-60}
SCRATCH=.build-fuzz
TARGETS=("$@")
if [ ${#TARGETS[@]} -eq 0 ]; then
    mapfile -t TARGETS < <(ls Fuzz/corpus)
fi

swift build --package-path Fuzz -c debug --scratch-path "$SCRATCH" -Xswiftc -sanitize=fuzzer,address \
    2> >(grep -v "Cannot export local symbol" >&2) || { echo "fuzz build failed" >&2; exit 2; }

failed=()
printf '%-28s %8s %8s %12s %8s %s\n' target wall-s cpu-s execs corpus result
for target in "${TARGETS[@]}"; do
    work="$SCRATCH/corpus/$target"
    artifacts="$SCRATCH/artifacts/$target"
    log="$SCRATCH/logs/$target.log"
    mkdir -p "$work" "$artifacts" "$(dirname "$log")"
    dict=()
    [ -f "Fuzz/dict/$target.dict" ] && dict=(-dict="Fuzz/dict/$target.dict")
    start=$(date +%s)
    # CPU seconds (user + system) of the fuzzer process, which is what "time fuzzed" means on a shared machine.
    TIMEFORMAT='%U %S'
    cpu=$( { time ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} "$SCRATCH/debug/$target" "$work" "Fuzz/corpus/$target" \
        -max_total_time="$SECONDS_PER_TARGET" -timeout=20 -rss_limit_mb=2048 -max_len=4096 \
        -artifact_prefix="$artifacts/" -print_final_stats=1 "${dict[@]}" >"$log" 2>&1; echo "rc $?" >&2; } 2>&1 )
    rc=$(sed -n 's/^rc //p' <<<"$cpu")
    cpu=$(grep -v '^rc ' <<<"$cpu" | awk '{printf "%.0f", $1 + $2}')
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)
    result=ok
    if [ $rc -ne 0 ]; then
        result="FAILED (exit $rc, see $log; inputs in $artifacts/)"
        failed+=("$target")
    fi
    printf '%-28s %8s %8s %12s %8s %s\n' "$target" "$(( $(date +%s) - start ))" "$cpu" "${execs:-?}" "$(ls "$work" | wc -l)" "$result"
done
if [ ${#failed[@]} -ne 0 ]; then
    echo "fuzz targets that failed: ${failed[*]}" >&2
    for target in "${failed[@]}"; do grep -m3 -E "ERROR|Fatal error|fuzz property" "$SCRATCH/logs/$target.log" >&2; done
    exit 1
fi
