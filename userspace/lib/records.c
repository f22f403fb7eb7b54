// SPDX-License-Identifier: MIT
/*
 * After install: control records.  The kernel hands non-data records to
 * recvmsg() only with a cmsg buffer (TLS_GET_RECORD_TYPE; read() fails
 * with EIO on one), and sends one of our choosing with TLS_SET_RECORD_TYPE.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <pthread.h>
#include <openssl/crypto.h>

#include "internal.h"

#define KL_ALERT	21
#define KL_HANDSHAKE	22
#define KL_APPDATA	23

#define KL_HS_MAX	(1 << 16)

static int kl_send_record(struct ktls_session *s, unsigned char type,
			  const void *p, size_t len);

/* Install s->tx or s->rx again: for TLS 1.3 the kernel takes it as a rekey. */
static int kl_rekey_kernel(struct ktls_session *s, int tx)
{
	if (setsockopt(s->fd, SOL_TLS, tx ? TLS_TX : TLS_RX,
		       tx ? &s->tx : &s->rx, s->info_len)) {
		kl_err_sys(s->err, sizeof(s->err),
			   "key update: setsockopt(SOL_TLS, %s) (a kernel without TLS 1.3 rekey?)",
			   tx ? "TLS_TX" : "TLS_RX");
		return -1;
	}
	return 0;
}

static int kl_key_update_locked(struct ktls_session *s, int request_peer)
{
	unsigned char ku[5] = { 24, 0, 0, 1, !!request_peer };

	if (!s->tx_on || s->version != TLS_1_3_VERSION) {
		s->code = KTLS_E_INVALID;
		snprintf(s->err, sizeof(s->err),
			 "key update: needs TLS 1.3 with TX installed");
		errno = EINVAL;
		return -1;
	}
	/* The kernel holds the TX secret: it sends and steps, in order. */
	if (s->kernel_ku & KL_KU_TX)
		return kl_kernel_key_update(s, request_peer);
	/* The KeyUpdate itself is the last record under the old key. */
	if (kl_send_record(s, KL_HANDSHAKE, ku, sizeof(ku)))
		return -1;
	if (kl_next_keys13(s, 1) || kl_rekey_kernel(s, 1)) {
		s->code = KTLS_E_KEY_UPDATE;
		return -1;
	}
	/* The kernel has the key; the secret stays for the next update. */
	OPENSSL_cleanse(&s->tx, sizeof(s->tx));
	kl_trace(s, "-> KeyUpdate (%s), TX key updated",
		 request_peer ? "update_requested" : "update_not_requested");
	return 0;
}

/* Under tx_lock: the answer the peer asked for, if one is owed. */
static int kl_answer_owed_locked(struct ktls_session *s)
{
	if (!atomic_exchange(&s->ku_owed, 0))
		return 0;
	if (kl_key_update_locked(s, 0)) {
		atomic_store(&s->ku_failed, 1);
		return -1;
	}
	return 0;
}

/*
 * A reader must never wait for tx_lock: a sender may hold it, blocked in
 * send() until the peer reads, while the peer's reader waits for its own
 * sender the same way, and with both directions full nobody moves again.
 * So the reader only marks the answer owed; the thread holding tx_lock
 * sends it when it lets go, or the next one to take it before its record.
 */
int kl_tx_lock(struct ktls_session *s)
{
	pthread_mutex_lock(&s->tx_lock);
	if (atomic_load(&s->ku_failed)) {
		s->code = KTLS_E_KEY_UPDATE;
		snprintf(s->err, sizeof(s->err),
			 "key update: answering the peer's KeyUpdate failed");
		errno = EIO;
		pthread_mutex_unlock(&s->tx_lock);
		return -1;
	}
	if (kl_answer_owed_locked(s)) {
		pthread_mutex_unlock(&s->tx_lock);
		return -1;
	}
	return 0;
}

/* An answer owed: send it now unless a holder of tx_lock will. */
static void kl_tx_service(struct ktls_session *s)
{
	while (atomic_load(&s->ku_owed) &&
	       !pthread_mutex_trylock(&s->tx_lock)) {
		kl_answer_owed_locked(s);
		pthread_mutex_unlock(&s->tx_lock);
	}
}

void kl_tx_unlock(struct ktls_session *s)
{
	pthread_mutex_unlock(&s->tx_lock);
	kl_tx_service(s);
}

