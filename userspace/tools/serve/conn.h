/* SPDX-License-Identifier: MIT */
/*
 * One client connection and its state machine:
 *   HANDSHAKE -> HEAD -> SEND -> HEAD (keep-alive) ... -> LINGER -> closed
 * Each state has one deadline (handshake, request head or keep-alive idle,
 * send progress, lingering close); the worker's timer scan enforces it.
 */
#ifndef SERVE_CONN_H
#define SERVE_CONN_H

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <openssl/ssl.h>
#include <ktls.h>

#include "http.h"

struct worker;

/* What a request needs, allocated when its first byte arrives and freed
 * once it is answered and nothing further is read (~12 KB an idle
 * connection does not carry). */
struct conn_io {
	char buf[HTTP_MAX_HEAD];	/* request bytes read */
	struct http_req req;
	char out[1536];			/* response head, part heads */
	struct http_span spans[HTTP_MAX_RANGES];
};

/* CS_DEAD: closed, freed by the loop after this round of events (code
 * up the stack may still look at it). */
enum conn_state { CS_HANDSHAKE, CS_HEAD, CS_SEND, CS_LINGER, CS_DEAD };

struct conn {
	int fd;
	struct worker *w;
	struct conn *prev, *next;	/* the worker's list (timer scan) */
	enum conn_state state;
	unsigned int events;		/* epoll interest now */
	double deadline;		/* ms, monotonic */
	double req_t0;			/* when the request (or conn) began */
	unsigned char ip[16];		/* for the per-address count */
	char peer_host[INET6_ADDRSTRLEN];
	unsigned long id;
	char tag[32];
	struct ktls_opts opts;
	struct ktls_session *s;		/* NULL once closed */
	SSL *ssl;			/* the session's, when !kernel */
	int tls_started;		/* tls_start() done (at the first byte) */
	int kernel;			/* TX and RX records in the kernel */
	int want_write;			/* userspace TLS: SSL wants EPOLLOUT */
	/* the request and response buffers, only while there is a request
	 * (NULL in an idle keep-alive connection) */
	struct conn_io *io;
	size_t have;			/* bytes in io->buf, not yet parsed */
	/* the response in flight */
	size_t out_len, out_off;
	int file_fd;
	off_t file_off, file_end;	/* body bytes [file_off, file_end) */
	long long body_sent, body_inline;	/* file bytes; error page bytes */
	/* multipart/byteranges: part `part` of `nparts` is in flight; the
	 * part headers go through out[], the file bytes through sendfile */
	int nparts, part;
	size_t out_body;		/* bytes at the end of out[] that are body */
	const char *ctype;
	off_t fsize;
	char boundary[24];
	int status, close_after, logged;
	long long since_rekey;
	int kernel_rekey;		/* the kernel counts --rekey-bytes */
	unsigned char *ubuf;		/* userspace TLS: file chunk */
	size_t ulen, uoff;
	int rd_eof;			/* peer closed its side (or close_notify) */
	/* lingering close */
	int read_dead, no_close_notify, raw_drain, notify_pending;
};

double conn_now_ms(void);
/* A new accepted socket: set up, NULL if refused (already closed). */
struct conn *conn_new(struct worker *w, int fd, const struct sockaddr *sa,
		      const unsigned char ip[16]);
/* epoll said events for c. */
void conn_on_event(struct conn *c, unsigned int events);
/* The timer scan: c's deadline passed (or linger check). */
void conn_on_tick(struct conn *c, double now);
/* Close now (shutdown of the server). */
void conn_drop(struct conn *c, const char *why);
/* Idle in HEAD with nothing read: safe to close at shutdown. */
int conn_idle(const struct conn *c);

const char *conn_tls_version(const struct conn *c);
const char *conn_tls_cipher(const struct conn *c);

#endif /* SERVE_CONN_H */
