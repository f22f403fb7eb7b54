// SPDX-License-Identifier: MIT
/*
 * The handshake is libktls's, stepped by the event loop on the
 * non-blocking socket (ktls_handshake_start/step): it counts the records
 * OpenSSL sent after Finished (TLS 1.3 tickets) into the sequence numbers
 * and installs the keys.
 *
 * When the kernel refuses (ULP absent, cipher not offered) and
 * --require-ktls is not set, the connection stays in OpenSSL
 * (KTLS_F_FALLBACK): the reason is logged once per cause and counted.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <stdatomic.h>
#include <ktls.h>
#include <ktls/ktls_ext.h>
#include "config.h"
#include "conn.h"
#include "log.h"
#include "loop.h"
#include "tls.h"

#define UBUF_SIZE	16384

/* ALPN: we speak http/1.1 only; a client offering just h2 gets no ALPN
 * answer (not a failure) and may fall back. */
static int alpn_select(SSL *ssl, const unsigned char **out,
		       unsigned char *outlen, const unsigned char *in,
		       unsigned int inlen, void *arg)
{
	static const unsigned char ours[] = "\x08http/1.1";
	unsigned char *o;

	(void)ssl;
	(void)arg;
	if (SSL_select_next_proto(&o, outlen, ours, sizeof(ours) - 1, in,
				  inlen) != OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_NOACK;
	*out = o;
	return SSL_TLSEXT_ERR_OK;
}

/* SNI: the first further certificate whose names match; else the default
 * (the first --cert) answers. */
static int sni_select(SSL *ssl, int *alert, void *arg)
{
	const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	int i;

	(void)alert;
	(void)arg;
	if (!name)
		return SSL_TLSEXT_ERR_OK;
	for (i = 0; i < n_sni_ctx; i++) {
		X509 *x = SSL_CTX_get0_certificate(sni_ctx[i]);

		if (x && X509_check_host(x, name, 0, 0, NULL) == 1) {
			SSL_set_SSL_CTX(ssl, sni_ctx[i]);
			break;
		}
	}
	return SSL_TLSEXT_ERR_OK;
}

int tls_ctx_setup(SSL_CTX *ctx)
{
	/* Userspace fallback writes from a buffer that moves. */
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
			 SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
	SSL_CTX_set_tlsext_servername_callback(ctx, sni_select);
	/* Suites the kernel does not offer still work, in userspace. */
	if (cfg.min_tls && !SSL_CTX_set_min_proto_version(ctx,
			strcmp(cfg.min_tls, "1.3") ? TLS1_2_VERSION : TLS1_3_VERSION))
		return -1;
	if (cfg.ciphers && !SSL_CTX_set_cipher_list(ctx, cfg.ciphers)) {
		fprintf(stderr, "ktls-serve: --ciphers %s: no usable cipher\n", cfg.ciphers);
		return -1;
	}
	if (cfg.ciphersuites && !SSL_CTX_set_ciphersuites(ctx, cfg.ciphersuites)) {
		fprintf(stderr, "ktls-serve: --ciphersuites %s: not understood\n",
			cfg.ciphersuites);
		return -1;
	}
	return 0;
}

int tls_start(struct conn *c)
{
	c->opts = (struct ktls_opts){
		.ulp = cfg.ulp,
		.trace = cfg.trace ? stdout : NULL,
		.tag = c->tag,
		.keylog = serve_keylog,
		/* Served in userspace OpenSSL when the kernel path is not
		 * there, unless --require-ktls.
		 */
		.flags = cfg.require_ktls ? 0 : KTLS_F_FALLBACK,
	};
	c->ssl = NULL;
	c->s = ktls_session_new();
	if (!c->s)
		return -1;
	/* libktls steps the handshake and counts the records (tickets). */
	if (ktls_handshake_start(c->s, serve_ctx, c->fd, 1, &c->opts)) {
		ktls_session_free(c->s);
		c->s = NULL;
		return -1;
	}
	return 0;
}

/* An install failure the kernel side caused, not the peer. */
static int kernel_refused(const struct ktls_session *s)
{
	int e = ktls_error(s);

	return e == KTLS_E_NO_ULP || e == KTLS_E_ULP_TAKEN ||
	       e == KTLS_E_CIPHER;
}

int tls_handshake_step(struct conn *c)
{
	const char *why;
	int rc = ktls_handshake_step(c->s);

	if (rc == KTLS_STEP_WANT_READ)
		return TLS_WANT_READ;
	if (rc == KTLS_STEP_WANT_WRITE)
		return TLS_WANT_WRITE;
	if (rc != KTLS_STEP_DONE) {
		if (cfg.require_ktls && kernel_refused(c->s))
			log_cause("refused (--require-ktls)", ktls_errmsg(c->s));
		return TLS_FAILED;
	}
	why = ktls_fallback_reason(c->s);
	if (why) {
		log_cause("fallback to userspace TLS", why);
		/* Still the session's: tls_free() frees it with it. */
		c->ssl = ktls_session_ssl(c->s);
		c->kernel = 0;
		c->ubuf = malloc(UBUF_SIZE);
		atomic_fetch_add(&n_userspace, 1);
		return c->ubuf ? TLS_DONE : TLS_FAILED;
	}
	c->kernel = 1;
	atomic_fetch_add(&n_kernel, 1);
	tls_kernel_rekey_limit(c);
	return TLS_DONE;
}

/*
 * --rekey-bytes with the TX secret in the kernel: its record limit
 * (KTLS_TX_REKEY_RECORDS), bytes over the record payload rounded up, so
 * the kernel steps TX by itself, with no call from the send loop.
 */
void tls_kernel_rekey_limit(struct conn *c)
{
	uint16_t payload = 0;
	socklen_t len = sizeof(payload);
	long long records;
	uint32_t v;

	if (cfg.rekey_bytes <= 0 || !ktls_session_kernel_rekey(c->s, 1))
		return;
	/* Our module answers it; a negotiated max_fragment_length lowers it. */
	if (getsockopt(c->fd, SOL_TLS, TLS_TX_MAX_PAYLOAD_LEN, &payload, &len) ||
	    !payload)
		payload = 16384;
	records = (cfg.rekey_bytes + payload - 1) / payload;
	/* KTLS_REKEY_RFC_LIMIT (all ones) means the RFC's limit: stay below. */
	v = records >= KTLS_REKEY_RFC_RECORDS ? KTLS_REKEY_RFC_RECORDS :
						(uint32_t)records;
	if (setsockopt(c->fd, SOL_TLS, KTLS_TX_REKEY_RECORDS, &v, sizeof(v))) {
		if (cfg.trace)
			log_msg("[%s] KTLS_TX_REKEY_RECORDS %u: %s; KeyUpdate from the send loop",
				c->tag, v, strerror(errno));
		return;
	}
	c->kernel_rekey = 1;
	if (cfg.trace)
		log_msg("[%s] kernel: KeyUpdate after every %u records of up to %u bytes",
			c->tag, v, payload);
}

/* OpenSSL's result as recv()/send() would give it. */
static ssize_t ssl_result(struct conn *c, int ok, size_t n)
{
	int e;

	if (ok)
		return (ssize_t)n;
	e = SSL_get_error(c->ssl, 0);
	c->want_write = e == SSL_ERROR_WANT_WRITE;
	switch (e) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_SYSCALL:
		if (!ERR_peek_error() && !errno)
			return 0;	/* EOF without close_notify */
		if (!errno)
			errno = EPROTO;
		return -1;
	}
	errno = EPROTO;
	return -1;
}

