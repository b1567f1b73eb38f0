/* linalg.h - LAPACK/BLAS loaded at run time (linalg.c), shared with the calibration statistics (calib.c).
 * Inference never touches this: only conversion needs dense decompositions, and libmla4j.so links nothing beyond
 * libc, libm and pthreads. */
#ifndef MLA4J_LINALG_H
#define MLA4J_LINALG_H

#include "internal.h"

/* Fortran LAPACK/BLAS (LP64: 32-bit INTEGER) as gfortran calls them: every CHARACTER argument is followed, after
 * the declared arguments, by a hidden length of type size_t (gfortran >= 8). OpenBLAS's C implementations ignore
 * the lengths; reference LAPACK built with gfortran needs them. */
typedef int32_t f_int;

typedef struct linalg_fns {
    void (*dgemm)(const char *transa, const char *transb, const f_int *m, const f_int *n, const f_int *k,
                  const double *alpha, const double *a, const f_int *lda, const double *b, const f_int *ldb,
                  const double *beta, double *c, const f_int *ldc, size_t transa_len, size_t transb_len);
    void (*dsyrk)(const char *uplo, const char *trans, const f_int *n, const f_int *k, const double *alpha,
                  const double *a, const f_int *lda, const double *beta, double *c, const f_int *ldc, size_t uplo_len,
                  size_t trans_len);
    void (*dsyevr)(const char *jobz, const char *range, const char *uplo, const f_int *n, double *a, const f_int *lda,
                   const double *vl, const double *vu, const f_int *il, const f_int *iu, const double *abstol,
                   f_int *m, double *w, double *z, const f_int *ldz, f_int *isuppz, double *work, const f_int *lwork,
                   f_int *iwork, const f_int *liwork, f_int *info, size_t jobz_len, size_t range_len,
                   size_t uplo_len);
    void (*dgesdd)(const char *jobz, const f_int *m, const f_int *n, double *a, const f_int *lda, double *s,
                   double *u, const f_int *ldu, double *vt, const f_int *ldvt, double *work, const f_int *lwork,
                   f_int *iwork, f_int *info, size_t jobz_len);
    void (*dgelsd)(const f_int *m, const f_int *n, const f_int *nrhs, double *a, const f_int *lda, double *b,
                   const f_int *ldb, double *s, const double *rcond, f_int *rank, double *work, const f_int *lwork,
                   f_int *iwork, f_int *info);
} linalg_fns;

/* The loaded functions (loading on first call, once per process), or NULL with MLA4J_ERR_UNSUPPORTED recorded:
 * the message lists every library tried and why it failed. */
const linalg_fns *linalg_load(void);

#endif
