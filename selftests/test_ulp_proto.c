// SPDX-License-Identifier: GPL-2.0
/*
 * TCP_ULP on a socket whose proto is not plain TCP (here: a sockmap
 * member, whose proto is tcp_bpf's) must not change the proto tables that
 * other TLS sockets use.  As in-tree, the ULP attaches (0) and TLS_TX then
 * fails with EINVAL (TLS and sockmap exclude each other).  The proto
 * functions are read with the test module ktls_protoprobe.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "harness.h"
#include "lib_tlsrec.h"
#include "util.h"

#define TLS13	TLS_1_3_VERSION
#define GCM128	TLS_CIPHER_AES_GCM_128
#define PROBE	"/proc/ktls_protoprobe"

static void probe_load(void)
{
	int rc;

	if (kt_module_loaded("ktls_protoprobe"))
		return;
	rc = kt_module_load("/ktls/ktls_protoprobe.ko", NULL);
	if (rc)
		KT_FAIL("insmod ktls_protoprobe: %s", strerror(-rc));
}

/* The proto functions of fd's socket, as one line. */
static void probe(int fd, char *out, size_t size)
{
	char num[16];
	int p = open(PROBE, O_RDWR);
	ssize_t n;

	KT_ASSERT(p >= 0);
	snprintf(num, sizeof(num), "%d", fd);
	KT_ASSERT_EQ(write(p, num, strlen(num)), (ssize_t)strlen(num));
	KT_ASSERT_OK(lseek(p, 0, SEEK_SET));
	n = read(p, out, size - 1);
	KT_ASSERT(n > 0);
	out[n] = 0;
	close(p);
}

static int sockmap_new(void)
{
	union bpf_attr attr;
	int fd;

	memset(&attr, 0, sizeof(attr));
	attr.map_type = BPF_MAP_TYPE_SOCKMAP;
	attr.key_size = 4;
	attr.value_size = 4;
	attr.max_entries = 4;
	fd = syscall(SYS_bpf, BPF_MAP_CREATE, &attr, sizeof(attr));
	if (fd < 0)
		KT_FAIL("BPF_MAP_CREATE sockmap: %s", strerror(errno));
	return fd;
}

static void sockmap_add(int map, uint32_t key, int sock)
{
	union bpf_attr attr;
	uint32_t val = sock;

	memset(&attr, 0, sizeof(attr));
	attr.map_fd = map;
	attr.key = (uintptr_t)&key;
	attr.value = (uintptr_t)&val;
	attr.flags = BPF_ANY;
	if (syscall(SYS_bpf, BPF_MAP_UPDATE_ELEM, &attr, sizeof(attr)))
		KT_FAIL("sockmap update: %s", strerror(errno));
}

/* b's TLS TX still seals records that the codec opens. */
static void check_tx(int a, int b, unsigned int seed)
{
	uint8_t buf[TR_MAX_REC], pt[TR_MAX_PT + 256], type;
	union kt_crypto_info ci;
	struct tr_keys k;
	size_t len;

	kt_fill_info(&ci, TLS13, GCM128, seed);
	tr_keys_from_info(&k, &ci);
	KT_ASSERT_EQ(send(b, "hello", 5, 0), 5);
	kt_read_all(a, buf, TR_HDR);
	len = (buf[3] << 8) | buf[4];
	KT_ASSERT(TR_HDR + len <= sizeof(buf));
	kt_read_all(a, buf + TR_HDR, len);
	if (tr_open(&k, buf, TR_HDR + len, &type, pt, &len) < 0)
		KT_FAIL("record does not open: %s", tr_error());
	KT_ASSERT(type == 23 && len == 5 && !memcmp(pt, "hello", 5));
}

static void sockmap_then_ulp(int family)
{
	char before[512], after[512], member[512], s[512];
	int a1, b1, a2, b2, a3, b3, map, kmsg;

	kt_need_ktls();
	probe_load();
	kmsg = kt_kmsg_open();
	KT_ASSERT(kmsg >= 0);

	/* A TLS socket on plain TCP. */
	kt_tcp_pair(family, &a1, &b1);
	kt_install(b1, TLS_TX, TLS13, GCM128, 1);
	probe(b1, before, sizeof(before));
	KT_ASSERT(strstr(before, "sendmsg=ktls_tx_sendmsg"));

	/* A sockmap member, then the ULP: as in-tree, 0, then no keys. */
	map = sockmap_new();
	kt_tcp_pair(family, &a2, &b2);
	sockmap_add(map, 0, b2);
	probe(b2, member, sizeof(member));
	KT_ASSERT(strstr(member, "close=sock_map_close"));
	KT_ASSERT_OK(kt_attach(b2));
	{
		union kt_crypto_info ci;
		size_t n = kt_fill_info(&ci, TLS13, GCM128, 2);

		KT_ASSERT_ERRNO(setsockopt(b2, SOL_TLS, TLS_TX, &ci, n),
				EINVAL);
	}

	/* The first socket's proto is what it was. */
	probe(b1, after, sizeof(after));
	if (strcmp(before, after))
		KT_FAIL("TLS socket's proto changed: was \"%.*s\", now \"%.*s\"",
			(int)strcspn(before, "\n"), before,
			(int)strcspn(after, "\n"), after);
	check_tx(a1, b1, 1);

	/* Another plain socket does not change the member's proto either. */
	probe(b2, member, sizeof(member));
	KT_ASSERT(strstr(member, "destroy=sock_map_destroy"));
	kt_tcp_pair(family, &a3, &b3);
	KT_ASSERT_OK(kt_attach(b3));
	probe(b2, s, sizeof(s));
	if (strcmp(member, s))
		KT_FAIL("sockmap member's proto changed: was \"%.*s\", now \"%.*s\"",
			(int)strcspn(member, "\n"), member,
			(int)strcspn(s, "\n"), s);
	probe(b1, after, sizeof(after));
	KT_ASSERT(!strcmp(before, after));

	close(b1);
	close(a1);
	close(b2);
	close(a2);
	close(b3);
	close(a3);
	close(map);
	usleep(100000);
	KT_ASSERT_EQ(kt_kmsg_find(kmsg, "WARNING"), 0);
	KT_ASSERT_EQ(kt_kmsg_find(kmsg, "BUG"), 0);
	close(kmsg);
}

static void test_sockmap_then_ulp_v4(void)
{
	sockmap_then_ulp(AF_INET);
}

static void test_sockmap_then_ulp_v6(void)
{
	sockmap_then_ulp(AF_INET6);
}

KT_MAIN("ktls_ulp_proto",
	KT_CASE(test_sockmap_then_ulp_v4),
	KT_CASE(test_sockmap_then_ulp_v6));
