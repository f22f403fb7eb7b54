/* SPDX-License-Identifier: MIT */
/*
 * libktls: OpenSSL runs the TLS handshake, libktls derives the traffic keys
 * from the handshake secrets (EVP_KDF) and hands them to the kernel with
 * TCP_ULP + SOL_TLS.  After that the socket carries TLS records by itself:
 * write()/sendfile() encrypt, read() decrypts; ktls_recv() also handles the
 * control records (alerts, NewSessionTicket, KeyUpdate) and ktls_close()
 * sends close_notify.
 *
 * Every call that can fail returns -1; ktls_error() gives the enum
 * ktls_error and ktls_errmsg() a readable message (which step failed and
 * why, with OpenSSL's reason).
 *
 *	struct ktls_session *s = ktls_session_new();
 *	if (ktls_handshake(s, ctx, fd, 0, &opts))
 *		fprintf(stderr, "%s\n", ktls_errmsg(s));
 *	...
 *	ktls_close(s);		close_notify, close(fd)
 *	ktls_session_free(s);
 */
#ifndef KTLS_LIB_H
#define KTLS_LIB_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <openssl/ssl.h>
#include <ktls/tls_uapi.h>

#ifdef __cplusplus
extern "C" {
#endif

#define KTLS_ERR_LEN	320

/* The library's API version; the shared library is libktls.so.MAJOR. */
#define KTLS_VERSION_MAJOR	0
#define KTLS_VERSION_MINOR	2

#define KTLS_NO_TICKETS		(-1)

/* ktls_opts.flags */
#define KTLS_F_NO_TX		0x1	/* derive but do not install TX */
#define KTLS_F_NO_RX		0x2	/* derive but do not install RX */
#define KTLS_F_NO_INSTALL	(KTLS_F_NO_TX | KTLS_F_NO_RX)
#define KTLS_F_KEEP_SSL		0x4	/* keep the SSL: ktls_session_ssl */
/*
 * With this flag an install failure that leaves the socket usable (no
 * ULP, ULP held elsewhere, keys refused before any went in) is not an
 * error: the handshake succeeds, the session keeps its SSL and
 * ktls_send/ktls_recv/ktls_sendfile run in userspace OpenSSL
 * (ktls_fallback_reason() says why).  Opt-in, because a program that
 * writes to the fd itself would then send plaintext: use the ktls_* I/O
 * calls with it.  Without it the kernel path is required.
 */
#define KTLS_F_FALLBACK		0x8
/*
 * TLS 1.3 KeyUpdate in the kernel (ktls_kernel_rekey) is the default when
 * the module offers it; NO_KERNEL_REKEY keeps it in libktls (ktls_recv
 * installs each next RX key, ktls_key_update the TX one).  KERNEL_REKEY,
 * once the opt-in, now makes a refused handover fail the handshake
 * rather than fall back to libktls's rekey.
 */
#define KTLS_F_KERNEL_REKEY	0x10
#define KTLS_F_NO_KERNEL_REKEY	0x20

/* What went wrong, for programs; ktls_errmsg() has the readable message. */
enum ktls_error {
	KTLS_OK = 0,
	KTLS_E_NO_ULP,		/* no TCP ULP of that name (module not loaded) */
	KTLS_E_ULP_TAKEN,	/* name held by another module, or the socket has a ULP */
	KTLS_E_CIPHER,		/* the kernel refused this version/cipher's keys */
	KTLS_E_HANDSHAKE,	/* the TLS handshake failed (OpenSSL's reason) */
	KTLS_E_PEER_ALERT,	/* the peer sent a fatal alert */
	KTLS_E_TIMEOUT,		/* opts->timeout_ms passed */
	KTLS_E_KEY_UPDATE,	/* a KeyUpdate could not be sent or installed */
	KTLS_E_IO,		/* socket error (errno kept) */
	KTLS_E_PEER_CLOSED,	/* the peer closed mid-handshake */
	KTLS_E_PENDING,		/* OpenSSL holds bytes the kernel cannot take over */
	KTLS_E_PROTOCOL,	/* unexpected record or message after the handover */
	KTLS_E_NOMEM,
	KTLS_E_INVALID,		/* bad argument or call in the wrong state */
	KTLS_E_LOCKDOWN,	/* ktls_probe: kernel lockdown refuses unsigned modules */
};

struct ktls_opts {
	const char *ulp;	/* TCP ULP name; NULL: $KTLS_ULP or "tls" */
	FILE *trace;		/* --trace: the handshake step by step */
	const char *tag;	/* trace line prefix, e.g. "conn 7" */
	FILE *keylog;		/* NSS key log (the only place secrets go) */
	unsigned int flags;
	/*
	 * Total handshake deadline, counted from ktls_handshake_start() (or
	 * ktls_handshake()); 0: none.  The socket's own SO_RCVTIMEO and
	 * SO_SNDTIMEO are never changed.
	 */
	int timeout_ms;
	/*
	 * TLS 1.3 tickets a server sends after the handshake: 0 leaves the
	 * SSL_CTX's number (OpenSSL's default is 2), n > 0 sends n,
	 * KTLS_NO_TICKETS sends none.
	 */
	int num_tickets;
	/*
	 * Client: the server's name, sent as SNI and checked against its
	 * certificate (an IP address is checked, not sent); verification
	 * itself is the SSL_CTX's (SSL_VERIFY_PEER).  NULL: neither.
	 */
	const char *server_name;
};

/*
 * A connection's TLS state.  Opaque: get one from ktls_session_new(), read
 * it through the ktls_session_*() accessors, release it with
 * ktls_session_free().
 */
struct ktls_session;

/*
 * An SSL_CTX set up for libktls: TLS 1.2..1.3, the AEAD suites the kernel
 * offers, OpenSSL's own kTLS off, no renegotiation, no read-ahead, and
 * our keylog callback (an application's own, set before or after, still
 * runs).  cert/key: PEM paths; a server without them gets a fresh
 * self-signed ECDSA P-256 certificate.  NULL on error (err).
 */
SSL_CTX *ktls_ctx_new(int server, const char *cert, const char *key,
		      char *err, size_t errlen);
/* The same settings on a caller's SSL_CTX. 0 or -1 (err). */
int ktls_ctx_prepare(SSL_CTX *ctx, char *err, size_t errlen);

/*
 * Handshake on a connected blocking TCP fd, derive the keys, install TX and
 * RX (unless opts->flags say not to).  opts may be NULL.  0 or -1
 * (ktls_errmsg).
 */
int ktls_handshake(struct ktls_session *s, SSL_CTX *ctx, int fd, int server,
		   const struct ktls_opts *opts);
/*
 * Non-blocking handshake, for event loops (epoll/poll):
 *
 *	ktls_handshake_start(s, ctx, fd, server, opts);    fd O_NONBLOCK
 *	while ((r = ktls_handshake_step(s)) > 0)
 *		wait for EPOLLIN (KTLS_STEP_WANT_READ) or EPOLLOUT
 *		(KTLS_STEP_WANT_WRITE) on fd, at most
 *		ktls_handshake_timeout(s) ms, then step again;
 *	r == KTLS_STEP_DONE: keys installed (or the session fell back to
 *	userspace TLS: ktls_fallback_reason());
 *	r == KTLS_STEP_ERROR: ktls_error(s) and ktls_errmsg(s) say why; the
 *	session holds nothing any more (the fd stays open: it is the
 *	caller's).
 *
 * ktls_handshake() is this loop with poll() on a blocking or non-blocking
 * fd.  start returns 0 or -1 (ktls_errmsg; nothing to clean up then).
 * ktls_handshake_abort() drops a handshake still in progress.
 */
enum ktls_step {
	KTLS_STEP_ERROR = -1,
	KTLS_STEP_DONE = 0,
	KTLS_STEP_WANT_READ = 1,
	KTLS_STEP_WANT_WRITE = 2,
};
int ktls_handshake_start(struct ktls_session *s, SSL_CTX *ctx, int fd,
			 int server, const struct ktls_opts *opts);
int ktls_handshake_step(struct ktls_session *s);
/* Milliseconds left of opts->timeout_ms (0 when passed); -1: no deadline. */
int ktls_handshake_timeout(const struct ktls_session *s);
void ktls_handshake_abort(struct ktls_session *s);

/* Both directions' keys from a finished handshake (called by the above). */
int ktls_derive(struct ktls_session *s, SSL *ssl);
/* TCP_ULP + TLS_TX/TLS_RX with the derived keys. */
int ktls_install(struct ktls_session *s, int tx, int rx);

/*
 * Read application data from a socket with RX installed.  Control records
 * are handled here: NewSessionTicket is dropped, KeyUpdate installs the
 * next RX key (and answers update_requested), close_notify gives 0, other
 * alerts give -1 with ktls_errmsg() set.  errno as recv() otherwise.
 */
ssize_t ktls_recv(struct ktls_session *s, void *buf, size_t len);
/*
 * TLS 1.3 key update from our side: send KeyUpdate (asking the peer to
 * update too if request_peer) and install the next TX key.  A KeyUpdate
 * from the peer is handled inside ktls_recv(): the next RX key goes in,
 * and one asking for ours is answered.  When the kernel rekeys TX
 * (ktls_kernel_rekey) it is asked to do both (KTLS_TX_KEY_UPDATE), in
 * order with data and its own updates.  0 or -1 (ktls_errmsg).
 */
int ktls_key_update(struct ktls_session *s, int request_peer);
/*
 * TLS 1.3 with keys installed: hand the kernel the traffic secrets when it
 * offers in-kernel KeyUpdate (ktls's KTLS_FEATURES probe), so it follows
 * and answers the peer's KeyUpdates and steps TX itself.  1 if it took
 * them (KeyUpdates never reach ktls_recv() then), 0 if it does not offer
 * it (nothing changed), -1 on error (ktls_errmsg; a direction it took stays
 * with it).  ktls_handshake() calls it unless KTLS_F_NO_KERNEL_REKEY.
 */
int ktls_kernel_rekey(struct ktls_session *s);
/* Send an alert record (level, description) through the kernel TX. */
int ktls_send_alert(struct ktls_session *s, uint8_t level, uint8_t desc);
/* close_notify (if TX is installed), close the fd, wipe the keys. */
void ktls_close(struct ktls_session *s);
/* Wipe the keys without touching the fd. */
void ktls_wipe(struct ktls_session *s);

/*
 * Application data in either mode: through the kernel, or through
 * the session's SSL when it fell back to userspace TLS.  Return as
 * send(2)/sendfile(2); -1 sets errno, ktls_error() and ktls_errmsg().
 */
ssize_t ktls_send(struct ktls_session *s, const void *buf, size_t len);
ssize_t ktls_sendfile(struct ktls_session *s, int in_fd, off_t *offset,
		      size_t count);
/* NULL when the kernel carries the data; else why it does not. */
const char *ktls_fallback_reason(const struct ktls_session *s);

/* enum ktls_error of the last failure, and a fixed text for a code. */
int ktls_error(const struct ktls_session *s);
const char *ktls_error_name(int code);

/*
 * Does kernel TLS work on this host for (version, cipher) through ULP
 * ulp (NULL: $KTLS_ULP or "tls")?  Attaches the ULP to a loopback TCP
 * socket and installs throwaway keys.  Returns KTLS_OK or the enum
 * ktls_error that says why not, with a readable message in msg.
 */
int ktls_probe(const char *ulp, uint16_t version, uint16_t cipher,
	       char *msg, size_t len);

/*
 * struct ktls_session is opaque (since KTLS_VERSION 0.2): allocate it with
 * ktls_session_new() (NULL when out of memory), read it through these.
 * One session is used for one connection.  ktls_session_free() aborts a
 * handshake, frees the SSL, wipes, frees; it does not close the fd
 * (ktls_close() does, and leaves the session to free).
 */
struct ktls_session *ktls_session_new(void);
void ktls_session_free(struct ktls_session *s);
int ktls_session_fd(const struct ktls_session *s);
uint16_t ktls_session_version(const struct ktls_session *s);	/* TLS_1_x_VERSION */
uint16_t ktls_session_cipher(const struct ktls_session *s);	/* TLS_CIPHER_* */
int ktls_session_kernel(const struct ktls_session *s, int tx);	/* installed */
/* The kernel steps that direction's TLS 1.3 keys (ktls_kernel_rekey). */
int ktls_session_kernel_rekey(const struct ktls_session *s, int tx);
int ktls_session_peer_closed(const struct ktls_session *s);
/* With KTLS_F_KEEP_SSL or in fallback; the session still owns it. */
SSL *ktls_session_ssl(const struct ktls_session *s);
/* The rec_seq the kernel started from: records OpenSSL counted. */
uint64_t ktls_session_first_seq(const struct ktls_session *s, int tx);
/* The readable message of the last failure ("" if none). */
const char *ktls_errmsg(const struct ktls_session *s);
/* OpenSSL's name of the negotiated suite; NULL before the handshake. */
const char *ktls_session_suite(const struct ktls_session *s);
/* max_fragment_length the peer asked for, in bytes (TX is capped); 0. */
uint16_t ktls_session_max_payload(const struct ktls_session *s);
/*
 * One direction's derived keys in the UAPI layout (struct
 * tls12_crypto_info_*, rec_seq included), for programs that install them
 * themselves (KTLS_F_NO_TX/KTLS_F_NO_RX).  Copies the struct into buf and
 * returns its size; -1 with errno ENOENT when the session holds no keys
 * for that direction (not derived, handed to the kernel, or wiped), ERANGE
 * when len is too short.  Wipe the copy after use.
 */
ssize_t ktls_session_crypto_info(const struct ktls_session *s, int tx,
				 void *buf, size_t len);

/* "AES-GCM-128", "TLS 1.3", for messages. */
const char *ktls_cipher_name(uint16_t cipher);
const char *ktls_version_name(uint16_t version);

#ifdef __cplusplus
}
#endif

#endif /* KTLS_LIB_H */
