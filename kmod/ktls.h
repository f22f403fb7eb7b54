/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ktls core: the per-socket context shared by the control plane (main.c),
 * the cipher table (cipher.c), record helpers (record.c) and the TX and RX
 * layers (tx.c, rx.c).
 */
#ifndef _KTLS_H
#define _KTLS_H

#include <linux/types.h>
#include <linux/tcp.h>
#include <net/inet_connection_sock.h>
#include <net/sock.h>
#include <ktls/tls_uapi.h>
#include <ktls/ktls_ext.h>

#include "compat.h"

#define KTLS_HEADER_SIZE	5
#define KTLS_MAX_PAYLOAD	16384
#define KTLS_TAG_SIZE		16
#define KTLS_MAX_IV		16	/* salt + iv: 4 + 8 or 0 + 12 */
#define KTLS_NONCE_SIZE		12	/* every supported AEAD's nonce */
#define KTLS_AEAD_IV_SIZE	16	/* crypto API iv buffer: CCM needs 16 */
#define KTLS_REC_SEQ_SIZE	8
#define KTLS_MAX_KEY		32
#define KTLS_MAX_INFO		64	/* largest UAPI crypto_info struct */
#define KTLS_AAD12_SIZE		13	/* seq(8) type(1) version(2) len(2) */
#define KTLS_AAD13_SIZE		5	/* the record header */
#define KTLS_MAX_AAD		13

/* TLS content types */
#define KTLS_TYPE_CHANGE_CIPHER_SPEC	20
#define KTLS_TYPE_ALERT			21
#define KTLS_TYPE_HANDSHAKE		22
#define KTLS_TYPE_DATA			23

/* TLS 1.3 handshake message type the RX layer acts on */
#define KTLS_HS_KEY_UPDATE		24

/*
 * One row per cipher the UAPI knows.  Offsets index the user's
 * tls12_crypto_info_* struct; sizes follow include/uapi/linux/tls.h.
 */
struct ktls_cipher {
	u16 type;
	u16 info_size;		/* sizeof the UAPI struct: the only optlen */
	u8 iv_size;		/* the UAPI "iv" field */
	u8 key_size;
	u8 salt_size;
	u8 tag_size;
	u8 explicit_iv;		/* TLS 1.2 nonce bytes carried in a record */
	u8 iv_off, key_off, salt_off, rec_seq_off;
	bool tls12_only;	/* ARIA has no TLS 1.3 suites */
	bool ccm;		/* CCM nonces carry the L' flag byte first */
	const char *aead_name;	/* crypto API algorithm */
};

const struct ktls_cipher *ktls_cipher_find(u16 type);

/* One direction's key state. */
struct ktls_crypto {
	union {
		struct tls_crypto_info info;
		u8 raw[KTLS_MAX_INFO];
	} conf;				/* as the user set it */
	const struct ktls_cipher *cipher;
	struct crypto_aead *aead;
	/*
	 * salt || iv.  For TLS 1.2 GCM/CCM the iv part is the next explicit
	 * nonce and advances per record; otherwise it is the static IV that
	 * is XORed with the sequence number.
	 */
	u8 iv[KTLS_MAX_IV];
	u8 rec_seq[KTLS_REC_SEQ_SIZE];	/* next record, big endian */
	bool ready;
};

struct aead_request;
struct ktls_tx;
struct ktls_rx;

struct ktls_protos;
struct ktls_ku;

struct ktls_context {
	struct sock *sk;
	struct proto *sk_proto;		/* the TCP proto we stand in for */
	struct ktls_protos *protos;	/* ours, built on sk_proto at init */
	void (*sk_write_space)(struct sock *sk);

	u16 version;			/* of whichever direction was set */
	u16 cipher_type;
	u8 zerocopy_sendfile:1;
	u8 rx_no_pad:1;
	u16 tx_max_payload;		/* TLS_TX_MAX_PAYLOAD_LEN */

	struct ktls_crypto tx_crypto;
	struct ktls_crypto rx_crypto;
	struct ktls_tx *tx;		/* owned by tx.c, NULL until TLS_TX */
	struct ktls_rx *rx;		/* owned by rx.c, NULL until TLS_RX */

	/* In-kernel KeyUpdate (keyupd.c); all under the socket lock. */
	struct ktls_ku *tx_ku;		/* NULL: no TX secret */
	struct ktls_ku *rx_ku;		/* NULL: KeyUpdate stops RX */
	u32 tx_gen, rx_gen;		/* KTLS_KEY_GEN */
	u32 tx_rekey_records;		/* KTLS_TX_REKEY_RECORDS, 0: off */
	u32 tx_pad;			/* KTLS_TX_PAD, 0: off */

	struct rcu_head rcu;
};

static inline struct ktls_context *ktls_get_ctx(const struct sock *sk)
{
	const struct inet_connection_sock *icsk = inet_csk(sk);

	/* The socket lock or sk_callback_lock keeps the context alive. */
	return (__force void *)icsk->icsk_ulp_data;
}

/* main.c: swap sk_prot/ops once a direction changes configuration. */
void ktls_update_sk_prot(struct sock *sk, struct ktls_context *ctx);

/*
 * record.c: nonce, AAD and sequence helpers shared by TX and RX.
 * ktls_build_nonce() writes the crypto API iv (KTLS_AEAD_IV_SIZE bytes)
 * from c->iv and c->rec_seq; for TLS 1.2 GCM/CCM RX, overwrite the
 * explicit part with the record's bytes (ktls_nonce_explicit()).
 */
void ktls_build_nonce(const struct ktls_crypto *c, u16 version, u8 *nonce);
unsigned int ktls_build_aad(u8 *aad, u16 version, const u8 *rec_seq,
			    u8 type, u16 len);
u8 *ktls_nonce_explicit(const struct ktls_crypto *c, u8 *nonce);
bool ktls_seq_advance(u8 *rec_seq);
void ktls_iv_advance(struct ktls_crypto *c, u16 version);
unsigned int ktls_record_overhead(const struct ktls_crypto *c, u16 version);
int ktls_crypto_init(struct ktls_crypto *c);
void ktls_crypto_free(struct ktls_crypto *c);
int ktls_aead_req_replace(struct aead_request **req,
			  struct crypto_aead *aead);

#endif /* _KTLS_H */
