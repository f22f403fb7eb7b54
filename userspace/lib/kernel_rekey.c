// SPDX-License-Identifier: MIT
/*
 * In-kernel TLS 1.3 KeyUpdate (ktls extensions, <ktls/ktls_ext.h>): hand
 * the kernel the traffic secrets so it answers and follows KeyUpdates by
 * itself.  A kernel without them (the in-tree kTLS) answers the probe
 * with ENOPROTOOPT: then nothing changes and ktls_recv() rekeys as before.
 */
#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <openssl/crypto.h>
#include <ktls/ktls_ext.h>

#include "internal.h"

/* What the kernel needs for libktls to leave it the keys of both sides. */
#define KL_FEAT_NEEDED	(KTLS_FEAT_KEY_UPDATE | KTLS_FEAT_TX_KEY_UPDATE)

static unsigned char *kl_secret(struct ktls_session *s, int tx)
{
	return tx == !s->server ? s->secret_c : s->secret_s;
}

static int kl_give_secret(struct ktls_session *s, int tx)
{
	struct ktls_traffic_secret ts = { 0 };
	int rc;

	ts.hash = s->secret_len == 48 ? KTLS_HASH_SHA384 : KTLS_HASH_SHA256;
	ts.len = s->secret_len;
	memcpy(ts.secret, kl_secret(s, tx), s->secret_len);
	rc = setsockopt(s->fd, SOL_TLS, tx ? KTLS_TX_SECRET : KTLS_RX_SECRET,
			&ts, sizeof(ts));
	OPENSSL_cleanse(&ts, sizeof(ts));
	if (rc) {
		kl_err_sys(s->err, sizeof(s->err),
			   "setsockopt(SOL_TLS, %s) (see dmesg for why)",
			   tx ? "KTLS_TX_SECRET" : "KTLS_RX_SECRET");
		return -1;
	}
	/* The kernel steps it from now on: our copy would only go stale. */
	OPENSSL_cleanse(kl_secret(s, tx), sizeof(s->secret_c));
	s->kernel_ku |= tx ? KL_KU_TX : KL_KU_RX;
	return 0;
}

int ktls_kernel_rekey(struct ktls_session *s)
{
	uint32_t feat = 0;
	socklen_t len = sizeof(feat);

	if (s->kernel_ku)
		return 1;
	if (s->version != TLS_1_3_VERSION || !s->secret_len || s->fallback)
		return 0;
	if (getsockopt(s->fd, SOL_TLS, KTLS_FEATURES, &feat, &len)) {
		kl_trace(s, "kernel: no in-kernel KeyUpdate (%s): libktls rekeys",
			 strerror(errno));
		return 0;
	}
	if ((feat & KL_FEAT_NEEDED) != KL_FEAT_NEEDED) {
		kl_trace(s, "kernel: features 0x%x lack in-kernel KeyUpdate: libktls rekeys",
			 feat);
		return 0;
	}
	if ((s->tx_on && kl_give_secret(s, 1)) ||
	    (s->rx_on && kl_give_secret(s, 0))) {
		s->code = KTLS_E_KEY_UPDATE;
		return -1;
	}
	kl_trace(s, "kernel: KeyUpdate handled in the kernel (%s%s)",
		 s->tx_on ? "TX" : "", s->rx_on ? " RX" : "");
	return 1;
}

int kl_kernel_key_update(struct ktls_session *s, int request_peer)
{
	uint32_t v = !!request_peer;

	if (setsockopt(s->fd, SOL_TLS, KTLS_TX_KEY_UPDATE, &v, sizeof(v))) {
		s->code = KTLS_E_KEY_UPDATE;
		kl_err_sys(s->err, sizeof(s->err),
			   "key update: setsockopt(SOL_TLS, KTLS_TX_KEY_UPDATE)");
		return -1;
	}
	kl_trace(s, "-> KeyUpdate (%s) asked of the kernel",
		 request_peer ? "update_requested" : "update_not_requested");
	return 0;
}

void kl_trace_gen(struct ktls_session *s)
{
	struct ktls_key_gen g;
	socklen_t len = sizeof(g);
	int e = errno;

	if (!s->kernel_ku || !s->opts || !s->opts->trace || s->fd < 0)
		return;
	/* A sender and a receiver thread may both look: each change once. */
	if (!getsockopt(s->fd, SOL_TLS, KTLS_KEY_GEN, &g, &len)) {
		uint32_t tx = atomic_exchange(&s->gen_seen[0], g.tx);
		uint32_t rx = atomic_exchange(&s->gen_seen[1], g.rx);

		if (g.tx != tx)
			kl_trace(s, "kernel: TX key generation %u (was %u)",
				 g.tx, tx);
		if (g.rx != rx)
			kl_trace(s, "kernel: RX key generation %u (was %u)",
				 g.rx, rx);
	}
	errno = e;
}
