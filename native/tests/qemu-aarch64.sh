#!/usr/bin/env bash
# ARM64 under emulation (qemu-user), from an x86-64 Linux machine:
#   1. cross-compiles the native library, its unit tests and model_trace for linux-aarch64
#      (native/toolchain-aarch64-linux-gnu.cmake, Debian's gcc-aarch64-linux-gnu), and model_trace for this machine;
#   2. runs the native unit tests under qemu-aarch64 on one CPU model per ARM level the kernels dispatch to, each
#      checking that the level is detected from HWCAP (MLA4J_TEST_EXPECT_SIMD) and comparing every level up to it
#      with the scalar reference (the tests force each level like the x86 `simd` override);
#   3. compares models between this machine and the emulated ones: the stories260K greedy continuation (ids and
#      text identical) and the logits of tiny deepseek2 and mha2mla files written by `mla4j synth` (F32, Q8_0 and
#      Q4_0 weights; F32, F16 and Q8_0 latent caches; decode, small batches and the MHA-form prefill), within 1e-4.
# Usage: native/tests/qemu-aarch64.sh [OUT_DIR]  (default build-aarch64; needs MLA4J_FIXTURES, the mla4j launcher's
# JDK/Maven for `synth`, cmake, gcc, gcc-aarch64-linux-gnu, qemu-user). Speed means nothing under emulation.
# About 10 minutes on 2 cores.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
OUT="${1:-build-aarch64}"

for tool in aarch64-linux-gnu-gcc qemu-aarch64 cmake; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "qemu-aarch64.sh: $tool is missing (Debian/Ubuntu: apt-get install gcc-aarch64-linux-gnu qemu-user cmake)" >&2
    exit 1
  fi
done
if [ -z "${MLA4J_FIXTURES:-}" ] || [ ! -f "$MLA4J_FIXTURES/models/stories260K.gguf" ]; then
  echo "qemu-aarch64.sh: set MLA4J_FIXTURES to the fixtures directory (models/stories260K.gguf)" >&2
  exit 1
fi

echo "--- building for linux-aarch64 ($OUT/arm) and model_trace for this machine ($OUT/host)"
cmake -S . -B "$OUT/arm" -DCMAKE_TOOLCHAIN_FILE=native/toolchain-aarch64-linux-gnu.cmake -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$OUT/arm" --parallel 2 >/dev/null
cmake -S . -B "$OUT/host" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$OUT/host" --target model_trace --parallel 2 >/dev/null
file -b "$OUT/arm/native/libmla4j.so" | grep -q "ARM aarch64" || { echo "qemu-aarch64.sh: $OUT/arm/native/libmla4j.so is not an aarch64 library" >&2; exit 1; }

# qemu's CPU models and the mla4j level each must be detected as: cortex-a53 (ARMv8.0, NEON only), neoverse-n1
# (ARMv8.2 with dotprod), max (every feature qemu emulates, i8mm included).
CPUS=(cortex-a53:neon neoverse-n1:neon-dotprod max:neon-i8mm)
export QEMU_LD_PREFIX=/usr/aarch64-linux-gnu

# test_linalg and test_calib need an aarch64 LAPACK (model conversion only; inference does not use it).
skip='^(test_linalg|test_calib)$'
echo "NOTICE: test_linalg and test_calib are not run under emulation (they need an aarch64 LAPACK; conversion only)"
for entry in "${CPUS[@]}"; do
  cpu="${entry%%:*}" level="${entry#*:}"
  echo "--- native unit tests on qemu -cpu $cpu (expected level: $level)"
  QEMU_CPU="$cpu" MLA4J_TEST_EXPECT_SIMD="$level" ctest --test-dir "$OUT/arm" --output-on-failure -E "$skip"
done

host="$OUT/host/native/model_trace"
arm() { QEMU_CPU="$1" qemu-aarch64 "$OUT/arm/native/model_trace" "${@:2}"; }

echo "--- stories260K greedy, 60 tokens after 'Once upon a time'"
stories="$MLA4J_FIXTURES/models/stories260K.gguf"
prompt=1,403,407,261,378
want="$("$host" greedy "$stories" 60 "$prompt")"
echo "x86-64: $want"
for entry in "${CPUS[@]}"; do
  cpu="${entry%%:*}"
  got="$(arm "$cpu" greedy "$stories" 60 "$prompt")"
  if [ "$got" != "$want" ]; then
    echo "qemu-aarch64.sh: stories260K greedy output on $cpu differs from x86-64:" >&2
    echo "$got" >&2
    exit 1
  fi
  echo "$cpu: identical"
done

echo "--- tiny deepseek2 and mha2mla logits (1e-4 relative per token)"
models="$OUT/models"
mkdir -p "$models"
for arch in deepseek2 mha2mla; do
  for type in f32 q8_0 q4_0; do
    f="$models/$arch-$type.gguf"
    [ -f "$f" ] || ./mla4j synth --arch "$arch" --preset tiny --type "$type" --seed 7 -o "$f" >/dev/null
  done
done
# n_tok batch kv-cache: decode, a 7-token batch (absorbed form), an 80-token batch (MHA-form prefill, >= 64 tokens)
runs=("40 1 f32" "40 7 f16" "80 80 f32" "40 1 q8_0")
status=0
for f in "$models"/*.gguf; do
  for run in "${runs[@]}"; do
    read -r n batch kv <<<"$run"
    # On x86 the AVX-512 level sums quantized-cache attention in bf16 (where the CPU has AVX512-BF16); the ARM
    # levels, like AVX2, in f32: compare like with like.
    simd=0
    [ "$kv" = q8_0 ] && simd=2
    name="$(basename "$f" .gguf)-$n-$batch-$kv"
    "$host" logits "$f" "$models/$name.x86.bin" "$n" "$batch" "$kv" "$simd"
    for entry in "${CPUS[@]}"; do
      cpu="${entry%%:*}"
      arm "$cpu" logits "$f" "$models/$name.$cpu.bin" "$n" "$batch" "$kv"
      printf '%-34s %-12s ' "$name" "$cpu"
      "$host" compare "$models/$name.$cpu.bin" "$models/$name.x86.bin" 1e-4 || status=1
    done
  done
done
if [ "$status" != 0 ]; then
  echo "qemu-aarch64.sh: ARM64 logits differ from x86-64 by more than 1e-4" >&2
  exit 1
fi
echo "--- ARM64 under emulation: all passed"