/*
 * Under tx_lock: a sender in ktls_send() must not slip a record between
 * the KeyUpdate and the new TX key (the peer would decrypt it with the
 * wrong key), whichever thread answers the peer's update_requested.
 */
int ktls_key_update(struct ktls_session *s, int request_peer)
{
	int rc;

	if (kl_tx_lock(s))
		return -1;
	rc = kl_key_update_locked(s, request_peer);
	kl_tx_unlock(s);
	kl_trace_gen(s);
	return rc;
}

/* The peer's KeyUpdate: take its next key, answer if it asks for ours. */
static int kl_key_update_rx(struct ktls_session *s, const unsigned char *p,
			    size_t len)
{
	if (len != 5 || p[4] > 1) {
		s->code = KTLS_E_PROTOCOL;
		snprintf(s->err, sizeof(s->err), "malformed KeyUpdate");
		errno = EPROTO;
		return -1;
	}
	/* Until TLS_RX is set again the kernel reads EKEYEXPIRED. */
	if (kl_next_keys13(s, 0) || kl_rekey_kernel(s, 0)) {
		s->code = KTLS_E_KEY_UPDATE;
		return -1;
	}
	OPENSSL_cleanse(&s->rx, sizeof(s->rx));
	kl_trace(s, "<- KeyUpdate (%s), RX key updated",
		 p[4] ? "update_requested" : "update_not_requested");
	if (p[4] && s->tx_on) {
		/* Owed, never waited for (see kl_tx_lock()). */
		atomic_store(&s->ku_owed, 1);
		kl_tx_service(s);
		if (atomic_load(&s->ku_failed))
			return -1;
	}
	return 0;
}

/* One TLS 1.3 post-handshake message: tickets are dropped. */
static int kl_post_handshake_msg(struct ktls_session *s,
				 const unsigned char *p, size_t len)
{
	if (p[0] == 4) {
		kl_trace(s, "<- NewSessionTicket (%zu bytes) consumed", len);
		return 0;
	}
	if (p[0] == 24)
		return kl_key_update_rx(s, p, len);
	s->code = KTLS_E_PROTOCOL;
	snprintf(s->err, sizeof(s->err),
		 "unexpected post-handshake message type %u", p[0]);
	errno = EPROTO;
	return -1;
}

/* Append handshake bytes; handle every whole message collected so far. */
static int kl_post_handshake(struct ktls_session *s, const unsigned char *p,
			     size_t n)
{
	size_t off = 0;

	if (s->hs_len + n > s->hs_cap) {
		size_t cap = s->hs_len + n < 4096 ? 4096 : s->hs_len + n;
		unsigned char *hs;

		if (cap > KL_HS_MAX) {
			s->code = KTLS_E_PROTOCOL;
			snprintf(s->err, sizeof(s->err),
				 "post-handshake message over %d bytes",
				 KL_HS_MAX);
			errno = EMSGSIZE;
			return -1;
		}
		hs = realloc(s->hs, cap);
		if (!hs) {
			s->code = KTLS_E_NOMEM;
			snprintf(s->err, sizeof(s->err), "out of memory");
			errno = ENOMEM;
			return -1;
		}
		s->hs = hs;
		s->hs_cap = cap;
	}
	memcpy(s->hs + s->hs_len, p, n);
	s->hs_len += n;
	while (s->hs_len - off >= 4) {
		const unsigned char *m = s->hs + off;
		size_t len = (size_t)m[1] << 16 | m[2] << 8 | m[3];

		if (s->hs_len - off < len + 4)
			break;
		if (kl_post_handshake_msg(s, m, len + 4))
			return -1;
		off += len + 4;
	}
	memmove(s->hs, s->hs + off, s->hs_len - off);
	s->hs_len -= off;
	return 0;
}

