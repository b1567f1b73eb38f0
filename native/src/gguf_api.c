/* gguf_api.c - the public accessors of a parsed GGUF file (mla4j_gguf_*). */
#include "gguf.h"

#include <string.h>

#define CHECK_GGUF(g, out) MLA4J_CHECK_ARG((g) != NULL && (out) != NULL, "%s: gguf and out must not be NULL", __func__)

static mla4j_status kv_at(const mla4j_gguf *g, int64_t i, const gguf_kv **out, const char *fn) {
    MLA4J_CHECK_ARG(g != NULL, "%s: gguf must not be NULL", fn);
    MLA4J_CHECK_ARG(i >= 0 && i < g->n_kv, "%s: key index %lld out of range [0, %lld)", fn, (long long)i, (long long)g->n_kv);
    *out = &g->kv[i];
    return MLA4J_OK;
}

static mla4j_status wrong_type(const mla4j_gguf *g, const gguf_kv *kv, const char *wanted) {
    return mla4j_fail(MLA4J_ERR_INVALID_ARGUMENT, "%s: key '%s' is not %s (type id %d)", g->name, kv->key, wanted, kv->type);
}

MLA4J_API mla4j_status mla4j_gguf_get_version(const mla4j_gguf *g, uint32_t *out) {
    CHECK_GGUF(g, out);
    *out = g->version;
    return MLA4J_OK;
}

MLA4J_API mla4j_status mla4j_gguf_get_alignment(const mla4j_gguf *g, uint64_t *out) {
    CHECK_GGUF(g, out);
    *out = g->alignment;
    return MLA4J_OK;
}

MLA4J_API mla4j_status mla4j_gguf_get_data_offset(const mla4j_gguf *g, uint64_t *out) {
    CHECK_GGUF(g, out);
    *out = g->data_offset;
    return MLA4J_OK;
}

MLA4J_API mla4j_status mla4j_gguf_get_file_size(const mla4j_gguf *g, uint64_t *out) {
    CHECK_GGUF(g, out);
    *out = g->size;
    return MLA4J_OK;
}

MLA4J_API mla4j_status mla4j_gguf_kv_count(const mla4j_gguf *g, int64_t *out) {
    CHECK_GGUF(g, out);
    *out = g->n_kv;
    return MLA4J_OK;
}

MLA4J_API mla4j_status mla4j_gguf_kv_find(const mla4j_gguf *g, const char *key, int64_t *index) {
    MLA4J_CHECK_ARG(g != NULL && key != NULL && index != NULL, "mla4j_gguf_kv_find: arguments must not be NULL");
    *index = gguf_find_key(g, key);
    return MLA4J_OK;
}

MLA4J_API mla4j_status mla4j_gguf_kv_key(const mla4j_gguf *g, int64_t i, const char **key) {
    const gguf_kv *kv = NULL;
    mla4j_status st = kv_at(g, i, &kv, __func__);
    if (st != MLA4J_OK) return st;
    MLA4J_CHECK_ARG(key != NULL, "mla4j_gguf_kv_key: key must not be NULL");
    *key = kv->key;
    return MLA4J_OK;
}

MLA4J_API mla4j_status mla4j_gguf_kv_type(const mla4j_gguf *g, int64_t i, int32_t *type, int32_t *elem_type,
                                          uint64_t *count) {
    const gguf_kv *kv = NULL;
    mla4j_status st = kv_at(g, i, &kv, __func__);
    if (st != MLA4J_OK) return st;
    if (type) *type = kv->type;
    if (elem_type) *elem_type = kv->elem_type;
    if (count) *count = kv->count;
    return MLA4J_OK;
}

MLA4J_API mla4j_status mla4j_gguf_kv_get_int(const mla4j_gguf *g, int64_t i, int64_t *out) {
    const gguf_kv *kv = NULL;
    mla4j_status st = kv_at(g, i, &kv, __func__);
    if (st != MLA4J_OK) return st;
    MLA4J_CHECK_ARG(out != NULL, "mla4j_gguf_kv_get_int: out must not be NULL");
    const uint8_t *p = kv->data;
    switch (kv->type) {
    case MLA4J_GGUF_UINT8: case MLA4J_GGUF_BOOL: *out = p[0]; break;
    case MLA4J_GGUF_INT8: *out = (int8_t)p[0]; break;
    case MLA4J_GGUF_UINT16: *out = (uint16_t)(p[0] | p[1] << 8); break;
    case MLA4J_GGUF_INT16: *out = (int16_t)(uint16_t)(p[0] | p[1] << 8); break;
    case MLA4J_GGUF_UINT32: case MLA4J_GGUF_INT32: {
        uint32_t v;
        memcpy(&v, p, 4);
        *out = kv->type == MLA4J_GGUF_INT32 ? (int64_t)(int32_t)v : (int64_t)v;
        break;
    }
    case MLA4J_GGUF_UINT64: case MLA4J_GGUF_INT64: {
        uint64_t v;
        memcpy(&v, p, 8);
        *out = (int64_t)v;
        break;
    }
    default: return wrong_type(g, kv, "an integer");
    }
    return MLA4J_OK;
}

