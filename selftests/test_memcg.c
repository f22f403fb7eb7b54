// SPDX-License-Identifier: GPL-2.0
/*
 * TX page pool pages belong to the socket's memory cgroup: memory.current
 * includes them while a pool holds them (also after TCP let go of them),
 * loses them when the pool is released, and a cgroup near its memory.max
 * does not get pool pages beyond what fits.  Many connections each send a
 * burst that a raw reader drains, then a trickle; the pool gauge is
 * KtlsTxPoolPages (/proc/net/ktls_stat).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "lib_tlsrec.h"
#include "util.h"

#define CG_ROOT		"/sys/fs/cgroup"
#define POOL_PARAM	"/sys/module/ktls/parameters/tx_pool_pages"
#define IDLE_PARAM	"/sys/module/ktls/parameters/tx_pool_idle_ms"
#define POOL_PAGE	(32 << 10)
#define BURST		(64 << 10)
#define NCONN		500

struct conn {
	int raw, tls;
};

static struct conn conns[NCONN];
static char cg[128];

static void write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY);

	if (fd < 0)
		KT_FAIL("open %s: %s", path, strerror(errno));
	if (write(fd, val, strlen(val)) != (ssize_t)strlen(val))
		KT_FAIL("write \"%s\" to %s: %s", val, path, strerror(errno));
	close(fd);
}

static long read_long(const char *path)
{
	char buf[64] = "";
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		KT_FAIL("open %s: %s", path, strerror(errno));
	KT_ASSERT(read(fd, buf, sizeof(buf) - 1) > 0);
	close(fd);
	return strtol(buf, NULL, 10);
}

static void cg_write(const char *file, const char *val)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", cg, file);
	write_file(path, val);
}

/* Back to the root group; the child goes once its charges are gone. */
static void cg_leave(void)
{
	char pid[32];

	snprintf(pid, sizeof(pid), "%d", getpid());
	write_file(CG_ROOT "/cgroup.procs", pid);
	rmdir(cg);
}

static long cg_long(const char *file)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", cg, file);
	return read_long(path);
}

/* One counter of memory.events. */
static long cg_event(const char *name)
{
	char path[256], key[64];
	long v = -1, n;
	FILE *f;

	snprintf(path, sizeof(path), "%s/memory.events", cg);
	f = fopen(path, "r");
	if (!f)
		KT_FAIL("open %s: %s", path, strerror(errno));
	while (fscanf(f, "%63s %ld", key, &n) == 2)
		if (!strcmp(key, name))
			v = n;
	fclose(f);
	if (v < 0)
		KT_FAIL("no %s in %s", name, path);
	return v;
}

/* A child memory cgroup holding this process only. */
static void cg_enter(const char *name)
{
	char path[256], pid[32];
	struct stat st;

	if (stat(CG_ROOT "/cgroup.controllers", &st)) {
		mkdir(CG_ROOT, 0755);
		if (mount("none", CG_ROOT, "cgroup2", 0, NULL))
			KT_FAIL("mount cgroup2: %s", strerror(errno));
	}
	write_file(CG_ROOT "/cgroup.subtree_control", "+memory");
	snprintf(cg, sizeof(cg), CG_ROOT "/%s.%d", name, getpid());
	if (mkdir(cg, 0755))
		KT_FAIL("mkdir %s: %s", cg, strerror(errno));
	snprintf(path, sizeof(path), "%s/cgroup.procs", cg);
	snprintf(pid, sizeof(pid), "%d", getpid());
	write_file(path, pid);
}

static void pool_set(unsigned int n)
{
	char v[16];

	snprintf(v, sizeof(v), "%u", n);
	write_file(POOL_PARAM, v);
}

/* How long an unused pool stays (ms). */
static void idle_set(unsigned int ms)
{
	char v[16];

	snprintf(v, sizeof(v), "%u", ms);
	write_file(IDLE_PARAM, v);
}

static long pool_pages(void)
{
	return kt_stat("KtlsTxPoolPages");
}

static void open_conns(void)
{
	struct rlimit rl = { 4 * NCONN + 64, 4 * NCONN + 64 };
	int sndbuf = 512 << 10;
	unsigned int i;

	KT_ASSERT_OK(setrlimit(RLIMIT_NOFILE, &rl));
	for (i = 0; i < NCONN; i++) {
		kt_tcp_pair(AF_INET, &conns[i].raw, &conns[i].tls);
		/* The burst fits: send() does not wait for the reader. */
		KT_ASSERT_OK(setsockopt(conns[i].tls, SOL_SOCKET, SO_SNDBUF,
					&sndbuf, sizeof(sndbuf)));
		kt_install(conns[i].tls, TLS_TX, TLS_1_3_VERSION,
			   TLS_CIPHER_AES_GCM_128, i);
	}
}

