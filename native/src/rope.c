/* rope.c - RoPE angles and scaling as llama.cpp computes them: the rotation of ggml_rope_ext (NORM and NEOX share
 * it), linear frequency scaling and YaRN (ext_factor, the ramp between the correction dims, the magnitude
 * 1 + 0.1 ln(1/freq_scale)), and the attention scale deepseek2 derives from it (mscale^2 / sqrt(d_k)). The keys and
 * defaults follow llama.cpp's loader (llama-model.cpp) and context (llama-context.cpp): rope.scaling.type (default
 * "linear"), rope.scaling.factor (or rope.scale_linear), rope.scaling.original_context_length (default the training
 * context), rope.scaling.attn_factor (default 1) and, for deepseek2 only, rope.scaling.yarn_log_multiplier (stored
 * as 0.1 * mscale_all_dim by the converters). llama.cpp does not read the yarn_beta_fast/slow keys from files: it
 * uses 32 and 1, and so does mla4j. */
#include "model.h"

#include <math.h>
#include <string.h>

#define MAXF(a, b) ((a) > (b) ? (a) : (b))
#define MINF(a, b) ((a) < (b) ? (a) : (b))

/* ggml_rope_yarn_corr_dim: the dimension whose wavelength turns n_rot times over the original context. */
static float corr_dim(int n_dims, int n_ctx_orig, float n_rot, float base) {
    return n_dims * logf(n_ctx_orig / (n_rot * 2 * (float)M_PI)) / (2 * logf(base));
}

static float yarn_ramp(float low, float high, int i0) {
    const float y = (i0 / 2 - low) / MAXF(0.001f, high - low);
    return 1 - MINF(1, MAXF(0, y));
}

void rope_cos_sin(const rope_yarn *y, int n_rot, int32_t pos, float freq_base, float freq_scale, const float *freq_factors,
                  float *cs) {
    const float theta_scale = powf(freq_base, -2.0f / (float)n_rot);
    float theta_base = (float)pos;
    for (int i0 = 0; i0 < n_rot; i0 += 2) {
        const float ff = freq_factors != NULL ? freq_factors[i0 / 2] : 1.0f;
        const float theta_extrap = theta_base / ff;
        const float theta_interp = freq_scale * theta_extrap;
        float theta = theta_interp, mscale = y->attn_factor;
        if (y->ext_factor != 0.0f) {
            const float ramp_mix = yarn_ramp(y->corr_dims[0], y->corr_dims[1], i0) * y->ext_factor;
            theta = theta_interp * (1 - ramp_mix) + theta_extrap * ramp_mix;
            mscale *= 1.0f + 0.1f * logf(1.0f / freq_scale);
        }
        cs[i0] = cosf(theta) * mscale;
        cs[i0 + 1] = sinf(theta) * mscale;
        theta_base *= theta_scale;
    }
}

void rope_rotate(float *x, int n_rot, int rope_type, const float *cs) {
    for (int i = 0; i < n_rot / 2; i++) {
        const int i0 = rope_type == MLA4J_ROPE_NEOX ? i : 2 * i;
        const int i1 = rope_type == MLA4J_ROPE_NEOX ? i + n_rot / 2 : 2 * i + 1;
        const float x0 = x[i0], x1 = x[i1];
        x[i0] = x0 * cs[2 * i] - x1 * cs[2 * i + 1];
        x[i1] = x0 * cs[2 * i + 1] + x1 * cs[2 * i];
    }
}

/* llama-context.cpp's get_mscale. */
static float get_mscale(float scale, float mscale) { return scale <= 1.0f ? 1.0f : (0.1f * mscale * logf(scale) + 1.0f); }

