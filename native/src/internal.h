/* internal.h - helpers shared by every source file of the library (not part of the public API). */
#ifndef MLA4J_INTERNAL_H
#define MLA4J_INTERNAL_H

#include "mla4j.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Records a printf-style message as this thread's last error and returns status, so that a failing
 * path reads: return mla4j_fail(MLA4J_ERR_FORMAT, "%s: tensor '%s' ...", path, name); */
mla4j_status mla4j_fail(mla4j_status status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Clears this thread's last error (called at the start of public entry points that succeed). */
void mla4j_clear_error(void);

/* Checked arithmetic: return false on overflow. */
static inline bool mla4j_mul_u64(uint64_t a, uint64_t b, uint64_t *out) { return !__builtin_mul_overflow(a, b, out); }
static inline bool mla4j_add_u64(uint64_t a, uint64_t b, uint64_t *out) { return !__builtin_add_overflow(a, b, out); }

/* Allocation that records MLA4J_ERR_OUT_OF_MEMORY with what was being allocated. NULL on failure.
 * Memory from mla4j_alloc_aligned is 64-byte aligned and released with free(). */
void *mla4j_alloc(size_t size, const char *what);
void *mla4j_alloc_aligned(size_t size, const char *what);

/* Bytes of physical memory of this machine, or 0 when unknown: buffers larger than this can never be used and are
 * refused up front with a message saying what to change (overcommit may let malloc succeed). */
uint64_t mla4j_physical_memory(void);

#define MLA4J_CHECK_ARG(cond, ...)                                                                                    \
    do {                                                                                                              \
        if (!(cond)) return mla4j_fail(MLA4J_ERR_INVALID_ARGUMENT, __VA_ARGS__);                                     \
    } while (0)

#endif
