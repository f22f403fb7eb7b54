// SPDX-License-Identifier: GPL-2.0
/*
 * SOL_TLS socket options.  Checks run in the order of the in-tree kTLS of
 * the same kernels, so the same bad input gets the same errno.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/skmsg.h>
#include <linux/slab.h>
#include <linux/sockptr.h>
#include <linux/uaccess.h>

#include "ktls.h"
#include "keyupd.h"
#include "sockopt.h"
#include "stats.h"
#include "tx.h"
#include "rx.h"

static int ktls_check_conf(const struct ktls_context *ctx,
			   const struct tls_crypto_info *info,
			   const struct ktls_crypto *alt,
			   const struct ktls_cipher **cipher)
{
	if (info->version != TLS_1_2_VERSION &&
	    info->version != TLS_1_3_VERSION)
		return -EINVAL;

	/* Both directions speak the same version and cipher. */
	if (alt->ready && (alt->conf.info.version != info->version ||
			   alt->conf.info.cipher_type != info->cipher_type))
		return -EINVAL;

	*cipher = ktls_cipher_find(info->cipher_type);
	if (!*cipher)
		return -EINVAL;
	if ((*cipher)->tls12_only && info->version != TLS_1_2_VERSION)
		return -EINVAL;
	return 0;
}

/*
 * TLS 1.3 KeyUpdate: the next traffic key for a direction already set,
 * same version and cipher.  The new key is built beside the old one and
 * swapped in under the socket lock, which every seal and open holds.
 */
static int ktls_rekey(struct sock *sk, struct ktls_context *ctx,
		      sockptr_t optval, unsigned int optlen, bool tx)
{
	struct ktls_crypto *c = tx ? &ctx->tx_crypto : &ctx->rx_crypto;
	const struct ktls_cipher *ci = c->cipher;
	struct ktls_crypto *n;
	int rc;

	sock_owned_by_me(sk);
	n = kzalloc(sizeof(*n), GFP_KERNEL);
	if (!n) {
		rc = -ENOMEM;
		goto count;
	}
	if (copy_from_sockptr(&n->conf.info, optval, sizeof(n->conf.info))) {
		rc = -EFAULT;
		goto free_new;
	}
	if (n->conf.info.version != c->conf.info.version ||
	    n->conf.info.cipher_type != c->conf.info.cipher_type ||
	    optlen != ci->info_size) {
		rc = -EINVAL;
		goto free_new;
	}
	if (copy_from_sockptr_offset(&n->conf.info + 1, optval,
				     sizeof(n->conf.info),
				     optlen - sizeof(n->conf.info))) {
		rc = -EFAULT;
		goto free_new;
	}
	n->cipher = ci;
	rc = ktls_crypto_init(n);
	if (rc)
		goto free_new;
	rc = tx ? ktls_tx_rekey(sk, ctx, n->aead) :
		  ktls_rx_rekey(sk, ctx, n->aead);
	if (rc)
		goto free_new;
	/* The old AEAD goes and its key bytes are wiped; n's move in. */
	ktls_crypto_free(c);
	*c = *n;
	c->ready = true;
	kfree_sensitive(n);
	/* The program stepped the key itself: the kernel's chain ends. */
	if (tx) {
		ktls_ku_free(ctx->tx_ku);
		ctx->tx_ku = NULL;
		ctx->tx_gen++;
	} else {
		ktls_ku_free(ctx->rx_ku);
		ctx->rx_ku = NULL;
		ctx->rx_gen++;
	}
	if (!tx)
		ktls_rx_rekey_done(sk, ctx);
	goto count;

free_new:
	ktls_crypto_free(n);
	kfree(n);
count:
	if (tx)
		ktls_stat_inc(sock_net(sk), rc ? KTLS_STAT_TX_REKEY_ERROR :
						 KTLS_STAT_TX_REKEY_OK);
	else
		ktls_stat_inc(sock_net(sk), rc ? KTLS_STAT_RX_REKEY_ERROR :
						 KTLS_STAT_RX_REKEY_OK);
	return rc;
}

