/* linalg.c - dense linear algebra for the converter through LAPACK/BLAS loaded with dlopen on first use.
 *
 * Why dlopen: inference must need nothing beyond libc, libm and pthreads, so libmla4j.so does not link LAPACK;
 * only conversion (eigen-decompositions, SVDs, least squares of calibration statistics) loads it, from
 * $MLA4J_LAPACK when set (and then only that), else the library named by mla4j_linalg_set_library (the Java API
 * names the OpenBLAS it bundles, so that no system package is needed), else libopenblas.so.0, else
 * liblapack.so.3 (+ libblas.so.3).
 *
 * The public API takes ROW-MAJOR matrices; LAPACK is column-major. A row-major m x n array is the column-major
 * n x m transpose, which every function below uses instead of copying where the algebra allows it. */
#include "linalg.h"

#include <dlfcn.h>
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------------------------------- */
/* Loading                                                                                        */
/* ---------------------------------------------------------------------------------------------- */

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static linalg_fns fns;
static int fns_ok;
static char load_error[4096];
static char loaded_from[4096];
/* The library named by mla4j_linalg_set_library, and whether loading has begun (after which it is fixed). */
static pthread_mutex_t config_lock = PTHREAD_MUTEX_INITIALIZER;
static char configured[4096];
static int load_started;

/* Appends a formatted piece to load_error (truncating quietly: the message is for people). */
static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note(const char *fmt, ...) {
    size_t used = strlen(load_error);
    if (used + 1 >= sizeof load_error) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(load_error + used, sizeof load_error - used, fmt, ap);
    va_end(ap);
}

/* Resolves the five functions from lib (BLAS ones also from blas, the reference libblas.so.3, when lib lacks
 * them). Returns the name of the first missing symbol, or NULL when all were found. */
static const char *resolve(void *lib, void *blas, linalg_fns *f) {
    struct { const char *name; void **slot; int is_blas; } syms[] = {
        {"dgemm_", (void **)&f->dgemm, 1},   {"dsyrk_", (void **)&f->dsyrk, 1}, {"dsyevr_", (void **)&f->dsyevr, 0},
        {"dgesdd_", (void **)&f->dgesdd, 0}, {"dgelsd_", (void **)&f->dgelsd, 0},
    };
    for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++) {
        void *p = dlsym(lib, syms[i].name);
        if (p == NULL && syms[i].is_blas && blas != NULL) p = dlsym(blas, syms[i].name);
        if (p == NULL) return syms[i].name;
        *syms[i].slot = p;
    }
    return NULL;
}

/* The file that defines the function at addr, as the dynamic loader resolved it (an absolute path for a library
 * found through the search path), into loaded_from; the candidate's name when the loader cannot tell. */
static void record_origin(void *addr, const char *candidate) {
    Dl_info info;
    const char *file = dladdr(addr, &info) != 0 && info.dli_fname != NULL && info.dli_fname[0] != '\0' ? info.dli_fname
                                                                                                     : candidate;
    snprintf(loaded_from, sizeof loaded_from, "%s", file);
}

static void load(void) {
    pthread_mutex_lock(&config_lock);
    load_started = 1;
    char chosen[sizeof configured];
    memcpy(chosen, configured, sizeof chosen);
    pthread_mutex_unlock(&config_lock);

    const char *env = getenv("MLA4J_LAPACK");
    const int from_env = env != NULL && env[0] != '\0';
    const char *cands[3];
    size_t n_cands = 0;
    if (from_env) {
        /* An explicit MLA4J_LAPACK is the only candidate: silently falling back to another library would hide a typo. */
        cands[n_cands++] = env;
    } else {
        if (chosen[0] != '\0') cands[n_cands++] = chosen;
        cands[n_cands++] = "libopenblas.so.0";
        cands[n_cands++] = "liblapack.so.3";
    }
    note("LAPACK/BLAS could not be loaded (model conversion needs it; inference does not). Tried:");
    for (size_t i = 0; i < n_cands; i++) {
        const char *source = from_env ? "MLA4J_LAPACK=" : "";
        void *lib = dlopen(cands[i], RTLD_NOW | RTLD_LOCAL);
        if (lib == NULL) {
            const char *e = dlerror();
            note(" [%s%s: %s]", source, cands[i], e != NULL ? e : "dlopen failed");
            continue;
        }
        void *blas = NULL;
        if (dlsym(lib, "dgemm_") == NULL || dlsym(lib, "dsyrk_") == NULL) blas = dlopen("libblas.so.3", RTLD_NOW | RTLD_LOCAL);
        linalg_fns f;
        const char *missing = resolve(lib, blas, &f);
        if (missing == NULL) {
            fns = f;
            fns_ok = 1;
            record_origin((void *)f.dsyevr, cands[i]);
            return; /* the libraries stay loaded for the life of the process */
        }
        note(" [%s%s: no symbol %s]", source, cands[i], missing);
        if (blas != NULL) dlclose(blas);
        dlclose(lib);
    }
    note(". The Java API bundles OpenBLAS (org.bytedeco:openblas on the class path); without it install libopenblas0 "
         "(Debian/Ubuntu: apt-get install libopenblas0) or set MLA4J_LAPACK to the path of a LAPACK library");
}

