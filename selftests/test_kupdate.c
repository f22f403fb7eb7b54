// SPDX-License-Identifier: GPL-2.0
/*
 * In-kernel TLS 1.3 KeyUpdate (KTLS_TX_SECRET / KTLS_RX_SECRET): the peer
 * is the independent record codec (lib_tlsrec) following the secret chain
 * of lib_keychain (OpenSSL's HKDF).  The program on the ktls side only
 * reads and writes: it never sees a KeyUpdate nor EKEYEXPIRED, and what
 * the kernel sends opens with the keys the chain predicts.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "lib_keychain.h"
#include "lib_pair.h"
#include "lib_tlsrec.h"
#include "util.h"

#define TLS13	TLS_1_3_VERSION
#define GCM128	TLS_CIPHER_AES_GCM_128
#define GCM256	TLS_CIPHER_AES_GCM_256
#define CHACHA	TLS_CIPHER_CHACHA20_POLY1305
#define HS	22
#define DATA	23

static const uint8_t ku_req[] = { 24, 0, 0, 1, 1 };
static const uint8_t ku_noreq[] = { 24, 0, 0, 1, 0 };
static const uint8_t nst[] = { 4, 0, 0, 6, 0, 0, 0, 9, 'a', 'b' };

/* Keys (and secrets unless !secret) on fd for dir from g. */
static void install(int fd, int dir, struct kc_gen *g, int secret)
{
	struct ktls_traffic_secret ts;

	if (kt_attach(fd) && errno != EEXIST)
		KT_FAIL("TCP_ULP %s: %s", kt_ulp(), strerror(errno));
	KT_ASSERT_OK(setsockopt(fd, SOL_TLS, dir, &g->ci, g->ci_len));
	if (!secret)
		return;
	kc_secret_opt(g, &ts);
	KT_ASSERT_OK(setsockopt(fd, SOL_TLS, dir == TLS_TX ? KTLS_TX_SECRET :
						KTLS_RX_SECRET,
				&ts, sizeof(ts)));
}

/*
 * a: the codec's end; b: ktls, RX keyed from rx (seed 1), TX from tx
 * (seed 2) when tx is not NULL, secrets for both.
 */
static void setup(int *a, int *b, uint16_t cipher, struct kc_gen *rx,
		  struct kc_gen *tx)
{
	kt_need_ktls();
	kt_new_netns();
	kt_tcp_pair(AF_INET, a, b);
	kc_init(rx, cipher, 1);
	install(*b, TLS_RX, rx, 1);
	if (tx) {
		kc_init(tx, cipher, 2);
		install(*b, TLS_TX, tx, 1);
	}
}

static void send_rec(int raw, struct kc_gen *g, uint8_t type,
		     const void *pt, size_t len)
{
	kt_send_rec(raw, &g->k, type, pt, len);
}

/* The peer's KeyUpdate: sealed with the current key, then step. */
static void send_ku(int raw, struct kc_gen *g, int request)
{
	send_rec(raw, g, HS, request ? ku_req : ku_noreq, 5);
	kc_next(g);
}

/* Records the kernel sent, read from the codec's end. */
struct reader {
	int fd;
	uint8_t buf[2 * TR_MAX_REC];
	size_t have;
};

static size_t next_rec(struct reader *r, struct kc_gen *g, uint8_t *type,
		       uint8_t *pt)
{
	size_t ptlen;
	ssize_t n;

	for (;;) {
		n = tr_open(&g->k, r->buf, r->have, type, pt, &ptlen);
		if (n < 0)
			KT_FAIL("record under generation %u: %s", g->gen,
				tr_error());
		if (n > 0)
			break;
		n = read(r->fd, r->buf + r->have, sizeof(r->buf) - r->have);
		if (n <= 0)
			KT_FAIL("read from the ktls peer: %zd %s", n,
				strerror(errno));
		r->have += n;
	}
	memmove(r->buf, r->buf + n, r->have - n);
	r->have -= n;
	return ptlen;
}

/* The next record must be the kernel's KeyUpdate(request_update). */
static void expect_ku_req(struct reader *r, struct kc_gen *g, int request)
{
	uint8_t pt[TR_MAX_PT + 256], type;
	size_t n = next_rec(r, g, &type, pt);

	KT_ASSERT_EQ(type, HS);
	KT_ASSERT_EQ(n, 5);
	KT_ASSERT(!memcmp(pt, request ? ku_req : ku_noreq, 5));
	kc_next(g);
}

