// SPDX-License-Identifier: GPL-2.0
/* The cipher descriptor table: every per-cipher fact in one place. */

#include <linux/kernel.h>
#include <linux/stddef.h>

#include "ktls.h"

#define KTLS_CIPHER(id, st, name, explicit, only12, is_ccm)		\
	{								\
		.type = TLS_CIPHER_##id,				\
		.info_size = sizeof(struct st),				\
		.iv_size = TLS_CIPHER_##id##_IV_SIZE,			\
		.key_size = TLS_CIPHER_##id##_KEY_SIZE,			\
		.salt_size = TLS_CIPHER_##id##_SALT_SIZE,		\
		.tag_size = TLS_CIPHER_##id##_TAG_SIZE,			\
		.explicit_iv = (explicit),				\
		.iv_off = offsetof(struct st, iv),			\
		.key_off = offsetof(struct st, key),			\
		.salt_off = offsetof(struct st, salt),			\
		.rec_seq_off = offsetof(struct st, rec_seq),		\
		.tls12_only = (only12),					\
		.ccm = (is_ccm),					\
		.aead_name = (name),					\
	}

static const struct ktls_cipher ktls_ciphers[] = {
	KTLS_CIPHER(AES_GCM_128, tls12_crypto_info_aes_gcm_128,
		    "gcm(aes)", 8, false, false),
	KTLS_CIPHER(AES_GCM_256, tls12_crypto_info_aes_gcm_256,
		    "gcm(aes)", 8, false, false),
	KTLS_CIPHER(AES_CCM_128, tls12_crypto_info_aes_ccm_128,
		    "ccm(aes)", 8, false, true),
	KTLS_CIPHER(CHACHA20_POLY1305, tls12_crypto_info_chacha20_poly1305,
		    "rfc7539(chacha20,poly1305)", 0, false, false),
	/* Known to the UAPI; Debian kernels lack the ciphers themselves. */
	KTLS_CIPHER(SM4_GCM, tls12_crypto_info_sm4_gcm,
		    "gcm(sm4)", 8, false, false),
	KTLS_CIPHER(SM4_CCM, tls12_crypto_info_sm4_ccm,
		    "ccm(sm4)", 8, false, true),
	KTLS_CIPHER(ARIA_GCM_128, tls12_crypto_info_aria_gcm_128,
		    "gcm(aria)", 8, true, false),
	KTLS_CIPHER(ARIA_GCM_256, tls12_crypto_info_aria_gcm_256,
		    "gcm(aria)", 8, true, false),
};

const struct ktls_cipher *ktls_cipher_find(u16 type)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(ktls_ciphers); i++)
		if (ktls_ciphers[i].type == type)
			return &ktls_ciphers[i];
	return NULL;
}