static int ktls_set_conf(struct sock *sk, struct ktls_context *ctx,
			 sockptr_t optval, unsigned int optlen, bool tx)
{
	struct ktls_crypto *c = tx ? &ctx->tx_crypto : &ctx->rx_crypto;
	struct ktls_crypto *alt = tx ? &ctx->rx_crypto : &ctx->tx_crypto;
	struct tls_crypto_info *info = &c->conf.info;
	const struct ktls_cipher *cipher;
	int rc;

	sock_owned_by_me(sk);
	/* A socket in a sockmap has a psock; TLS and sockmap exclude. */
	rcu_read_lock();
	if (sk_psock(sk)) {
		rcu_read_unlock();
		return -EINVAL;
	}
	rcu_read_unlock();

	if (sockptr_is_null(optval) || optlen < sizeof(*info))
		return -EINVAL;
	if (c->ready) {
		/*
		 * Only TLS 1.3 has KeyUpdate; TLS 1.2 keys are for life.  As
		 * in-tree (6.14+), the refusal counts as a failed rekey.
		 */
		if (c->conf.info.version != TLS_1_3_VERSION) {
			ktls_stat_inc(sock_net(sk),
				      tx ? KTLS_STAT_TX_REKEY_ERROR :
					   KTLS_STAT_RX_REKEY_ERROR);
			return -EBUSY;
		}
		return ktls_rekey(sk, ctx, optval, optlen, tx);
	}

	if (copy_from_sockptr(info, optval, sizeof(*info))) {
		rc = -EFAULT;
		goto wipe_conf;
	}
	rc = ktls_check_conf(ctx, info, alt, &cipher);
	if (rc)
		goto wipe_conf;
	if (optlen != cipher->info_size) {
		rc = -EINVAL;
		goto wipe_conf;
	}
	if (copy_from_sockptr_offset(info + 1, optval, sizeof(*info),
				     optlen - sizeof(*info))) {
		rc = -EFAULT;
		goto wipe_conf;
	}

	c->cipher = cipher;
	rc = ktls_crypto_init(c);
	if (rc) {
		pr_debug("no AEAD %s for cipher %u: %d\n", cipher->aead_name,
			 cipher->type, rc);
		goto wipe_conf;
	}

	ctx->version = info->version;
	ctx->cipher_type = info->cipher_type;
	rc = tx ? ktls_tx_init(sk, ctx) : ktls_rx_init(sk, ctx);
	if (rc)
		goto wipe_conf;

	c->ready = true;
	ktls_stat_inc(sock_net(sk), tx ? KTLS_STAT_TX_SW : KTLS_STAT_RX_SW);
	ktls_stat_inc(sock_net(sk),
		      tx ? KTLS_STAT_CURR_TX_SW : KTLS_STAT_CURR_RX_SW);
	if (tx) {
		write_lock_bh(&sk->sk_callback_lock);
		ctx->sk_write_space = sk->sk_write_space;
		sk->sk_write_space = ktls_tx_write_space;
		write_unlock_bh(&sk->sk_callback_lock);
	}
	ktls_update_sk_prot(sk, ctx);
	return 0;

wipe_conf:
	if (!alt->ready)
		ctx->version = 0;
	/* Frees any AEAD and wipes the key copied in. */
	ktls_crypto_free(c);
	return rc;
}

