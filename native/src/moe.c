/* moe.c - the deepseek2 Mixture-of-Experts FFN over a batch of token rows (see moe.h for the plan). */
#include "moe.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* Output rows of one weight matrix handed to a thread at a time (a multiple of the kernels' 16-row tiles). */
#define MOE_CHUNK_ROWS 64

/* One expert (or the shared experts) applied to a contiguous block of rows. */
typedef struct moe_job {
    kern_matrix gate, up, down;
    const void *act_g, *act_u; /* converted inputs of gate and up (the same when both take one form) */
    uint8_t *act_d;            /* converted SwiGLU outputs, the input of down */
    float *g, *u, *d;          /* outputs, row-major, n_rows x F (g, u) and n_rows x E (d) */
    int64_t n_rows, F;
    int64_t chunks_gu, chunks_d; /* chunk counts of this job in the two product phases */
} moe_job;

/* ---- routing ------------------------------------------------------------------------------------------------- */

/* Index of the largest of v[0..n) not yet taken (ties: the lowest index). */
static int64_t arg_best(const float *v, const uint8_t *taken, int64_t n) {
    int64_t best = -1;
    for (int64_t i = 0; i < n; i++) {
        if (taken != NULL && taken[i]) continue;
        if (best < 0 || v[i] > v[best]) best = i;
    }
    return best;
}

void moe_route(const moe_hparams *hp, const float *logits, const float *bias, int32_t *ids, float *weights, float *scratch) {
    const int64_t X = hp->n_expert, k = hp->n_expert_used;
    float *probs = scratch, *sel = scratch + X, *gscore = scratch + 2 * X;
    if (hp->gating == MOE_GATING_SIGMOID) {
        for (int64_t i = 0; i < X; i++) probs[i] = 1.0f / (1.0f + expf(-logits[i]));
    } else { /* ggml_soft_max: max, e^(x - max) summed in double, scaled by the float of 1/sum */
        float max = -INFINITY;
        for (int64_t i = 0; i < X; i++) max = logits[i] > max ? logits[i] : max;
        double sum = 0.0;
        for (int64_t i = 0; i < X; i++) {
            probs[i] = expf(logits[i] - max);
            sum += (double)probs[i];
        }
        const float inv = (float)(1.0 / sum);
        for (int64_t i = 0; i < X; i++) probs[i] *= inv;
    }
    for (int64_t i = 0; i < X; i++) sel[i] = bias != NULL ? probs[i] + bias[i] : probs[i];
    if (hp->n_group > 1) {
        const int64_t G = hp->n_group, per = X / G;
        for (int64_t gi = 0; gi < G; gi++) { /* the sum of the group's two best selection scores */
            const float *v = sel + gi * per;
            int64_t b0 = arg_best(v, NULL, per), b1 = -1;
            for (int64_t i = 0; i < per; i++)
                if (i != b0 && (b1 < 0 || v[i] > v[b1])) b1 = i;
            gscore[gi] = v[b0] + (b1 >= 0 ? v[b1] : 0.0f);
        }
        uint8_t keep[MOE_MAX_EXPERTS];
        memset(keep, 0, (size_t)G);
        for (int32_t n = 0; n < hp->n_group_used; n++) {
            int64_t best = -1;
            for (int64_t gi = 0; gi < G; gi++)
                if (!keep[gi] && (best < 0 || gscore[gi] > gscore[best])) best = gi;
            keep[best] = 1;
        }
        for (int64_t gi = 0; gi < G; gi++)
            if (!keep[gi])
                for (int64_t i = 0; i < per; i++) sel[gi * per + i] = -INFINITY;
    }
    uint8_t taken[MOE_MAX_EXPERTS];
    memset(taken, 0, (size_t)X);
    double wsum = 0.0;
    for (int64_t j = 0; j < k; j++) {
        int64_t e = arg_best(sel, taken, X);
        taken[e] = 1;
        ids[j] = (int32_t)e;
        weights[j] = probs[e];
        wsum += (double)probs[e];
    }
    if (hp->norm_w) {
        float s = (float)wsum;
        if (s < 6.103515625e-5f) s = 6.103515625e-5f; /* llama.cpp's clamp (the smallest normal f16) */
        for (int64_t j = 0; j < k; j++) weights[j] /= s;
    }
    if (hp->w_scale != 0.0f && hp->w_scale != 1.0f)
        for (int64_t j = 0; j < k; j++) weights[j] *= hp->w_scale;
}

