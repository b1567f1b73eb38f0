/* test_calib.c - calibration statistics of the stories260K forward pass against a recomputation from the GGUF's F32
 * tensors: layer 0's moment and query/key pair norms from the token embeddings, attn_norm and attn_q/attn_k by
 * plain loops; for every layer, relations RMSNorm guarantees (sum_i M_ii / w_i^2 = E * count) and the structure of
 * the moment (symmetric, count in the corner); accumulation over evals, reset, the NEOX pairing and biases (set on
 * the loaded model's internals), a cancelled eval, and refused calls. */
#include "check.h"
#include "context.h"
#include "model.h"

#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

typedef struct ref_model {
    int64_t E, H, Hkv, dk, n_pairs;
    float eps;
    const float *embd, *attn_norm0, *wq0, *wk0; /* F32 tensors of the file, row-major [rows][E] */
    const float *attn_norm[64];
} ref_model;

static const float *tensor_f32(const mla4j_gguf *g, const char *name, int64_t n_elems) {
    int64_t idx = -1;
    mla4j_tensor_info ti;
    if (mla4j_gguf_tensor_find(g, name, &idx) != MLA4J_OK || idx < 0 || mla4j_gguf_tensor_get_info(g, idx, &ti) != MLA4J_OK ||
        ti.type != MLA4J_TYPE_F32 || ti.nbytes != (uint64_t)n_elems * 4) {
        fprintf(stderr, "tensor %s missing or not F32 of %lld values\n", name, (long long)n_elems);
        return NULL;
    }
    return ti.data;
}

/* Accumulated reference statistics of layer 0: moment (E+1)^2 and pair norm sums. */
typedef struct ref_stats {
    double m[65 * 65];
    double q[8 * 4], k[4 * 4];
} ref_stats;

/* Adds the tokens' layer-0 statistics, computed in double from the file: x = RMSNorm(embd) * attn_norm,
 * q = Wq x + bq, k = Wk x + bk, pairs (2i, 2i+1) or, neox, (i, i + n_rot/2). */
static void ref_add(const ref_model *r, const int32_t *tokens, int n, const float *bq, const float *bk, int neox,
                    ref_stats *s) {
    const int64_t E = r->E, e1 = E + 1, dk = r->dk, np = r->n_pairs;
    for (int t = 0; t < n; t++) {
        const float *e = r->embd + (size_t)tokens[t] * (size_t)E;
        double ss = 0, x[65], q[64], k[32];
        for (int64_t i = 0; i < E; i++) ss += (double)e[i] * e[i];
        const double scale = 1.0 / sqrt(ss / (double)E + r->eps);
        for (int64_t i = 0; i < E; i++) x[i] = e[i] * scale * r->attn_norm0[i];
        x[E] = 1.0;
        for (int64_t i = 0; i < e1; i++)
            for (int64_t j = 0; j < e1; j++) s->m[i * e1 + j] += x[i] * x[j];
        for (int64_t o = 0; o < r->H * dk; o++) {
            double v = bq ? bq[o] : 0;
            for (int64_t i = 0; i < E; i++) v += (double)r->wq0[o * E + i] * x[i];
            q[o] = v;
        }
        for (int64_t o = 0; o < r->Hkv * dk; o++) {
            double v = bk ? bk[o] : 0;
            for (int64_t i = 0; i < E; i++) v += (double)r->wk0[o * E + i] * x[i];
            k[o] = v;
        }
        for (int64_t h = 0; h < r->H; h++)
            for (int64_t i = 0; i < np; i++) {
                double a = q[h * dk + (neox ? i : 2 * i)], b = q[h * dk + (neox ? i + np : 2 * i + 1)];
                s->q[h * np + i] += sqrt(a * a + b * b);
            }
        for (int64_t h = 0; h < r->Hkv; h++)
            for (int64_t i = 0; i < np; i++) {
                double a = k[h * dk + (neox ? i : 2 * i)], b = k[h * dk + (neox ? i + np : 2 * i + 1)];
                s->k[h * np + i] += sqrt(a * a + b * b);
            }
    }
}