static void expect_ku(struct reader *r, struct kc_gen *g)
{
	expect_ku_req(r, g, 0);
}

static void expect_data(struct reader *r, struct kc_gen *g, const char *s)
{
	uint8_t pt[TR_MAX_PT + 256], type;
	size_t n = next_rec(r, g, &type, pt);

	KT_ASSERT_EQ(type, DATA);
	KT_ASSERT_EQ(n, strlen(s));
	KT_ASSERT(!memcmp(pt, s, n));
}

static struct ktls_key_gen key_gen(int fd)
{
	struct ktls_key_gen g;
	socklen_t len = sizeof(g);

	KT_ASSERT_OK(getsockopt(fd, SOL_TLS, KTLS_KEY_GEN, &g, &len));
	KT_ASSERT_EQ(len, sizeof(g));
	return g;
}

/* The probe: every feature bit on any TLS socket, before keys too. */
static void test_probe(void)
{
	uint32_t v = 0;
	socklen_t len = sizeof(v);
	int a, b;

	kt_need_ktls();
	kt_tcp_pair(AF_INET, &a, &b);
	KT_ASSERT_OK(kt_attach(b));
	KT_ASSERT_OK(getsockopt(b, SOL_TLS, KTLS_FEATURES, &v, &len));
	KT_ASSERT_EQ(len, sizeof(v));
	KT_ASSERT_EQ(v, KTLS_FEAT_KEY_UPDATE | KTLS_FEAT_TX_REKEY |
			KTLS_FEAT_TX_PAD | KTLS_FEAT_TX_KEY_UPDATE);
	KT_ASSERT_ERRNO(setsockopt(b, SOL_TLS, KTLS_FEATURES, &v, sizeof(v)),
			ENOPROTOOPT);
}

/* Every malformed or misplaced secret fails with EINVAL, loudly. */
static void test_secret_errors(void)
{
	struct ktls_traffic_secret ts;
	struct kc_gen g, other, g12;
	union kt_crypto_info ci;
	int a, b, c, d, kmsg;
	socklen_t len = sizeof(ts);
	size_t n;

	kt_need_ktls();
	kt_new_netns();
	kmsg = kt_kmsg_open();
	kt_tcp_pair(AF_INET, &a, &b);
	kc_init(&g, GCM128, 1);
	KT_ASSERT_OK(kt_attach(b));
	kc_secret_opt(&g, &ts);
	/* Before TLS_RX: no keys to derive from. */
	KT_ASSERT_ERRNO(setsockopt(b, SOL_TLS, KTLS_RX_SECRET, &ts,
				   sizeof(ts)), EINVAL);
	install(b, TLS_RX, &g, 0);
	KT_ASSERT_ERRNO(setsockopt(b, SOL_TLS, KTLS_TX_SECRET, &ts,
				   sizeof(ts)), EINVAL);
	KT_ASSERT_ERRNO(setsockopt(b, SOL_TLS, KTLS_RX_SECRET, &ts,
				   sizeof(ts) - 1), EINVAL);
	KT_ASSERT_ERRNO(setsockopt(b, SOL_TLS, KTLS_RX_SECRET, NULL,
				   sizeof(ts)), EINVAL);
	ts.hash = 3;
	KT_ASSERT_ERRNO(setsockopt(b, SOL_TLS, KTLS_RX_SECRET, &ts,
				   sizeof(ts)), EINVAL);
	ts.hash = KTLS_HASH_SHA384;	/* not AES-128-GCM's */
	ts.len = 48;
	KT_ASSERT_ERRNO(setsockopt(b, SOL_TLS, KTLS_RX_SECRET, &ts,
				   sizeof(ts)), EINVAL);
	kc_secret_opt(&g, &ts);
	ts.len = 48;
	KT_ASSERT_ERRNO(setsockopt(b, SOL_TLS, KTLS_RX_SECRET, &ts,
				   sizeof(ts)), EINVAL);
	/* Another secret: it does not derive the key in use. */
	kc_init(&other, GCM128, 7);
	kc_secret_opt(&other, &ts);
	KT_ASSERT_ERRNO(setsockopt(b, SOL_TLS, KTLS_RX_SECRET, &ts,
				   sizeof(ts)), EINVAL);
	/* The next generation's either. */
	other = g;
	kc_next(&other);
	kc_secret_opt(&other, &ts);
	KT_ASSERT_ERRNO(setsockopt(b, SOL_TLS, KTLS_RX_SECRET, &ts,
				   sizeof(ts)), EINVAL);
	kc_secret_opt(&g, &ts);
	KT_ASSERT_OK(setsockopt(b, SOL_TLS, KTLS_RX_SECRET, &ts, sizeof(ts)));
	/* Write-only. */
	KT_ASSERT_ERRNO(getsockopt(b, SOL_TLS, KTLS_RX_SECRET, &ts, &len),
			EPERM);
	KT_ASSERT_ERRNO(getsockopt(b, SOL_TLS, KTLS_TX_SECRET, &ts, &len),
			EPERM);

	/* TLS 1.2 has no KeyUpdate. */
	kt_tcp_pair(AF_INET, &c, &d);
	n = kt_fill_info(&ci, TLS_1_2_VERSION, GCM128, 3);
	KT_ASSERT_OK(kt_attach(d));
	KT_ASSERT_OK(setsockopt(d, SOL_TLS, TLS_RX, &ci, n));
	kc_init(&g12, GCM128, 3);
	kc_secret_opt(&g12, &ts);
	KT_ASSERT_ERRNO(setsockopt(d, SOL_TLS, KTLS_RX_SECRET, &ts,
				   sizeof(ts)), EINVAL);
	KT_ASSERT_ERRNO(setsockopt(d, SOL_TLS, KTLS_TX_REKEY_RECORDS, &n,
				   sizeof(uint32_t)), EINVAL);
	if (kmsg >= 0)
		KT_ASSERT(kt_kmsg_find(kmsg, "KTLS_RX_SECRET: ") >= 1);
	KT_ASSERT_EQ(kt_stat("KtlsRxKeyUpdateAuto"), 0);
}