MLA4J_API mla4j_status mla4j_gguf_kv_get_float(const mla4j_gguf *g, int64_t i, double *out) {
    const gguf_kv *kv = NULL;
    mla4j_status st = kv_at(g, i, &kv, __func__);
    if (st != MLA4J_OK) return st;
    MLA4J_CHECK_ARG(out != NULL, "mla4j_gguf_kv_get_float: out must not be NULL");
    if (kv->type == MLA4J_GGUF_FLOAT32) {
        float f;
        memcpy(&f, kv->data, 4);
        *out = f;
    } else if (kv->type == MLA4J_GGUF_FLOAT64) {
        memcpy(out, kv->data, 8);
    } else {
        return wrong_type(g, kv, "a float");
    }
    return MLA4J_OK;
}

MLA4J_API mla4j_status mla4j_gguf_kv_get_string(const mla4j_gguf *g, int64_t i, const char **data, uint64_t *len) {
    const gguf_kv *kv = NULL;
    mla4j_status st = kv_at(g, i, &kv, __func__);
    if (st != MLA4J_OK) return st;
    MLA4J_CHECK_ARG(data != NULL && len != NULL, "mla4j_gguf_kv_get_string: outputs must not be NULL");
    if (kv->type != MLA4J_GGUF_STRING) return wrong_type(g, kv, "a string");
    *data = (const char *)kv->data;
    *len = kv->nbytes;
    return MLA4J_OK;
}

MLA4J_API mla4j_status mla4j_gguf_kv_get_array_data(const mla4j_gguf *g, int64_t i, const void **data, uint64_t *nbytes) {
    const gguf_kv *kv = NULL;
    mla4j_status st = kv_at(g, i, &kv, __func__);
    if (st != MLA4J_OK) return st;
    MLA4J_CHECK_ARG(data != NULL && nbytes != NULL, "mla4j_gguf_kv_get_array_data: outputs must not be NULL");
    if (kv->type != MLA4J_GGUF_ARRAY || kv->elem_type == MLA4J_GGUF_STRING) {
        return wrong_type(g, kv, "an array of numbers");
    }
    *data = kv->data;
    *nbytes = kv->nbytes;
    return MLA4J_OK;
}

MLA4J_API mla4j_status mla4j_gguf_kv_get_array_string(const mla4j_gguf *g, int64_t i, uint64_t j, const char **data,
                                                      uint64_t *len) {
    const gguf_kv *kv = NULL;
    mla4j_status st = kv_at(g, i, &kv, __func__);
    if (st != MLA4J_OK) return st;
    MLA4J_CHECK_ARG(data != NULL && len != NULL, "mla4j_gguf_kv_get_array_string: outputs must not be NULL");
    if (kv->type != MLA4J_GGUF_ARRAY || kv->elem_type != MLA4J_GGUF_STRING) {
        return wrong_type(g, kv, "an array of strings");
    }
    MLA4J_CHECK_ARG(j < kv->count, "%s: element %llu of '%s' out of range (%llu elements)", g->name,
                    (unsigned long long)j, kv->key, (unsigned long long)kv->count);
    *data = (const char *)kv->str_data[j];
    *len = kv->str_len[j];
    return MLA4J_OK;
}

MLA4J_API mla4j_status mla4j_gguf_tensor_count(const mla4j_gguf *g, int64_t *out) {
    CHECK_GGUF(g, out);
    *out = g->n_tensors;
    return MLA4J_OK;
}

MLA4J_API mla4j_status mla4j_gguf_tensor_find(const mla4j_gguf *g, const char *name, int64_t *index) {
    MLA4J_CHECK_ARG(g != NULL && name != NULL && index != NULL, "mla4j_gguf_tensor_find: arguments must not be NULL");
    *index = gguf_find_tensor(g, name);
    return MLA4J_OK;
}

MLA4J_API mla4j_status mla4j_gguf_tensor_get_info(const mla4j_gguf *g, int64_t i, mla4j_tensor_info *out) {
    CHECK_GGUF(g, out);
    MLA4J_CHECK_ARG(i >= 0 && i < g->n_tensors, "mla4j_gguf_tensor_get_info: tensor index %lld out of range [0, %lld)",
                    (long long)i, (long long)g->n_tensors);
    const gguf_tensor *t = &g->tensors[i];
    out->name = t->name;
    out->type = t->type;
    out->n_dims = t->n_dims;
    memcpy(out->ne, t->ne, sizeof out->ne);
    out->offset = t->offset;
    out->nbytes = t->nbytes;
    out->data = t->data;
    return MLA4J_OK;
}
