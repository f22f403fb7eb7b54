// SPDX-License-Identifier: GPL-2.0
/*
 * TLS 1.3 KeyUpdate detection follows handshake message boundaries, within
 * and across records: a KeyUpdate after another message in one record, a
 * KeyUpdate split over two records, and message bytes equal to 24 (the
 * KeyUpdate type) that are not a message's first byte.  The key expires
 * after the record that holds the end of the KeyUpdate; the reader reads
 * that record and gets EKEYEXPIRED until the next TLS_RX.  Records are
 * sealed by the independent codec (lib_tlsrec).
 */
#define _GNU_SOURCE
#include <errno.h>
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

#define TLS13	TLS_1_3_VERSION
#define GCM128	TLS_CIPHER_AES_GCM_128

#define HS	22
#define DATA	23

static void setup(int *a, int *b, struct tr_keys *k1, struct tr_keys *k2)
{
	union kt_crypto_info ci;

	kt_need_ktls();
	/* Fresh counters: a namespace of our own. */
	kt_new_netns();
	kt_tcp_pair(AF_INET, a, b);
	kt_install(*b, TLS_RX, TLS13, GCM128, 1);
	kt_fill_info(&ci, TLS13, GCM128, 1);
	tr_keys_from_info(k1, &ci);
	kt_fill_info(&ci, TLS13, GCM128, 2);
	tr_keys_from_info(k2, &ci);
}

static void set_rx_key(int fd, unsigned int seed)
{
	union kt_crypto_info ci;
	size_t n = kt_fill_info(&ci, TLS13, GCM128, seed);

	KT_ASSERT_OK(setsockopt(fd, SOL_TLS, TLS_RX, &ci, n));
}

/* The key expired after the last record read: resume with k2. */
static void expect_expired_then(int b, struct tr_keys *k2, int a)
{
	uint8_t buf[64];

	KT_ASSERT_ERRNO(recv(b, buf, sizeof(buf), MSG_DONTWAIT), EKEYEXPIRED);
	KT_ASSERT_EQ(kt_stat("TlsRxRekeyReceived"), 1);
	set_rx_key(b, 2);
	kt_send_rec(a, k2, DATA, "after", 5);
	kt_expect_rec(b, DATA, "after", 5);
	KT_ASSERT_EQ(kt_stat("TlsDecryptError"), 0);
}

static const uint8_t nst[] = { 4, 0, 0, 6, 't', 'i', 'c', 'k', 'e', 't' };
static const uint8_t ku[] = { 24, 0, 0, 1, 0 };

/* NewSessionTicket then KeyUpdate in one record. */
static void test_nst_then_key_update(void)
{
	struct tr_keys k1, k2;
	uint8_t msg[sizeof(nst) + sizeof(ku)];
	int a, b;

	setup(&a, &b, &k1, &k2);
	memcpy(msg, nst, sizeof(nst));
	memcpy(msg + sizeof(nst), ku, sizeof(ku));
	kt_send_rec(a, &k1, DATA, "before", 6);
	kt_send_rec(a, &k1, HS, msg, sizeof(msg));
	kt_expect_rec(b, DATA, "before", 6);
	kt_expect_rec(b, HS, msg, sizeof(msg));
	expect_expired_then(b, &k2, a);
}

/* KeyUpdate header in one record, its body in the next. */
static void test_key_update_split(void)
{
	struct tr_keys k1, k2;
	int a, b;

	setup(&a, &b, &k1, &k2);
	kt_send_rec(a, &k1, HS, ku, 3);
	kt_send_rec(a, &k1, HS, ku + 3, 2);
	kt_expect_rec(b, HS, ku, 3);
	/* Still the old key: the KeyUpdate has not ended yet. */
	kt_expect_rec(b, HS, ku + 3, 2);
	expect_expired_then(b, &k2, a);
}

