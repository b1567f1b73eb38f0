/* kernels_avx512.c - TEMPORARY: forwards to the reference kernels until the SIMD versions land. */
#include "kernels_impl.h"
void kern_quantize_act_q8_avx512(int32_t type, const float *x, int64_t cols, void *act_token) { kern_quantize_act_q8_ref(type, x, cols, act_token); }
void kern_matmul_avx512(int vnni, const kern_matrix *w, const void *act, int64_t n_tok, float *y, int64_t ldy, int64_t r0, int64_t r1) { (void)vnni; kern_matmul_ref(w, act, n_tok, y, ldy, r0, r1); }
float kern_dot_f32_avx512(const float *a, const float *b, int64_t n) { return kern_dot_f32_ref(a, b, n); }
float kern_dot_f16_avx512(const uint16_t *a, const float *b, int64_t n) { return kern_dot_f16_ref(a, b, n); }
void kern_axpy_f32_avx512(float a, const float *x, float *y, int64_t n) { kern_axpy_f32_ref(a, x, y, n); }
void kern_axpy_f16_avx512(float a, const uint16_t *x, float *y, int64_t n) { kern_axpy_f16_ref(a, x, y, n); }
