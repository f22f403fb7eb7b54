/* SPDX-License-Identifier: GPL-2.0 */
/* White-box checks of a libktls session's memory (libktls_peek.c). */
#ifndef KTLS_LIBKTLS_PEEK_H
#define KTLS_LIBKTLS_PEEK_H

struct ktls_session;

/* Both directions' derived key structs are all zero bytes. */
int kt_peek_keys_zero(const struct ktls_session *s);
/* The client's (client 1) or server's traffic secret is all zero bytes. */
int kt_peek_secret_zero(const struct ktls_session *s, int client);

#endif /* KTLS_LIBKTLS_PEEK_H */
