// SPDX-License-Identifier: GPL-2.0
/*
 * In-kernel TLS 1.3 KeyUpdate against unmodified OpenSSL: our end does
 * the handshake with OpenSSL, hands the kernel the keys and the traffic
 * secrets (from the key log), and from then on only read()s and write()s.
 * The peer, plain OpenSSL in a thread, calls SSL_key_update() with
 * update_requested and update_not_requested every N records in both
 * directions of a large transfer.  Both ends check every byte; our end
 * sees no error and no KeyUpdate; the counters match the updates.
 * $KTLS_KU_MIB sets the transfer size per direction (default 256 MiB for
 * the write/sendfile/libktls cases, 32 for the others, less by
 * $KTLS_TIME_SCALE on slow kernels).  The libktls case does the
 * handshake with libktls's defaults, which hand the kernel the secrets.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <ktls.h>

#include "harness.h"
#include "lib_keychain.h"
#include "util.h"

#define REC	16384
#define EVERY	32		/* records between the peer's updates */

struct suite {
	const char *name;
	uint16_t cipher;
};

/* Our end's traffic secrets, from its SSL_CTX's key log. */
static unsigned char secret_c[48], secret_s[48];
static size_t secret_len;

/*
 * The acceptance: 256 MiB each way (FULL_MIB) for the write(),
 * sendfile() and libktls cases, measured at ~67 s a case under TCG; the
 * cipher variants and the TX-limit case repeat those paths at 32 MiB.
 */
#define FULL_MIB	256
#define SHORT_MIB	32

static size_t total_bytes(long full)
{
	const char *s = getenv("KTLS_KU_MIB");
	/* Slow (debug) kernels get less: the updates are what counts. */
	long dflt = full / kt_time_scale() < 4 ? 4 : full / kt_time_scale();
	long mib = s ? strtol(s, NULL, 10) : dflt;

	if (mib < 1 || mib > 4096)
		mib = dflt;
	return (size_t)mib << 20;
}

static int unhex(const char *h, unsigned char *out, size_t max)
{
	size_t n = 0;
	unsigned int b;

	while (h[0] && h[1] && n < max && sscanf(h, "%2x", &b) == 1) {
		out[n++] = b;
		h += 2;
	}
	return n;
}

static void keylog(const SSL *ssl, const char *line)
{
	const char *hex = strrchr(line, ' ');

	(void)ssl;
	if (!hex)
		return;
	if (!strncmp(line, "CLIENT_TRAFFIC_SECRET_0 ", 24))
		secret_len = unhex(hex + 1, secret_c, sizeof(secret_c));
	else if (!strncmp(line, "SERVER_TRAFFIC_SECRET_0 ", 24))
		secret_len = unhex(hex + 1, secret_s, sizeof(secret_s));
}

/* A throwaway self-signed P-256 certificate. */
static void self_sign(SSL_CTX *ctx)
{
	EVP_PKEY *pk = EVP_EC_gen("P-256");
	X509 *x = X509_new();

	KT_ASSERT(pk && x);
	KT_ASSERT(ASN1_INTEGER_set(X509_get_serialNumber(x), 1));
	KT_ASSERT(X509_gmtime_adj(X509_getm_notBefore(x), 0));
	KT_ASSERT(X509_gmtime_adj(X509_getm_notAfter(x), 3600));
	KT_ASSERT(X509_set_pubkey(x, pk));
	KT_ASSERT(X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN",
					     MBSTRING_ASC,
					     (const unsigned char *)"ktls",
					     -1, -1, 0));
	KT_ASSERT(X509_set_issuer_name(x, X509_get_subject_name(x)));
	KT_ASSERT(X509_sign(x, pk, EVP_sha256()));
	KT_ASSERT(SSL_CTX_use_certificate(ctx, x) == 1);
	KT_ASSERT(SSL_CTX_use_PrivateKey(ctx, pk) == 1);
	X509_free(x);
	EVP_PKEY_free(pk);
}

static SSL_CTX *tls13_ctx(const struct suite *su, int server)
{
	SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() :
					    TLS_client_method());

	KT_ASSERT(ctx);
	KT_ASSERT(SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION));
	KT_ASSERT(SSL_CTX_set_ciphersuites(ctx, su->name));
	/* Nothing may follow Finished before the keys are in the kernel. */
	SSL_CTX_set_num_tickets(ctx, 0);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	if (server)
		self_sign(ctx);
	return ctx;
}

