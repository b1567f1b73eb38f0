/* check.h - the minimal test harness of the native unit tests (one header, no dependency).
 * CHECK(cond) records a failure with file and line and goes on; a test program ends with
 * `return check_summary("name");`, which prints "N passed, N failed" and returns the exit status. */
#ifndef MLA4J_CHECK_H
#define MLA4J_CHECK_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static int check_summary(const char *name) {
    printf("%s: %d passed, %d failed\n", name, check_passed_count, check_failed_count);
    return check_failed_count == 0 ? 0 : 1;
}

#endif
