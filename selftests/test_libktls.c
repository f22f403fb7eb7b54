// SPDX-License-Identifier: GPL-2.0
/*
 * libktls against an independent peer: a plain userspace OpenSSL SSL in a
 * thread on the other end of a loopback TCP pair.
 *  derive_*:  our keys decrypt what OpenSSL sent and OpenSSL accepts what
 *             we seal (lib_tlsrec codec, no kernel);
 *  kernel_*:  keys installed in ktls, data both ways byte-exact, close_notify
 *             both ways;
 *  ossl_*:    OpenSSL 3.0's own kTLS installs over ktls; getsockopt reads
 *             its keys back and they must equal our derivation;
 *  bad/error cases: KeyUpdate, alerts, missing ULP.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/ssl.h>

#include <ktls.h>
#include "harness.h"
#include "lib_tlsrec.h"
#include "util.h"

#define BIG	(256 * 1024)

struct suite {
	int tls13;
	const char *name;	/* OpenSSL name for the peer */
	uint16_t cipher;
};

static const struct suite suites[] = {
	{ 0, "ECDHE-ECDSA-AES128-GCM-SHA256", TLS_CIPHER_AES_GCM_128 },
	{ 0, "ECDHE-ECDSA-AES256-GCM-SHA384", TLS_CIPHER_AES_GCM_256 },
	{ 0, "ECDHE-ECDSA-CHACHA20-POLY1305", TLS_CIPHER_CHACHA20_POLY1305 },
	{ 1, "TLS_AES_128_GCM_SHA256", TLS_CIPHER_AES_GCM_128 },
	{ 1, "TLS_AES_256_GCM_SHA384", TLS_CIPHER_AES_GCM_256 },
	{ 1, "TLS_CHACHA20_POLY1305_SHA256", TLS_CIPHER_CHACHA20_POLY1305 },
};

/* The plain OpenSSL peer. */
struct peer {
	int fd, server, ktls, tickets, mfl;
	int count_tickets;	/* client: count the tickets it is sent */
	const struct suite *su;
	SSL_CTX *ctx;
	SSL *ssl;
	char err[256];
	int ok;
	pthread_t thr;
	void (*job)(struct peer *p);
	unsigned char *buf;
	size_t len;
};

/* New sessions (tickets) the OpenSSL client peer was sent. */
static int tickets_seen;

static int count_ticket(SSL *ssl, SSL_SESSION *sess)
{
	(void)ssl;
	(void)sess;
	__atomic_add_fetch(&tickets_seen, 1, __ATOMIC_SEQ_CST);
	return 0;	/* not kept */
}

static SSL_CTX *peer_ctx(const struct peer *p)
{
	char err[KTLS_ERR_LEN];
	SSL_CTX *ctx;

	/* A certificate from libktls, then plain OpenSSL settings. */
	ctx = ktls_ctx_new(p->server, NULL, NULL, err, sizeof(err));
	if (!ctx)
		KT_FAIL("peer ctx: %s", err);
	SSL_CTX_set_keylog_callback(ctx, NULL);
	SSL_CTX_set_num_tickets(ctx, p->tickets);
	if (p->mfl)
		KT_ASSERT(SSL_CTX_set_tlsext_max_fragment_length(ctx,
								 p->mfl));
	if (p->ktls)
		SSL_CTX_set_options(ctx, SSL_OP_ENABLE_KTLS);
	if (p->count_tickets) {
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT);
		SSL_CTX_sess_set_new_cb(ctx, count_ticket);
	}
	KT_ASSERT(SSL_CTX_set_min_proto_version(ctx, p->su->tls13 ?
				TLS1_3_VERSION : TLS1_2_VERSION));
	KT_ASSERT(SSL_CTX_set_max_proto_version(ctx, p->su->tls13 ?
				TLS1_3_VERSION : TLS1_2_VERSION));
	if (p->su->tls13)
		KT_ASSERT(SSL_CTX_set_ciphersuites(ctx, p->su->name));
	else
		KT_ASSERT(SSL_CTX_set_cipher_list(ctx, p->su->name));
	return ctx;
}

static void *peer_main(void *arg)
{
	struct peer *p = arg;
	int rc;

	p->ssl = SSL_new(p->ctx);
	SSL_set_fd(p->ssl, p->fd);
	rc = p->server ? SSL_accept(p->ssl) : SSL_connect(p->ssl);
	if (rc != 1) {
		snprintf(p->err, sizeof(p->err), "peer handshake: %s",
			 ERR_reason_error_string(ERR_get_error()));
		return NULL;
	}
	if (p->job)
		p->job(p);
	return NULL;
}