ssize_t ktls_recv(struct ktls_session *s, void *buf, size_t len)
{
	s->err[0] = '\0';
	if (s->fallback)
		return kl_ssl_recv(s, buf, len);
	for (;;) {
		char cbuf[CMSG_SPACE(sizeof(unsigned char))];
		struct iovec iov = { buf, len };
		struct msghdr msg = {
			.msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
		};
		struct cmsghdr *cm;
		unsigned char type = KL_APPDATA;
		ssize_t n;

		/*
		 * Data through read(), cheaper than recvmsg() with its msghdr
		 * and cmsg; a record of another type fails it with EIO and
		 * stays queued (as in-tree), for recvmsg() to say its type.
		 */
		n = read(s->fd, buf, len);
		if (n < 0 && errno == EIO)
			n = recvmsg(s->fd, &msg, 0);
		else
			msg.msg_controllen = 0;
		kl_trace_gen(s);
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR) {
				s->code = KTLS_E_IO;
				kl_err_sys(s->err, sizeof(s->err), "recvmsg");
			}
			return n;
		}
		cm = CMSG_FIRSTHDR(&msg);
		if (cm && cm->cmsg_level == SOL_TLS &&
		    cm->cmsg_type == TLS_GET_RECORD_TYPE)
			type = *CMSG_DATA(cm);
		if (type == KL_APPDATA || n == 0)
			return n;
		if (type == KL_ALERT && n >= 2) {
			const unsigned char *a = buf;

			if (a[1] == 0) {	/* close_notify */
				kl_trace(s, "<- close_notify");
				s->peer_closed = 1;
				return 0;
			}
			s->code = KTLS_E_PEER_ALERT;
			snprintf(s->err, sizeof(s->err),
				 "peer sent a %s alert: %s",
				 a[0] == 2 ? "fatal" : "warning",
				 SSL_alert_desc_string_long(a[1]));
			errno = ECONNRESET;
			return -1;
		}
		if (type == KL_HANDSHAKE && s->version == TLS_1_3_VERSION) {
			if (kl_post_handshake(s, buf, (size_t)n))
				return -1;
			continue;
		}
		s->code = KTLS_E_PROTOCOL;
		snprintf(s->err, sizeof(s->err),
			 "unexpected TLS record type %u after the handshake",
			 type);
		errno = EPROTO;
		return -1;
	}
}

/* One record of the given type through the kernel TX. */
static int kl_send_record(struct ktls_session *s, unsigned char type,
			  const void *p, size_t len)
{
	char cbuf[CMSG_SPACE(sizeof(unsigned char))] = { 0 };
	struct iovec iov = { (void *)p, len };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);

	if (!s->tx_on) {
		s->code = KTLS_E_INVALID;
		snprintf(s->err, sizeof(s->err),
			 "record type %u: TX is not installed", type);
		errno = EINVAL;
		return -1;
	}
	cm->cmsg_level = SOL_TLS;
	cm->cmsg_type = TLS_SET_RECORD_TYPE;
	cm->cmsg_len = CMSG_LEN(sizeof(unsigned char));
	*CMSG_DATA(cm) = type;
	if (sendmsg(s->fd, &msg, MSG_NOSIGNAL) != (ssize_t)len) {
		s->code = KTLS_E_IO;
		kl_err_sys(s->err, sizeof(s->err),
			   "sending a record of type %u", type);
		return -1;
	}
	return 0;
}

int ktls_send_alert(struct ktls_session *s, uint8_t level, uint8_t desc)
{
	unsigned char alert[2] = { level, desc };
	int rc;

	if (kl_tx_lock(s))
		return -1;
	rc = kl_send_record(s, KL_ALERT, alert, sizeof(alert));
	kl_tx_unlock(s);
	if (rc) {
		snprintf(s->err, sizeof(s->err), "sending alert %s: %s",
			 SSL_alert_desc_string_long(desc),
			 s->tx_on ? strerror(errno) : "TX is not installed");
		return -1;
	}
	return 0;
}

void ktls_wipe(struct ktls_session *s)
{
	/* A program that closes the fd itself wipes first: last look. */
	kl_trace_gen(s);
	OPENSSL_cleanse(&s->tx, sizeof(s->tx));
	OPENSSL_cleanse(&s->rx, sizeof(s->rx));
	OPENSSL_cleanse(s->secret_c, sizeof(s->secret_c));
	OPENSSL_cleanse(s->secret_s, sizeof(s->secret_s));
	s->secret_len = 0;
	free(s->hs);
	s->hs = NULL;
	s->hs_len = 0;
	s->hs_cap = 0;
}

void ktls_close(struct ktls_session *s)
{
	if (s->hstate)
		ktls_handshake_abort(s);
	if (s->fallback && s->ssl)
		kl_ssl_close_notify(s);
	if (s->fd >= 0) {
		kl_trace_gen(s);
		if (s->tx_on)
			ktls_send_alert(s, 1, 0);	/* close_notify */
		close(s->fd);
		s->fd = -1;
	}
	SSL_free(s->ssl);
	s->ssl = NULL;
	ktls_wipe(s);
}
