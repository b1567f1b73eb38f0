/* test_linalg.c - the LAPACK/BLAS wrappers against plain reference loops and matrices with known decompositions:
 * gemm in all four transpose combinations, eigenpairs and SVDs reconstructing their matrix with orthonormal
 * vectors, least squares against the normal equations and known minimum-norm solutions, refused arguments, and
 * and, in child processes, which library gets loaded: MLA4J_LAPACK overrides mla4j_linalg_set_library and is then
 * the only one tried, a named library that cannot be loaded falls back to the system's, and the message when none
 * loads lists each one. The library comes from MLA4J_TEST_LAPACK (the OpenBLAS Maven unpacks from the Java API's
 * org.bytedeco:openblas dependency): LAPACK missing here is a failure, not a skip. */
#include "check.h"
#include "mla4j.h"

#include <limits.h>
#include <sys/wait.h>
#include <unistd.h>

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static double rnd(void) { /* uniform in [-1, 1) */
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) / (double)(1ull << 52) - 1.0;
}
static double *rand_matrix(int64_t r, int64_t c) {
    double *a = malloc((size_t)(r * c) * sizeof(double));
    for (int64_t i = 0; i < r * c; i++) a[i] = rnd();
    return a;
}
static double max_abs_diff(const double *a, const double *b, int64_t n) {
    double d = 0;
    for (int64_t i = 0; i < n; i++) d = fmax(d, fabs(a[i] - b[i]));
    return d;
}
/* Row-major C = A B (plain loops, the reference). */
static void ref_mul(const double *a, const double *b, int64_t m, int64_t k, int64_t n, double *c) {
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double s = 0;
            for (int64_t l = 0; l < k; l++) s += a[i * k + l] * b[l * n + j];
            c[i * n + j] = s;
        }
}
static void transpose(const double *a, int64_t r, int64_t c, double *t) {
    for (int64_t i = 0; i < r; i++)
        for (int64_t j = 0; j < c; j++) t[j * r + i] = a[i * c + j];
}
/* max |Q^T Q - I| over the k columns of the r x k matrix q. */
static double orthonormality_error(const double *q, int64_t r, int64_t k) {
    double e = 0;
    for (int64_t a = 0; a < k; a++)
        for (int64_t b = 0; b < k; b++) {
            double s = 0;
            for (int64_t i = 0; i < r; i++) s += q[i * k + a] * q[i * k + b];
            e = fmax(e, fabs(s - (a == b ? 1.0 : 0.0)));
        }
    return e;
}

static void test_gemm(void) {
    const int64_t m = 5, n = 7, k = 3;
    double *a = rand_matrix(m, k), *b = rand_matrix(k, n), *c0 = rand_matrix(m, n);
    double at[3 * 5], bt[7 * 3], ref[5 * 7], c[5 * 7];
    transpose(a, m, k, at);
    transpose(b, k, n, bt);
    ref_mul(a, b, m, k, n, ref);
    for (int i = 0; i < m * n; i++) ref[i] = 1.5 * ref[i] + 0.5 * c0[i];
    for (int ta = 0; ta < 2; ta++) {
        for (int tb = 0; tb < 2; tb++) {
            memcpy(c, c0, sizeof c);
            CHECK(mla4j_linalg_gemm(ta, tb, m, n, k, 1.5, ta ? at : a, tb ? bt : b, 0.5, c) == MLA4J_OK);
            double d = max_abs_diff(c, ref, m * n);
            CHECK_MSG(d < 1e-13, "gemm trans_a %d trans_b %d: max difference %g", ta, tb, d);
        }
    }
    /* beta = 0 writes C without reading it (NaN there must not leak through). */
    for (int i = 0; i < m * n; i++) c[i] = NAN;
    CHECK(mla4j_linalg_gemm(0, 0, m, n, k, 1.0, a, b, 0.0, c) == MLA4J_OK);
    ref_mul(a, b, m, k, n, ref);
    CHECK(max_abs_diff(c, ref, m * n) < 1e-13);
    free(a);
    free(b);
    free(c0);
}

