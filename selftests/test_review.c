// SPDX-License-Identifier: GPL-2.0
/*
 * Review findings on the kernel changes of 2026-11-27, one case each.
 *
 * read_sock cases drive proto_ops.read_sock through the test module
 * /ktls/ktls_test_readsock.ko (selftests/kmod/ktls_test_readsock.c),
 * records sealed by lib_tlsrec; every case runs against Debian's in-tree
 * tls.ko (where it has tls_sw_read_sock), then ktls, with the same
 * assertions.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "lib_tlsrec.h"
#include "util.h"

#define TLS12	TLS_1_2_VERSION
#define TLS13	TLS_1_3_VERSION
#define T_DATA	23
#define T_ALERT	21
#define SEED	9

#define RS_KO		"/ktls/ktls_test_readsock.ko"
#define RS_PROC		"/proc/ktls_test_readsock"
#define RS_MAX_CALLS	64
#define RS_BUF_SIZE	(256 * 1024)
#define RS_ALL		(1u << 20)

/* What the test module returns (struct rs_out there). */
struct rs_result {
	int32_t ret;
	uint32_t calls;
	uint32_t len;
	uint32_t call_len[RS_MAX_CALLS];
	uint8_t data[RS_BUF_SIZE];
};

static const struct {
	uint16_t version, cipher;
} variants[] = {
	{ TLS12, TLS_CIPHER_AES_GCM_128 },
	{ TLS13, TLS_CIPHER_AES_GCM_256 },
};
#define NVARIANTS (sizeof(variants) / sizeof(variants[0]))

struct pair {
	int rx, tx;
	struct tr_keys k;
};

static void pair_open(struct pair *p, size_t variant)
{
	uint16_t version = variants[variant].version;
	uint16_t cipher = variants[variant].cipher;
	union kt_crypto_info ci;
	int one = 1;

	kt_diag("%s %s", kt_cipher(cipher)->name,
		version == TLS12 ? "1.2" : "1.3");
	memset(p, 0, sizeof(*p));
	kt_tcp_pair(AF_INET, &p->tx, &p->rx);
	KT_ASSERT_OK(setsockopt(p->tx, IPPROTO_TCP, TCP_NODELAY, &one,
				sizeof(one)));
	kt_install(p->rx, TLS_RX, version, cipher, SEED);
	kt_fill_info(&ci, version, cipher, SEED);
	tr_keys_from_info(&p->k, &ci);
}

static void pair_close(struct pair *p)
{
	close(p->rx);
	close(p->tx);
}

static void send_rec(struct pair *p, uint8_t type, const void *pt,
		     size_t len)
{
	static uint8_t rec[TR_MAX_REC];
	size_t n = tr_seal(&p->k, type, pt, len, rec);

	KT_ASSERT(n > 0);
	kt_write_all(p->tx, rec, n);
}

/* Loopback: the rx end has everything the peer wrote. */
static void settle(void)
{
	usleep(50000);
}

static int intree_has_read_sock(void)
{
	char line[256];
	int found = 0;
	FILE *f = fopen("/proc/kallsyms", "r");

	KT_ASSERT(f);
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, " tls_sw_read_sock") != NULL;
	fclose(f);
	return found;
}

static void need_read_sock(void)
{
	int rc;

	if (!kt_module_loaded("ktls_test_readsock")) {
		rc = kt_module_load(RS_KO, NULL);
		if (rc && rc != -EEXIST)
			KT_FAIL("cannot load %s: %s", RS_KO, strerror(-rc));
	}
	if (!kt_module_loaded("ktls") && !intree_has_read_sock())
		KT_SKIP("this kernel's in-tree tls.ko has no tls_sw_read_sock (in-tree gained it in 6.6): nothing to compare with");
}

/* read_sock(desc.count = count, actor taking at most per_call) on fd. */
static void rs_call(int fd, size_t count, size_t per_call,
		    struct rs_result *r)
{
	char cmd[64];
	size_t have = 0;
	ssize_t n;
	int pfd = open(RS_PROC, O_RDWR | O_CLOEXEC);

	KT_ASSERT(pfd >= 0);
	snprintf(cmd, sizeof(cmd), "%d %zu %zu", fd, count, per_call);
	KT_ASSERT_EQ(write(pfd, cmd, strlen(cmd)), strlen(cmd));
	memset(r, 0, sizeof(*r));
	while ((n = pread(pfd, (char *)r + have, sizeof(*r) - have,
			  have)) > 0)
		have += n;
	KT_ASSERT(n == 0);
	KT_ASSERT(have >= offsetof(struct rs_result, data));
	KT_ASSERT_EQ(have, offsetof(struct rs_result, data) + r->len);
	close(pfd);
}

/* read_sock returns ret, its actor having taken the len bytes of want. */
static void rs_expect(int fd, size_t count, int ret, const uint8_t *want,
		      size_t len)
{
	static struct rs_result r;

	rs_call(fd, count, 0, &r);
	if (r.ret != ret)
		KT_FAIL("read_sock(count %zu) returned %d%s%s, expected %d%s%s",
			count, r.ret, r.ret < 0 ? " " : "",
			r.ret < 0 ? strerror(-r.ret) : "", ret,
			ret < 0 ? " " : "", ret < 0 ? strerror(-ret) : "");
	KT_ASSERT_EQ(r.len, len);
	if (len && memcmp(r.data, want, len))
		KT_FAIL("read_sock took other bytes than were sent");
}

/*
 * desc->count 0 on entry: nothing is taken, and the return value is 0 or
 * -errno, never a byte count.  In-tree skips empty data records whatever
 * desc->count (then -EAGAIN with nothing else queued), stops at a control
 * record with -EINVAL, and offers a data record to the actor, which takes
 * nothing: 0.  ktls returned 1 after skipping an empty record.
 */
static void read_sock_count_zero(void)
{
	static uint8_t pt[100];
	uint8_t got[100], type;
	size_t v;

	need_read_sock();

	kt_fill_pattern(pt, sizeof(pt), 11);
	for (v = 0; v < NVARIANTS; v++) {
		struct pair p;

		pair_open(&p, v);
		send_rec(&p, T_DATA, pt, 0);
		settle();
		rs_expect(p.rx, 0, -EAGAIN, NULL, 0);

		send_rec(&p, T_DATA, pt, 0);
		send_rec(&p, T_DATA, pt, 50);
		settle();
		rs_expect(p.rx, 0, 0, NULL, 0);
		rs_expect(p.rx, RS_ALL, 50, pt, 50);

		send_rec(&p, T_DATA, pt, 0);
		send_rec(&p, T_ALERT, pt + 50, 2);
		settle();
		rs_expect(p.rx, 0, -EINVAL, NULL, 0);
		KT_ASSERT_EQ(kt_recv_type(p.rx, got, sizeof(got), 0, &type),
			     2);
		KT_ASSERT_EQ(type, T_ALERT);
		KT_ASSERT(!memcmp(got, pt + 50, 2));
		pair_close(&p);
	}
}

static const struct kt_case cases[] = {
	KT_CASE(read_sock_count_zero),
};

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	kt_need_ktls();
	return kt_run_phased("review", cases,
			     sizeof(cases) / sizeof(cases[0]), NULL);
}
