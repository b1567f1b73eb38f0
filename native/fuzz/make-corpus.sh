#!/usr/bin/env bash
# Builds the seed corpora of the fuzz harnesses in DIR/<harness>/:
#   fuzz_gguf, fuzz_model: the real GGUF files of the shared fixtures (MLA4J_FIXTURES, default ../shared/fixtures)
#     and files `mla4j synth` and `mla4j quantize` write (tiny llama and qwen2 models in every weight type, tiny
#     deepseek2 Mixture-of-Experts models);
#   fuzz_tensor_info, fuzz_types: the inputs are recipes, they start from a few fixed byte strings.
# Usage: native/fuzz/make-corpus.sh DIR     (needs cli/target/mla4j.jar for the synth seeds: ./mla4j build)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
DIR="${1:?usage: make-corpus.sh DIR}"
FIX="${MLA4J_FIXTURES:-$ROOT/../shared/fixtures}"
mkdir -p "$DIR"/fuzz_gguf "$DIR"/fuzz_model "$DIR"/fuzz_tensor_info "$DIR"/fuzz_types

if [ -d "$FIX/models" ]; then
  cp "$FIX"/models/*.gguf "$DIR"/fuzz_gguf/
  cp "$FIX"/models/*.gguf "$DIR"/fuzz_model/
  cp "$FIX"/vocab/*.gguf "$DIR"/fuzz_gguf/
else
  echo "make-corpus: no fixtures at $FIX; the corpus has synth files only" >&2
fi

JAR="$ROOT/cli/target/mla4j.jar"
if [ -f "$JAR" ]; then
  # The launcher finds a JDK 22+ (the default java may be older).
  mla4j() { "$ROOT/mla4j" "$@" 2>/dev/null; }
  for t in f32 f16 bf16 q8_0 q4_0; do
    mla4j synth --arch llama --preset tiny --type "$t" --seed 7 -o "$DIR/fuzz_model/synth-tiny-$t.gguf"
    mla4j synth --arch qwen2 --preset tiny --type "$t" --seed 7 -o "$DIR/fuzz_model/synth-qwen2-tiny-$t.gguf"
  done
  # deepseek2 Mixture-of-Experts (V2 softmax routing; V3 sigmoid, bias, groups, q-LoRA, YaRN; no shared experts)
  moe="--arch deepseek2 --preset tiny --seed 7 --experts 8 --experts-used 2 --expert-ff 32"
  for t in f32 q8_0 q4_0; do
    mla4j synth $moe --type "$t" --shared-experts 1 --dense-layers 1 -o "$DIR/fuzz_model/synth-moe-v2-$t.gguf"
  done
  mla4j synth $moe --type f32 --shared-experts 1 --dense-layers 0 --gating sigmoid --expert-bias --groups 4 \
    --groups-used 2 --norm-weights --weights-scale 2.5 --q-lora 32 --yarn 4 -o "$DIR/fuzz_model/synth-moe-v3-f32.gguf"
  mla4j synth $moe --type f32 --shared-experts 0 -o "$DIR/fuzz_model/synth-moe-noshared-f32.gguf"
  if [ -f "$FIX/models/stories260K.gguf" ]; then
    mla4j quantize "$FIX/models/stories260K.gguf" "$DIR/fuzz_model/stories260K-q8_0.gguf" --type q8_0
    mla4j quantize "$FIX/models/stories260K.gguf" "$DIR/fuzz_model/stories260K-q4_0.gguf" --type q4_0
  fi
  cp "$DIR"/fuzz_model/synth-*.gguf "$DIR"/fuzz_model/stories260K-q*.gguf "$DIR"/fuzz_gguf/ 2>/dev/null || true
else
  echo "make-corpus: $JAR not built; no synth seeds (run ./mla4j build first)" >&2
fi

# Recipes: a few tensors of each type with offsets as a valid file has them; rows of each type.
printf '\x03\x00\x01\x05\x02\x00\x00' > "$DIR"/fuzz_tensor_info/three-tensors
printf '\x18\x05\x09\x01\x04\x00\x02\x05\x00\x00' > "$DIR"/fuzz_tensor_info/aligned-q4
for t in 0 1 2 3 4 5 6; do
  head -c 600 /dev/zero | tr '\0' '\1' | { printf "\\x$t\\x00\\x02\\x00"; cat; } > "$DIR/fuzz_types/row-$t"
done
echo "make-corpus: $(find "$DIR" -type f | wc -l) seeds in $DIR" >&2
