/* gguf.h - internal view of a parsed GGUF file (the public API in mla4j.h wraps it). */
#ifndef MLA4J_GGUF_H
#define MLA4J_GGUF_H

#include "internal.h"
#include "kernels.h"

typedef struct gguf_kv {
    char *key;                /* NUL-terminated copy */
    int32_t type;             /* mla4j_gguf_type */
    int32_t elem_type;        /* for arrays; -1 otherwise */
    uint64_t count;           /* array element count; 1 for scalars */
    const uint8_t *data;      /* scalar bytes, string bytes, or the first array element */
    uint64_t nbytes;          /* scalar size, string length, or numeric array size in bytes */
    const uint8_t **str_data; /* string arrays: each element's bytes */
    uint64_t *str_len;        /* string arrays: each element's length */
} gguf_kv;

typedef struct gguf_tensor {
    char name[64];
    int32_t type;
    int32_t n_dims;
    int64_t ne[4];
    uint64_t offset;
    uint64_t nbytes;
    const uint8_t *data;
} gguf_tensor;

struct mla4j_gguf {
    char *name; /* path or caller-given name, used in every message */
    const uint8_t *base;
    size_t size;
    size_t map_size; /* bytes mapped at base when is_mapped (size rounded up for a huge-page copy) */
    int is_mapped; /* 1: base is an mmap (of the file, or an anonymous copy of it); 0: base is a malloc'd copy */
    int is_file_mapping; /* 1: base maps the file itself (pages shared with the page cache, loaded on demand) */
    int is_locked;       /* 1: mlock() succeeded on the whole image */
    uint32_t version;
    uint64_t alignment;
    uint64_t data_offset;
    int64_t n_kv;
    gguf_kv *kv;
    int64_t n_tensors;
    gguf_tensor *tensors;
};

/* Index of a key / tensor or -1. */
/* mla4j_gguf_open for a model whose weights will be streamed. mmap_mode (mla4j_mmap_mode): AUTO reads files that
 * fit easily into anonymous huge pages and maps larger ones, ON maps, OFF reads into anonymous memory (see gguf.c);
 * mlock_pages asks for the image to be locked in memory (not an error when the system refuses: is_locked says). */
mla4j_status gguf_open_for_compute(const char *path, int mmap_mode, int mlock_pages, mla4j_gguf **out);
/* Internal mode of files opened only for inspection: mapped, no huge-page advice. */
#define MLA4J_MMAP_INSPECT (-1)
int64_t gguf_find_key(const mla4j_gguf *g, const char *key);
int64_t gguf_find_tensor(const mla4j_gguf *g, const char *name);
/* Name, block size and block bytes of every tensor type ggml defines (llama.cpp's ggml.h; also the ones mla4j
 * cannot compute with, so that a file's layout is read and listed whole), or NULL for an unknown id. Whether mla4j
 * computes with a type is kern_type_traits_of(type) != NULL. */
const kern_type_traits *gguf_type_layout(int32_t type);

#endif
