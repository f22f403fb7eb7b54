/* SPDX-License-Identifier: GPL-2.0 */
/*
 * An independent TLS 1.2/1.3 record codec on OpenSSL EVP, used to check
 * what the kernel sends (tr_open) and to produce record streams for it to
 * receive (tr_seal).  It shares no code with the module.
 */
#ifndef KTLS_LIB_TLSREC_H
#define KTLS_LIB_TLSREC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util.h"

#define TR_HDR		5
#define TR_TAG		16
#define TR_MAX_PT	16384
/* Largest record either version may carry: header + 2^14 + 256. */
#define TR_MAX_REC	(TR_HDR + TR_MAX_PT + 256)

struct tr_keys {
	uint16_t version, cipher;
	unsigned char key[32];
	size_t key_len;
	unsigned char iv[12];		/* salt||iv, or the ChaCha20 iv */
	unsigned char explicit_iv[8];	/* TLS 1.2 GCM/CCM: next nonce */
	uint64_t seq;
};

/* iv/salt/key/rec_seq from the UAPI struct. */
void tr_keys_from_info(struct tr_keys *k, const union kt_crypto_info *ci);
/*
 * Seal one record into out (room for len + TR_HDR + 8 + 1 + TR_TAG);
 * returns its length.  Advances seq (and the explicit iv for TLS 1.2
 * GCM/CCM).  TLS 1.3 with type 0: pt is the whole inner plaintext
 * (content type and any zero padding already appended), to build padded
 * or malformed records.
 */
size_t tr_seal(struct tr_keys *k, uint8_t type, const void *pt, size_t len,
	       uint8_t *out);
/*
 * Open one record: returns bytes consumed, 0 if avail holds no whole
 * record, -1 on a bad header or failed authentication (tr_error() says
 * why).  pt needs room for TR_MAX_PT + 256 bytes.  Advances seq.
 */
ssize_t tr_open(struct tr_keys *k, const uint8_t *buf, size_t avail,
		uint8_t *type, uint8_t *pt, size_t *ptlen);
const char *tr_error(void);

#endif /* KTLS_LIB_TLSREC_H */
