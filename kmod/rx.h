/* SPDX-License-Identifier: GPL-2.0 */
/* ktls RX layer: records framed from TCP, opened and handed to readers. */
#ifndef _KTLS_RX_H
#define _KTLS_RX_H

#include "ktls.h"

/*
 * Called with the socket locked once ctx->rx_crypto is keyed.  Allocates
 * ctx->rx and hooks the socket's callbacks; data already queued on the
 * socket is picked up.  On error nothing is left set.
 */
int ktls_rx_init(struct sock *sk, struct ktls_context *ctx);
/* Patch the proto and proto_ops used while RX is configured. */
void ktls_rx_build_proto(struct proto *prot, struct proto_ops *ops);
/*
 * TLS 1.3 rekey, socket locked: ktls_rx_rekey() gets ready to open with
 * aead, which the caller then installs in ctx->rx_crypto and calls
 * ktls_rx_rekey_done() to resume a stream paused by a KeyUpdate.
 */
int ktls_rx_rekey(struct sock *sk, struct ktls_context *ctx,
		  struct crypto_aead *aead);
void ktls_rx_rekey_done(struct sock *sk, struct ktls_context *ctx);
/* KTLS_RX_SECRET was set: look at records already queued. */
void ktls_rx_idle_kick(struct sock *sk, struct ktls_context *ctx);
/* close(): socket locked; unhook callbacks. */
void ktls_rx_release(struct sock *sk, struct ktls_context *ctx);
/* close(): after release_sock(); may sleep; frees ctx->rx. */
void ktls_rx_free(struct ktls_context *ctx);

#endif /* _KTLS_RX_H */
