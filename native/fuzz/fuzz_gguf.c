/* fuzz_gguf.c - the GGUF reader on arbitrary bytes (mla4j_gguf_open_memory), then every accessor on what it
 * accepted: each key, value, string, array element and tensor is read back in full, so that a view pointing outside
 * the image is an AddressSanitizer report. Accepted files must also be self-consistent (find returns the index,
 * tensors lie inside the file, in order and without overlap). */
#include "fuzz_common.h"

static void walk_kvs(const mla4j_gguf *g) {
    int64_t n = -1;
    FUZZ_REQUIRE(mla4j_gguf_kv_count(g, &n) == MLA4J_OK && n >= 0);
    for (int64_t i = 0; i < n; i++) {
        const char *key = NULL;
        FUZZ_REQUIRE(mla4j_gguf_kv_key(g, i, &key) == MLA4J_OK && key != NULL && key[0] != '\0');
        int64_t found = -2;
        FUZZ_REQUIRE(mla4j_gguf_kv_find(g, key, &found) == MLA4J_OK && found == i);
        int32_t type = -1, elem = -1;
        uint64_t count = 0;
        FUZZ_REQUIRE(mla4j_gguf_kv_type(g, i, &type, &elem, &count) == MLA4J_OK);
        FUZZ_REQUIRE(type >= MLA4J_GGUF_UINT8 && type <= MLA4J_GGUF_FLOAT64);
        int64_t iv;
        double dv;
        const char *s;
        const void *p;
        uint64_t len;
        /* Every getter either succeeds on its own type or refuses with a message, never reads wrong bytes. */
        mla4j_status st = mla4j_gguf_kv_get_int(g, i, &iv);
        if (st != MLA4J_OK) fuzz_check_failure(st);
        st = mla4j_gguf_kv_get_float(g, i, &dv);
        if (st != MLA4J_OK) fuzz_check_failure(st);
        st = mla4j_gguf_kv_get_string(g, i, &s, &len);
        if (st == MLA4J_OK) {
            fuzz_touch(s, len);
        } else {
            fuzz_check_failure(st);
        }
        st = mla4j_gguf_kv_get_array_data(g, i, &p, &len);
        if (st == MLA4J_OK) {
            FUZZ_REQUIRE(type == MLA4J_GGUF_ARRAY);
            fuzz_touch(p, len);
        } else {
            fuzz_check_failure(st);
        }
        if (type == MLA4J_GGUF_ARRAY && elem == MLA4J_GGUF_STRING) {
            for (uint64_t j = 0; j < count; j++) {
                FUZZ_REQUIRE(mla4j_gguf_kv_get_array_string(g, i, j, &s, &len) == MLA4J_OK);
                fuzz_touch(s, len);
            }
            fuzz_check_failure(mla4j_gguf_kv_get_array_string(g, i, count, &s, &len));
        }
    }
    const char *key;
    fuzz_check_failure(mla4j_gguf_kv_key(g, n, &key));
    fuzz_check_failure(mla4j_gguf_kv_key(g, -1, &key));
}

static void walk_tensors(const mla4j_gguf *g) {
    int64_t n = -1;
    uint64_t file_size = 0, data_offset = 0, alignment = 0;
    FUZZ_REQUIRE(mla4j_gguf_tensor_count(g, &n) == MLA4J_OK && n >= 0);
    FUZZ_REQUIRE(mla4j_gguf_get_file_size(g, &file_size) == MLA4J_OK);
    FUZZ_REQUIRE(mla4j_gguf_get_data_offset(g, &data_offset) == MLA4J_OK && data_offset <= file_size);
    FUZZ_REQUIRE(mla4j_gguf_get_alignment(g, &alignment) == MLA4J_OK && alignment > 0 &&
                 (alignment & (alignment - 1)) == 0);
    uint64_t end_of_previous = 0;
    for (int64_t i = 0; i < n; i++) {
        mla4j_tensor_info t;
        FUZZ_REQUIRE(mla4j_gguf_tensor_get_info(g, i, &t) == MLA4J_OK);
        FUZZ_REQUIRE(t.n_dims >= 0 && t.n_dims <= 4 && t.name != NULL && strlen(t.name) > 0 && strlen(t.name) < 64);
        int64_t found = -2;
        FUZZ_REQUIRE(mla4j_gguf_tensor_find(g, t.name, &found) == MLA4J_OK && found == i);
        int64_t block = 0, type_size = 0;
        FUZZ_REQUIRE(mla4j_type_info(t.type, NULL, &block, &type_size) == MLA4J_OK);
        uint64_t elements = 1;
        for (int d = 0; d < 4; d++) {
            FUZZ_REQUIRE(t.ne[d] >= 0);
            FUZZ_REQUIRE(!__builtin_mul_overflow(elements, (uint64_t)t.ne[d], &elements));
        }
        FUZZ_REQUIRE(t.ne[0] % block == 0 && t.nbytes == elements / (uint64_t)block * (uint64_t)type_size);
        FUZZ_REQUIRE(t.offset >= end_of_previous && t.offset % alignment == 0);
        FUZZ_REQUIRE(t.nbytes <= file_size - data_offset && t.offset <= file_size - data_offset - t.nbytes);
        end_of_previous = t.offset + t.nbytes;
        fuzz_touch(t.data, t.nbytes);
    }
    mla4j_tensor_info t;
    fuzz_check_failure(mla4j_gguf_tensor_get_info(g, n, &t));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    mla4j_gguf *g = NULL;
    mla4j_status st = mla4j_gguf_open_memory(data, size, "fuzz.gguf", &g);
    if (st != MLA4J_OK) {
        FUZZ_REQUIRE(g == NULL);
        fuzz_check_failure(st);
        FUZZ_REQUIRE(strstr(mla4j_last_error(), "fuzz.gguf") != NULL); /* messages name the file */
        return 0;
    }
    uint32_t version = 0;
    FUZZ_REQUIRE(mla4j_gguf_get_version(g, &version) == MLA4J_OK && (version == 2 || version == 3));
    walk_kvs(g);
    walk_tensors(g);
    /* Look-ups of names that were not in the file, taken from the input itself. */
    char probe[80];
    size_t n = size < sizeof probe - 1 ? size : sizeof probe - 1;
    memcpy(probe, data + size - n, n);
    probe[n] = '\0';
    int64_t idx;
    FUZZ_REQUIRE(mla4j_gguf_kv_find(g, probe, &idx) == MLA4J_OK && idx >= -1);
    FUZZ_REQUIRE(mla4j_gguf_tensor_find(g, probe, &idx) == MLA4J_OK && idx >= -1);
    mla4j_gguf_free(g);
    return 0;
}
