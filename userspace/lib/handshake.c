// SPDX-License-Identifier: MIT
/*
 * The handshake in OpenSSL, one step at a time (ktls_handshake_step), then
 * derivation and install; ktls_handshake() loops over the steps with poll.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "internal.h"

/*
 * Record accounting.  A direction's Finished is the last handshake record
 * under the handshake keys (TLS 1.3) or the first under the new keys (TLS
 * 1.2, record 0 after ChangeCipherSpec).  Every record header OpenSSL
 * writes or reads after the one carrying that Finished (tickets, say) used
 * the keys the kernel takes over, so their count sets rec_seq.
 */
struct ktls_hs_state {
	SSL *ssl;
	int64_t deadline;	/* CLOCK_MONOTONIC ms; 0: none */
	int fin[2];		/* [write_p]: Finished passed */
	uint64_t after[2];	/* records after it */
	int alert;		/* fatal alert received (description + 1) */
};

static int kl_index = -1, kl_ctx_index = -1;
static pthread_once_t kl_index_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t kl_keylog_lock = PTHREAD_MUTEX_INITIALIZER;

static void kl_index_init(void)
{
	kl_index = SSL_get_ex_new_index(0, "ktls_session", NULL, NULL, NULL);
	kl_ctx_index = SSL_CTX_get_ex_new_index(0, "ktls app keylog", NULL,
						NULL, NULL);
}

int kl_ssl_index(void)
{
	pthread_once(&kl_index_once, kl_index_init);
	return kl_index;
}

static int64_t kl_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The application's own keylog callback, kept when ours goes in. */
struct kl_app_keylog {
	SSL_CTX_keylog_cb_func cb;
};

/*
 * Ours on the SSL_CTX, chaining whatever the application had set there
 * (before ktls_ctx_prepare or after it: checked again at each handshake).
 */
int kl_keylog_chain(SSL_CTX *ctx)
{
	SSL_CTX_keylog_cb_func cur;
	struct kl_app_keylog *app;
	int rc = 0;

	kl_ssl_index();
	pthread_mutex_lock(&kl_keylog_lock);
	cur = SSL_CTX_get_keylog_callback(ctx);
	if (cur != kl_keylog_cb) {
		app = SSL_CTX_get_ex_data(ctx, kl_ctx_index);
		if (!app) {
			app = calloc(1, sizeof(*app));
			if (!app || !SSL_CTX_set_ex_data(ctx, kl_ctx_index,
							 app)) {
				free(app);
				rc = -1;
				goto out;
			}
		}
		/* Leaked with the SSL_CTX: a few bytes per context. */
		app->cb = cur;
		SSL_CTX_set_keylog_callback(ctx, kl_keylog_cb);
	}
out:
	pthread_mutex_unlock(&kl_keylog_lock);
	return rc;
}

/* Not sscanf: ~400 instructions a byte, 26,000 a handshake (bench-serve-profile). */
static int kl_unhex(unsigned char *out, size_t max, const char *hex)
{
	size_t n = 0;

	while (hex[0] && hex[1] && n < max) {
		int hi = OPENSSL_hexchar2int((unsigned char)hex[0]);
		int lo = OPENSSL_hexchar2int((unsigned char)hex[1]);

		if (hi < 0 || lo < 0)
			return -1;
		out[n++] = (unsigned char)(hi << 4 | lo);
		hex += 2;
	}
	return *hex ? -1 : (int)n;
}

void kl_keylog_cb(const SSL *ssl, const char *line)
{
	struct ktls_session *s = SSL_get_ex_data(ssl, kl_ssl_index());
	struct kl_app_keylog *app;
	const char *sp;
	unsigned char *dst = NULL;
	int n;

	app = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), kl_ctx_index);
	if (app && app->cb)
		app->cb(ssl, line);
	if (!s)
		return;
	if (s->opts && s->opts->keylog) {
		fprintf(s->opts->keylog, "%s\n", line);
		fflush(s->opts->keylog);
	}
	if (!strncmp(line, "CLIENT_TRAFFIC_SECRET_0 ", 24))
		dst = s->secret_c;
	else if (!strncmp(line, "SERVER_TRAFFIC_SECRET_0 ", 24))
		dst = s->secret_s;
	if (!dst)
		return;
	/* "LABEL <client_random hex> <secret hex>" */
	sp = strchr(line + 24, ' ');
	if (!sp)
		return;
	n = kl_unhex(dst, sizeof(s->secret_c), sp + 1);
	if (n > 0)
		s->secret_len = (size_t)n;
	kl_trace(s, "secret: %s seen (%d bytes)",
		 dst == s->secret_c ? "CLIENT_TRAFFIC_SECRET_0" :
		 "SERVER_TRAFFIC_SECRET_0", n);
}

