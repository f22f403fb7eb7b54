// SPDX-License-Identifier: MIT
/* SSL_CTX setup for libktls, and a self-signed certificate when none given. */
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "internal.h"

/* ECDHE with the AEADs the kernel implements; RSA or ECDSA certificates. */
static const char kl_tls12_ciphers[] =
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
static const char kl_tls13_suites[] =
	"TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:"
	"TLS_CHACHA20_POLY1305_SHA256";

int ktls_ctx_prepare(SSL_CTX *ctx, char *err, size_t errlen)
{
	if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION)) {
		kl_err_ssl(err, errlen, "SSL_CTX: cannot require TLS 1.2+");
		return -1;
	}
	/*
	 * Our code installs the keys: OpenSSL's own kTLS (also switchable on
	 * by "Options = KTLS" in a system config) must stay off, and nothing
	 * may change keys or read ahead behind the kernel's back.
	 */
	SSL_CTX_clear_options(ctx, SSL_OP_ENABLE_KTLS);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
			    SSL_OP_NO_COMPRESSION);
	SSL_CTX_set_read_ahead(ctx, 0);
	/* TLS 1.3 tickets stay on: their records are counted (rec_seq). */
	if (kl_keylog_chain(ctx)) {
		snprintf(err, errlen, "SSL_CTX: keylog callback: out of memory");
		return -1;
	}
	return 0;
}

static EVP_PKEY *kl_self_signed(SSL_CTX *ctx, char *err, size_t errlen)
{
	EVP_PKEY *pkey = EVP_EC_gen("P-256");
	X509_NAME *name;
	X509 *x = NULL;
	unsigned char r[2] = { 0 };

	if (!pkey) {
		kl_err_ssl(err, errlen, "self-signed certificate: P-256 key");
		return NULL;
	}
	x = X509_new();
	if (!x || RAND_bytes(r, sizeof(r)) != 1 || !X509_set_version(x, 2) ||
	    !ASN1_INTEGER_set(X509_get_serialNumber(x), 1 + (r[0] << 8 | r[1])) ||
	    !X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
	    !X509_gmtime_adj(X509_getm_notAfter(x), 30L * 24 * 3600) ||
	    !X509_set_pubkey(x, pkey))
		goto fail;
	name = X509_get_subject_name(x);
	if (!X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
					(const unsigned char *)"ktls-serve",
					-1, -1, 0) ||
	    !X509_set_issuer_name(x, name) ||
	    !X509_sign(x, pkey, EVP_sha256()) ||
	    !SSL_CTX_use_certificate(ctx, x) ||
	    !SSL_CTX_use_PrivateKey(ctx, pkey))
		goto fail;
	X509_free(x);
	return pkey;
fail:
	kl_err_ssl(err, errlen, "self-signed certificate");
	X509_free(x);
	EVP_PKEY_free(pkey);
	return NULL;
}

SSL_CTX *ktls_ctx_new(int server, const char *cert, const char *key,
		      char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() :
					    TLS_client_method());

	if (!ctx) {
		kl_err_ssl(err, errlen, "SSL_CTX_new");
		return NULL;
	}
	if (ktls_ctx_prepare(ctx, err, errlen))
		goto fail;
	if (!SSL_CTX_set_cipher_list(ctx, kl_tls12_ciphers) ||
	    !SSL_CTX_set_ciphersuites(ctx, kl_tls13_suites)) {
		kl_err_ssl(err, errlen, "SSL_CTX: cipher lists");
		goto fail;
	}
	if (cert) {
		if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
			kl_err_ssl(err, errlen, "certificate %s", cert);
			goto fail;
		}
		if (SSL_CTX_use_PrivateKey_file(ctx, key ? key : cert,
						SSL_FILETYPE_PEM) != 1 ||
		    SSL_CTX_check_private_key(ctx) != 1) {
			kl_err_ssl(err, errlen, "private key %s",
				   key ? key : cert);
			goto fail;
		}
	} else if (server) {
		EVP_PKEY *pkey = kl_self_signed(ctx, err, errlen);

		if (!pkey)
			goto fail;
		EVP_PKEY_free(pkey);
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}