const linalg_fns *linalg_load(void) {
    pthread_once(&load_once, load);
    if (!fns_ok) {
        mla4j_fail(MLA4J_ERR_UNSUPPORTED, "%s", load_error);
        return NULL;
    }
    return &fns;
}

MLA4J_API mla4j_status mla4j_linalg_available(void) {
    if (linalg_load() == NULL) return MLA4J_ERR_UNSUPPORTED;
    mla4j_clear_error();
    return MLA4J_OK;
}

MLA4J_API mla4j_status mla4j_linalg_get_library(const char **out) {
    MLA4J_CHECK_ARG(out != NULL, "mla4j_linalg_get_library: out must not be NULL");
    if (linalg_load() == NULL) return MLA4J_ERR_UNSUPPORTED;
    *out = loaded_from;
    mla4j_clear_error();
    return MLA4J_OK;
}

MLA4J_API mla4j_status mla4j_linalg_set_library(const char *path) {
    const char *p = path != NULL ? path : "";
    MLA4J_CHECK_ARG(strlen(p) < sizeof configured, "mla4j_linalg_set_library: the path is longer than %zu bytes",
                    sizeof configured - 1);
    pthread_mutex_lock(&config_lock);
    if (load_started) {
        /* The same path again is harmless; another one could no longer take effect, which the caller must know. */
        int same = strcmp(configured, p) == 0;
        pthread_mutex_unlock(&config_lock);
        if (same) {
            mla4j_clear_error();
            return MLA4J_OK;
        }
        return mla4j_fail(MLA4J_ERR_STATE, "mla4j_linalg_set_library(\"%s\"): LAPACK/BLAS was already loaded (or tried) "
                          "in this process; name the library before the first linear algebra or calibration call", p);
    }
    memcpy(configured, p, strlen(p) + 1);
    pthread_mutex_unlock(&config_lock);
    mla4j_clear_error();
    return MLA4J_OK;
}

/* ---------------------------------------------------------------------------------------------- */
/* Argument checks and buffers                                                                    */
/* ---------------------------------------------------------------------------------------------- */

/* A dimension LAPACK can take (1..INT32_MAX). */
static int dim_ok(int64_t d) { return d >= 1 && d <= INT32_MAX; }

/* rows * cols doubles fit in memory arithmetic (bytes within SIZE_MAX / 2). */
static int elems(int64_t rows, int64_t cols, size_t *out) {
    uint64_t r;
    if (!mla4j_mul_u64((uint64_t)rows, (uint64_t)cols, &r) || !mla4j_mul_u64(r, sizeof(double), &r) || r > SIZE_MAX / 2) return 0;
    *out = (size_t)(r / sizeof(double));
    return 1;
}

static int all_finite(const double *a, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(a[i])) return 0;
    return 1;
}

/* The workspace a LAPACK size query asked for (query = its work[0]): allocated, with its length in *lwork; NULL
 * with the error recorded when it does not fit LAPACK's integers or memory. */
