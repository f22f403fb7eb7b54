// SPDX-License-Identifier: GPL-2.0
/* Independent TLS record codec on OpenSSL EVP (see lib_tlsrec.h). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "lib_tlsrec.h"

static char tr_err[256];

const char *tr_error(void)
{
	return tr_err;
}

static void tr_set_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(tr_err, sizeof(tr_err), fmt, ap);
	va_end(ap);
}

static int tr_tls13(const struct tr_keys *k)
{
	return k->version == TLS_1_3_VERSION;
}

/* TLS 1.2 GCM/CCM carry 8 explicit nonce bytes; ChaCha20 and 1.3 none. */
static size_t tr_explicit(const struct tr_keys *k)
{
	if (tr_tls13(k) || k->cipher == TLS_CIPHER_CHACHA20_POLY1305)
		return 0;
	return 8;
}

static int tr_is_ccm(const struct tr_keys *k)
{
	return k->cipher == TLS_CIPHER_AES_CCM_128;
}

void tr_keys_from_info(struct tr_keys *k, const union kt_crypto_info *ci)
{
	const struct kt_cipher *c = kt_cipher(ci->info.cipher_type);
	const unsigned char *p = ci->raw + sizeof(ci->info);
	const unsigned char *iv, *key, *salt, *seq;
	int i;

	memset(k, 0, sizeof(*k));
	k->version = ci->info.version;
	k->cipher = ci->info.cipher_type;
	if (!c)
		return;
	/* Every UAPI struct lays out iv, key, salt, rec_seq in order. */
	iv = p;
	key = iv + c->iv;
	salt = key + c->key;
	seq = salt + c->salt;
	k->key_len = c->key;
	memcpy(k->key, key, c->key);
	memcpy(k->iv, salt, c->salt);
	memcpy(k->iv + c->salt, iv, c->iv);
	if (c->iv == 8)
		memcpy(k->explicit_iv, iv, 8);
	for (i = 0; i < 8; i++)
		k->seq = k->seq << 8 | seq[i];
}

static void tr_be_inc(unsigned char *v, size_t len)
{
	while (len--)
		if (++v[len])
			break;
}

/* The per-record nonce: salt||explicit, or iv XOR the padded sequence. */
static void tr_nonce(const struct tr_keys *k, const unsigned char *explicit,
		     unsigned char *nonce)
{
	int i;

	memcpy(nonce, k->iv, 12);
	if (tr_explicit(k)) {
		memcpy(nonce + 4, explicit, 8);
		return;
	}
	for (i = 0; i < 8; i++)
		nonce[4 + i] ^= (unsigned char)(k->seq >> (56 - 8 * i));
}

static size_t tr_aad(const struct tr_keys *k, uint8_t type, size_t len,
		     const uint8_t *hdr, unsigned char *aad)
{
	int i;

	if (tr_tls13(k)) {
		memcpy(aad, hdr, TR_HDR);
		return TR_HDR;
	}
	for (i = 0; i < 8; i++)
		aad[i] = (unsigned char)(k->seq >> (56 - 8 * i));
	aad[8] = type;
	aad[9] = 0x03;
	aad[10] = 0x03;
	aad[11] = (unsigned char)(len >> 8);
	aad[12] = (unsigned char)len;
	return 13;
}

static const EVP_CIPHER *tr_evp(const struct tr_keys *k)
{
	const struct kt_cipher *c = kt_cipher(k->cipher);

	return c ? EVP_get_cipherbyname(c->evp) : NULL;
}

