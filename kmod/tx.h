/* SPDX-License-Identifier: GPL-2.0 */
/* ktls TX layer: records built, sealed and pushed to TCP. */
#ifndef _KTLS_TX_H
#define _KTLS_TX_H

#include "ktls.h"

/*
 * Called with the socket locked once ctx->tx_crypto is keyed (aead set,
 * iv/rec_seq loaded).  Allocates ctx->tx.  On error nothing is left set.
 */
int ktls_tx_init(struct sock *sk, struct ktls_context *ctx);
/* Patch the proto and proto_ops used while TX is configured. */
void ktls_tx_build_proto(struct proto *prot, struct proto_ops *ops);
/* close(): socket locked; push any open record within SO_LINGER rules. */
void ktls_tx_release(struct sock *sk, struct ktls_context *ctx, long timeo);
/* close(): after release_sock(); may sleep; frees ctx->tx. */
void ktls_tx_free(struct ktls_context *ctx);
/*
 * TLS 1.3 rekey, socket locked: get ready to seal with aead, which the
 * caller installs in ctx->tx_crypto right after.  Records already sealed
 * keep the old key; the open record and later ones get the new one.
 */
int ktls_tx_rekey(struct sock *sk, struct ktls_context *ctx,
		  struct crypto_aead *aead);
/*
 * The peer's KeyUpdate asked for ours (socket locked, TX secret set):
 * whoever holds tx->lock next (a sender, else the work) closes the open
 * record, sends KeyUpdate and steps TX, once per call, in order with data.
 */
void ktls_tx_key_update_request(struct sock *sk, struct ktls_context *ctx);
/*
 * KTLS_TX_KEY_UPDATE (socket locked, TX secret set): as above, one
 * KeyUpdate, with update_requested if request_peer.
 */
void ktls_tx_key_update_user(struct sock *sk, struct ktls_context *ctx,
			     bool request_peer);
/* Plaintext waits in an open record; socket locked. */
bool ktls_tx_record_open(const struct ktls_context *ctx);
/* Installed as sk->sk_write_space while TX is configured. */
void ktls_tx_write_space(struct sock *sk);

#endif /* _KTLS_TX_H */
