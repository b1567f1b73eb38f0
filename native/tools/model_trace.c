/* model_trace.c - prints what a model computes, so that two builds (x86-64 natively, ARM64 under qemu-aarch64) can
 * be compared outside the test binaries (native/tests/qemu-aarch64.sh):
 *   model_trace greedy MODEL N IDS [SIMD]          greedy continuation of the prompt ids (comma-separated) for N
 *                                                   tokens: prints "ids: ..." and "text: ..." (SentencePiece pieces)
 *   model_trace logits MODEL OUT N_TOK BATCH KV [SIMD]
 *                                                   logits of N_TOK tokens (BOS, then (t*37+5) % n_vocab), evaluated
 *                                                   BATCH at a time with a KV cache of type KV (f32, f16, q8_0,
 *                                                   q4_0), written to OUT as little-endian float32
 *   model_trace compare A B TOL                     largest relative difference per token (max |a-b| / max |b|) of
 *                                                   two logit files; exit 1 above TOL
 * SIMD is an mla4j_simd level number (0 = AUTO, the default); 2 threads unless MODEL_TRACE_THREADS says otherwise.
 * Exit 0 ok, 1 failure, 2 usage. */
#include "mla4j.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage(void) {
    fprintf(stderr, "usage: model_trace greedy MODEL N IDS [SIMD] | logits MODEL OUT N_TOK BATCH KV [SIMD] | "
                    "compare A B TOL\n");
    return 2;
}

static int fail(const char *what) {
    fprintf(stderr, "model_trace: %s: %s\n", what, mla4j_last_error());
    return 1;
}

static mla4j_context *open_context(const mla4j_model *m, int n_ctx, int batch, int kv, int simd) {
    mla4j_context_params p;
    mla4j_context_params_init(&p);
    p.n_ctx = n_ctx;
    /* MODEL_TRACE_THREADS: 1 for instruction counting under qemu (native/tests/qemu-insn-count.sh) */
    const char *th = getenv("MODEL_TRACE_THREADS");
    p.n_threads = th != NULL && atoi(th) > 0 ? atoi(th) : 2;
    p.n_batch = batch;
    p.kv_type = kv;
    p.simd = simd;
    mla4j_context *c = NULL;
    return mla4j_context_create(m, &p, &c) == MLA4J_OK ? c : NULL;
}

