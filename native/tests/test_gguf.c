/* test_gguf.c - the GGUF reader on real fixtures and on hostile images: truncation at every byte, bad magic,
 * huge counts and lengths, offsets past the end, misaligned offsets, unknown types, duplicates. Each must fail
 * with the right status and a message naming the problem, never crash (this also runs under ASan/UBSan). */
#include "check.h"
#include "mla4j.h"

#include <stdint.h>

/* ---- a tiny GGUF image builder ---- */
typedef struct buf {
    uint8_t data[4096];
    size_t len;
} buf;

static void put(buf *b, const void *p, size_t n) {
    memcpy(b->data + b->len, p, n);
    b->len += n;
}
static void put_u32(buf *b, uint32_t v) { put(b, &v, 4); }
static void put_u64(buf *b, uint64_t v) { put(b, &v, 8); }
static void put_str(buf *b, const char *s) {
    put_u64(b, strlen(s));
    put(b, s, strlen(s));
}
static void pad_to(buf *b, size_t a) {
    while (b->len % a) b->data[b->len++] = 0;
}

/* Offsets of interesting fields in the image built by build_valid. */
typedef struct layout {
    size_t n_tensors, n_kv, kv0_type, arr_count, tensor0_name, tensor0_dims, tensor0_type, tensor0_offset, tensor1_offset,
        data_start, header_end;
} layout;

/* GGUF v3 with 3 keys (u32, string, f32 array of 3) and two tensors: "a" F32 [8, 2], "b" Q8_0 [32]. */
static void build_valid(buf *b, layout *l) {
    b->len = 0;
    put(b, "GGUF", 4);
    put_u32(b, 3);
    l->n_tensors = b->len;
    put_u64(b, 2);
    l->n_kv = b->len;
    put_u64(b, 3);
    put_str(b, "general.alignment");
    l->kv0_type = b->len;
    put_u32(b, 4); /* UINT32 */
    put_u32(b, 32);
    put_str(b, "general.name");
    put_u32(b, 8);
    put_str(b, "tiny");
    put_str(b, "test.values");
    put_u32(b, 9);
    put_u32(b, 6);
    l->arr_count = b->len;
    put_u64(b, 3);
    float vals[3] = {1.5f, -2.0f, 3.25f};
    put(b, vals, sizeof vals);
    l->tensor0_name = b->len;
    put_str(b, "a");
    l->tensor0_dims = b->len;
    put_u32(b, 2);
    put_u64(b, 8);
    put_u64(b, 2);
    l->tensor0_type = b->len;
    put_u32(b, 0);
    l->tensor0_offset = b->len;
    put_u64(b, 0);
    put_str(b, "b");
    put_u32(b, 1);
    put_u64(b, 32);
    put_u32(b, 8);
    l->tensor1_offset = b->len;
    put_u64(b, 64); /* 8*2*4 = 64 bytes, already aligned */
    l->header_end = b->len;
    pad_to(b, 32);
    l->data_start = b->len;
    for (int i = 0; i < 16; i++) {
        float f = (float)i;
        put(b, &f, 4);
    }
    uint8_t q8[34] = {0x00, 0x3c}; /* d = 1.0 (fp16 0x3c00) */
    for (int i = 0; i < 32; i++) q8[2 + i] = (uint8_t)(i - 16);
    put(b, q8, sizeof q8);
    pad_to(b, 32);
}

static int open_fails(const buf *b, mla4j_status want, const char *needle) {
    mla4j_gguf *g = NULL;
    mla4j_status st = mla4j_gguf_open_memory(b->data, b->len, "hostile.gguf", &g);
    if (st == MLA4J_OK) {
        mla4j_gguf_free(g);
        fprintf(stderr, "  expected failure containing '%s', but the image opened\n", needle);
        return 0;
    }
    const char *msg = mla4j_last_error();
    int ok = (want == 0 || st == want) && strstr(msg, needle) != NULL && strstr(msg, "hostile.gguf") != NULL;
    if (!ok) fprintf(stderr, "  status %s, message '%s', wanted '%s'\n", mla4j_status_name(st), msg, needle);
    return ok;
}

