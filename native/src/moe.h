/* moe.h - the Mixture-of-Experts FFN of deepseek2 (moe.c) and its plain reference (moe_ref.c).
 *
 * The FFN takes a batch of token rows (any tokens: one session's prompt, one decode step, or rows of many
 * sequences batched together) and never allocates: a moe_state sized for the largest batch holds every buffer.
 * Per batch: the router's logits for all rows (one matrix product), the routing per row (moe_route), then the
 * rows grouped by expert (a counting sort) so that each chosen expert runs once as a matrix-matrix product over
 * its rows (decode: one row per chosen expert, reading only those experts' weights), the shared experts over all
 * rows, and the weighted sum per row in llama.cpp's order. Work is split over the pool's threads by (expert,
 * block of output rows) from one shared counter. */
#ifndef MLA4J_MOE_H
#define MLA4J_MOE_H

#include "model.h"
#include "threadpool.h"

typedef struct moe_state {
    int64_t n_batch;
    float *logits;      /* n_batch x n_expert router logits */
    int32_t *ids;       /* n_batch x k chosen experts, best first */
    float *weights;     /* n_batch x k their weights */
    int32_t *count;     /* n_expert + 1: rows per expert, then offsets */
    int32_t *row_tok;   /* n_batch x k: the token of each expert-sorted row */
    int32_t *row_of;    /* n_batch x k: the expert-sorted row of (token, slot) */
    void *act_r;        /* router activations */
    void *act_g, *act_u, *act_d;    /* converted inputs of the routed experts' gate, up (if its form differs), down */
    void *act_gs, *act_us, *act_ds; /* the same for the shared experts */
    float *g, *u, *d;   /* routed rows: gate (then the SwiGLU), up, down outputs */
    float *gs, *us, *ds;/* shared rows */
    struct moe_job *jobs; /* n_expert + 1 */
    float *route_scratch; /* 2 x n_expert + n_group floats for the routing of one row */
    float *out;         /* n_batch x n_embd: the FFN's output for the caller */
} moe_state;

/* Allocates the buffers for batches of up to n_batch rows of this model's MoE layers (all their weight types). */
mla4j_status moe_state_init(moe_state *s, const mla4j_model *m, int64_t n_batch);
void moe_state_free(moe_state *s);

/* out (n_tok x n_embd) = routed experts + shared experts of layer il applied to x (n_tok x n_embd, the FFN-normed
 * rows); the residual is not added. n_tok <= the state's n_batch. */
void moe_ffn(moe_state *s, mla4j_pool *pool, int simd, const mla4j_model *m, int il, const float *x, int64_t n_tok,
             float *out);

/* The routing of one row, llama.cpp's build_moe_ffn: probabilities by the gating function (softmax or sigmoid),
 * selection scores = probabilities + bias (the bias only chooses), group-limited choice (the n_group_used groups
 * with the largest sum of their two best scores), the k best experts (ids, best first) and their weights (the
 * unbiased probabilities, normalised when norm_w, scaled by w_scale unless it is 0 or 1). scratch: 2 x n_expert +
 * n_group floats. */
void moe_route(const moe_hparams *hp, const float *logits, const float *bias, int32_t *ids, float *weights, float *scratch);

/* moe_ref.c: the same FFN as a plain loop over each row's chosen experts (rows dequantized to floats, dots in
 * double, its own routing), for the tests. */
mla4j_status moe_ffn_ref(const mla4j_model *m, int il, const float *x, int64_t n_tok, float *out);

#endif