mla4j_status rope_read_scaling(loader *l, mla4j_hparams *hp, rope_yarn *y, int is_deepseek2) {
    const mla4j_gguf *g = l->g;
    char type[32];
    TRY(get_string(g, arch_key(l, "rope.scaling.type"), type, sizeof type, 0));
    if (type[0] == '\0') strcpy(type, "linear"); /* llama.cpp's default */
    const int none = strcmp(type, "none") == 0, yarn = strcmp(type, "yarn") == 0;
    if (!none && !yarn && strcmp(type, "linear") != 0) {
        return mla4j_fail(MLA4J_ERR_UNSUPPORTED, "%s: key '%s.rope.scaling.type' = '%s' is not supported (none, linear, yarn)",
                          g->name, l->arch, type);
    }
    float factor = 0.0f;
    if (gguf_find_key(g, arch_key(l, "rope.scaling.factor")) >= 0) {
        TRY(get_float(l, "rope.scaling.factor", 0, 0.0, &factor));
    } else {
        TRY(get_float(l, "rope.scale_linear", 0, 0.0, &factor));
    }
    if (factor < 0.0f) return mla4j_fail(MLA4J_ERR_FORMAT, "%s: key '%s.rope.scaling.factor' = %g is negative", g->name, l->arch, factor);
    hp->rope_freq_scale = factor == 0.0f || none ? 1.0f : 1.0f / factor;
    int32_t n_ctx_orig = 0;
    TRY(get_int(l, "rope.scaling.original_context_length", 0, hp->n_ctx_train, 1, INT32_MAX, &n_ctx_orig));
    float rope_attn_factor = 1.0f, log_mul = 0.0f;
    TRY(get_float(l, "rope.scaling.attn_factor", 0, 1.0, &rope_attn_factor));
    if (is_deepseek2) {
        TRY(get_float(l, "rope.scaling.yarn_log_multiplier", 0, 0.0, &log_mul));
        log_mul /= 0.1f; /* llama.cpp's TAG_DEEPSEEK2_YARN_LOG_MUL_FIX: the converter stored 0.1 * mscale_all_dim */
    }
    memset(y, 0, sizeof *y);
    y->ext_factor = yarn ? 1.0f : 0.0f;
    y->attn_factor = 1.0f;
    y->beta_fast = 32.0f;
    y->beta_slow = 1.0f;
    y->n_ctx_orig = n_ctx_orig;
    const float freq_scale = hp->rope_freq_scale;
    if (y->ext_factor != 0.0f) {
        const float f = 1.0f / freq_scale;
        if (log_mul != 0.0f) {
            const float mscale = is_deepseek2 && log_mul != 1.0f ? log_mul : 1.0f;
            y->attn_factor = get_mscale(f, mscale) / get_mscale(f, log_mul);
        } else {
            y->attn_factor = get_mscale(f, 1.0f);
        }
        y->attn_factor *= 1.0f / (1.0f + 0.1f * logf(f)); /* cancelled again inside the rotation */
    }
    y->attn_factor *= rope_attn_factor;
    const int n_dims = hp->is_mla ? hp->rope_dim : hp->n_rot;
    if (n_dims > 0 && hp->rope_freq_base > 0.0f) {
        const float start = floorf(corr_dim(n_dims, n_ctx_orig, y->beta_fast, hp->rope_freq_base));
        const float end = ceilf(corr_dim(n_dims, n_ctx_orig, y->beta_slow, hp->rope_freq_base));
        y->corr_dims[0] = MAXF(0, start);
        y->corr_dims[1] = MINF(n_dims - 1, end);
    }
    if (is_deepseek2) {
        /* deepseek2's graph: the scores carry mscale^2 (the rotation's magnitude only reaches the rope part). */
        const float attn_factor_org = y->attn_factor * (1.0f + 0.1f * logf(1.0f / freq_scale));
        const float mscale = attn_factor_org * (1.0f + 0.1f * log_mul * logf(1.0f / freq_scale));
        hp->kq_scale = 1.0f * mscale * mscale / sqrtf((float)hp->head_dim_k);
    } else {
        hp->kq_scale = 1.0f / sqrtf((float)hp->head_dim_k);
    }
    return MLA4J_OK;
}