/*
 * The peer updates its keys twice; the reader reads one byte stream and
 * nothing else.  cipher: the suite (AES-256-GCM's hash is SHA-384).
 */
static void rx_steps(uint16_t cipher)
{
	struct kc_gen rx;
	char buf[64];
	int a, b;

	setup(&a, &b, cipher, &rx, NULL);
	send_rec(a, &rx, DATA, "one ", 4);
	send_ku(a, &rx, 0);
	send_rec(a, &rx, DATA, "two ", 4);
	send_ku(a, &rx, 0);
	send_rec(a, &rx, DATA, "three", 5);
	kt_read_all(b, buf, 13);
	KT_ASSERT(!memcmp(buf, "one two three", 13));
	KT_ASSERT_EQ(key_gen(b).rx, 2);
	KT_ASSERT_EQ(key_gen(b).tx, 0);
	KT_ASSERT_EQ(kt_stat("KtlsRxKeyUpdateAuto"), 2);
	KT_ASSERT_EQ(kt_stat("TlsRxRekeyReceived"), 2);
	KT_ASSERT_EQ(kt_stat("KtlsKeyUpdateAnswered"), 0);
	KT_ASSERT_EQ(kt_stat("TlsDecryptError"), 0);
}

static void test_rx_steps_gcm128(void)
{
	rx_steps(GCM128);
}

static void test_rx_steps_gcm256(void)
{
	rx_steps(GCM256);
}

static void test_rx_steps_chacha(void)
{
	rx_steps(CHACHA);
}

/* NewSessionTicket then KeyUpdate in one record: the ticket is read. */
static void test_nst_ku_one_record(void)
{
	uint8_t msg[sizeof(nst) + 5];
	struct kc_gen rx;
	int a, b;

	setup(&a, &b, GCM128, &rx, NULL);
	memcpy(msg, nst, sizeof(nst));
	memcpy(msg + sizeof(nst), ku_noreq, 5);
	send_rec(a, &rx, HS, msg, sizeof(msg));
	kc_next(&rx);
	send_rec(a, &rx, DATA, "after", 5);
	kt_expect_rec(b, HS, nst, sizeof(nst));
	kt_expect_rec(b, DATA, "after", 5);
	KT_ASSERT_EQ(key_gen(b).rx, 1);
}

