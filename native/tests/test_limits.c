/* test_limits.c - resource limits on hostile metadata: the real stories260K file with one hyperparameter patched
 * to an absurd value must fail with a clear status before anything large is allocated, never crash or abort (this
 * test also runs under AddressSanitizer, where a failed huge malloc would be a report, see .ci/run). */
#include "check.h"
#include "mla4j.h"
#include "model.h"

#include <stdint.h>

/* Offset of the value of a UINT32 key in a GGUF image: the key string, then the type tag 4, then the value. */
static size_t find_u32_value(const uint8_t *img, size_t size, const char *key) {
    size_t len = strlen(key);
    for (size_t i = 8; i + len + 8 <= size; i++) {
        uint64_t l;
        memcpy(&l, img + i - 8, 8);
        if (l == len && memcmp(img + i, key, len) == 0 && img[i + len] == 4) return i + len + 4;
    }
    return 0;
}

static mla4j_status load_patched(const uint8_t *img, size_t size, const char *key, uint32_t value, mla4j_model **out) {
    uint8_t *copy = malloc(size);
    memcpy(copy, img, size);
    size_t at = find_u32_value(copy, size, key);
    CHECK_MSG(at != 0, "key %s not found as UINT32", key);
    memcpy(copy + at, &value, 4);
    mla4j_gguf *g = NULL;
    mla4j_status st = mla4j_gguf_open_memory(copy, size, "patched.gguf", &g);
    free(copy);
    if (st != MLA4J_OK) return st;
    return mla4j_model_from_gguf(g, out);
}

int main(void) {
    const char *dir = check_fixtures_dir();
    if (dir == NULL) return check_summary("test_limits");
    char path[4096];
    snprintf(path, sizeof path, "%s/models/stories260K.gguf", dir);
    size_t size = 0;
    uint8_t *img = check_read_file(path, &size);
    CHECK(img != NULL);
    if (img == NULL) return check_summary("test_limits");

    /* Context length 2^31-1: the model loads (llama.cpp accepts it), but a context of that size is refused
     * before allocation, with the numbers in the message. */
    mla4j_model *m = NULL;
    CHECK(load_patched(img, size, "llama.context_length", INT32_MAX, &m) == MLA4J_OK);
    if (m != NULL) {
        mla4j_context *c = NULL;
        mla4j_status st = mla4j_context_create(m, NULL, &c); /* n_ctx 0 = the model's context */
        CHECK(st == MLA4J_ERR_OUT_OF_MEMORY && c == NULL);
        CHECK_MSG(strstr(mla4j_last_error(), "a KV cache of 2147483647 positions needs") != NULL, "%s", mla4j_last_error());
        /* A small explicit context still works on that model. */
        mla4j_context_params p;
        mla4j_context_params_init(&p);
        p.n_ctx = 16;
        p.n_threads = 1;
        CHECK(mla4j_context_create(m, &p, &c) == MLA4J_OK);
        int32_t tok = 1;
        CHECK(mla4j_context_eval(c, &tok, 1, NULL) == MLA4J_OK);
        mla4j_context_free(c);
        mla4j_model_free(m);
    }

    /* Absurd layer, head and size counts are refused when the metadata is read. */
    struct { const char *key; uint32_t value; const char *message; } cases[] = {
        {"llama.block_count", 1000000, "key 'llama.block_count' = 1000000 is out of the supported range"},
        {"llama.block_count", 0, "key 'llama.block_count' = 0 is out of the supported range"},
        {"llama.embedding_length", 0xFFFFFFFFu, "key 'llama.embedding_length' = 4294967295 is out of the supported range"},
        {"llama.attention.head_count", 1u << 20, "key 'llama.attention.head_count' = 1048576 is out of the supported range"},
        {"llama.feed_forward_length", 0x80000000u, "key 'llama.feed_forward_length' = 2147483648 is out of the supported range"},
        {"llama.block_count", 4000, "missing tensor 'blk.5.attn_norm.weight'"}, /* in range, but the file lacks them */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mla4j_model *bad = NULL;
        mla4j_status st = load_patched(img, size, cases[i].key, cases[i].value, &bad);
        CHECK_MSG(st == MLA4J_ERR_FORMAT && bad == NULL, "%s = %u gave status %d", cases[i].key, cases[i].value, st);
        CHECK_MSG(strstr(mla4j_last_error(), cases[i].message) != NULL, "%s", mla4j_last_error());
        mla4j_model_free(bad);
    }

    /* A context asking for an absurd size on a sane model: refused with the same message, nothing allocated. */
    CHECK(load_patched(img, size, "llama.context_length", 2048, &m) == MLA4J_OK);
    if (m != NULL) {
        mla4j_context_params p;
        mla4j_context_params_init(&p);
        p.n_ctx = INT32_MAX;
        p.n_threads = 1;
        mla4j_context *c = NULL;
        CHECK(mla4j_context_create(m, &p, &c) == MLA4J_ERR_OUT_OF_MEMORY && c == NULL);
        mla4j_model_free(m);
    }
    free(img);
    return check_summary("test_limits");
}