struct peer {
	const struct suite *su;
	int fd;
	size_t total;
	uint8_t *up, *down;	/* the patterns each way */
	SSL_CTX *ctx;
	SSL *ssl;
	pthread_t thr;
	unsigned int kus, requested;
	int tx_rekey;		/* only read: our end rekeys by itself */
	char err[256];
};

static int peer_fail(struct peer *p, const char *what, int rc)
{
	snprintf(p->err, sizeof(p->err), "peer %s: SSL error %d, %s", what,
		 SSL_get_error(p->ssl, rc),
		 ERR_reason_error_string(ERR_get_error()));
	return -1;
}

/* The peer's update: requested on every other one. */
static int peer_update(struct peer *p)
{
	int req = p->kus % 2 ? SSL_KEY_UPDATE_REQUESTED :
			       SSL_KEY_UPDATE_NOT_REQUESTED;

	if (SSL_key_update(p->ssl, req) != 1)
		return peer_fail(p, "SSL_key_update", 0);
	p->kus++;
	p->requested += req == SSL_KEY_UPDATE_REQUESTED;
	return 0;
}

static int peer_send_up(struct peer *p)
{
	size_t off;
	int rc;

	for (off = 0; off < p->total; off += REC) {
		rc = SSL_write(p->ssl, p->up + off, REC);
		if (rc != REC)
			return peer_fail(p, "SSL_write", rc);
		if ((off / REC + 1) % EVERY == 0 && peer_update(p))
			return -1;
	}
	return 0;
}

static int peer_read_down(struct peer *p)
{
	static uint8_t buf[REC];
	size_t got = 0, mark = EVERY * REC;
	int rc;

	while (got < p->total) {
		rc = SSL_read(p->ssl, buf, sizeof(buf));
		if (rc <= 0)
			return peer_fail(p, "SSL_read", rc);
		if (memcmp(buf, p->down + got, rc)) {
			snprintf(p->err, sizeof(p->err),
				 "peer: data differs within %d bytes at %zu",
				 rc, got);
			return -1;
		}
		got += rc;
		if (p->tx_rekey || got < mark)
			continue;
		mark += EVERY * REC;
		/* Sent by the handshake call: our end is not reading. */
		if (peer_update(p))
			return -1;
		rc = SSL_do_handshake(p->ssl);
		if (rc != 1)
			return peer_fail(p, "SSL_do_handshake", rc);
	}
	return 0;
}

static void *peer_main(void *arg)
{
	struct peer *p = arg;
	int rc;

	p->ssl = SSL_new(p->ctx);
	SSL_set_fd(p->ssl, p->fd);
	rc = SSL_connect(p->ssl);
	if (rc != 1) {
		peer_fail(p, "handshake", rc);
		return NULL;
	}
	if (!p->tx_rekey && peer_send_up(p))
		return NULL;
	if (peer_read_down(p))
		return NULL;
	rc = SSL_write(p->ssl, "bye", 3);
	if (rc != 3)
		peer_fail(p, "SSL_write of bye", rc);
	return NULL;
}

/* Our end: keys and secrets into the kernel after the handshake. */
static void our_install(int fd, const struct suite *su)
{
	struct ktls_traffic_secret ts;
	struct kc_gen tx, rx;

	KT_ASSERT(secret_len == 32 || secret_len == 48);
	kc_init_secret(&tx, su->cipher, secret_s, secret_len);
	kc_init_secret(&rx, su->cipher, secret_c, secret_len);
	if (kt_attach(fd))
		KT_FAIL("TCP_ULP %s: %s", kt_ulp(), strerror(errno));
	KT_ASSERT_OK(setsockopt(fd, SOL_TLS, TLS_TX, &tx.ci, tx.ci_len));
	KT_ASSERT_OK(setsockopt(fd, SOL_TLS, TLS_RX, &rx.ci, rx.ci_len));
	kc_secret_opt(&tx, &ts);
	KT_ASSERT_OK(setsockopt(fd, SOL_TLS, KTLS_TX_SECRET, &ts, sizeof(ts)));
	kc_secret_opt(&rx, &ts);
	KT_ASSERT_OK(setsockopt(fd, SOL_TLS, KTLS_RX_SECRET, &ts, sizeof(ts)));
	OPENSSL_cleanse(&ts, sizeof(ts));
	OPENSSL_cleanse(secret_c, sizeof(secret_c));
	OPENSSL_cleanse(secret_s, sizeof(secret_s));
}

