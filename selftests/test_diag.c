// SPDX-License-Identifier: GPL-2.0
/*
 * sock_diag: a raw NETLINK_SOCK_DIAG inet_diag dump with INET_DIAG_INFO
 * must carry INET_DIAG_ULP_INFO for our sockets, with the ULP name and
 * every INET_ULP_INFO_TLS attribute the socket's state implies.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "lib_keychain.h"
#include "lib_pair.h"
#include "util.h"

#define TLS12	TLS_1_2_VERSION
#define TLS13	TLS_1_3_VERSION

/* What the dump said about one socket; -1 for an absent attribute. */
struct ulp_info {
	int found;		/* the socket was in the dump */
	int has_ulp;		/* INET_DIAG_ULP_INFO present */
	char name[32];
	int has_tls;		/* INET_ULP_INFO_TLS present */
	long version, cipher, txconf, rxconf, max_payload;
	int zc_ro_tx, rx_no_pad;	/* flags: 0 or 1 */
	long tx_gen, rx_gen;	/* KTLS_INFO_{TX,RX}_KEY_GEN */
	int unknown;		/* attributes we did not expect */
};

static uint16_t port_of(int fd, int peer)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (peer)
		KT_ASSERT_OK(getpeername(fd, (struct sockaddr *)&ss, &len));
	else
		KT_ASSERT_OK(getsockname(fd, (struct sockaddr *)&ss, &len));
	return ss.ss_family == AF_INET6 ?
	       ((struct sockaddr_in6 *)&ss)->sin6_port :
	       ((struct sockaddr_in *)&ss)->sin_port;
}

static long get_u16(const struct rtattr *a)
{
	KT_ASSERT_EQ(RTA_PAYLOAD(a), 2);
	return *(const uint16_t *)RTA_DATA(a);
}

static void parse_tls(struct ulp_info *u, const struct rtattr *nest)
{
	const struct rtattr *a;
	int len = RTA_PAYLOAD(nest);

	u->has_tls = 1;
	for (a = RTA_DATA(nest); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		switch (a->rta_type & NLA_TYPE_MASK) {
		case TLS_INFO_VERSION:
			u->version = get_u16(a);
			break;
		case TLS_INFO_CIPHER:
			u->cipher = get_u16(a);
			break;
		case TLS_INFO_TXCONF:
			u->txconf = get_u16(a);
			break;
		case TLS_INFO_RXCONF:
			u->rxconf = get_u16(a);
			break;
		case TLS_INFO_ZC_RO_TX:
			KT_ASSERT_EQ(RTA_PAYLOAD(a), 0);
			u->zc_ro_tx = 1;
			break;
		case TLS_INFO_RX_NO_PAD:
			KT_ASSERT_EQ(RTA_PAYLOAD(a), 0);
			u->rx_no_pad = 1;
			break;
		case KTLS_INFO_TX_MAX_PAYLOAD_LEN:
			u->max_payload = get_u16(a);
			break;
		case KTLS_INFO_TX_KEY_GEN:
			KT_ASSERT_EQ(RTA_PAYLOAD(a), 4);
			u->tx_gen = *(const uint32_t *)RTA_DATA(a);
			break;
		case KTLS_INFO_RX_KEY_GEN:
			KT_ASSERT_EQ(RTA_PAYLOAD(a), 4);
			u->rx_gen = *(const uint32_t *)RTA_DATA(a);
			break;
		default:
			u->unknown++;
			break;
		}
	}
}

static void parse_ulp(struct ulp_info *u, const struct rtattr *nest)
{
	const struct rtattr *a;
	int len = RTA_PAYLOAD(nest);

	u->has_ulp = 1;
	for (a = RTA_DATA(nest); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		switch (a->rta_type & NLA_TYPE_MASK) {
		case INET_ULP_INFO_NAME:
			snprintf(u->name, sizeof(u->name), "%.*s",
				 (int)RTA_PAYLOAD(a), (char *)RTA_DATA(a));
			break;
		case INET_ULP_INFO_TLS:
			parse_tls(u, a);
			break;
		default:
			u->unknown++;
			break;
		}
	}
}

