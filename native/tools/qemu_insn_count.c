/* qemu_insn_count.c - a qemu TCG plugin that counts the guest instructions a program executes and prints the total
 * at exit ("insns: N" on stderr through qemu's log). Emulation says nothing about speed, but the instruction count
 * per token compares the ARM64 kernel levels (NEON, SDOT, SMMLA) on the same work (native/tests/qemu-aarch64.sh
 * --insns, docs/BENCHMARKS.md). Built for the host (gcc -shared -fPIC), loaded with qemu-aarch64 -plugin FILE -d plugin.
 *
 * The plugin API of qemu 7.2 (Debian 12's qemu-user, which ships no plugins and no qemu-plugin.h) is declared here,
 * the few functions used, as include/qemu/qemu-plugin.h of that release declares them (API version 1). The
 * count is a plain add per executed translation block: the guest should run one thread (MODEL_TRACE_THREADS=1),
 * since the adds of several vCPU threads are not atomic. */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>

typedef uint64_t qemu_plugin_id_t;
typedef struct qemu_info_t qemu_info_t;
struct qemu_plugin_tb;
enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 };

extern void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id,
                                                  void (*cb)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb));
extern size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
extern void qemu_plugin_register_vcpu_tb_exec_inline(struct qemu_plugin_tb *tb, enum qemu_plugin_op op, void *ptr,
                                                     uint64_t imm);
extern void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, void (*cb)(qemu_plugin_id_t id, void *userdata),
                                           void *userdata);
extern void qemu_plugin_outs(const char *string);

__attribute__((visibility("default"))) int qemu_plugin_version = 1;

static uint64_t insns;

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb) {
    (void)id;
    qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &insns, qemu_plugin_tb_n_insns(tb));
}

static void on_exit(qemu_plugin_id_t id, void *userdata) {
    (void)id;
    (void)userdata;
    char line[64];
    snprintf(line, sizeof line, "insns: %" PRIu64 "\n", insns);
    qemu_plugin_outs(line);
}

__attribute__((visibility("default"))) int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc,
                                                               char **argv) {
    (void)info;
    (void)argc;
    (void)argv;
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
    qemu_plugin_register_atexit_cb(id, on_exit, NULL);
    return 0;
}
