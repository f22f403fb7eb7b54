/* SPDX-License-Identifier: MIT */
/* libktls internals shared by the files in lib/. */
#ifndef KTLS_LIB_INTERNAL_H
#define KTLS_LIB_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <ktls.h>

#define KL_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* One direction's keys in the UAPI layout (tls12_crypto_info_*). */
union ktls_crypto_info {
	struct tls_crypto_info info;
	struct tls12_crypto_info_aes_gcm_128 gcm128;
	struct tls12_crypto_info_aes_gcm_256 gcm256;
	struct tls12_crypto_info_aes_ccm_128 ccm128;
	struct tls12_crypto_info_chacha20_poly1305 chacha;
	unsigned char raw[64];
};

struct ktls_hs_state;

/*
 * Private since API 0.2 (ktls.h declares it only): programs use the
 * accessors, so fields can change without breaking them.
 */
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
	int code;			/* enum ktls_error of the last failure */
	/*
	 * Records OpenSSL sent/received under the application traffic keys
	 * before the handover (its msg callback counts them): the kernel's
	 * first rec_seq in each direction.
	 */
	uint64_t rec_tx, rec_rx;
	int fallback;			/* userspace TLS: ssl carries the data */
	char fallback_reason[KTLS_ERR_LEN];
	struct ktls_hs_state *hstate;	/* a handshake in progress */
	/* Serialises TX (ktls_send, ktls_sendfile, KeyUpdate). */
	pthread_mutex_t tx_lock;
	/*
	 * The peer asked for our KeyUpdate (update_requested) and it is not
	 * sent yet; whoever takes tx_lock next sends it first (kl_tx_lock).
	 * ku_failed: sending such an answer failed after its reader left.
	 */
	atomic_int ku_owed, ku_failed;
	/* Directions the kernel rekeys (1 TX, 2 RX); generations traced. */
	unsigned int kernel_ku;
	_Atomic uint32_t gen_seen[2];
	char err[KTLS_ERR_LEN];
};

/* Format into buf; append OpenSSL's queued reasons (and clear them). */
void kl_err_ssl(char *buf, size_t len, const char *fmt, ...) KL_PRINTF(3, 4);
/* Format into buf; append strerror(errno). */
void kl_err_sys(char *buf, size_t len, const char *fmt, ...) KL_PRINTF(3, 4);
/* A --trace line, prefixed with the session's tag; no-op without trace. */
void kl_trace(const struct ktls_session *s, const char *fmt, ...)
	KL_PRINTF(2, 3);
/* Hex of n bytes into out (room for 2n+1). */
char *kl_hex(char *out, const unsigned char *p, size_t n);

/* The ex_data slot that points an SSL at its ktls_session. */
int kl_ssl_index(void);
/* SSL_CTX keylog callback: TLS 1.3 secrets into the session, NSS log. */
void kl_keylog_cb(const SSL *ssl, const char *line);
/* The handshake's socket BIO (MSG_DONTWAIT | MSG_NOSIGNAL). */
BIO *kl_bio_new(int fd);
/* Our keylog callback on ctx, chaining the application's. 0 or -1. */
int kl_keylog_chain(SSL_CTX *ctx);
/* SSL msg callback for --trace. */
void kl_trace_msg(int write_p, int version, int content_type,
		  const void *buf, size_t len, SSL *ssl, void *arg);
/* After the handshake: certificate, group, suite. */
void kl_trace_summary(const struct ktls_session *s, SSL *ssl);

/* TLS 1.3 KeyUpdate: next secret of one direction into s->tx or s->rx. */
int kl_next_keys13(struct ktls_session *s, int tx);

/* Bits of s->kernel_ku: the directions the kernel rekeys. */
#define KL_KU_TX	1
#define KL_KU_RX	2
/* --trace: the kernel's key generations, when they changed (errno kept). */
void kl_trace_gen(struct ktls_session *s);
/* KeyUpdate through the kernel (KTLS_TX_KEY_UPDATE). 0 or -1 (s->err). */
int kl_kernel_key_update(struct ktls_session *s, int request_peer);

/* Fallback: application data through s->ssl (userspace TLS). */
ssize_t kl_ssl_recv(struct ktls_session *s, void *buf, size_t len);
void kl_ssl_close_notify(struct ktls_session *s);
/*
 * tx_lock with the KeyUpdate the peer is owed sent first: 0, or -1 with
 * the session's error set (the lock is released then).  kl_tx_unlock()
 * releases it and sends an answer owed meanwhile if nobody holds it.
 */
int kl_tx_lock(struct ktls_session *s);
void kl_tx_unlock(struct ktls_session *s);

#endif /* KTLS_LIB_INTERNAL_H */
