/* calib.h - the hooks through which the llama/qwen2 forward pass (context.c) feeds calibration statistics
 * (calib.c). Called on the evaluating thread, only while a calibration is attached to the context. */
#ifndef MLA4J_CALIB_H
#define MLA4J_CALIB_H

#include "internal.h"

/* Adds the attention inputs of layer il (n_tok rows of n_embd floats, c->xn after the attn RMSNorm). */
void calib_add_inputs(mla4j_calib *calib, int il, const float *x, int64_t n_tok);
/* Adds the pair norms of layer il's queries and keys (biases added, before RoPE). */
void calib_add_pairs(mla4j_calib *calib, int il, const float *q, const float *k, int64_t n_tok);
/* Ends an eval: on success its n_tokens are counted; on failure after anything was added the statistics are
 * marked incomplete (getters refuse them until reset). */
void calib_end_eval(mla4j_calib *calib, int ok, int64_t n_tokens);
/* mla4j_context_free: the context goes away, the calibration stays (detached). */
void calib_detach(mla4j_calib *calib);

#endif
