/* SPDX-License-Identifier: MIT */
/*
 * TLS for one connection: the non-blocking handshake in OpenSSL, then the
 * records in the kernel (libktls derive + install) or, when the kernel
 * cannot take them, in userspace OpenSSL.  The I/O calls below hide which.
 */
#ifndef SERVE_TLS_H
#define SERVE_TLS_H

#include <sys/types.h>

struct conn;

enum { TLS_DONE = 0, TLS_WANT_READ = 1, TLS_WANT_WRITE = 2, TLS_FAILED = -1 };

#include <openssl/ssl.h>

/* Server-wide settings on an SSL_CTX (ALPN, SNI, versions, ciphers).
 * 0, or -1 with a message printed. */
int tls_ctx_setup(SSL_CTX *ctx);
int tls_start(struct conn *c);
/* One step of the handshake: TLS_*; TLS_FAILED leaves c->s.err. */
int tls_handshake_step(struct conn *c);
/* --rekey-bytes: hand the limit to the kernel if it rekeys TX itself. */
void tls_kernel_rekey_limit(struct conn *c);
/* Like recv(): n, 0 at close_notify/EOF, -1 with errno (EAGAIN). */
ssize_t tls_read(struct conn *c, void *buf, size_t len);
/* Like send(): n, or -1 with errno (EAGAIN). */
ssize_t tls_write(struct conn *c, const void *buf, size_t len);
/* Body bytes from c->file_fd at c->file_off: n, 0 when the file ended
 * early (truncated under us), -1 with errno (EAGAIN). */
ssize_t tls_send_file(struct conn *c, size_t max);
/* Our close_notify: 0 sent (or nothing to send), 1 the socket is full
 * (retry on EPOLLOUT), -1 failed. */
int tls_close_notify(struct conn *c);
void tls_free(struct conn *c);

#endif /* SERVE_TLS_H */