static void read_exact(int fd, const uint8_t *want, size_t len)
{
	static uint8_t buf[4 * REC];
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		size_t ask = len - got < sizeof(buf) ? len - got : sizeof(buf);

		n = read(fd, buf, ask);
		if (n <= 0)
			KT_FAIL("read after %zu of %zu bytes: %zd %s", got, len,
				n, strerror(errno));
		if (memcmp(buf, want + got, n))
			KT_FAIL("data differs within %zd bytes at %zu", n, got);
		got += n;
	}
}

/* The server busy in sendfile(): it never reads while it sends. */
static void send_file(int fd, const uint8_t *buf, size_t len)
{
	char path[] = "/tmp/kupdate.XXXXXX";
	int f = mkstemp(path);
	off_t off = 0;
	ssize_t n;

	KT_ASSERT(f >= 0);
	unlink(path);
	kt_write_all(f, buf, len);
	while ((size_t)off < len) {
		n = sendfile(fd, f, &off, len - off);
		if (n <= 0)
			KT_FAIL("sendfile at %lld of %zu: %s", (long long)off,
				len, strerror(errno));
	}
	close(f);
}

/*
 * tx_rekey: the peer only reads and our kernel updates its TX keys every
 * tx_rekey records by itself; else the peer updates both ways.
 */
enum { MODE_OSSL, MODE_LIB, MODE_SENDFILE };