/* Dump the family's established TCP sockets; fill u for fd's entry. */
static void diag(int fd, struct ulp_info *u)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 r;
	} req = {
		.nlh = {
			.nlmsg_len = sizeof(req),
			.nlmsg_type = SOCK_DIAG_BY_FAMILY,
			.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
			.nlmsg_seq = 1,
		},
		.r = {
			.sdiag_protocol = IPPROTO_TCP,
			.idiag_ext = 1 << (INET_DIAG_INFO - 1),
			.idiag_states = 1 << 1,	/* TCP_ESTABLISHED */
		},
	};
	uint16_t sport = port_of(fd, 0), dport = port_of(fd, 1);
	static char buf[1 << 16];
	int nl, done = 0;

	memset(u, 0, sizeof(*u));
	u->version = u->cipher = u->txconf = u->rxconf = -1;
	u->max_payload = u->tx_gen = u->rx_gen = -1;
	KT_ASSERT_OK(getsockname(fd, (struct sockaddr *)&ss, &sl));
	req.r.sdiag_family = ss.ss_family;

	nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	KT_ASSERT(nl >= 0);
	KT_ASSERT_EQ(send(nl, &req, sizeof(req), 0), sizeof(req));
	while (!done) {
		struct nlmsghdr *h;
		ssize_t n = recv(nl, buf, sizeof(buf), 0);

		KT_ASSERT(n > 0);
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, n);
		     h = NLMSG_NEXT(h, n)) {
			struct inet_diag_msg *m = NLMSG_DATA(h);
			struct rtattr *a;
			int len;

			if (h->nlmsg_type == NLMSG_DONE) {
				done = 1;
				break;
			}
			if (h->nlmsg_type == NLMSG_ERROR &&
			    ((struct nlmsgerr *)m)->error == -ENOENT)
				KT_SKIP("no inet_diag/tcp_diag in this kernel (the VM image needs KTLS_VM_MODULES=\"tcp_diag\")");
			if (h->nlmsg_type == NLMSG_ERROR)
				KT_FAIL("inet_diag: error %d",
					((struct nlmsgerr *)m)->error);
			if (m->id.idiag_sport != sport ||
			    m->id.idiag_dport != dport)
				continue;
			KT_ASSERT(!u->found);
			u->found = 1;
			len = h->nlmsg_len - NLMSG_LENGTH(sizeof(*m));
			for (a = (struct rtattr *)(m + 1); RTA_OK(a, len);
			     a = RTA_NEXT(a, len))
				if (a->rta_type == INET_DIAG_ULP_INFO)
					parse_ulp(u, a);
		}
	}
	close(nl);
	KT_ASSERT(u->found);
}

static void expect_common(const struct ulp_info *u)
{
	KT_ASSERT(u->has_ulp);
	if (strcmp(u->name, kt_ulp()))
		KT_FAIL("ULP name \"%s\", expected \"%s\"", u->name, kt_ulp());
	KT_ASSERT(u->has_tls);
	KT_ASSERT_EQ(u->unknown, 0);
}

static void test_plain_tcp_has_no_ulp(void)
{
	struct ulp_info u;
	int a, b;

	kt_need_ktls();
	kt_tcp_pair(AF_INET, &a, &b);
	diag(b, &u);
	KT_ASSERT(!u.has_ulp);
}

static void test_ulp_only(void)
{
	struct ulp_info u;
	int a, b;

	kt_need_ktls();
	kt_tcp_pair(AF_INET, &a, &b);
	KT_ASSERT_OK(kt_attach(b));
	diag(b, &u);
	expect_common(&u);
	KT_ASSERT_EQ(u.version, -1);
	KT_ASSERT_EQ(u.cipher, -1);
	KT_ASSERT_EQ(u.txconf, TLS_CONF_BASE);
	KT_ASSERT_EQ(u.rxconf, TLS_CONF_BASE);
	KT_ASSERT_EQ(u.zc_ro_tx, 0);
	KT_ASSERT_EQ(u.rx_no_pad, 0);
	KT_ASSERT_EQ(u.max_payload, 16384);
	/* The peer end has no ULP. */
	diag(a, &u);
	KT_ASSERT(!u.has_ulp);
}

static void test_tx_tls12(void)
{
	struct ulp_info u;
	int a, b;

	kt_need_ktls();
	kt_tcp_pair(AF_INET, &a, &b);
	kt_install(b, TLS_TX, TLS12, TLS_CIPHER_AES_GCM_256, 3);
	diag(b, &u);
	expect_common(&u);
	KT_ASSERT_EQ(u.version, TLS12);
	KT_ASSERT_EQ(u.cipher, TLS_CIPHER_AES_GCM_256);
	KT_ASSERT_EQ(u.txconf, TLS_CONF_SW);
	KT_ASSERT_EQ(u.rxconf, TLS_CONF_BASE);
	KT_ASSERT_EQ(u.zc_ro_tx, 0);
	KT_ASSERT_EQ(u.rx_no_pad, 0);
	KT_ASSERT_EQ(u.max_payload, 16384);
}

static void test_rx_tls13_v6(void)
{
	struct ulp_info u;
	int a, b;

	kt_need_ktls();
	kt_tcp_pair(AF_INET6, &a, &b);
	kt_install(b, TLS_RX, TLS13, TLS_CIPHER_CHACHA20_POLY1305, 3);
	diag(b, &u);
	expect_common(&u);
	KT_ASSERT_EQ(u.version, TLS13);
	KT_ASSERT_EQ(u.cipher, TLS_CIPHER_CHACHA20_POLY1305);
	KT_ASSERT_EQ(u.txconf, TLS_CONF_BASE);
	KT_ASSERT_EQ(u.rxconf, TLS_CONF_SW);
}

