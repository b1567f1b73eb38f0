#!/usr/bin/env bash
# Guest instructions per token of the ARM64 build at each kernel level, counted under qemu-aarch64 by the
# native/tools/qemu_insn_count.c plugin (qemu's `-cpu max`, one thread, levels forced like the `simd` override).
# Emulation cannot measure speed; the instruction count shows what each level (NEON, SDOT, SMMLA) saves on the
# same work. Per token = the difference between two runs of different length, so loading and setup cancel out:
#   decode: (40 - 8 tokens, one at a time) / 32;  prompt: (64 - 32 tokens, one batch) / 32.
# Usage: native/tests/qemu-insn-count.sh [OUT_DIR]  after native/tests/qemu-aarch64.sh OUT_DIR (same default
# build-aarch64: it reuses the cross build and the synthetic models). Prints a Markdown table.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
OUT="${1:-build-aarch64}"
trace="$OUT/arm/native/model_trace"
if [ ! -x "$trace" ]; then
  echo "qemu-insn-count.sh: run native/tests/qemu-aarch64.sh $OUT first (no $trace)" >&2
  exit 1
fi
plugin="$OUT/qemu_insn_count.so"
gcc -O2 -shared -fPIC -o "$plugin" native/tools/qemu_insn_count.c
export QEMU_LD_PREFIX=/usr/aarch64-linux-gnu QEMU_CPU=max MODEL_TRACE_THREADS=1
models="$OUT/models"
[ -f "$models/llama-small-q4_0.gguf" ] || ./mla4j synth --arch llama --preset small --type q4_0 --seed 7 -o "$models/llama-small-q4_0.gguf" >/dev/null

count() { # model n_tok batch level -> guest instructions
  qemu-aarch64 -plugin "$plugin" -d plugin "$trace" logits "$1" "$OUT/insn.bin" "$2" "$3" f32 "$4" 2>&1 >/dev/null |
    sed -n 's/^insns: //p'
}
per_token() { # model short long batch(1 = decode, 0 = one batch) level
  local b1=1 b2=1
  [ "$4" = 0 ] && b1="$2" b2="$3"
  echo $(( ($(count "$1" "$3" "$b2" "$5") - $(count "$1" "$2" "$b1" "$5")) / ($3 - $2) ))
}

echo "| model | weights | phase | scalar | neon | neon-dotprod | neon-i8mm |"
echo "|---|---|---|---|---|---|---|"
for spec in "stories260K:$MLA4J_FIXTURES/models/stories260K.gguf:F32" \
            "deepseek2 small:$models/deepseek2-small-q8_0.gguf:Q8_0" \
            "mha2mla small:$models/mha2mla-small-q4_0.gguf:Q4_0" \
            "llama small:$models/llama-small-q4_0.gguf:Q4_0" \
            "deepseek2 small:$models/deepseek2-small-q4_k.gguf:Q4_K (+Q5_0)" \
            "deepseek2 small:$models/deepseek2-small-q2_k.gguf:Q2_K (+Q4_0)"; do
  IFS=: read -r name file wtype <<<"$spec"
  for phase in decode prompt; do
    row="| $name | $wtype | $phase"
    for level in 1 4 5 6; do
      if [ "$phase" = decode ]; then n=$(per_token "$file" 8 40 1 "$level"); else n=$(per_token "$file" 32 64 0 "$level"); fi
      row="$row | $n"
    done
    echo "$row |"
  done
done
