/* calib.c - calibration statistics of the attention inputs, accumulated by the forward pass of an attached context
 * (see mla4j.h). The converter derives from them, for any linear map W x + b of the attention input, the exact
 * E[(W x + b)(W x + b)^T] (the moment holds the sums of x too), and MHA2MLA's S_2-norm scores of the RoPE
 * frequencies (the pair norms). Sums are kept in double: a calibration set has ~10^5..10^6 tokens. */
#include "calib.h"

#include "context.h"
#include "linalg.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct mla4j_calib {
    const mla4j_model *model; /* identity only (set_calib): everything else reads the copy below */
    mla4j_hparams hp;         /* the model's, copied: a calibration may outlive its model */
    mla4j_context *ctx;     /* the context it is attached to, or NULL */
    const linalg_fns *blas;
    int64_t e1;             /* n_embd + 1 */
    int64_t n_pairs;        /* n_rot / 2 */
    double *moment;         /* per layer e1 x e1, column-major upper triangle (what dsyrk 'U' updates) */
    double *q_pairs;        /* per layer n_head x n_pairs */
    double *k_pairs;        /* per layer n_head_kv x n_pairs */
    double *batch;          /* batch_cap x e1: one batch's inputs in double, each row ending in 1 */
    int64_t batch_cap;
    int64_t tokens;         /* tokens of completed evals */
    float *kept;            /* per layer kept_cap x n_embd: the first kept_cap inputs (mla4j_calib_keep_inputs) */
    int64_t kept_cap;
    int64_t kept_n;         /* rows kept by completed evals */
    int64_t *kept_layer_n;  /* rows kept per layer, including the eval in progress */
    int pending;            /* something was added by the eval in progress */
    int incomplete;         /* an eval failed after adding: statistics unusable until reset */
};

MLA4J_API mla4j_status mla4j_calib_create(const mla4j_model *model, mla4j_calib **out) {
    MLA4J_CHECK_ARG(model != NULL && out != NULL, "mla4j_calib_create: model and out must not be NULL");
    const mla4j_hparams *hp = &model->hp;
    /* MLA models (a converted model, measured again by the converter's refit) get the moments; their pair norms stay 0. */
    const linalg_fns *blas = linalg_load();
    if (blas == NULL) return MLA4J_ERR_UNSUPPORTED;
    const int64_t e1 = (int64_t)hp->n_embd + 1, n_pairs = hp->n_rot / 2;
    uint64_t per_layer, moment_bytes, pair_bytes;
    if (!mla4j_mul_u64((uint64_t)e1, (uint64_t)e1 * sizeof(double), &per_layer) ||
        !mla4j_mul_u64(per_layer, (uint64_t)hp->n_layer, &moment_bytes) || moment_bytes > SIZE_MAX / 2 ||
        !mla4j_mul_u64((uint64_t)hp->n_layer * (uint64_t)(hp->n_head + hp->n_head_kv), (uint64_t)n_pairs * sizeof(double),
                       &pair_bytes)) {
        return mla4j_fail(MLA4J_ERR_OUT_OF_MEMORY, "calibration statistics of %d layers of %d values are too large",
                          hp->n_layer, hp->n_embd);
    }
    uint64_t phys = mla4j_physical_memory();
    if (phys > 0 && moment_bytes > phys) {
        return mla4j_fail(MLA4J_ERR_OUT_OF_MEMORY, "calibration statistics of %d layers need %llu bytes (%d x %lld x %lld "
                          "doubles), more than this machine's %llu bytes of memory", hp->n_layer,
                          (unsigned long long)moment_bytes, hp->n_layer, (long long)e1, (long long)e1,
                          (unsigned long long)phys);
    }
    mla4j_calib *c = calloc(1, sizeof *c);
    if (c == NULL) return mla4j_fail(MLA4J_ERR_OUT_OF_MEMORY, "out of memory creating calibration statistics");
    c->model = model;
    c->hp = *hp;
    c->blas = blas;
    c->e1 = e1;
    c->n_pairs = n_pairs;
    const size_t q_len = (size_t)hp->n_layer * (size_t)hp->n_head * (size_t)n_pairs;
    const size_t k_len = (size_t)hp->n_layer * (size_t)hp->n_head_kv * (size_t)n_pairs;
    c->moment = calloc((size_t)moment_bytes / sizeof(double), sizeof(double));
    c->q_pairs = calloc(q_len + 1, sizeof(double));
    c->k_pairs = calloc(k_len + 1, sizeof(double));
    if (c->moment == NULL || c->q_pairs == NULL || c->k_pairs == NULL) {
        mla4j_calib_free(c);
        return mla4j_fail(MLA4J_ERR_OUT_OF_MEMORY, "out of memory allocating %llu bytes of calibration statistics",
                          (unsigned long long)(moment_bytes + pair_bytes));
    }
    *out = c;
    mla4j_clear_error();
    return MLA4J_OK;
}