static void test_all_options(void)
{
	uint16_t max = 1000;
	struct ulp_info u;
	int one = 1, a, b;

	kt_need_ktls();
	kt_tcp_pair(AF_INET, &a, &b);
	kt_install(b, TLS_TX, TLS13, TLS_CIPHER_AES_GCM_128, 3);
	kt_install(b, TLS_RX, TLS13, TLS_CIPHER_AES_GCM_128, 4);
	KT_ASSERT_OK(setsockopt(b, SOL_TLS, TLS_TX_ZEROCOPY_RO, &one,
				sizeof(one)));
	KT_ASSERT_OK(setsockopt(b, SOL_TLS, TLS_RX_EXPECT_NO_PAD, &one,
				sizeof(one)));
	KT_ASSERT_OK(setsockopt(b, SOL_TLS, TLS_TX_MAX_PAYLOAD_LEN, &max,
				sizeof(max)));
	diag(b, &u);
	expect_common(&u);
	KT_ASSERT_EQ(u.version, TLS13);
	KT_ASSERT_EQ(u.cipher, TLS_CIPHER_AES_GCM_128);
	KT_ASSERT_EQ(u.txconf, TLS_CONF_SW);
	KT_ASSERT_EQ(u.rxconf, TLS_CONF_SW);
	/* In-tree emits ZC_RO_TX only with device offload (TLS_HW). */
	KT_ASSERT_EQ(u.zc_ro_tx, 0);
	KT_ASSERT_EQ(u.rx_no_pad, 1);
	KT_ASSERT_EQ(u.max_payload, 1000);

	/* And they go away again. */
	one = 0;
	KT_ASSERT_OK(setsockopt(b, SOL_TLS, TLS_TX_ZEROCOPY_RO, &one,
				sizeof(one)));
	KT_ASSERT_OK(setsockopt(b, SOL_TLS, TLS_RX_EXPECT_NO_PAD, &one,
				sizeof(one)));
	diag(b, &u);
	expect_common(&u);
	KT_ASSERT_EQ(u.zc_ro_tx, 0);
	KT_ASSERT_EQ(u.rx_no_pad, 0);
}

static uint32_t key_gen_tx(int fd)
{
	struct ktls_key_gen g;
	socklen_t len = sizeof(g);

	KT_ASSERT_OK(getsockopt(fd, SOL_TLS, KTLS_KEY_GEN, &g, &len));
	return g.tx;
}

/*
 * With the traffic secrets in the kernel, the key generation of each
 * direction (the kernel steps them itself); absent without.
 */
static void test_key_generations(void)
{
	struct ktls_traffic_secret ts;
	struct kc_gen tx, rx;
	struct ulp_info u;
	uint32_t one = 1;
	int a, b, i;

	kt_need_ktls();
	kt_tcp_pair(AF_INET, &a, &b);
	KT_ASSERT_OK(kt_attach(b));
	kc_init(&tx, TLS_CIPHER_AES_GCM_128, 1);
	kc_init(&rx, TLS_CIPHER_AES_GCM_128, 2);
	KT_ASSERT_OK(setsockopt(b, SOL_TLS, TLS_TX, &tx.ci, tx.ci_len));
	KT_ASSERT_OK(setsockopt(b, SOL_TLS, TLS_RX, &rx.ci, rx.ci_len));
	diag(b, &u);
	KT_ASSERT_EQ(u.tx_gen, -1);
	KT_ASSERT_EQ(u.rx_gen, -1);
	kc_secret_opt(&tx, &ts);
	KT_ASSERT_OK(setsockopt(b, SOL_TLS, KTLS_TX_SECRET, &ts, sizeof(ts)));
	kc_secret_opt(&rx, &ts);
	KT_ASSERT_OK(setsockopt(b, SOL_TLS, KTLS_RX_SECRET, &ts, sizeof(ts)));
	/* One KeyUpdate of our own: the work sends it, TX steps to 1. */
	KT_ASSERT_OK(setsockopt(b, SOL_TLS, KTLS_TX_KEY_UPDATE, &one,
				sizeof(one)));
	for (i = 0; i < 200 && key_gen_tx(b) != 1; i++)
		kt_settle(10);
	diag(b, &u);
	expect_common(&u);
	KT_ASSERT_EQ(u.tx_gen, 1);
	KT_ASSERT_EQ(u.rx_gen, 0);
	close(a);
	close(b);
}

KT_MAIN("ktls_diag",
	KT_CASE(test_plain_tcp_has_no_ulp),
	KT_CASE(test_ulp_only),
	KT_CASE(test_tx_tls12),
	KT_CASE(test_rx_tls13_v6),
	KT_CASE(test_all_options),
	KT_CASE(test_key_generations));
