// SPDX-License-Identifier: GPL-2.0
/*
 * TLS 1.3 key update with the newest kernel's UAPI: a second TLS_TX or
 * TLS_RX installs the next key.  Records are sealed and opened by the
 * independent codec (lib_tlsrec); counters come from /proc/net/ktls_stat
 * in a namespace of the case's own.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "lib_pair.h"
#include "lib_tlsrec.h"
#include "util.h"

#define TLS12	TLS_1_2_VERSION
#define TLS13	TLS_1_3_VERSION
#define GCM128	TLS_CIPHER_AES_GCM_128

static void setup(void)
{
	kt_need_ktls();
	/* Fresh counters: a namespace of our own. */
	kt_new_netns();
}

static void keys(struct tr_keys *k, uint16_t version, uint16_t cipher,
		 unsigned int seed)
{
	union kt_crypto_info ci;

	kt_fill_info(&ci, version, cipher, seed);
	tr_keys_from_info(k, &ci);
}

static int set_key(int fd, int dir, uint16_t version, uint16_t cipher,
		   unsigned int seed)
{
	union kt_crypto_info ci;
	size_t n = kt_fill_info(&ci, version, cipher, seed);

	return setsockopt(fd, SOL_TLS, dir, &ci, n);
}

/* Read one whole record from the raw socket and open it with k. */
static size_t read_rec(int raw, struct tr_keys *k, uint8_t *type,
		       uint8_t *pt)
{
	uint8_t buf[TR_MAX_REC];
	size_t have = 0, len;
	ssize_t used;

	kt_read_all(raw, buf, TR_HDR);
	have = TR_HDR + ((buf[3] << 8) | buf[4]);
	KT_ASSERT(have <= sizeof(buf));
	kt_read_all(raw, buf + TR_HDR, have - TR_HDR);
	used = tr_open(k, buf, have, type, pt, &len);
	if (used != (ssize_t)have)
		KT_FAIL("record does not open: %s", tr_error());
	return len;
}

static int readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	KT_ASSERT(poll(&p, 1, 100) >= 0);
	return !!(p.revents & POLLIN);
}

static void check_getsockopt_key(int fd, int dir, uint16_t cipher,
				 unsigned int seed)
{
	union kt_crypto_info want, got;
	size_t n = kt_fill_info(&want, TLS13, cipher, seed);
	socklen_t len = n;

	KT_ASSERT_OK(getsockopt(fd, SOL_TLS, dir, &got, &len));
	KT_ASSERT_EQ(len, n);
	/* Nothing sent or read under the new key yet: all equal. */
	KT_ASSERT(!memcmp(&got, &want, n));
}

static void tx_rekey(uint16_t cipher)
{
	uint8_t pt[TR_MAX_PT + 256], type;
	struct tr_keys k1, k2;
	int a, b;

	setup();
	kt_tcp_pair(AF_INET, &a, &b);
	kt_install(b, TLS_TX, TLS13, cipher, 1);
	keys(&k1, TLS13, cipher, 1);
	keys(&k2, TLS13, cipher, 2);

	KT_ASSERT_EQ(send(b, "old key", 7, 0), 7);
	KT_ASSERT_OK(set_key(b, TLS_TX, TLS13, cipher, 2));
	check_getsockopt_key(b, TLS_TX, cipher, 2);
	KT_ASSERT_EQ(send(b, "new key", 7, 0), 7);
	KT_ASSERT_EQ(send(b, "again", 5, 0), 5);

	KT_ASSERT_EQ(read_rec(a, &k1, &type, pt), 7);
	KT_ASSERT(type == 23 && !memcmp(pt, "old key", 7));
	KT_ASSERT_EQ(read_rec(a, &k2, &type, pt), 7);
	KT_ASSERT(type == 23 && !memcmp(pt, "new key", 7));
	KT_ASSERT_EQ(read_rec(a, &k2, &type, pt), 5);
	KT_ASSERT(type == 23 && !memcmp(pt, "again", 5));
	KT_ASSERT_EQ(kt_stat("TlsTxRekeyOk"), 1);
	KT_ASSERT_EQ(kt_stat("TlsTxRekeyError"), 0);
	KT_ASSERT_EQ(kt_stat("TlsTxSw"), 1);
	KT_ASSERT_EQ(kt_stat("TlsCurrTxSw"), 1);
}

static void test_tx_rekey_gcm(void)
{
	tx_rekey(GCM128);
}

static void test_tx_rekey_chacha(void)
{
	tx_rekey(TLS_CIPHER_CHACHA20_POLY1305);
}