MLA4J_API void mla4j_calib_free(mla4j_calib *c) {
    if (c == NULL) return;
    if (c->ctx != NULL) c->ctx->calib = NULL;
    free(c->moment);
    free(c->q_pairs);
    free(c->k_pairs);
    free(c->batch);
    free(c->kept);
    free(c->kept_layer_n);
    free(c);
}

void calib_detach(mla4j_calib *c) { c->ctx = NULL; }

MLA4J_API mla4j_status mla4j_context_set_calib(mla4j_context *ctx, mla4j_calib *c) {
    MLA4J_CHECK_ARG(ctx != NULL, "mla4j_context_set_calib: context must not be NULL");
    if (c != NULL) {
        MLA4J_CHECK_ARG(c->model == ctx->model, "mla4j_context_set_calib: the calibration belongs to another model");
        if (c->ctx != NULL && c->ctx != ctx) {
            return mla4j_fail(MLA4J_ERR_STATE, "mla4j_context_set_calib: the calibration is attached to another context");
        }
        const int64_t n_batch = ctx->params.n_batch;
        if (c->batch_cap < n_batch) {
            double *b = mla4j_alloc((size_t)n_batch * (size_t)c->e1 * sizeof(double), "a calibration batch");
            if (b == NULL) return MLA4J_ERR_OUT_OF_MEMORY;
            free(c->batch);
            c->batch = b;
            c->batch_cap = n_batch;
        }
    }
    if (ctx->calib != NULL && ctx->calib != c) ctx->calib->ctx = NULL;
    ctx->calib = c;
    if (c != NULL) c->ctx = ctx;
    mla4j_clear_error();
    return MLA4J_OK;
}

MLA4J_API mla4j_status mla4j_calib_reset(mla4j_calib *c) {
    MLA4J_CHECK_ARG(c != NULL, "mla4j_calib_reset: calibration must not be NULL");
    const mla4j_hparams *hp = &c->hp;
    memset(c->moment, 0, (size_t)hp->n_layer * (size_t)c->e1 * (size_t)c->e1 * sizeof(double));
    memset(c->q_pairs, 0, (size_t)hp->n_layer * (size_t)hp->n_head * (size_t)c->n_pairs * sizeof(double));
    memset(c->k_pairs, 0, (size_t)hp->n_layer * (size_t)hp->n_head_kv * (size_t)c->n_pairs * sizeof(double));
    c->tokens = 0;
    c->kept_n = 0;
    if (c->kept_layer_n != NULL) memset(c->kept_layer_n, 0, (size_t)hp->n_layer * sizeof(int64_t));
    c->pending = 0;
    c->incomplete = 0;
    mla4j_clear_error();
    return MLA4J_OK;
}

/* ---- the hooks of the forward pass ---- */

void calib_add_inputs(mla4j_calib *c, int il, const float *x, int64_t n_tok) {
    const int64_t e1 = c->e1, E = e1 - 1;
    if (c->kept != NULL) {
        const int64_t room = c->kept_cap - c->kept_layer_n[il], n = n_tok < room ? n_tok : room;
        float *dst = c->kept + ((size_t)il * (size_t)c->kept_cap + (size_t)c->kept_layer_n[il]) * (size_t)E;
        if (n > 0) {
            memcpy(dst, x, (size_t)n * (size_t)E * sizeof(float));
            c->kept_layer_n[il] += n;
        }
    }
    for (int64_t t = 0; t < n_tok; t++) {
        double *row = c->batch + t * e1;
        for (int64_t i = 0; i < E; i++) row[i] = x[t * E + i];
        row[E] = 1.0;
    }
    /* The batch rows are the columns of a column-major e1 x n_tok matrix B: the moment gets B B^T. */
    const f_int n = (f_int)e1, k = (f_int)n_tok, ld = (f_int)e1;
    const double one = 1.0;
    c->blas->dsyrk("U", "N", &n, &k, &one, c->batch, &ld, &one, c->moment + (size_t)il * (size_t)e1 * (size_t)e1, &ld, 1, 1);
    c->pending = 1;
}

