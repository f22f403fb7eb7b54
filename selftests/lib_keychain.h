/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The TLS 1.3 traffic secret chain in userspace, on OpenSSL's HKDF
 * (EVP_KDF, expand only), independent of the module: a generation's key
 * and IV in the UAPI layout, and the next generation's secret (RFC 8446
 * 7.2, 7.3).  Tests use it to hand the kernel a secret and to follow the
 * kernel's key updates with lib_tlsrec.
 */
#ifndef KTLS_LIB_KEYCHAIN_H
#define KTLS_LIB_KEYCHAIN_H

#include <stddef.h>
#include <stdint.h>
#include <ktls/ktls_ext.h>

#include "lib_tlsrec.h"
#include "util.h"

struct kc_gen {
	uint16_t cipher;
	unsigned char secret[KTLS_SECRET_MAX];
	size_t len;			/* Hash.length */
	unsigned int gen;		/* steps from the first secret */
	union kt_crypto_info ci;	/* this generation's key, rec_seq 0 */
	size_t ci_len;
	struct tr_keys k;		/* the codec's keys for it */
};

/* Generation 0 from a secret made from seed (or the given bytes). */
void kc_init(struct kc_gen *g, uint16_t cipher, unsigned int seed);
void kc_init_secret(struct kc_gen *g, uint16_t cipher,
		    const unsigned char *secret, size_t len);
/* secret' = HKDF-Expand-Label(secret, "traffic upd", "", Hash.length). */
void kc_next(struct kc_gen *g);
/* The setsockopt argument for KTLS_TX_SECRET / KTLS_RX_SECRET. */
void kc_secret_opt(const struct kc_gen *g, struct ktls_traffic_secret *ts);
/* HKDF-Expand-Label(secret, label, "", len) with the suite's hash. */
void kc_expand_label(uint16_t cipher, const unsigned char *secret,
		     size_t slen, const char *label, unsigned char *out,
		     size_t len);

#endif /* KTLS_LIB_KEYCHAIN_H */