/* ---- state ---------------------------------------------------------------------------------------------------- */

static size_t max_sz(size_t a, size_t b) { return a > b ? a : b; }

mla4j_status moe_state_init(moe_state *s, const mla4j_model *m, int64_t n_batch) {
    memset(s, 0, sizeof *s);
    const moe_hparams *mh = &m->moe_hp;
    const int64_t X = mh->n_expert, k = mh->n_expert_used, E = m->hp.n_embd, F = mh->n_ff_exp;
    const int64_t FS = (int64_t)mh->n_ff_exp * mh->n_expert_shared, R = n_batch * k;
    size_t a_r = 0, a_g = 0, a_u = 0, a_d = 0, a_gs = 0, a_us = 0, a_ds = 0;
    for (int il = mh->n_dense_lead; il < m->hp.n_layer; il++) {
        const moe_weights *w = &m->moe[il];
        a_r = max_sz(a_r, kern_act_size(w->gate_inp.type, E, n_batch));
        a_g = max_sz(a_g, kern_act_size(w->gate_exps.type, E, R));
        if (w->up_exps.type != w->gate_exps.type) a_u = max_sz(a_u, kern_act_size(w->up_exps.type, E, R));
        a_d = max_sz(a_d, kern_act_size(w->down_exps.type, F, R));
        if (FS > 0) {
            a_gs = max_sz(a_gs, kern_act_size(w->gate_shexp.type, E, n_batch));
            if (w->up_shexp.type != w->gate_shexp.type) a_us = max_sz(a_us, kern_act_size(w->up_shexp.type, E, n_batch));
            a_ds = max_sz(a_ds, kern_act_size(w->down_shexp.type, FS, n_batch));
        }
    }
    s->n_batch = n_batch;
    mla4j_status st = MLA4J_OK;
#define ALLOC(field, bytes, what)                                                                                     \
    if (st == MLA4J_OK && (bytes) > 0 && (s->field = mla4j_alloc_aligned((size_t)(bytes), what)) == NULL)             \
    st = MLA4J_ERR_OUT_OF_MEMORY
    ALLOC(logits, n_batch * X * 4, "router logits");
    ALLOC(ids, R * 4, "expert choices");
    ALLOC(weights, R * 4, "expert weights");
    ALLOC(count, (X + 1) * 4, "expert counts");
    ALLOC(row_tok, R * 4, "expert rows");
    ALLOC(row_of, R * 4, "expert rows");
    ALLOC(act_r, a_r, "router activations");
    ALLOC(act_g, a_g, "expert activations");
    ALLOC(act_u, a_u, "expert activations");
    ALLOC(act_d, a_d, "expert activations");
    ALLOC(act_gs, a_gs, "shared expert activations");
    ALLOC(act_us, a_us, "shared expert activations");
    ALLOC(act_ds, a_ds, "shared expert activations");
    ALLOC(g, R * F * 4, "expert activations");
    ALLOC(u, R * F * 4, "expert activations");
    ALLOC(d, R * E * 4, "expert outputs");
    ALLOC(gs, n_batch * FS * 4, "shared expert activations");
    ALLOC(us, n_batch * FS * 4, "shared expert activations");
    ALLOC(ds, n_batch * E * 4, "shared expert outputs");
    ALLOC(jobs, (X + 1) * (int64_t)sizeof(moe_job), "expert jobs");
    ALLOC(route_scratch, (2 * X + mh->n_group + 1) * 4, "routing scratch");
    ALLOC(out, n_batch * E * 4, "expert outputs");
#undef ALLOC
    if (st != MLA4J_OK) moe_state_free(s);
    return st;
}

