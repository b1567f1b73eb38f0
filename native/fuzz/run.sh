#!/usr/bin/env bash
# Runs one fuzz harness for a bounded time on its seed corpus and prints libFuzzer's final statistics.
# Usage: native/fuzz/run.sh BUILD_DIR HARNESS SECONDS CORPUS_DIR [extra libFuzzer flags]
#   BUILD_DIR: a build configured with -DMLA4J_FUZZ=ON -DCMAKE_C_COMPILER=clang-14
#   CORPUS_DIR: from make-corpus.sh; new inputs found are added to a working copy (CORPUS_DIR/../work/HARNESS),
#               crashes go to CORPUS_DIR/../artifacts/HARNESS/ (the run then fails).
set -euo pipefail
BUILD="${1:?usage: run.sh BUILD_DIR HARNESS SECONDS CORPUS_DIR}"
NAME="${2:?harness}"
SECS="${3:?seconds}"
CORPUS="${4:?corpus dir}"
shift 4
FUZZ_DIR="$(cd "$(dirname "$0")" && pwd)"
BIN="$BUILD/native/fuzz/$NAME"
[ -x "$BIN" ] || { echo "run.sh: $BIN not built (cmake -DMLA4J_FUZZ=ON)" >&2; exit 2; }
WORK="$CORPUS/../work/$NAME"
ART="$CORPUS/../artifacts/$NAME"
mkdir -p "$WORK" "$ART"
dict=()
case "$NAME" in fuzz_gguf|fuzz_model) dict=(-dict="$FUZZ_DIR/gguf.dict") ;; esac
# detect_leaks: LeakSanitizer is on; allocator_may_return_null: a refused huge malloc is an error path, and
# -malloc_limit_mb still reports any single allocation above 2 GiB as a finding.
export ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=1:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}"
exec "$BIN" "$WORK" "$CORPUS/$NAME" "${dict[@]}" -max_total_time="$SECS" -timeout=20 -rss_limit_mb=2560 \
  -malloc_limit_mb=2048 -max_len=1600000 -print_final_stats=1 -artifact_prefix="$ART/" "$@"
