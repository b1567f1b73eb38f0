#!/usr/bin/env bash
# ARM64 under emulation (qemu-user), from an x86-64 Linux machine:
#   1. cross-compiles the native library, its unit tests and model_trace for linux-aarch64
#      (native/toolchain-aarch64-linux-gnu.cmake, Debian's gcc-aarch64-linux-gnu), and model_trace for this machine;
#   2. runs the native unit tests under qemu-aarch64 on one CPU model per ARM level the kernels dispatch to, each
#      checking that the level is detected from HWCAP (MLA4J_TEST_EXPECT_SIMD) and comparing every level up to it
#      with the scalar reference (the tests force each level like the x86 `simd` override);
#   3. compares models between this machine and the emulated ones: the stories260K greedy continuation (ids and
#      text identical) and the logits of tiny deepseek2 and mha2mla files written by `mla4j synth` (F32, Q8_0 and
#      Q4_0 weights; F32, F16 and Q8_0 latent caches; decode, small batches and the MHA-form prefill), within 1e-4,
#      and of small deepseek2 files in the K-quant, IQ4 and Q4_1/Q5 types (decode and a 24-token batch).
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
# ELF e_machine (bytes 18-19) 183 = AArch64
if [ "$(od -An -tu2 -j18 -N2 "$OUT/arm/native/libmla4j.so" | tr -d ' ')" != 183 ]; then
  echo "qemu-aarch64.sh: $OUT/arm/native/libmla4j.so is not an aarch64 library" >&2
  exit 1
fi

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

echo "--- deepseek2 and mha2mla logits written by mla4j synth, ARM64 vs x86-64"
models="$OUT/models"
mkdir -p "$models"
synth() { [ -f "$models/$1-$2-$3.gguf" ] || ./mla4j synth --arch "$1" --preset "$2" --type "$3" --seed 7 -o "$models/$1-$2-$3.gguf" >/dev/null; }
for t in f32 q8_0 q4_0; do synth deepseek2 tiny "$t"; done
for t in f32 q4_0; do synth mha2mla tiny "$t"; done
synth deepseek2 small q8_0 # latent rows of 160 values: Q8_0 and Q4_0 caches need a multiple of 32
synth mha2mla small q4_0
# The further weight types (widths 256 and 768: K-quant rows; the other matrices get llama-quantize's fallback, so
# together they cover all eight: Q4_K+Q5_0, Q5_K+Q5_1, Q2_K/Q3_K+Q4_0, IQ4_XS+IQ4_NL, Q4_1; Q6_K+Q8_0).
for t in q4_k q5_k q6_k q2_k q3_k iq4_xs q4_1; do synth deepseek2 small "$t"; done
# The largest relative logit difference per token between two logit files (model_trace compare).
diff_of() { "$host" compare "$1" "$2" 1 | awk '{print $5}'; }
status=0
check() { # name, ARM file, x86 file, tolerance
  local d
  d="$(diff_of "$2" "$3")"
  if awk -v d="$d" -v t="$4" 'BEGIN { exit !(d <= t) }'; then r=ok; else r=FAILED; status=1; fi
  printf '%-40s %-12s %-9s (tolerance %s) %s\n' "$1" "$5" "$d" "$4" "$r"
}
# model, then runs "tokens batch cache": decode, a 7-token batch (absorbed form), 80 tokens in one batch (the
# MHA-form prefill, >= 64 tokens), quantized latent caches (int8 scores through the SDOT/SMMLA kernels).
jobs=("deepseek2-tiny-f32:40 1 f32,40 7 f16,80 80 f32" "deepseek2-tiny-q8_0:40 1 f32,40 7 f16,80 80 f32"
      "deepseek2-tiny-q4_0:40 1 f32,80 80 f32" "mha2mla-tiny-f32:40 1 f32,40 7 f16,80 80 f32"
      "mha2mla-tiny-q4_0:40 1 f32,80 80 f32" "deepseek2-small-q8_0:24 1 q8_0,24 4 q4_0"
      "mha2mla-small-q4_0:24 1 q8_0,24 4 q4_0"
      "deepseek2-small-q4_k:24 1 f32,24 24 f32" "deepseek2-small-q5_k:24 1 f32,24 24 f32"
      "deepseek2-small-q2_k:24 1 f32,24 24 f32" "deepseek2-small-q3_k:24 1 f32,24 24 f32"
      "deepseek2-small-iq4_xs:24 1 f32,24 24 f32" "deepseek2-small-q4_1:24 1 f32,24 24 f32"
      "deepseek2-small-q6_k:24 1 f32,24 24 f32")
