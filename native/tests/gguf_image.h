/* gguf_image.h - a growable byte buffer for tests that write GGUF files in memory (test_moe.c, test_batch.c):
 * raw bytes, little-endian u32/u64 and GGUF strings (u64 length, then the bytes). */
#ifndef MLA4J_TESTS_GGUF_IMAGE_H
#define MLA4J_TESTS_GGUF_IMAGE_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct img {
    uint8_t *p;
    size_t len, cap;
} img;

static void put(img *b, const void *src, size_t n) {
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 4096;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->len, src, n);
    b->len += n;
}
static void put_u32(img *b, uint32_t v) { put(b, &v, 4); }
static void put_u64(img *b, uint64_t v) { put(b, &v, 8); }
static void put_str(img *b, const char *s) {
    put_u64(b, strlen(s));
    put(b, s, strlen(s));
}

#endif