static int ktls_get_conf(struct sock *sk, struct ktls_context *ctx,
			 char __user *optval, int __user *optlen, bool tx)
{
	struct ktls_crypto *c = tx ? &ctx->tx_crypto : &ctx->rx_crypto;
	const struct ktls_cipher *ci = c->cipher;
	u8 buf[KTLS_MAX_INFO];
	int len, rc = 0;

	sock_owned_by_me(sk);
	if (get_user(len, optlen))
		return -EFAULT;
	if (!optval || len < (int)sizeof(struct tls_crypto_info))
		return -EINVAL;
	if (!c->ready)
		return -EBUSY;

	if (len == sizeof(struct tls_crypto_info)) {
		if (copy_to_user(optval, &c->conf.info, len))
			return -EFAULT;
		return 0;
	}
	if (len != ci->info_size)
		return -EINVAL;

	/* Report the live iv (explicit nonce) and next sequence number. */
	memcpy(buf, c->conf.raw, ci->info_size);
	memcpy(buf + ci->iv_off, c->iv + ci->salt_size, ci->iv_size);
	memcpy(buf + ci->rec_seq_off, c->rec_seq, KTLS_REC_SEQ_SIZE);
	if (copy_to_user(optval, buf, ci->info_size))
		rc = -EFAULT;
	memzero_explicit(buf, sizeof(buf));
	return rc;
}

static int ktls_set_tx_zc(struct ktls_context *ctx, sockptr_t optval,
			  unsigned int optlen)
{
	unsigned int value;

	if (sockptr_is_null(optval) || optlen != sizeof(value))
		return -EINVAL;
	if (copy_from_sockptr(&value, optval, sizeof(value)))
		return -EFAULT;
	if (value > 1)
		return -EINVAL;
	ctx->zerocopy_sendfile = value;
	return 0;
}

static int ktls_get_tx_zc(struct ktls_context *ctx, char __user *optval,
			  int __user *optlen)
{
	unsigned int value = ctx->zerocopy_sendfile;
	int len;

	if (get_user(len, optlen))
		return -EFAULT;
	if (len != sizeof(value))
		return -EINVAL;
	if (copy_to_user(optval, &value, sizeof(value)))
		return -EFAULT;
	return 0;
}

static int ktls_set_no_pad(struct sock *sk, struct ktls_context *ctx,
			   sockptr_t optval, unsigned int optlen)
{
	u32 value;
	int rc;

	sock_owned_by_me(sk);
	if (ctx->version != TLS_1_3_VERSION || sockptr_is_null(optval) ||
	    optlen < sizeof(value))
		return -EINVAL;
	if (copy_from_sockptr(&value, optval, sizeof(value)))
		return -EFAULT;
	if (value > 1)
		return -EINVAL;
	rc = check_zeroed_sockptr(optval, sizeof(value),
				  optlen - sizeof(value));
	if (rc < 1)
		return rc == 0 ? -EINVAL : rc;

	if (!ctx->rx_crypto.ready)
		return -EINVAL;
	ctx->rx_no_pad = value;
	return 0;
}

static int ktls_get_no_pad(struct ktls_context *ctx, char __user *optval,
			   int __user *optlen)
{
	int value, len;

	if (ctx->version != TLS_1_3_VERSION)
		return -EINVAL;
	if (get_user(len, optlen))
		return -EFAULT;
	if (len < (int)sizeof(value))
		return -EINVAL;
	if (!ctx->rx_crypto.ready)
		return -EINVAL;

	value = ctx->rx_no_pad;
	if (put_user(sizeof(value), optlen))
		return -EFAULT;
	if (copy_to_user(optval, &value, sizeof(value)))
		return -EFAULT;
	return 0;
}

/* RFC 8449: the peer's record_size_limit (minus the 1.3 type byte). */
static int ktls_set_tx_max_payload(struct ktls_context *ctx,
				   sockptr_t optval, unsigned int optlen)
{
	unsigned int min = ctx->version == TLS_1_3_VERSION ? 63 : 64;
	u16 value;

	/* The open record was sized against the old limit. */
	if (ctx->tx && ktls_tx_record_open(ctx))
		return -EBUSY;
	if (sockptr_is_null(optval) || optlen != sizeof(value))
		return -EINVAL;
	if (copy_from_sockptr(&value, optval, sizeof(value)))
		return -EFAULT;
	if (value < min || value > KTLS_MAX_PAYLOAD)
		return -EINVAL;
	WRITE_ONCE(ctx->tx_max_payload, value);
	return 0;
}