/* sums[h][i] += |(head h's pair i)| over n_tok tokens of n_heads heads of dk values. */
static void add_pair_norms(double *sums, const float *v, int64_t n_tok, int64_t n_heads, int64_t dk, int64_t n_pairs,
                           int neox) {
    for (int64_t t = 0; t < n_tok; t++) {
        for (int64_t h = 0; h < n_heads; h++) {
            const float *head = v + (t * n_heads + h) * dk;
            double *s = sums + h * n_pairs;
            for (int64_t i = 0; i < n_pairs; i++) {
                const double a = head[neox ? i : 2 * i], b = head[neox ? i + n_pairs : 2 * i + 1];
                s[i] += sqrt(a * a + b * b);
            }
        }
    }
}

void calib_add_pairs(mla4j_calib *c, int il, const float *q, const float *k, int64_t n_tok) {
    const mla4j_hparams *hp = &c->ctx->model->hp; /* pairs as the forward pass rotates them (c->hp has the sizes) */
    const int neox = hp->rope_type == MLA4J_ROPE_NEOX;
    add_pair_norms(c->q_pairs + (size_t)il * (size_t)hp->n_head * (size_t)c->n_pairs, q, n_tok, hp->n_head,
                   hp->head_dim_k, c->n_pairs, neox);
    add_pair_norms(c->k_pairs + (size_t)il * (size_t)hp->n_head_kv * (size_t)c->n_pairs, k, n_tok, hp->n_head_kv,
                   hp->head_dim_k, c->n_pairs, neox);
    c->pending = 1;
}

void calib_end_eval(mla4j_calib *c, int ok, int64_t n_tokens) {
    if (ok) {
        c->tokens += n_tokens;
        if (c->kept_layer_n != NULL) c->kept_n = c->kept_layer_n[0]; /* every layer kept the same rows */
    } else if (c->pending) {
        c->incomplete = 1;
    }
    c->pending = 0;
}

/* ---- getters ---- */

static mla4j_status check_readable(const mla4j_calib *c, int32_t layer, const char *fn) {
    MLA4J_CHECK_ARG(c != NULL, "%s: calibration must not be NULL", fn);
    MLA4J_CHECK_ARG(layer >= 0 && layer < c->hp.n_layer, "%s: layer %d out of range [0, %d)", fn, layer, c->hp.n_layer);
    if (c->incomplete) {
        return mla4j_fail(MLA4J_ERR_STATE, "%s: the statistics are incomplete (an evaluation was cancelled after it "
                          "had added part of its tokens); reset them and evaluate again", fn);
    }
    return MLA4J_OK;
}

MLA4J_API mla4j_status mla4j_calib_get_token_count(const mla4j_calib *c, int64_t *out) {
    MLA4J_CHECK_ARG(out != NULL, "mla4j_calib_get_token_count: out must not be NULL");
    mla4j_status st = check_readable(c, 0, "mla4j_calib_get_token_count");
    if (st != MLA4J_OK) return st;
    *out = c->tokens;
    mla4j_clear_error();
    return MLA4J_OK;
}

MLA4J_API mla4j_status mla4j_calib_get_moment(const mla4j_calib *c, int32_t layer, double *out) {
    MLA4J_CHECK_ARG(out != NULL, "mla4j_calib_get_moment: out must not be NULL");
    mla4j_status st = check_readable(c, layer, "mla4j_calib_get_moment");
    if (st != MLA4J_OK) return st;
    const int64_t e1 = c->e1;
    const double *m = c->moment + (size_t)layer * (size_t)e1 * (size_t)e1;
    /* Column-major upper triangle: element (i, j), i <= j, at m[j * e1 + i]. */
    for (int64_t r = 0; r < e1; r++)
        for (int64_t col = 0; col < e1; col++) out[r * e1 + col] = r <= col ? m[col * e1 + r] : m[r * e1 + col];
    mla4j_clear_error();
    return MLA4J_OK;
}

