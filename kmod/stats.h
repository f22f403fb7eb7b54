/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ktls statistics: per network namespace counters shown in
 * /proc/net/ktls_stat with the in-tree kTLS names.
 */
#ifndef _KTLS_STATS_H
#define _KTLS_STATS_H

#include <net/net_namespace.h>

enum ktls_stat {
	KTLS_STAT_CURR_TX_SW,
	KTLS_STAT_CURR_RX_SW,
	KTLS_STAT_TX_SW,
	KTLS_STAT_RX_SW,
	KTLS_STAT_DECRYPT_ERROR,
	KTLS_STAT_DECRYPT_RETRY,
	KTLS_STAT_RX_NO_PAD_VIOL,
	KTLS_STAT_TX_REKEY_OK,
	KTLS_STAT_TX_REKEY_ERROR,
	KTLS_STAT_RX_REKEY_OK,
	KTLS_STAT_RX_REKEY_ERROR,
	KTLS_STAT_RX_REKEY_RECEIVED,
	KTLS_STAT_TX_POOL_PAGES,	/* ktls's own: TX page pools, now */
	KTLS_STAT_RX_KU_AUTO,		/* RX keys stepped by the kernel */
	KTLS_STAT_TX_KU_AUTO,		/* KeyUpdates the kernel sent */
	KTLS_STAT_KU_ANSWERED,		/* update_requested answered */
	KTLS_STAT_KU_UNANSWERED,	/* update_requested, no TX secret */
	KTLS_STAT_KU_FAIL,		/* a step failed: connection stopped */
	KTLS_STAT_TX_PAD_BYTES,		/* zero bytes of TLS 1.3 padding */
	KTLS_STAT_RX_BUFFERS,		/* RX record buffers (16 KiB), now */
	KTLS_STAT_MAX
};

void ktls_stat_add(const struct net *net, enum ktls_stat item, long n);

static inline void ktls_stat_inc(const struct net *net, enum ktls_stat item)
{
	ktls_stat_add(net, item, 1);
}

static inline void ktls_stat_dec(const struct net *net, enum ktls_stat item)
{
	ktls_stat_add(net, item, -1);
}

int ktls_stats_init(void);
void ktls_stats_exit(void);

#endif /* _KTLS_STATS_H */
