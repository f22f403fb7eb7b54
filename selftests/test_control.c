// SPDX-License-Identifier: GPL-2.0
/*
 * Control plane: attaching the ULP, SOL_TLS option validation, getsockopt
 * round trips, disconnect, pass-through of other levels, sockmap.
 *
 * Every case runs twice in the same VM: first against Debian's in-tree
 * tls.ko ("intree_*"), then against ktls ("ktls_*"), with the same
 * assertions.  Both passing means ktls gives the in-tree errno for every
 * case on this kernel.  tls.ko is loaded only while ktls is unloaded (see
 * kt_intree_load()), and ktls holds "tls" again at the end.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/bpf.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "harness.h"
#include "util.h"

#define TLS12	TLS_1_2_VERSION
#define TLS13	TLS_1_3_VERSION

static const uint16_t versions[] = { TLS12, TLS13 };

/* Ciphers the UAPI knows but Debian's kernels cannot run (no SM4/ARIA). */
static const struct {
	uint16_t type;
	size_t size;
	int tls13;
} absent_ciphers[] = {
	{ TLS_CIPHER_SM4_GCM, sizeof(struct tls12_crypto_info_sm4_gcm), 1 },
	{ TLS_CIPHER_SM4_CCM, sizeof(struct tls12_crypto_info_sm4_ccm), 1 },
	{ TLS_CIPHER_ARIA_GCM_128,
	  sizeof(struct tls12_crypto_info_aria_gcm_128), 0 },
	{ TLS_CIPHER_ARIA_GCM_256,
	  sizeof(struct tls12_crypto_info_aria_gcm_256), 0 },
};

/* --- helpers ------------------------------------------------------------ */

/* A connected pair with the ULP on the client; keys nowhere yet. */
static void ulp_pair(int family, int *c, int *s)
{
	kt_tcp_pair(family, c, s);
	KT_ASSERT_OK(kt_attach(*c));
}

/* Deterministic material with a non-zero, asymmetric rec_seq. */
static size_t fill(union kt_crypto_info *ci, uint16_t version,
		   uint16_t cipher, unsigned int seed)
{
	const struct kt_cipher *c = kt_cipher(cipher);
	size_t len = kt_fill_info(ci, version, cipher, seed);
	unsigned char *rec_seq;
	int i;

	if (!c)
		return len;
	rec_seq = ci->raw + sizeof(ci->info) + c->iv + c->key + c->salt;
	for (i = 0; i < 8; i++)
		rec_seq[i] = (unsigned char)(0x10 * (i + 1) + seed);
	return len;
}

static int set_conf(int fd, int dir, uint16_t version, uint16_t cipher,
		    unsigned int seed)
{
	union kt_crypto_info ci;
	size_t len = fill(&ci, version, cipher, seed);

	return setsockopt(fd, SOL_TLS, dir, &ci, len);
}

/* The direction is not configured: getsockopt says EBUSY. */
static void assert_unset(int fd, int dir)
{
	union kt_crypto_info ci;
	socklen_t len = sizeof(ci.info);

	KT_ASSERT_ERRNO(getsockopt(fd, SOL_TLS, dir, &ci, &len), EBUSY);
}

/* The full struct reads back byte for byte as it was set. */
static void assert_conf(int fd, int dir, uint16_t version, uint16_t cipher,
			unsigned int seed)
{
	union kt_crypto_info want, got;
	size_t size = fill(&want, version, cipher, seed);
	socklen_t len = size;

	memset(&got, 0xa5, sizeof(got));
	KT_ASSERT_OK(getsockopt(fd, SOL_TLS, dir, &got, &len));
	KT_ASSERT_EQ(len, size);
	if (memcmp(&want, &got, size))
		KT_FAIL("dir %d cipher %u version %#x: getsockopt differs",
			dir, cipher, version);
	/* Nothing written past the struct. */
	KT_ASSERT_EQ(got.raw[size], 0xa5);
}

static long bpf(int cmd, union bpf_attr *attr)
{
	return syscall(__NR_bpf, cmd, attr, sizeof(*attr));
}

static int sockmap_create(void)
{
	union bpf_attr a;

	memset(&a, 0, sizeof(a));
	a.map_type = BPF_MAP_TYPE_SOCKMAP;
	a.key_size = 4;
	a.value_size = 4;
	a.max_entries = 1;
	return bpf(BPF_MAP_CREATE, &a);
}

static long sockmap_op(int cmd, int map, int fd)
{
	union bpf_attr a;
	uint32_t key = 0, val = fd;

	memset(&a, 0, sizeof(a));
	a.map_fd = map;
	a.key = (uintptr_t)&key;
	/* DELETE wants every field after key zero. */
	if (cmd == BPF_MAP_UPDATE_ELEM) {
		a.value = (uintptr_t)&val;
		a.flags = BPF_ANY;
	}
	return bpf(cmd, &a);
}

/* --- attaching the ULP ---------------------------------------------------- */

static void attach_established(int family)
{
	char name[16] = "";
	socklen_t len = sizeof(name);
	int c, s;

	kt_tcp_pair(family, &c, &s);
	KT_ASSERT_OK(kt_attach(c));
	KT_ASSERT_OK(kt_attach(s));
	KT_ASSERT_OK(getsockopt(c, IPPROTO_TCP, TCP_ULP, name, &len));
	KT_ASSERT(!strcmp(name, kt_ulp()));
	/* Keys in both directions on both ends. */
	KT_ASSERT_OK(set_conf(c, TLS_TX, TLS12, TLS_CIPHER_AES_GCM_128, 1));
	KT_ASSERT_OK(set_conf(c, TLS_RX, TLS12, TLS_CIPHER_AES_GCM_128, 2));
	KT_ASSERT_OK(set_conf(s, TLS_TX, TLS12, TLS_CIPHER_AES_GCM_128, 2));
	KT_ASSERT_OK(set_conf(s, TLS_RX, TLS12, TLS_CIPHER_AES_GCM_128, 1));
	assert_conf(c, TLS_TX, TLS12, TLS_CIPHER_AES_GCM_128, 1);
	assert_conf(s, TLS_RX, TLS12, TLS_CIPHER_AES_GCM_128, 1);
	close(c);
	close(s);
}

static void attach_ipv4(void)
{
	attach_established(AF_INET);
}

static void attach_ipv6(void)
{
	attach_established(AF_INET6);
}

static void attach_unconnected(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	int fd6 = socket(AF_INET6, SOCK_STREAM, 0);

	KT_ASSERT(fd >= 0 && fd6 >= 0);
	KT_ASSERT_ERRNO(kt_attach(fd), ENOTCONN);
	KT_ASSERT_ERRNO(kt_attach(fd6), ENOTCONN);
	/* The failure left nothing behind: still a plain TCP socket. */
	KT_ASSERT_ERRNO(kt_attach(fd), ENOTCONN);
	close(fd);
	close(fd6);
}

