/* check.h - the minimal test harness of the native unit tests (one header, no dependency).
 * CHECK(cond) records a failure with file and line and goes on; a test program ends with
 * `return check_summary("name");`, which prints "N passed, N failed" and returns the exit status. */
#ifndef MLA4J_CHECK_H
#define MLA4J_CHECK_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mla4j.h"

static int check_passed_count = 0;
static int check_failed_count = 0;

#define CHECK(cond)                                                                                                   \
    do {                                                                                                              \
        if (cond) {                                                                                                   \
            check_passed_count++;                                                                                     \
        } else {                                                                                                      \
            check_failed_count++;                                                                                     \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);                                  \
        }                                                                                                             \
    } while (0)

#define CHECK_MSG(cond, ...)                                                                                          \
    do {                                                                                                              \
        if (cond) {                                                                                                   \
            check_passed_count++;                                                                                     \
        } else {                                                                                                      \
            check_failed_count++;                                                                                     \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond);                                  \
            fprintf(stderr, __VA_ARGS__);                                                                             \
            fputc('\n', stderr);                                                                                      \
        }                                                                                                             \
    } while (0)

/* |a-b| <= tol * max(1, |b|) */
#define CHECK_NEAR_REL(a, b, tol) CHECK_MSG(fabs((double)(a) - (double)(b)) <= (tol) * fmax(1.0, fabs((double)(b))), \
                                            "%g vs %g", (double)(a), (double)(b))

/* The whole file at path in a malloc()ed buffer (size in *size), or NULL when it cannot be read. */
static inline uint8_t *check_read_file(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = n < 0 ? NULL : malloc(n > 0 ? (size_t)n : 1);
    if (buf != NULL && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *size = n < 0 ? 0 : (size_t)n;
    return buf;
}

/* Directory of the shared fixtures (MLA4J_FIXTURES, default ../shared/fixtures), or NULL with a visible
 * message when it does not exist: tests that need fixtures skip themselves then. */
static inline const char *check_fixtures_dir(void) {
    const char *dir = getenv("MLA4J_FIXTURES");
    if (dir == NULL || dir[0] == '\0') dir = "../shared/fixtures";
    char probe[4096];
    snprintf(probe, sizeof probe, "%s/SOURCES.md", dir);
    FILE *f = fopen(probe, "rb");
    if (f == NULL) {
        printf("SKIPPED: fixtures not found at %s (set MLA4J_FIXTURES)\n", dir);
        return NULL;
    }
    fclose(f);
    return dir;
}

/* Names the LAPACK/BLAS that ctest passes in MLA4J_TEST_LAPACK (the OpenBLAS Maven unpacks from the Java API's
 * dependency, CMake option MLA4J_TEST_LAPACK) with mla4j_linalg_set_library, as the Java API does, so the tests of
 * conversion need no system package. Returns that path, or NULL when none was given (the system's is tried). */
static inline const char *check_use_test_lapack(void) {
    const char *path = getenv("MLA4J_TEST_LAPACK");
    if (path == NULL || path[0] == '\0') return NULL;
    if (mla4j_linalg_set_library(path) != MLA4J_OK) {
        fprintf(stderr, "mla4j_linalg_set_library(%s) failed: %s\n", path, mla4j_last_error());
        check_failed_count++;
    }
    return path;
}

static int check_summary(const char *name) {
    printf("%s: %d passed, %d failed\n", name, check_passed_count, check_failed_count);
    return check_failed_count == 0 ? 0 : 1;
}

#endif