static void test_valid_image(void) {
    buf b;
    layout l;
    build_valid(&b, &l);
    mla4j_gguf *g = NULL;
    CHECK(mla4j_gguf_open_memory(b.data, b.len, "valid", &g) == MLA4J_OK);
    if (g == NULL) return;
    int64_t n = 0, i = -2;
    uint64_t u = 0;
    CHECK(mla4j_gguf_kv_count(g, &n) == MLA4J_OK && n == 3);
    CHECK(mla4j_gguf_tensor_count(g, &n) == MLA4J_OK && n == 2);
    CHECK(mla4j_gguf_get_data_offset(g, &u) == MLA4J_OK && u == l.data_start);
    CHECK(mla4j_gguf_kv_find(g, "general.name", &i) == MLA4J_OK && i == 1);
    const char *s;
    CHECK(mla4j_gguf_kv_get_string(g, i, &s, &u) == MLA4J_OK && u == 4 && memcmp(s, "tiny", 4) == 0);
    CHECK(mla4j_gguf_kv_find(g, "missing", &i) == MLA4J_OK && i == -1);
    int32_t type, et;
    CHECK(mla4j_gguf_kv_type(g, 2, &type, &et, &u) == MLA4J_OK && type == MLA4J_GGUF_ARRAY && et == MLA4J_GGUF_FLOAT32 && u == 3);
    const void *arr;
    CHECK(mla4j_gguf_kv_get_array_data(g, 2, &arr, &u) == MLA4J_OK && u == 12 && ((const float *)arr)[2] == 3.25f);
    CHECK(mla4j_gguf_kv_get_int(g, 1, &n) == MLA4J_ERR_INVALID_ARGUMENT); /* a string is not an integer */
    CHECK(mla4j_gguf_kv_get_int(g, 99, &n) == MLA4J_ERR_INVALID_ARGUMENT);
    mla4j_tensor_info ti;
    CHECK(mla4j_gguf_tensor_get_info(g, 1, &ti) == MLA4J_OK && strcmp(ti.name, "b") == 0 && ti.type == MLA4J_TYPE_Q8_0 &&
          ti.nbytes == 34 && ti.offset == 64 && ti.ne[0] == 32 && ti.ne[1] == 1);
    CHECK(mla4j_gguf_tensor_find(g, "a", &i) == MLA4J_OK && i == 0);
    CHECK(mla4j_gguf_tensor_get_info(g, 0, &ti) == MLA4J_OK && ((const float *)ti.data)[5] == 5.0f);
    mla4j_gguf_free(g);
}

static void test_truncation_everywhere(void) {
    buf b;
    layout l;
    build_valid(&b, &l);
    size_t full = b.len;
    int failures_ok = 1;
    /* Every prefix that cuts the header or the data must be refused as truncated. */
    for (size_t cut = 0; cut < full - 30 /* the last tensor's padding is not required */; cut++) {
        b.len = cut;
        mla4j_gguf *g = NULL;
        mla4j_status st = mla4j_gguf_open_memory(b.data, b.len, "cut.gguf", &g);
        if (st == MLA4J_OK) {
            mla4j_gguf_free(g);
            fprintf(stderr, "  truncated image of %zu bytes opened\n", cut);
            failures_ok = 0;
        } else if (st != MLA4J_ERR_FORMAT || (strstr(mla4j_last_error(), "truncated") == NULL &&
                                               strstr(mla4j_last_error(), "past the end") == NULL &&
                                               strstr(mla4j_last_error(), "impossible") == NULL &&
                                               strstr(mla4j_last_error(), "more than") == NULL)) {
            fprintf(stderr, "  cut at %zu: %s %s\n", cut, mla4j_status_name(st), mla4j_last_error());
            failures_ok = 0;
        }
    }
    CHECK(failures_ok);
}