/* A KeyUpdate split over records, behind a ticket or alone. */
static void test_ku_split(void)
{
	uint8_t msg[sizeof(nst) + 2];
	struct kc_gen rx;
	int a, b;

	setup(&a, &b, GCM128, &rx, NULL);
	memcpy(msg, nst, sizeof(nst));
	memcpy(msg + sizeof(nst), ku_noreq, 2);
	send_rec(a, &rx, HS, msg, sizeof(msg));
	send_rec(a, &rx, HS, ku_noreq + 2, 3);
	kc_next(&rx);
	send_rec(a, &rx, DATA, "mid", 3);
	send_rec(a, &rx, HS, ku_noreq, 1);
	send_rec(a, &rx, HS, ku_noreq + 1, 3);
	send_rec(a, &rx, HS, ku_noreq + 4, 1);
	kc_next(&rx);
	send_rec(a, &rx, DATA, "end", 3);
	kt_expect_rec(b, HS, nst, sizeof(nst));
	kt_expect_rec(b, DATA, "mid", 3);
	kt_expect_rec(b, DATA, "end", 3);
	KT_ASSERT_EQ(key_gen(b).rx, 2);
}

/* request_update must be 0 or 1 (RFC 8446 4.6.3). */
static void test_ku_bad_request(void)
{
	static const uint8_t bad[] = { 24, 0, 0, 1, 2 };
	struct kc_gen rx;
	uint8_t buf[16], type;
	int a, b;

	setup(&a, &b, GCM128, &rx, NULL);
	send_rec(a, &rx, HS, bad, sizeof(bad));
	KT_ASSERT_ERRNO(kt_recv_type(b, buf, sizeof(buf), 0, &type), EBADMSG);
	KT_ASSERT_EQ(key_gen(b).rx, 0);
}

/* update_requested: the kernel answers under the old TX key, then steps. */
static void test_requested_answer(void)
{
	struct kc_gen rx, tx;
	struct reader r = { 0 };
	char buf[8];
	int a, b;

	setup(&a, &b, GCM128, &rx, &tx);
	r.fd = a;
	KT_ASSERT_EQ(send(b, "old", 3, 0), 3);
	send_ku(a, &rx, 1);
	send_rec(a, &rx, DATA, "x", 1);
	kt_read_all(b, buf, 1);
	KT_ASSERT_EQ(buf[0], 'x');
	KT_ASSERT_EQ(send(b, "new", 3, 0), 3);
	expect_data(&r, &tx, "old");
	expect_ku(&r, &tx);
	expect_data(&r, &tx, "new");
	KT_ASSERT_EQ(key_gen(b).tx, 1);
	KT_ASSERT_EQ(key_gen(b).rx, 1);
	KT_ASSERT_EQ(kt_stat("KtlsKeyUpdateAnswered"), 1);
	KT_ASSERT_EQ(kt_stat("KtlsTxKeyUpdateAuto"), 1);
}

/* Without a TX secret the request is counted, not answered. */
static void test_requested_no_tx_secret(void)
{
	struct kc_gen rx, tx;
	struct reader r = { 0 };
	char buf[8];
	int a, b;

	setup(&a, &b, GCM128, &rx, NULL);
	kc_init(&tx, GCM128, 2);
	install(b, TLS_TX, &tx, 0);
	r.fd = a;
	/* Nor can the kernel rekey TX by itself. */
	KT_ASSERT_ERRNO(setsockopt(b, SOL_TLS, KTLS_TX_REKEY_RECORDS,
				   &(uint32_t){ 4 }, sizeof(uint32_t)), EINVAL);
	send_ku(a, &rx, 1);
	send_rec(a, &rx, DATA, "x", 1);
	kt_read_all(b, buf, 1);
	KT_ASSERT_EQ(send(b, "same", 4, 0), 4);
	expect_data(&r, &tx, "same");
	KT_ASSERT_EQ(kt_stat("KtlsKeyUpdateUnanswered"), 1);
	KT_ASSERT_EQ(kt_stat("KtlsKeyUpdateAnswered"), 0);
}

/* An open MSG_MORE record is closed under the old key before the answer. */
static void test_requested_msg_more(void)
{
	struct kc_gen rx, tx;
	struct reader r = { 0 };
	char buf[8];
	int a, b;

	setup(&a, &b, GCM128, &rx, &tx);
	r.fd = a;
	KT_ASSERT_EQ(send(b, "abc", 3, MSG_MORE), 3);
	send_ku(a, &rx, 1);
	send_rec(a, &rx, DATA, "y", 1);
	kt_read_all(b, buf, 1);
	expect_data(&r, &tx, "abc");
	expect_ku(&r, &tx);
	KT_ASSERT_EQ(send(b, "def", 3, 0), 3);
	expect_data(&r, &tx, "def");
}

