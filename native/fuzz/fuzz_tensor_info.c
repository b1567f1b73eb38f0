/* fuzz_tensor_info.c - tensor-info validation. The input is not a file but a recipe: the harness writes a
 * well-formed GGUF v3 header (so no time is lost failing on the magic or the metadata) holding an optional
 * general.alignment and up to 8 tensor infos whose name, dimension count, dimensions, type and offset come from
 * the input, often close to the values a valid file would have (so offsets and sizes are probed around their
 * limits), then a data section of input-chosen length. The reader must accept it only when every tensor is
 * consistent, and fuzz_gguf's invariants are checked on what it accepts. */
#include "fuzz_common.h"

typedef struct buf {
    uint8_t *p;
    size_t n, cap;
} buf;

static void put(buf *b, const void *src, size_t n) {
    if (b->n + n > b->cap) {
        size_t cap = (b->n + n) * 2;
        uint8_t *p = realloc(b->p, cap);
        if (p == NULL) __builtin_trap();
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, src, n);
    b->n += n;
}
static void put_u32(buf *b, uint32_t v) {
    uint8_t le[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    put(b, le, 4);
}
static void put_u64(buf *b, uint64_t v) {
    put_u32(b, (uint32_t)v);
    put_u32(b, (uint32_t)(v >> 32));
}
static void put_str(buf *b, const char *s, uint64_t len) {
    put_u64(b, len);
    put(b, s, (size_t)len);
}

static const uint32_t types[] = {0, 1, 2, 8, 12, 14, 30};              /* supported ggml ids */
static const uint64_t blocks[] = {1, 1, 32, 32, 256, 256, 1};           /* their block sizes */
static const uint64_t sizes[] = {4, 2, 18, 34, 144, 210, 2};            /* their block bytes */

/* A dimension near a block multiple, or an arbitrary / extreme value. */
static uint64_t pick_dim(fuzz_input *in, uint64_t block) {
    uint8_t mode = (uint8_t)fuzz_take(in, 1);
    switch (mode % 8) {
    case 0: return fuzz_take(in, 8);                                  /* anything */
    case 1: return (uint64_t)1 << (fuzz_take(in, 1) % 64);            /* powers of two up to 2^63 */
    case 2: return UINT64_MAX - fuzz_take(in, 1);                     /* near the top */
    case 3: return 0;
    default: return block * (1 + fuzz_take(in, 1) % 8) + (mode % 8 == 7 ? 1 : 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_input in = {data, size};
    buf b = {0};
    uint8_t flags = (uint8_t)fuzz_take(&in, 1);
    int n_tensors = flags % 9;
    int with_alignment = (flags >> 4) & 1;
    uint32_t alignment = 32;
    put(&b, "GGUF", 4);
    put_u32(&b, 3);
    put_u64(&b, (uint64_t)n_tensors);
    put_u64(&b, (uint64_t)with_alignment);
    if (with_alignment) {
        alignment = (flags >> 5) & 1 ? (uint32_t)fuzz_take(&in, 4) : 1u << (fuzz_take(&in, 1) % 12);
        put_str(&b, "general.alignment", 17);
        put_u32(&b, 4); /* UINT32 */
        put_u32(&b, alignment);
    }
    uint64_t a = alignment && (alignment & (alignment - 1)) == 0 ? alignment : 32;
    uint64_t offset = 0; /* where the next tensor would be in a valid file */
    for (int i = 0; i < n_tensors; i++) {
        uint8_t name_mode = (uint8_t)fuzz_take(&in, 1);
        char name[80];
        uint64_t name_len;
        if (name_mode % 4 == 0) { /* raw bytes from the input: duplicates, NULs, over-long names */
            name_len = name_mode / 4 % 80;
            for (uint64_t j = 0; j < name_len; j++) name[j] = (char)fuzz_take(&in, 1);
        } else {
            name_len = (uint64_t)snprintf(name, sizeof name, "t%d", i);
        }
        put_str(&b, name, name_len);
        uint8_t t = (uint8_t)fuzz_take(&in, 1);
        int ti = t % 7;
        uint32_t n_dims = t & 0x80 ? (uint32_t)fuzz_take(&in, 4) : 1 + (t >> 3) % 4;
        put_u32(&b, n_dims);
        uint64_t elements = 1, nbytes = 0;
        int overflow = 0;
        for (uint32_t d = 0; d < n_dims && d < 4; d++) {
            uint64_t ne = pick_dim(&in, d == 0 ? blocks[ti] : 1);
            overflow |= __builtin_mul_overflow(elements, ne, &elements);
            put_u64(&b, ne);
        }
        put_u32(&b, t & 0x40 ? (uint32_t)fuzz_take(&in, 4) : types[ti]);
        /* The size a valid file would give this tensor (0 when it overflows), to place the next offset. */
        if (overflow || __builtin_mul_overflow(elements / blocks[ti], sizes[ti], &nbytes)) nbytes = 0;
        uint8_t off_mode = (uint8_t)fuzz_take(&in, 1);
        uint64_t off = off_mode % 4 == 0 ? fuzz_take(&in, 8) : offset + (uint64_t)(off_mode % 4 == 1) * (off_mode >> 2);
        put_u64(&b, off);
        uint64_t padded = nbytes > UINT64_MAX - a ? UINT64_MAX : (nbytes + a - 1) / a * a;
        offset = offset > UINT64_MAX - padded ? UINT64_MAX : offset + padded;
    }
    /* Padding to the data section, then as many data bytes as the rest of the input asks for (capped). */
    while (a <= 4096 && b.n % a != 0) put(&b, "", 1);
    uint64_t want = fuzz_take(&in, 2) % (offset < 65536 ? offset + 64 : 65536);
    uint8_t zero[256] = {0};
    for (uint64_t left = want; left > 0;) {
        size_t n = left > sizeof zero ? sizeof zero : (size_t)left;
        put(&b, zero, n);
        left -= n;
    }
    mla4j_gguf *g = NULL;
    mla4j_status st = mla4j_gguf_open_memory(b.p, b.n, "tensors.gguf", &g);
    if (st == MLA4J_OK) {
        int64_t n = -1;
        FUZZ_REQUIRE(mla4j_gguf_tensor_count(g, &n) == MLA4J_OK && n == n_tensors);
        uint64_t data_offset = 0, prev_end = 0;
        FUZZ_REQUIRE(mla4j_gguf_get_data_offset(g, &data_offset) == MLA4J_OK);
        for (int64_t i = 0; i < n; i++) {
            mla4j_tensor_info ti;
            FUZZ_REQUIRE(mla4j_gguf_tensor_get_info(g, i, &ti) == MLA4J_OK);
            FUZZ_REQUIRE(data_offset <= b.n && ti.offset >= prev_end && ti.offset <= b.n - data_offset &&
                         ti.nbytes <= b.n - data_offset - ti.offset);
            prev_end = ti.offset + ti.nbytes;
            fuzz_touch(ti.data, ti.nbytes);
        }
        mla4j_gguf_free(g);
    } else {
        FUZZ_REQUIRE(g == NULL);
        fuzz_check_failure(st);
    }
    free(b.p);
    return 0;
}
