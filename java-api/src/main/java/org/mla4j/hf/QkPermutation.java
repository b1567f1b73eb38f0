package org.mla4j.hf;

/**
 * The row permutation llama.cpp's converter applies to Llama q_proj/k_proj weights and biases
 * ({@code LlamaModel.permute}): Hugging Face's rotate_half pairs rows (i, i + hd/2) of each head, llama.cpp's NORM
 * rope pairs adjacent rows (2i, 2i + 1). Within each head of hd rows, GGUF row {@code 2i + j} is HF row
 * {@code j * hd/2 + i} (i &lt; hd/2, j in {0, 1}); formats.md, "HF → GGUF Q/K row permutation".
 */
final class QkPermutation {
    private QkPermutation() {
    }

    /** The HF row that GGUF row {@code ggufRow} comes from. */
    static long hfRowOf(long ggufRow, int headDim) {
        long head = ggufRow / headDim;
        long k = ggufRow % headDim;
        return head * headDim + (k % 2) * (headDim / 2) + k / 2;
    }

    /** The GGUF row that HF row {@code hfRow} goes to (the inverse of {@link #hfRowOf}). */
    static long ggufRowOf(long hfRow, int headDim) {
        long head = hfRow / headDim;
        long k = hfRow % headDim;
        int half = headDim / 2;
        return head * headDim + 2 * (k % half) + k / half;
    }
}