void moe_state_free(moe_state *s) {
    void *bufs[] = {s->logits, s->ids, s->weights, s->count, s->row_tok, s->row_of, s->act_r, s->act_g, s->act_u,
                    s->act_d, s->act_gs, s->act_us, s->act_ds, s->g, s->u, s->d, s->gs, s->us, s->ds, s->jobs,
                    s->route_scratch, s->out};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) free(bufs[i]);
    memset(s, 0, sizeof *s);
}

/* ---- the parallel phases ------------------------------------------------------------------------------------------ */

typedef struct moe_task {
    moe_state *s;
    const mla4j_model *m;
    const moe_weights *w;
    const float *x;
    float *out;
    int64_t n_tok, n_routed_rows;
    int n_jobs;
    int simd;
    int convert_u, convert_us; /* up takes another converted form than gate */
    _Atomic int64_t next;
} moe_task;

/* Phase 1: the routed experts' inputs converted per expert-sorted row (the shared experts' per token). */
static void convert_task(void *arg, int ith, int nth) {
    moe_task *t = arg;
    moe_state *s = t->s;
    const moe_weights *w = t->w;
    const int64_t E = t->m->hp.n_embd, total = t->n_routed_rows + (w->gate_shexp.data != NULL ? t->n_tok : 0);
    const size_t sg = kern_act_size(w->gate_exps.type, E, 1), su = kern_act_size(w->up_exps.type, E, 1);
    const size_t sgs = w->gate_shexp.data ? kern_act_size(w->gate_shexp.type, E, 1) : 0;
    const size_t sus = w->gate_shexp.data ? kern_act_size(w->up_shexp.type, E, 1) : 0;
    const int64_t r0 = total * ith / nth, r1 = total * (ith + 1) / nth;
    for (int64_t r = r0; r < r1; r++) {
        if (r < t->n_routed_rows) {
            const float *xr = t->x + (int64_t)s->row_tok[r] * E;
            kern_act_convert(w->gate_exps.type, xr, E, 0, 1, (uint8_t *)s->act_g + (size_t)r * sg);
            if (t->convert_u) kern_act_convert(w->up_exps.type, xr, E, 0, 1, (uint8_t *)s->act_u + (size_t)r * su);
        } else {
            const int64_t tok = r - t->n_routed_rows;
            const float *xr = t->x + tok * E;
            kern_act_convert(w->gate_shexp.type, xr, E, 0, 1, (uint8_t *)s->act_gs + (size_t)tok * sgs);
            if (t->convert_us) kern_act_convert(w->up_shexp.type, xr, E, 0, 1, (uint8_t *)s->act_us + (size_t)tok * sus);
        }
    }
}

/* Phase 2: gate and up products of every job, in chunks of output rows from one counter. */
static void gate_up_task(void *arg, int ith, int nth) {
    moe_task *t = arg;
    const moe_job *jobs = t->s->jobs;
    for (;;) {
        int64_t c = atomic_fetch_add_explicit(&t->next, 1, memory_order_relaxed);
        int j = 0;
        while (j < t->n_jobs && c >= jobs[j].chunks_gu) c -= jobs[j++].chunks_gu;
        if (j == t->n_jobs) return;
        const moe_job *jb = &jobs[j];
        const int64_t per = jb->chunks_gu / 2;
        const int is_up = c >= per;
        const int64_t r0 = (is_up ? c - per : c) * MOE_CHUNK_ROWS;
        const int64_t r1 = r0 + MOE_CHUNK_ROWS < jb->F ? r0 + MOE_CHUNK_ROWS : jb->F;
        if (is_up) kern_matmul(t->simd, &jb->up, jb->act_u, jb->n_rows, jb->u, jb->F, r0, r1);
        else kern_matmul(t->simd, &jb->gate, jb->act_g, jb->n_rows, jb->g, jb->F, r0, r1);
    }
}

