// SPDX-License-Identifier: GPL-2.0
/*
 * TLS_TX_MAX_PAYLOAD_LEN (RFC 8449 record_size_limit): the option's range
 * and errno, and that every TX path (copy, sendfile) cuts records at the
 * limit; records are opened by the independent codec (lib_tlsrec).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "lib_tlsrec.h"
#include "util.h"

#define TLS12	TLS_1_2_VERSION
#define TLS13	TLS_1_3_VERSION
#define SEED	5

static int set_max(int fd, uint16_t v)
{
	return setsockopt(fd, SOL_TLS, TLS_TX_MAX_PAYLOAD_LEN, &v, sizeof(v));
}

static long get_max(int fd)
{
	uint32_t v = 0xffffffff;
	socklen_t len = sizeof(v);

	KT_ASSERT_OK(getsockopt(fd, SOL_TLS, TLS_TX_MAX_PAYLOAD_LEN, &v,
				&len));
	KT_ASSERT_EQ(len, 2);
	return v & 0xffff;
}

/* A TX end (tx) with keys and the raw peer (raw). */
static void tx_pair(uint16_t version, uint16_t cipher, int *raw, int *tx,
		    struct tr_keys *k)
{
	union kt_crypto_info ci;

	kt_tcp_pair(AF_INET, raw, tx);
	kt_install(*tx, TLS_TX, version, cipher, SEED);
	kt_fill_info(&ci, version, cipher, SEED);
	tr_keys_from_info(k, &ci);
}

/*
 * Read records from raw until total plaintext bytes arrived; each must
 * be a data record of sizes[i] bytes, and the text must equal want.
 */
static void expect_records(int raw, struct tr_keys *k, const uint8_t *want,
			   size_t total, const size_t *sizes, size_t nsizes)
{
	static uint8_t buf[4 * TR_MAX_REC], pt[TR_MAX_PT + 256];
	size_t have = 0, got = 0, nrec = 0;

	while (got < total) {
		ssize_t used, n;
		uint8_t type;
		size_t ptlen;

		used = tr_open(k, buf, have, &type, pt, &ptlen);
		if (used < 0)
			KT_FAIL("record %zu: %s", nrec, tr_error());
		if (used == 0) {
			KT_ASSERT(have < sizeof(buf));
			n = read(raw, buf + have, sizeof(buf) - have);
			KT_ASSERT(n > 0);
			have += n;
			continue;
		}
		KT_ASSERT_EQ(type, 23);
		KT_ASSERT(nrec < nsizes);
		if (ptlen != sizes[nrec])
			KT_FAIL("record %zu carries %zu bytes, expected %zu",
				nrec, ptlen, sizes[nrec]);
		KT_ASSERT(got + ptlen <= total);
		KT_ASSERT(!memcmp(pt, want + got, ptlen));
		got += ptlen;
		nrec++;
		memmove(buf, buf + used, have - used);
		have -= used;
	}
	KT_ASSERT_EQ(nrec, nsizes);
	KT_ASSERT_EQ(have, 0);
}

static void test_default_and_get(void)
{
	uint16_t v = 0;
	socklen_t len = 1;
	int a, b;

	kt_need_ktls();
	kt_tcp_pair(AF_INET, &a, &b);
	KT_ASSERT_OK(kt_attach(b));
	/* Before any key: the RFC 8446 maximum. */
	KT_ASSERT_EQ(get_max(b), 16384);
	KT_ASSERT_ERRNO(getsockopt(b, SOL_TLS, TLS_TX_MAX_PAYLOAD_LEN, &v,
				   &len), EINVAL);
	KT_ASSERT_OK(set_max(b, 4096));
	KT_ASSERT_EQ(get_max(b), 4096);
}

static void test_range_tls12(void)
{
	uint32_t big = 1000;
	struct tr_keys k;
	int a, b;

	kt_need_ktls();
	tx_pair(TLS12, TLS_CIPHER_AES_GCM_128, &a, &b, &k);
	KT_ASSERT_ERRNO(set_max(b, 63), EINVAL);
	KT_ASSERT_ERRNO(set_max(b, 16385), EINVAL);
	KT_ASSERT_ERRNO(set_max(b, 0), EINVAL);
	KT_ASSERT_ERRNO(setsockopt(b, SOL_TLS, TLS_TX_MAX_PAYLOAD_LEN, &big,
				   sizeof(big)), EINVAL);
	KT_ASSERT_ERRNO(setsockopt(b, SOL_TLS, TLS_TX_MAX_PAYLOAD_LEN, &big,
				   1), EINVAL);
	KT_ASSERT_ERRNO(setsockopt(b, SOL_TLS, TLS_TX_MAX_PAYLOAD_LEN, NULL,
				   2), EINVAL);
	KT_ASSERT_EQ(get_max(b), 16384);
	KT_ASSERT_OK(set_max(b, 64));
	KT_ASSERT_EQ(get_max(b), 64);
	KT_ASSERT_OK(set_max(b, 16384));
	KT_ASSERT_EQ(get_max(b), 16384);
}

