// SPDX-License-Identifier: GPL-2.0
/*
 * ktls: the TLS record layer as a TCP upper layer protocol.
 *
 * This file registers the ULP, attaches a context to a socket and swaps the
 * socket's proto/proto_ops for ones whose entry points know about TLS.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <net/netlink.h>
#include <net/tcp.h>
#include <uapi/linux/inet_diag.h>

#include "ktls.h"
#include "sockopt.h"
#include "stats.h"
#include "keyupd.h"
#include "tx.h"
#include "rx.h"

static char *ulp_name = "tls";
module_param(ulp_name, charp, 0444);
MODULE_PARM_DESC(ulp_name,
		 "TCP ULP name to register (default \"tls\"; \"ktls\" to load beside the in-tree tls.ko)");

/*
 * Protos derived from a socket's own proto, indexed [tx configured][rx
 * configured]: one set per distinct base (tcp_prot, tcpv6_prot, and the
 * protos sockmap puts in place), built once and never changed while the
 * module is loaded, since live sockets point into them.
 */
struct ktls_protos {
	const struct proto *base;
	const struct proto_ops *base_ops;
	struct proto prot[2][2];
	struct proto_ops ops[2][2];
};

/* Plain TCP for two families and sockmap's 4 configurations of each. */
#define KTLS_MAX_BASES	16

static struct ktls_protos *ktls_protos[KTLS_MAX_BASES];
static unsigned int ktls_protos_n;
/* Serialises adding a set; lookups read the published prefix. */
static DEFINE_MUTEX(ktls_protos_lock);

static int ktls_disconnect(struct sock *sk, int flags)
{
	/* A TLS session cannot survive reuse of its socket. */
	return -EOPNOTSUPP;
}

static void ktls_close(struct sock *sk, long timeout)
{
	struct inet_connection_sock *icsk = inet_csk(sk);
	struct ktls_context *ctx = ktls_get_ctx(sk);
	long timeo = sock_sndtimeo(sk, 0);

	lock_sock(sk);
	if (ctx->tx)
		ktls_tx_release(sk, ctx, timeo);
	if (ctx->rx)
		ktls_rx_release(sk, ctx);

	if (ctx->tx_crypto.ready)
		ktls_stat_dec(sock_net(sk), KTLS_STAT_CURR_TX_SW);
	if (ctx->rx_crypto.ready)
		ktls_stat_dec(sock_net(sk), KTLS_STAT_CURR_RX_SW);

	write_lock_bh(&sk->sk_callback_lock);
	rcu_assign_pointer(icsk->icsk_ulp_data, NULL);
	WRITE_ONCE(sk->sk_prot, ctx->sk_proto);
	if (sk->sk_write_space == ktls_tx_write_space)
		sk->sk_write_space = ctx->sk_write_space;
	write_unlock_bh(&sk->sk_callback_lock);
	release_sock(sk);

	if (ctx->tx)
		ktls_tx_free(ctx);
	if (ctx->rx)
		ktls_rx_free(ctx);
	ktls_crypto_free(&ctx->tx_crypto);
	ktls_crypto_free(&ctx->rx_crypto);
	ktls_ku_free(ctx->tx_ku);
	ktls_ku_free(ctx->rx_ku);

	ctx->sk_proto->close(sk, timeout);
	/* Lockless readers (diag, sockmap checks) may still hold it. */
	kfree_rcu(ctx, rcu);
}

static void ktls_build_protos(struct ktls_protos *p, const struct proto *base,
			      const struct proto_ops *base_ops)
{
	int tx, rx;

	lockdep_assert_held(&ktls_protos_lock);
	for (tx = 0; tx < 2; tx++) {
		for (rx = 0; rx < 2; rx++) {
			struct proto *prot = &p->prot[tx][rx];
			struct proto_ops *ops = &p->ops[tx][rx];

			*prot = *base;
			*ops = *base_ops;
			prot->setsockopt = ktls_setsockopt;
			prot->getsockopt = ktls_getsockopt;
			prot->disconnect = ktls_disconnect;
			prot->close = ktls_close;
			if (tx)
				ktls_tx_build_proto(prot, ops);
			if (rx)
				ktls_rx_build_proto(prot, ops);
		}
	}
}

static struct ktls_protos *ktls_find_protos(const struct proto *base,
					    const struct proto_ops *ops,
					    unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (ktls_protos[i]->base == base &&
		    ktls_protos[i]->base_ops == ops)
			return ktls_protos[i];
	return NULL;
}

/*
 * The set built on this socket's proto, built now if it is new; ERR_PTR
 * when there is no room for another set.
 */
static struct ktls_protos *ktls_get_protos(struct sock *sk)
{
	const struct proto *base = READ_ONCE(sk->sk_prot);
	const struct proto_ops *ops = READ_ONCE(sk->sk_socket->ops);
	struct ktls_protos *p;
	unsigned int n;