/* Every record and message of the handshake passes here. */
static void kl_msg_cb(int write_p, int version, int content_type,
		      const void *buf, size_t len, SSL *ssl, void *arg)
{
	struct ktls_session *s = arg;
	struct ktls_hs_state *h = s->hstate;
	const unsigned char *p = buf;
	int w = !!write_p;

	if (h && content_type == SSL3_RT_HEADER && len >= 5) {
		if (h->fin[w])
			h->after[w]++;
		return;
	}
	if (h && content_type == SSL3_RT_HANDSHAKE && len >= 4 && p[0] == 20)
		h->fin[w] = 1;
	if (h && !w && content_type == SSL3_RT_ALERT && len >= 2 && p[0] == 2)
		h->alert = p[1] + 1;
	if (s->opts && s->opts->trace)
		kl_trace_msg(write_p, version, content_type, buf, len, ssl, arg);
}

/* SNI and the name the certificate must carry (RFC 6066: no SNI for IPs). */
static int kl_set_server_name(SSL *ssl, const char *name)
{
	unsigned char addr[16];

	if (inet_pton(AF_INET, name, addr) == 1 ||
	    inet_pton(AF_INET6, name, addr) == 1)
		return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl),
						     name) == 1 ? 0 : -1;
	if (SSL_set_tlsext_host_name(ssl, name) != 1 ||
	    SSL_set1_host(ssl, name) != 1)
		return -1;
	return 0;
}

static void kl_drop(struct ktls_session *s)
{
	if (s->hstate) {
		SSL_free(s->hstate->ssl);
		free(s->hstate);
		s->hstate = NULL;
	}
	s->ssl = NULL;
	ktls_wipe(s);
}

int ktls_handshake_start(struct ktls_session *s, SSL_CTX *ctx, int fd,
			 int server, const struct ktls_opts *opts)
{
	static const struct ktls_opts defaults;
	struct ktls_hs_state *h;
	BIO *bio;
	SSL *ssl;

	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->tx_lock, NULL);
	s->fd = fd;
	s->server = server;
	s->opts = opts ? opts : &defaults;
	ERR_clear_error();
	h = calloc(1, sizeof(*h));
	if (!h) {
		s->code = KTLS_E_NOMEM;
		snprintf(s->err, sizeof(s->err), "out of memory");
		return -1;
	}
	if (kl_keylog_chain(ctx)) {
		s->code = KTLS_E_NOMEM;
		snprintf(s->err, sizeof(s->err), "keylog callback: out of memory");
		free(h);
		return -1;
	}
	ssl = SSL_new(ctx);
	if (!ssl) {
		s->code = KTLS_E_NOMEM;
		kl_err_ssl(s->err, sizeof(s->err), "SSL_new");
		free(h);
		return -1;
	}
	h->ssl = ssl;
	s->hstate = h;
	/* Per SSL too, in case the caller's ctx was not prepared. */
	SSL_clear_options(ssl, SSL_OP_ENABLE_KTLS);
	SSL_set_read_ahead(ssl, 0);
	if (server && s->opts->num_tickets)
		SSL_set_num_tickets(ssl, s->opts->num_tickets < 0 ? 0 :
				    (size_t)s->opts->num_tickets);
	bio = kl_bio_new(fd);
	if (!bio || !SSL_set_ex_data(ssl, kl_ssl_index(), s)) {
		BIO_free(bio);
		s->code = KTLS_E_NOMEM;
		kl_err_ssl(s->err, sizeof(s->err), "SSL setup");
		kl_drop(s);
		return -1;
	}
	SSL_set_bio(ssl, bio, bio);
	SSL_set_msg_callback(ssl, kl_msg_cb);
	SSL_set_msg_callback_arg(ssl, s);
	if (!server && s->opts->server_name &&
	    kl_set_server_name(ssl, s->opts->server_name)) {
		s->code = KTLS_E_INVALID;
		kl_err_ssl(s->err, sizeof(s->err), "server name \"%s\"",
			   s->opts->server_name);
		kl_drop(s);
		return -1;
	}
	if (server)
		SSL_set_accept_state(ssl);
	else
		SSL_set_connect_state(ssl);
	if (s->opts->timeout_ms > 0)
		h->deadline = kl_now_ms() + s->opts->timeout_ms;
	return 0;
}

int ktls_handshake_timeout(const struct ktls_session *s)
{
	int64_t left;

	if (!s->hstate || !s->hstate->deadline)
		return -1;
	left = s->hstate->deadline - kl_now_ms();
	return left < 0 ? 0 : left > INT32_MAX ? INT32_MAX : (int)left;
}

void ktls_handshake_abort(struct ktls_session *s)
{
	kl_drop(s);
}