static void test_range_tls13(void)
{
	struct tr_keys k;
	int a, b;

	kt_need_ktls();
	tx_pair(TLS13, TLS_CIPHER_AES_GCM_128, &a, &b, &k);
	KT_ASSERT_ERRNO(set_max(b, 62), EINVAL);
	KT_ASSERT_OK(set_max(b, 63));
	KT_ASSERT_EQ(get_max(b), 63);
	KT_ASSERT_ERRNO(set_max(b, 16385), EINVAL);
}

static void send_capped(uint16_t version, uint16_t cipher, uint16_t max,
			size_t total)
{
	size_t sizes[400], n = 0, left = total;
	struct tr_keys k;
	uint8_t *data;
	int a, b;

	kt_need_ktls();
	data = malloc(total);
	KT_ASSERT(data);
	kt_fill_pattern(data, total, 9);
	tx_pair(version, cipher, &a, &b, &k);
	KT_ASSERT_OK(set_max(b, max));
	while (left) {
		KT_ASSERT(n < 400);
		sizes[n] = left < max ? left : max;
		left -= sizes[n++];
	}
	kt_write_all(b, data, total);
	expect_records(a, &k, data, total, sizes, n);
	free(data);
}

static void test_cap_tls12_gcm(void)
{
	send_capped(TLS12, TLS_CIPHER_AES_GCM_128, 1000, 5500);
}

static void test_cap_tls13_min(void)
{
	send_capped(TLS13, TLS_CIPHER_AES_GCM_256, 63, 200);
}

static void test_cap_tls13_chacha(void)
{
	send_capped(TLS13, TLS_CIPHER_CHACHA20_POLY1305, 4000, 40000);
}

/* sendfile hands pages in (sendpage on 6.1, MSG_SPLICE_PAGES on 6.12). */
static void test_cap_sendfile(void)
{
	size_t total = 20000, sizes[8], left = total, n = 0;
	char path[] = "/tmp/ktls-maxpl-XXXXXX";
	static uint8_t data[20000];
	struct tr_keys k;
	off_t off = 0;
	int a, b, f;

	kt_need_ktls();
	kt_fill_pattern(data, total, 3);
	f = mkstemp(path);
	KT_ASSERT(f >= 0);
	unlink(path);
	kt_write_all(f, data, total);
	tx_pair(TLS12, TLS_CIPHER_AES_GCM_256, &a, &b, &k);
	KT_ASSERT_OK(set_max(b, 3000));
	while (left) {
		sizes[n] = left < 3000 ? left : 3000;
		left -= sizes[n++];
	}
	while ((size_t)off < total)
		KT_ASSERT(sendfile(b, f, &off, total - off) > 0);
	expect_records(a, &k, data, total, sizes, n);
}

/* While a record is open the limit cannot change under it. */
static void test_busy_open_record(void)
{
	static const size_t sizes[] = { 100, 100, 50 };
	uint8_t data[250];
	struct tr_keys k;
	int a, b;

	kt_need_ktls();
	kt_fill_pattern(data, sizeof(data), 4);
	tx_pair(TLS13, TLS_CIPHER_AES_GCM_128, &a, &b, &k);
	KT_ASSERT_EQ(send(b, data, 10, MSG_MORE), 10);
	KT_ASSERT_ERRNO(set_max(b, 100), EBUSY);
	KT_ASSERT_EQ(get_max(b), 16384);
	/* Closing the record lets it through. */
	KT_ASSERT_EQ(send(b, data + 10, 90, 0), 90);
	KT_ASSERT_OK(set_max(b, 100));
	KT_ASSERT_EQ(send(b, data + 100, 150, 0), 150);
	expect_records(a, &k, data, sizeof(data), sizes, 3);
}

KT_MAIN("ktls_maxpayload",
	KT_CASE(test_default_and_get),
	KT_CASE(test_range_tls12),
	KT_CASE(test_range_tls13),
	KT_CASE(test_cap_tls12_gcm),
	KT_CASE(test_cap_tls13_min),
	KT_CASE(test_cap_tls13_chacha),
	KT_CASE(test_cap_sendfile),
	KT_CASE(test_busy_open_record));