static double *lapack_work(double query, const char *fn, int64_t m, int64_t n, f_int *lwork) {
    if (query > (double)INT32_MAX) {
        mla4j_fail(MLA4J_ERR_OUT_OF_MEMORY, "%s: LAPACK workspace for %lld x %lld is too large", fn, (long long)m,
                   (long long)n);
        return NULL;
    }
    *lwork = query >= 1.0 ? (f_int)ceil(query) : 1;
    return mla4j_alloc((size_t)*lwork * sizeof(double), "LAPACK workspace");
}

static mla4j_status lapack_info(const char *routine, f_int info, int64_t m, int64_t n) {
    if (info < 0) return mla4j_fail(MLA4J_ERR_INTERNAL, "LAPACK %s rejected its argument %d (a bug in mla4j)", routine, -info);
    return mla4j_fail(MLA4J_ERR_INTERNAL, "LAPACK %s did not converge on a %lld x %lld matrix (info %d): the matrix is "
                      "too ill-conditioned for it", routine, (long long)m, (long long)n, info);
}

/* ---------------------------------------------------------------------------------------------- */
/* C = alpha op(A) op(B) + beta C                                                                  */
/* ---------------------------------------------------------------------------------------------- */

MLA4J_API mla4j_status mla4j_linalg_gemm(int32_t trans_a, int32_t trans_b, int64_t m, int64_t n, int64_t k, double alpha,
                                         const double *a, const double *b, double beta, double *c) {
    MLA4J_CHECK_ARG(a != NULL && b != NULL && c != NULL, "mla4j_linalg_gemm: matrices must not be NULL");
    MLA4J_CHECK_ARG((trans_a == 0 || trans_a == 1) && (trans_b == 0 || trans_b == 1),
                    "mla4j_linalg_gemm: trans_a and trans_b must be 0 or 1 (got %d, %d)", trans_a, trans_b);
    MLA4J_CHECK_ARG(dim_ok(m) && dim_ok(n) && dim_ok(k), "mla4j_linalg_gemm: sizes must be in [1, %d] (got m %lld, n %lld, "
                    "k %lld)", INT32_MAX, (long long)m, (long long)n, (long long)k);
    size_t e;
    MLA4J_CHECK_ARG(elems(m, k, &e) && elems(k, n, &e) && elems(m, n, &e),
                    "mla4j_linalg_gemm: %lld x %lld x %lld matrices are too large", (long long)m, (long long)n, (long long)k);
    const linalg_fns *f = linalg_load();
    if (f == NULL) return MLA4J_ERR_UNSUPPORTED;
    /* Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T, and each stored row-major matrix already is
     * the column-major transpose: so B goes first with its own flag, then A. */
    const f_int fm = (f_int)n, fn = (f_int)m, fk = (f_int)k;
    const f_int ldb = (f_int)(trans_b ? k : n), lda = (f_int)(trans_a ? m : k), ldc = (f_int)n;
    f->dgemm(trans_b ? "T" : "N", trans_a ? "T" : "N", &fm, &fn, &fk, &alpha, b, &ldb, a, &lda, &beta, c, &ldc, 1, 1);
    mla4j_clear_error();
    return MLA4J_OK;
}

/* ---------------------------------------------------------------------------------------------- */
/* Top-k eigenpairs of a symmetric matrix                                                         */
/* ---------------------------------------------------------------------------------------------- */

/* Relative asymmetry beyond which a matrix is refused as not symmetric (rounding in A W A^T stays far below). */
#define SYMMETRY_TOL 1e-9