/* One AEAD operation; enc: tag is written, else checked.  0 on success. */
static int tr_aead(const struct tr_keys *k, int enc, const unsigned char *nonce,
		   const unsigned char *aad, size_t aadlen,
		   const unsigned char *in, size_t len, unsigned char *out,
		   unsigned char *tag)
{
	const EVP_CIPHER *cipher = tr_evp(k);
	EVP_CIPHER_CTX *ctx;
	unsigned char dummy;
	int ok = 0, n;

	if (!cipher) {
		tr_set_error("no EVP cipher for %u", k->cipher);
		return -1;
	}
	ctx = EVP_CIPHER_CTX_new();
	if (!ctx)
		return -1;
	if (!EVP_CipherInit_ex(ctx, cipher, NULL, NULL, NULL, enc) ||
	    !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, 12, NULL))
		goto out;
	if (tr_is_ccm(k) &&
	    !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, TR_TAG,
				 enc ? NULL : tag))
		goto out;
	if (!EVP_CipherInit_ex(ctx, NULL, NULL, k->key, nonce, enc))
		goto out;
	/* CCM wants the message length before the AAD. */
	if (tr_is_ccm(k) &&
	    !EVP_CipherUpdate(ctx, NULL, &n, NULL, (int)len))
		goto out;
	if (!EVP_CipherUpdate(ctx, NULL, &n, aad, (int)aadlen))
		goto out;
	if (!tr_is_ccm(k) && !enc &&
	    !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, TR_TAG, tag))
		goto out;
	if (!EVP_CipherUpdate(ctx, len ? out : &dummy, &n, len ? in : &dummy,
			      (int)len))
		goto out;
	/* CCM decryption authenticates in the update. */
	if (!(tr_is_ccm(k) && !enc) &&
	    !EVP_CipherFinal_ex(ctx, out + len, &n))
		goto out;
	if (enc && !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, TR_TAG,
					tag))
		goto out;
	ok = 1;
out:
	EVP_CIPHER_CTX_free(ctx);
	if (!ok)
		tr_set_error("%s failed (seq %llu)",
			     enc ? "seal" : "authentication",
			     (unsigned long long)k->seq);
	return ok ? 0 : -1;
}

size_t tr_seal(struct tr_keys *k, uint8_t type, const void *pt, size_t len,
	       uint8_t *out)
{
	/* TLS 1.3 type 0: pt already is the inner text (type + padding). */
	int add_type = tr_tls13(k) && type;
	size_t ex = tr_explicit(k), inner = len + add_type;
	size_t reclen = ex + inner + TR_TAG;
	unsigned char nonce[12], aad[13];
	uint8_t *body = out + TR_HDR + ex;
	size_t aadlen;

	out[0] = tr_tls13(k) ? 23 : type;
	out[1] = 0x03;
	out[2] = 0x03;
	out[3] = (uint8_t)(reclen >> 8);
	out[4] = (uint8_t)reclen;
	memcpy(out + TR_HDR, k->explicit_iv, ex);
	memmove(body, pt, len);
	if (add_type)
		body[len] = type;
	tr_nonce(k, k->explicit_iv, nonce);
	aadlen = tr_aad(k, type, len, out, aad);
	if (tr_aead(k, 1, nonce, aad, aadlen, body, inner, body,
		    body + inner))
		return 0;
	k->seq++;
	if (ex)
		tr_be_inc(k->explicit_iv, 8);
	return TR_HDR + reclen;
}

ssize_t tr_open(struct tr_keys *k, const uint8_t *buf, size_t avail,
		uint8_t *type, uint8_t *pt, size_t *ptlen)
{
	size_t ex = tr_explicit(k), reclen, inner, aadlen;
	unsigned char nonce[12], aad[13];
	const uint8_t *body;

	if (avail < TR_HDR)
		return 0;
	reclen = (size_t)buf[3] << 8 | buf[4];
	if (buf[1] != 0x03 || buf[2] != 0x03) {
		tr_set_error("bad version %02x%02x", buf[1], buf[2]);
		return -1;
	}
	if (tr_tls13(k) && buf[0] != 23) {
		tr_set_error("TLS 1.3 outer type %u", buf[0]);
		return -1;
	}
	if (reclen < ex + TR_TAG + tr_tls13(k) ||
	    reclen > TR_MAX_PT + 256) {
		tr_set_error("bad record length %zu", reclen);
		return -1;
	}
	if (avail < TR_HDR + reclen)
		return 0;
	body = buf + TR_HDR + ex;
	inner = reclen - ex - TR_TAG;
	tr_nonce(k, buf + TR_HDR, nonce);
	aadlen = tr_aad(k, buf[0], inner, buf, aad);
	if (tr_aead(k, 0, nonce, aad, aadlen, body, inner, pt,
		    (unsigned char *)body + inner))
		return -1;
	if (tr_tls13(k)) {
		/* The content type is the last non-zero byte (RFC 8446 5.4). */
		while (inner && !pt[inner - 1])
			inner--;
		if (!inner) {
			tr_set_error("TLS 1.3 record without content type");
			return -1;
		}
		*type = pt[--inner];
	} else {
		if (inner > TR_MAX_PT) {
			tr_set_error("plaintext %zu > 2^14", inner);
			return -1;
		}
		*type = buf[0];
	}
	*ptlen = inner;
	k->seq++;
	return (ssize_t)(TR_HDR + reclen);
}
