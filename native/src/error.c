/* error.c - the thread-local last-error message, status names, checked allocation and the memory size. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static _Thread_local char last_error[1024];

mla4j_status mla4j_fail(mla4j_status status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return status;
}

void mla4j_clear_error(void) { last_error[0] = '\0'; }

MLA4J_API const char *mla4j_last_error(void) { return last_error; }

MLA4J_API const char *mla4j_status_name(int32_t status) {
    switch (status) {
    case MLA4J_OK: return "MLA4J_OK";
    case MLA4J_ERR_INVALID_ARGUMENT: return "MLA4J_ERR_INVALID_ARGUMENT";
    case MLA4J_ERR_IO: return "MLA4J_ERR_IO";
    case MLA4J_ERR_FORMAT: return "MLA4J_ERR_FORMAT";
    case MLA4J_ERR_UNSUPPORTED: return "MLA4J_ERR_UNSUPPORTED";
    case MLA4J_ERR_OUT_OF_MEMORY: return "MLA4J_ERR_OUT_OF_MEMORY";
    case MLA4J_ERR_STATE: return "MLA4J_ERR_STATE";
    case MLA4J_ERR_NOT_FOUND: return "MLA4J_ERR_NOT_FOUND";
    case MLA4J_ERR_CANCELLED: return "MLA4J_ERR_CANCELLED";
    case MLA4J_ERR_INTERNAL: return "MLA4J_ERR_INTERNAL";
    default: return "MLA4J_ERR_UNKNOWN";
    }
}

MLA4J_API const char *mla4j_version(void) { return MLA4J_VERSION_STRING; }

void *mla4j_alloc(size_t size, const char *what) {
    void *p = malloc(size == 0 ? 1 : size);
    if (p == NULL) mla4j_fail(MLA4J_ERR_OUT_OF_MEMORY, "out of memory allocating %zu bytes for %s", size, what);
    return p;
}

void *mla4j_alloc_aligned(size_t size, const char *what) {
    void *p = NULL;
    size_t rounded = (size + 63) / 64 * 64;
    if (rounded < size || posix_memalign(&p, 64, rounded == 0 ? 64 : rounded) != 0) {
        mla4j_fail(MLA4J_ERR_OUT_OF_MEMORY, "out of memory allocating %zu bytes for %s", size, what);
        return NULL;
    }
    return p;
}

uint64_t mla4j_physical_memory(void) {
    long pages = sysconf(_SC_PHYS_PAGES), page_size = sysconf(_SC_PAGESIZE);
    return pages > 0 && page_size > 0 ? (uint64_t)pages * (uint64_t)page_size : 0;
}