static void attach_listening(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	KT_ASSERT(fd >= 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	KT_ASSERT_OK(bind(fd, (struct sockaddr *)&a, sizeof(a)));
	KT_ASSERT_OK(listen(fd, 1));
	KT_ASSERT_ERRNO(kt_attach(fd), ENOTCONN);
	close(fd);
}

static void attach_udp(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	KT_ASSERT(fd >= 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons(9);
	KT_ASSERT_OK(connect(fd, (struct sockaddr *)&a, sizeof(a)));
	KT_ASSERT_ERRNO(kt_attach(fd), ENOPROTOOPT);
	close(fd);
}

static void attach_twice(void)
{
	int c, s;

	ulp_pair(AF_INET, &c, &s);
	KT_ASSERT_ERRNO(kt_attach(c), EEXIST);
	KT_ASSERT_OK(set_conf(c, TLS_TX, TLS13, TLS_CIPHER_AES_GCM_256, 3));
	KT_ASSERT_ERRNO(kt_attach(c), EEXIST);
	close(c);
	close(s);
}

static void attach_unknown_ulp(void)
{
	static const char name[] = "ktls-no-such";
	int c, s;

	kt_tcp_pair(AF_INET, &c, &s);
	KT_ASSERT_ERRNO(setsockopt(c, IPPROTO_TCP, TCP_ULP, name,
				   strlen(name)), ENOENT);
	/* The socket is untouched: the real ULP still attaches. */
	KT_ASSERT_OK(kt_attach(c));
	close(c);
	close(s);
}

/* Only ESTABLISHED: a half-closed connection is refused either way. */
static void attach_half_closed(void)
{
	int c, s;

	kt_tcp_pair(AF_INET, &c, &s);
	KT_ASSERT_OK(shutdown(c, SHUT_WR));
	KT_ASSERT_ERRNO(kt_attach(c), ENOTCONN);
	/* s saw the FIN: CLOSE_WAIT. */
	KT_ASSERT_EQ(recv(s, &(char){ 0 }, 1, 0), 0);
	KT_ASSERT_ERRNO(kt_attach(s), ENOTCONN);
	close(c);
	close(s);

	/* Attached first, then the peer goes: keys still go in. */
	ulp_pair(AF_INET6, &c, &s);
	close(s);
	KT_ASSERT_EQ(recv(c, &(char){ 0 }, 1, 0), 0);
	KT_ASSERT_OK(set_conf(c, TLS_TX, TLS12, TLS_CIPHER_AES_GCM_256, 1));
	KT_ASSERT_OK(set_conf(c, TLS_RX, TLS12, TLS_CIPHER_AES_GCM_256, 2));
	assert_conf(c, TLS_RX, TLS12, TLS_CIPHER_AES_GCM_256, 2);
	close(c);
}

/*
 * An IPv6 socket talking to an IPv4-mapped address is still a TCPv6
 * socket; IPV6_ADDRFORM must not turn it into IPv4 under the ULP.
 */
static void attach_v4_mapped(void)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6 };
	struct sockaddr_in b = { .sin_family = AF_INET };
	socklen_t blen = sizeof(b);
	int l, c, s, v4 = AF_INET;

	l = socket(AF_INET, SOCK_STREAM, 0);
	KT_ASSERT(l >= 0);
	b.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	KT_ASSERT_OK(bind(l, (struct sockaddr *)&b, sizeof(b)));
	KT_ASSERT_OK(listen(l, 1));
	KT_ASSERT_OK(getsockname(l, (struct sockaddr *)&b, &blen));
	a.sin6_port = b.sin_port;
	KT_ASSERT_EQ(inet_pton(AF_INET6, "::ffff:127.0.0.1", &a.sin6_addr), 1);
	c = socket(AF_INET6, SOCK_STREAM, 0);
	KT_ASSERT(c >= 0);
	KT_ASSERT_OK(connect(c, (struct sockaddr *)&a, sizeof(a)));
	s = accept(l, NULL, NULL);
	KT_ASSERT(s >= 0);
	close(l);

	KT_ASSERT_OK(kt_attach(c));
	KT_ASSERT_ERRNO(setsockopt(c, IPPROTO_IPV6, IPV6_ADDRFORM, &v4,
				   sizeof(v4)), EBUSY);
	KT_ASSERT_OK(set_conf(c, TLS_TX, TLS13, TLS_CIPHER_AES_CCM_128, 1));
	KT_ASSERT_OK(set_conf(c, TLS_RX, TLS13, TLS_CIPHER_AES_CCM_128, 2));
	KT_ASSERT_ERRNO(setsockopt(c, IPPROTO_IPV6, IPV6_ADDRFORM, &v4,
				   sizeof(v4)), EBUSY);
	assert_conf(c, TLS_TX, TLS13, TLS_CIPHER_AES_CCM_128, 1);
	close(c);
	close(s);
}

struct race {
	int fd, dir, rc, err;
	pthread_barrier_t *go;
};

static void *race_set(void *arg)
{
	struct race *r = arg;

	pthread_barrier_wait(r->go);
	if (r->dir)
		r->rc = set_conf(r->fd, r->dir, TLS12, TLS_CIPHER_AES_GCM_128,
				 r->dir);
	else
		r->rc = kt_attach(r->fd);
	r->err = errno;
	return NULL;
}

/* Racing the same option: exactly one wins, the rest get the errno. */
static void concurrent_set(void)
{
	enum { N = 8, ROUNDS = 20 };
	pthread_barrier_t go;
	struct race r[N];
	pthread_t th[N];
	int round, i, c, s, won;

	KT_ASSERT_EQ(pthread_barrier_init(&go, NULL, N), 0);
	for (round = 0; round < ROUNDS; round++) {
		int dir = round % 3;	/* 0: TCP_ULP, then TLS_TX, TLS_RX */

		if (dir)
			ulp_pair(round & 1 ? AF_INET6 : AF_INET, &c, &s);
		else
			kt_tcp_pair(AF_INET, &c, &s);
		for (i = 0; i < N; i++) {
			r[i] = (struct race){ .fd = c, .dir = dir, .go = &go };
			KT_ASSERT_EQ(pthread_create(&th[i], NULL, race_set,
						    &r[i]), 0);
		}
		won = 0;
		for (i = 0; i < N; i++) {
			pthread_join(th[i], NULL);
			if (!r[i].rc)
				won++;
			else if (r[i].err != (dir ? EBUSY : EEXIST))
				KT_FAIL("round %d: errno %d", round, r[i].err);
		}
		KT_ASSERT_EQ(won, 1);
		if (dir)
			assert_conf(c, dir, TLS12, TLS_CIPHER_AES_GCM_128, dir);
		close(c);
		close(s);
	}
	pthread_barrier_destroy(&go);
}

