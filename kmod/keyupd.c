// SPDX-License-Identifier: GPL-2.0
/*
 * In-kernel TLS 1.3 KeyUpdate: the traffic secret chain of RFC 8446 7.2
 * and the key and IV of 7.3, with the crypto API's HMAC (HKDF-Expand is
 * HMAC; every output here fits in one HMAC block, T(1)).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <crypto/aead.h>
#include <crypto/algapi.h>
#include <crypto/hash.h>
#include <linux/err.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "keyupd.h"

#define KTLS_HKDF_PREFIX	"tls13 "
/* u16 length, u8 label length, "tls13 " label, u8 context length (0) */
#define KTLS_HKDF_INFO_MAX	(2 + 1 + 6 + 12 + 1)
#define KTLS_TLS13_IV		12

int ktls_hkdf_expand_label(struct crypto_shash *hmac, const u8 *secret,
			   unsigned int secret_len, const char *label,
			   u8 *out, unsigned int len)
{
	unsigned int plen = strlen(KTLS_HKDF_PREFIX), llen = strlen(label);
	u8 info[KTLS_HKDF_INFO_MAX + 1], t[HASH_MAX_DIGESTSIZE];
	SHASH_DESC_ON_STACK(desc, hmac);
	unsigned int n = 0;
	int rc;

	if (len > crypto_shash_digestsize(hmac) ||
	    3 + plen + llen + 1 > KTLS_HKDF_INFO_MAX)
		return -EINVAL;
	info[n++] = len >> 8;
	info[n++] = len & 0xff;
	info[n++] = plen + llen;
	memcpy(info + n, KTLS_HKDF_PREFIX, plen);
	n += plen;
	memcpy(info + n, label, llen);
	n += llen;
	info[n++] = 0;		/* empty context */
	info[n++] = 1;		/* HKDF-Expand's block counter: T(1) */

	rc = crypto_shash_setkey(hmac, secret, secret_len);
	if (rc)
		return rc;
	desc->tfm = hmac;
	rc = crypto_shash_digest(desc, info, n, t);
	shash_desc_zero(desc);
	if (!rc)
		memcpy(out, t, len);
	memzero_explicit(t, sizeof(t));
	return rc;
}

/* Key and IV of RFC 8446 7.3 from a traffic secret. */
static int ktls_ku_key_iv(const struct ktls_ku *ku, const u8 *secret,
			  const struct ktls_cipher *ci, u8 *key, u8 *iv)
{
	int rc;

	rc = ktls_hkdf_expand_label(ku->hmac, secret, ku->len, "key", key,
				    ci->key_size);
	if (rc)
		return rc;
	return ktls_hkdf_expand_label(ku->hmac, secret, ku->len, "iv", iv,
				      KTLS_TLS13_IV);
}

/* Put key and IV where ktls_crypto_init() would have from the UAPI. */
static void ktls_ku_load(struct ktls_crypto *c, const u8 *key, const u8 *iv)
{
	const struct ktls_cipher *ci = c->cipher;
	u8 *raw = c->conf.raw;

	memcpy(raw + ci->key_off, key, ci->key_size);
	memcpy(raw + ci->salt_off, iv, ci->salt_size);
	memcpy(raw + ci->iv_off, iv + ci->salt_size, ci->iv_size);
	memset(raw + ci->rec_seq_off, 0, KTLS_REC_SEQ_SIZE);
	/* salt || iv is the 12-byte static IV of every TLS 1.3 suite. */
	memcpy(c->iv, iv, KTLS_TLS13_IV);
	memset(c->rec_seq, 0, KTLS_REC_SEQ_SIZE);
}

int ktls_ku_step(struct ktls_ku *ku, struct ktls_crypto *c)
{
	const struct ktls_cipher *ci = c->cipher;
	u8 next[KTLS_SECRET_MAX], key[KTLS_MAX_KEY], iv[KTLS_TLS13_IV];
	int rc;

	rc = ktls_hkdf_expand_label(ku->hmac, ku->secret, ku->len,
				    "traffic upd", next, ku->len);
	if (rc)
		goto wipe;
	rc = ktls_ku_key_iv(ku, next, ci, key, iv);
	if (rc)
		goto wipe;
	rc = crypto_aead_setkey(c->aead, key, ci->key_size);
	if (rc)
		goto wipe;
	ktls_ku_load(c, key, iv);
	memcpy(ku->secret, next, ku->len);
wipe:
	memzero_explicit(next, sizeof(next));
	memzero_explicit(key, sizeof(key));
	memzero_explicit(iv, sizeof(iv));
	return rc;
}

void ktls_ku_free(struct ktls_ku *ku)
{
	if (!ku)
		return;
	/* The tfm's copy of the HMAC key is wiped when it is freed. */
	crypto_free_shash(ku->hmac);
	kfree_sensitive(ku);
}