static void kl_timed_out(struct ktls_session *s)
{
	s->code = KTLS_E_TIMEOUT;
	snprintf(s->err, sizeof(s->err),
		 "TLS handshake (%s): timed out waiting for the peer",
		 s->server ? "server" : "client");
}

static void kl_handshake_error(struct ktls_session *s, SSL *ssl, int rc)
{
	int e = SSL_get_error(ssl, rc);
	const char *who = s->server ? "server" : "client";

	if (e == SSL_ERROR_SYSCALL && !ERR_peek_error()) {
		if (errno) {
			s->code = KTLS_E_IO;
			kl_err_sys(s->err, sizeof(s->err),
				   "TLS handshake (%s)", who);
		} else {
			s->code = KTLS_E_PEER_CLOSED;
			snprintf(s->err, sizeof(s->err),
				 "TLS handshake (%s): peer closed the connection",
				 who);
		}
		return;
	}
	if (s->hstate->alert) {
		s->code = KTLS_E_PEER_ALERT;
		kl_err_ssl(s->err, sizeof(s->err),
			   "TLS handshake (%s): peer sent a fatal alert: %s",
			   who, SSL_alert_desc_string_long(s->hstate->alert - 1));
		return;
	}
	s->code = KTLS_E_HANDSHAKE;
	if (SSL_get_verify_result(ssl) != X509_V_OK) {
		kl_err_ssl(s->err, sizeof(s->err),
			   "TLS handshake (%s) failed: server certificate not trusted (%s)",
			   who, X509_verify_cert_error_string(
					SSL_get_verify_result(ssl)));
		return;
	}
	kl_err_ssl(s->err, sizeof(s->err), "TLS handshake (%s) failed", who);
}

/* Can the session go on in userspace TLS after this install failure? */
static int kl_can_fall_back(const struct ktls_session *s)
{
	if (!(s->opts->flags & KTLS_F_FALLBACK))
		return 0;
	/* Once keys are in, OpenSSL's record state is no longer the socket's. */
	if (s->tx_on || s->rx_on)
		return 0;
	return s->code == KTLS_E_NO_ULP || s->code == KTLS_E_ULP_TAKEN ||
	       s->code == KTLS_E_CIPHER;
}

/* OpenSSL carries on: ktls_send/ktls_recv go through it. */
static void kl_fall_back(struct ktls_session *s, struct ktls_hs_state *h)
{
	SSL *ssl = h->ssl;

	s->fallback = 1;
	snprintf(s->fallback_reason, sizeof(s->fallback_reason), "%s", s->err);
	kl_trace(s, "fallback: userspace TLS (%s)", s->err);
	SSL_set_msg_callback(ssl, NULL);
	SSL_set_ex_data(ssl, kl_ssl_index(), NULL);
	s->ssl = ssl;
	h->ssl = NULL;
	ktls_wipe(s);
}