static void test_eigh(void) {
    /* Known: eigenvalues 5, 3, 1 with eigenvectors e3, (1,1,0)/sqrt2, (1,-1,0)/sqrt2. */
    const double a3[9] = {2, 1, 0, 1, 2, 0, 0, 0, 5};
    double w[3], v[9];
    CHECK(mla4j_linalg_eigh(a3, 3, 3, w, v) == MLA4J_OK);
    CHECK(fabs(w[0] - 5) < 1e-13 && fabs(w[1] - 3) < 1e-13 && fabs(w[2] - 1) < 1e-13);
    CHECK(fabs(fabs(v[2 * 3 + 0]) - 1) < 1e-13);                                   /* column 0 = +-e3 */
    CHECK(fabs(fabs(v[0 * 3 + 1]) - M_SQRT1_2) < 1e-13 && fabs(v[0 * 3 + 1] - v[1 * 3 + 1]) < 1e-13);
    CHECK(fabs(fabs(v[0 * 3 + 2]) - M_SQRT1_2) < 1e-13 && fabs(v[0 * 3 + 2] + v[1 * 3 + 2]) < 1e-13);
    /* Only the top 2 requested. */
    double w2[2], v2[6];
    CHECK(mla4j_linalg_eigh(a3, 3, 2, w2, v2) == MLA4J_OK && fabs(w2[0] - 5) < 1e-13 && fabs(w2[1] - 3) < 1e-13);

    /* Random symmetric 20 x 20: the full decomposition reconstructs A; a top-4 one holds A v = lambda v. */
    const int64_t n = 20;
    double *r = rand_matrix(n, n), *a = malloc(n * n * sizeof(double)), *vals = malloc(n * sizeof(double));
    double *vecs = malloc(n * n * sizeof(double)), *rec = malloc(n * n * sizeof(double));
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < n; j++) a[i * n + j] = r[i * n + j] + r[j * n + i];
    CHECK(mla4j_linalg_eigh(a, n, n, vals, vecs) == MLA4J_OK);
    for (int64_t j = 1; j < n; j++) CHECK(vals[j - 1] >= vals[j]);
    CHECK_MSG(orthonormality_error(vecs, n, n) < 1e-12, "eigenvectors not orthonormal: %g", orthonormality_error(vecs, n, n));
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < n; j++) {
            double s = 0;
            for (int64_t l = 0; l < n; l++) s += vecs[i * n + l] * vals[l] * vecs[j * n + l];
            rec[i * n + j] = s;
        }
    CHECK_MSG(max_abs_diff(rec, a, n * n) < 1e-12, "V diag V^T differs from A by %g", max_abs_diff(rec, a, n * n));
    double top[4], tv[20 * 4];
    CHECK(mla4j_linalg_eigh(a, n, 4, top, tv) == MLA4J_OK);
    double worst = 0;
    for (int64_t j = 0; j < 4; j++) {
        CHECK_NEAR_REL(top[j], vals[j], 1e-12);
        for (int64_t i = 0; i < n; i++) {
            double s = 0;
            for (int64_t l = 0; l < n; l++) s += a[i * n + l] * tv[l * 4 + j];
            worst = fmax(worst, fabs(s - top[j] * tv[i * 4 + j]));
        }
    }
    CHECK_MSG(worst < 1e-12, "A v - lambda v up to %g", worst);
    CHECK(orthonormality_error(tv, n, 4) < 1e-12);
    free(r);
    free(a);
    free(vals);
    free(vecs);
    free(rec);
}

