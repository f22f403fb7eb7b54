// SPDX-License-Identifier: GPL-2.0
/*
 * libcount.so: a QEMU TCG plugin (QEMU 7.2, plugin API version 1) that
 * counts guest instructions between marker instructions the bench runs.
 *
 * Markers are multi-byte NOPs with a magic displacement,
 *   nopl 0x4b544c00+N(%rax)   = 0f 1f 80 <00+N> 4c 54 4b
 * which compilers never emit (padding NOPs use displacement 0) and which
 * are harmless everywhere, also on real hardware.  N = 1 starts a window,
 * N = 2 ends it and prints "ktls-count <seq> <instructions> blocks=<n>"
 * (translated blocks executed) with
 * qemu_plugin_outs() (visible with -d plugin -D FILE).  Instructions of all
 * vCPUs, kernel and user, are counted; use -accel tcg,thread=single so one
 * plain counter is exact.
 *
 * With the plugin argument prof=DIR (-plugin libcount.so,prof=DIR) it also
 * profiles: every translated block gets a record {guest vaddr, instruction
 * count, counter} and an inline add on that record's counter; a start marker
 * zeroes all counters, a stop marker writes DIR/prof-<seq>.txt with lines
 * "<hex vaddr> <instructions> <executions>", summed over the records of one vaddr (blocks
 * get retranslated), nonzero only.  The plain count is kept as before.
 * profcpu=N profiles only what vCPU N executed (a per-block callback
 * instead of the inline add): `make bench-serve-profile` keeps the load
 * generator's vCPU out of the server's profile.
 *
 * With percpu=1 the stop line also has " vcpu0=<n> vcpu1=<n> ..." (up to
 * MAX_VCPUS): instructions each vCPU executed in the window, from a
 * per-block callback that is told the vCPU (slower than the inline add,
 * so only when asked; `make bench-serve` pins server and client to one
 * vCPU each).
 *
 * Debian ships no qemu-plugin.h: the few API pieces used are declared here
 * by hand, matching QEMU 7.2's include/qemu/qemu-plugin.h.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
void qemu_plugin_register_vcpu_tb_exec_cb(struct qemu_plugin_tb *tb,
					  qemu_plugin_vcpu_udata_cb_t cb,
					  enum qemu_plugin_cb_flags flags,
					  void *userdata);
void qemu_plugin_register_vcpu_insn_exec_cb(struct qemu_plugin_insn *insn,
					    qemu_plugin_vcpu_udata_cb_t cb,
					    enum qemu_plugin_cb_flags flags,
					    void *userdata);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id,
				    qemu_plugin_udata_cb_t cb, void *userdata);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
uint64_t qemu_plugin_tb_vaddr(const struct qemu_plugin_tb *tb);
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
/* Blocks executed: under TCG each costs a dispatch, more so after ret. */
static uint64_t blocks;
static uint64_t blocks_at;
static uint64_t seq;
static bool open_window;
/*
 * Host CPU time of the emulation: with thread=single every vCPU runs in
 * the thread that calls mark(), so its CPU time is the emulation work,
 * without host scheduling noise and without time all vCPUs sat idle.
 */
static uint64_t cpu_at;

#define MAX_VCPUS	8
static bool percpu;
static uint64_t vcpu_insns[MAX_VCPUS], vcpu_at[MAX_VCPUS];

static void vcpu_tb_exec(unsigned int vcpu, void *udata)
{
	if (vcpu < MAX_VCPUS)
		vcpu_insns[vcpu] += (uintptr_t)udata;
}

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * Profile mode.  Records live in fixed-size chunks that never move: QEMU
 * keeps the address of each counter in the translated code.
 */
struct prof_rec {
	uint64_t vaddr;
	uint64_t n;		/* instructions in the block */
	uint64_t count;		/* instructions executed in this window */
};

#define CHUNK_RECS	65536

struct prof_chunk {
	struct prof_chunk *next;
	size_t used;
	struct prof_rec rec[CHUNK_RECS];
};

static const char *prof_dir;	/* NULL: plain counting only */
static int prof_cpu = -1;	/* >= 0: profile that vCPU only */
static struct prof_chunk *chunks;	/* newest first */
static bool prof_broken;	/* out of memory: stop profiling */

static struct prof_rec *prof_new(uint64_t vaddr, uint64_t n)
{
	struct prof_chunk *c = chunks;
	struct prof_rec *r;

	if (!c || c->used == CHUNK_RECS) {
		c = malloc(sizeof(*c));
		if (!c) {
			if (!prof_broken)
				qemu_plugin_outs("ktls-count prof: out of memory\n");
			prof_broken = true;
			return NULL;
		}
		c->next = chunks;
		c->used = 0;
		chunks = c;
	}
	r = &c->rec[c->used++];
	r->vaddr = vaddr;
	r->n = n;
	r->count = 0;
	return r;
}

static void prof_zero(void)
{
	struct prof_chunk *c;
	size_t i;

	for (c = chunks; c; c = c->next)
		for (i = 0; i < c->used; i++)
			c->rec[i].count = 0;
}

struct prof_out {
	uint64_t vaddr;
	uint64_t count;
	uint64_t execs;
};

static int cmp_out(const void *a, const void *b)
{
	uint64_t x = ((const struct prof_out *)a)->vaddr;
	uint64_t y = ((const struct prof_out *)b)->vaddr;

	return x < y ? -1 : x > y;
}