/* Stalls become failures that say where they stopped, not alarms. */
static void io_timeout(int fd)
{
	struct timeval tv = { 30, 0 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static void peer_start(struct peer *p, const struct suite *su, int fd,
		       int server, void (*job)(struct peer *p))
{
	io_timeout(fd);
	p->su = su;
	p->fd = fd;
	p->server = server;
	p->job = job;
	p->ctx = peer_ctx(p);
	KT_ASSERT_EQ(pthread_create(&p->thr, NULL, peer_main, p), 0);
}

static void peer_join(struct peer *p)
{
	pthread_join(p->thr, NULL);
	if (p->err[0])
		KT_FAIL("%s", p->err);
}

/* Our end: libktls handshake on fd. */
static struct ktls_session *our_handshake(int fd, int server,
					  unsigned int flags)
{
	struct ktls_opts *o = calloc(1, sizeof(*o));
	struct ktls_session *s = ktls_session_new();
	char err[KTLS_ERR_LEN];
	SSL_CTX *ctx = ktls_ctx_new(server, NULL, NULL, err, sizeof(err));

	KT_ASSERT(s);
	if (!ctx)
		KT_FAIL("ctx: %s", err);
	o->flags = flags;
	o->timeout_ms = 20000;
	if (getenv("KTLS_TEST_TRACE"))
		o->trace = stdout;
	if (ktls_handshake(s, ctx, fd, server, o))
		KT_FAIL("ktls_handshake: %s", ktls_errmsg(s));
	SSL_CTX_free(ctx);
	return s;
}

/* The codec's keys from what libktls derived (KTLS_F_NO_INSTALL). */
static void lib_keys(const struct ktls_session *s, int tx, struct tr_keys *k)
{
	union kt_crypto_info ci;
	ssize_t n = ktls_session_crypto_info(s, tx, &ci, sizeof(ci));

	KT_ASSERT(n > 0);
	KT_ASSERT_EQ(n, kt_cipher(ci.info.cipher_type)->info_size);
	KT_ASSERT_ERRNO(ktls_session_crypto_info(s, tx, &ci, n - 1), ERANGE);
	tr_keys_from_info(k, &ci);
}

/* ---- derive: no kernel, records checked with lib_tlsrec ---- */

static const char hello[] = "hello from plain OpenSSL";
static const char reply[] = "reply sealed with libktls keys";

static void job_derive(struct peer *p)
{
	char got[64] = "";
	int n;

	if (SSL_write(p->ssl, hello, sizeof(hello)) != sizeof(hello)) {
		snprintf(p->err, sizeof(p->err), "peer SSL_write failed");
		return;
	}
	n = SSL_read(p->ssl, got, sizeof(got));
	if (n != sizeof(reply) || memcmp(got, reply, sizeof(reply)))
		snprintf(p->err, sizeof(p->err),
			 "peer SSL_read got %d bytes, not our reply", n);
}

/* Read records until application data; return its length. */
static size_t open_app(int fd, struct tr_keys *k, uint8_t *pt)
{
	static uint8_t buf[2 * TR_MAX_REC];
	size_t have = 0;

	for (;;) {
		uint8_t type;
		size_t ptlen;
		ssize_t used, r;

		used = tr_open(k, buf, have, &type, pt, &ptlen);
		if (used < 0)
			KT_FAIL("record from OpenSSL did not open: %s",
				tr_error());
		if (used > 0) {
			memmove(buf, buf + used, have - used);
			have -= used;
			if (type == 23)
				return ptlen;
			/* TLS 1.3 NewSessionTicket: must be handshake. */
			KT_ASSERT_EQ(type, 22);
			KT_ASSERT_EQ(pt[0], 4);
			continue;
		}
		r = read(fd, buf + have, sizeof(buf) - have);
		KT_ASSERT(r > 0);
		have += r;
	}
}

static void run_derive(const struct suite *su, int lib_server, int tickets)
{
	struct ktls_session *s;
	struct peer p = { .tickets = tickets };
	struct tr_keys rx, tx;
	uint8_t pt[TR_MAX_REC], rec[TR_MAX_REC];
	int c, sv;
	size_t n;

	kt_tcp_pair(AF_INET, &c, &sv);
	peer_start(&p, su, lib_server ? c : sv, !lib_server, job_derive);
	s = our_handshake(lib_server ? sv : c, lib_server, KTLS_F_NO_INSTALL);
	KT_ASSERT_EQ(ktls_session_cipher(s), su->cipher);
	KT_ASSERT_EQ(ktls_session_version(s),
		     su->tls13 ? TLS_1_3_VERSION : TLS_1_2_VERSION);
	lib_keys(s, 0, &rx);
	lib_keys(s, 1, &tx);
	n = open_app(ktls_session_fd(s), &rx, pt);
	KT_ASSERT_EQ(n, sizeof(hello));
	KT_ASSERT(!memcmp(pt, hello, n));
	n = tr_seal(&tx, 23, reply, sizeof(reply), rec);
	kt_write_all(ktls_session_fd(s), rec, n);
	peer_join(&p);
}

/* ---- kernel: install in ktls, exchange both ways ---- */

/*
 * The peer reads len bytes back into buf (then p->buf, for the test to
 * check; freed on error), then expects our close_notify and answers it.
 */
static void peer_read_back(struct peer *p, unsigned char *buf, size_t len)
{
	size_t got = 0;
	int n;

	while (got < len) {
		n = SSL_read(p->ssl, buf + got, len - got);
		if (n <= 0) {
			snprintf(p->err, sizeof(p->err),
				 "peer SSL_read after %zu bytes: error %d %s",
				 got, SSL_get_error(p->ssl, n),
				 ERR_reason_error_string(ERR_get_error()));
			free(buf);
			return;
		}
		got += n;
	}
	p->buf = buf;
	n = SSL_read(p->ssl, &got, 1);
	if (n != 0 || SSL_get_error(p->ssl, n) != SSL_ERROR_ZERO_RETURN) {
		snprintf(p->err, sizeof(p->err),
			 "peer expected close_notify, got %d (error %d)", n,
			 SSL_get_error(p->ssl, n));
		return;
	}
	SSL_shutdown(p->ssl);
}

static void job_echo(struct peer *p)
{
	unsigned char *buf = malloc(BIG);

	kt_fill_pattern(buf, BIG, 7);
	if (SSL_write(p->ssl, buf, BIG) != BIG) {
		snprintf(p->err, sizeof(p->err), "peer SSL_write failed");
		free(buf);
		return;
	}
	/* Read our BIG bytes back, then expect close_notify. */
	peer_read_back(p, buf, BIG);
}

/* Our side: exactly len bytes through ktls_recv. */
static void recv_all(struct ktls_session *s, unsigned char *buf, size_t len)
{
	size_t have = 0;

	while (have < len) {
		ssize_t n = ktls_recv(s, buf + have, len - have);

		if (n <= 0)
			KT_FAIL("ktls_recv after %zu bytes: %zd %s %s", have,
				n, strerror(errno), ktls_errmsg(s));
		have += n;
	}
}

/*
 * Send close_notify, join the peer and check that it read want back.  The
 * socket stays open: nothing is reset under the peer while it finishes.
 */
static void close_and_check(struct ktls_session *s, struct peer *p,
			    const unsigned char *want, size_t len)
{
	KT_ASSERT_OK(ktls_send_alert(s, 1, 0));
	peer_join(p);
	KT_ASSERT(p->buf && !memcmp(p->buf, want, len));
	free(p->buf);
}

/*
 * job_echo from our end: BIG bytes in, the same back through the kernel
 * TX, close_notify (the socket stays open).
 */
static void echo_exchange(struct ktls_session *s, struct peer *p)
{
	unsigned char *want = malloc(BIG), *got = malloc(BIG);

	io_timeout(ktls_session_fd(s));
	kt_fill_pattern(want, BIG, 7);
	recv_all(s, got, BIG);
	KT_ASSERT(!memcmp(got, want, BIG));
	kt_write_all(ktls_session_fd(s), got, BIG);
	close_and_check(s, p, want, BIG);
	free(want);
	free(got);
}

static void run_kernel(const struct suite *su, int lib_server, int tickets)
{
	struct ktls_session *s;
	struct peer p = { .tickets = tickets };
	char buf[64];
	int c, sv;

	kt_tcp_pair(AF_INET, &c, &sv);
	peer_start(&p, su, lib_server ? c : sv, !lib_server, job_echo);
	s = our_handshake(lib_server ? sv : c, lib_server, 0);
	KT_ASSERT(ktls_session_kernel(s, 1) && ktls_session_kernel(s, 0));
	echo_exchange(s, &p);
	/* The peer's close_notify reaches us as EOF (0). */
	KT_ASSERT_EQ(ktls_recv(s, buf, sizeof(buf)), 0);
	KT_ASSERT(ktls_session_peer_closed(s));
	close(ktls_session_fd(s));
	ktls_session_free(s);
}

/* ---- OpenSSL's own kTLS over ktls: its keys equal ours ---- */

static void job_nop(struct peer *p)
{
	(void)p;
}

static size_t salt_len(uint16_t cipher)
{
	return cipher == TLS_CIPHER_CHACHA20_POLY1305 ? 0 : 4;
}

/* OpenSSL's key for dir, read back from its socket fd, equals ours. */
static void compare_info(int fd, int dir, const struct ktls_session *s,
			 int tx, int cmp_iv)
{
	size_t hdr = sizeof(struct tls_crypto_info);
	union kt_crypto_info theirs, buf, *ours = &buf;
	ssize_t info_len = ktls_session_crypto_info(s, tx, &buf, sizeof(buf));
	socklen_t len = info_len;
	const struct kt_cipher *kc = kt_cipher(ours->info.cipher_type);
	const unsigned char *a = ours->raw + hdr, *b = theirs.raw + hdr;

	KT_ASSERT(info_len > 0);
	/* The kernel wants exactly the cipher's struct size. */
	memset(&theirs, 0, sizeof(theirs));
	KT_ASSERT_OK(getsockopt(fd, SOL_TLS, dir, &theirs, &len));
	KT_ASSERT_EQ(len, info_len);
	KT_ASSERT(kc && kc->info_size == len);
	KT_ASSERT_EQ(theirs.info.version, ours->info.version);
	KT_ASSERT_EQ(theirs.info.cipher_type, ours->info.cipher_type);
	if (cmp_iv)
		KT_ASSERT(!memcmp(a, b, kc->iv));
	a += kc->iv;
	b += kc->iv;
	KT_ASSERT(!memcmp(a, b, kc->key));		/* key */
	KT_ASSERT(!memcmp(a + kc->key, b + kc->key, kc->salt));	/* salt */
	KT_ASSERT(!memcmp(a + kc->key + kc->salt, b + kc->key + kc->salt,
			  8));				/* rec_seq */
	KT_ASSERT_EQ(salt_len(kc->type), kc->salt);
}

static void run_ossl(const struct suite *su, int lib_server)
{
	struct ktls_session *s;
	struct peer p = { .ktls = 1 };
	int c, sv, pfd;
	/* TLS 1.2 GCM: OpenSSL seeds the explicit nonce randomly. */
	int cmp_iv = su->tls13 || su->cipher == TLS_CIPHER_CHACHA20_POLY1305;

	kt_tcp_pair(AF_INET, &c, &sv);
	pfd = lib_server ? c : sv;
	peer_start(&p, su, pfd, !lib_server, job_nop);
	s = our_handshake(lib_server ? sv : c, lib_server, KTLS_F_NO_INSTALL);
	peer_join(&p);
	if (!BIO_get_ktls_send(SSL_get_wbio(p.ssl)))
		KT_FAIL("OpenSSL did not install kTLS TX over ktls");
	compare_info(pfd, TLS_TX, s, 0, cmp_iv);
	if (su->tls13)
		return;
	if (!BIO_get_ktls_recv(SSL_get_rbio(p.ssl)))
		KT_FAIL("OpenSSL did not install TLS 1.2 kTLS RX over ktls");
	compare_info(pfd, TLS_RX, s, 1, cmp_iv);
}

/* ---- control records and errors ---- */

#define KU_BIG	(2 * 1024 * 1024)

/*
 * The plain OpenSSL peer updates its key in the middle of what it sends,
 * asking for ours too, then reads everything back (and our own update).
 */
static void job_keyupdate(struct peer *p)
{
	unsigned char *buf = malloc(KU_BIG);
	size_t half = KU_BIG / 2;

	kt_fill_pattern(buf, KU_BIG, 5);
	if (SSL_write(p->ssl, buf, half) != (int)half ||
	    SSL_key_update(p->ssl, SSL_KEY_UPDATE_REQUESTED) != 1 ||
	    SSL_write(p->ssl, buf + half, half) != (int)half) {
		snprintf(p->err, sizeof(p->err), "peer write/key update: %s",
			 ERR_reason_error_string(ERR_get_error()));
		free(buf);
		return;
	}
	memset(buf, 0, KU_BIG);
	peer_read_back(p, buf, KU_BIG);
}

/*
 * flags 0: the default, the kernel follows and answers the peer's update
 * and sends ours; KTLS_F_NO_KERNEL_REKEY: libktls does (EKEYEXPIRED,
 * TLS_RX/TLS_TX again).  The counters say which did.
 */
static void run_keyupdate(const struct suite *su, int lib_server,
			  unsigned int flags)
{
	unsigned char *want = malloc(KU_BIG), *got = malloc(KU_BIG);
	size_t half = KU_BIG / 2;
	struct peer p = { .tickets = 2 };
	struct ktls_session *s;
	int intree = !!getenv("KTLS_LIBKTLS_INTREE");
	int kernel = !(flags & KTLS_F_NO_KERNEL_REKEY) && !intree;
	long rx_auto = intree ? 0 : kt_stat("KtlsRxKeyUpdateAuto");
	long answered = intree ? 0 : kt_stat("KtlsKeyUpdateAnswered");
	long tx_auto = intree ? 0 : kt_stat("KtlsTxKeyUpdateAuto");
	int c, sv;

	kt_tcp_pair(AF_INET, &c, &sv);
	peer_start(&p, su, lib_server ? c : sv, !lib_server, job_keyupdate);
	s = our_handshake(lib_server ? sv : c, lib_server, flags);
	KT_ASSERT_EQ(ktls_session_kernel_rekey(s, 1), kernel);
	KT_ASSERT_EQ(ktls_session_kernel_rekey(s, 0), kernel);
	io_timeout(ktls_session_fd(s));
	kt_fill_pattern(want, KU_BIG, 5);
	/* The peer's KeyUpdate is taken (and answered) inside ktls_recv. */
	recv_all(s, got, KU_BIG);
	KT_ASSERT(!memcmp(got, want, KU_BIG));
	/* Back, with our own update (asking for the peer's) halfway. */
	kt_write_all(ktls_session_fd(s), got, half);
	if (ktls_key_update(s, 1))
		KT_FAIL("ktls_key_update: %s", ktls_errmsg(s));
	kt_write_all(ktls_session_fd(s), got + half, half);
	close_and_check(s, &p, want, KU_BIG);
	close(ktls_session_fd(s));
	ktls_session_free(s);
	if (!intree) {
		/* Theirs followed and answered, ours sent: by the kernel. */
		KT_ASSERT(kt_stat("KtlsRxKeyUpdateAuto") - rx_auto >= kernel);
		KT_ASSERT_EQ(kt_stat("KtlsKeyUpdateAnswered") - answered,
			     kernel);
		KT_ASSERT_EQ(kt_stat("KtlsTxKeyUpdateAuto") - tx_auto,
			     2 * kernel);
	}
	free(want);
	free(got);
}

/*
 * The OpenSSL client asks for 1024-byte records (RFC 6066) and rejects
 * longer ones: libktls caps our TX with TLS_TX_MAX_PAYLOAD_LEN.
 */
static void run_mfl(const struct suite *su)
{
	struct peer p = { .mfl = TLSEXT_max_fragment_length_1024 };
	struct ktls_session *s;
	uint16_t v = 0;
	socklen_t len = sizeof(v);
	int c, sv;

	kt_tcp_pair(AF_INET, &c, &sv);
	peer_start(&p, su, c, 0, job_echo);
	s = our_handshake(sv, 1, 0);
	KT_ASSERT_EQ(ktls_session_max_payload(s), 1024);
	KT_ASSERT_OK(getsockopt(ktls_session_fd(s), SOL_TLS,
				TLS_TX_MAX_PAYLOAD_LEN, &v, &len));
	KT_ASSERT_EQ(v, 1024);
	echo_exchange(s, &p);
	close(ktls_session_fd(s));
	ktls_session_free(s);
}

static void max_fragment_length_tls12(void)
{
	run_mfl(&suites[0]);
}

static void max_fragment_length_tls13(void)
{
	run_mfl(&suites[5]);
}

static void keyupdate_tls13_aes128gcm_lib_client(void)
{
	run_keyupdate(&suites[3], 0, 0);
}

static void keyupdate_tls13_aes256gcm_lib_server(void)
{
	run_keyupdate(&suites[4], 1, 0);
}

static void keyupdate_tls13_chacha20_lib_client(void)
{
	run_keyupdate(&suites[5], 0, 0);
}

/* The opt-out: libktls's own rekey, as on a kernel without the option. */
static void keyupdate_tls13_aes128gcm_no_kernel_rekey(void)
{
	run_keyupdate(&suites[3], 0, KTLS_F_NO_KERNEL_REKEY);
}

static void keyupdate_tls13_aes256gcm_no_kernel_rekey_server(void)
{
	run_keyupdate(&suites[4], 1, KTLS_F_NO_KERNEL_REKEY);
}

/*
 * The opt-in flag of API 0.1, still accepted: the kernel holds the
 * secrets, answers the peer's update_requested (its TX key steps), and
 * then our own update must go through the kernel too.  libktls 0.1 re-set
 * TLS_TX from its own copy of the secret, a generation behind the
 * kernel's by then: the peer could not open another record.
 */
static void keyupdate_tls13_kernel_rekey_flag(void)
{
	if (getenv("KTLS_LIBKTLS_INTREE"))
		KT_SKIP("in-tree tls.ko holds no secrets: KTLS_F_KERNEL_REKEY fails the handshake there");
	run_keyupdate(&suites[3], 0, KTLS_F_KERNEL_REKEY);
}

/* TLS 1.2 has no KeyUpdate: the call says so and changes nothing. */
static void keyupdate_tls12_refused(void)
{
	struct peer p = { .tickets = 0 };
	struct ktls_session *s;
	int c, sv;

	kt_tcp_pair(AF_INET, &c, &sv);
	peer_start(&p, &suites[0], sv, 1, NULL);
	s = our_handshake(c, 0, 0);
	KT_ASSERT_ERRNO(ktls_key_update(s, 0), EINVAL);
	KT_ASSERT(strstr(ktls_errmsg(s), "TLS 1.3"));
	peer_join(&p);
	ktls_close(s);
}

/* Both ends libktls: a fatal alert sent through TX is a clear RX error. */
struct lib_end {
	struct ktls_session *s;
	int fd, server;
	pthread_t thr;
};

static void *lib_end_main(void *arg)
{
	struct lib_end *e = arg;

	e->s = our_handshake(e->fd, e->server, 0);
	return NULL;
}

static void alert_is_an_error(void)
{
	struct lib_end srv = { .server = 1 };
	struct ktls_session *cl;
	char buf[64];
	int c;

	kt_tcp_pair(AF_INET, &c, &srv.fd);
	KT_ASSERT_EQ(pthread_create(&srv.thr, NULL, lib_end_main, &srv), 0);
	cl = our_handshake(c, 0, 0);
	pthread_join(srv.thr, NULL);
	kt_write_all(ktls_session_fd(srv.s), "data", 4);
	KT_ASSERT_OK(ktls_send_alert(srv.s, 2, 40));
	KT_ASSERT_EQ(ktls_recv(cl, buf, sizeof(buf)), 4);
	KT_ASSERT(!memcmp(buf, "data", 4));
	KT_ASSERT_ERRNO(ktls_recv(cl, buf, sizeof(buf)), ECONNRESET);
	kt_diag("%s", ktls_errmsg(cl));
	KT_ASSERT(strstr(ktls_errmsg(cl), "fatal") &&
		  strstr(ktls_errmsg(cl), "handshake"));
}

/* No such ULP: the message names the cause instead of falling back. */
static void missing_ulp_is_explained(void)
{
	struct ktls_session *s = ktls_session_new();
	struct ktls_opts o = { .ulp = "ktls-none", .timeout_ms = 20000 };
	struct peer p = { .tickets = 0 };
	char err[KTLS_ERR_LEN];
	SSL_CTX *ctx = ktls_ctx_new(0, NULL, NULL, err, sizeof(err));
	int c, sv;

	KT_ASSERT(ctx);
	kt_tcp_pair(AF_INET, &c, &sv);
	peer_start(&p, &suites[0], sv, 1, job_nop);
	KT_ASSERT_EQ(ktls_handshake(s, ctx, c, 0, &o), -1);
	kt_diag("%s", ktls_errmsg(s));
	KT_ASSERT(strstr(ktls_errmsg(s), "\"ktls-none\" is not registered"));
	peer_join(&p);
}

/* Garbage instead of a ServerHello: an error naming the handshake step. */
static void garbage_handshake_fails_cleanly(void)
{
	struct ktls_session *s = ktls_session_new();
	char err[KTLS_ERR_LEN];
	SSL_CTX *ctx = ktls_ctx_new(1, NULL, NULL, err, sizeof(err));
	int c, sv;

	KT_ASSERT(ctx);
	kt_tcp_pair(AF_INET, &c, &sv);
	kt_write_all(c, "GET / HTTP/1.0\r\n\r\n", 18);
	KT_ASSERT_EQ(ktls_handshake(s, ctx, sv, 1, NULL), -1);
	kt_diag("%s", ktls_errmsg(s));
	KT_ASSERT(strstr(ktls_errmsg(s), "TLS handshake (server) failed"));
}

/* An RSA certificate from PEM files: ECDHE-RSA suites, both versions. */
static void job_rsa(struct peer *p)
{
	char buf[8];

	if (SSL_write(p->ssl, "rsa", 3) != 3 || SSL_read(p->ssl, buf, 1) > 0)
		snprintf(p->err, sizeof(p->err), "peer I/O failed");
}

static void rsa_pem(const char *cert, const char *key)
{
	EVP_PKEY *pk = EVP_RSA_gen(2048);
	X509 *x = X509_new();
	FILE *f;

	KT_ASSERT(pk && x);
	KT_ASSERT(ASN1_INTEGER_set(X509_get_serialNumber(x), 1));
	KT_ASSERT(X509_gmtime_adj(X509_getm_notBefore(x), 0));
	KT_ASSERT(X509_gmtime_adj(X509_getm_notAfter(x), 3600));
	KT_ASSERT(X509_set_pubkey(x, pk));
	KT_ASSERT(X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN",
			MBSTRING_ASC, (const unsigned char *)"rsa", -1, -1, 0));
	KT_ASSERT(X509_set_issuer_name(x, X509_get_subject_name(x)));
	KT_ASSERT(X509_sign(x, pk, EVP_sha256()));
	f = fopen(cert, "w");
	KT_ASSERT(f && PEM_write_X509(f, x));
	fclose(f);
	f = fopen(key, "w");
	KT_ASSERT(f && PEM_write_PrivateKey(f, pk, NULL, NULL, 0, NULL, NULL));
	fclose(f);
	X509_free(x);
	EVP_PKEY_free(pk);
}

static void run_rsa(int tls13)
{
	static const struct suite rsa12 = {
		0, "ECDHE-RSA-AES256-GCM-SHA384", TLS_CIPHER_AES_GCM_256 };
	char cert[64], key[64], err[KTLS_ERR_LEN];
	struct ktls_opts o = { .flags = KTLS_F_NO_INSTALL };
	struct ktls_session *s = ktls_session_new();
	struct peer p = { 0 };
	struct tr_keys rx;
	uint8_t pt[TR_MAX_REC];
	SSL_CTX *ctx;
	int c, sv;

	snprintf(cert, sizeof(cert), "/tmp/libktls-rsa-%d.crt", getpid());
	snprintf(key, sizeof(key), "/tmp/libktls-rsa-%d.key", getpid());
	rsa_pem(cert, key);
	ctx = ktls_ctx_new(1, cert, key, err, sizeof(err));
	unlink(cert);
	unlink(key);
	if (!ctx)
		KT_FAIL("ktls_ctx_new with RSA PEM files: %s", err);
	kt_tcp_pair(AF_INET, &c, &sv);
	peer_start(&p, tls13 ? &suites[3] : &rsa12, c, 0, job_rsa);
	if (ktls_handshake(s, ctx, sv, 1, &o))
		KT_FAIL("ktls_handshake: %s", ktls_errmsg(s));
	KT_ASSERT(strstr(ktls_session_suite(s),
			 tls13 ? "TLS_AES_128_GCM" : "ECDHE-RSA"));
	lib_keys(s, 0, &rx);
	KT_ASSERT_EQ(open_app(sv, &rx, pt), 3);
	KT_ASSERT(!memcmp(pt, "rsa", 3));
	close(sv);
	peer_join(&p);
	SSL_CTX_free(ctx);
}

static void rsa_certificate_tls12(void)
{
	run_rsa(0);
}

static void rsa_certificate_tls13(void)
{
	run_rsa(1);
}

/*
 * --trace shows the handshake and how keys were derived but never a
 * secret; --keylog writes them in the NSS format.
 */
static void run_trace(const struct suite *su, const char *const *labels)
{
	struct ktls_opts o = { .flags = KTLS_F_NO_INSTALL };
	char err[KTLS_ERR_LEN], *tr = NULL, *kl = NULL, *line, *save;
	size_t trlen = 0, kllen = 0;
	struct ktls_session *s = ktls_session_new();
	struct peer p = { 0 };
	SSL_CTX *ctx;
	int c, sv, nlines = 0;
	const char *const *l;

	o.trace = open_memstream(&tr, &trlen);
	o.keylog = open_memstream(&kl, &kllen);
	KT_ASSERT(o.trace && o.keylog);
	ctx = ktls_ctx_new(1, NULL, NULL, err, sizeof(err));
	KT_ASSERT(ctx);
	kt_tcp_pair(AF_INET, &c, &sv);
	peer_start(&p, su, c, 0, job_nop);
	if (ktls_handshake(s, ctx, sv, 1, &o))
		KT_FAIL("ktls_handshake: %s", ktls_errmsg(s));
	peer_join(&p);
	fclose(o.trace);
	fclose(o.keylog);
	for (l = labels; *l; l++)
		if (!strstr(tr, *l))
			KT_FAIL("trace lacks \"%s\":\n%s", *l, tr);
	/* "LABEL <client random> <secret>": the secret is not in the trace. */
	for (line = strtok_r(kl, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *sec = strrchr(line, ' ');

		KT_ASSERT(sec && strlen(sec + 1) >= 64);
		KT_ASSERT(strlen(line) - strlen(sec) == strcspn(line, " ") + 65);
		if (strstr(tr, sec + 1))
			KT_FAIL("trace shows a secret: %s", line);
		nlines++;
	}
	KT_ASSERT(nlines >= (su->tls13 ? 5 : 1));
	free(tr);
	free(kl);
	SSL_CTX_free(ctx);
}

static void trace_and_keylog_tls12(void)
{
	static const char *const labels[] = {
		"ClientHello", "client random", "ServerHello",
		"server random", "certificate subject /CN=ktls-serve",
		"key exchange group", "TLS1-PRF(SHA256, master secret",
		"rec_seq TX 1 RX 1", NULL };

	run_trace(&suites[0], labels);
}

static void trace_and_keylog_tls13(void)
{
	static const char *const labels[] = {
		"ClientHello", "offered suites", "ServerHello",
		"TLS_CHACHA20_POLY1305_SHA256", "key exchange group",
		"HKDF-Expand-Label(SHA256", "rec_seq TX 2 RX 0",
		"after our Finished OpenSSL sent 2 record(s)", NULL };

	run_trace(&suites[5], labels);
}

/*
 * A libktls server sends OpenSSL's default two TLS 1.3 tickets; the records
 * carrying them count, so the reply sealed with our TX key (rec_seq 2)
 * opens at the client, which got both tickets (session resumption works).
 */
static void job_derive_tickets(struct peer *p)
{
	job_derive(p);
	if (!p->err[0] && tickets_seen != 2)
		snprintf(p->err, sizeof(p->err),
			 "the client peer saw %d tickets, want 2", tickets_seen);
}

static void tickets_tls13_lib_server(void)
{
	struct ktls_session *s;
	struct peer p = { .count_tickets = 1 };
	struct tr_keys rx, tx;
	uint8_t pt[TR_MAX_REC], rec[TR_MAX_REC];
	int c, sv;
	size_t n;

	kt_tcp_pair(AF_INET, &c, &sv);
	peer_start(&p, &suites[3], c, 0, job_derive_tickets);
	s = our_handshake(sv, 1, KTLS_F_NO_INSTALL);
	lib_keys(s, 0, &rx);
	lib_keys(s, 1, &tx);
	n = open_app(ktls_session_fd(s), &rx, pt);
	KT_ASSERT_EQ(n, sizeof(hello));
	n = tr_seal(&tx, 23, reply, sizeof(reply), rec);
	kt_write_all(ktls_session_fd(s), rec, n);
	peer_join(&p);
}

/* The application's keylog callback, set before or after libktls's. */
static int app_lines;

static void app_keylog(const SSL *ssl, const char *line)
{
	(void)ssl;
	if (strstr(line, "TRAFFIC_SECRET_0"))
		__atomic_add_fetch(&app_lines, 1, __ATOMIC_SEQ_CST);
}

static void run_keylog(int app_first)
{
	struct ktls_opts o = { .flags = KTLS_F_NO_INSTALL,
			       .timeout_ms = 20000 };
	struct ktls_session *s = ktls_session_new();
	struct peer p = { 0 };
	char err[KTLS_ERR_LEN];
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	SSL_CTX *tmp = ktls_ctx_new(1, NULL, NULL, err, sizeof(err));
	int c, sv;

	KT_ASSERT(ctx && tmp);
	/* The certificate from a libktls context, then a plain one. */
	KT_ASSERT(SSL_CTX_use_certificate(ctx, SSL_CTX_get0_certificate(tmp)));
	KT_ASSERT(SSL_CTX_use_PrivateKey(ctx, SSL_CTX_get0_privatekey(tmp)));
	app_lines = 0;
	if (app_first)
		SSL_CTX_set_keylog_callback(ctx, app_keylog);
	KT_ASSERT_OK(ktls_ctx_prepare(ctx, err, sizeof(err)));
	if (!app_first)
		SSL_CTX_set_keylog_callback(ctx, app_keylog);
	kt_tcp_pair(AF_INET, &c, &sv);
	peer_start(&p, &suites[3], c, 0, job_nop);
	if (ktls_handshake(s, ctx, sv, 1, &o))
		KT_FAIL("ktls_handshake: %s", ktls_errmsg(s));
	peer_join(&p);
	/* Ours ran (the TLS 1.3 keys were derived) and so did theirs. */
	KT_ASSERT_EQ(ktls_session_version(s), TLS_1_3_VERSION);
	if (app_lines != 2)
		KT_FAIL("the application's keylog callback saw %d traffic secrets, want 2",
			app_lines);
	SSL_CTX_free(ctx);
	SSL_CTX_free(tmp);
}

static void keylog_chained_app_first(void)
{
	run_keylog(1);
}

static void keylog_chained_app_after(void)
{
	run_keylog(0);
}

/* The caller's SO_RCVTIMEO/SO_SNDTIMEO survive ktls_handshake(). */
static void check_timeo(int fd, int opt, const struct timeval *want,
			const char *name)
{
	struct timeval got;
	socklen_t len = sizeof(got);

	KT_ASSERT_OK(getsockopt(fd, SOL_SOCKET, opt, &got, &len));
	if (got.tv_sec != want->tv_sec || got.tv_usec != want->tv_usec)
		KT_FAIL("%s is %ld.%06ld after the handshake, was %ld.%06ld",
			name, (long)got.tv_sec, (long)got.tv_usec,
			(long)want->tv_sec, (long)want->tv_usec);
}

static void socket_timeouts_untouched(void)
{
	struct timeval tv = { 7, 500000 }, rcv, snd;
	socklen_t len = sizeof(rcv);
	struct ktls_session *s;
	struct peer p = { 0 };
	int c, sv;

	kt_tcp_pair(AF_INET, &c, &sv);
	peer_start(&p, &suites[3], c, 0, job_nop);
	KT_ASSERT_OK(setsockopt(sv, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)));
	KT_ASSERT_OK(setsockopt(sv, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)));
	/* As the kernel rounds them to jiffies. */
	KT_ASSERT_OK(getsockopt(sv, SOL_SOCKET, SO_RCVTIMEO, &rcv, &len));
	KT_ASSERT_OK(getsockopt(sv, SOL_SOCKET, SO_SNDTIMEO, &snd, &len));
	KT_ASSERT(rcv.tv_sec == 7 && snd.tv_sec == 7);
	s = our_handshake(sv, 1, KTLS_F_NO_INSTALL);
	peer_join(&p);
	check_timeo(sv, SO_RCVTIMEO, &rcv, "SO_RCVTIMEO");
	check_timeo(sv, SO_SNDTIMEO, &snd, "SO_SNDTIMEO");
	ktls_session_free(s);
}