/* A (m x n) against u diag(s) vt for the top k; checks orthonormality and, for k = min(m, n), exact reconstruction. */
static void check_svd(const double *a, int64_t m, int64_t n, int64_t k) {
    double *u = malloc((size_t)(m * k) * sizeof(double)), *s = malloc((size_t)k * sizeof(double));
    double *vt = malloc((size_t)(k * n) * sizeof(double)), *v = malloc((size_t)(k * n) * sizeof(double));
    CHECK(mla4j_linalg_svd(a, m, n, k, u, s, vt) == MLA4J_OK);
    for (int64_t j = 1; j < k; j++) CHECK(s[j - 1] >= s[j] && s[j] >= 0);
    transpose(vt, k, n, v);
    CHECK_MSG(orthonormality_error(u, m, k) < 1e-12, "U columns not orthonormal (%lld x %lld, k %lld)", (long long)m,
              (long long)n, (long long)k);
    CHECK_MSG(orthonormality_error(v, n, k) < 1e-12, "V^T rows not orthonormal");
    /* A v_j = s_j u_j for every computed triplet. */
    double worst = 0;
    for (int64_t j = 0; j < k; j++)
        for (int64_t i = 0; i < m; i++) {
            double t = 0;
            for (int64_t l = 0; l < n; l++) t += a[i * n + l] * vt[j * n + l];
            worst = fmax(worst, fabs(t - s[j] * u[i * k + j]));
        }
    CHECK_MSG(worst < 1e-12, "A v - s u up to %g", worst);
    const int64_t mn = m < n ? m : n;
    if (k == mn) {
        double *rec = malloc((size_t)(m * n) * sizeof(double));
        for (int64_t i = 0; i < m; i++)
            for (int64_t l = 0; l < n; l++) {
                double t = 0;
                for (int64_t j = 0; j < k; j++) t += u[i * k + j] * s[j] * vt[j * n + l];
                rec[i * n + l] = t;
            }
        CHECK_MSG(max_abs_diff(rec, a, m * n) < 1e-12, "U S V^T differs from A by %g", max_abs_diff(rec, a, m * n));
        free(rec);
    }
    free(u);
    free(s);
    free(vt);
    free(v);
}

static void test_svd(void) {
    /* Known: singular values 3 and 2, u = e1, e2 (signs free). */
    const double a[6] = {3, 0, 0, -2, 0, 0};
    double u[6], s[2], vt[4];
    CHECK(mla4j_linalg_svd(a, 3, 2, 2, u, s, vt) == MLA4J_OK);
    CHECK(fabs(s[0] - 3) < 1e-14 && fabs(s[1] - 2) < 1e-14);
    CHECK(fabs(fabs(u[0]) - 1) < 1e-14 && fabs(fabs(u[3]) - 1) < 1e-14 && fabs(u[0] * vt[0] - 1) < 1e-14 &&
          fabs(u[3] * vt[3] + 1) < 1e-14);
    double *tall = rand_matrix(9, 6), *wide = rand_matrix(4, 7);
    check_svd(tall, 9, 6, 6);
    check_svd(tall, 9, 6, 3);
    check_svd(wide, 4, 7, 4);
    check_svd(wide, 4, 7, 1);
    free(tall);
    free(wide);
}

/* Solves the n x n system g x = r (one right-hand side) by Gaussian elimination with partial pivoting. */
static void ref_solve(double *g, double *r, int64_t n) {
    for (int64_t c = 0; c < n; c++) {
        int64_t p = c;
        for (int64_t i = c + 1; i < n; i++)
            if (fabs(g[i * n + c]) > fabs(g[p * n + c])) p = i;
        for (int64_t j = 0; j < n; j++) {
            double t = g[c * n + j];
            g[c * n + j] = g[p * n + j];
            g[p * n + j] = t;
        }
        double t = r[c];
        r[c] = r[p];
        r[p] = t;
        for (int64_t i = c + 1; i < n; i++) {
            double f = g[i * n + c] / g[c * n + c];
            for (int64_t j = c; j < n; j++) g[i * n + j] -= f * g[c * n + j];
            r[i] -= f * r[c];
        }
    }
    for (int64_t i = n - 1; i >= 0; i--) {
        for (int64_t j = i + 1; j < n; j++) r[i] -= g[i * n + j] * r[j];
        r[i] /= g[i * n + i];
    }
}