/* Write DIR/prof-<seq>.txt: executed instructions per block address. */
static void prof_write(uint64_t nr)
{
	struct prof_out *out;
	struct prof_chunk *c;
	size_t i, n = 0, m;
	char path[4096], line[128];
	FILE *f;

	for (c = chunks; c; c = c->next)
		for (i = 0; i < c->used; i++)
			n += c->rec[i].count != 0;
	out = malloc((n ? n : 1) * sizeof(*out));
	if (!out) {
		qemu_plugin_outs("ktls-count prof: out of memory\n");
		return;
	}
	n = 0;
	for (c = chunks; c; c = c->next)
		for (i = 0; i < c->used; i++)
			if (c->rec[i].count) {
				out[n].vaddr = c->rec[i].vaddr;
				out[n].count = c->rec[i].count;
				out[n++].execs = c->rec[i].count /
						 c->rec[i].n;
			}
	qsort(out, n, sizeof(*out), cmp_out);
	/* Merge the records of one address. */
	for (i = 0, m = 0; i < n; i++) {
		if (m && out[m - 1].vaddr == out[i].vaddr) {
			out[m - 1].count += out[i].count;
			out[m - 1].execs += out[i].execs;
		} else {
			out[m++] = out[i];
		}
	}
	snprintf(path, sizeof(path), "%s/prof-%" PRIu64 ".txt", prof_dir, nr);
	f = fopen(path, "w");
	if (!f) {
		snprintf(line, sizeof(line),
			 "ktls-count prof: cannot open prof-%" PRIu64 ".txt\n",
			 nr);
		qemu_plugin_outs(line);
		free(out);
		return;
	}
	for (i = 0; i < m; i++)
		fprintf(f, "%" PRIx64 " %" PRIu64 " %" PRIu64 "\n",
			out[i].vaddr, out[i].count, out[i].execs);
	if (fclose(f)) {
		snprintf(line, sizeof(line),
			 "ktls-count prof: write error prof-%" PRIu64 ".txt\n",
			 nr);
		qemu_plugin_outs(line);
	}
	free(out);
}

static void prof_cpu_exec(unsigned int vcpu, void *udata)
{
	struct prof_rec *r = udata;

	if ((int)vcpu == prof_cpu)
		r->count += r->n;
}

static void mark(unsigned int vcpu, void *udata)
{
	uintptr_t what = (uintptr_t)udata;
	char line[128 + MAX_VCPUS * 32];
	int len, i;

	(void)vcpu;
	if (what == MARK_START) {
		memcpy(vcpu_at, vcpu_insns, sizeof(vcpu_at));
		start_at = insns;
		blocks_at = blocks;
		cpu_at = thread_cpu_ns();
		open_window = true;
		if (prof_dir)
			prof_zero();
		return;
	}
	/* A stop without a start still gets a line: the bench counts them. */
	len = snprintf(line, sizeof(line),
		       "ktls-count %" PRIu64 " %" PRIu64 " blocks=%" PRIu64
		       " cpu_ns=%" PRIu64,
		       ++seq, open_window ? insns - start_at : 0,
		       open_window ? blocks - blocks_at : 0,
		       open_window ? thread_cpu_ns() - cpu_at : 0);
	for (i = 0; percpu && i < MAX_VCPUS; i++)
		len += snprintf(line + len, sizeof(line) - len,
				" vcpu%d=%" PRIu64, i,
				open_window ? vcpu_insns[i] - vcpu_at[i] : 0);
	snprintf(line + len, sizeof(line) - len, "\n");
	if (prof_dir && open_window && !prof_broken)
		prof_write(seq);
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
	struct prof_rec *rec;
	unsigned int kind;

	(void)id;
	qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64,
						 &insns, n);
	qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64,
						 &blocks, 1);
	if (percpu)
		qemu_plugin_register_vcpu_tb_exec_cb(tb, vcpu_tb_exec,
						     QEMU_PLUGIN_CB_NO_REGS,
						     (void *)(uintptr_t)n);
	if (prof_dir && !prof_broken) {
		rec = prof_new(qemu_plugin_tb_vaddr(tb), n);
		if (rec && prof_cpu >= 0)
			qemu_plugin_register_vcpu_tb_exec_cb(tb, prof_cpu_exec,
							     QEMU_PLUGIN_CB_NO_REGS,
							     rec);
		else if (rec)
			qemu_plugin_register_vcpu_tb_exec_inline(tb,
					QEMU_PLUGIN_INLINE_ADD_U64,
					&rec->count, n);
	}
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
	if (prof_dir) {
		struct prof_chunk *c;
		uint64_t recs = 0;

		for (c = chunks; c; c = c->next)
			recs += c->used;
		snprintf(line, sizeof(line),
			 "ktls-count prof: %" PRIu64 " block records\n", recs);
		qemu_plugin_outs(line);
	}
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id,
					   const qemu_info_t *info,
					   int argc, char **argv)
{
	int i;

	(void)info;
	for (i = 0; i < argc; i++) {
		if (!strncmp(argv[i], "prof=", 5) && argv[i][5]) {
			/* QEMU may free argv after install. */
			prof_dir = strdup(argv[i] + 5);
			if (!prof_dir)
				return -1;
		} else if (!strncmp(argv[i], "profcpu=", 8)) {
			prof_cpu = atoi(argv[i] + 8);
		} else if (!strcmp(argv[i], "percpu=1")) {
			percpu = true;
		} else {
			fprintf(stderr, "libcount: unknown argument '%s'\n",
				argv[i]);
			return -1;
		}
	}
	qemu_plugin_register_vcpu_tb_trans_cb(id, tb_trans);
	qemu_plugin_register_atexit_cb(id, at_exit, NULL);
	return 0;
}
