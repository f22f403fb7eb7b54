// SPDX-License-Identifier: GPL-2.0
/* The userspace TLS 1.3 secret chain (see lib_keychain.h). */
#include <string.h>
#include <openssl/core_names.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include "harness.h"
#include "lib_keychain.h"

static const char *kc_md(uint16_t cipher)
{
	return cipher == TLS_CIPHER_AES_GCM_256 ? "SHA384" : "SHA256";
}

void kc_expand_label(uint16_t cipher, const unsigned char *secret,
		     size_t slen, const char *label, unsigned char *out,
		     size_t len)
{
	unsigned char info[2 + 1 + 255 + 1];
	size_t llen = strlen(label), n = 0;
	int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY;
	OSSL_PARAM params[5];
	EVP_KDF_CTX *kctx;
	EVP_KDF *kdf;

	/* struct HkdfLabel: length, "tls13 " + label, empty context. */
	info[n++] = len >> 8;
	info[n++] = len & 0xff;
	info[n++] = 6 + llen;
	memcpy(info + n, "tls13 ", 6);
	n += 6;
	memcpy(info + n, label, llen);
	n += llen;
	info[n++] = 0;

	kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	KT_ASSERT(kdf);
	kctx = EVP_KDF_CTX_new(kdf);
	KT_ASSERT(kctx);
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
						     (char *)kc_md(cipher), 0);
	params[1] = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
	params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
						      (void *)secret, slen);
	params[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
						      info, n);
	params[4] = OSSL_PARAM_construct_end();
	KT_ASSERT(EVP_KDF_derive(kctx, out, len, params) == 1);
	EVP_KDF_CTX_free(kctx);
	EVP_KDF_free(kdf);
}

/* This generation's key and IV into ci (iv, key, salt, rec_seq order). */
static void kc_derive(struct kc_gen *g)
{
	const struct kt_cipher *c = kt_cipher(g->cipher);
	unsigned char iv[12], *p;

	KT_ASSERT(c);
	memset(&g->ci, 0, sizeof(g->ci));
	g->ci.info.version = TLS_1_3_VERSION;
	g->ci.info.cipher_type = g->cipher;
	p = g->ci.raw + sizeof(g->ci.info);
	kc_expand_label(g->cipher, g->secret, g->len, "key", p + c->iv,
			c->key);
	kc_expand_label(g->cipher, g->secret, g->len, "iv", iv, sizeof(iv));
	memcpy(p + c->iv + c->key, iv, c->salt);
	memcpy(p, iv + c->salt, c->iv);
	g->ci_len = c->info_size;
	tr_keys_from_info(&g->k, &g->ci);
}

void kc_init_secret(struct kc_gen *g, uint16_t cipher,
		    const unsigned char *secret, size_t len)
{
	memset(g, 0, sizeof(*g));
	g->cipher = cipher;
	g->len = len;
	memcpy(g->secret, secret, len);
	kc_derive(g);
}

void kc_init(struct kc_gen *g, uint16_t cipher, unsigned int seed)
{
	unsigned char s[KTLS_SECRET_MAX];
	size_t i;

	for (i = 0; i < sizeof(s); i++)
		s[i] = (unsigned char)(seed * 13 + i * 5 + 3);
	kc_init_secret(g, cipher, s,
		       cipher == TLS_CIPHER_AES_GCM_256 ? 48 : 32);
}

void kc_next(struct kc_gen *g)
{
	unsigned char next[KTLS_SECRET_MAX];

	kc_expand_label(g->cipher, g->secret, g->len, "traffic upd", next,
			g->len);
	memcpy(g->secret, next, g->len);
	g->gen++;
	kc_derive(g);
}

void kc_secret_opt(const struct kc_gen *g, struct ktls_traffic_secret *ts)
{
	memset(ts, 0, sizeof(*ts));
	ts->hash = g->len == 48 ? KTLS_HASH_SHA384 : KTLS_HASH_SHA256;
	ts->len = g->len;
	memcpy(ts->secret, g->secret, g->len);
}