static void test_lstsq(void) {
    /* Overdetermined, well conditioned: x solves the normal equations A^T A x = A^T b. */
    const int64_t m = 12, n = 4, nrhs = 2;
    double *a = rand_matrix(m, n), *b = rand_matrix(m, nrhs), x[4 * 2];
    for (int64_t i = 0; i < n; i++) a[i * n + i] += 3.0;
    CHECK(mla4j_linalg_lstsq(a, m, n, b, nrhs, x) == MLA4J_OK);
    for (int64_t r = 0; r < nrhs; r++) {
        double g[16], rhs[4];
        for (int64_t i = 0; i < n; i++) {
            for (int64_t j = 0; j < n; j++) {
                double s = 0;
                for (int64_t t = 0; t < m; t++) s += a[t * n + i] * a[t * n + j];
                g[i * n + j] = s;
            }
            double s = 0;
            for (int64_t t = 0; t < m; t++) s += a[t * n + i] * b[t * nrhs + r];
            rhs[i] = s;
        }
        ref_solve(g, rhs, n);
        for (int64_t i = 0; i < n; i++) CHECK_NEAR_REL(x[i * nrhs + r], rhs[i], 1e-12);
    }
    /* Rank deficient: x1 + x2 = 1 has the minimum-norm solution (0.5, 0.5). */
    const double ad[4] = {1, 1, 2, 2}, bd[2] = {1, 2};
    double xd[2];
    CHECK(mla4j_linalg_lstsq(ad, 2, 2, bd, 1, xd) == MLA4J_OK && fabs(xd[0] - 0.5) < 1e-13 && fabs(xd[1] - 0.5) < 1e-13);
    /* Underdetermined: x1 + x2 + x3 = 3 -> (1, 1, 1). */
    const double au[3] = {1, 1, 1}, bu[1] = {3};
    double xu[3];
    CHECK(mla4j_linalg_lstsq(au, 1, 3, bu, 1, xu) == MLA4J_OK && fabs(xu[0] - 1) < 1e-13 && fabs(xu[1] - 1) < 1e-13 &&
          fabs(xu[2] - 1) < 1e-13);
    free(a);
    free(b);
}

