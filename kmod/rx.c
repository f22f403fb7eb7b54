// SPDX-License-Identifier: GPL-2.0
/* RX layer placeholder: replaced by the record-reading RX path. */
#include "rx.h"

int ktls_rx_init(struct sock *sk, struct ktls_context *ctx)
{
	return 0;
}

void ktls_rx_build_proto(struct proto *prot, struct proto_ops *ops)
{
}

void ktls_rx_release(struct sock *sk, struct ktls_context *ctx)
{
}

void ktls_rx_free(struct ktls_context *ctx)
{
}