static void test_rekey_refused(void)
{
	union kt_crypto_info ci;
	size_t n;
	int a, b;

	setup();
	kt_tcp_pair(AF_INET, &a, &b);
	kt_install(b, TLS_TX, TLS13, GCM128, 1);
	kt_install(b, TLS_RX, TLS13, GCM128, 1);
	/* Cipher or version changes are EINVAL and count as errors. */
	KT_ASSERT_ERRNO(set_key(b, TLS_TX, TLS13, TLS_CIPHER_AES_GCM_256, 2),
			EINVAL);
	KT_ASSERT_ERRNO(set_key(b, TLS_TX, TLS12, GCM128, 2), EINVAL);
	KT_ASSERT_ERRNO(set_key(b, TLS_RX, TLS13,
				TLS_CIPHER_CHACHA20_POLY1305, 2), EINVAL);
	n = kt_fill_info(&ci, TLS13, GCM128, 2);
	KT_ASSERT_ERRNO(setsockopt(b, SOL_TLS, TLS_RX, &ci, n + 1), EINVAL);
	KT_ASSERT_EQ(kt_stat("TlsTxRekeyError"), 2);
	KT_ASSERT_EQ(kt_stat("TlsRxRekeyError"), 2);
	KT_ASSERT_EQ(kt_stat("TlsTxRekeyOk"), 0);
	KT_ASSERT_EQ(kt_stat("TlsRxRekeyOk"), 0);
	/* The old keys stay. */
	check_getsockopt_key(b, TLS_TX, GCM128, 1);
	check_getsockopt_key(b, TLS_RX, GCM128, 1);
	close(a);
	close(b);

	/* TLS 1.2 has no key update: EBUSY, counted as in-tree 6.14+. */
	kt_tcp_pair(AF_INET, &a, &b);
	kt_install(b, TLS_TX, TLS12, GCM128, 1);
	kt_install(b, TLS_RX, TLS12, GCM128, 1);
	KT_ASSERT_ERRNO(set_key(b, TLS_TX, TLS12, GCM128, 2), EBUSY);
	KT_ASSERT_EQ(kt_stat("TlsTxRekeyError"), 3);
	KT_ASSERT_EQ(kt_stat("TlsRxRekeyError"), 2);
	KT_ASSERT_ERRNO(set_key(b, TLS_RX, TLS12, GCM128, 2), EBUSY);
	KT_ASSERT_EQ(kt_stat("TlsTxRekeyError"), 3);
	KT_ASSERT_EQ(kt_stat("TlsRxRekeyError"), 3);
	KT_ASSERT_EQ(kt_stat("TlsTxRekeyOk"), 0);
	KT_ASSERT_EQ(kt_stat("TlsRxRekeyOk"), 0);
}

static const uint8_t key_update[] = { 24, 0, 0, 1, 0 };

static void test_rx_key_update(void)
{
	uint8_t buf[256], type;
	struct tr_keys k1, k2;
	int a, b, p[2];

	setup();
	kt_tcp_pair(AF_INET, &a, &b);
	kt_install(b, TLS_RX, TLS13, GCM128, 1);
	keys(&k1, TLS13, GCM128, 1);
	keys(&k2, TLS13, GCM128, 2);

	/* All at once: the reader must stop at the KeyUpdate. */
	kt_send_rec(a, &k1, 23, "before", 6);
	kt_send_rec(a, &k1, 22, key_update, sizeof(key_update));
	kt_send_rec(a, &k2, 23, "after", 5);
	kt_send_rec(a, &k2, 23, "more", 4);
	usleep(50000);

	KT_ASSERT_EQ(kt_recv_type(b, buf, sizeof(buf), 0, &type), 6);
	KT_ASSERT(type == 23 && !memcmp(buf, "before", 6));
	KT_ASSERT_EQ(kt_recv_type(b, buf, sizeof(buf), 0, &type),
		     sizeof(key_update));
	KT_ASSERT_EQ(type, 22);
	KT_ASSERT(!memcmp(buf, key_update, sizeof(key_update)));
	KT_ASSERT_EQ(kt_stat("TlsRxRekeyReceived"), 1);

	/*
	 * Paused: reads and splice say the key expired, at once, so poll
	 * says readable (an epoll loop must not hang on it).
	 */
	KT_ASSERT(readable(b));
	KT_ASSERT_ERRNO(recv(b, buf, sizeof(buf), 0), EKEYEXPIRED);
	KT_ASSERT_ERRNO(recv(b, buf, sizeof(buf), MSG_DONTWAIT), EKEYEXPIRED);
	KT_ASSERT_ERRNO(recv(b, buf, sizeof(buf), MSG_PEEK), EKEYEXPIRED);
	KT_ASSERT_OK(pipe(p));
	KT_ASSERT_ERRNO(splice(b, NULL, p[1], NULL, 100, 0), EKEYEXPIRED);
	KT_ASSERT(readable(b));

	KT_ASSERT_OK(set_key(b, TLS_RX, TLS13, GCM128, 2));
	check_getsockopt_key(b, TLS_RX, GCM128, 2);
	KT_ASSERT(readable(b));
	/* One record's worth: the next one is left for splice. */
	KT_ASSERT_EQ(kt_recv_type(b, buf, 5, 0, &type), 5);
	KT_ASSERT(type == 23 && !memcmp(buf, "after", 5));
	KT_ASSERT_EQ(splice(b, NULL, p[1], NULL, 100, 0), 4);
	KT_ASSERT_EQ(read(p[0], buf, sizeof(buf)), 4);
	KT_ASSERT(!memcmp(buf, "more", 4));
	KT_ASSERT_EQ(kt_stat("TlsRxRekeyOk"), 1);
	KT_ASSERT_EQ(kt_stat("TlsRxRekeyError"), 0);
	KT_ASSERT_EQ(kt_stat("TlsDecryptError"), 0);
	KT_ASSERT_EQ(kt_stat("TlsRxSw"), 1);
}