/* Phase 3: SwiGLU of every row, converted for the down product. */
static void swiglu_task(void *arg, int ith, int nth) {
    moe_task *t = arg;
    const moe_job *jobs = t->s->jobs;
    int64_t total = 0;
    for (int j = 0; j < t->n_jobs; j++) total += jobs[j].n_rows;
    const int64_t r0 = total * ith / nth, r1 = total * (ith + 1) / nth;
    int64_t base = 0;
    for (int j = 0; j < t->n_jobs; j++) {
        const moe_job *jb = &jobs[j];
        const int64_t a = r0 > base ? r0 - base : 0, b = r1 - base < jb->n_rows ? r1 - base : jb->n_rows;
        const size_t sd = kern_act_size(jb->down.type, jb->F, 1);
        for (int64_t r = a; r < b; r++) {
            float *g = jb->g + r * jb->F;
            const float *u = jb->u + r * jb->F;
            for (int64_t i = 0; i < jb->F; i++) g[i] = silu(g[i]) * u[i];
            kern_act_convert(jb->down.type, g, jb->F, 0, 1, jb->act_d + (size_t)r * sd);
        }
        base += jb->n_rows;
    }
}

/* Phase 4: down products. */
static void down_task(void *arg, int ith, int nth) {
    moe_task *t = arg;
    const moe_job *jobs = t->s->jobs;
    const int64_t E = t->m->hp.n_embd;
    for (;;) {
        int64_t c = atomic_fetch_add_explicit(&t->next, 1, memory_order_relaxed);
        int j = 0;
        while (j < t->n_jobs && c >= jobs[j].chunks_d) c -= jobs[j++].chunks_d;
        if (j == t->n_jobs) return;
        const moe_job *jb = &jobs[j];
        const int64_t r0 = c * MOE_CHUNK_ROWS, r1 = r0 + MOE_CHUNK_ROWS < E ? r0 + MOE_CHUNK_ROWS : E;
        kern_matmul(t->simd, &jb->down, jb->act_d, jb->n_rows, jb->d, E, r0, r1);
    }
}

/* Phase 5: per token, the weighted sum of its experts in slot order (llama.cpp adds expert 0, 1, ... then the
 * shared experts). */
static void combine_task(void *arg, int ith, int nth) {
    moe_task *t = arg;
    moe_state *s = t->s;
    const int64_t E = t->m->hp.n_embd, k = t->m->moe_hp.n_expert_used;
    const int64_t t0 = t->n_tok * ith / nth, t1 = t->n_tok * (ith + 1) / nth;
    for (int64_t tok = t0; tok < t1; tok++) {
        float *o = t->out + tok * E;
        for (int64_t j = 0; j < k; j++) {
            const float wj = s->weights[tok * k + j];
            const float *dr = s->d + (int64_t)s->row_of[tok * k + j] * E;
            if (j == 0) {
                for (int64_t i = 0; i < E; i++) o[i] = dr[i] * wj;
            } else {
                for (int64_t i = 0; i < E; i++) o[i] += dr[i] * wj;
            }
        }
        if (t->w->gate_shexp.data != NULL) {
            const float *sr = s->ds + tok * E;
            for (int64_t i = 0; i < E; i++) o[i] += sr[i];
        }
    }
}

static int64_t chunks(int64_t rows) { return (rows + MOE_CHUNK_ROWS - 1) / MOE_CHUNK_ROWS; }