#define CHECK_REFUSED(call, status, needle)                                                                           \
    CHECK_MSG((call) == (status) && strstr(mla4j_last_error(), needle) != NULL, "%s: '%s'", #call, mla4j_last_error())

static void test_errors(void) {
    double a[4] = {1, 2, 2, 1}, o[16], p[16], q[16];
    const int64_t big = (int64_t)INT32_MAX + 1;
    CHECK_REFUSED(mla4j_linalg_gemm(0, 0, 2, 2, 2, 1, NULL, a, 0, o), MLA4J_ERR_INVALID_ARGUMENT, "NULL");
    CHECK_REFUSED(mla4j_linalg_gemm(2, 0, 2, 2, 2, 1, a, a, 0, o), MLA4J_ERR_INVALID_ARGUMENT, "trans_a");
    CHECK_REFUSED(mla4j_linalg_gemm(0, 0, 0, 2, 2, 1, a, a, 0, o), MLA4J_ERR_INVALID_ARGUMENT, "sizes");
    CHECK_REFUSED(mla4j_linalg_gemm(0, 0, 2, -1, 2, 1, a, a, 0, o), MLA4J_ERR_INVALID_ARGUMENT, "sizes");
    CHECK_REFUSED(mla4j_linalg_gemm(0, 0, 2, 2, big, 1, a, a, 0, o), MLA4J_ERR_INVALID_ARGUMENT, "sizes");
    CHECK_REFUSED(mla4j_linalg_gemm(0, 0, INT32_MAX, INT32_MAX, INT32_MAX, 1, a, a, 0, o), MLA4J_ERR_INVALID_ARGUMENT,
                  "too large");
    CHECK_REFUSED(mla4j_linalg_eigh(a, 2, 3, o, p), MLA4J_ERR_INVALID_ARGUMENT, "k must be in [1, n = 2]");
    CHECK_REFUSED(mla4j_linalg_eigh(a, 2, 0, o, p), MLA4J_ERR_INVALID_ARGUMENT, "k must be");
    CHECK_REFUSED(mla4j_linalg_eigh(a, 0, 1, o, p), MLA4J_ERR_INVALID_ARGUMENT, "n must be");
    CHECK_REFUSED(mla4j_linalg_eigh(a, 2, 1, NULL, p), MLA4J_ERR_INVALID_ARGUMENT, "NULL");
    const double asym[4] = {1, 2, 3, 1};
    CHECK_REFUSED(mla4j_linalg_eigh(asym, 2, 1, o, p), MLA4J_ERR_INVALID_ARGUMENT, "not symmetric");
    const double nan_m[4] = {1, NAN, NAN, 1};
    CHECK_REFUSED(mla4j_linalg_eigh(nan_m, 2, 1, o, p), MLA4J_ERR_INVALID_ARGUMENT, "NaN");
    CHECK_REFUSED(mla4j_linalg_svd(a, 2, 2, 3, o, p, q), MLA4J_ERR_INVALID_ARGUMENT, "k must be in [1, min(m, n) = 2]");
    CHECK_REFUSED(mla4j_linalg_svd(a, 2, big, 1, o, p, q), MLA4J_ERR_INVALID_ARGUMENT, "sizes");
    CHECK_REFUSED(mla4j_linalg_svd(nan_m, 2, 2, 1, o, p, q), MLA4J_ERR_INVALID_ARGUMENT, "NaN");
    CHECK_REFUSED(mla4j_linalg_lstsq(a, 2, 2, a, 0, o), MLA4J_ERR_INVALID_ARGUMENT, "sizes");
    CHECK_REFUSED(mla4j_linalg_lstsq(a, 2, 2, NULL, 1, o), MLA4J_ERR_INVALID_ARGUMENT, "NULL");
    CHECK_REFUSED(mla4j_linalg_lstsq(a, INT32_MAX, INT32_MAX, a, INT32_MAX, o), MLA4J_ERR_INVALID_ARGUMENT, "too large");
    /* A refused call leaves its outputs alone and the library usable. */
    double w[2] = {-7, -7};
    CHECK(mla4j_linalg_eigh(a, 2, 3, w, p) != MLA4J_OK && w[0] == -7);
    CHECK(mla4j_linalg_eigh(a, 2, 2, w, p) == MLA4J_OK && fabs(w[0] - 3) < 1e-14 && fabs(w[1] + 1) < 1e-14);
}

/* True when a and b name the same file (after resolving links and relative paths). */
static int same_file(const char *a, const char *b) {
    char ra[PATH_MAX], rb[PATH_MAX];
    return realpath(a, ra) != NULL && realpath(b, rb) != NULL && strcmp(ra, rb) == 0;
}

/* Child mode (MLA4J_LAPACK names a missing library, and a working library was named with set_library): everything
 * refuses with the full message, which names only MLA4J_LAPACK's library. */
static int child_unavailable(void) {
    const char *path = getenv("MLA4J_LAPACK");
    const char *named = check_use_test_lapack();
    double a[1] = {1}, o[1];
    CHECK(mla4j_linalg_available() == MLA4J_ERR_UNSUPPORTED);
    const char *msg = mla4j_last_error();
    printf("message without LAPACK: %s\n", msg);
    CHECK(strstr(msg, path) != NULL && strstr(msg, "apt-get install libopenblas0") != NULL &&
          strstr(msg, "MLA4J_LAPACK") != NULL && strstr(msg, "No such file") != NULL);
    CHECK(strstr(msg, "libopenblas.so.0") == NULL); /* an explicit MLA4J_LAPACK is the only library tried */
    CHECK(named == NULL || strstr(msg, named) == NULL);
    CHECK(mla4j_linalg_gemm(0, 0, 1, 1, 1, 1, a, a, 0, o) == MLA4J_ERR_UNSUPPORTED && strcmp(mla4j_last_error(), msg) == 0);
    CHECK(mla4j_linalg_eigh(a, 1, 1, o, o) == MLA4J_ERR_UNSUPPORTED);
    return check_summary("test_linalg (no LAPACK)");
}

/* Child mode (MLA4J_LAPACK names the working test library, set_library a missing one): MLA4J_LAPACK's is loaded. */
static int child_override(void) {
    const char *path = getenv("MLA4J_LAPACK");
    CHECK(mla4j_linalg_set_library("/nonexistent/libopenblas-named-by-the-api.so") == MLA4J_OK);
    CHECK_MSG(mla4j_linalg_available() == MLA4J_OK, "%s", mla4j_last_error());
    const char *lib = NULL;
    CHECK(mla4j_linalg_get_library(&lib) == MLA4J_OK && lib != NULL);
    CHECK_MSG(lib != NULL && same_file(lib, path), "loaded %s, MLA4J_LAPACK is %s", lib, path);
    return check_summary("test_linalg (MLA4J_LAPACK override)");
}

/* Child mode (no MLA4J_LAPACK, set_library names a missing file): the system's libraries are tried next, so either
 * one of them loads or the message lists all three. */
static int child_fallback(void) {
    const char *missing = "/nonexistent/libopenblas-named-by-the-api.so";
    CHECK(mla4j_linalg_set_library(missing) == MLA4J_OK);
    if (mla4j_linalg_available() == MLA4J_OK) {
        const char *lib = NULL;
        CHECK(mla4j_linalg_get_library(&lib) == MLA4J_OK && lib != NULL && strcmp(lib, missing) != 0);
        printf("fell back to the system's %s\n", lib);
    } else {
        const char *msg = mla4j_last_error();
        printf("message without a system LAPACK: %s\n", msg);
        CHECK(strstr(msg, missing) != NULL && strstr(msg, "libopenblas.so.0") != NULL &&
              strstr(msg, "liblapack.so.3") != NULL);
    }
    return check_summary("test_linalg (fallback)");
}

/* Runs this program again with mode as its argument and MLA4J_LAPACK set to lapack (NULL: unset). */
static void run_child(const char *mode, const char *lapack) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        if (lapack != NULL) setenv("MLA4J_LAPACK", lapack, 1);
        else unsetenv("MLA4J_LAPACK");
        char *argv[] = {"test_linalg", (char *)mode, NULL};
        execv("/proc/self/exe", argv);
        _exit(127);
    }
    int status = 0;
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
    CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child %s failed (status %d)", mode, status);
}