static double rel_diff(const double *a, const double *b, size_t n) {
    double amax = 0, d = 0;
    for (size_t i = 0; i < n; i++) {
        amax = fmax(amax, fabs(b[i]));
        d = fmax(d, fabs(a[i] - b[i]));
    }
    return d / (amax > 0 ? amax : 1);
}

/* The calib's layer-0 statistics equal the reference. */
static void check_layer0(const mla4j_calib *cal, const ref_stats *ref, const char *what) {
    double m[65 * 65], q[8 * 4], k[4 * 4];
    CHECK(mla4j_calib_get_moment(cal, 0, m) == MLA4J_OK);
    CHECK(mla4j_calib_get_pair_norms(cal, 0, q, k) == MLA4J_OK);
    double dm = rel_diff(m, ref->m, 65 * 65), dq = rel_diff(q, ref->q, 32), dkk = rel_diff(k, ref->k, 16);
    CHECK_MSG(dm < 1e-5, "%s: layer-0 moment differs from the recomputation by %g (relative)", what, dm);
    CHECK_MSG(dq < 1e-5 && dkk < 1e-5, "%s: layer-0 pair norms differ by %g (q), %g (k)", what, dq, dkk);
    CHECK_MSG(ref->q[0] > 0 && ref->k[0] > 0, "%s: reference pair norms are zero", what);
}

/* Every layer: symmetric, count in the corner, and RMSNorm's sum_i (x_i / w_i)^2 = E (less eps's share). */
static void check_all_layers(const mla4j_calib *cal, const ref_model *r, int n_layer, int64_t count) {
    const int64_t E = r->E, e1 = E + 1;
    double *m = malloc((size_t)(e1 * e1) * sizeof(double));
    for (int il = 0; il < n_layer; il++) {
        CHECK(mla4j_calib_get_moment(cal, il, m) == MLA4J_OK);
        int sym = 1;
        for (int64_t i = 0; i < e1; i++)
            for (int64_t j = 0; j < e1; j++) sym &= m[i * e1 + j] == m[j * e1 + i];
        CHECK_MSG(sym, "layer %d: moment not symmetric", il);
        CHECK_MSG(m[e1 * e1 - 1] == (double)count, "layer %d: corner %g, count %lld", il, m[e1 * e1 - 1], (long long)count);
        double s = 0;
        for (int64_t i = 0; i < E; i++) s += m[i * e1 + i] / ((double)r->attn_norm[il][i] * r->attn_norm[il][i]);
        CHECK_MSG(fabs(s / (double)(E * count) - 1) < 1e-3, "layer %d: sum (x_i/w_i)^2 = %g, expected about %lld", il, s,
                  (long long)(E * count));
    }
    free(m);
}

typedef struct canceller {
    mla4j_context *c;
    atomic_int go;
    int delay_us;
} canceller;

static void *cancel_later(void *arg) {
    canceller *k = arg;
    while (!atomic_load(&k->go)) usleep(50);
    usleep((useconds_t)k->delay_us);
    mla4j_context_cancel(k->c, 1);
    return NULL;
}

