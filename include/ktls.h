/* SPDX-License-Identifier: GPL-2.0 */
/*
 * libktls: OpenSSL runs the TLS handshake, libktls derives the traffic keys
 * from the handshake secrets (EVP_KDF) and hands them to the kernel with
 * TCP_ULP + SOL_TLS.  After that the socket carries TLS records by itself:
 * write()/sendfile() encrypt, read() decrypts; ktls_recv() also handles the
 * control records (alerts, NewSessionTicket, KeyUpdate) and ktls_close()
 * sends close_notify.
 *
 * Every call that can fail returns -1 and leaves a readable message in
 * session->err (which step failed and why, with OpenSSL's reason).
 */
#ifndef KTLS_LIB_H
#define KTLS_LIB_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <openssl/ssl.h>
#include <ktls/tls_uapi.h>

#define KTLS_ERR_LEN	320

/* One direction's keys in the UAPI layout (tls12_crypto_info_*). */
union ktls_crypto_info {
	struct tls_crypto_info info;
	struct tls12_crypto_info_aes_gcm_128 gcm128;
	struct tls12_crypto_info_aes_gcm_256 gcm256;
	struct tls12_crypto_info_aes_ccm_128 ccm128;
	struct tls12_crypto_info_chacha20_poly1305 chacha;
	unsigned char raw[64];
};

/* ktls_opts.flags */
#define KTLS_F_NO_TX		0x1	/* derive but do not install TX */
#define KTLS_F_NO_RX		0x2	/* derive but do not install RX */
#define KTLS_F_NO_INSTALL	(KTLS_F_NO_TX | KTLS_F_NO_RX)
#define KTLS_F_KEEP_SSL		0x4	/* keep session->ssl after the handshake */
/* TLS 1.3: let the kernel handle KeyUpdate if it can (ktls_kernel_rekey) */
#define KTLS_F_KERNEL_REKEY	0x8

struct ktls_opts {
	const char *ulp;	/* TCP ULP name; NULL: $KTLS_ULP or "tls" */
	FILE *trace;		/* --trace: the handshake step by step */
	const char *tag;	/* trace line prefix, e.g. "conn 7" */
	FILE *keylog;		/* NSS key log (the only place secrets go) */
	unsigned int flags;
	int timeout_ms;		/* handshake I/O timeout; 0: none */
};

struct ktls_session {
	int fd;
	int server;
	uint16_t version;		/* TLS_1_2_VERSION or TLS_1_3_VERSION */
	uint16_t cipher;		/* TLS_CIPHER_* */
	const char *suite;		/* OpenSSL's suite name */
	size_t info_len;		/* bytes of tx/rx that setsockopt takes */
	union ktls_crypto_info tx, rx;
	int tx_on, rx_on;		/* installed in the kernel */
	int peer_closed;		/* close_notify seen */
	uint16_t max_payload;		/* negotiated max_fragment_length; 0 */
	SSL *ssl;			/* only with KTLS_F_KEEP_SSL */
	/* Post-handshake messages may span records or the caller's buffer. */
	unsigned char *hs;
	size_t hs_len, hs_cap;
	const struct ktls_opts *opts;
	/* TLS 1.3 application traffic secrets, from the keylog callback. */
	unsigned char secret_c[64], secret_s[64];
	size_t secret_len;
	char err[KTLS_ERR_LEN];
};

/*
 * An SSL_CTX set up for libktls: TLS 1.2..1.3, the AEAD suites the kernel
 * offers, OpenSSL's own kTLS off, no renegotiation, no read-ahead, no TLS
 * 1.3 tickets from servers.  cert/key: PEM paths; a server without them
 * gets a fresh self-signed ECDSA P-256 certificate.  NULL on error (err).
 */
SSL_CTX *ktls_ctx_new(int server, const char *cert, const char *key,
		      char *err, size_t errlen);
/* The same settings on a caller's SSL_CTX. 0 or -1 (err). */
int ktls_ctx_prepare(SSL_CTX *ctx, char *err, size_t errlen);

/*
 * Handshake on a connected blocking TCP fd, derive the keys, install TX and
 * RX (unless opts->flags say not to).  opts may be NULL.  0 or -1 (s->err).
 */
int ktls_handshake(struct ktls_session *s, SSL_CTX *ctx, int fd, int server,
		   const struct ktls_opts *opts);
/* Derive s->tx/s->rx from a finished handshake (called by the above). */
int ktls_derive(struct ktls_session *s, SSL *ssl);
/* TCP_ULP + TLS_TX/TLS_RX with s->tx/s->rx. */
int ktls_install(struct ktls_session *s, int tx, int rx);

/*
 * Read application data from a socket with RX installed.  Control records
 * are handled here: NewSessionTicket is dropped, KeyUpdate installs the
 * next RX key (and answers update_requested), close_notify gives 0, other
 * alerts give -1 with s->err set.  errno as recv() otherwise.
 */
ssize_t ktls_recv(struct ktls_session *s, void *buf, size_t len);
/*
 * TLS 1.3 key update from our side: send KeyUpdate (asking the peer to
 * update too if request_peer) and install the next TX key.  A KeyUpdate
 * from the peer is handled inside ktls_recv(): the next RX key goes in,
 * and one asking for ours is answered.  0 or -1 (s->err).
 */
int ktls_key_update(struct ktls_session *s, int request_peer);
/*
 * TLS 1.3 with keys installed: hand the kernel the traffic secrets when it
 * offers in-kernel KeyUpdate (ktls's KTLS_FEATURES probe).  1 if it took
 * them (KeyUpdates never reach ktls_recv() then), 0 if it does not offer
 * it (nothing changed), -1 on error (s->err).  ktls_handshake() calls it
 * with KTLS_F_KERNEL_REKEY.
 */
int ktls_kernel_rekey(struct ktls_session *s);
/* Send an alert record (level, description) through the kernel TX. */
int ktls_send_alert(struct ktls_session *s, uint8_t level, uint8_t desc);
/* close_notify (if TX is installed), close the fd, wipe the keys. */
void ktls_close(struct ktls_session *s);
/* Wipe the keys without touching the fd. */
void ktls_wipe(struct ktls_session *s);

/* "AES-GCM-128", "TLS 1.3", for messages. */
const char *ktls_cipher_name(uint16_t cipher);
const char *ktls_version_name(uint16_t version);

#endif /* KTLS_LIB_H */
