// SPDX-License-Identifier: MIT
/*
 * Traffic keys from the handshake secrets, with OpenSSL's EVP_KDF:
 * TLS 1.2: key block = PRF(master secret, "key expansion",
 *          server_random || client_random) (RFC 5246 6.3);
 * TLS 1.3: key/iv = HKDF-Expand-Label(traffic secret, "key"/"iv", "")
 *          (RFC 8446 7.3).
 * The UAPI structs want the 12-byte nonce base split into salt and iv.
 */
#include <errno.h>
#include <string.h>
#include <arpa/inet.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/kdf.h>
#include <openssl/obj_mac.h>

#include "internal.h"

struct kl_suite {
	int nid;		/* the AEAD's NID */
	uint16_t cipher;	/* TLS_CIPHER_* */
	const char *name;
	size_t key, salt, iv;	/* UAPI field sizes */
	size_t fixed12;		/* TLS 1.2 implicit iv bytes in the key block */
	size_t info_len;
};

static const struct kl_suite kl_suites[] = {
	{ NID_aes_128_gcm, TLS_CIPHER_AES_GCM_128, "AES-GCM-128", 16, 4, 8, 4,
	  sizeof(struct tls12_crypto_info_aes_gcm_128) },
	{ NID_aes_256_gcm, TLS_CIPHER_AES_GCM_256, "AES-GCM-256", 32, 4, 8, 4,
	  sizeof(struct tls12_crypto_info_aes_gcm_256) },
	{ NID_aes_128_ccm, TLS_CIPHER_AES_CCM_128, "AES-CCM-128", 16, 4, 8, 4,
	  sizeof(struct tls12_crypto_info_aes_ccm_128) },
	{ NID_chacha20_poly1305, TLS_CIPHER_CHACHA20_POLY1305,
	  "ChaCha20-Poly1305", 32, 0, 12, 12,
	  sizeof(struct tls12_crypto_info_chacha20_poly1305) },
};

#define N_SUITES (sizeof(kl_suites) / sizeof(kl_suites[0]))

static const struct kl_suite *kl_suite_by_cipher(uint16_t cipher)
{
	size_t i;

	for (i = 0; i < N_SUITES; i++)
		if (kl_suites[i].cipher == cipher)
			return &kl_suites[i];
	return NULL;
}

const char *ktls_cipher_name(uint16_t cipher)
{
	const struct kl_suite *su = kl_suite_by_cipher(cipher);

	return su ? su->name : "unknown cipher";
}

const char *ktls_version_name(uint16_t version)
{
	switch (version) {
	case TLS_1_2_VERSION:
		return "TLS 1.2";
	case TLS_1_3_VERSION:
		return "TLS 1.3";
	}
	return "unknown TLS version";
}

/* UAPI layout: {version, cipher_type} iv key salt rec_seq. */
static void kl_fill(union ktls_crypto_info *ci, uint16_t version,
		    const struct kl_suite *su, const unsigned char *key,
		    const unsigned char *nonce12, uint64_t seq)
{
	unsigned char *p = ci->raw + sizeof(struct tls_crypto_info);
	uint32_t hi = htonl((uint32_t)(seq >> 32)), lo = htonl((uint32_t)seq);

	memset(ci, 0, sizeof(*ci));
	ci->info.version = version;
	ci->info.cipher_type = su->cipher;
	memcpy(p, nonce12 + su->salt, su->iv);
	p += su->iv;
	memcpy(p, key, su->key);
	p += su->key;
	memcpy(p, nonce12, su->salt);
	p += su->salt;
	memcpy(p, &hi, 4);
	memcpy(p + 4, &lo, 4);
}

/* TLS 1.2: fixed iv, then (GCM/CCM) the explicit nonce start, seq. */
static void kl_nonce12(unsigned char *nonce, const unsigned char *fixed,
		       const struct kl_suite *su, uint64_t seq)
{
	int i;

	memcpy(nonce, fixed, su->fixed12);
	if (su->fixed12 != 4)
		return;
	for (i = 0; i < 8; i++)
		nonce[4 + i] = (unsigned char)(seq >> (56 - 8 * i));
}

/*
 * Fetched once per process: a fetch walks OpenSSL's provider store under
 * its locks, and a handshake derives four times (bench-serve-profile).
 * Kept until exit, like OpenSSL's own cached methods.
 */
static EVP_KDF *kl_kdfs[2];
static pthread_once_t kl_kdfs_once = PTHREAD_ONCE_INIT;
static const char *const kl_kdf_names[2] = { "TLS1-PRF", "TLS13-KDF" };

static void kl_kdfs_fetch(void)
{
	int i;

	for (i = 0; i < 2; i++)
		kl_kdfs[i] = EVP_KDF_fetch(NULL, kl_kdf_names[i], NULL);
}

