package org.mla4j.quant;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;
import org.mla4j.gguf.GgmlType;

/** GgufQuantizer.fallback against llama.cpp's table (src/llama-quant.cpp tensor_type_fallback). */
class QuantizerFallbackTest {
    @Test
    void wholeBlocksKeepTheTarget() {
        assertEquals(GgmlType.Q4_K, GgufQuantizer.fallback(GgmlType.Q4_K, 512, GgmlType.F16));
        assertEquals(GgmlType.IQ4_NL, GgufQuantizer.fallback(GgmlType.IQ4_NL, 96, GgmlType.F16));
    }

    @Test
    void rowsOf32GetLlamaQuantizesSecondType() {
        assertEquals(GgmlType.IQ4_NL, GgufQuantizer.fallback(GgmlType.IQ4_XS, 64, GgmlType.F16));
        assertEquals(GgmlType.Q4_0, GgufQuantizer.fallback(GgmlType.Q2_K, 64, GgmlType.F16));
        assertEquals(GgmlType.Q4_0, GgufQuantizer.fallback(GgmlType.Q3_K, 320, GgmlType.F16));
        assertEquals(GgmlType.Q5_0, GgufQuantizer.fallback(GgmlType.Q4_K, 64, GgmlType.F16));
        assertEquals(GgmlType.Q5_1, GgufQuantizer.fallback(GgmlType.Q5_K, 1408, GgmlType.F16)); // V2-Lite's experts
        assertEquals(GgmlType.Q8_0, GgufQuantizer.fallback(GgmlType.Q6_K, 96, GgmlType.F16));
    }

    @Test
    void otherRowsGetF16AsInLlamaQuantizeOrTheCallersTypeForBlock32Targets() {
        // kjv-gqa-4l's ffn_down rows of 688: llama-quantize logs "must use F16 due to unusual shape"
        assertEquals(GgmlType.F16, GgufQuantizer.fallback(GgmlType.Q4_K, 688, GgmlType.F32));
        assertEquals(GgmlType.F16, GgufQuantizer.fallback(GgmlType.IQ4_XS, 688, GgmlType.F32));
        // llama-quantize stops on these; mla4j keeps the caller's type (F32 for an F32 source)
        assertEquals(GgmlType.F32, GgufQuantizer.fallback(GgmlType.Q8_0, 172, GgmlType.F32));
        assertEquals(GgmlType.F16, GgufQuantizer.fallback(GgmlType.Q5_0, 172, GgmlType.F16));
    }
}