/* Plain TCP: SOL_TLS is not a TCP level before the ULP is attached. */
static void sol_tls_without_ulp(void)
{
	union kt_crypto_info ci;
	size_t len = fill(&ci, TLS12, TLS_CIPHER_AES_GCM_128, 1);
	int c, s;

	kt_tcp_pair(AF_INET, &c, &s);
	KT_ASSERT_ERRNO(setsockopt(c, SOL_TLS, TLS_TX, &ci, len),
			ENOPROTOOPT);
	/* IP's getsockopt answers unknown levels so. */
	KT_ASSERT_ERRNO(getsockopt(c, SOL_TLS, TLS_TX, &ci, &(socklen_t){ 4 }),
			EOPNOTSUPP);
	close(c);
	close(s);
}

/* --- setsockopt(TLS_TX / TLS_RX) validation ------------------------------- */

static void set_short_optlen(void)
{
	union kt_crypto_info ci;
	int c, s, dir;
	unsigned int l;

	ulp_pair(AF_INET, &c, &s);
	fill(&ci, TLS12, TLS_CIPHER_AES_GCM_128, 1);
	for (dir = TLS_TX; dir <= TLS_RX; dir++) {
		for (l = 0; l < sizeof(ci.info); l++)
			KT_ASSERT_ERRNO(setsockopt(c, SOL_TLS, dir, &ci, l),
					EINVAL);
		assert_unset(c, dir);
	}
	close(c);
	close(s);
}

static void set_null_optval(void)
{
	int c, s;

	ulp_pair(AF_INET, &c, &s);
	KT_ASSERT_ERRNO(setsockopt(c, SOL_TLS, TLS_TX, NULL, 40), EINVAL);
	KT_ASSERT_ERRNO(setsockopt(c, SOL_TLS, TLS_RX, NULL, 40), EINVAL);
	KT_ASSERT_ERRNO(setsockopt(c, SOL_TLS, TLS_TX, NULL, 0), EINVAL);
	assert_unset(c, TLS_TX);
	assert_unset(c, TLS_RX);
	close(c);
	close(s);
}

/* optlen must be exactly the cipher's struct: one byte off either way. */
static void set_wrong_optlen(void)
{
	union kt_crypto_info ci;
	size_t i, v;
	int c, s, dir;

	ulp_pair(AF_INET, &c, &s);
	for (i = 0; i < kt_n_ciphers; i++) {
		for (v = 0; v < 2; v++) {
			size_t len = fill(&ci, versions[v], kt_ciphers[i].type,
					  1);

			for (dir = TLS_TX; dir <= TLS_RX; dir++) {
				KT_ASSERT_ERRNO(setsockopt(c, SOL_TLS, dir, &ci,
							   len - 1), EINVAL);
				KT_ASSERT_ERRNO(setsockopt(c, SOL_TLS, dir, &ci,
							   len + 1), EINVAL);
				KT_ASSERT_ERRNO(setsockopt(c, SOL_TLS, dir, &ci,
							   sizeof(ci.info)),
						EINVAL);
			}
		}
	}
	/* A 40-byte struct passed where a 56-byte one is due, and back. */
	fill(&ci, TLS12, TLS_CIPHER_AES_GCM_256, 1);
	KT_ASSERT_ERRNO(setsockopt(c, SOL_TLS, TLS_TX, &ci, 40), EINVAL);
	fill(&ci, TLS12, TLS_CIPHER_AES_GCM_128, 1);
	KT_ASSERT_ERRNO(setsockopt(c, SOL_TLS, TLS_TX, &ci, 56), EINVAL);
	assert_unset(c, TLS_TX);
	assert_unset(c, TLS_RX);
	/* The failures left nothing configured: a good struct goes in. */
	KT_ASSERT_OK(set_conf(c, TLS_TX, TLS12, TLS_CIPHER_AES_GCM_128, 1));
	close(c);
	close(s);
}

static void set_bad_version(void)
{
	static const uint16_t bad[] = { 0, 0x0300, 0x0301, 0x0302, 0x0305,
					0x0403, 0xfefd, 0xffff };
	union kt_crypto_info ci;
	size_t i, len;
	int c, s, dir;

	ulp_pair(AF_INET6, &c, &s);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		len = fill(&ci, TLS12, TLS_CIPHER_AES_GCM_128, 1);
		ci.info.version = bad[i];
		for (dir = TLS_TX; dir <= TLS_RX; dir++)
			KT_ASSERT_ERRNO(setsockopt(c, SOL_TLS, dir, &ci, len),
					EINVAL);
	}
	assert_unset(c, TLS_TX);
	assert_unset(c, TLS_RX);
	close(c);
	close(s);
}

static void set_unknown_cipher(void)
{
	static const uint16_t bad[] = { 0, 1, 50, 59, 60, 0xffff };
	union kt_crypto_info ci;
	size_t i, v;
	int c, s, dir;

	ulp_pair(AF_INET, &c, &s);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		for (v = 0; v < 2; v++) {
			fill(&ci, versions[v], TLS_CIPHER_AES_GCM_128, 1);
			ci.info.cipher_type = bad[i];
			for (dir = TLS_TX; dir <= TLS_RX; dir++) {
				KT_ASSERT_ERRNO(setsockopt(c, SOL_TLS, dir, &ci,
							   40), EINVAL);
				KT_ASSERT_ERRNO(setsockopt(c, SOL_TLS, dir, &ci,
							   56), EINVAL);
			}
		}
	}
	assert_unset(c, TLS_TX);
	assert_unset(c, TLS_RX);
	close(c);
	close(s);
}

static void set_aria_tls13(void)
{
	union kt_crypto_info ci;
	size_t i;
	int c, s;

	ulp_pair(AF_INET, &c, &s);
	for (i = 0; i < sizeof(absent_ciphers) / sizeof(absent_ciphers[0]);
	     i++) {
		if (absent_ciphers[i].tls13)
			continue;
		memset(&ci, 0, sizeof(ci));
		ci.info.version = TLS13;
		ci.info.cipher_type = absent_ciphers[i].type;
		KT_ASSERT_ERRNO(setsockopt(c, SOL_TLS, TLS_TX, &ci,
					   absent_ciphers[i].size), EINVAL);
		KT_ASSERT_ERRNO(setsockopt(c, SOL_TLS, TLS_RX, &ci,
					   absent_ciphers[i].size), EINVAL);
	}
	assert_unset(c, TLS_TX);
	assert_unset(c, TLS_RX);
	close(c);
	close(s);
}

/*
 * SM4 and ARIA pass the checks and then fail for want of the crypto
 * (Debian builds neither); the direction stays unconfigured and usable.
 */