static int kl_kdf(struct ktls_session *s, int tls13, OSSL_PARAM *params,
		  unsigned char *out, size_t len)
{
	EVP_KDF_CTX *kctx;
	int ok;

	pthread_once(&kl_kdfs_once, kl_kdfs_fetch);
	kctx = kl_kdfs[tls13] ? EVP_KDF_CTX_new(kl_kdfs[tls13]) : NULL;
	ok = kctx && EVP_KDF_derive(kctx, out, len, params) > 0;
	if (!ok)
		kl_err_ssl(s->err, sizeof(s->err),
			   "key derivation: EVP_KDF %s failed",
			   kl_kdf_names[tls13]);
	EVP_KDF_CTX_free(kctx);
	return ok ? 0 : -1;
}

static int kl_derive12(struct ktls_session *s, SSL *ssl, const EVP_MD *md,
		       const struct kl_suite *su)
{
	static const char label[] = "key expansion";
	unsigned char ms[SSL_MAX_MASTER_KEY_LENGTH], seed[13 + 64];
	unsigned char block[2 * 32 + 2 * 12], nonce[12];
	const unsigned char *ckey, *skey, *civ, *siv;
	size_t ms_len, blen = 2 * su->key + 2 * su->fixed12;
	SSL_SESSION *sess = SSL_get_session(ssl);
	OSSL_PARAM params[4];
	int rc = -1;

	ms_len = sess ? SSL_SESSION_get_master_key(sess, ms, sizeof(ms)) : 0;
	if (!ms_len) {
		kl_err_ssl(s->err, sizeof(s->err),
			   "key derivation: no TLS 1.2 master secret");
		return -1;
	}
	memcpy(seed, label, 13);
	SSL_get_server_random(ssl, seed + 13, 32);
	SSL_get_client_random(ssl, seed + 13 + 32, 32);
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
			(char *)EVP_MD_get0_name(md), 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SECRET,
						      ms, ms_len);
	params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SEED,
						      seed, sizeof(seed));
	params[3] = OSSL_PARAM_construct_end();
	if (kl_kdf(s, 0, params, block, blen))
		goto out;

	/* client key, server key, client iv, server iv (no MAC keys). */
	ckey = block;
	skey = block + su->key;
	civ = block + 2 * su->key;
	siv = civ + su->fixed12;
	kl_trace(s, "keys: TLS1-PRF(%s, master secret, \"key expansion\", server_random || client_random) -> %zu-byte key block: client key %zu, server key %zu, client iv %zu, server iv %zu",
		 EVP_MD_get0_name(md), blen, su->key, su->key, su->fixed12,
		 su->fixed12);

	/*
	 * rec_seq: the records OpenSSL sent/read under these keys (Finished
	 * was record 0).  For GCM/CCM the explicit nonce is ours to choose:
	 * start it at the sequence number, as most stacks do.
	 */
	kl_nonce12(nonce, s->server ? siv : civ, su, s->rec_tx);
	kl_fill(&s->tx, TLS_1_2_VERSION, su, s->server ? skey : ckey, nonce,
		s->rec_tx);
	kl_nonce12(nonce, s->server ? civ : siv, su, s->rec_rx);
	kl_fill(&s->rx, TLS_1_2_VERSION, su, s->server ? ckey : skey, nonce,
		s->rec_rx);
	kl_trace(s, "keys: salt = implicit iv (%zu bytes), iv = explicit nonce start (%zu bytes), rec_seq TX %llu RX %llu (Finished was record 0; records counted in OpenSSL's msg callback)",
		 su->salt, su->iv, (unsigned long long)s->rec_tx,
		 (unsigned long long)s->rec_rx);
	rc = 0;
out:
	OPENSSL_cleanse(ms, sizeof(ms));
	OPENSSL_cleanse(block, sizeof(block));
	OPENSSL_cleanse(nonce, sizeof(nonce));
	return rc;
}

static int kl_expand_label(struct ktls_session *s, const EVP_MD *md,
			   unsigned char *secret, size_t slen,
			   const char *label, unsigned char *out, size_t len)
{
	static const char prefix[] = "tls13 ";
	int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY;
	OSSL_PARAM params[6];

	params[0] = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
	params[1] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
			(char *)EVP_MD_get0_name(md), 0);
	params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
						      secret, slen);
	params[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PREFIX,
			(unsigned char *)prefix, 6);
	params[4] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_LABEL,
			(unsigned char *)label, strlen(label));
	params[5] = OSSL_PARAM_construct_end();
	return kl_kdf(s, 1, params, out, len);
}