/* A userspace rekey ends the kernel's chain: EKEYEXPIRED as before. */
static void test_user_rekey_drops_secret(void)
{
	struct kc_gen rx;
	char buf[8];
	int a, b;

	setup(&a, &b, GCM128, &rx, NULL);
	send_ku(a, &rx, 0);
	send_rec(a, &rx, DATA, "y", 1);
	kt_read_all(b, buf, 1);
	/* The program installs keys of its own. */
	kc_init(&rx, GCM128, 9);
	KT_ASSERT_OK(setsockopt(b, SOL_TLS, TLS_RX, &rx.ci, rx.ci_len));
	send_rec(a, &rx, DATA, "z", 1);
	kt_read_all(b, buf, 1);
	KT_ASSERT_EQ(buf[0], 'z');
	KT_ASSERT_EQ(key_gen(b).rx, 2);
	send_ku(a, &rx, 0);
	kt_expect_rec(b, HS, ku_noreq, 5);
	KT_ASSERT_ERRNO(recv(b, buf, sizeof(buf), MSG_DONTWAIT),
			EKEYEXPIRED);
	KT_ASSERT_EQ(kt_stat("KtlsRxKeyUpdateAuto"), 1);
}

/* KTLS_TX_REKEY_RECORDS: a KeyUpdate after every 4 records. */
static void test_tx_rekey_records(void)
{
	uint32_t every = 4, got = 0;
	socklen_t len = sizeof(got);
	struct kc_gen rx, tx;
	struct reader r = { 0 };
	char s[16];
	int a, b, i;

	setup(&a, &b, GCM128, &rx, &tx);
	r.fd = a;
	KT_ASSERT_OK(setsockopt(b, SOL_TLS, KTLS_TX_REKEY_RECORDS, &every,
				sizeof(every)));
	KT_ASSERT_OK(getsockopt(b, SOL_TLS, KTLS_TX_REKEY_RECORDS, &got,
				&len));
	KT_ASSERT_EQ(got, 4);
	for (i = 0; i < 10; i++) {
		snprintf(s, sizeof(s), "rec%d", i);
		KT_ASSERT_EQ(send(b, s, strlen(s), 0), (ssize_t)strlen(s));
	}
	for (i = 0; i < 10; i++) {
		snprintf(s, sizeof(s), "rec%d", i);
		expect_data(&r, &tx, s);
		if (i % 4 == 3)
			expect_ku(&r, &tx);
	}
	KT_ASSERT_EQ(key_gen(b).tx, 2);
	KT_ASSERT_EQ(kt_stat("KtlsTxKeyUpdateAuto"), 2);
}

/*
 * KTLS_TX_KEY_UPDATE: the program's own update, sent by the kernel after
 * the open record, with the request bit asked for; an answer owed to the
 * peer goes first and stays update_not_requested.
 */
static void test_tx_key_update_opt(void)
{
	uint32_t v = 1;
	struct kc_gen rx, tx;
	struct reader r = { 0 };
	char buf[8];
	int a, b;

	setup(&a, &b, GCM128, &rx, &tx);
	r.fd = a;
	KT_ASSERT_EQ(send(b, "abc", 3, MSG_MORE), 3);
	KT_ASSERT_OK(setsockopt(b, SOL_TLS, KTLS_TX_KEY_UPDATE, &v,
				sizeof(v)));
	KT_ASSERT_EQ(send(b, "def", 3, 0), 3);
	expect_data(&r, &tx, "abc");
	expect_ku_req(&r, &tx, 1);
	expect_data(&r, &tx, "def");
	KT_ASSERT_EQ(key_gen(b).tx, 1);
	/* Owed answer and own update at once: two KeyUpdates, answer first. */
	send_ku(a, &rx, 1);
	send_rec(a, &rx, DATA, "y", 1);
	kt_read_all(b, buf, 1);
	v = 0;
	KT_ASSERT_OK(setsockopt(b, SOL_TLS, KTLS_TX_KEY_UPDATE, &v,
				sizeof(v)));
	KT_ASSERT_EQ(send(b, "ghi", 3, 0), 3);
	expect_ku_req(&r, &tx, 0);
	expect_ku_req(&r, &tx, 0);
	expect_data(&r, &tx, "ghi");
	KT_ASSERT_EQ(key_gen(b).tx, 3);
	KT_ASSERT_EQ(kt_stat("KtlsKeyUpdateAnswered"), 1);
	KT_ASSERT_EQ(kt_stat("KtlsTxKeyUpdateAuto"), 3);
	/* With nobody sending, the work sends it. */
	KT_ASSERT_OK(setsockopt(b, SOL_TLS, KTLS_TX_KEY_UPDATE, &v,
				sizeof(v)));
	expect_ku_req(&r, &tx, 0);
	KT_ASSERT_EQ(key_gen(b).tx, 4);
	v = 2;
	KT_ASSERT_ERRNO(setsockopt(b, SOL_TLS, KTLS_TX_KEY_UPDATE, &v,
				   sizeof(v)), EINVAL);
}

