// SPDX-License-Identifier: GPL-2.0
/*
 * Statistics per network namespace.  The kernel's net->mib.tls_statistics
 * belongs to tls.ko (and is NULL without it), so ktls keeps its own per-cpu
 * counters in pernet storage and prints them as /proc/net/ktls_stat.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/percpu.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <linux/seq_file_net.h>
#include <net/netns/generic.h>

#include "stats.h"

struct ktls_net {
	/* Signed: a "current" counter may drop on another cpu. */
	long __percpu *mib;
};

static unsigned int ktls_net_id __read_mostly;

/*
 * In-tree names in the in-tree order, then the rekey ones newer kernels
 * added; the device counters are left out: ktls has no offload.  Ktls*
 * names are ktls's own.
 */
static const char * const ktls_stat_names[KTLS_STAT_MAX] = {
	[KTLS_STAT_CURR_TX_SW]		= "TlsCurrTxSw",
	[KTLS_STAT_CURR_RX_SW]		= "TlsCurrRxSw",
	[KTLS_STAT_TX_SW]		= "TlsTxSw",
	[KTLS_STAT_RX_SW]		= "TlsRxSw",
	[KTLS_STAT_DECRYPT_ERROR]	= "TlsDecryptError",
	[KTLS_STAT_DECRYPT_RETRY]	= "TlsDecryptRetry",
	[KTLS_STAT_RX_NO_PAD_VIOL]	= "TlsRxNoPadViolation",
	[KTLS_STAT_TX_REKEY_OK]		= "TlsTxRekeyOk",
	[KTLS_STAT_TX_REKEY_ERROR]	= "TlsTxRekeyError",
	[KTLS_STAT_RX_REKEY_OK]		= "TlsRxRekeyOk",
	[KTLS_STAT_RX_REKEY_ERROR]	= "TlsRxRekeyError",
	[KTLS_STAT_RX_REKEY_RECEIVED]	= "TlsRxRekeyReceived",
	[KTLS_STAT_TX_POOL_PAGES]	= "KtlsTxPoolPages",
	[KTLS_STAT_RX_KU_AUTO]		= "KtlsRxKeyUpdateAuto",
	[KTLS_STAT_TX_KU_AUTO]		= "KtlsTxKeyUpdateAuto",
	[KTLS_STAT_KU_ANSWERED]		= "KtlsKeyUpdateAnswered",
	[KTLS_STAT_KU_UNANSWERED]	= "KtlsKeyUpdateUnanswered",
	[KTLS_STAT_KU_FAIL]		= "KtlsKeyUpdateFail",
	[KTLS_STAT_TX_PAD_BYTES]	= "KtlsTxPadBytes",
	[KTLS_STAT_RX_BUFFERS]		= "KtlsRxBuffers",
};

void ktls_stat_add(const struct net *net, enum ktls_stat item, long n)
{
	struct ktls_net *kn = net_generic(net, ktls_net_id);

	this_cpu_add(kn->mib[item], n);
}

static int ktls_stat_show(struct seq_file *seq, void *v)
{
	struct ktls_net *kn = net_generic(seq_file_single_net(seq),
					  ktls_net_id);
	long sum[KTLS_STAT_MAX] = {};
	int cpu, i;

	for_each_possible_cpu(cpu) {
		const long *m = per_cpu_ptr(kn->mib, cpu);

		for (i = 0; i < KTLS_STAT_MAX; i++)
			sum[i] += READ_ONCE(m[i]);
	}
	for (i = 0; i < KTLS_STAT_MAX; i++)
		seq_printf(seq, "%-32s\t%lu\n", ktls_stat_names[i],
			   (unsigned long)sum[i]);
	return 0;
}

static int __net_init ktls_net_init(struct net *net)
{
	struct ktls_net *kn = net_generic(net, ktls_net_id);

	kn->mib = __alloc_percpu(sizeof(long) * KTLS_STAT_MAX,
				 __alignof__(long));
	if (!kn->mib)
		return -ENOMEM;
	if (!proc_create_net_single("ktls_stat", 0444, net->proc_net,
				    ktls_stat_show, NULL))
		goto free_mib;
	return 0;

free_mib:
	free_percpu(kn->mib);
	kn->mib = NULL;
	return -ENOMEM;
}

static void __net_exit ktls_net_exit(struct net *net)
{
	struct ktls_net *kn = net_generic(net, ktls_net_id);

	remove_proc_entry("ktls_stat", net->proc_net);
	free_percpu(kn->mib);
}

static struct pernet_operations ktls_net_ops = {
	.init	= ktls_net_init,
	.exit	= ktls_net_exit,
	.id	= &ktls_net_id,
	.size	= sizeof(struct ktls_net),
};

int ktls_stats_init(void)
{
	return register_pernet_subsys(&ktls_net_ops);
}

void ktls_stats_exit(void)
{
	unregister_pernet_subsys(&ktls_net_ops);
}
