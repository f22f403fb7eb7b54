// SPDX-License-Identifier: GPL-2.0
/*
 * libcount.so: a QEMU TCG plugin (QEMU 7.2, plugin API version 1) that
 * counts guest instructions between marker instructions the bench runs.
 *
 * Markers are multi-byte NOPs with a magic displacement,
 *   nopl 0x4b544c00+N(%rax)   = 0f 1f 80 <00+N> 4c 54 4b
 * which compilers never emit (padding NOPs use displacement 0) and which
 * are harmless everywhere, also on real hardware.  N = 1 starts a window,
 * N = 2 ends it and prints "ktls-count <seq> <instructions>" with
 * qemu_plugin_outs() (visible with -d plugin -D FILE).  Instructions of all
 * vCPUs, kernel and user, are counted; use -accel tcg,thread=single so one
 * plain counter is exact.
 *
 * Debian ships no qemu-plugin.h: the few API pieces used are declared here
 * by hand, matching QEMU 7.2's include/qemu/qemu-plugin.h.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define QEMU_PLUGIN_EXPORT __attribute__((visibility("default")))

typedef uint64_t qemu_plugin_id_t;
struct qemu_plugin_tb;
struct qemu_plugin_insn;
typedef struct qemu_info_t qemu_info_t;	/* only passed through */

enum qemu_plugin_cb_flags {
	QEMU_PLUGIN_CB_NO_REGS,
	QEMU_PLUGIN_CB_R_REGS,
	QEMU_PLUGIN_CB_RW_REGS,
};

enum qemu_plugin_op {
	QEMU_PLUGIN_INLINE_ADD_U64,
};

typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id,
					       struct qemu_plugin_tb *tb);
typedef void (*qemu_plugin_vcpu_udata_cb_t)(unsigned int vcpu_index,
					    void *userdata);
typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t id, void *userdata);

void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id,
					   qemu_plugin_vcpu_tb_trans_cb_t cb);
void qemu_plugin_register_vcpu_tb_exec_inline(struct qemu_plugin_tb *tb,
					      enum qemu_plugin_op op,
					      void *ptr, uint64_t imm);
void qemu_plugin_register_vcpu_insn_exec_cb(struct qemu_plugin_insn *insn,
					    qemu_plugin_vcpu_udata_cb_t cb,
					    enum qemu_plugin_cb_flags flags,
					    void *userdata);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id,
				    qemu_plugin_udata_cb_t cb, void *userdata);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *tb,
						 size_t idx);
const void *qemu_plugin_insn_data(const struct qemu_plugin_insn *insn);
size_t qemu_plugin_insn_size(const struct qemu_plugin_insn *insn);
void qemu_plugin_outs(const char *string);

QEMU_PLUGIN_EXPORT int qemu_plugin_version = 1;

#define MARK_LEN	7
#define MARK_START	1
#define MARK_STOP	2

/* Bumped inline by every executed TB by its instruction count. */
static uint64_t insns;
static uint64_t start_at;
static uint64_t seq;
static bool open_window;

static void mark(unsigned int vcpu, void *udata)
{
	uintptr_t what = (uintptr_t)udata;
	char line[96];

	(void)vcpu;
	if (what == MARK_START) {
		start_at = insns;
		open_window = true;
		return;
	}
	/* A stop without a start still gets a line: the bench counts them. */
	snprintf(line, sizeof(line), "ktls-count %" PRIu64 " %" PRIu64 "\n",
		 ++seq, open_window ? insns - start_at : 0);
	open_window = false;
	qemu_plugin_outs(line);
}

/* 0 if not a marker, else MARK_START / MARK_STOP. */
static unsigned int marker_kind(const struct qemu_plugin_insn *insn)
{
	const uint8_t *b;

	if (qemu_plugin_insn_size(insn) != MARK_LEN)
		return 0;
	b = qemu_plugin_insn_data(insn);
	if (b[0] != 0x0f || b[1] != 0x1f || b[2] != 0x80 ||
	    b[4] != 0x4c || b[5] != 0x54 || b[6] != 0x4b)
		return 0;
	if (b[3] == MARK_START || b[3] == MARK_STOP)
		return b[3];
	return 0;
}

static void tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
	size_t i, n = qemu_plugin_tb_n_insns(tb);
	struct qemu_plugin_insn *insn;
	unsigned int kind;

	(void)id;
	qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64,
						 &insns, n);
	for (i = 0; i < n; i++) {
		insn = qemu_plugin_tb_get_insn(tb, i);
		kind = marker_kind(insn);
		if (kind)
			qemu_plugin_register_vcpu_insn_exec_cb(insn, mark,
						QEMU_PLUGIN_CB_NO_REGS,
						(void *)(uintptr_t)kind);
	}
}

static void at_exit(qemu_plugin_id_t id, void *udata)
{
	char line[64];

	(void)id;
	(void)udata;
	snprintf(line, sizeof(line), "ktls-count total %" PRIu64 "\n", insns);
	qemu_plugin_outs(line);
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id,
					   const qemu_info_t *info,
					   int argc, char **argv)
{
	(void)info;
	(void)argc;
	(void)argv;
	qemu_plugin_register_vcpu_tb_trans_cb(id, tb_trans);
	qemu_plugin_register_atexit_cb(id, at_exit, NULL);
	return 0;
}