/* A cancelled eval that had added part of its tokens makes the statistics unreadable until reset. */
static void test_cancel(mla4j_model *m, mla4j_calib *cal) {
    mla4j_context_params p;
    mla4j_context_params_init(&p);
    p.n_ctx = 1024;
    p.n_batch = 8;
    p.n_threads = 1;
    p.kv_type = MLA4J_TYPE_F32;
    mla4j_context *c = NULL;
    CHECK(mla4j_context_create(m, &p, &c) == MLA4J_OK);
    if (c == NULL) return;
    CHECK(mla4j_calib_reset(cal) == MLA4J_OK && mla4j_context_set_calib(c, cal) == MLA4J_OK);
    int32_t tokens[1000];
    for (int i = 0; i < 1000; i++) tokens[i] = (i * 31 + 7) % 512;
    /* A request made before the eval stops it before any work: nothing added, statistics stay readable. */
    CHECK(mla4j_context_cancel(c, 1) == MLA4J_OK);
    CHECK(mla4j_context_eval(c, tokens, 100, NULL) == MLA4J_ERR_CANCELLED);
    int64_t n = -1;
    CHECK(mla4j_calib_get_token_count(cal, &n) == MLA4J_OK && n == 0);
    int saw_incomplete = 0;
    for (int attempt = 0; attempt < 20 && !saw_incomplete; attempt++) {
        canceller k = {c, 0, 500 + 300 * (attempt % 5)};
        pthread_t th;
        CHECK(pthread_create(&th, NULL, cancel_later, &k) == 0);
        CHECK(mla4j_context_set_position(c, 0) == MLA4J_OK);
        atomic_store(&k.go, 1);
        mla4j_status st = mla4j_context_eval(c, tokens, 1000, NULL);
        pthread_join(th, NULL);
        mla4j_context_cancel(c, 0); /* withdraw a request that came after the eval ended */
        if (st == MLA4J_ERR_CANCELLED) {
            saw_incomplete = mla4j_calib_get_token_count(cal, &n) == MLA4J_ERR_STATE &&
                             strstr(mla4j_last_error(), "incomplete") != NULL;
            double q[32], kk[16];
            CHECK(!saw_incomplete || mla4j_calib_get_pair_norms(cal, 0, q, kk) == MLA4J_ERR_STATE);
        } else {
            CHECK(st == MLA4J_OK);
        }
    }
    CHECK_MSG(saw_incomplete, "no eval was cancelled midway in 20 attempts");
    /* Reset makes them usable again, empty. */
    CHECK(mla4j_calib_reset(cal) == MLA4J_OK && mla4j_calib_get_token_count(cal, &n) == MLA4J_OK && n == 0);
    double mm[65 * 65];
    CHECK(mla4j_calib_get_moment(cal, 4, mm) == MLA4J_OK && mm[0] == 0 && mm[65 * 65 - 1] == 0);
    mla4j_context_free(c); /* detaches the calib, which stays usable */
    CHECK(mla4j_calib_get_token_count(cal, &n) == MLA4J_OK);
}

static void test_refused(mla4j_model *m, const char *path, mla4j_calib *cal) {
    double buf[65 * 65], q[32], k[16];
    int64_t n;
    CHECK(mla4j_calib_create(NULL, &cal) == MLA4J_ERR_INVALID_ARGUMENT);
    CHECK(mla4j_calib_get_moment(cal, 5, buf) == MLA4J_ERR_INVALID_ARGUMENT && strstr(mla4j_last_error(), "layer 5") != NULL);
    CHECK(mla4j_calib_get_moment(cal, -1, buf) == MLA4J_ERR_INVALID_ARGUMENT);
    CHECK(mla4j_calib_get_pair_norms(cal, 0, NULL, k) == MLA4J_ERR_INVALID_ARGUMENT);
    CHECK(mla4j_calib_get_token_count(NULL, &n) == MLA4J_ERR_INVALID_ARGUMENT);
    CHECK(mla4j_calib_get_pair_norms(NULL, 0, q, k) == MLA4J_ERR_INVALID_ARGUMENT);
    CHECK(mla4j_context_set_calib(NULL, cal) == MLA4J_ERR_INVALID_ARGUMENT);

    /* MLA models are accepted (moments only): CalibrationStatsTest measures a real mha2mla file. */

    /* Another model's context, and a second context while attached. */
    mla4j_model *other = NULL;
    CHECK(mla4j_model_load(path, &other) == MLA4J_OK);
    mla4j_context_params p;
    mla4j_context_params_init(&p);
    p.n_ctx = 32;
    p.n_threads = 1;
    mla4j_context *c1 = NULL, *c2 = NULL, *co = NULL;
    CHECK(mla4j_context_create(m, &p, &c1) == MLA4J_OK && mla4j_context_create(m, &p, &c2) == MLA4J_OK);
    CHECK(mla4j_context_create(other, &p, &co) == MLA4J_OK);
    CHECK(mla4j_context_set_calib(co, cal) == MLA4J_ERR_INVALID_ARGUMENT && strstr(mla4j_last_error(), "another model"));
    CHECK(mla4j_context_set_calib(c1, cal) == MLA4J_OK);
    CHECK(mla4j_context_set_calib(c2, cal) == MLA4J_ERR_STATE);
    CHECK(mla4j_context_set_calib(c1, cal) == MLA4J_OK); /* again on the same context: fine */
    CHECK(mla4j_context_set_calib(c1, NULL) == MLA4J_OK && mla4j_context_set_calib(c2, cal) == MLA4J_OK);
    /* Freeing an attached calib detaches it: the context evaluates on without it. */
    mla4j_calib *tmp = NULL;
    CHECK(mla4j_calib_create(m, &tmp) == MLA4J_OK && mla4j_context_set_calib(c1, tmp) == MLA4J_OK);
    mla4j_calib_free(tmp);
    const int32_t t[3] = {1, 2, 3};
    CHECK(mla4j_context_eval(c1, t, 3, NULL) == MLA4J_OK);
    CHECK(mla4j_context_eval(c2, t, 3, NULL) == MLA4J_OK && mla4j_calib_get_token_count(cal, &n) == MLA4J_OK && n == 3);
    /* Statistics outlive their model and context. */
    mla4j_calib *oc = NULL;
    CHECK(mla4j_calib_create(other, &oc) == MLA4J_OK && mla4j_context_set_calib(co, oc) == MLA4J_OK);
    CHECK(mla4j_context_eval(co, t, 3, NULL) == MLA4J_OK);
    mla4j_context_free(c1);
    mla4j_context_free(c2);
    mla4j_context_free(co);
    mla4j_model_free(other);
    CHECK(mla4j_calib_get_token_count(oc, &n) == MLA4J_OK && n == 3);
    CHECK(mla4j_calib_get_moment(oc, 4, buf) == MLA4J_OK && buf[65 * 65 - 1] == 3.0);
    mla4j_calib_free(oc);
    mla4j_calib_free(NULL);
}