/* A fixed-size value out to getsockopt(): too short a buffer is EINVAL. */
static int ktls_put_opt(const void *value, int size, char __user *optval,
			int __user *optlen)
{
	int len;

	if (get_user(len, optlen))
		return -EFAULT;
	if (len < size)
		return -EINVAL;
	if (put_user(size, optlen))
		return -EFAULT;
	if (copy_to_user(optval, value, size))
		return -EFAULT;
	return 0;
}

static int ktls_get_u16(u16 value, char __user *optval, int __user *optlen)
{
	return ktls_put_opt(&value, sizeof(value), optval, optlen);
}

static int ktls_get_u32(u32 value, char __user *optval, int __user *optlen)
{
	return ktls_put_opt(&value, sizeof(value), optval, optlen);
}

static int ktls_set_u32(sockptr_t optval, unsigned int optlen, u32 *value)
{
	if (sockptr_is_null(optval) || optlen != sizeof(*value))
		return -EINVAL;
	if (copy_from_sockptr(value, optval, sizeof(*value)))
		return -EFAULT;
	return 0;
}

/* A u32 option that only means something on TLS 1.3 TX keys. */
static int ktls_get_tx13_u32(struct sock *sk, struct ktls_context *ctx,
			     sockptr_t optval, unsigned int optlen,
			     u32 *value, const char *name)
{
	int rc;

	sock_owned_by_me(sk);
	rc = ktls_set_u32(optval, optlen, value);
	if (rc)
		return rc;
	if (!ctx->tx_crypto.ready ||
	    ctx->tx_crypto.conf.info.version != TLS_1_3_VERSION) {
		pr_warn_ratelimited("%s: TLS 1.3 TX keys not set\n", name);
		return -EINVAL;
	}
	return 0;
}

static int ktls_set_tx_rekey_records(struct sock *sk,
				     struct ktls_context *ctx,
				     sockptr_t optval, unsigned int optlen)
{
	u32 value;
	int rc;

	rc = ktls_get_tx13_u32(sk, ctx, optval, optlen, &value,
			       "KTLS_TX_REKEY_RECORDS");
	if (rc)
		return rc;
	/* The kernel can only step TX keys it can derive. */
	if (value && !ctx->tx_ku) {
		pr_warn_ratelimited("KTLS_TX_REKEY_RECORDS: KTLS_TX_SECRET not set\n");
		return -EINVAL;
	}
	if (value == KTLS_REKEY_RFC_LIMIT)
		value = KTLS_REKEY_RFC_RECORDS;
	ctx->tx_rekey_records = value;
	return 0;
}

static int ktls_set_tx_key_update(struct sock *sk, struct ktls_context *ctx,
				  sockptr_t optval, unsigned int optlen)
{
	u32 value;
	int rc;

	rc = ktls_get_tx13_u32(sk, ctx, optval, optlen, &value,
			       "KTLS_TX_KEY_UPDATE");
	if (rc)
		return rc;
	if (value > 1 || !ctx->tx_ku) {
		pr_warn_ratelimited("KTLS_TX_KEY_UPDATE: %s\n",
				    value > 1 ? "not 0 or 1" :
				    "KTLS_TX_SECRET not set");
		return -EINVAL;
	}
	ktls_tx_key_update_user(sk, ctx, value);
	return 0;
}

static int ktls_set_tx_pad(struct sock *sk, struct ktls_context *ctx,
			   sockptr_t optval, unsigned int optlen)
{
	u32 value;
	int rc;

	rc = ktls_get_tx13_u32(sk, ctx, optval, optlen, &value, "KTLS_TX_PAD");
	if (rc)
		return rc;
	ctx->tx_pad = value;
	return 0;
}

static int ktls_get_key_gen(struct ktls_context *ctx, char __user *optval,
			    int __user *optlen)
{
	struct ktls_key_gen gen = { .tx = ctx->tx_gen, .rx = ctx->rx_gen };

	return ktls_put_opt(&gen, sizeof(gen), optval, optlen);
}

