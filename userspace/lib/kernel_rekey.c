// SPDX-License-Identifier: MIT
/*
 * In-kernel TLS 1.3 KeyUpdate (ktls extensions, <ktls/ktls_ext.h>): hand
 * the kernel the traffic secrets so it answers and follows KeyUpdates by
 * itself.  A kernel without them (the in-tree kTLS) answers the probe
 * with ENOPROTOOPT: then nothing changes and ktls_recv() rekeys as before.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <openssl/crypto.h>
#include <ktls/ktls_ext.h>

#include "internal.h"

static int kl_give_secret(struct ktls_session *s, int tx)
{
	const unsigned char *sec = (tx == !s->server) ? s->secret_c :
							 s->secret_s;
	struct ktls_traffic_secret ts = { 0 };
	int rc;

	ts.hash = s->secret_len == 48 ? KTLS_HASH_SHA384 : KTLS_HASH_SHA256;
	ts.len = s->secret_len;
	memcpy(ts.secret, sec, s->secret_len);
	rc = setsockopt(s->fd, SOL_TLS, tx ? KTLS_TX_SECRET : KTLS_RX_SECRET,
			&ts, sizeof(ts));
	OPENSSL_cleanse(&ts, sizeof(ts));
	if (rc)
		kl_err_sys(s->err, sizeof(s->err),
			   "setsockopt(SOL_TLS, %s) (see dmesg for why)",
			   tx ? "KTLS_TX_SECRET" : "KTLS_RX_SECRET");
	return rc ? -1 : 0;
}

int ktls_kernel_rekey(struct ktls_session *s)
{
	uint32_t feat = 0;
	socklen_t len = sizeof(feat);

	if (s->version != TLS_1_3_VERSION || !s->secret_len)
		return 0;
	if (getsockopt(s->fd, SOL_TLS, KTLS_FEATURES, &feat, &len) ||
	    !(feat & KTLS_FEAT_KEY_UPDATE)) {
		kl_trace(s, "kernel: no in-kernel KeyUpdate (%s): libktls rekeys",
			 strerror(errno));
		return 0;
	}
	if ((s->tx_on && kl_give_secret(s, 1)) ||
	    (s->rx_on && kl_give_secret(s, 0)))
		return -1;
	kl_trace(s, "kernel: KeyUpdate handled in the kernel (%s%s)",
		 s->tx_on ? "TX" : "", s->rx_on ? " RX" : "");
	return 1;
}
