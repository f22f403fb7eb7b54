// SPDX-License-Identifier: GPL-2.0
/* Record framing helpers shared by TX and RX: nonces, AAD, sequence. */

#include <crypto/aead.h>
#include <linux/err.h>
#include <linux/string.h>

#include "ktls.h"

/* Only TLS 1.2 GCM/CCM carries an explicit nonce in each record. */
static bool ktls_xor_nonce(const struct ktls_crypto *c, u16 version)
{
	return version == TLS_1_3_VERSION || !c->cipher->explicit_iv;
}

u8 *ktls_nonce_explicit(const struct ktls_crypto *c, u8 *nonce)
{
	return nonce + c->cipher->ccm + c->cipher->salt_size;
}

void ktls_build_nonce(const struct ktls_crypto *c, u16 version, u8 *nonce)
{
	const struct ktls_cipher *ci = c->cipher;
	u8 *n = nonce;
	int i;

	memset(nonce, 0, KTLS_AEAD_IV_SIZE);
	/* ccm(...) takes a full CTR block: L' = 2 for a 12-byte nonce. */
	if (ci->ccm)
		*n++ = 2;
	memcpy(n, c->iv, KTLS_NONCE_SIZE);
	if (!ktls_xor_nonce(c, version))
		return;
	/* RFC 8446 5.3 / RFC 7905: the padded sequence XOR the static IV. */
	for (i = 0; i < KTLS_REC_SEQ_SIZE; i++)
		n[KTLS_NONCE_SIZE - KTLS_REC_SEQ_SIZE + i] ^= c->rec_seq[i];
}

unsigned int ktls_build_aad(u8 *aad, u16 version, const u8 *rec_seq,
			    u8 type, u16 len)
{
	if (version == TLS_1_3_VERSION) {
		/* The outer header; len is the ciphertext length. */
		aad[0] = KTLS_TYPE_DATA;
		aad[1] = 0x03;
		aad[2] = 0x03;
		aad[3] = len >> 8;
		aad[4] = len & 0xff;
		return KTLS_AAD13_SIZE;
	}
	/* TLS 1.2: seq_num + type + version + plaintext length. */
	memcpy(aad, rec_seq, KTLS_REC_SEQ_SIZE);
	aad[8] = type;
	aad[9] = version >> 8;
	aad[10] = version & 0xff;
	aad[11] = len >> 8;
	aad[12] = len & 0xff;
	return KTLS_AAD12_SIZE;
}

/* Big-endian increment; true when the counter wrapped to zero. */
static bool ktls_be_inc(u8 *v, unsigned int len)
{
	while (len--) {
		if (++v[len])
			return false;
	}
	return true;
}

bool ktls_seq_advance(u8 *rec_seq)
{
	return ktls_be_inc(rec_seq, KTLS_REC_SEQ_SIZE);
}

void ktls_iv_advance(struct ktls_crypto *c, u16 version)
{
	if (ktls_xor_nonce(c, version))
		return;
	ktls_be_inc(c->iv + c->cipher->salt_size, c->cipher->iv_size);
}

unsigned int ktls_record_overhead(const struct ktls_crypto *c, u16 version)
{
	unsigned int o = KTLS_HEADER_SIZE + c->cipher->tag_size;

	if (version == TLS_1_3_VERSION)
		return o + 1;	/* inner content type */
	return o + c->cipher->explicit_iv;
}

/* Allocate and key the AEAD from c->conf; called under the socket lock. */
int ktls_crypto_init(struct ktls_crypto *c)
{
	const struct ktls_cipher *ci = c->cipher;
	const u8 *raw = c->conf.raw;
	struct crypto_aead *aead;
	int rc;

	aead = crypto_alloc_aead(ci->aead_name, 0, 0);
	if (IS_ERR(aead))
		return PTR_ERR(aead);

	rc = crypto_aead_setkey(aead, raw + ci->key_off, ci->key_size);
	if (rc)
		goto free_aead;
	rc = crypto_aead_setauthsize(aead, ci->tag_size);
	if (rc)
		goto free_aead;

	memcpy(c->iv, raw + ci->salt_off, ci->salt_size);
	memcpy(c->iv + ci->salt_size, raw + ci->iv_off, ci->iv_size);
	memcpy(c->rec_seq, raw + ci->rec_seq_off, KTLS_REC_SEQ_SIZE);
	c->aead = aead;
	return 0;

free_aead:
	crypto_free_aead(aead);
	return rc;
}

/* Rekey: a request is sized for its tfm, so the new key needs its own. */
int ktls_aead_req_replace(struct aead_request **req, struct crypto_aead *aead)
{
	struct aead_request *n = aead_request_alloc(aead, GFP_KERNEL);

	if (!n)
		return -ENOMEM;
	aead_request_free(*req);
	*req = n;
	return 0;
}

void ktls_crypto_free(struct ktls_crypto *c)
{
	if (c->aead)
		crypto_free_aead(c->aead);
	/* Keys must not outlive the socket in freed memory. */
	memzero_explicit(c, sizeof(*c));
}