static void test_hostile_fields(void) {
    buf b;
    layout l;
    build_valid(&b, &l);
    buf v = b;
    memcpy(v.data, "GGUG", 4);
    CHECK(open_fails(&v, MLA4J_ERR_FORMAT, "bad magic"));
    v = b;
    uint32_t ver = 1;
    memcpy(v.data + 4, &ver, 4);
    CHECK(open_fails(&v, MLA4J_ERR_UNSUPPORTED, "version 1"));
    ver = 4;
    memcpy(v.data + 4, &ver, 4);
    CHECK(open_fails(&v, MLA4J_ERR_UNSUPPORTED, "version 4"));
    ver = 0x03000000; /* a big-endian writer */
    memcpy(v.data + 4, &ver, 4);
    CHECK(open_fails(&v, MLA4J_ERR_FORMAT, "big-endian"));

    uint64_t huge = UINT64_MAX / 2;
    v = b;
    memcpy(v.data + l.n_tensors, &huge, 8);
    CHECK(open_fails(&v, MLA4J_ERR_FORMAT, "tensors, impossible"));
    v = b;
    memcpy(v.data + l.n_kv, &huge, 8);
    CHECK(open_fails(&v, MLA4J_ERR_FORMAT, "keys, impossible"));
    v = b;
    memcpy(v.data + l.arr_count, &huge, 8);
    CHECK(open_fails(&v, MLA4J_ERR_FORMAT, "claims"));
    v = b;
    memcpy(v.data + 24, &huge, 8); /* length of the first key */
    CHECK(open_fails(&v, MLA4J_ERR_FORMAT, "truncated"));

    v = b;
    uint32_t bad_type = 77;
    memcpy(v.data + l.kv0_type, &bad_type, 4);
    CHECK(open_fails(&v, MLA4J_ERR_FORMAT, "unknown value type 77"));
    v = b;
    memcpy(v.data + l.tensor0_type, &bad_type, 4);
    CHECK(open_fails(&v, MLA4J_ERR_UNSUPPORTED, "type id 77"));
    /* A ggml type mla4j cannot compute with (MXFP4: 32 elements in 17 bytes) is still read, so that its layout can
     * be listed (the model loader refuses it, naming the tensor). */
    v = b;
    uint32_t mxfp4 = 39;
    memcpy(v.data + l.tensor1_offset - 4, &mxfp4, 4); /* tensor "b": its type comes just before its offset */
    {
        mla4j_gguf *g = NULL;
        CHECK(mla4j_gguf_open_memory(v.data, v.len, "mxfp4.gguf", &g) == MLA4J_OK);
        mla4j_tensor_info ti;
        CHECK(g != NULL && mla4j_gguf_tensor_get_info(g, 1, &ti) == MLA4J_OK && ti.type == 39 && ti.nbytes == 17);
        mla4j_gguf_free(g);
    }
    v = b;
    uint32_t five_dims = 5;
    memcpy(v.data + l.tensor0_dims, &five_dims, 4);
    CHECK(open_fails(&v, MLA4J_ERR_FORMAT, "5 dimensions"));

    v = b;
    uint64_t off = 32; /* the second tensor must start at 64 */
    memcpy(v.data + l.tensor1_offset, &off, 8);
    CHECK(open_fails(&v, MLA4J_ERR_FORMAT, "has offset 32, expected 64"));
    v = b;
    off = 65; /* misaligned */
    memcpy(v.data + l.tensor1_offset, &off, 8);
    CHECK(open_fails(&v, MLA4J_ERR_FORMAT, "has offset 65"));
    v = b;
    off = UINT64_MAX - 8;
    memcpy(v.data + l.tensor0_offset, &off, 8);
    CHECK(open_fails(&v, MLA4J_ERR_FORMAT, "expected 0"));
    v = b;
    v.len = l.data_start + 64 + 10; /* the Q8_0 tensor runs past the end */
    CHECK(open_fails(&v, MLA4J_ERR_FORMAT, "past the end"));

    v = b;
    memcpy(v.data + l.tensor0_name + 8, "b", 1); /* both tensors named "b" */
    CHECK(open_fails(&v, MLA4J_ERR_FORMAT, "duplicate tensor name 'b'"));
    v = b;
    uint32_t nested = 9;
    memcpy(v.data + l.arr_count - 4, &nested, 4);
    CHECK(open_fails(&v, MLA4J_ERR_FORMAT, "nested arrays"));
    v = b;
    uint32_t align = 48;
    memcpy(v.data + l.kv0_type + 4, &align, 4);
    CHECK(open_fails(&v, MLA4J_ERR_FORMAT, "not a power of two"));
    v = b;
    uint64_t odd_row = 7; /* Q8_0 rows must be multiples of 32: tensor "b" ne0 at tensor1_offset - 4 - 8 */
    memcpy(v.data + l.tensor1_offset - 4 - 8, &odd_row, 8);
    CHECK(open_fails(&v, MLA4J_ERR_FORMAT, "not a multiple"));
}

