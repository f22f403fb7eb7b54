// SPDX-License-Identifier: GPL-2.0
/* TX layer placeholder: replaced by the record-building TX path. */
#include "tx.h"

int ktls_tx_init(struct sock *sk, struct ktls_context *ctx)
{
	return 0;
}

void ktls_tx_build_proto(struct proto *prot, struct proto_ops *ops)
{
}

void ktls_tx_release(struct sock *sk, struct ktls_context *ctx, long timeo)
{
}

void ktls_tx_free(struct ktls_context *ctx)
{
}

void ktls_tx_write_space(struct sock *sk)
{
	struct ktls_context *ctx = ktls_get_ctx(sk);

	ctx->sk_write_space(sk);
}