void moe_ffn(moe_state *s, mla4j_pool *pool, int simd, const mla4j_model *m, int il, const float *x, int64_t n_tok,
             float *out) {
    const moe_hparams *mh = &m->moe_hp;
    const moe_weights *w = &m->moe[il];
    const int64_t X = mh->n_expert, k = mh->n_expert_used, E = m->hp.n_embd, F = mh->n_ff_exp;
    simd = kern_resolve_simd(simd);

    /* Router logits and the choice per row. */
    mla4j_matmul(pool, simd, &w->gate_inp, x, n_tok, s->logits, s->act_r);
    for (int64_t t = 0; t < n_tok; t++)
        moe_route(mh, s->logits + t * X, w->exp_probs_b, s->ids + t * k, s->weights + t * k, s->route_scratch);

    /* Group the rows by expert: counting sort, tokens in order within an expert. */
    int32_t *cnt = s->count;
    memset(cnt, 0, (size_t)(X + 1) * sizeof *cnt);
    for (int64_t r = 0; r < n_tok * k; r++) cnt[s->ids[r] + 1]++;
    for (int64_t e = 0; e < X; e++) cnt[e + 1] += cnt[e]; /* cnt[e] = first row of expert e */
    for (int64_t r = 0; r < n_tok * k; r++) {
        const int32_t e = s->ids[r];
        s->row_of[r] = cnt[e];
        s->row_tok[cnt[e]] = (int32_t)(r / k);
        cnt[e]++;
    }
    /* cnt[e] is now the end of expert e's rows (= start of e + 1). */

    moe_task task = {.s = s, .m = m, .w = w, .x = x, .out = out, .n_tok = n_tok, .n_routed_rows = n_tok * k, .simd = simd};
    task.convert_u = w->up_exps.type != w->gate_exps.type;
    task.convert_us = w->gate_shexp.data != NULL && w->up_shexp.type != w->gate_shexp.type;
    const size_t sg = kern_act_size(w->gate_exps.type, E, 1), su = kern_act_size(w->up_exps.type, E, 1);
    const size_t sd = kern_act_size(w->down_exps.type, F, 1);
    const uint8_t *act_u = task.convert_u ? s->act_u : s->act_g;
    moe_job *jobs = s->jobs;
    int nj = 0;
    for (int64_t e = 0; e < X; e++) {
        const int64_t first = e == 0 ? 0 : cnt[e - 1], n = cnt[e] - first;
        if (n == 0) continue;
        moe_job *jb = &jobs[nj++];
        jb->gate = kern_matrix_rows(&w->gate_exps, e * w->gate_up_stride, F);
        jb->up = kern_matrix_rows(&w->up_exps, e * w->gate_up_stride, F);
        jb->down = kern_matrix_rows(&w->down_exps, e * E, E);
        jb->n_rows = n;
        jb->F = F;
        /* A single token: every expert reads the one converted row (converted once below). */
        jb->act_g = n_tok == 1 ? s->act_g : (const uint8_t *)s->act_g + (size_t)first * sg;
        jb->act_u = n_tok == 1 ? act_u : act_u + (size_t)first * su;
        jb->act_d = (uint8_t *)s->act_d + (size_t)first * sd;
        jb->g = s->g + first * F;
        jb->u = s->u + first * F;
        jb->d = s->d + first * E;
    }
    if (w->gate_shexp.data != NULL) {
        const int64_t FS = w->gate_shexp.rows;
        moe_job *jb = &jobs[nj++];
        jb->gate = w->gate_shexp;
        jb->up = w->up_shexp;
        jb->down = w->down_shexp;
        jb->n_rows = n_tok;
        jb->F = FS;
        jb->act_g = s->act_gs;
        jb->act_u = task.convert_us ? s->act_us : s->act_gs;
        jb->act_d = s->act_ds;
        jb->g = s->gs;
        jb->u = s->us;
        jb->d = s->ds;
    }
    for (int j = 0; j < nj; j++) {
        jobs[j].chunks_gu = 2 * chunks(jobs[j].F);
        jobs[j].chunks_d = chunks(E);
    }
    task.n_jobs = nj;

    if (n_tok == 1) { /* decode: convert the row once for all experts */
        kern_act_convert(w->gate_exps.type, x, E, 0, 1, s->act_g);
        if (task.convert_u) kern_act_convert(w->up_exps.type, x, E, 0, 1, s->act_u);
        if (w->gate_shexp.data != NULL) {
            kern_act_convert(w->gate_shexp.type, x, E, 0, 1, s->act_gs);
            if (task.convert_us) kern_act_convert(w->up_shexp.type, x, E, 0, 1, s->act_us);
        }
    } else {
        mla4j_pool_run(pool, convert_task, &task);
    }
    atomic_init(&task.next, 0);
    mla4j_pool_run(pool, gate_up_task, &task);
    mla4j_pool_run(pool, swiglu_task, &task);
    atomic_store(&task.next, 0);
    mla4j_pool_run(pool, down_task, &task);
    mla4j_pool_run(pool, combine_task, &task);
}