ssize_t tls_read(struct conn *c, void *buf, size_t len)
{
	size_t n = 0;
	int ok;

	if (c->kernel)
		return ktls_recv(c->s, buf, len);
	ERR_clear_error();
	errno = 0;
	ok = SSL_read_ex(c->ssl, buf, len, &n);
	return ssl_result(c, ok, n);
}

ssize_t tls_write(struct conn *c, const void *buf, size_t len)
{
	size_t n = 0;
	int ok;

	if (c->kernel)
		return send(c->fd, buf, len, MSG_NOSIGNAL);
	ERR_clear_error();
	errno = 0;
	ok = SSL_write_ex(c->ssl, buf, len, &n);
	return ssl_result(c, ok, n);
}

ssize_t tls_send_file(struct conn *c, size_t max)
{
	ssize_t n;

	if (c->kernel) {
		/* Records are encrypted in the kernel, straight from the
		 * page cache. */
		n = sendfile(c->fd, c->file_fd, &c->file_off, max);
		return n;
	}
	if (c->uoff == c->ulen) {
		size_t want = max < UBUF_SIZE ? max : UBUF_SIZE;

		n = pread(c->file_fd, c->ubuf, want, c->file_off);
		if (n <= 0)
			return n;
		c->ulen = (size_t)n;
		c->uoff = 0;
	}
	n = tls_write(c, c->ubuf + c->uoff, c->ulen - c->uoff);
	if (n > 0) {
		c->uoff += (size_t)n;
		c->file_off += n;
	}
	return n;
}

int tls_close_notify(struct conn *c)
{
	int rc;

	if (c->kernel) {
		if (!ktls_session_kernel(c->s, 1) ||
		    !ktls_send_alert(c->s, 1, 0))
			return 0;
		return errno == EAGAIN ? 1 : -1;
	}
	if (!c->ssl || !SSL_is_init_finished(c->ssl))
		return 0;
	ERR_clear_error();
	rc = SSL_shutdown(c->ssl);
	if (rc >= 0)
		return 0;
	return SSL_get_error(c->ssl, rc) == SSL_ERROR_WANT_WRITE ? 1 : -1;
}

void tls_free(struct conn *c)
{
	/* A handshake in progress is aborted; the SSL of a userspace
	 * connection goes with the session. */
	ktls_session_free(c->s);
	c->s = NULL;
	c->ssl = NULL;
	free(c->ubuf);
	c->ubuf = NULL;
}