	/* Pairs with the release below: entries below n are built. */
	p = ktls_find_protos(base, ops, smp_load_acquire(&ktls_protos_n));
	if (likely(p))
		return p;

	mutex_lock(&ktls_protos_lock);
	n = ktls_protos_n;
	p = ktls_find_protos(base, ops, n);
	if (p)
		goto unlock;
	if (n == KTLS_MAX_BASES) {
		pr_warn_ratelimited("TCP_ULP refused: a %s socket proto beyond the %d kinds ktls serves\n",
				    base->name, KTLS_MAX_BASES);
		p = ERR_PTR(-EOPNOTSUPP);
		goto unlock;
	}
	p = kzalloc(sizeof(*p), GFP_KERNEL);
	if (!p) {
		p = ERR_PTR(-ENOMEM);
		goto unlock;
	}
	p->base = base;
	p->base_ops = ops;
	ktls_build_protos(p, base, ops);
	ktls_protos[n] = p;
	/* Publish the set before the count that covers it. */
	smp_store_release(&ktls_protos_n, n + 1);
unlock:
	mutex_unlock(&ktls_protos_lock);
	return p;
}

void ktls_update_sk_prot(struct sock *sk, struct ktls_context *ctx)
{
	struct ktls_protos *p = ctx->protos;
	int tx = ctx->tx_crypto.ready, rx = ctx->rx_crypto.ready;

	sock_owned_by_me(sk);
	WRITE_ONCE(sk->sk_prot, &p->prot[tx][rx]);
	WRITE_ONCE(sk->sk_socket->ops, &p->ops[tx][rx]);
}

static int ktls_init(struct sock *sk)
{
	struct inet_connection_sock *icsk = inet_csk(sk);
	struct ktls_context *ctx;
	struct ktls_protos *protos;

	/* TCP_ULP setsockopt holds the socket lock. */
	sock_owned_by_me(sk);
	/* Only a connected stream has a record stream to protect. */
	if (sk->sk_state != TCP_ESTABLISHED)
		return -ENOTCONN;
	if (!sk->sk_socket)
		return -EINVAL;

	protos = ktls_get_protos(sk);
	if (IS_ERR(protos))
		return PTR_ERR(protos);

	ctx = kzalloc(sizeof(*ctx), GFP_KERNEL);
	if (!ctx)
		return -ENOMEM;
	ctx->sk = sk;
	ctx->protos = protos;
	ctx->tx_max_payload = KTLS_MAX_PAYLOAD;

	write_lock_bh(&sk->sk_callback_lock);
	ctx->sk_proto = READ_ONCE(sk->sk_prot);
	/* Release order: sk_proto is visible before sk_prot changes. */
	rcu_assign_pointer(icsk->icsk_ulp_data, ctx);
	ktls_update_sk_prot(sk, ctx);
	write_unlock_bh(&sk->sk_callback_lock);
	return 0;
}

/* sockmap or BPF replaced our proto underneath us: follow it. */
static void ktls_update(struct sock *sk, struct proto *p,
			void (*write_space)(struct sock *sk))
{
	struct ktls_context *ctx = ktls_get_ctx(sk);

	if (likely(ctx)) {
		ctx->sk_write_space = write_space;
		ctx->sk_proto = p;
	} else {
		WRITE_ONCE(sk->sk_prot, p);
		sk->sk_write_space = write_space;
	}
}

static u16 ktls_diag_conf(const struct ktls_crypto *c)
{
	return READ_ONCE(c->ready) ? TLS_CONF_SW : TLS_CONF_BASE;
}

