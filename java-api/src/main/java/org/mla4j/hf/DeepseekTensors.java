package org.mla4j.hf;

import java.lang.foreign.MemorySegment;

import org.mla4j.gguf.GgmlType;
import org.mla4j.gguf.GgufWriter;

/**
 * Dense DeepSeek-V3 attention to llama.cpp's deepseek2 in MLA mode (formats.md, "What convert_hf_to_gguf does
 * for DeepSeek V2/V3" and "Dense-only deepseek2"). No row permutation: DeepSeek's rope rows are interleaved,
 * which is the NORM layout. {@code kv_b_proj} [H*(N+Dv), C] is split per head into attn_k_b {N, C, H}, element
 * (d, c, h) = kv_b[h*(N+Dv) + d][c] (transposed), and attn_v_b {C, Dv, H}, row (e, h) = kv_b row h*(N+Dv) + N + e.
 */
final class DeepseekTensors {
    private DeepseekTensors() {
    }

    static void layer(TensorPlan p, HfConfig c, int i) {
        HfConfig.Mla m = c.mla();
        String hf = "model.layers." + i + ".", a = hf + "self_attn.", b = "blk." + i + ".";
        long e = c.hiddenSize(), h = c.heads(), n = m.qkNopeHeadDim(), r = m.qkRopeHeadDim(), cl = m.kvLoraRank();
        long dv = m.vHeadDim();
        p.copy(b + "attn_norm.weight", hf + "input_layernorm.weight", e);
        if (m.qLoraRank() > 0) {
            p.copy(b + "attn_q_a.weight", a + "q_a_proj.weight", m.qLoraRank(), e);
            p.copy(b + "attn_q_a_norm.weight", a + "q_a_layernorm.weight", m.qLoraRank());
            p.copy(b + "attn_q_b.weight", a + "q_b_proj.weight", h * (n + r), m.qLoraRank());
        } else {
            p.copy(b + "attn_q.weight", a + "q_proj.weight", h * (n + r), e);
        }
        p.copy(b + "attn_kv_a_mqa.weight", a + "kv_a_proj_with_mqa.weight", cl + r, e);
        p.copy(b + "attn_kv_a_norm.weight", a + "kv_a_layernorm.weight", cl);
        SafetensorsFile.Tensor kvb = p.need(a + "kv_b_proj.weight", h * (n + dv), cl);
        GgmlType type = kvb.dtype().ggml();
        MemorySegment data = kvb.data();
        long es = kvb.dtype().size();
        // attn_k_b: output row (c, head) = index head*C + c holds N elements gathered down a column of kv_b
        p.derived(b + "attn_k_b.weight", type, new long[] {n, cl, h}, cl * h, (row, scratch) -> {
            long head = row / cl, col = row % cl;
            for (long d = 0; d < n; d++) {
                MemorySegment.copy(data, ((head * (n + dv) + d) * cl + col) * es, scratch, d * es, es);
            }
            return scratch;
        });
        p.derived(b + "attn_v_b.weight", type, new long[] {cl, dv, h}, dv * h, (row, scratch) -> {
            long head = row / dv, v = row % dv;
            return data.asSlice((head * (n + dv) + n + v) * cl * es, cl * es);
        });
        p.copy(b + "attn_output.weight", a + "o_proj.weight", e, h * dv);
    }

    /** The deepseek2 keys beyond the common ones (llama.cpp requires them even without experts). */
    static void putMetadata(GgufWriter w, HfConfig c) {
        HfConfig.Mla m = c.mla();
        w.putUInt32("deepseek2.attention.kv_lora_rank", m.kvLoraRank());
        org.mla4j.gguf.Deepseek2Keys.putDenseMla(w, c.layers(), c.intermediateSize(), m.kvLoraRank(), m.qkRopeHeadDim(),
                m.qkNopeHeadDim(), m.vHeadDim(), m.qLoraRank());
    }
}
