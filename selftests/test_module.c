// SPDX-License-Identifier: GPL-2.0
/*
 * Module lifecycle: the "tls" name clash with Debian's tls.ko, ktls and
 * tls.ko side by side, the module reference held by sockets, unload and
 * reload, bad ulp_name.  Cases run in order and share the kernel's module
 * state.  tls.ko is only ever loaded while ktls does not hold "tls" (it
 * would load anyway and corrupt the ULP list on unload), and ktls holds
 * "tls" again at the end.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "harness.h"
#include "util.h"

static const char *ktls_ko(void)
{
	const char *ko = getenv("KTLS_KO");

	return ko && *ko ? ko : "/ktls/ktls.ko";
}

static int attach_name(int fd, const char *name)
{
	return setsockopt(fd, IPPROTO_TCP, TCP_ULP, name, strlen(name));
}

static void ulp_is(int fd, const char *name)
{
	char got[16] = "";
	socklen_t len = sizeof(got);

	KT_ASSERT_OK(getsockopt(fd, IPPROTO_TCP, TCP_ULP, got, &len));
	if (strcmp(got, name))
		KT_FAIL("ULP is \"%s\", expected \"%s\"", got, name);
}

static void install_tx(int fd)
{
	union kt_crypto_info ci;
	size_t len = kt_fill_info(&ci, TLS_1_3_VERSION,
				  TLS_CIPHER_AES_GCM_128, 1);

	KT_ASSERT_OK(setsockopt(fd, SOL_TLS, TLS_TX, &ci, len));
}

static void install_rx(int fd)
{
	union kt_crypto_info ci;
	size_t len = kt_fill_info(&ci, TLS_1_3_VERSION,
				  TLS_CIPHER_AES_GCM_128, 2);

	KT_ASSERT_OK(setsockopt(fd, SOL_TLS, TLS_RX, &ci, len));
}

static long refcnt(const char *mod)
{
	char path[128], buf[32] = "";
	FILE *f;

	snprintf(path, sizeof(path), "/sys/module/%s/refcnt", mod);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = 0;
	fclose(f);
	return strtol(buf, NULL, 10);
}

/* The in-tree module's own per-netns counters: only it has them. */
static long tls_stat(const char *key)
{
	char line[128];
	size_t kl = strlen(key);
	long v = -1;
	FILE *f = fopen("/proc/net/tls_stat", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, kl) && (line[kl] == ' ' ||
						line[kl] == '\t'))
			v = strtol(line + kl, NULL, 10);
	fclose(f);
	return v;
}

static void need_intree(void)
{
	int rc = kt_intree_load();

	if (rc == -ENOENT)
		KT_SKIP("no in-tree tls.ko in this image");
	KT_ASSERT_EQ(rc, 0);
}

/* --- cases --------------------------------------------------------------- */

static void start_clean(void)
{
	kt_need_ktls();
	KT_ASSERT_EQ(kt_module_unload("ktls"), 0);
	KT_ASSERT(!kt_module_loaded("ktls"));
	if (kt_module_loaded("tls"))
		KT_ASSERT_EQ(kt_module_unload("tls"), 0);
	KT_ASSERT(!kt_module_loaded("tls"));
}

static void clash_with_intree(void)
{
	int all, hint;

	need_intree();
	all = kt_kmsg_open();
	hint = kt_kmsg_open();
	KT_ASSERT(all >= 0 && hint >= 0);
	KT_ASSERT_EQ(kt_module_load(ktls_ko(), NULL), -EEXIST);
	/* One line from us, and it says what to do. */
	KT_ASSERT_EQ(kt_kmsg_find(all, "ktls: "), 1);
	KT_ASSERT_EQ(kt_kmsg_find(hint, "ktls: TCP ULP \"tls\" is already registered (the in-tree tls module?); unload it first or load ktls with ulp_name=ktls"), 1);
	KT_ASSERT_EQ(kt_module_load(ktls_ko(), "ulp_name=tls"), -EEXIST);
	KT_ASSERT_EQ(kt_kmsg_find(all, "ktls: "), 1);
	KT_ASSERT(!kt_module_loaded("ktls"));
	close(all);
	close(hint);
	/* tls.ko is unharmed and still owns "tls". */
	KT_ASSERT(kt_module_loaded("tls"));
	KT_ASSERT(access("/proc/net/tls_stat", F_OK) == 0);
}