int ktls_setsockopt(struct sock *sk, int level, int optname,
		    sockptr_t optval, unsigned int optlen)
{
	struct ktls_context *ctx = ktls_get_ctx(sk);
	int rc;

	if (level != SOL_TLS)
		return ctx->sk_proto->setsockopt(sk, level, optname, optval,
						 optlen);

	lock_sock(sk);
	switch (optname) {
	case TLS_TX:
	case TLS_RX:
		rc = ktls_set_conf(sk, ctx, optval, optlen,
				   optname == TLS_TX);
		break;
	case TLS_TX_ZEROCOPY_RO:
		rc = ktls_set_tx_zc(ctx, optval, optlen);
		break;
	case TLS_RX_EXPECT_NO_PAD:
		rc = ktls_set_no_pad(sk, ctx, optval, optlen);
		break;
	case TLS_TX_MAX_PAYLOAD_LEN:
		rc = ktls_set_tx_max_payload(ctx, optval, optlen);
		break;
	case KTLS_TX_SECRET:
	case KTLS_RX_SECRET:
		rc = ktls_ku_set_secret(sk, ctx, optval, optlen,
					optname == KTLS_TX_SECRET);
		if (!rc && optname == KTLS_RX_SECRET)
			ktls_rx_idle_kick(sk, ctx);
		break;
	case KTLS_TX_REKEY_RECORDS:
		rc = ktls_set_tx_rekey_records(sk, ctx, optval, optlen);
		break;
	case KTLS_TX_PAD:
		rc = ktls_set_tx_pad(sk, ctx, optval, optlen);
		break;
	case KTLS_TX_KEY_UPDATE:
		rc = ktls_set_tx_key_update(sk, ctx, optval, optlen);
		break;
	default:
		rc = -ENOPROTOOPT;
		break;
	}
	release_sock(sk);
	return rc;
}

int ktls_getsockopt(struct sock *sk, int level, int optname,
		    char __user *optval, int __user *optlen)
{
	struct ktls_context *ctx = ktls_get_ctx(sk);
	int rc;

	if (level != SOL_TLS)
		return ctx->sk_proto->getsockopt(sk, level, optname, optval,
						 optlen);

	lock_sock(sk);
	switch (optname) {
	case TLS_TX:
	case TLS_RX:
		rc = ktls_get_conf(sk, ctx, optval, optlen,
				   optname == TLS_TX);
		break;
	case TLS_TX_ZEROCOPY_RO:
		rc = ktls_get_tx_zc(ctx, optval, optlen);
		break;
	case TLS_RX_EXPECT_NO_PAD:
		rc = ktls_get_no_pad(ctx, optval, optlen);
		break;
	case TLS_TX_MAX_PAYLOAD_LEN:
		rc = ktls_get_u16(ctx->tx_max_payload, optval, optlen);
		break;
	case KTLS_FEATURES:
		rc = ktls_get_u32(KTLS_FEAT_KEY_UPDATE | KTLS_FEAT_TX_REKEY |
				  KTLS_FEAT_TX_PAD | KTLS_FEAT_TX_KEY_UPDATE,
				  optval, optlen);
		break;
	case KTLS_TX_SECRET:
	case KTLS_RX_SECRET:
		/* Secrets go in, never out. */
		rc = -EPERM;
		break;
	case KTLS_TX_REKEY_RECORDS:
		rc = ktls_get_u32(ctx->tx_rekey_records, optval, optlen);
		break;
	case KTLS_TX_PAD:
		rc = ktls_get_u32(ctx->tx_pad, optval, optlen);
		break;
	case KTLS_KEY_GEN:
		rc = ktls_get_key_gen(ctx, optval, optlen);
		break;
	default:
		rc = -ENOPROTOOPT;
		break;
	}
	release_sock(sk);
	return rc;
}