/* Without the TX secret, or on TLS 1.2, the option is refused. */
static void test_tx_key_update_opt_errors(void)
{
	uint32_t v = 0;
	struct kc_gen rx, tx;
	int a, b;

	setup(&a, &b, GCM128, &rx, NULL);
	KT_ASSERT_ERRNO(setsockopt(b, SOL_TLS, KTLS_TX_KEY_UPDATE, &v,
				   sizeof(v)), EINVAL);
	kc_init(&tx, GCM128, 2);
	install(b, TLS_TX, &tx, 0);
	KT_ASSERT_ERRNO(setsockopt(b, SOL_TLS, KTLS_TX_KEY_UPDATE, &v,
				   sizeof(v)), EINVAL);
	KT_ASSERT_ERRNO(getsockopt(b, SOL_TLS, KTLS_TX_KEY_UPDATE, &v,
				   &(socklen_t){ sizeof(v) }), ENOPROTOOPT);
	(void)a;
}

/*
 * A sender thread keeps sending while the peer asks for updates again and
 * again; the decoder follows the keys and checks every byte.
 */
#define BIG	(1 << 20)
#define CHUNK	50000
#define ASKS	6

struct sender {
	int fd;
	const uint8_t *buf;
	int stop;
	size_t sent;
};

static void *sender_main(void *arg)
{
	struct sender *s = arg;

	while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE)) {
		size_t at = s->sent % BIG;
		size_t len = BIG - at < CHUNK ? BIG - at : CHUNK;
		ssize_t n = send(s->fd, s->buf + at, len, 0);

		if (n <= 0)
			KT_FAIL("sender: %s", strerror(errno));
		s->sent += n;
	}
	return NULL;
}

struct decoder {
	struct reader r;
	struct kc_gen *tx;
	const uint8_t *want;
	size_t total;		/* set once the sender stopped */
	unsigned int kus;
};

/* The next record, or 0 when none came within 100 ms. */
static int poll_rec(struct reader *r, struct kc_gen *g, uint8_t *type,
		    uint8_t *pt, size_t *ptlen)
{
	struct pollfd pfd = { .fd = r->fd, .events = POLLIN };
	ssize_t n;

	n = tr_open(&g->k, r->buf, r->have, type, pt, ptlen);
	if (n < 0)
		KT_FAIL("record under generation %u: %s", g->gen, tr_error());
	if (!n) {
		if (poll(&pfd, 1, 100) <= 0)
			return 0;
		n = read(r->fd, r->buf + r->have, sizeof(r->buf) - r->have);
		if (n <= 0)
			KT_FAIL("read from the ktls peer: %zd %s", n,
				strerror(errno));
		r->have += n;
		return 0;
	}
	memmove(r->buf, r->buf + n, r->have - n);
	r->have -= n;
	return 1;
}

static void *decoder_main(void *arg)
{
	static uint8_t pt[TR_MAX_PT + 256];
	struct decoder *d = arg;
	size_t got = 0, n, i;
	unsigned int idle = 0;	/* 100 ms polls with nothing, at the end */
	uint8_t type;

	for (;;) {
		size_t total = __atomic_load_n(&d->total, __ATOMIC_ACQUIRE);

		/*
		 * The last answer may follow the last data record: the
		 * counter moves when it is sealed, and the sender can be
		 * stopped while TCP still waits for room for it.
		 */
		if (total && got == total &&
		    (d->kus == ASKS || ++idle > 50))
			break;
		if (!poll_rec(&d->r, d->tx, &type, pt, &n))
			continue;
		idle = 0;
		if (type == HS) {
			KT_ASSERT_EQ(n, 5);
			KT_ASSERT(!memcmp(pt, ku_noreq, 5));
			kc_next(d->tx);
			d->kus++;
			continue;
		}
		KT_ASSERT_EQ(type, DATA);
		for (i = 0; i < n; i++)
			if (pt[i] != d->want[(got + i) % BIG])
				KT_FAIL("data differs at byte %zu", got + i);
		got += n;
	}
	return NULL;
}

