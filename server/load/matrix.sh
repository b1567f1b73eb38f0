#!/usr/bin/env bash
# Issue 12, acceptance 3: the load matrix against one running OpenAI-compatible server, one JSON line per cell.
#
#   server/load/matrix.sh URL LABEL [LoadClient options...]   > results.jsonl
#
# Cells: CLIENTS x PROMPTS (default "1 4 8 16" x "512 4096"), MAX_TOKENS (default 128) generated tokens per client,
# one streamed request per client, all started at once; each line is LoadClient's --json output with "label" and
# "prompt_tokens" added. Start the server first with at least max(CLIENTS) slots, each with room for the longest
# prompt plus the reply, and 2 threads, e.g. for the default matrix:
#   ./mla4j serve -m MODEL -t 2 -np 16 -c 69632 --port 8080                        (16 x (4096 + 128) rounded up)
#   llama-server -m MODEL -t 2 -np 16 -c 69632 --port 8081
# then, for cache bytes in use:
#   server/load/matrix.sh http://127.0.0.1:8080 mla4j --metric mla4j_kv_cache_bytes_used
#   server/load/matrix.sh http://127.0.0.1:8081 llama-server --slots-bytes-per-token B
# where B is its cache size over the -c positions, from its log (start it with -lv 4) line
#   "llama_kv_cache: size = S MiB (...)":  B = S * 1048576 / 69632 (16 layers x 576 x 2 = 18432 for deepseek2-1b F16).
# Environment: CLIENTS, PROMPTS, MAX_TOKENS, JAVA (a JDK 25 java; default: $JAVA_HOME/bin/java, else temurin-25).
set -euo pipefail
if [ $# -lt 2 ]; then
  sed -n '2,20p' "$0" >&2
  exit 2
fi
url=$1 label=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
java=${JAVA:-${JAVA_HOME:+$JAVA_HOME/bin/java}}
[ -n "$java" ] && "$java" -version 2>&1 | grep -q 'version "2[5-9]' || java=/usr/lib/jvm/temurin-25-jdk-amd64/bin/java
for p in ${PROMPTS:-512 4096}; do
  for n in ${CLIENTS:-1 4 8 16}; do
    line=$("$java" "$here/LoadClient.java" --url "$url" --clients "$n" --requests "$n" --prompt-tokens "$p" \
      --max-tokens "${MAX_TOKENS:-128}" --json "$@") || true # a cell with errors still prints its line
    echo "{\"label\": \"$label\", \"prompt_tokens\": $p, ${line#\{}"
  done
done