static void set_absent_cipher(void)
{
	union kt_crypto_info ci;
	size_t i, v;
	int c, s, dir;

	ulp_pair(AF_INET, &c, &s);
	for (i = 0; i < sizeof(absent_ciphers) / sizeof(absent_ciphers[0]);
	     i++) {
		for (v = 0; v < 2; v++) {
			if (versions[v] == TLS13 && !absent_ciphers[i].tls13)
				continue;
			memset(&ci, 0x5a, sizeof(ci));
			ci.info.version = versions[v];
			ci.info.cipher_type = absent_ciphers[i].type;
			for (dir = TLS_TX; dir <= TLS_RX; dir++)
				KT_ASSERT_ERRNO(setsockopt(c, SOL_TLS, dir, &ci,
						absent_ciphers[i].size),
						ENOENT);
		}
	}
	assert_unset(c, TLS_TX);
	assert_unset(c, TLS_RX);
	KT_ASSERT_OK(set_conf(c, TLS_TX, TLS13, TLS_CIPHER_AES_GCM_128, 4));
	KT_ASSERT_OK(set_conf(c, TLS_RX, TLS13, TLS_CIPHER_AES_GCM_128, 5));
	assert_conf(c, TLS_TX, TLS13, TLS_CIPHER_AES_GCM_128, 4);
	assert_conf(c, TLS_RX, TLS13, TLS_CIPHER_AES_GCM_128, 5);
	close(c);
	close(s);
}

/* TX and RX speak one version and one cipher. */
static void set_mismatch(void)
{
	int c, s, c2, s2;

	/* TX first, RX must follow it. */
	ulp_pair(AF_INET, &c, &s);
	KT_ASSERT_OK(set_conf(c, TLS_TX, TLS12, TLS_CIPHER_AES_GCM_128, 1));
	KT_ASSERT_ERRNO(set_conf(c, TLS_RX, TLS13, TLS_CIPHER_AES_GCM_128, 2),
			EINVAL);
	KT_ASSERT_ERRNO(set_conf(c, TLS_RX, TLS12, TLS_CIPHER_AES_GCM_256, 2),
			EINVAL);
	KT_ASSERT_ERRNO(set_conf(c, TLS_RX, TLS12,
				 TLS_CIPHER_CHACHA20_POLY1305, 2), EINVAL);
	KT_ASSERT_ERRNO(set_conf(c, TLS_RX, TLS13, TLS_CIPHER_AES_CCM_128, 2),
			EINVAL);
	assert_unset(c, TLS_RX);
	KT_ASSERT_OK(set_conf(c, TLS_RX, TLS12, TLS_CIPHER_AES_GCM_128, 2));
	assert_conf(c, TLS_TX, TLS12, TLS_CIPHER_AES_GCM_128, 1);
	assert_conf(c, TLS_RX, TLS12, TLS_CIPHER_AES_GCM_128, 2);

	/* RX first, TX must follow it. */
	ulp_pair(AF_INET6, &c2, &s2);
	KT_ASSERT_OK(set_conf(c2, TLS_RX, TLS13,
			      TLS_CIPHER_CHACHA20_POLY1305, 3));
	KT_ASSERT_ERRNO(set_conf(c2, TLS_TX, TLS12,
				 TLS_CIPHER_CHACHA20_POLY1305, 4), EINVAL);
	KT_ASSERT_ERRNO(set_conf(c2, TLS_TX, TLS13, TLS_CIPHER_AES_GCM_256, 4),
			EINVAL);
	assert_unset(c2, TLS_TX);
	KT_ASSERT_OK(set_conf(c2, TLS_TX, TLS13,
			      TLS_CIPHER_CHACHA20_POLY1305, 4));
	assert_conf(c2, TLS_TX, TLS13, TLS_CIPHER_CHACHA20_POLY1305, 4);
	close(c);
	close(s);
	close(c2);
	close(s2);
}

static void set_twice_ebusy(void)
{
	/* ktls has the newest UAPI: a second TLS 1.3 set is a key update. */
	int rekey = kt_module_loaded("ktls");
	int c, s;

	ulp_pair(AF_INET, &c, &s);
	KT_ASSERT_OK(set_conf(c, TLS_TX, TLS13, TLS_CIPHER_AES_GCM_128, 1));
	KT_ASSERT_OK(set_conf(c, TLS_RX, TLS13, TLS_CIPHER_AES_GCM_128, 2));
	if (rekey) {
		KT_ASSERT_ERRNO(set_conf(c, TLS_TX, 0x0302,
					 TLS_CIPHER_AES_GCM_128, 3), EINVAL);
		KT_ASSERT_OK(set_conf(c, TLS_TX, TLS13,
				      TLS_CIPHER_AES_GCM_128, 3));
		KT_ASSERT_OK(set_conf(c, TLS_RX, TLS13,
				      TLS_CIPHER_AES_GCM_128, 4));
		assert_conf(c, TLS_TX, TLS13, TLS_CIPHER_AES_GCM_128, 3);
		assert_conf(c, TLS_RX, TLS13, TLS_CIPHER_AES_GCM_128, 4);
	} else {
		KT_ASSERT_ERRNO(set_conf(c, TLS_TX, TLS13,
					 TLS_CIPHER_AES_GCM_128, 3), EBUSY);
		KT_ASSERT_ERRNO(set_conf(c, TLS_RX, TLS13,
					 TLS_CIPHER_AES_GCM_128, 3), EBUSY);
		/* EBUSY comes before any look at the new struct. */
		KT_ASSERT_ERRNO(set_conf(c, TLS_TX, 0x0302,
					 TLS_CIPHER_AES_GCM_128, 3), EBUSY);
		/* The first keys stay in force. */
		assert_conf(c, TLS_TX, TLS13, TLS_CIPHER_AES_GCM_128, 1);
		assert_conf(c, TLS_RX, TLS13, TLS_CIPHER_AES_GCM_128, 2);
	}
	/* ... but after the optlen sanity check. */
	KT_ASSERT_ERRNO(setsockopt(c, SOL_TLS, TLS_TX, "", 1), EINVAL);
	close(c);
	close(s);

	/* TLS 1.2 keys are for life everywhere. */
	ulp_pair(AF_INET, &c, &s);
	KT_ASSERT_OK(set_conf(c, TLS_TX, TLS12, TLS_CIPHER_AES_GCM_128, 1));
	KT_ASSERT_OK(set_conf(c, TLS_RX, TLS12, TLS_CIPHER_AES_GCM_128, 2));
	KT_ASSERT_ERRNO(set_conf(c, TLS_TX, TLS12, TLS_CIPHER_AES_GCM_128, 3),
			EBUSY);
	KT_ASSERT_ERRNO(set_conf(c, TLS_RX, TLS12, TLS_CIPHER_AES_GCM_128, 3),
			EBUSY);
	KT_ASSERT_ERRNO(set_conf(c, TLS_TX, 0x0302, TLS_CIPHER_AES_GCM_128, 3),
			EBUSY);
	assert_conf(c, TLS_TX, TLS12, TLS_CIPHER_AES_GCM_128, 1);
	assert_conf(c, TLS_RX, TLS12, TLS_CIPHER_AES_GCM_128, 2);
	close(c);
	close(s);
}