static int kl_derive13(struct ktls_session *s, const EVP_MD *md,
		       const struct kl_suite *su)
{
	unsigned char key[2][32], iv[2][12];
	unsigned char *sec[2] = { s->secret_c, s->secret_s };
	int i, rc = -1, mine = s->server ? 1 : 0;

	if (!s->secret_len ||
	    s->secret_len != (size_t)EVP_MD_get_size(md)) {
		snprintf(s->err, sizeof(s->err),
			 "key derivation: TLS 1.3 traffic secrets not seen (keylog callback not set on this SSL_CTX? use ktls_ctx_prepare)");
		return -1;
	}
	for (i = 0; i < 2; i++)
		if (kl_expand_label(s, md, sec[i], s->secret_len, "key",
				    key[i], su->key) ||
		    kl_expand_label(s, md, sec[i], s->secret_len, "iv",
				    iv[i], 12))
			goto out;
	kl_trace(s, "keys: HKDF-Expand-Label(%s, CLIENT/SERVER_TRAFFIC_SECRET_0, \"key\", \"\", %zu) and (\"iv\", \"\", 12); salt = iv[0..%zu], iv = iv[%zu..12]",
		 EVP_MD_get0_name(md), su->key, su->salt, su->salt);
	/* Records already under the application traffic keys: tickets. */
	kl_fill(&s->tx, TLS_1_3_VERSION, su, key[mine], iv[mine], s->rec_tx);
	kl_fill(&s->rx, TLS_1_3_VERSION, su, key[!mine], iv[!mine], s->rec_rx);
	kl_trace(s, "keys: rec_seq TX %llu RX %llu (records OpenSSL sent/read under the application traffic secrets, counted in its msg callback)",
		 (unsigned long long)s->rec_tx, (unsigned long long)s->rec_rx);
	rc = 0;
out:
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_cleanse(iv, sizeof(iv));
	return rc;
}

int kl_next_keys13(struct ktls_session *s, int tx)
{
	const struct kl_suite *su = kl_suite_by_cipher(s->cipher);
	/* Only TLS_AES_256_GCM_SHA384 hashes with SHA-384. */
	const EVP_MD *md = s->cipher == TLS_CIPHER_AES_GCM_256 ?
			   EVP_sha384() : EVP_sha256();
	unsigned char *sec = (tx == !s->server) ? s->secret_c : s->secret_s;
	unsigned char next[64], key[32], iv[12];
	int rc = -1;

	if (!su || s->version != TLS_1_3_VERSION || !s->secret_len ||
	    s->secret_len != (size_t)EVP_MD_get_size(md)) {
		snprintf(s->err, sizeof(s->err),
			 "key update: no TLS 1.3 traffic secret to update");
		errno = EINVAL;
		return -1;
	}
	/* RFC 8446 7.2: the next secret, then its key and iv as before. */
	if (kl_expand_label(s, md, sec, s->secret_len, "traffic upd", next,
			    s->secret_len) ||
	    kl_expand_label(s, md, next, s->secret_len, "key", key, su->key) ||
	    kl_expand_label(s, md, next, s->secret_len, "iv", iv, 12))
		goto out;
	memcpy(sec, next, s->secret_len);
	kl_fill(tx ? &s->tx : &s->rx, TLS_1_3_VERSION, su, key, iv, 0);
	kl_trace(s, "keys: %s traffic secret updated (HKDF-Expand-Label \"traffic upd\"), rec_seq 0",
		 tx ? "TX" : "RX");
	rc = 0;
out:
	OPENSSL_cleanse(next, sizeof(next));
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_cleanse(iv, sizeof(iv));
	return rc;
}

int ktls_derive(struct ktls_session *s, SSL *ssl)
{
	const SSL_CIPHER *c = SSL_get_current_cipher(ssl);
	const struct kl_suite *su = NULL;
	const EVP_MD *md;
	size_t i;
	int nid, ver = SSL_version(ssl);

	if (!c) {
		snprintf(s->err, sizeof(s->err),
			 "key derivation: no cipher negotiated");
		return -1;
	}
	nid = SSL_CIPHER_get_cipher_nid(c);
	s->suite = SSL_CIPHER_get_name(c);
	/*
	 * CCM_8 suites share NID_aes_128_ccm with CCM but use an 8-byte tag;
	 * the kernel's AES-CCM-128 has a 16-byte one.
	 */
	if (!strstr(s->suite, "CCM8") && !strstr(s->suite, "CCM_8"))
		for (i = 0; i < N_SUITES; i++)
			if (kl_suites[i].nid == nid)
				su = &kl_suites[i];
	if (!su) {
		snprintf(s->err, sizeof(s->err),
			 "kernel TLS cannot carry suite %s: only AES-GCM, AES-CCM (16-byte tag) and ChaCha20-Poly1305 are offered",
			 s->suite);
		return -1;
	}
	if (ver != TLS1_2_VERSION && ver != TLS1_3_VERSION) {
		snprintf(s->err, sizeof(s->err),
			 "kernel TLS needs TLS 1.2 or 1.3, negotiated %s",
			 SSL_get_version(ssl));
		return -1;
	}
	md = SSL_CIPHER_get_handshake_digest(c);
	if (!md) {
		kl_err_ssl(s->err, sizeof(s->err),
			   "key derivation: no digest for %s", s->suite);
		return -1;
	}
	s->cipher = su->cipher;
	s->info_len = su->info_len;
	if (ver == TLS1_2_VERSION) {
		s->version = TLS_1_2_VERSION;
		return kl_derive12(s, ssl, md, su);
	}
	s->version = TLS_1_3_VERSION;
	return kl_derive13(s, md, su);
}