static void side_by_side(void)
{
	long sw_before;
	int c, s;

	need_intree();
	KT_ASSERT_EQ(kt_module_load(ktls_ko(), "ulp_name=ktls"), 0);
	KT_ASSERT(kt_module_loaded("ktls"));
	KT_ASSERT(kt_module_loaded("tls"));

	sw_before = tls_stat("TlsCurrTxSw");
	KT_ASSERT(sw_before >= 0);
	kt_tcp_pair(AF_INET, &c, &s);
	KT_ASSERT_OK(attach_name(c, "ktls"));
	KT_ASSERT_OK(attach_name(s, "tls"));
	ulp_is(c, "ktls");
	ulp_is(s, "tls");
	KT_ASSERT_EQ(refcnt("ktls"), 1);

	/* ktls's TX does not touch the in-tree counters ... */
	install_tx(c);
	KT_ASSERT_EQ(tls_stat("TlsCurrTxSw"), sw_before);
	/* ... the in-tree socket really is in-tree. */
	install_tx(s);
	KT_ASSERT_EQ(tls_stat("TlsCurrTxSw"), sw_before + 1);
	install_rx(c);
	install_rx(s);
	close(c);
	close(s);
	KT_ASSERT_EQ(kt_module_unload("ktls"), 0);
	KT_ASSERT(kt_module_loaded("tls"));

	/* IPv6 as well, and ktls loads again beside tls.ko. */
	KT_ASSERT_EQ(kt_module_load(ktls_ko(), "ulp_name=ktls"), 0);
	kt_tcp_pair(AF_INET6, &c, &s);
	KT_ASSERT_OK(attach_name(c, "tls"));
	KT_ASSERT_OK(attach_name(s, "ktls"));
	install_tx(c);
	install_tx(s);
	ulp_is(c, "tls");
	ulp_is(s, "ktls");
	close(c);
	close(s);
}

/* Sockets pin the module; closing them releases it. */
static void socket_holds_module(void)
{
	int c, s, c2, s2, fd;

	if (!kt_module_loaded("ktls"))
		KT_ASSERT_EQ(kt_module_load(ktls_ko(), "ulp_name=ktls"), 0);
	/* Let sockets of earlier cases go (they may wait an RCU period). */
	KT_ASSERT_EQ(kt_module_unload("ktls"), 0);
	KT_ASSERT_EQ(kt_module_load(ktls_ko(), "ulp_name=ktls"), 0);
	KT_ASSERT_EQ(refcnt("ktls"), 0);

	/* A failed attach takes no reference. */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	KT_ASSERT(fd >= 0);
	KT_ASSERT_ERRNO(attach_name(fd, "ktls"), ENOTCONN);
	KT_ASSERT_EQ(refcnt("ktls"), 0);
	close(fd);

	kt_tcp_pair(AF_INET, &c, &s);
	kt_tcp_pair(AF_INET6, &c2, &s2);
	KT_ASSERT_OK(attach_name(c, "ktls"));
	KT_ASSERT_EQ(refcnt("ktls"), 1);
	KT_ASSERT_OK(attach_name(c2, "ktls"));
	install_tx(c2);
	install_rx(c2);
	KT_ASSERT_EQ(refcnt("ktls"), 2);
	/* A second attach on the same socket fails and adds nothing. */
	KT_ASSERT_ERRNO(attach_name(c, "ktls"), EEXIST);
	KT_ASSERT_EQ(refcnt("ktls"), 2);

	KT_ASSERT_ERRNO(syscall(SYS_delete_module, "ktls", O_NONBLOCK),
			EWOULDBLOCK);
	KT_ASSERT(kt_module_loaded("ktls"));
	close(c);
	close(s);
	/* One socket left still pins it. */
	KT_ASSERT_ERRNO(syscall(SYS_delete_module, "ktls", O_NONBLOCK),
			EWOULDBLOCK);
	close(c2);
	close(s2);
	KT_ASSERT_EQ(kt_module_unload("ktls"), 0);
	KT_ASSERT(!kt_module_loaded("ktls"));
}