/* reads: the ktls side also reads (else its records wait unread). */
static void concurrent_sender(int reads)
{
	struct timespec pause = { 0, 20 * 1000 * 1000 };
	struct kc_gen rx, tx;
	struct decoder d = { 0 };
	struct sender s = { 0 };
	pthread_t st, dt;
	uint8_t *buf;
	char c;
	int a, b, i;

	setup(&a, &b, GCM128, &rx, &tx);
	buf = malloc(BIG);
	KT_ASSERT(buf);
	kt_fill_pattern(buf, BIG, 5);
	s.fd = b;
	s.buf = buf;
	d.r.fd = a;
	d.tx = &tx;
	d.want = buf;
	KT_ASSERT_EQ(pthread_create(&dt, NULL, decoder_main, &d), 0);
	KT_ASSERT_EQ(pthread_create(&st, NULL, sender_main, &s), 0);
	for (i = 0; i < ASKS; i++) {
		nanosleep(&pause, NULL);
		send_ku(a, &rx, 1);
		send_rec(a, &rx, DATA, "p", 1);
		if (!reads)
			continue;
		kt_read_all(b, &c, 1);
		KT_ASSERT_EQ(c, 'p');
	}
	/* Every answer is sealed while the sender still sends. */
	for (i = 0; i < 1000 && kt_stat("KtlsKeyUpdateAnswered") < ASKS; i++)
		nanosleep(&pause, NULL);
	__atomic_store_n(&s.stop, 1, __ATOMIC_RELEASE);
	pthread_join(st, NULL);
	__atomic_store_n(&d.total, s.sent, __ATOMIC_RELEASE);
	pthread_join(dt, NULL);
	kt_diag("%zu bytes sent around %d answered updates", s.sent, ASKS);
	KT_ASSERT_EQ(d.kus, ASKS);
	KT_ASSERT_EQ(key_gen(b).tx, ASKS);
	KT_ASSERT_EQ(kt_stat("KtlsKeyUpdateAnswered"), ASKS);
	for (i = 0; !reads && i < ASKS; i++) {
		kt_read_all(b, &c, 1);
		KT_ASSERT_EQ(c, 'p');
	}
}

static void test_concurrent_sender(void)
{
	concurrent_sender(1);
}

/* A server busy sending never reads: its kernel answers all the same. */
static void test_concurrent_sender_no_reader(void)
{
	concurrent_sender(0);
}

/* Nobody reads at all: the update is answered, the data kept in order. */
static void test_idle_answer(void)
{
	struct kc_gen rx, tx;
	struct reader r = { 0 };
	char buf[8];
	int a, b;

	setup(&a, &b, GCM128, &rx, &tx);
	r.fd = a;
	send_rec(a, &rx, DATA, "d1", 2);
	send_ku(a, &rx, 1);
	send_rec(a, &rx, DATA, "d2", 2);
	expect_ku(&r, &tx);
	KT_ASSERT_EQ(key_gen(b).rx, 1);
	KT_ASSERT_EQ(send(b, "new", 3, 0), 3);
	expect_data(&r, &tx, "new");
	kt_read_all(b, buf, 4);
	KT_ASSERT(!memcmp(buf, "d1d2", 4));
	KT_ASSERT_EQ(kt_stat("KtlsKeyUpdateAnswered"), 1);
}

/* Queued before the secret is set: the set looks at them. */
static void test_idle_queued_before_secret(void)
{
	struct ktls_traffic_secret ts;
	struct kc_gen rx, tx;
	struct reader r = { 0 };
	char buf[8];
	int a, b;

	kt_need_ktls();
	kt_new_netns();
	kt_tcp_pair(AF_INET, &a, &b);
	kc_init(&rx, GCM128, 1);
	kc_init(&tx, GCM128, 2);
	install(b, TLS_TX, &tx, 1);
	install(b, TLS_RX, &rx, 0);
	r.fd = a;
	send_ku(a, &rx, 1);
	send_rec(a, &rx, DATA, "q", 1);
	/* Give it time to be framed: the KeyUpdate waits, unopened. */
	usleep(100 * 1000);
	kc_init(&rx, GCM128, 1);
	kc_secret_opt(&rx, &ts);
	KT_ASSERT_OK(setsockopt(b, SOL_TLS, KTLS_RX_SECRET, &ts, sizeof(ts)));
	expect_ku(&r, &tx);
	kt_read_all(b, buf, 1);
	KT_ASSERT_EQ(buf[0], 'q');
}

