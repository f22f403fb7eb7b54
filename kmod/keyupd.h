/* SPDX-License-Identifier: GPL-2.0 */
/*
 * In-kernel TLS 1.3 KeyUpdate: per direction, the traffic secret the
 * program handed over (KTLS_TX_SECRET / KTLS_RX_SECRET) and the HKDF steps
 * (RFC 8446 7.2, 7.3) that turn it into each next key and IV.
 */
#ifndef _KTLS_KEYUPD_H
#define _KTLS_KEYUPD_H

#include <linux/sockptr.h>
#include <net/sock.h>

#include "ktls.h"

/* One direction's secret chain; touched only with the socket owned. */
struct ktls_ku {
	struct crypto_shash *hmac;	/* hmac(sha256) or hmac(sha384) */
	u8 secret[KTLS_SECRET_MAX];
	u8 len;				/* Hash.length */
};

/* setsockopt KTLS_TX_SECRET / KTLS_RX_SECRET; socket owned. */
int ktls_ku_set_secret(struct sock *sk, struct ktls_context *ctx,
		       sockptr_t optval, unsigned int optlen, bool tx);
/*
 * Step c to the next generation: secret, key, IV; the sequence number
 * restarts at 0.  c->aead must have no request in flight.  On error c's
 * AEAD key is undefined: the caller stops the direction.
 */
int ktls_ku_step(struct ktls_ku *ku, struct ktls_crypto *c);
/* Wipe and free; NULL is fine. */
void ktls_ku_free(struct ktls_ku *ku);
/*
 * HKDF-Expand-Label(secret, label, "", len) with hmac, len at most the
 * hash's length.  Exposed for the self-check at module load.
 */
int ktls_hkdf_expand_label(struct crypto_shash *hmac, const u8 *secret,
			   unsigned int secret_len, const char *label,
			   u8 *out, unsigned int len);

#endif /* _KTLS_KEYUPD_H */