/* Many sockets, closed every way: all references come back. */
static void many_sockets(void)
{
	enum { N = 64 };
	struct linger rst = { .l_onoff = 1, .l_linger = 0 };
	int c[N], s[N], i;

	if (!kt_module_loaded("ktls"))
		KT_ASSERT_EQ(kt_module_load(ktls_ko(), "ulp_name=ktls"), 0);
	for (i = 0; i < N; i++) {
		kt_tcp_pair(i & 1 ? AF_INET6 : AF_INET, &c[i], &s[i]);
		KT_ASSERT_OK(attach_name(c[i], "ktls"));
		KT_ASSERT_OK(attach_name(s[i], "ktls"));
		if (i % 4 != 0)
			install_tx(c[i]);
		if (i % 4 == 2)
			install_rx(c[i]);
		if (i % 4 == 3) {
			install_rx(s[i]);
			install_tx(s[i]);
		}
	}
	KT_ASSERT_EQ(refcnt("ktls"), 2 * N);
	for (i = 0; i < N; i++) {
		/* A third end with a reset, the rest with FINs. */
		if (i % 3 == 0)
			KT_ASSERT_OK(setsockopt(c[i], SOL_SOCKET, SO_LINGER,
						&rst, sizeof(rst)));
		close(c[i]);
		close(s[i]);
	}
	KT_ASSERT_EQ(kt_module_unload("ktls"), 0);
	KT_ASSERT(!kt_module_loaded("ktls"));
}

static void reload(void)
{
	int i, c, s;

	for (i = 0; i < 3; i++) {
		KT_ASSERT_EQ(kt_module_load(ktls_ko(), "ulp_name=ktls"), 0);
		kt_tcp_pair(i & 1 ? AF_INET6 : AF_INET, &c, &s);
		KT_ASSERT_OK(attach_name(c, "ktls"));
		install_tx(c);
		install_rx(c);
		close(c);
		close(s);
		KT_ASSERT_EQ(kt_module_unload("ktls"), 0);
	}
	/* Gone means gone: the name is no longer registered. */
	kt_tcp_pair(AF_INET, &c, &s);
	KT_ASSERT_ERRNO(attach_name(c, "ktls"), ENOENT);
	close(c);
	close(s);
}

static void bad_ulp_name(void)
{
	int kmsg = kt_kmsg_open(), c, s;

	KT_ASSERT(kmsg >= 0);
	KT_ASSERT(!kt_module_loaded("ktls"));
	KT_ASSERT_EQ(kt_module_load(ktls_ko(), "ulp_name="), -EINVAL);
	KT_ASSERT_EQ(kt_module_load(ktls_ko(), "ulp_name=abcdefghijklmnop"),
		     -EINVAL);
	KT_ASSERT_EQ(kt_module_load(ktls_ko(),
				    "ulp_name=abcdefghijklmnopqrstuvwxyz"),
		     -EINVAL);
	KT_ASSERT(!kt_module_loaded("ktls"));
	/* One line per refused load. */
	KT_ASSERT_EQ(kt_kmsg_find(kmsg, "ktls: ulp_name must be 1 to 15 characters"), 3);
	close(kmsg);

	/* 15 characters is the longest name TCP can hold. */
	KT_ASSERT_EQ(kt_module_load(ktls_ko(), "ulp_name=abcdefghijklmno"), 0);
	kt_tcp_pair(AF_INET, &c, &s);
	KT_ASSERT_OK(attach_name(c, "abcdefghijklmno"));
	ulp_is(c, "abcdefghijklmno");
	install_tx(c);
	close(c);
	close(s);
	KT_ASSERT_EQ(kt_module_unload("ktls"), 0);
}

/* Back to the default set-up: ktls holds "tls", tls.ko is gone. */
static void finish_as_tls(void)
{
	int c, s;

	if (kt_module_loaded("ktls"))
		KT_ASSERT_EQ(kt_module_unload("ktls"), 0);
	if (kt_module_loaded("tls"))
		KT_ASSERT_EQ(kt_module_unload("tls"), 0);
	KT_ASSERT(!kt_module_loaded("tls"));
	KT_ASSERT_EQ(kt_module_load(ktls_ko(), NULL), 0);
	KT_ASSERT(kt_module_loaded("ktls"));
	/* "tls" now means ktls, and no tls.ko was pulled in for it. */
	kt_tcp_pair(AF_INET, &c, &s);
	KT_ASSERT_OK(attach_name(c, "tls"));
	install_tx(c);
	KT_ASSERT_EQ(refcnt("ktls"), 1);
	KT_ASSERT(!kt_module_loaded("tls"));
	close(c);
	close(s);
	/* The guard in kt_intree_load() refuses tls.ko from now on. */
	KT_ASSERT_EQ(kt_intree_load(), -EBUSY);
}

static const struct kt_case cases[] = {
	KT_CASE(start_clean),
	KT_CASE(clash_with_intree),
	KT_CASE(side_by_side),
	KT_CASE(socket_holds_module),
	KT_CASE(many_sockets),
	KT_CASE(reload),
	KT_CASE(bad_ulp_name),
	KT_CASE(finish_as_tls),
};

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	kt_need_ktls();
	return kt_run("module", cases, sizeof(cases) / sizeof(cases[0]));
}