/* Which library is loaded, and that it can no longer be changed. */
static void test_library_choice(const char *named) {
    const char *lib = NULL;
    CHECK(mla4j_linalg_get_library(&lib) == MLA4J_OK && lib != NULL);
    const char *env = getenv("MLA4J_LAPACK");
    const char *expected = env != NULL && env[0] != '\0' ? env : named;
    if (expected != NULL) CHECK_MSG(same_file(lib, expected), "loaded %s, expected %s", lib, expected);
    else printf("MLA4J_TEST_LAPACK is not set: the system's LAPACK was loaded\n");
    CHECK(mla4j_linalg_set_library("/some/other/liblapack.so") == MLA4J_ERR_STATE &&
          strstr(mla4j_last_error(), "already loaded") != NULL);
    CHECK(mla4j_linalg_set_library(named) == MLA4J_OK); /* the same one again (NULL: the same "none") */
    CHECK(mla4j_linalg_available() == MLA4J_OK);

    run_child("--child-unavailable", "/nonexistent/liblapack-for-mla4j-test.so");
    if (named != NULL) run_child("--child-override", named);
    run_child("--child-fallback", NULL);
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--child-unavailable") == 0) return child_unavailable();
    if (argc > 1 && strcmp(argv[1], "--child-override") == 0) return child_override();
    if (argc > 1 && strcmp(argv[1], "--child-fallback") == 0) return child_fallback();
    const char *named = check_use_test_lapack();
    mla4j_status st = mla4j_linalg_available();
    CHECK_MSG(st == MLA4J_OK, "LAPACK is needed by these tests (ctest gets it from MLA4J_TEST_LAPACK, which Maven sets "
              "to the OpenBLAS it unpacks): %s", mla4j_last_error());
    if (st != MLA4J_OK) return check_summary("test_linalg");
    const char *lib = NULL;
    CHECK(mla4j_linalg_get_library(&lib) == MLA4J_OK && lib != NULL);
    printf("LAPACK from %s\n", lib);
    test_gemm();
    test_eigh();
    test_svd();
    test_lstsq();
    test_errors();
    test_library_choice(named);
    return check_summary("test_linalg");
}