for job in "${jobs[@]}"; do
  model="${job%%:*}" f="$models/${job%%:*}.gguf"
  IFS=, read -r -a runs <<<"${job#*:}"
  for run in "${runs[@]}"; do
    read -r n batch kv <<<"$run"
    name="$model-$n-$batch-$kv" base="$models/$model-$n-$batch-$kv"
    # x86-64: the scalar reference, AVX2, and the best level. (AVX-512 sums the attention over a quantized cache
    # in bf16 where the CPU has AVX512-BF16; the ARM levels, like AVX2, in f32: for those caches AVX2 is "best".)
    best=0
    [ "$kv" = q8_0 ] || [ "$kv" = q4_0 ] && best=2
    "$host" logits "$f" "$base.x86-scalar.bin" "$n" "$batch" "$kv" 1
    "$host" logits "$f" "$base.x86-avx2.bin" "$n" "$batch" "$kv" 2
    "$host" logits "$f" "$base.x86-best.bin" "$n" "$batch" "$kv" "$best"
    # The scalar references of both builds do the same arithmetic in the same order.
    arm max logits "$f" "$base.arm-scalar.bin" "$n" "$batch" "$kv" 1
    check "$name" "$base.arm-scalar.bin" "$base.x86-scalar.bin" 1e-4 "scalar"
    # F32 weights: each ARM CPU's best level within 1e-4 of x86's best (float sums in another order). Quantized
    # weights: the NEON int8 kernels give the reference's bits, but the float kernels (attention) sum in another
    # order, and the Q8_0 activations of the next product round at block level: a last-bit difference can move one
    # quant by one step and the logits of these random-weight models by up to ~1e-2 - between x86's own levels too.
    # There each ARM CPU is compared with x86's scalar level and may differ by at most twice as much as x86's
    # SIMD levels differ from it.
    ref="$base.x86-best.bin" tol=1e-4
    case "$model" in
      *-f32) ;;
      *)
        ref="$base.x86-scalar.bin"
        tol="$(awk -v a="$(diff_of "$base.x86-avx2.bin" "$base.x86-scalar.bin")" \
                   -v b="$(diff_of "$base.x86-best.bin" "$base.x86-scalar.bin")" \
                   'BEGIN { m = a > b ? a : b; m = 2 * m; print (m > 1e-4 ? m : 1e-4) }')" ;;
    esac
    first=""
    for entry in "${CPUS[@]}"; do
      cpu="${entry%%:*}"
      arm "$cpu" logits "$f" "$base.$cpu.bin" "$n" "$batch" "$kv"
      check "$name" "$base.$cpu.bin" "$ref" "$tol" "$cpu"
      # The ARM levels differ only in their int8 kernels, which are exact: every CPU gives the same bits.
      if [ -n "$first" ] && ! cmp -s "$base.$cpu.bin" "$first"; then
        echo "$name: $cpu's logits differ from $(basename "$first")'s (the ARM levels should agree bit for bit)"
        status=1
      fi
      first="${first:-$base.$cpu.bin}"
    done
  done
done
if [ "$status" != 0 ]; then
  echo "qemu-aarch64.sh: ARM64 logits differ from x86-64 beyond the tolerance" >&2
  exit 1
fi
echo "--- ARM64 under emulation: all passed"