/* Kept inputs: the first max_tokens rows of every layer, in evaluation order; layer 0's are RMSNorm(embd) * attn_norm. */
static void test_keep_inputs(mla4j_model *m, const ref_model *r, const int32_t *seq1, int n1, const int32_t *seq2, int n2) {
    mla4j_calib *cal = NULL;
    mla4j_context *c = NULL;
    mla4j_context_params p;
    mla4j_context_params_init(&p);
    p.n_ctx = 64;
    p.n_batch = 16;
    p.kv_type = MLA4J_TYPE_F32;
    CHECK(mla4j_calib_create(m, &cal) == MLA4J_OK && mla4j_context_create(m, &p, &c) == MLA4J_OK);
    if (cal == NULL || c == NULL) return;
    CHECK(mla4j_calib_keep_inputs(cal, -1) == MLA4J_ERR_INVALID_ARGUMENT);
    CHECK(mla4j_calib_keep_inputs(cal, (int64_t)1 << 60) == MLA4J_ERR_OUT_OF_MEMORY && strstr(mla4j_last_error(), "memory"));
    const int cap = n1 + 10; /* all of seq1, the first 10 tokens of seq2 */
    CHECK(mla4j_calib_keep_inputs(cal, cap) == MLA4J_OK && mla4j_context_set_calib(c, cal) == MLA4J_OK);
    CHECK(mla4j_context_eval(c, seq1, n1, NULL) == MLA4J_OK);
    CHECK(mla4j_context_set_position(c, 0) == MLA4J_OK && mla4j_context_eval(c, seq2, n2, NULL) == MLA4J_OK);
    int64_t kept = -1, count = -1;
    CHECK(mla4j_calib_get_kept_count(cal, &kept) == MLA4J_OK && kept == cap);
    CHECK(mla4j_calib_get_token_count(cal, &count) == MLA4J_OK && count == n1 + n2);
    float *x = malloc((size_t)cap * 64 * sizeof(float));
    double *mom = malloc(65 * 65 * sizeof(double));
    CHECK(mla4j_calib_get_kept_inputs(cal, 0, x) == MLA4J_OK);
    double worst = 0;
    for (int t = 0; t < cap; t++) {
        const float *e = r->embd + (size_t)(t < n1 ? seq1[t] : seq2[t - n1]) * 64;
        double ss = 0;
        for (int i = 0; i < 64; i++) ss += (double)e[i] * e[i];
        const double scale = 1.0 / sqrt(ss / 64.0 + r->eps);
        for (int i = 0; i < 64; i++) worst = fmax(worst, fabs(x[t * 64 + i] - e[i] * scale * r->attn_norm0[i]));
    }
    CHECK_MSG(worst < 1e-5, "kept layer-0 inputs differ from RMSNorm(embd) * attn_norm by %g", worst);
    /* A later layer's kept rows are its inputs: their diagonal sums match the first 40 tokens' moment. */
    mla4j_calib *one = NULL;
    CHECK(mla4j_calib_create(m, &one) == MLA4J_OK && mla4j_context_set_calib(c, one) == MLA4J_OK);
    CHECK(mla4j_context_set_position(c, 0) == MLA4J_OK && mla4j_context_eval(c, seq1, n1, NULL) == MLA4J_OK);
    CHECK(mla4j_calib_get_kept_inputs(cal, 4, x) == MLA4J_OK && mla4j_calib_get_moment(one, 4, mom) == MLA4J_OK);
    double diag = 0;
    for (int t = 0; t < n1; t++)
        for (int i = 0; i < 64; i++) diag += (double)x[t * 64 + i] * x[t * 64 + i];
    double ref_diag = 0;
    for (int i = 0; i < 64; i++) ref_diag += mom[i * 65 + i];
    CHECK_MSG(fabs(diag / ref_diag - 1) < 1e-5, "layer 4 kept inputs: sum x^2 %g, moment trace %g", diag, ref_diag);
    /* Reset and a new limit discard them; 0 frees them. */
    CHECK(mla4j_calib_reset(cal) == MLA4J_OK && mla4j_calib_get_kept_count(cal, &kept) == MLA4J_OK && kept == 0);
    CHECK(mla4j_calib_keep_inputs(cal, 0) == MLA4J_OK && mla4j_calib_get_kept_count(cal, &kept) == MLA4J_OK && kept == 0);
    CHECK(mla4j_calib_get_kept_inputs(cal, 5, x) == MLA4J_ERR_INVALID_ARGUMENT);
    CHECK(mla4j_calib_get_kept_inputs(cal, 0, NULL) == MLA4J_ERR_INVALID_ARGUMENT);
    CHECK(mla4j_calib_get_kept_count(NULL, &kept) == MLA4J_ERR_INVALID_ARGUMENT);
    free(x);
    free(mom);
    mla4j_context_free(c);
    mla4j_calib_free(one);
    mla4j_calib_free(cal);
}