static void close_conns(void)
{
	unsigned int i;

	for (i = 0; i < NCONN; i++) {
		close(conns[i].tls);
		close(conns[i].raw);
	}
}

/* Read records until they carried len plaintext bytes (TLS 1.3 GCM). */
static void drain(int raw, size_t len)
{
	static uint8_t buf[TR_MAX_REC];
	size_t got = 0, n;

	while (got < len) {
		kt_read_all(raw, buf, 5);
		n = (buf[3] << 8) | buf[4];
		KT_ASSERT(n > 17 && n <= sizeof(buf));
		kt_read_all(raw, buf, n);
		got += n - 17;	/* tag and content type */
	}
	KT_ASSERT_EQ(got, len);
}

/* Every connection: a burst the reader drains, then a small record. */
static long burst_trickle(long *pool_max)
{
	static uint8_t data[BURST];
	unsigned int i;
	long p;

	kt_fill_pattern(data, sizeof(data), 7);
	*pool_max = 0;
	for (i = 0; i < NCONN; i++) {
		kt_write_all(conns[i].tls, data, BURST);
		drain(conns[i].raw, BURST);
		kt_write_all(conns[i].tls, data, 100);
		drain(conns[i].raw, 100);
		p = pool_pages();
		if (p > *pool_max)
			*pool_max = p;
	}
	return *pool_max;
}

static void setup(void)
{
	kt_need_ktls();
	/* The gauge of this namespace's sockets only. */
	kt_new_netns();
	pool_set(16);
	idle_set(1000);
}

/* memory.current includes pool pages TCP let go of; releasing them
 * uncharges them.
 */
static void test_pool_charged(void)
{
	long base, cur, after, p, pmax;
	unsigned int t;

	setup();
	/*
	 * 500 bursts outlast the default 1 s idle time on a slow (debug)
	 * kernel: the pools must all be there when memory.current is read.
	 */
	idle_set(3600 * 1000);
	cg_enter("ktls_charged");
	open_conns();
	base = cg_long("memory.current");
	burst_trickle(&pmax);
	/* TCP frees what the reader acknowledged. */
	usleep(100 * 1000);
	cur = cg_long("memory.current");
	p = pool_pages();
	kt_diag("conns %d, pool pages now %ld (max %ld), memory.current %ld -> %ld",
		NCONN, p, pmax, base, cur);
	if (p * POOL_PAGE < (2 << 20))
		KT_FAIL("pools hold %ld pages only: nothing to measure", p);
	/* Idle pools are released after tx_pool_idle_ms (looked at every second). */
	idle_set(1000);
	for (t = 0; t < 50 * kt_time_scale() && pool_pages(); t++)
		usleep(100 * 1000);
	KT_ASSERT_EQ(pool_pages(), 0);
	after = cg_long("memory.current");
	kt_diag("after release: memory.current %ld (dropped %ld, pool had %ld)",
		after, cur - after, p * POOL_PAGE);
	/* The per-CPU charge caches may hide up to 64 pages per CPU. */
	if (cur - after < p * POOL_PAGE - (1 << 20))
		KT_FAIL("releasing %ld pool bytes lowered memory.current by %ld only: pool pages are not charged",
			p * POOL_PAGE, cur - after);
	close_conns();
	cg_leave();
}

/* A cgroup near memory.max: pools stay within what fits. */
static void test_pool_within_limit(void)
{
	long base, room = 4 << 20, pmax;
	char v[32];

	setup();
	cg_enter("ktls_limit");
	open_conns();
	base = cg_long("memory.current");
	snprintf(v, sizeof(v), "%ld", base + room);
	cg_write("memory.max", v);
	burst_trickle(&pmax);
	kt_diag("memory.max %ld, pool pages at most %ld (%ld bytes), memory.current %ld",
		base + room, pmax, pmax * POOL_PAGE,
		cg_long("memory.current"));
	/*
	 * What fits is room less everything else the group charges; the
	 * base may shrink a little meanwhile (per-CPU charge caches drain).
	 */
	if (pmax * POOL_PAGE > room + (1 << 20))
		KT_FAIL("pools grew to %ld bytes in a cgroup with %ld bytes of room",
			pmax * POOL_PAGE, room);
	KT_ASSERT(cg_long("memory.current") <= base + room);
	/* The pool gave way: nothing was killed to make room. */
	KT_ASSERT_EQ(cg_event("oom_kill"), 0);
	close_conns();
	cg_leave();
}

KT_MAIN("ktls_memcg",
	KT_CASE_T(test_pool_charged, 600),
	KT_CASE_T(test_pool_within_limit, 600));