/* A pointer the kernel cannot read: EFAULT, and nothing half-set. */
static void set_bad_pointer(void)
{
	long pg = sysconf(_SC_PAGESIZE);
	union kt_crypto_info ci;
	size_t len = fill(&ci, TLS12, TLS_CIPHER_AES_GCM_128, 1);
	unsigned char *map;
	int c, s, dir;

	ulp_pair(AF_INET, &c, &s);
	for (dir = TLS_TX; dir <= TLS_RX; dir++)
		KT_ASSERT_ERRNO(setsockopt(c, SOL_TLS, dir, (void *)8, len),
				EFAULT);

	/* Header readable, the rest on an unmapped page. */
	map = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	KT_ASSERT(map != MAP_FAILED);
	KT_ASSERT_OK(munmap(map + pg, pg));
	memcpy(map + pg - sizeof(ci.info), &ci, sizeof(ci.info));
	for (dir = TLS_TX; dir <= TLS_RX; dir++) {
		KT_ASSERT_ERRNO(setsockopt(c, SOL_TLS, dir,
					   map + pg - sizeof(ci.info), len),
				EFAULT);
		assert_unset(c, dir);
	}
	KT_ASSERT_OK(set_conf(c, TLS_TX, TLS12, TLS_CIPHER_AES_GCM_128, 1));
	KT_ASSERT_OK(set_conf(c, TLS_RX, TLS12, TLS_CIPHER_AES_GCM_128, 2));
	assert_conf(c, TLS_TX, TLS12, TLS_CIPHER_AES_GCM_128, 1);
	assert_conf(c, TLS_RX, TLS12, TLS_CIPHER_AES_GCM_128, 2);
	close(c);
	close(s);
}

/* --- every cipher x version, both directions, read back ------------------- */

static void install_all_ciphers(void)
{
	size_t i, v;
	int c, s;

	for (i = 0; i < kt_n_ciphers; i++) {
		for (v = 0; v < 2; v++) {
			uint16_t t = kt_ciphers[i].type, ver = versions[v];

			kt_diag("%s %s", kt_ciphers[i].name,
				ver == TLS13 ? "tls1.3" : "tls1.2");
			ulp_pair(v ? AF_INET6 : AF_INET, &c, &s);
			KT_ASSERT_OK(kt_attach(s));
			KT_ASSERT_OK(set_conf(c, TLS_TX, ver, t, 10 + i));
			KT_ASSERT_OK(set_conf(c, TLS_RX, ver, t, 20 + i));
			KT_ASSERT_OK(set_conf(s, TLS_RX, ver, t, 10 + i));
			KT_ASSERT_OK(set_conf(s, TLS_TX, ver, t, 20 + i));
			assert_conf(c, TLS_TX, ver, t, 10 + i);
			assert_conf(c, TLS_RX, ver, t, 20 + i);
			assert_conf(s, TLS_RX, ver, t, 10 + i);
			assert_conf(s, TLS_TX, ver, t, 20 + i);
			close(c);
			close(s);
		}
	}
}

/* --- getsockopt(TLS_TX / TLS_RX) ----------------------------------------- */

static void get_header_and_lengths(void)
{
	union kt_crypto_info ci, want;
	size_t i, size;
	socklen_t len;
	int c, s, dir;

	for (i = 0; i < kt_n_ciphers; i++) {
		uint16_t t = kt_ciphers[i].type;

		ulp_pair(AF_INET, &c, &s);
		for (dir = TLS_TX; dir <= TLS_RX; dir++) {
			/* Unconfigured: bad lengths first, then EBUSY. */
			len = 3;
			KT_ASSERT_ERRNO(getsockopt(c, SOL_TLS, dir, &ci, &len),
					EINVAL);
			len = kt_ciphers[i].info_size;
			KT_ASSERT_ERRNO(getsockopt(c, SOL_TLS, dir, &ci, &len),
					EBUSY);
			size = fill(&want, TLS13, t, dir);
			KT_ASSERT_OK(set_conf(c, dir, TLS13, t, dir));

			memset(&ci, 0xa5, sizeof(ci));
			len = sizeof(ci.info);
			KT_ASSERT_OK(getsockopt(c, SOL_TLS, dir, &ci, &len));
			KT_ASSERT_EQ(len, sizeof(ci.info));
			KT_ASSERT_EQ(ci.info.version, TLS13);
			KT_ASSERT_EQ(ci.info.cipher_type, t);
			KT_ASSERT_EQ(ci.raw[sizeof(ci.info)], 0xa5);

			assert_conf(c, dir, TLS13, t, dir);

			/* Other lengths: EINVAL, optlen left alone. */
			len = 0;
			KT_ASSERT_ERRNO(getsockopt(c, SOL_TLS, dir, &ci, &len),
					EINVAL);
			len = sizeof(ci.info) - 1;
			KT_ASSERT_ERRNO(getsockopt(c, SOL_TLS, dir, &ci, &len),
					EINVAL);
			KT_ASSERT_EQ(len, sizeof(ci.info) - 1);
			len = sizeof(ci.info) + 1;
			KT_ASSERT_ERRNO(getsockopt(c, SOL_TLS, dir, &ci, &len),
					EINVAL);
			len = size - 1;
			KT_ASSERT_ERRNO(getsockopt(c, SOL_TLS, dir, &ci, &len),
					EINVAL);
			len = size + 1;
			KT_ASSERT_ERRNO(getsockopt(c, SOL_TLS, dir, &ci, &len),
					EINVAL);
			KT_ASSERT_EQ(len, size + 1);
			len = sizeof(ci);
			KT_ASSERT_ERRNO(getsockopt(c, SOL_TLS, dir, &ci, &len),
					EINVAL);
			/* NULL buffer and unreadable buffers. */
			len = size;
			KT_ASSERT_ERRNO(getsockopt(c, SOL_TLS, dir, NULL, &len),
					EINVAL);
			KT_ASSERT_ERRNO(getsockopt(c, SOL_TLS, dir, (void *)8,
						   &len), EFAULT);
			KT_ASSERT_ERRNO(getsockopt(c, SOL_TLS, dir, &ci,
						   (socklen_t *)8), EFAULT);
		}
		close(c);
		close(s);
	}
}

