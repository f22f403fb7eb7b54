// SPDX-License-Identifier: MIT
/* The handshake in OpenSSL, then derivation and install (ktls_handshake). */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <openssl/crypto.h>
#include <openssl/err.h>

#include "internal.h"

static int kl_index = -1;
static pthread_once_t kl_index_once = PTHREAD_ONCE_INIT;

static void kl_index_init(void)
{
	kl_index = SSL_get_ex_new_index(0, "ktls_session", NULL, NULL, NULL);
}

int kl_ssl_index(void)
{
	pthread_once(&kl_index_once, kl_index_init);
	return kl_index;
}

static int kl_unhex(unsigned char *out, size_t max, const char *hex)
{
	size_t n = 0;

	while (hex[0] && hex[1] && n < max) {
		unsigned int v;

		if (sscanf(hex, "%2x", &v) != 1)
			return -1;
		out[n++] = (unsigned char)v;
		hex += 2;
	}
	return *hex ? -1 : (int)n;
}

void kl_keylog_cb(const SSL *ssl, const char *line)
{
	struct ktls_session *s = SSL_get_ex_data(ssl, kl_ssl_index());
	const char *sp;
	unsigned char *dst = NULL;
	int n;

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

static void kl_set_timeout(int fd, int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static void kl_handshake_error(struct ktls_session *s, SSL *ssl, int rc)
{
	int e = SSL_get_error(ssl, rc);
	const char *who = s->server ? "server" : "client";

	if (e == SSL_ERROR_SYSCALL && !ERR_peek_error()) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			snprintf(s->err, sizeof(s->err),
				 "TLS handshake (%s): timed out waiting for the peer",
				 who);
		else if (errno)
			kl_err_sys(s->err, sizeof(s->err),
				   "TLS handshake (%s)", who);
		else
			snprintf(s->err, sizeof(s->err),
				 "TLS handshake (%s): peer closed the connection",
				 who);
		return;
	}
	kl_err_ssl(s->err, sizeof(s->err), "TLS handshake (%s) failed", who);
}

int ktls_handshake(struct ktls_session *s, SSL_CTX *ctx, int fd, int server,
		   const struct ktls_opts *opts)
{
	static const struct ktls_opts defaults;
	unsigned int flags;
	SSL *ssl;
	int rc;

	memset(s, 0, sizeof(*s));
	s->fd = fd;
	s->server = server;
	s->opts = opts ? opts : &defaults;
	flags = s->opts->flags;
	ERR_clear_error();

	ssl = SSL_new(ctx);
	if (!ssl) {
		kl_err_ssl(s->err, sizeof(s->err), "SSL_new");
		return -1;
	}
	/* Per SSL too, in case the caller's ctx was not prepared. */
	SSL_clear_options(ssl, SSL_OP_ENABLE_KTLS);
	SSL_set_read_ahead(ssl, 0);
	if (server)
		SSL_set_num_tickets(ssl, 0);
	if (!SSL_set_ex_data(ssl, kl_ssl_index(), s) || !SSL_set_fd(ssl, fd)) {
		kl_err_ssl(s->err, sizeof(s->err), "SSL setup");
		goto fail;
	}
	if (s->opts->trace) {
		SSL_set_msg_callback(ssl, kl_trace_msg);
		SSL_set_msg_callback_arg(ssl, s);
	}
	if (s->opts->timeout_ms)
		kl_set_timeout(fd, s->opts->timeout_ms);

	rc = server ? SSL_accept(ssl) : SSL_connect(ssl);
	if (s->opts->timeout_ms)
		kl_set_timeout(fd, 0);
	if (rc != 1) {
		kl_handshake_error(s, ssl, rc);
		goto fail;
	}
	/* Read-ahead is off, so nothing past the handshake may be buffered. */
	if (SSL_has_pending(ssl)) {
		snprintf(s->err, sizeof(s->err),
			 "after the handshake OpenSSL holds %d unread bytes; the kernel cannot take them over",
			 SSL_pending(ssl));
		goto fail;
	}
	kl_trace_summary(s, ssl);
	if (ktls_derive(s, ssl))
		goto fail;
	/* RFC 6066 max_fragment_length: codes 1..4 are 2^9..2^12 bytes. */
	if (SSL_SESSION_get_max_fragment_length(SSL_get_session(ssl)))
		s->max_payload = 256 << SSL_SESSION_get_max_fragment_length(
						SSL_get_session(ssl));
	if (ktls_install(s, !(flags & KTLS_F_NO_TX), !(flags & KTLS_F_NO_RX)))
		goto fail;
	SSL_set_ex_data(ssl, kl_ssl_index(), NULL);
	if (flags & KTLS_F_KEEP_SSL)
		s->ssl = ssl;
	else
		SSL_free(ssl);
	/* TLS 1.3 derives the next keys from them on KeyUpdate. */
	if (s->version != TLS_1_3_VERSION) {
		OPENSSL_cleanse(s->secret_c, sizeof(s->secret_c));
		OPENSSL_cleanse(s->secret_s, sizeof(s->secret_s));
	}
	return 0;
fail:
	SSL_free(ssl);
	ktls_wipe(s);
	return -1;
}