MLA4J_API mla4j_status mla4j_linalg_eigh(const double *a, int64_t n, int64_t k, double *values, double *vectors) {
    MLA4J_CHECK_ARG(a != NULL && values != NULL && vectors != NULL, "mla4j_linalg_eigh: arguments must not be NULL");
    MLA4J_CHECK_ARG(dim_ok(n), "mla4j_linalg_eigh: n must be in [1, %d] (got %lld)", INT32_MAX, (long long)n);
    MLA4J_CHECK_ARG(k >= 1 && k <= n, "mla4j_linalg_eigh: k must be in [1, n = %lld] (got %lld)", (long long)n, (long long)k);
    size_t nn;
    MLA4J_CHECK_ARG(elems(n, n, &nn), "mla4j_linalg_eigh: a %lld x %lld matrix is too large", (long long)n, (long long)n);
    MLA4J_CHECK_ARG(all_finite(a, nn), "mla4j_linalg_eigh: the matrix holds NaN or infinite values");
    double amax = 0.0;
    for (size_t i = 0; i < nn; i++) amax = fmax(amax, fabs(a[i]));
    for (int64_t i = 0; i < n; i++) {
        for (int64_t j = 0; j < i; j++) {
            double d = fabs(a[i * n + j] - a[j * n + i]);
            MLA4J_CHECK_ARG(d <= SYMMETRY_TOL * amax, "mla4j_linalg_eigh: the matrix is not symmetric: a[%lld][%lld] = %.17g "
                            "but a[%lld][%lld] = %.17g", (long long)i, (long long)j, a[i * n + j], (long long)j,
                            (long long)i, a[j * n + i]);
        }
    }
    const linalg_fns *f = linalg_load();
    if (f == NULL) return MLA4J_ERR_UNSUPPORTED;

    const f_int fn = (f_int)n, il = (f_int)(n - k + 1), iu = (f_int)n, ldz = (f_int)n;
    const double vl = 0.0, vu = 0.0, abstol = DBL_MIN; /* DLAMCH('S'): the most accurate eigenvectors */
    f_int found = 0, info = 0, lwork = -1, liwork = -1, iwork_query = 0;
    double work_query = 0.0;
    double *acopy = mla4j_alloc(nn * sizeof(double), "a copy of the matrix");
    double *w = mla4j_alloc((size_t)n * sizeof(double), "eigenvalues");
    double *z = mla4j_alloc((size_t)n * (size_t)k * sizeof(double), "eigenvectors");
    f_int *isuppz = mla4j_alloc(2 * (size_t)k * sizeof(f_int), "eigenvector supports");
    double *work = NULL;
    f_int *iwork = NULL;
    mla4j_status st = MLA4J_OK;
    if (acopy == NULL || w == NULL || z == NULL || isuppz == NULL) {
        st = MLA4J_ERR_OUT_OF_MEMORY;
        goto done;
    }
    /* Symmetric: the row-major array is its own column-major form. dsyevr destroys it, hence the copy. */
    memcpy(acopy, a, nn * sizeof(double));
    f->dsyevr("V", "I", "L", &fn, acopy, &fn, &vl, &vu, &il, &iu, &abstol, &found, w, z, &ldz, isuppz, &work_query,
              &lwork, &iwork_query, &liwork, &info, 1, 1, 1);
    if (info != 0) {
        st = lapack_info("dsyevr", info, n, n);
        goto done;
    }
    liwork = iwork_query > 0 ? iwork_query : 1;
    work = lapack_work(work_query, "mla4j_linalg_eigh", n, n, &lwork);
    iwork = work != NULL ? mla4j_alloc((size_t)liwork * sizeof(f_int), "LAPACK workspace") : NULL;
    if (work == NULL || iwork == NULL) {
        st = MLA4J_ERR_OUT_OF_MEMORY;
        goto done;
    }
    f->dsyevr("V", "I", "L", &fn, acopy, &fn, &vl, &vu, &il, &iu, &abstol, &found, w, z, &ldz, isuppz, work, &lwork,
              iwork, &liwork, &info, 1, 1, 1);
    if (info != 0) {
        st = lapack_info("dsyevr", info, n, n);
        goto done;
    }
    if (found != (f_int)k) {
        st = mla4j_fail(MLA4J_ERR_INTERNAL, "LAPACK dsyevr returned %d eigenvalues instead of %lld", found, (long long)k);
        goto done;
    }
    /* dsyevr returns ascending order; column j of z (contiguous, column-major) is the eigenvector of w[j]. */
    for (int64_t j = 0; j < k; j++) {
        const int64_t src = k - 1 - j;
        values[j] = w[src];
        for (int64_t i = 0; i < n; i++) vectors[i * k + j] = z[src * n + i];
    }
    mla4j_clear_error();
done:
    free(acopy);
    free(w);
    free(z);
    free(isuppz);
    free(work);
    free(iwork);
    return st;
}