/* Keys in the kernel, or the reason we go on in userspace. */
static int kl_finish(struct ktls_session *s)
{
	struct ktls_hs_state *h = s->hstate;
	SSL *ssl = h->ssl;
	unsigned int flags = s->opts->flags;
	int tls12 = SSL_version(ssl) == TLS1_2_VERSION;

	/* Read-ahead is off, so nothing past the handshake may be buffered. */
	if (SSL_has_pending(ssl) || BIO_wpending(SSL_get_wbio(ssl)) ||
	    BIO_pending(SSL_get_rbio(ssl))) {
		s->code = KTLS_E_PENDING;
		/* SSL_pending() counts decrypted application data only. */
		if (SSL_pending(ssl) > 0)
			snprintf(s->err, sizeof(s->err),
				 "after the handshake OpenSSL holds %d bytes of application data; the kernel cannot take them over",
				 SSL_pending(ssl));
		else if (BIO_wpending(SSL_get_wbio(ssl)))
			snprintf(s->err, sizeof(s->err),
				 "after the handshake OpenSSL holds unsent bytes; the kernel cannot take them over");
		else
			snprintf(s->err, sizeof(s->err),
				 "after the handshake OpenSSL holds unprocessed bytes (a record that carried more than the peer's Finished); the kernel cannot take them over");
		return -1;
	}
	kl_trace_summary(s, ssl);
	/* TLS 1.2: Finished itself was record 0 under the new keys. */
	s->rec_tx = h->after[1] + tls12;
	s->rec_rx = h->after[0] + tls12;
	kl_trace(s, "records: after our Finished OpenSSL sent %llu record(s), after the peer's it read %llu",
		 (unsigned long long)h->after[1],
		 (unsigned long long)h->after[0]);
	if (ktls_derive(s, ssl)) {
		/* A suite the kernel cannot carry (CCM_8): userspace can. */
		s->code = KTLS_E_CIPHER;
		if (!kl_can_fall_back(s))
			return -1;
		kl_fall_back(s, h);
		return 0;
	}
	/* RFC 6066 max_fragment_length: codes 1..4 are 2^9..2^12 bytes. */
	if (SSL_SESSION_get_max_fragment_length(SSL_get_session(ssl)))
		s->max_payload = 256 << SSL_SESSION_get_max_fragment_length(
						SSL_get_session(ssl));
	if (ktls_install(s, !(flags & KTLS_F_NO_TX),
			 !(flags & KTLS_F_NO_RX))) {
		if (!kl_can_fall_back(s))
			return -1;
		kl_fall_back(s, h);
		return 0;
	}
	/*
	 * TLS 1.3: the kernel answers and initiates KeyUpdate itself when it
	 * can.  Unless the program insisted, a refusal leaves that direction
	 * to libktls, as with a kernel that does not offer it.
	 */
	if (!(flags & KTLS_F_NO_KERNEL_REKEY) && ktls_kernel_rekey(s) < 0) {
		if (flags & KTLS_F_KERNEL_REKEY)
			return -1;
		kl_trace(s, "kernel: %s; libktls rekeys the rest", s->err);
		s->err[0] = '\0';
	}
	SSL_set_msg_callback(ssl, NULL);
	SSL_set_ex_data(ssl, kl_ssl_index(), NULL);
	/*
	 * The kernel carries the connection (and its close_notify) now: as
	 * far as OpenSSL knows it was shut down cleanly, so SSL_free() keeps
	 * the session in the server's cache (TLS 1.2 session-ID resumption).
	 */
	SSL_set_shutdown(ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
	if (flags & KTLS_F_KEEP_SSL) {
		s->ssl = ssl;
		h->ssl = NULL;
	}
	/* The kernel holds the keys now; keep only what a KeyUpdate needs. */
	if (s->tx_on)
		OPENSSL_cleanse(&s->tx, sizeof(s->tx));
	if (s->rx_on)
		OPENSSL_cleanse(&s->rx, sizeof(s->rx));
	if (s->version != TLS_1_3_VERSION || !s->tx_on)
		OPENSSL_cleanse(s->server ? s->secret_s : s->secret_c,
				sizeof(s->secret_c));
	if (s->version != TLS_1_3_VERSION || !s->rx_on)
		OPENSSL_cleanse(s->server ? s->secret_c : s->secret_s,
				sizeof(s->secret_c));
	return 0;
}

int ktls_handshake_step(struct ktls_session *s)
{
	struct ktls_hs_state *h = s->hstate;
	int rc, e;

	if (!h) {
		s->code = KTLS_E_INVALID;
		snprintf(s->err, sizeof(s->err),
			 "ktls_handshake_step: no handshake in progress");
		return KTLS_STEP_ERROR;
	}
	if (h->deadline && kl_now_ms() >= h->deadline) {
		kl_timed_out(s);
		goto fail;
	}
	ERR_clear_error();
	errno = 0;
	rc = SSL_do_handshake(h->ssl);
	if (rc != 1) {
		e = SSL_get_error(h->ssl, rc);
		if (e == SSL_ERROR_WANT_READ)
			return KTLS_STEP_WANT_READ;
		if (e == SSL_ERROR_WANT_WRITE)
			return KTLS_STEP_WANT_WRITE;
		kl_handshake_error(s, h->ssl, rc);
		goto fail;
	}
	if (kl_finish(s))
		goto fail;
	SSL_free(h->ssl);
	free(h);
	s->hstate = NULL;
	s->code = s->fallback ? s->code : KTLS_OK;
	return KTLS_STEP_DONE;
fail:
	kl_drop(s);
	return KTLS_STEP_ERROR;
}

int ktls_handshake(struct ktls_session *s, SSL_CTX *ctx, int fd, int server,
		   const struct ktls_opts *opts)
{
	int r;

	if (ktls_handshake_start(s, ctx, fd, server, opts))
		return -1;
	while ((r = ktls_handshake_step(s)) > 0) {
		struct pollfd pfd = {
			.fd = fd,
			.events = r == KTLS_STEP_WANT_READ ? POLLIN : POLLOUT,
		};
		int n = poll(&pfd, 1, ktls_handshake_timeout(s));

		if (n < 0 && errno != EINTR) {
			s->code = KTLS_E_IO;
			kl_err_sys(s->err, sizeof(s->err), "TLS handshake: poll");
			ktls_handshake_abort(s);
			return -1;
		}
		if (n == 0) {
			kl_timed_out(s);
			ktls_handshake_abort(s);
			return -1;
		}
	}
	return r == KTLS_STEP_DONE ? 0 : -1;
}
