/* model.h - a loaded llama-family model: hyperparameters and views of its weights in the mapped file. */
#ifndef MLA4J_MODEL_H
#define MLA4J_MODEL_H

#include "gguf.h"
#include "kernels.h"

typedef struct layer_weights {
    const float *attn_norm;
    kern_matrix wq, wk, wv, wo;
    const float *bq, *bk, *bv; /* qwen2 biases, NULL when absent */
    const float *ffn_norm;
    kern_matrix w_gate, w_up, w_down;
} layer_weights;

struct mla4j_model {
    mla4j_gguf *gguf;
    mla4j_hparams hp;
    kern_matrix tok_embd;
    const float *output_norm;
    kern_matrix output;
    const float *rope_freqs; /* optional per-frequency divisors (llama3 scaling), n_rot/2 values */
    layer_weights *layers;
};

/* Builds a model on an opened GGUF file, taking ownership of it (freed on failure too). mla4j_model_load is
 * mla4j_gguf_open + this; the fuzz harnesses use it on in-memory images. */
mla4j_status mla4j_model_from_gguf(mla4j_gguf *g, mla4j_model **out);

#endif