/* sock_diag INET_ULP_INFO_TLS, as in-tree; the socket may not be locked. */
static int ktls_get_info(struct sock *sk, struct sk_buff *skb)
{
	const struct ktls_context *ctx;
	struct nlattr *nest;
	u16 version, cipher;
	int rc = 0;

	nest = nla_nest_start_noflag(skb, INET_ULP_INFO_TLS);
	if (!nest)
		return -EMSGSIZE;

	/* close() frees the context after an RCU grace period. */
	rcu_read_lock();
	ctx = rcu_dereference(inet_csk(sk)->icsk_ulp_data);
	if (!ctx)
		goto cancel;
	version = READ_ONCE(ctx->version);
	cipher = READ_ONCE(ctx->cipher_type);
	if (version && cipher) {
		rc = nla_put_u16(skb, TLS_INFO_VERSION, version);
		if (rc)
			goto cancel;
		rc = nla_put_u16(skb, TLS_INFO_CIPHER, cipher);
		if (rc)
			goto cancel;
	}
	rc = nla_put_u16(skb, TLS_INFO_TXCONF,
			 ktls_diag_conf(&ctx->tx_crypto));
	if (rc)
		goto cancel;
	rc = nla_put_u16(skb, TLS_INFO_RXCONF,
			 ktls_diag_conf(&ctx->rx_crypto));
	if (rc)
		goto cancel;
	/*
	 * No TLS_INFO_ZC_RO_TX: in-tree reports it only with device offload
	 * (TLS_HW), which ktls does not have; getsockopt still reports it.
	 */
	if (ctx->rx_no_pad) {
		rc = nla_put_flag(skb, TLS_INFO_RX_NO_PAD);
		if (rc)
			goto cancel;
	}
	rc = nla_put_u16(skb, KTLS_INFO_TX_MAX_PAYLOAD_LEN,
			 READ_ONCE(ctx->tx_max_payload));
	if (rc)
		goto cancel;
	/* Where the kernel steps the keys itself, how far it got. */
	if (READ_ONCE(ctx->tx_ku)) {
		rc = nla_put_u32(skb, KTLS_INFO_TX_KEY_GEN,
				 READ_ONCE(ctx->tx_gen));
		if (rc)
			goto cancel;
	}
	if (READ_ONCE(ctx->rx_ku)) {
		rc = nla_put_u32(skb, KTLS_INFO_RX_KEY_GEN,
				 READ_ONCE(ctx->rx_gen));
		if (rc)
			goto cancel;
	}
	rcu_read_unlock();
	nla_nest_end(skb, nest);
	return 0;

cancel:
	rcu_read_unlock();
	nla_nest_cancel(skb, nest);
	return rc;
}

static size_t ktls_get_info_size(const struct sock *sk)
{
	return nla_total_size(0) +		/* INET_ULP_INFO_TLS */
	       nla_total_size(sizeof(u16)) +	/* TLS_INFO_VERSION */
	       nla_total_size(sizeof(u16)) +	/* TLS_INFO_CIPHER */
	       nla_total_size(sizeof(u16)) +	/* TLS_INFO_TXCONF */
	       nla_total_size(sizeof(u16)) +	/* TLS_INFO_RXCONF */
	       nla_total_size(0) +		/* TLS_INFO_ZC_RO_TX */
	       nla_total_size(0) +		/* TLS_INFO_RX_NO_PAD */
	       nla_total_size(sizeof(u16)) +	/* ..._TX_MAX_PAYLOAD_LEN */
	       nla_total_size(sizeof(u32)) +	/* KTLS_INFO_TX_KEY_GEN */
	       nla_total_size(sizeof(u32));	/* KTLS_INFO_RX_KEY_GEN */
}

static struct tcp_ulp_ops ktls_ulp_ops __read_mostly = {
	.init		= ktls_init,
	.update		= ktls_update,
	.get_info	= ktls_get_info,
	.get_info_size	= ktls_get_info_size,
	.owner		= THIS_MODULE,
};

static int __init ktls_module_init(void)
{
	int rc;

	if (!ulp_name || !*ulp_name ||
	    strlen(ulp_name) >= sizeof(ktls_ulp_ops.name)) {
		pr_err("ulp_name must be 1 to %zu characters\n",
		       sizeof(ktls_ulp_ops.name) - 1);
		return -EINVAL;
	}
	strscpy(ktls_ulp_ops.name, ulp_name, sizeof(ktls_ulp_ops.name));

	/* Counters exist before any socket can move them. */
	rc = ktls_stats_init();
	if (rc)
		return rc;

	rc = tcp_register_ulp(&ktls_ulp_ops);
	if (rc == -EEXIST) {
		pr_err("TCP ULP \"%s\" is already registered (the in-tree tls module?); unload it first or load ktls with ulp_name=ktls\n",
		       ulp_name);
		goto exit_stats;
	}
	if (rc) {
		pr_err("cannot register TCP ULP \"%s\": %d\n", ulp_name, rc);
		goto exit_stats;
	}
	pr_info("registered TCP ULP \"%s\"\n", ulp_name);
	return 0;

exit_stats:
	ktls_stats_exit();
	return rc;
}

static void __exit ktls_module_exit(void)
{
	tcp_unregister_ulp(&ktls_ulp_ops);
	/* Contexts are freed with kfree_rcu(); let that finish first. */
	rcu_barrier();
	ktls_stats_exit();
	/* No socket is left: each held a module reference. */
	while (ktls_protos_n)
		kfree(ktls_protos[--ktls_protos_n]);
}

module_init(ktls_module_init);
module_exit(ktls_module_exit);

MODULE_DESCRIPTION("TLS record layer in the kernel (out-of-tree kTLS)");
MODULE_AUTHOR("The ktls developers");
MODULE_LICENSE("GPL");