static void test_duplicate_keys(void) {
    buf b;
    b.len = 0;
    put(&b, "GGUF", 4);
    put_u32(&b, 3);
    put_u64(&b, 0);
    put_u64(&b, 2);
    put_str(&b, "k");
    put_u32(&b, 4);
    put_u32(&b, 1);
    put_str(&b, "k");
    put_u32(&b, 4);
    put_u32(&b, 2);
    CHECK(open_fails(&b, MLA4J_ERR_FORMAT, "duplicate key 'k'"));
    b.len -= 4 + 4 + 9; /* drop the second key: a vocab-only style file, no padding */
    uint64_t one = 1;
    memcpy(b.data + 16, &one, 8);
    mla4j_gguf *g = NULL;
    CHECK(mla4j_gguf_open_memory(b.data, b.len, "one-key", &g) == MLA4J_OK);
    mla4j_gguf_free(g);
}

static void test_fixtures(const char *dir) {
    char path[4096];
    snprintf(path, sizeof path, "%s/models/stories260K.gguf", dir);
    mla4j_gguf *g = NULL;
    CHECK(mla4j_gguf_open(path, &g) == MLA4J_OK);
    if (g != NULL) {
        int64_t n = 0;
        uint32_t version = 0;
        CHECK(mla4j_gguf_tensor_count(g, &n) == MLA4J_OK && n == 48);
        CHECK(mla4j_gguf_get_version(g, &version) == MLA4J_OK && version == 3);
        mla4j_gguf_free(g);
    }
    snprintf(path, sizeof path, "%s/models/tinyllamas-stories-260k-f32.gguf", dir);
    CHECK(mla4j_gguf_open(path, &g) == MLA4J_ERR_UNSUPPORTED);
    CHECK(strstr(mla4j_last_error(), "unsupported GGUF version 1") != NULL);
    snprintf(path, sizeof path, "%s/vocab/ggml-vocab-llama-spm.gguf", dir);
    CHECK(mla4j_gguf_open(path, &g) == MLA4J_OK);
    if (g != NULL) {
        int64_t i = -1;
        uint64_t len = 0;
        const char *s;
        CHECK(mla4j_gguf_kv_find(g, "tokenizer.ggml.tokens", &i) == MLA4J_OK && i >= 0);
        CHECK(mla4j_gguf_kv_get_array_string(g, i, 1, &s, &len) == MLA4J_OK && len == 3 && memcmp(s, "<s>", 3) == 0);
        mla4j_gguf_free(g);
    }
    CHECK(mla4j_gguf_open("/nonexistent/model.gguf", &g) == MLA4J_ERR_IO);
    CHECK(strstr(mla4j_last_error(), "/nonexistent/model.gguf") != NULL);
}

int main(void) {
    test_valid_image();
    test_truncation_everywhere();
    test_hostile_fields();
    test_duplicate_keys();
    const char *dir = check_fixtures_dir();
    if (dir) test_fixtures(dir);
    return check_summary("test_gguf");
}