/* ---------------------------------------------------------------------------------------------- */
/* Top-k singular triplets                                                                        */
/* ---------------------------------------------------------------------------------------------- */

MLA4J_API mla4j_status mla4j_linalg_svd(const double *a, int64_t m, int64_t n, int64_t k, double *u, double *s, double *vt) {
    MLA4J_CHECK_ARG(a != NULL && u != NULL && s != NULL && vt != NULL, "mla4j_linalg_svd: arguments must not be NULL");
    MLA4J_CHECK_ARG(dim_ok(m) && dim_ok(n), "mla4j_linalg_svd: sizes must be in [1, %d] (got %lld x %lld)", INT32_MAX,
                    (long long)m, (long long)n);
    const int64_t mn = m < n ? m : n;
    MLA4J_CHECK_ARG(k >= 1 && k <= mn, "mla4j_linalg_svd: k must be in [1, min(m, n) = %lld] (got %lld)", (long long)mn,
                    (long long)k);
    size_t e_a, e_u, e_vt;
    MLA4J_CHECK_ARG(elems(m, n, &e_a) && elems(n, mn, &e_u) && elems(mn, m, &e_vt),
                    "mla4j_linalg_svd: a %lld x %lld matrix is too large", (long long)m, (long long)n);
    MLA4J_CHECK_ARG(all_finite(a, e_a), "mla4j_linalg_svd: the matrix holds NaN or infinite values");
    uint64_t iw;
    MLA4J_CHECK_ARG(mla4j_mul_u64(8, (uint64_t)mn, &iw) && iw <= INT32_MAX, "mla4j_linalg_svd: matrix too large for LAPACK");
    const linalg_fns *f = linalg_load();
    if (f == NULL) return MLA4J_ERR_UNSUPPORTED;

    /* The row-major A is the column-major A^T (n x m). SVD of A^T = V S U^T: LAPACK's "U" is our V (n x mn) and its
     * "VT" is our U^T (mn x m). */
    const f_int fm = (f_int)n, fn = (f_int)m, lda = (f_int)n, ldu = (f_int)n, ldvt = (f_int)mn;
    f_int info = 0, lwork = -1;
    double work_query = 0.0;
    double *acopy = mla4j_alloc(e_a * sizeof(double), "a copy of the matrix");
    double *sv = mla4j_alloc((size_t)mn * sizeof(double), "singular values");
    double *lu = mla4j_alloc(e_u * sizeof(double), "singular vectors");
    double *lvt = mla4j_alloc(e_vt * sizeof(double), "singular vectors");
    f_int *iwork = mla4j_alloc((size_t)iw * sizeof(f_int), "LAPACK workspace");
    double *work = NULL;
    mla4j_status st = MLA4J_OK;
    if (acopy == NULL || sv == NULL || lu == NULL || lvt == NULL || iwork == NULL) {
        st = MLA4J_ERR_OUT_OF_MEMORY;
        goto done;
    }
    memcpy(acopy, a, e_a * sizeof(double));
    f->dgesdd("S", &fm, &fn, acopy, &lda, sv, lu, &ldu, lvt, &ldvt, &work_query, &lwork, iwork, &info, 1);
    if (info != 0) {
        st = lapack_info("dgesdd", info, m, n);
        goto done;
    }
    if ((work = lapack_work(work_query, "mla4j_linalg_svd", m, n, &lwork)) == NULL) {
        st = MLA4J_ERR_OUT_OF_MEMORY;
        goto done;
    }
    f->dgesdd("S", &fm, &fn, acopy, &lda, sv, lu, &ldu, lvt, &ldvt, work, &lwork, iwork, &info, 1);
    if (info != 0) {
        st = lapack_info("dgesdd", info, m, n);
        goto done;
    }
    memcpy(s, sv, (size_t)k * sizeof(double));
    /* u[i][j] = U[i][j] = (U^T)[j][i] = lvt(j, i); vt row j = V column j = lu column j (contiguous). */
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < k; j++) u[i * k + j] = lvt[i * mn + j];
    memcpy(vt, lu, (size_t)k * (size_t)n * sizeof(double));
    mla4j_clear_error();
