// SPDX-License-Identifier: MIT
/*
 * The session through functions: programs that use only these (and
 * ktls_session_new/free) keep working when struct ktls_session changes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct ktls_session *ktls_session_new(void)
{
	struct ktls_session *s = calloc(1, sizeof(*s));

	if (s) {
		s->fd = -1;
		pthread_mutex_init(&s->tx_lock, NULL);
	}
	return s;
}

void ktls_session_free(struct ktls_session *s)
{
	if (!s)
		return;
	if (s->hstate)
		ktls_handshake_abort(s);
	SSL_free(s->ssl);
	s->ssl = NULL;
	ktls_wipe(s);
	pthread_mutex_destroy(&s->tx_lock);
	free(s);
}

int ktls_session_fd(const struct ktls_session *s)
{
	return s->fd;
}

uint16_t ktls_session_version(const struct ktls_session *s)
{
	return s->version;
}

uint16_t ktls_session_cipher(const struct ktls_session *s)
{
	return s->cipher;
}

int ktls_session_kernel(const struct ktls_session *s, int tx)
{
	return tx ? s->tx_on : s->rx_on;
}

int ktls_session_kernel_rekey(const struct ktls_session *s, int tx)
{
	return !!(s->kernel_ku & (tx ? KL_KU_TX : KL_KU_RX));
}

int ktls_session_peer_closed(const struct ktls_session *s)
{
	return s->peer_closed;
}

SSL *ktls_session_ssl(const struct ktls_session *s)
{
	return s->ssl;
}

uint64_t ktls_session_first_seq(const struct ktls_session *s, int tx)
{
	return tx ? s->rec_tx : s->rec_rx;
}

const char *ktls_errmsg(const struct ktls_session *s)
{
	return s->err;
}

const char *ktls_session_suite(const struct ktls_session *s)
{
	return s->suite;
}

uint16_t ktls_session_max_payload(const struct ktls_session *s)
{
	return s->max_payload;
}

ssize_t ktls_session_crypto_info(const struct ktls_session *s, int tx,
				 void *buf, size_t len)
{
	const union ktls_crypto_info *ci = tx ? &s->tx : &s->rx;

	/* Installed or wiped keys are zeroed, version included. */
	if (!s->info_len || !ci->info.version) {
		errno = ENOENT;
		return -1;
	}
	if (len < s->info_len) {
		errno = ERANGE;
		return -1;
	}
	memcpy(buf, ci, s->info_len);
	return (ssize_t)s->info_len;
}
