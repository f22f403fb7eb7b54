// SPDX-License-Identifier: MIT
/*
 * Application data in both modes: the kernel's socket, or the session's
 * SSL when it fell back to userspace TLS.  And the error codes' names.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <openssl/err.h>

#include "internal.h"

/*
 * The handshake BIO never blocks; on a blocking fd wait here for what
 * OpenSSL wants (0: try again), on a non-blocking one report EAGAIN.
 */
static int kl_ssl_wait(struct ktls_session *s, int e)
{
	struct pollfd pfd = { .fd = s->fd };
	int fl = fcntl(s->fd, F_GETFL);

	if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
		return -1;
	if (fl < 0 || (fl & O_NONBLOCK)) {
		errno = EAGAIN;
		return -1;
	}
	pfd.events = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
	while (poll(&pfd, 1, -1) < 0)
		if (errno != EINTR)
			return -1;
	return 0;
}

static void kl_ssl_error(struct ktls_session *s, const char *what, int e)
{
	if (e == SSL_ERROR_SYSCALL && !ERR_peek_error()) {
		s->code = KTLS_E_IO;
		kl_err_sys(s->err, sizeof(s->err), "userspace TLS %s", what);
		return;
	}
	s->code = KTLS_E_PROTOCOL;
	kl_err_ssl(s->err, sizeof(s->err), "userspace TLS %s", what);
	errno = EPROTO;
}

ssize_t kl_ssl_recv(struct ktls_session *s, void *buf, size_t len)
{
	for (;;) {
		size_t n = 0;
		int e;

		ERR_clear_error();
		if (SSL_read_ex(s->ssl, buf, len, &n))
			return (ssize_t)n;
		e = SSL_get_error(s->ssl, 0);
		if (e == SSL_ERROR_ZERO_RETURN) {
			s->peer_closed = 1;
			return 0;
		}
		if (kl_ssl_wait(s, e) == 0)
			continue;
		if (errno != EAGAIN)
			kl_ssl_error(s, "read", e);
		return -1;
	}
}

static ssize_t kl_ssl_send(struct ktls_session *s, const void *buf,
			   size_t len)
{
	for (;;) {
		size_t n = 0;
		int e;

		ERR_clear_error();
		if (SSL_write_ex(s->ssl, buf, len, &n))
			return (ssize_t)n;
		e = SSL_get_error(s->ssl, 0);
		if (kl_ssl_wait(s, e) == 0)
			continue;
		if (errno != EAGAIN)
			kl_ssl_error(s, "write", e);
		return -1;
	}
}

void kl_ssl_close_notify(struct ktls_session *s)
{
	ERR_clear_error();
	SSL_shutdown(s->ssl);
}

ssize_t ktls_send(struct ktls_session *s, const void *buf, size_t len)
{
	ssize_t n;

	if (s->fallback)
		return kl_ssl_send(s, buf, len);
	if (kl_tx_lock(s))
		return -1;
	n = send(s->fd, buf, len, MSG_NOSIGNAL);
	kl_tx_unlock(s);
	kl_trace_gen(s);
	if (n < 0) {
		s->code = KTLS_E_IO;
		kl_err_sys(s->err, sizeof(s->err), "send");
	}
	return n;
}

/* Userspace sendfile: pread, then SSL_write (records of up to 16 KiB). */
static ssize_t kl_ssl_sendfile(struct ktls_session *s, int in_fd,
			       off_t *offset, size_t count)
{
	unsigned char buf[16384];
	off_t pos = offset ? *offset : lseek(in_fd, 0, SEEK_CUR);
	size_t done = 0;

	if (pos < 0)
		return -1;
	while (done < count) {
		size_t want = count - done < sizeof(buf) ? count - done :
			      sizeof(buf);
		ssize_t r = pread(in_fd, buf, want, pos), w;

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r < 0 && !done)
				return -1;
			break;
		}
		w = kl_ssl_send(s, buf, (size_t)r);
		if (w < 0) {
			if (!done)
				return -1;
			break;
		}
		pos += w;
		done += (size_t)w;
	}
	if (offset)
		*offset = pos;
	else
		lseek(in_fd, pos, SEEK_SET);
	return (ssize_t)done;
}

ssize_t ktls_sendfile(struct ktls_session *s, int in_fd, off_t *offset,
		      size_t count)
{
	ssize_t n;

	if (s->fallback)
		return kl_ssl_sendfile(s, in_fd, offset, count);
	if (kl_tx_lock(s))
		return -1;
	n = sendfile(s->fd, in_fd, offset, count);
	kl_tx_unlock(s);
	kl_trace_gen(s);
	if (n < 0) {
		s->code = KTLS_E_IO;
		kl_err_sys(s->err, sizeof(s->err), "sendfile");
	}
	return n;
}

const char *ktls_fallback_reason(const struct ktls_session *s)
{
	return s->fallback ? s->fallback_reason : NULL;
}

int ktls_error(const struct ktls_session *s)
{
	return s->code;
}

const char *ktls_error_name(int code)
{
	switch (code) {
	case KTLS_OK: return "no error";
	case KTLS_E_NO_ULP: return "kernel TLS unavailable: no TCP ULP (module not loaded)";
	case KTLS_E_ULP_TAKEN: return "kernel TLS unavailable: TCP ULP held by another module or already attached";
	case KTLS_E_CIPHER: return "the kernel refused this TLS version or cipher";
	case KTLS_E_HANDSHAKE: return "TLS handshake failed";
	case KTLS_E_PEER_ALERT: return "the peer sent a fatal alert";
	case KTLS_E_TIMEOUT: return "timed out";
	case KTLS_E_KEY_UPDATE: return "TLS 1.3 key update failed";
	case KTLS_E_IO: return "socket I/O error";
	case KTLS_E_PEER_CLOSED: return "the peer closed the connection";
	case KTLS_E_PENDING: return "OpenSSL holds data the kernel cannot take over";
	case KTLS_E_PROTOCOL: return "TLS protocol error after the handover";
	case KTLS_E_NOMEM: return "out of memory";
	case KTLS_E_INVALID: return "invalid argument or state";
	case KTLS_E_LOCKDOWN: return "kernel lockdown refuses unsigned modules";
	}
	return "unknown error code";
}