static void hex(const char *what, const unsigned char *p, size_t n)
{
	char line[3 * 64 + 1];
	size_t i;

	for (i = 0; i < n && i < 64; i++)
		sprintf(line + 3 * i, " %02x", p[i]);
	line[3 * i] = 0;
	kt_diag("%s%s", what, line);
}

/* Big-endian add, as the kernel counts records. */
static void be_add(unsigned char *p, size_t n, unsigned int v)
{
	while (n-- && v) {
		v += p[n];
		p[n] = v & 0xff;
		v >>= 8;
	}
}

/*
 * After records flow, getsockopt reports the live state: rec_seq is the
 * next record's, and for TLS 1.2 GCM/CCM the iv is the next explicit
 * nonce (both directions count it, as in-tree does).
 */
static void get_after_records(void)
{
	enum { RECORDS = 3, LEN = 100 };
	char msg[RECORDS * LEN], got[RECORDS * LEN];
	size_t i, v, size;
	int c, s, r;

	for (i = 0; i < kt_n_ciphers; i++) {
		for (v = 0; v < 2; v++) {
			const struct kt_cipher *k = &kt_ciphers[i];
			uint16_t ver = versions[v];
			union kt_crypto_info want, ci;
			socklen_t len;
			int dir;

			kt_diag("%s %s", k->name,
				ver == TLS13 ? "tls1.3" : "tls1.2");
			ulp_pair(AF_INET, &c, &s);
			KT_ASSERT_OK(kt_attach(s));
			KT_ASSERT_OK(set_conf(c, TLS_TX, ver, k->type, 7));
			KT_ASSERT_OK(set_conf(s, TLS_RX, ver, k->type, 7));
			kt_fill_pattern(msg, sizeof(msg), i);
			/* One send, one record. */
			for (r = 0; r < RECORDS; r++)
				kt_write_all(c, msg + r * LEN, LEN);
			kt_read_all(s, got, sizeof(got));
			KT_ASSERT(!memcmp(msg, got, sizeof(msg)));

			size = fill(&want, ver, k->type, 7);
			be_add(want.raw + size - 8, 8, RECORDS);
			if (ver == TLS12 && k->type != TLS_CIPHER_CHACHA20_POLY1305)
				be_add(want.raw + sizeof(want.info), k->iv,
				       RECORDS);
			for (dir = TLS_TX; dir <= TLS_RX; dir++) {
				len = size;
				memset(&ci, 0, sizeof(ci));
				KT_ASSERT_OK(getsockopt(dir == TLS_TX ? c : s,
							SOL_TLS, dir, &ci,
							&len));
				KT_ASSERT_EQ(len, size);
				if (memcmp(&ci, &want, size)) {
					hex("got ", ci.raw, size);
					hex("want", want.raw, size);
					KT_FAIL("%s: iv/rec_seq not advanced",
						dir == TLS_TX ? "TX" : "RX");
				}
			}
			close(c);
			close(s);
		}
	}
}

/* --- TLS_TX_ZEROCOPY_RO / TLS_RX_EXPECT_NO_PAD ---------------------------- */

static void get_u32(int fd, int opt, unsigned int want)
{
	unsigned int v = 0xdeadbeef;
	socklen_t len = sizeof(v);

	KT_ASSERT_OK(getsockopt(fd, SOL_TLS, opt, &v, &len));
	KT_ASSERT_EQ(len, sizeof(v));
	KT_ASSERT_EQ(v, want);
}

static void tx_zerocopy_ro(void)
{
	unsigned int one = 1, zero = 0, two = 2;
	uint64_t big = 1;
	socklen_t len;
	int c, s;

	ulp_pair(AF_INET, &c, &s);
	/* Known with or without keys; off by default. */
	get_u32(c, TLS_TX_ZEROCOPY_RO, 0);
	KT_ASSERT_OK(setsockopt(c, SOL_TLS, TLS_TX_ZEROCOPY_RO, &one, 4));
	get_u32(c, TLS_TX_ZEROCOPY_RO, 1);
	KT_ASSERT_OK(set_conf(c, TLS_TX, TLS12, TLS_CIPHER_AES_GCM_128, 1));
	get_u32(c, TLS_TX_ZEROCOPY_RO, 1);
	KT_ASSERT_OK(setsockopt(c, SOL_TLS, TLS_TX_ZEROCOPY_RO, &zero, 4));
	get_u32(c, TLS_TX_ZEROCOPY_RO, 0);
	KT_ASSERT_OK(setsockopt(c, SOL_TLS, TLS_TX_ZEROCOPY_RO, &one, 4));

	KT_ASSERT_ERRNO(setsockopt(c, SOL_TLS, TLS_TX_ZEROCOPY_RO, &two, 4),
			EINVAL);
	KT_ASSERT_ERRNO(setsockopt(c, SOL_TLS, TLS_TX_ZEROCOPY_RO, &big, 8),
			EINVAL);
	KT_ASSERT_ERRNO(setsockopt(c, SOL_TLS, TLS_TX_ZEROCOPY_RO, &one, 3),
			EINVAL);
	KT_ASSERT_ERRNO(setsockopt(c, SOL_TLS, TLS_TX_ZEROCOPY_RO, NULL, 4),
			EINVAL);
	KT_ASSERT_ERRNO(setsockopt(c, SOL_TLS, TLS_TX_ZEROCOPY_RO,
				   (void *)8, 4), EFAULT);
	/* Failed sets leave the value. */
	get_u32(c, TLS_TX_ZEROCOPY_RO, 1);

	len = 8;
	KT_ASSERT_ERRNO(getsockopt(c, SOL_TLS, TLS_TX_ZEROCOPY_RO, &big, &len),
			EINVAL);
	len = 2;
	KT_ASSERT_ERRNO(getsockopt(c, SOL_TLS, TLS_TX_ZEROCOPY_RO, &big, &len),
			EINVAL);
	len = 4;
	KT_ASSERT_ERRNO(getsockopt(c, SOL_TLS, TLS_TX_ZEROCOPY_RO, (void *)8,
				   &len), EFAULT);
	close(c);
	close(s);
}

