/* fuzz_model.c - model loading and a short evaluation on arbitrary bytes. The whole input is the GGUF image (so
 * real model files are valid seeds); its last bytes pick the context parameters and the tokens. A model that loads
 * must then create a small context and evaluate tokens with any kernel level, refuse out-of-range token ids and a
 * full context with a message, and produce n_vocab readable logits: hostile hyperparameters, shapes, tensor types
 * and data alignments must not reach the kernels in a form they cannot handle. */
#include "fuzz_common.h"
#include "../src/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    mla4j_gguf *g = NULL;
    mla4j_status st = mla4j_gguf_open_memory(data, size, "model.gguf", &g);
    if (st != MLA4J_OK) return 0; /* the reader's own contract is fuzz_gguf's job */
    mla4j_model *m = NULL;
    st = mla4j_model_from_gguf(g, &m); /* takes g */
    if (st != MLA4J_OK) {
        FUZZ_REQUIRE(m == NULL);
        fuzz_check_failure(st);
        return 0;
    }
    mla4j_hparams hp;
    FUZZ_REQUIRE(mla4j_model_get_hparams(m, &hp) == MLA4J_OK);
    FUZZ_REQUIRE(hp.n_vocab > 0 && hp.n_embd > 0 && hp.n_layer > 0 && hp.n_head > 0 && hp.n_head_kv > 0);
    uint64_t per_token;
    FUZZ_REQUIRE(mla4j_model_kv_bytes_per_token(m, MLA4J_TYPE_F16, &per_token) == MLA4J_OK);

    /* Parameters and tokens from the tail of the input (real files end with tensor data: varied bytes). */
    fuzz_input tail = {data + (size >= 16 ? size - 16 : 0), size >= 16 ? 16 : size};
    uint8_t flags = (uint8_t)fuzz_take(&tail, 1);
    mla4j_context_params p;
    mla4j_context_params_init(&p);
    p.n_ctx = 4 + flags % 5;
    p.n_threads = 1 + (flags >> 3) % 2;
    p.n_batch = 1 + (flags >> 4) % 4;
    p.kv_type = (flags >> 6) & 1 ? MLA4J_TYPE_F32 : MLA4J_TYPE_F16;
    p.simd = (int32_t)(fuzz_take(&tail, 1) % 4);
    mla4j_context *c = NULL;
    st = mla4j_context_create(m, &p, &c);
    if (st != MLA4J_OK) {
        fuzz_check_failure(st);
        FUZZ_REQUIRE(st == MLA4J_ERR_OUT_OF_MEMORY);
        mla4j_model_free(m);
        return 0;
    }
    int32_t tokens[3];
    int in_range = 1;
    for (int i = 0; i < 3; i++) {
        /* Mostly valid ids, sometimes one past the end or negative. */
        uint32_t r = (uint32_t)fuzz_take(&tail, 2);
        tokens[i] = r % 64 == 0 ? hp.n_vocab : r % 64 == 1 ? -1 : (int32_t)(r % (uint32_t)hp.n_vocab);
        in_range &= tokens[i] >= 0 && tokens[i] < hp.n_vocab;
    }
    float *all = malloc(3 * (size_t)hp.n_vocab * sizeof *all);
    FUZZ_REQUIRE(all != NULL);
    st = mla4j_context_eval(c, tokens, 3, all);
    if (in_range) {
        FUZZ_REQUIRE(st == MLA4J_OK);
        fuzz_touch(all, 3 * (uint64_t)hp.n_vocab * sizeof *all);
        const float *logits = NULL;
        FUZZ_REQUIRE(mla4j_context_get_logits(c, &logits) == MLA4J_OK);
        fuzz_touch(logits, (uint64_t)hp.n_vocab * sizeof *logits);
        FUZZ_REQUIRE(memcmp(logits, all + 2 * (size_t)hp.n_vocab, (size_t)hp.n_vocab * sizeof *logits) == 0);
        /* One token at a time up to the end of the context, then the refusal of one more. */
        int32_t pos = 0;
        FUZZ_REQUIRE(mla4j_context_get_position(c, &pos) == MLA4J_OK && pos == 3);
        while (pos < p.n_ctx) {
            FUZZ_REQUIRE(mla4j_context_eval(c, tokens, 1, NULL) == MLA4J_OK);
            pos++;
        }
        st = mla4j_context_eval(c, tokens, 1, NULL);
        FUZZ_REQUIRE(st == MLA4J_ERR_STATE);
    } else {
        FUZZ_REQUIRE(st == MLA4J_ERR_INVALID_ARGUMENT);
    }
    free(all);
    mla4j_context_free(c);
    mla4j_model_free(m);
    return 0;
}
