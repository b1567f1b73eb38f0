/* fuzz_common.h - helpers shared by the libFuzzer harnesses.
 *
 * The rule every harness checks: whatever the bytes, a call either succeeds or fails with a known status and a
 * non-empty message; it never crashes, reads out of bounds, leaks or loops (the sanitizers and libFuzzer's
 * -timeout / -rss_limit_mb catch those). FUZZ_REQUIRE turns a broken contract into a crash libFuzzer reports. */
#ifndef MLA4J_FUZZ_COMMON_H
#define MLA4J_FUZZ_COMMON_H

#include "mla4j.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_REQUIRE(cond)                                                                                            \
    do {                                                                                                              \
        if (!(cond)) {                                                                                                \
            fprintf(stderr, "%s:%d: contract broken: %s (last error: %s)\n", __FILE__, __LINE__, #cond,               \
                    mla4j_last_error());                                                                              \
            __builtin_trap();                                                                                         \
        }                                                                                                             \
    } while (0)

/* A failing call must return a real status and say why. */
static inline void fuzz_check_failure(mla4j_status st) {
    FUZZ_REQUIRE(st > MLA4J_OK && st <= MLA4J_ERR_INTERNAL);
    FUZZ_REQUIRE(st != MLA4J_ERR_INTERNAL);
    FUZZ_REQUIRE(mla4j_last_error()[0] != '\0');
}

/* Folds bytes into a value the compiler cannot drop, so that every byte of a returned view is really read
 * (AddressSanitizer then checks each of them). */
static volatile uint64_t fuzz_sink;
static inline void fuzz_touch(const void *p, uint64_t n) {
    const uint8_t *b = p;
    uint64_t h = 0;
    for (uint64_t i = 0; i < n; i++) h = h * 31 + b[i];
    fuzz_sink += h;
}

/* Consumes bytes from the front of the input. */
typedef struct fuzz_input {
    const uint8_t *data;
    size_t size;
} fuzz_input;

static inline uint64_t fuzz_take(fuzz_input *in, int nbytes) {
    uint64_t v = 0;
    for (int i = 0; i < nbytes; i++) {
        uint8_t b = 0;
        if (in->size > 0) {
            b = in->data[0];
            in->data++;
            in->size--;
        }
        v |= (uint64_t)b << (8 * i);
    }
    return v;
}

#endif