MLA4J_API mla4j_status mla4j_calib_get_pair_norms(const mla4j_calib *c, int32_t layer, double *q, double *k) {
    MLA4J_CHECK_ARG(q != NULL && k != NULL, "mla4j_calib_get_pair_norms: q and k must not be NULL");
    mla4j_status st = check_readable(c, layer, "mla4j_calib_get_pair_norms");
    if (st != MLA4J_OK) return st;
    const mla4j_hparams *hp = &c->hp;
    const size_t nq = (size_t)hp->n_head * (size_t)c->n_pairs, nk = (size_t)hp->n_head_kv * (size_t)c->n_pairs;
    memcpy(q, c->q_pairs + (size_t)layer * nq, nq * sizeof(double));
    memcpy(k, c->k_pairs + (size_t)layer * nk, nk * sizeof(double));
    mla4j_clear_error();
    return MLA4J_OK;
}

MLA4J_API mla4j_status mla4j_calib_keep_inputs(mla4j_calib *c, int64_t max_tokens) {
    MLA4J_CHECK_ARG(c != NULL, "mla4j_calib_keep_inputs: calibration must not be NULL");
    MLA4J_CHECK_ARG(max_tokens >= 0, "mla4j_calib_keep_inputs: max_tokens %lld is negative", (long long)max_tokens);
    const mla4j_hparams *hp = &c->hp;
    free(c->kept);
    free(c->kept_layer_n);
    c->kept = NULL;
    c->kept_layer_n = NULL;
    c->kept_cap = c->kept_n = 0;
    if (max_tokens == 0) {
        mla4j_clear_error();
        return MLA4J_OK;
    }
    uint64_t per_layer, bytes;
    const uint64_t phys = mla4j_physical_memory();
    if (!mla4j_mul_u64((uint64_t)max_tokens, (uint64_t)hp->n_embd * sizeof(float), &per_layer) ||
        !mla4j_mul_u64(per_layer, (uint64_t)hp->n_layer, &bytes) || bytes > SIZE_MAX / 2 || (phys > 0 && bytes > phys)) {
        return mla4j_fail(MLA4J_ERR_OUT_OF_MEMORY, "mla4j_calib_keep_inputs: %lld tokens of %d layers x %d values are "
                          "more than this machine's memory", (long long)max_tokens, hp->n_layer, hp->n_embd);
    }
    c->kept = mla4j_alloc((size_t)bytes, "kept calibration inputs");
    c->kept_layer_n = calloc((size_t)hp->n_layer, sizeof(int64_t));
    if (c->kept == NULL || c->kept_layer_n == NULL) {
        free(c->kept);
        free(c->kept_layer_n);
        c->kept = NULL;
        c->kept_layer_n = NULL;
        return mla4j_fail(MLA4J_ERR_OUT_OF_MEMORY, "out of memory keeping %llu bytes of calibration inputs",
                          (unsigned long long)bytes);
    }
    c->kept_cap = max_tokens;
    mla4j_clear_error();
    return MLA4J_OK;
}

MLA4J_API mla4j_status mla4j_calib_get_kept_count(const mla4j_calib *c, int64_t *out) {
    MLA4J_CHECK_ARG(out != NULL, "mla4j_calib_get_kept_count: out must not be NULL");
    mla4j_status st = check_readable(c, 0, "mla4j_calib_get_kept_count");
    if (st != MLA4J_OK) return st;
    *out = c->kept_n;
    mla4j_clear_error();
    return MLA4J_OK;
}

MLA4J_API mla4j_status mla4j_calib_get_kept_inputs(const mla4j_calib *c, int32_t layer, float *out) {
    MLA4J_CHECK_ARG(out != NULL, "mla4j_calib_get_kept_inputs: out must not be NULL");
    mla4j_status st = check_readable(c, layer, "mla4j_calib_get_kept_inputs");
    if (st != MLA4J_OK) return st;
    const size_t E = (size_t)c->hp.n_embd;
    if (c->kept_n > 0) memcpy(out, c->kept + (size_t)layer * (size_t)c->kept_cap * E, (size_t)c->kept_n * E * sizeof(float));
    mla4j_clear_error();
    return MLA4J_OK;
}