done:
    free(acopy);
    free(sv);
    free(lu);
    free(lvt);
    free(iwork);
    free(work);
    return st;
}

/* ---------------------------------------------------------------------------------------------- */
/* Least squares                                                                                  */
/* ---------------------------------------------------------------------------------------------- */

MLA4J_API mla4j_status mla4j_linalg_lstsq(const double *a, int64_t m, int64_t n, const double *b, int64_t nrhs, double *x) {
    MLA4J_CHECK_ARG(a != NULL && b != NULL && x != NULL, "mla4j_linalg_lstsq: arguments must not be NULL");
    MLA4J_CHECK_ARG(dim_ok(m) && dim_ok(n) && dim_ok(nrhs), "mla4j_linalg_lstsq: sizes must be in [1, %d] (got A %lld x %lld, "
                    "%lld right-hand sides)", INT32_MAX, (long long)m, (long long)n, (long long)nrhs);
    const int64_t ldb = m > n ? m : n, mn = m < n ? m : n;
    size_t e_a, e_b, e_bw;
    MLA4J_CHECK_ARG(elems(m, n, &e_a) && elems(m, nrhs, &e_b) && elems(ldb, nrhs, &e_bw),
                    "mla4j_linalg_lstsq: a %lld x %lld problem with %lld right-hand sides is too large", (long long)m,
                    (long long)n, (long long)nrhs);
    MLA4J_CHECK_ARG(all_finite(a, e_a) && all_finite(b, e_b), "mla4j_linalg_lstsq: A or B holds NaN or infinite values");
    const linalg_fns *f = linalg_load();
    if (f == NULL) return MLA4J_ERR_UNSUPPORTED;

    const f_int fm = (f_int)m, fn = (f_int)n, fr = (f_int)nrhs, fld = (f_int)ldb;
    const double rcond = -1.0; /* singular values below machine precision * the largest count as zero */
    f_int rank = 0, info = 0, lwork = -1, iwork_query = 0;
    double work_query = 0.0;
    double *acm = mla4j_alloc(e_a * sizeof(double), "a copy of A");
    double *bcm = mla4j_alloc(e_bw * sizeof(double), "a copy of B");
    double *sv = mla4j_alloc((size_t)mn * sizeof(double), "singular values");
    double *work = NULL;
    f_int *iwork = NULL;
    mla4j_status st = MLA4J_OK;
    if (acm == NULL || bcm == NULL || sv == NULL) {
        st = MLA4J_ERR_OUT_OF_MEMORY;
        goto done;
    }
    /* Column-major copies: A (m x n, ld m) and B in an ldb x nrhs array (dgelsd writes the n x nrhs X there). */
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) acm[j * m + i] = a[i * n + j];
    memset(bcm, 0, e_bw * sizeof(double));
    for (int64_t i = 0; i < m; i++)
        for (int64_t r = 0; r < nrhs; r++) bcm[r * ldb + i] = b[i * nrhs + r];
    f->dgelsd(&fm, &fn, &fr, acm, &fm, bcm, &fld, sv, &rcond, &rank, &work_query, &lwork, &iwork_query, &info);
    if (info != 0) {
        st = lapack_info("dgelsd", info, m, n);
        goto done;
    }
    work = lapack_work(work_query, "mla4j_linalg_lstsq", m, n, &lwork);
    iwork = work != NULL ? mla4j_alloc((size_t)(iwork_query > 0 ? iwork_query : 1) * sizeof(f_int), "LAPACK workspace") : NULL;
    if (work == NULL || iwork == NULL) {
        st = MLA4J_ERR_OUT_OF_MEMORY;
        goto done;
    }
    f->dgelsd(&fm, &fn, &fr, acm, &fm, bcm, &fld, sv, &rcond, &rank, work, &lwork, iwork, &info);
    if (info != 0) {
        st = lapack_info("dgelsd", info, m, n);
        goto done;
    }
    for (int64_t j = 0; j < n; j++)
        for (int64_t r = 0; r < nrhs; r++) x[j * nrhs + r] = bcm[r * ldb + j];
    mla4j_clear_error();
done:
    free(acm);
    free(bcm);
    free(sv);
    free(work);
    free(iwork);
    return st;
}