static void rx_expect_no_pad(void)
{
	unsigned int one = 1, zero = 0, two = 2, v;
	unsigned char buf[8];
	socklen_t len;
	int c, s;

	ulp_pair(AF_INET, &c, &s);
	/* No version yet. */
	KT_ASSERT_ERRNO(setsockopt(c, SOL_TLS, TLS_RX_EXPECT_NO_PAD, &one, 4),
			EINVAL);
	len = 4;
	KT_ASSERT_ERRNO(getsockopt(c, SOL_TLS, TLS_RX_EXPECT_NO_PAD, &v, &len),
			EINVAL);
	/* TLS 1.3 TX only: still no RX to apply it to. */
	KT_ASSERT_OK(set_conf(c, TLS_TX, TLS13, TLS_CIPHER_AES_GCM_128, 1));
	KT_ASSERT_ERRNO(setsockopt(c, SOL_TLS, TLS_RX_EXPECT_NO_PAD, &one, 4),
			EINVAL);
	KT_ASSERT_ERRNO(getsockopt(c, SOL_TLS, TLS_RX_EXPECT_NO_PAD, &v, &len),
			EINVAL);
	KT_ASSERT_OK(set_conf(c, TLS_RX, TLS13, TLS_CIPHER_AES_GCM_128, 2));
	get_u32(c, TLS_RX_EXPECT_NO_PAD, 0);
	KT_ASSERT_OK(setsockopt(c, SOL_TLS, TLS_RX_EXPECT_NO_PAD, &one, 4));
	get_u32(c, TLS_RX_EXPECT_NO_PAD, 1);
	KT_ASSERT_OK(setsockopt(c, SOL_TLS, TLS_RX_EXPECT_NO_PAD, &zero, 4));
	get_u32(c, TLS_RX_EXPECT_NO_PAD, 0);

	/* Longer optlen is fine if the tail is zero. */
	memset(buf, 0, sizeof(buf));
	buf[0] = 1;
	KT_ASSERT_OK(setsockopt(c, SOL_TLS, TLS_RX_EXPECT_NO_PAD, buf, 8));
	get_u32(c, TLS_RX_EXPECT_NO_PAD, 1);
	buf[0] = 0;
	buf[6] = 1;
	KT_ASSERT_ERRNO(setsockopt(c, SOL_TLS, TLS_RX_EXPECT_NO_PAD, buf, 8),
			EINVAL);
	KT_ASSERT_ERRNO(setsockopt(c, SOL_TLS, TLS_RX_EXPECT_NO_PAD, &two, 4),
			EINVAL);
	KT_ASSERT_ERRNO(setsockopt(c, SOL_TLS, TLS_RX_EXPECT_NO_PAD, &one, 3),
			EINVAL);
	KT_ASSERT_ERRNO(setsockopt(c, SOL_TLS, TLS_RX_EXPECT_NO_PAD, NULL, 4),
			EINVAL);
	KT_ASSERT_ERRNO(setsockopt(c, SOL_TLS, TLS_RX_EXPECT_NO_PAD,
				   (void *)8, 4), EFAULT);
	get_u32(c, TLS_RX_EXPECT_NO_PAD, 1);

	/* A longer buffer reads 4 bytes and says so. */
	memset(buf, 0xa5, sizeof(buf));
	len = sizeof(buf);
	KT_ASSERT_OK(getsockopt(c, SOL_TLS, TLS_RX_EXPECT_NO_PAD, buf, &len));
	KT_ASSERT_EQ(len, 4);
	memcpy(&v, buf, 4);
	KT_ASSERT_EQ(v, 1);
	KT_ASSERT_EQ(buf[4], 0xa5);
	len = 3;
	KT_ASSERT_ERRNO(getsockopt(c, SOL_TLS, TLS_RX_EXPECT_NO_PAD, buf, &len),
			EINVAL);
	close(c);
	close(s);

	/* TLS 1.2 has no padding to speak of. */
	ulp_pair(AF_INET, &c, &s);
	KT_ASSERT_OK(set_conf(c, TLS_RX, TLS12, TLS_CIPHER_AES_GCM_128, 2));
	KT_ASSERT_ERRNO(setsockopt(c, SOL_TLS, TLS_RX_EXPECT_NO_PAD, &one, 4),
			EINVAL);
	len = 4;
	KT_ASSERT_ERRNO(getsockopt(c, SOL_TLS, TLS_RX_EXPECT_NO_PAD, &v, &len),
			EINVAL);
	close(c);
	close(s);
}

static void unknown_option(void)
{
	static const int bad[] = { 0, 6, 99, 1000, -1 };
	unsigned int v = 1;
	socklen_t len;
	size_t i;
	int c, s;

	ulp_pair(AF_INET, &c, &s);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		KT_ASSERT_ERRNO(setsockopt(c, SOL_TLS, bad[i], &v, 4),
				ENOPROTOOPT);
		len = 4;
		KT_ASSERT_ERRNO(getsockopt(c, SOL_TLS, bad[i], &v, &len),
				ENOPROTOOPT);
	}
	KT_ASSERT_OK(set_conf(c, TLS_TX, TLS12, TLS_CIPHER_AES_GCM_128, 1));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		KT_ASSERT_ERRNO(setsockopt(c, SOL_TLS, bad[i], &v, 4),
				ENOPROTOOPT);
		len = 4;
		KT_ASSERT_ERRNO(getsockopt(c, SOL_TLS, bad[i], &v, &len),
				ENOPROTOOPT);
	}
	close(c);
	close(s);
}

/* --- disconnect and pass-through ------------------------------------------ */

static void disconnect_refused(void)
{
	struct sockaddr sa = { .sa_family = AF_UNSPEC };
	char b = 0;
	int c, s;

	/* ULP attached, no keys: already refused. */
	ulp_pair(AF_INET, &c, &s);
	KT_ASSERT_ERRNO(connect(c, &sa, sizeof(sa)), EOPNOTSUPP);
	close(c);
	close(s);

	ulp_pair(AF_INET6, &c, &s);
	KT_ASSERT_OK(set_conf(c, TLS_TX, TLS13, TLS_CIPHER_AES_GCM_128, 1));
	KT_ASSERT_OK(set_conf(c, TLS_RX, TLS13, TLS_CIPHER_AES_GCM_128, 2));
	KT_ASSERT_ERRNO(connect(c, &sa, sizeof(sa)), EOPNOTSUPP);
	/* The connection survived: the peer sees no FIN or RST. */
	KT_ASSERT_ERRNO(recv(s, &b, 1, MSG_DONTWAIT), EAGAIN);
	assert_conf(c, TLS_TX, TLS13, TLS_CIPHER_AES_GCM_128, 1);
	close(c);
	close(s);
}