/*
 * timeout_ms bounds the whole handshake: a server that trickles a record
 * a byte every 100 ms (each read gets something) still times out.
 */
static void *trickle_main(void *arg)
{
	int fd = *(int *)arg, i;
	static const unsigned char hdr[5] = { 22, 3, 3, 0x40, 0 };
	char buf[4096];

	/* The ClientHello, then a ServerHello record that never ends. */
	if (read(fd, buf, sizeof(buf)) <= 0)
		return NULL;
	for (i = 0; i < 40; i++) {
		unsigned char b = i < 5 ? hdr[i] : 0;

		if (write(fd, &b, 1) != 1)
			break;
		usleep(100 * 1000);
	}
	return NULL;
}

static void deadline_is_total(void)
{
	struct ktls_opts o = { .timeout_ms = 1000 };
	struct ktls_session *s = ktls_session_new();
	char err[KTLS_ERR_LEN];
	SSL_CTX *ctx = ktls_ctx_new(0, NULL, NULL, err, sizeof(err));
	struct timespec t0, t1;
	pthread_t thr;
	int c, sv, ms;

	KT_ASSERT(ctx);
	kt_tcp_pair(AF_INET, &c, &sv);
	KT_ASSERT_EQ(pthread_create(&thr, NULL, trickle_main, &sv), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	KT_ASSERT_EQ(ktls_handshake(s, ctx, c, 0, &o), -1);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (int)((t1.tv_sec - t0.tv_sec) * 1000 +
		   (t1.tv_nsec - t0.tv_nsec) / 1000000);
	kt_diag("%s after %d ms", ktls_errmsg(s), ms);
	if (ms > 2500)
		KT_FAIL("the 1000 ms handshake deadline ended after %d ms: %s",
			ms, ktls_errmsg(s));
	KT_ASSERT(strstr(ktls_errmsg(s), "timed out"));
	pthread_join(thr, NULL);
	SSL_CTX_free(ctx);
}

#define MATRIX(kind, i, n, ...)						\
static void kind##_##n##_lib_client(void) { run_##kind(&suites[i], 0 __VA_ARGS__); } \
static void kind##_##n##_lib_server(void) { run_##kind(&suites[i], 1 __VA_ARGS__); }

#define ALL(kind, ...)							\
MATRIX(kind, 0, tls12_aes128gcm, __VA_ARGS__)				\
MATRIX(kind, 1, tls12_aes256gcm, __VA_ARGS__)				\
MATRIX(kind, 2, tls12_chacha20, __VA_ARGS__)				\
MATRIX(kind, 3, tls13_aes128gcm, __VA_ARGS__)				\
MATRIX(kind, 4, tls13_aes256gcm, __VA_ARGS__)				\
MATRIX(kind, 5, tls13_chacha20, __VA_ARGS__)

ALL(derive, , 2)
ALL(kernel, , 2)
ALL(ossl, )

#define CASES(kind)							\
	KT_CASE(kind##_tls12_aes128gcm_lib_client),			\
	KT_CASE(kind##_tls12_aes128gcm_lib_server),			\
	KT_CASE(kind##_tls12_aes256gcm_lib_client),			\
	KT_CASE(kind##_tls12_aes256gcm_lib_server),			\
	KT_CASE(kind##_tls12_chacha20_lib_client),			\
	KT_CASE(kind##_tls12_chacha20_lib_server),			\
	KT_CASE(kind##_tls13_aes128gcm_lib_client),			\
	KT_CASE(kind##_tls13_aes128gcm_lib_server),			\
	KT_CASE(kind##_tls13_aes256gcm_lib_client),			\
	KT_CASE(kind##_tls13_aes256gcm_lib_server),			\
	KT_CASE(kind##_tls13_chacha20_lib_client),			\
	KT_CASE(kind##_tls13_chacha20_lib_server)

/* The cases that need no kernel module. */
#define HOST_CASES							\
	CASES(derive),							\
	KT_CASE(rsa_certificate_tls12),					\
	KT_CASE(rsa_certificate_tls13),					\
	KT_CASE(trace_and_keylog_tls12),				\
	KT_CASE(trace_and_keylog_tls13),				\
	KT_CASE(garbage_handshake_fails_cleanly),			\
	KT_CASE(tickets_tls13_lib_server),				\
	KT_CASE(keylog_chained_app_first),				\
	KT_CASE(keylog_chained_app_after),				\
	KT_CASE(socket_timeouts_untouched),				\
	KT_CASE(deadline_is_total)

static const struct kt_case host_cases[] = {
	HOST_CASES,
};

static const struct kt_case all_cases[] = {
	HOST_CASES,
	CASES(kernel),
	CASES(ossl),
	KT_CASE(keyupdate_tls13_aes128gcm_lib_client),
	KT_CASE(keyupdate_tls13_aes256gcm_lib_server),
	KT_CASE(keyupdate_tls13_chacha20_lib_client),
	KT_CASE(keyupdate_tls13_aes128gcm_no_kernel_rekey),
	KT_CASE(keyupdate_tls13_aes256gcm_no_kernel_rekey_server),
	KT_CASE(keyupdate_tls13_kernel_rekey_flag),
	KT_CASE(keyupdate_tls12_refused),
	KT_CASE(max_fragment_length_tls12),
	KT_CASE(max_fragment_length_tls13),
	KT_CASE(alert_is_an_error),
	KT_CASE(missing_ulp_is_explained),
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* $KTLS_LIBKTLS_CASES: run only the cases whose name contains it. */
static int run_filtered(const char *suite, const struct kt_case *cases,
			size_t n)
{
	static struct kt_case sel[N(all_cases)];
	const char *f = getenv("KTLS_LIBKTLS_CASES");
	size_t i, k = 0;

	if (!f || !*f)
		return kt_run(suite, cases, n);
	for (i = 0; i < n; i++)
		if (strstr(cases[i].name, f))
			sel[k++] = cases[i];
	return kt_run(suite, sel, k);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* KTLS_LIBKTLS_HOST=1: only the cases that need no kernel module. */
	if (getenv("KTLS_LIBKTLS_HOST"))
		return run_filtered("libktls-host", host_cases,
				    N(host_cases));
	/*
	 * KTLS_LIBKTLS_INTREE=1 (debugging the test itself): the same cases
	 * over Debian's in-tree tls.ko instead of ktls.
	 */
	if (getenv("KTLS_LIBKTLS_INTREE")) {
		int rc = kt_intree_load();

		if (rc)
			KT_FAIL("cannot load the in-tree tls.ko: %s",
				strerror(-rc));
	} else {
		kt_need_ktls();
	}
	return run_filtered("libktls", all_cases, N(all_cases));
}