/* A reader blocked across the KeyUpdate; the new key arrives later. */
static void test_rx_key_update_later_data(void)
{
	uint8_t buf[256], type;
	struct tr_keys k1, k2;
	int a, b;

	setup();
	kt_tcp_pair(AF_INET, &a, &b);
	kt_install(b, TLS_RX, TLS13, TLS_CIPHER_AES_GCM_256, 1);
	keys(&k1, TLS13, TLS_CIPHER_AES_GCM_256, 1);
	keys(&k2, TLS13, TLS_CIPHER_AES_GCM_256, 2);

	kt_send_rec(a, &k1, 22, key_update, sizeof(key_update));
	KT_ASSERT_EQ(kt_recv_type(b, buf, sizeof(buf), 0, &type),
		     sizeof(key_update));
	KT_ASSERT_EQ(type, 22);
	KT_ASSERT_ERRNO(recv(b, buf, sizeof(buf), 0), EKEYEXPIRED);
	KT_ASSERT_OK(set_key(b, TLS_RX, TLS13, TLS_CIPHER_AES_GCM_256, 2));
	KT_ASSERT(!readable(b));
	kt_send_rec(a, &k2, 23, "late", 4);
	KT_ASSERT_EQ(kt_recv_type(b, buf, sizeof(buf), 0, &type), 4);
	KT_ASSERT(type == 23 && !memcmp(buf, "late", 4));
}

/* A second TLS_RX before any KeyUpdate just replaces the key. */
static void test_rx_replace_key(void)
{
	uint8_t buf[64], type;
	struct tr_keys k1, k2;
	int a, b;

	setup();
	kt_tcp_pair(AF_INET, &a, &b);
	kt_install(b, TLS_RX, TLS13, GCM128, 1);
	keys(&k1, TLS13, GCM128, 1);
	keys(&k2, TLS13, GCM128, 2);
	kt_send_rec(a, &k1, 23, "one", 3);
	KT_ASSERT_EQ(kt_recv_type(b, buf, sizeof(buf), 0, &type), 3);
	KT_ASSERT_OK(set_key(b, TLS_RX, TLS13, GCM128, 2));
	kt_send_rec(a, &k2, 23, "two", 3);
	KT_ASSERT_EQ(kt_recv_type(b, buf, sizeof(buf), 0, &type), 3);
	KT_ASSERT(type == 23 && !memcmp(buf, "two", 3));
	KT_ASSERT_EQ(kt_stat("TlsRxRekeyOk"), 1);
	KT_ASSERT_EQ(kt_stat("TlsRxRekeyReceived"), 0);
}

/* Both ends ktls: a full update in both directions, byte-exact. */
static void test_both_ends(void)
{
	static uint8_t data[100000], got[100000];
	uint8_t hs[16], type;
	int a, b;

	setup();
	kt_fill_pattern(data, sizeof(data), 8);
	kt_tcp_pair(AF_INET, &a, &b);
	kt_install(a, TLS_TX, TLS13, GCM128, 1);
	kt_install(b, TLS_RX, TLS13, GCM128, 1);
	kt_write_all(a, data, 30000);
	kt_read_all(b, got, 30000);
	/* a sends KeyUpdate as a handshake record, then switches. */
	KT_ASSERT_EQ(kt_send_type(a, 22, key_update, sizeof(key_update), 0),
		     sizeof(key_update));
	KT_ASSERT_OK(set_key(a, TLS_TX, TLS13, GCM128, 2));
	kt_write_all(a, data + 30000, sizeof(data) - 30000);
	KT_ASSERT_EQ(kt_recv_type(b, hs, sizeof(hs), 0, &type),
		     sizeof(key_update));
	KT_ASSERT_EQ(type, 22);
	KT_ASSERT_ERRNO(recv(b, got, 1, 0), EKEYEXPIRED);
	KT_ASSERT_OK(set_key(b, TLS_RX, TLS13, GCM128, 2));
	kt_read_all(b, got + 30000, sizeof(data) - 30000);
	KT_ASSERT(!memcmp(got, data, sizeof(data)));
	KT_ASSERT_EQ(kt_stat("TlsTxRekeyOk"), 1);
	KT_ASSERT_EQ(kt_stat("TlsRxRekeyOk"), 1);
	KT_ASSERT_EQ(kt_stat("TlsRxRekeyReceived"), 1);
}

KT_MAIN("ktls_rekey",
	KT_CASE(test_tx_rekey_gcm),
	KT_CASE(test_tx_rekey_chacha),
	KT_CASE(test_rekey_refused),
	KT_CASE(test_rx_key_update),
	KT_CASE(test_rx_key_update_later_data),
	KT_CASE(test_rx_replace_key),
	KT_CASE(test_both_ends));