static void passthrough(int family)
{
	int one = 1, v, bufsz = 65536, tos = 0x20;
	char name[16] = "", msg[64], got[64];
	socklen_t len;
	int c, s;

	ulp_pair(family, &c, &s);
	/* TCP level through our setsockopt/getsockopt. */
	KT_ASSERT_OK(setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, 4));
	v = 0;
	len = sizeof(v);
	KT_ASSERT_OK(getsockopt(c, IPPROTO_TCP, TCP_NODELAY, &v, &len));
	KT_ASSERT(v != 0);
	KT_ASSERT_OK(setsockopt(c, IPPROTO_TCP, TCP_MAXSEG, &(int){ 1000 },
				4));
	KT_ASSERT_ERRNO(setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, 1),
			EINVAL);
	KT_ASSERT_ERRNO(setsockopt(c, IPPROTO_TCP, 12345, &one, 4),
			ENOPROTOOPT);
	len = sizeof(name);
	KT_ASSERT_OK(getsockopt(c, IPPROTO_TCP, TCP_ULP, name, &len));
	KT_ASSERT(!strcmp(name, kt_ulp()));
	/* IP level goes through TCP to IP. */
	if (family == AF_INET) {
		KT_ASSERT_OK(setsockopt(c, IPPROTO_IP, IP_TOS, &tos, 4));
		v = 0;
		len = sizeof(v);
		KT_ASSERT_OK(getsockopt(c, IPPROTO_IP, IP_TOS, &v, &len));
		KT_ASSERT_EQ(v, tos);
	} else {
		KT_ASSERT_OK(setsockopt(c, IPPROTO_IPV6, IPV6_TCLASS, &tos,
					4));
		v = 0;
		len = sizeof(v);
		KT_ASSERT_OK(getsockopt(c, IPPROTO_IPV6, IPV6_TCLASS, &v,
					&len));
		KT_ASSERT_EQ(v, tos);
	}
	/* Socket level. */
	KT_ASSERT_OK(setsockopt(c, SOL_SOCKET, SO_RCVBUF, &bufsz, 4));
	v = 0;
	len = sizeof(v);
	KT_ASSERT_OK(getsockopt(c, SOL_SOCKET, SO_RCVBUF, &v, &len));
	KT_ASSERT_EQ(v, 2 * bufsz);

	/* Without keys the stream is plain TCP both ways. */
	kt_fill_pattern(msg, sizeof(msg), 7);
	kt_write_all(c, msg, sizeof(msg));
	kt_read_all(s, got, sizeof(got));
	KT_ASSERT(!memcmp(msg, got, sizeof(msg)));
	kt_fill_pattern(msg, sizeof(msg), 8);
	kt_write_all(s, msg, sizeof(msg));
	kt_read_all(c, got, sizeof(got));
	KT_ASSERT(!memcmp(msg, got, sizeof(msg)));

	/* And the same options still pass once keys are in. */
	KT_ASSERT_OK(set_conf(c, TLS_TX, TLS12, TLS_CIPHER_AES_GCM_128, 1));
	KT_ASSERT_OK(set_conf(c, TLS_RX, TLS12, TLS_CIPHER_AES_GCM_128, 2));
	KT_ASSERT_OK(setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &(int){ 0 }, 4));
	v = 1;
	len = sizeof(v);
	KT_ASSERT_OK(getsockopt(c, IPPROTO_TCP, TCP_NODELAY, &v, &len));
	KT_ASSERT_EQ(v, 0);
	len = sizeof(name);
	KT_ASSERT_OK(getsockopt(c, IPPROTO_TCP, TCP_ULP, name, &len));
	KT_ASSERT(!strcmp(name, kt_ulp()));
	close(c);
	close(s);
}

static void passthrough_ipv4(void)
{
	passthrough(AF_INET);
}

static void passthrough_ipv6(void)
{
	passthrough(AF_INET6);
}

/* --- sockmap -------------------------------------------------------------- */

static void sockmap_excludes_tls(void)
{
	int map, c, s, c2, s2;

	map = sockmap_create();
	if (map < 0)
		KT_SKIP("BPF_MAP_TYPE_SOCKMAP: %s", strerror(errno));

	/* In the map first: the ULP attaches, the keys are refused. */
	kt_tcp_pair(AF_INET, &c, &s);
	KT_ASSERT_OK(sockmap_op(BPF_MAP_UPDATE_ELEM, map, c));
	KT_ASSERT_OK(kt_attach(c));
	KT_ASSERT_ERRNO(set_conf(c, TLS_TX, TLS12, TLS_CIPHER_AES_GCM_128, 1),
			EINVAL);
	KT_ASSERT_ERRNO(set_conf(c, TLS_RX, TLS12, TLS_CIPHER_AES_GCM_128, 1),
			EINVAL);
	assert_unset(c, TLS_TX);
	/* Out of the map again: the ULP follows the restored proto. */
	KT_ASSERT_OK(sockmap_op(BPF_MAP_DELETE_ELEM, map, c));
	KT_ASSERT_OK(set_conf(c, TLS_TX, TLS12, TLS_CIPHER_AES_GCM_128, 1));
	assert_conf(c, TLS_TX, TLS12, TLS_CIPHER_AES_GCM_128, 1);

	/* A TLS socket does not go into a sockmap. */
	ulp_pair(AF_INET, &c2, &s2);
	KT_ASSERT_OK(set_conf(c2, TLS_TX, TLS12, TLS_CIPHER_AES_GCM_128, 1));
	KT_ASSERT_ERRNO(sockmap_op(BPF_MAP_UPDATE_ELEM, map, c2), EINVAL);
	close(c);
	close(s);
	close(c2);
	close(s2);
	close(map);
}

/* --- phases ---------------------------------------------------------------- */

static int tls_stat_exists(void)
{
	return access("/proc/net/tls_stat", F_OK) == 0;
}

/* The in-tree phase runs against tls.ko with its /proc/net/tls_stat. */
static void phase(int intree)
{
	if (intree)
		KT_ASSERT(tls_stat_exists());
}

static const struct kt_case cases[] = {
	KT_CASE(attach_ipv4), KT_CASE(attach_ipv6),
	KT_CASE(attach_unconnected), KT_CASE(attach_listening),
	KT_CASE(attach_udp), KT_CASE(attach_twice),
	KT_CASE(attach_unknown_ulp), KT_CASE(attach_half_closed),
	KT_CASE(attach_v4_mapped), KT_CASE(concurrent_set),
	KT_CASE(sol_tls_without_ulp), KT_CASE(set_short_optlen),
	KT_CASE(set_null_optval), KT_CASE(set_wrong_optlen),
	KT_CASE(set_bad_version), KT_CASE(set_unknown_cipher),
	KT_CASE(set_aria_tls13), KT_CASE(set_absent_cipher),
	KT_CASE(set_mismatch), KT_CASE(set_twice_ebusy),
	KT_CASE(set_bad_pointer), KT_CASE(install_all_ciphers),
	KT_CASE(get_header_and_lengths), KT_CASE(get_after_records),
	KT_CASE(tx_zerocopy_ro),
	KT_CASE(rx_expect_no_pad), KT_CASE(unknown_option),
	KT_CASE(disconnect_refused),
	KT_CASE(passthrough_ipv4), KT_CASE(passthrough_ipv6),
	KT_CASE(sockmap_excludes_tls),
};

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* Nothing is preloaded in the guest: make sure ktls loads at all. */
	kt_need_ktls();
	return kt_run_phased("control", cases,
			     sizeof(cases) / sizeof(cases[0]), phase);
}