/* The length field of the next record the kernel sent, left queued. */
static unsigned int peek_len(int fd)
{
	uint8_t hdr[TR_HDR];

	KT_ASSERT_EQ(recv(fd, hdr, sizeof(hdr), MSG_PEEK | MSG_WAITALL),
		     TR_HDR);
	return hdr[3] << 8 | hdr[4];
}

/* KTLS_TX_PAD: inner plaintext padded to a multiple, or to the maximum. */
static void test_tx_pad(void)
{
	uint32_t unit = 256, got = 0;
	uint16_t max = 1000;
	socklen_t len = sizeof(got);
	struct kc_gen rx, tx;
	struct reader r = { 0 };
	int a, b;

	setup(&a, &b, GCM128, &rx, &tx);
	r.fd = a;
	KT_ASSERT_OK(setsockopt(b, SOL_TLS, KTLS_TX_PAD, &unit, sizeof(unit)));
	KT_ASSERT_OK(getsockopt(b, SOL_TLS, KTLS_TX_PAD, &got, &len));
	KT_ASSERT_EQ(got, 256);
	KT_ASSERT_EQ(send(b, "hello", 5, 0), 5);
	/* 5 bytes and the type byte become 256; then the tag. */
	KT_ASSERT_EQ(peek_len(a), 256 + TR_TAG);
	expect_data(&r, &tx, "hello");
	KT_ASSERT_EQ(kt_stat("KtlsTxPadBytes"), 250);
	/* 256 and the type byte: the next multiple is 512. */
	{
		static char big[256];

		memset(big, 'b', sizeof(big));
		KT_ASSERT_EQ(send(b, big, sizeof(big), 0), 256);
		KT_ASSERT_EQ(peek_len(a), 512 + TR_TAG);
		next_rec(&r, &tx, (uint8_t[1]){ 0 },
			 (uint8_t[TR_MAX_PT + 256]){ 0 });
	}
	unit = KTLS_PAD_MAX;
	KT_ASSERT_OK(setsockopt(b, SOL_TLS, KTLS_TX_PAD, &unit, sizeof(unit)));
	KT_ASSERT_EQ(send(b, "x", 1, 0), 1);
	KT_ASSERT_EQ(peek_len(a), TR_MAX_PT + 1 + TR_TAG);
	expect_data(&r, &tx, "x");
	/* Within TLS_TX_MAX_PAYLOAD_LEN (RFC 8449: the limit, type included). */
	KT_ASSERT_OK(setsockopt(b, SOL_TLS, TLS_TX_MAX_PAYLOAD_LEN, &max,
				sizeof(max)));
	KT_ASSERT_EQ(send(b, "y", 1, 0), 1);
	KT_ASSERT_EQ(peek_len(a), 1001 + TR_TAG);
	expect_data(&r, &tx, "y");
	KT_ASSERT_EQ(kt_stat("KtlsTxPadBytes"), 250 + 255 + 16383 + 999);
}

/* TLS 1.2 has no padding. */
static void test_tx_pad_tls12(void)
{
	uint32_t unit = 64;
	int a, b;

	kt_need_ktls();
	kt_tcp_pair(AF_INET, &a, &b);
	kt_install(b, TLS_TX, TLS_1_2_VERSION, GCM128, 1);
	KT_ASSERT_ERRNO(setsockopt(b, SOL_TLS, KTLS_TX_PAD, &unit,
				   sizeof(unit)), EINVAL);
}

KT_MAIN("ktls_kupdate",
	KT_CASE(test_probe),
	KT_CASE(test_secret_errors),
	KT_CASE(test_rx_steps_gcm128),
	KT_CASE(test_rx_steps_gcm256),
	KT_CASE(test_rx_steps_chacha),
	KT_CASE(test_nst_ku_one_record),
	KT_CASE(test_ku_split),
	KT_CASE(test_ku_bad_request),
	KT_CASE(test_requested_answer),
	KT_CASE(test_requested_no_tx_secret),
	KT_CASE(test_requested_msg_more),
	KT_CASE(test_user_rekey_drops_secret),
	KT_CASE(test_tx_rekey_records),
	KT_CASE(test_tx_key_update_opt),
	KT_CASE(test_tx_key_update_opt_errors),
	KT_CASE(test_concurrent_sender),
	KT_CASE(test_concurrent_sender_no_reader),
	KT_CASE(test_idle_answer),
	KT_CASE(test_idle_queued_before_secret),
	KT_CASE(test_tx_pad),
	KT_CASE(test_tx_pad_tls12),
)