/* Bytes 24 inside a message, at the start of a record, expire nothing. */
static void test_body_0x18_at_boundary(void)
{
	/* A NewSessionTicket whose body continues with 0x18 0x18 ... */
	static const uint8_t t1[] = { 4, 0, 0, 8, 1, 24, 24, 24, 0, 1, 0, 5 };
	/* ... and one whose length is 24, header split before that byte. */
	uint8_t t2[4 + 24];
	struct tr_keys k1, k2;
	int a, b;

	setup(&a, &b, &k1, &k2);
	kt_send_rec(a, &k1, HS, t1, 6);
	kt_send_rec(a, &k1, HS, t1 + 6, sizeof(t1) - 6);
	memset(t2, 24, sizeof(t2));
	t2[0] = 4;
	t2[1] = 0;
	t2[2] = 0;
	kt_send_rec(a, &k1, HS, t2, 3);
	kt_send_rec(a, &k1, HS, t2 + 3, sizeof(t2) - 3);
	kt_send_rec(a, &k1, DATA, "still", 5);

	kt_expect_rec(b, HS, t1, 6);
	kt_expect_rec(b, HS, t1 + 6, sizeof(t1) - 6);
	kt_expect_rec(b, HS, t2, 3);
	kt_expect_rec(b, HS, t2 + 3, sizeof(t2) - 3);
	kt_expect_rec(b, DATA, "still", 5);
	KT_ASSERT_EQ(kt_stat("TlsRxRekeyReceived"), 0);
	KT_ASSERT_EQ(kt_stat("TlsDecryptError"), 0);
}

/* Two messages; the second one's header is split over two records. */
static void test_second_header_split(void)
{
	static const uint8_t r1[] = { 4, 0, 0, 2, 'a', 'b', 24, 0 };
	static const uint8_t r2[] = { 0, 1, 1 };
	struct tr_keys k1, k2;
	int a, b;

	setup(&a, &b, &k1, &k2);
	kt_send_rec(a, &k1, HS, r1, sizeof(r1));
	kt_send_rec(a, &k1, HS, r2, sizeof(r2));
	kt_expect_rec(b, HS, r1, sizeof(r1));
	kt_expect_rec(b, HS, r2, sizeof(r2));
	expect_expired_then(b, &k2, a);
}

/* A message after a KeyUpdate in its record: the stream is broken. */
static void test_bytes_after_key_update(void)
{
	static const uint8_t r[] = { 24, 0, 0, 1, 0, 4, 0, 0, 0 };
	struct tr_keys k1, k2;
	uint8_t buf[64], type;
	int a, b;

	setup(&a, &b, &k1, &k2);
	kt_send_rec(a, &k1, HS, r, sizeof(r));
	KT_ASSERT_ERRNO(kt_recv_type(b, buf, sizeof(buf), 0, &type), EBADMSG);
	/* Fatal: every later read fails the same way. */
	KT_ASSERT_ERRNO(kt_recv_type(b, buf, sizeof(buf), 0, &type), EBADMSG);
	KT_ASSERT_EQ(kt_stat("TlsRxRekeyReceived"), 0);
}

/* A KeyUpdate is one byte long; any other length is malformed. */
static void test_key_update_bad_length(void)
{
	static const uint8_t r[] = { 24, 0, 0, 2, 0, 0 };
	struct tr_keys k1, k2;
	uint8_t buf[64], type;
	int a, b;

	setup(&a, &b, &k1, &k2);
	kt_send_rec(a, &k1, HS, r, sizeof(r));
	KT_ASSERT_ERRNO(kt_recv_type(b, buf, sizeof(buf), 0, &type), EBADMSG);
	KT_ASSERT_EQ(kt_stat("TlsRxRekeyReceived"), 0);
}

KT_MAIN("ktls_keyupdate",
	KT_CASE(test_nst_then_key_update),
	KT_CASE(test_key_update_split),
	KT_CASE(test_body_0x18_at_boundary),
	KT_CASE(test_second_header_split),
	KT_CASE(test_bytes_after_key_update),
	KT_CASE(test_key_update_bad_length));