static void run(const struct suite *su, uint32_t tx_rekey, int mode,
		long mib)
{
	struct ktls_opts opts = { 0 };	/* the default: kernel rekey */
	struct ktls_session *ks = NULL;
	char err[KTLS_ERR_LEN];
	struct timeval tv = { 60, 0 };
	struct peer p = { 0 };
	struct ktls_key_gen gen;
	socklen_t glen = sizeof(gen);
	SSL_CTX *sctx;
	SSL *ssl;
	int a, b, i;

	kt_need_ktls();
	kt_new_netns();
	kt_tcp_pair(AF_INET, &a, &b);
	setsockopt(a, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(b, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	p.su = su;
	p.fd = a;
	p.total = total_bytes(mib);
	p.tx_rekey = tx_rekey;
	p.up = malloc(p.total);
	p.down = malloc(p.total);
	KT_ASSERT(p.up && p.down);
	kt_fill_pattern(p.up, p.total, 1);
	kt_fill_pattern(p.down, p.total, 2);
	p.ctx = tls13_ctx(su, 0);
	sctx = tls13_ctx(su, 1);
	SSL_CTX_set_keylog_callback(sctx, keylog);
	KT_ASSERT_EQ(pthread_create(&p.thr, NULL, peer_main, &p), 0);

	if (mode == MODE_LIB) {
		SSL_CTX_free(sctx);
		sctx = ktls_ctx_new(1, NULL, NULL, err, sizeof(err));
		if (!sctx)
			KT_FAIL("ktls_ctx_new: %s", err);
		ks = ktls_session_new();
		KT_ASSERT(ks);
		if (ktls_handshake(ks, sctx, b, 1, &opts))
			KT_FAIL("ktls_handshake: %s", ktls_errmsg(ks));
		KT_ASSERT_EQ(ktls_session_version(ks), TLS_1_3_VERSION);
		KT_ASSERT_EQ(ktls_session_cipher(ks), su->cipher);
		KT_ASSERT(ktls_session_kernel_rekey(ks, 1) &&
			  ktls_session_kernel_rekey(ks, 0));
	} else {
		ssl = SSL_new(sctx);
		SSL_set_fd(ssl, b);
		if (SSL_accept(ssl) != 1)
			KT_FAIL("our handshake: %s",
				ERR_reason_error_string(ERR_get_error()));
		our_install(b, su);
		/* OpenSSL is done with the socket; it says nothing on free. */
		SSL_free(ssl);
	}
	if (tx_rekey)
		KT_ASSERT_OK(setsockopt(b, SOL_TLS, KTLS_TX_REKEY_RECORDS,
					&tx_rekey, sizeof(tx_rekey)));

	if (!tx_rekey)
		read_exact(b, p.up, p.total);
	if (mode == MODE_SENDFILE)
		send_file(b, p.down, p.total);
	else
		kt_write_all(b, p.down, p.total);
	read_exact(b, (const uint8_t *)"bye", 3);
	pthread_join(p.thr, NULL);
	if (p.err[0])
		KT_FAIL("%s", p.err);

	/* An answer to the last request may still be on its way out. */
	for (i = 0; i < 200; i++) {
		KT_ASSERT_OK(getsockopt(b, SOL_TLS, KTLS_KEY_GEN, &gen,
					&glen));
		if (tx_rekey || gen.tx >= p.requested)
			break;
		usleep(10 * 1000);
	}
	kt_diag("%s: %zu MiB each way, peer updates %u (%u requested), "
		"key generations tx %u rx %u", su->name, p.total >> 20, p.kus,
		p.requested, gen.tx, gen.rx);
	if (tx_rekey) {
		KT_ASSERT_EQ(gen.tx, p.total / REC / tx_rekey);
		KT_ASSERT_EQ(kt_stat("KtlsTxKeyUpdateAuto"), gen.tx);
		KT_ASSERT_EQ(gen.rx, 0);
	} else {
		KT_ASSERT(p.kus >= 2 * (p.total / REC / EVERY) - 1);
		KT_ASSERT_EQ(gen.rx, p.kus);
		KT_ASSERT_EQ(gen.tx, p.requested);
		KT_ASSERT_EQ(kt_stat("KtlsRxKeyUpdateAuto"), p.kus);
		KT_ASSERT_EQ(kt_stat("TlsRxRekeyReceived"), p.kus);
		KT_ASSERT_EQ(kt_stat("KtlsKeyUpdateAnswered"), p.requested);
		KT_ASSERT_EQ(kt_stat("KtlsTxKeyUpdateAuto"), p.requested);
	}
	KT_ASSERT_EQ(kt_stat("KtlsKeyUpdateFail"), 0);
	KT_ASSERT_EQ(kt_stat("TlsDecryptError"), 0);
	close(b);
	close(a);
	ktls_session_free(ks);
	SSL_CTX_free(sctx);
	SSL_CTX_free(p.ctx);
}

static const struct suite gcm128 = { "TLS_AES_128_GCM_SHA256",
				     TLS_CIPHER_AES_GCM_128 };
static const struct suite gcm256 = { "TLS_AES_256_GCM_SHA384",
				     TLS_CIPHER_AES_GCM_256 };
static const struct suite chacha = { "TLS_CHACHA20_POLY1305_SHA256",
				     TLS_CIPHER_CHACHA20_POLY1305 };

static void test_peer_updates_gcm128(void)
{
	run(&gcm128, 0, MODE_OSSL, FULL_MIB);
}

/* libktls hands the secrets over by default; the program reads, writes. */
static void test_libktls_kernel_rekey(void)
{
	run(&gcm128, 0, MODE_LIB, FULL_MIB);
}

/* The downloads of the issue: our end sends with sendfile() only. */
static void test_peer_updates_sendfile(void)
{
	run(&gcm128, 0, MODE_SENDFILE, FULL_MIB);
}

static void test_peer_updates_gcm256(void)
{
	run(&gcm256, 0, MODE_OSSL, SHORT_MIB);
}

static void test_peer_updates_chacha(void)
{
	run(&chacha, 0, MODE_OSSL, SHORT_MIB);
}

/* Our kernel rekeys every 16 records; OpenSSL reads it all. */
static void test_tx_rekey_openssl_reads(void)
{
	run(&gcm128, 16, MODE_OSSL, SHORT_MIB);
}

KT_MAIN("ktls_kupdate_ossl",
	KT_CASE_T(test_peer_updates_gcm128, 600),
	KT_CASE_T(test_peer_updates_gcm256, 600),
	KT_CASE_T(test_peer_updates_chacha, 600),
	KT_CASE_T(test_tx_rekey_openssl_reads, 600),
	KT_CASE_T(test_libktls_kernel_rekey, 600),
	KT_CASE_T(test_peer_updates_sendfile, 600),
)