int main(void) {
    const char *dir = check_fixtures_dir();
    if (dir == NULL) return check_summary("test_calib");
    char path[4096];
    snprintf(path, sizeof path, "%s/models/stories260K.gguf", dir);
    mla4j_model *m = NULL;
    CHECK(mla4j_model_load(path, &m) == MLA4J_OK);
    if (m == NULL) return check_summary("test_calib");
    mla4j_hparams hp;
    CHECK(mla4j_model_get_hparams(m, &hp) == MLA4J_OK);
    CHECK(hp.n_embd == 64 && hp.n_head == 8 && hp.n_head_kv == 4 && hp.head_dim_k == 8 && hp.n_rot == 8 && hp.n_layer == 5);
    const mla4j_gguf *g = NULL;
    CHECK(mla4j_model_get_gguf(m, &g) == MLA4J_OK);
    ref_model r = {64, 8, 4, 8, 4, hp.rms_eps, NULL, NULL, NULL, NULL, {NULL}};
    r.embd = tensor_f32(g, "token_embd.weight", 64 * 512);
    r.attn_norm0 = tensor_f32(g, "blk.0.attn_norm.weight", 64);
    r.wq0 = tensor_f32(g, "blk.0.attn_q.weight", 64 * 64);
    r.wk0 = tensor_f32(g, "blk.0.attn_k.weight", 32 * 64);
    for (int il = 0; il < hp.n_layer; il++) {
        char name[64];
        snprintf(name, sizeof name, "blk.%d.attn_norm.weight", il);
        r.attn_norm[il] = tensor_f32(g, name, 64);
        CHECK(r.attn_norm[il] != NULL);
    }
    CHECK(r.embd && r.attn_norm0 && r.wq0 && r.wk0);
    if (!(r.embd && r.attn_norm0 && r.wq0 && r.wk0)) return check_summary("test_calib");

    check_use_test_lapack();
    mla4j_status avail = mla4j_linalg_available();
    CHECK_MSG(avail == MLA4J_OK, "LAPACK/BLAS is needed by calibration (ctest gets it from MLA4J_TEST_LAPACK, which "
              "Maven sets to the OpenBLAS it unpacks): %s", mla4j_last_error());
    if (avail != MLA4J_OK) return check_summary("test_calib");
    mla4j_calib *cal = NULL;
    CHECK(mla4j_calib_create(m, &cal) == MLA4J_OK);
    mla4j_context_params p;
    mla4j_context_params_init(&p);
    p.n_ctx = 64;
    p.n_batch = 16; /* 40 tokens: batches of 16, 16 and 8 */
    p.n_threads = 2;
    p.kv_type = MLA4J_TYPE_F32;
    mla4j_context *c = NULL;
    CHECK(mla4j_context_create(m, &p, &c) == MLA4J_OK);
    if (cal == NULL || c == NULL) return check_summary("test_calib");

    int32_t seq1[40], seq2[25];
    seq1[0] = seq2[0] = 1;
    for (int i = 1; i < 40; i++) seq1[i] = (i * 37 + 11) % 512;
    for (int i = 1; i < 25; i++) seq2[i] = (i * 101 + 5) % 512;
    static ref_stats ref;
    memset(&ref, 0, sizeof ref);

    /* Nothing is gathered while detached. */
    CHECK(mla4j_context_eval(c, seq2, 25, NULL) == MLA4J_OK);
    int64_t n = -1;
    CHECK(mla4j_calib_get_token_count(cal, &n) == MLA4J_OK && n == 0);

    CHECK(mla4j_context_set_position(c, 0) == MLA4J_OK && mla4j_context_set_calib(c, cal) == MLA4J_OK);
    CHECK(mla4j_context_eval(c, seq1, 40, NULL) == MLA4J_OK);
    ref_add(&r, seq1, 40, NULL, NULL, 0, &ref);
    CHECK(mla4j_calib_get_token_count(cal, &n) == MLA4J_OK && n == 40);
    check_layer0(cal, &ref, "one eval");
    check_all_layers(cal, &r, hp.n_layer, 40);

    /* A second sequence accumulates (fresh state), and so do token-by-token evals. */
    CHECK(mla4j_context_set_position(c, 0) == MLA4J_OK && mla4j_context_eval(c, seq2, 20, NULL) == MLA4J_OK);
    for (int i = 20; i < 25; i++) CHECK(mla4j_context_eval(c, seq2 + i, 1, NULL) == MLA4J_OK);
    ref_add(&r, seq2, 25, NULL, NULL, 0, &ref);
    CHECK(mla4j_calib_get_token_count(cal, &n) == MLA4J_OK && n == 65);
    check_layer0(cal, &ref, "two sequences");
    check_all_layers(cal, &r, hp.n_layer, 65);

    /* NEOX pairs and q/k biases (qwen2's layout), set on the loaded model: the pair norms are taken before RoPE, so
     * layer 0's still follow from the file's weights and these biases. */
    static float bq[64], bk[32];
    for (int i = 0; i < 64; i++) bq[i] = 0.05f * (float)(i % 7) - 0.1f;
    for (int i = 0; i < 32; i++) bk[i] = 0.5f - 0.03f * (float)i;
    m->hp.rope_type = MLA4J_ROPE_NEOX;
    m->layers[0].bq = bq;
    m->layers[0].bk = bk;
    memset(&ref, 0, sizeof ref);
    CHECK(mla4j_calib_reset(cal) == MLA4J_OK && mla4j_context_set_position(c, 0) == MLA4J_OK);
    CHECK(mla4j_context_eval(c, seq1, 40, NULL) == MLA4J_OK);
    ref_add(&r, seq1, 40, bq, bk, 1, &ref);
    check_layer0(cal, &ref, "neox with biases");
    m->hp.rope_type = MLA4J_ROPE_NORM;
    m->layers[0].bq = NULL;
    m->layers[0].bk = NULL;

    mla4j_context_free(c);
    test_keep_inputs(m, &r, seq1, 40, seq2, 25);
    test_cancel(m, cal);
    test_refused(m, path, cal);
    mla4j_calib_free(cal);
    mla4j_model_free(m);
    return check_summary("test_calib");
}