/* The suite's hash (RFC 8446 B.4): KTLS_HASH_*, or 0 if none here. */
static int ktls_ku_suite_hash(const struct ktls_cipher *ci)
{
	switch (ci->type) {
	case TLS_CIPHER_AES_GCM_128:
	case TLS_CIPHER_AES_CCM_128:
	case TLS_CIPHER_CHACHA20_POLY1305:
		return KTLS_HASH_SHA256;
	case TLS_CIPHER_AES_GCM_256:
		return KTLS_HASH_SHA384;
	default:
		return 0;
	}
}

/*
 * Check the secret against what the direction holds and build its chain.
 * Returns 0, or -errno with *why saying which rule the input broke.
 */
static int ktls_ku_new(const struct ktls_crypto *c,
		       const struct ktls_traffic_secret *ts,
		       struct ktls_ku **kup, const char **why)
{
	const struct ktls_cipher *ci = c->cipher;
	u8 key[KTLS_MAX_KEY], iv[KTLS_TLS13_IV];
	unsigned int hlen;
	struct ktls_ku *ku;
	int rc = -EINVAL;

	if (ts->hash != KTLS_HASH_SHA256 && ts->hash != KTLS_HASH_SHA384) {
		*why = "unknown hash";
		return -EINVAL;
	}
	if (ts->hash != ktls_ku_suite_hash(ci)) {
		*why = "not the cipher suite's hash";
		return -EINVAL;
	}
	hlen = ts->hash == KTLS_HASH_SHA256 ? 32 : 48;
	if (ts->len != hlen) {
		*why = "secret length is not the hash's";
		return -EINVAL;
	}

	ku = kzalloc(sizeof(*ku), GFP_KERNEL);
	if (!ku)
		return -ENOMEM;
	ku->hmac = crypto_alloc_shash(hlen == 32 ? "hmac(sha256)" :
				      "hmac(sha384)", 0, 0);
	if (IS_ERR(ku->hmac)) {
		rc = PTR_ERR(ku->hmac);
		ku->hmac = NULL;
		*why = "no HMAC in the crypto API";
		goto free_ku;
	}
	memcpy(ku->secret, ts->secret, hlen);
	ku->len = hlen;

	/* A secret of another generation or direction would fail later. */
	rc = ktls_ku_key_iv(ku, ku->secret, ci, key, iv);
	if (!rc && (crypto_memneq(key, c->conf.raw + ci->key_off,
				  ci->key_size) ||
		    crypto_memneq(iv, c->iv, KTLS_TLS13_IV))) {
		*why = "secret does not derive the key and IV in use";
		rc = -EINVAL;
	}
	memzero_explicit(key, sizeof(key));
	memzero_explicit(iv, sizeof(iv));
	if (rc)
		goto free_ku;
	*kup = ku;
	return 0;

free_ku:
	ktls_ku_free(ku);
	return rc;
}

int ktls_ku_set_secret(struct sock *sk, struct ktls_context *ctx,
		       sockptr_t optval, unsigned int optlen, bool tx)
{
	struct ktls_crypto *c = tx ? &ctx->tx_crypto : &ctx->rx_crypto;
	struct ktls_ku **slot = tx ? &ctx->tx_ku : &ctx->rx_ku;
	struct ktls_traffic_secret *ts;
	struct ktls_ku *ku = NULL;
	const char *why = NULL;
	int rc;

	sock_owned_by_me(sk);
	if (sockptr_is_null(optval) || optlen != sizeof(*ts)) {
		why = "option length is not sizeof(struct ktls_traffic_secret)";
		rc = -EINVAL;
		goto report;
	}
	if (!c->ready) {
		why = "keys (TLS_TX/TLS_RX) not set yet";
		rc = -EINVAL;
		goto report;
	}
	if (c->conf.info.version != TLS_1_3_VERSION) {
		why = "not a TLS 1.3 socket";
		rc = -EINVAL;
		goto report;
	}
	ts = kmalloc(sizeof(*ts), GFP_KERNEL);
	if (!ts)
		return -ENOMEM;
	if (copy_from_sockptr(ts, optval, sizeof(*ts))) {
		rc = -EFAULT;
		goto free_ts;
	}
	rc = ktls_ku_new(c, ts, &ku, &why);
	if (rc)
		goto free_ts;
	/* Replacing a chain: the old secret goes now. */
	ktls_ku_free(*slot);
	*slot = ku;
free_ts:
	kfree_sensitive(ts);
report:
	if (why)
		pr_warn_ratelimited("%s: %s\n",
				    tx ? "KTLS_TX_SECRET" : "KTLS_RX_SECRET",
				    why);
	return rc;
}