static int argmax(const float *x, int n) {
    int best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

/* A SentencePiece piece as text: U+2581 is a space (but not at the very start), <0xNN> a byte. */
static int printed_any;
static void print_piece(const mla4j_gguf *g, int64_t kv, int id) {
    const char *s = NULL;
    uint64_t len = 0;
    if (kv < 0 || mla4j_gguf_kv_get_array_string(g, kv, (uint64_t)id, &s, &len) != MLA4J_OK) return;
    unsigned hex;
    if (len == 6 && sscanf(s, "<0x%2X>", &hex) == 1) {
        putchar((int)hex);
        printed_any = 1;
        return;
    }
    for (uint64_t i = 0; i < len; i++) {
        if (i + 2 < len && (unsigned char)s[i] == 0xE2 && (unsigned char)s[i + 1] == 0x96 && (unsigned char)s[i + 2] == 0x81) {
            if (printed_any) putchar(' ');
            i += 2;
        } else {
            putchar(s[i]);
        }
        printed_any = 1;
    }
}

static int greedy(const char *path, int n, const char *ids, int simd) {
    int32_t prompt[64];
    int np = 0;
    for (const char *p = ids; *p && np < 64;) {
        prompt[np++] = (int32_t)strtol(p, (char **)&p, 10);
        if (*p == ',') p++;
    }
    mla4j_model *m = NULL;
    if (mla4j_model_load(path, &m) != MLA4J_OK) return fail(path);
    mla4j_hparams hp;
    mla4j_model_get_hparams(m, &hp);
    mla4j_context *c = open_context(m, np + n + 1, 512, MLA4J_TYPE_F16, simd);
    if (c == NULL) {
        mla4j_model_free(m);
        return fail("context");
    }
    int32_t *out = malloc(sizeof(int32_t) * (size_t)n);
    int ok = 1;
    const float *lg = NULL;
    ok = mla4j_context_eval(c, prompt, np, NULL) == MLA4J_OK && mla4j_context_get_logits(c, &lg) == MLA4J_OK;
    for (int i = 0; i < n && ok; i++) {
        out[i] = argmax(lg, hp.n_vocab);
        if (i + 1 < n)
            ok = mla4j_context_eval(c, &out[i], 1, NULL) == MLA4J_OK && mla4j_context_get_logits(c, &lg) == MLA4J_OK;
    }
    if (ok) {
        const mla4j_gguf *g = NULL;
        int64_t kv = -1;
        if (mla4j_model_get_gguf(m, &g) == MLA4J_OK) mla4j_gguf_kv_find(g, "tokenizer.ggml.tokens", &kv);
        printf("ids:");
        for (int i = 0; i < n; i++) printf(" %d", out[i]);
        printf("\ntext: ");
        for (int i = 0; i < np; i++)
            if (prompt[i] != 1) print_piece(g, kv, prompt[i]);
        for (int i = 0; i < n; i++) print_piece(g, kv, out[i]);
        printf("\n");
    }
    free(out);
    mla4j_context_free(c);
    mla4j_model_free(m);
    return ok ? 0 : fail("eval");
}

static int kv_type_of(const char *s) {
    if (strcmp(s, "f32") == 0) return MLA4J_TYPE_F32;
    if (strcmp(s, "f16") == 0) return MLA4J_TYPE_F16;
    if (strcmp(s, "q8_0") == 0) return MLA4J_TYPE_Q8_0;
    if (strcmp(s, "q4_0") == 0) return MLA4J_TYPE_Q4_0;
    return -1;
}

static int logits(const char *path, const char *out_path, int n_tok, int batch, int kv, int simd) {
    mla4j_model *m = NULL;
    if (mla4j_model_load(path, &m) != MLA4J_OK) return fail(path);
    mla4j_hparams hp;
    mla4j_model_get_hparams(m, &hp);
    mla4j_context *c = open_context(m, n_tok, batch, kv, simd);
    if (c == NULL) {
        mla4j_model_free(m);
        return fail("context");
    }
    int32_t *tokens = malloc(sizeof(int32_t) * (size_t)n_tok);
    for (int t = 0; t < n_tok; t++) tokens[t] = t == 0 ? 1 : (t * 37 + 5) % hp.n_vocab;
    float *lg = malloc(sizeof(float) * (size_t)n_tok * (size_t)hp.n_vocab);
    int ok = 1;
    for (int i = 0; i < n_tok && ok; i += batch) {
        int k = n_tok - i < batch ? n_tok - i : batch;
        ok = mla4j_context_eval(c, tokens + i, k, lg + (size_t)i * (size_t)hp.n_vocab) == MLA4J_OK;
    }
    int rc = ok ? 0 : fail("eval");
    if (ok) {
        FILE *f = fopen(out_path, "wb");
        size_t count = (size_t)n_tok * (size_t)hp.n_vocab;
        if (f == NULL || fwrite(&hp.n_vocab, sizeof(int32_t), 1, f) != 1 || fwrite(lg, sizeof(float), count, f) != count) {
            fprintf(stderr, "model_trace: cannot write %s\n", out_path);
            rc = 1;
        }
        if (f != NULL && fclose(f) != 0) rc = 1;
    }
    free(tokens);
    free(lg);
    mla4j_context_free(c);
    mla4j_model_free(m);
    return rc;
}

static float *read_logits(const char *path, int32_t *n_vocab, size_t *count) {
    FILE *f = fopen(path, "rb");
    if (f == NULL || fread(n_vocab, sizeof(int32_t), 1, f) != 1 || *n_vocab <= 0) {
        if (f) fclose(f);
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, (long)sizeof(int32_t), SEEK_SET);
    *count = (size_t)(size - (long)sizeof(int32_t)) / sizeof(float);
    float *x = malloc(sizeof(float) * (*count ? *count : 1));
    if (fread(x, sizeof(float), *count, f) != *count) {
        free(x);
        x = NULL;
    }
    fclose(f);
    return x;
}

static int compare(const char *a_path, const char *b_path, double tol) {
    int32_t va = 0, vb = 0;
    size_t na = 0, nb = 0;
    float *a = read_logits(a_path, &va, &na), *b = read_logits(b_path, &vb, &nb);
    int rc = 0;
    if (a == NULL || b == NULL || va != vb || na != nb || na % (size_t)va != 0) {
        fprintf(stderr, "model_trace: %s and %s are not logit files of the same shape\n", a_path, b_path);
        rc = 1;
    } else {
        double worst = 0;
        for (size_t t = 0; t < na / (size_t)va; t++) {
            double amax = 0, dmax = 0;
            for (int i = 0; i < va; i++) {
                const float x = a[t * (size_t)va + (size_t)i], y = b[t * (size_t)va + (size_t)i];
                amax = fmax(amax, fabs((double)y));
                dmax = fmax(dmax, isnan(x) || isnan(y) ? INFINITY : fabs((double)x - y));
            }
            worst = fmax(worst, dmax / (amax > 0 ? amax : 1));
        }
        printf("max relative logit difference %.3g over %zu tokens (tolerance %.3g)\n", worst, na / (size_t)va, tol);
        rc = worst <= tol ? 0 : 1;
    }
    free(a);
    free(b);
    return rc;
}

int main(int argc, char **argv) {
    if (argc >= 5 && strcmp(argv[1], "greedy") == 0)
        return greedy(argv[2], atoi(argv[3]), argv[4], argc > 5 ? atoi(argv[5]) : MLA4J_SIMD_AUTO);
    if (argc >= 7 && strcmp(argv[1], "logits") == 0) {
        int n_tok = atoi(argv[4]), batch = atoi(argv[5]), kv = kv_type_of(argv[6]);
        if (n_tok <= 0 || batch <= 0 || kv < 0) return usage();
        return logits(argv[2], argv[3], n_tok, batch, kv, argc > 7 ? atoi(argv[7]) : MLA4J_SIMD_AUTO);
    }
    if (argc == 5 && strcmp(argv[1], "compare") == 0) return compare(argv[2], argv[3], atof(argv[4]));
    return usage();
}
