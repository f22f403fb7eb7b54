// SPDX-License-Identifier: GPL-2.0
/*
 * TX layer: plaintext is gathered into an open record (copied user bytes
 * in socket page frags, or references to spliced pages), sealed with the
 * AEAD into freshly allocated pages and handed to TCP by reference.  A
 * record sealed at once is encrypted straight from the sender's pages.
 *
 * At most one sealed record waits for TCP at a time: it is pushed before
 * anything else is sealed, and from a work item when TCP frees space.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <crypto/aead.h>
#include <linux/bvec.h>
#include <linux/memcontrol.h>
#include <linux/mutex.h>
#include <linux/sched/mm.h>
#include <linux/scatterlist.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/uio.h>
#include <linux/workqueue.h>
#include <net/inet_common.h>
#include <net/tcp.h>

#include "keyupd.h"
#include "stats.h"
#include "tx.h"

#define KTLS_TX_PT_FRAGS	32	/* plaintext fragments per record */
#define KTLS_TX_CT_FRAGS	8	/* ciphertext pieces per record */
/* TLS 1.3 padding: zero page pieces of up to a whole inner plaintext */
#define KTLS_TX_PAD_FRAGS	DIV_ROUND_UP(KTLS_MAX_PAYLOAD + 1, PAGE_SIZE)
#define KTLS_TX_POOL_ORDER	3	/* 32 KiB pool pages, as sk_page_frag */
#define KTLS_TX_POOL_MAX	64
#define KTLS_TX_POOL_LOOK	HZ	/* the trim looks again at least this often */
#define KTLS_TX_RETRY		(HZ / 20)	/* the work's seal met ENOMEM */

static unsigned int tx_pool_pages = 16;
module_param(tx_pool_pages, uint, 0644);
MODULE_PARM_DESC(tx_pool_pages,
		 "32 KiB ciphertext pages a sending socket keeps for reuse (0-64, default 16; 0: a fresh page each time, like in-tree)");

static unsigned int tx_pool_idle_ms = 1000;
module_param(tx_pool_idle_ms, uint, 0644);
MODULE_PARM_DESC(tx_pool_idle_ms,
		 "A socket's pool is given back this long after it last took a page (ms, default 1000)");

/* Unused this long: the pool is released (at least one jiffy). */
static unsigned long ktls_tx_pool_idle(void)
{
	return max(msecs_to_jiffies(READ_ONCE(tx_pool_idle_ms)), 1UL);
}

/* tx->flags bits */
#define KTLS_TX_CLOSING		0	/* close() began: no more work */
#define KTLS_TX_PUSH_WANTED	1	/* the work found tx->lock taken */
#define KTLS_TX_SEAL_WANTED	2	/* splice_eof() could not close it */

struct ktls_tx {
	struct sock *sk;
	/*
	 * Serialises senders: TCP drops the socket lock while it waits.
	 * Taken with ktls_tx_lock()/ktls_tx_unlock() only; a work item
	 * never sleeps on it (see ktls_tx_work()).
	 */
	struct mutex lock;
	struct delayed_work work;
	unsigned long flags;
	/*
	 * The owner of tx->lock may sleep with the socket lock let go
	 * (a blocking send): *_locked senders and shutdown() don't wait
	 * for it.  Written under tx->lock, read locklessly.
	 */
	bool sleeper;
	struct aead_request *req;

	/* The open record. */
	struct bio_vec pt[KTLS_TX_PT_FRAGS];
	unsigned int pt_n;
	unsigned int pt_len;
	unsigned int pt_charged;	/* copied bytes charged to sk */
	u8 pt_type;
	bool pt_closed;			/* taken without MSG_MORE: seal it */

	/* The sealed record TCP has not taken in full. */
	struct bio_vec ct[KTLS_TX_CT_FRAGS];
	unsigned int ct_n;
	unsigned int ct_len;
	unsigned int ct_sent;

	/*
	 * Ciphertext pages kept for reuse: a fresh page costs a zeroing pass
	 * (init_on_alloc), one TCP has let go of (only our reference left)
	 * can be written again at once.  frag is the one being filled.
	 */
	struct page_frag frag;
	struct page *pool[KTLS_TX_POOL_MAX];
	unsigned int pool_n;
	unsigned int pool_next;
	unsigned int pool_max;
	unsigned long pool_used;	/* jiffies of the last pool_get */
	struct delayed_work trim;

	/*
	 * In-kernel KeyUpdate, under the socket lock (read locklessly by
	 * ktls_tx_unlock()): answers owed to the peer's update_requested,
	 * the KTLS_TX_REKEY_RECORDS limit reached, and one the program asked
	 * for (KTLS_TX_KEY_UPDATE; ku_user_req: with update_requested).
	 * Records sealed under the current key count toward that limit.
	 */
	unsigned int ku_pending;
	bool ku_auto;
	bool ku_user;
	bool ku_user_req;
	u32 gen_records;

	struct page *pin[KTLS_TX_PT_FRAGS];	/* ktls_tx_seal_user() */
	u8 inner_type;			/* TLS 1.3 content type byte */
	u8 aad[KTLS_MAX_AAD];
	u8 nonce[KTLS_AEAD_IV_SIZE];
	struct scatterlist src[KTLS_TX_PT_FRAGS + 2 + KTLS_TX_PAD_FRAGS];
	struct scatterlist dst[KTLS_TX_CT_FRAGS + 1];
};

static struct ktls_tx *ktls_tx_get(const struct sock *sk)
{
	return ktls_get_ctx(sk)->tx;
}

/*
 * The next record would take the last sequence number, 2^64 - 1: refused
 * (EBADMSG), as upstream does since 6.13, so the number never wraps to
 * reuse a nonce.  A rekey restarts the count.
 */
static bool ktls_tx_seq_last(const struct ktls_crypto *c)
{
	unsigned int i;

	for (i = 0; i < KTLS_REC_SEQ_SIZE; i++)
		if (c->rec_seq[i] != 0xff)
			return false;
	return true;
}

/* A fatal TX error: the peer's record stream can no longer continue. */
static void ktls_tx_abort(struct sock *sk, int err)
{
	WRITE_ONCE(sk->sk_err, err);
	sk_error_report(sk);
}

static void ktls_tx_drop_ct(struct sock *sk, struct ktls_tx *tx)
{
	unsigned int i;

	for (i = 0; i < tx->ct_n; i++)
		put_page(tx->ct[i].bv_page);
	sk_mem_uncharge(sk, tx->ct_len - tx->ct_sent);
	tx->ct_n = 0;
	tx->ct_len = 0;
	tx->ct_sent = 0;
}

static void ktls_tx_drop_pt(struct sock *sk, struct ktls_tx *tx)
{
	unsigned int i;

	for (i = 0; i < tx->pt_n; i++)
		put_page(tx->pt[i].bv_page);
	sk_mem_uncharge(sk, tx->pt_charged);
	tx->pt_n = 0;
	tx->pt_len = 0;
	tx->pt_charged = 0;
	WRITE_ONCE(tx->pt_closed, false);
}

/*
 * Something for the work to push.  Store-buffer pairing with
 * ktls_tx_unlock(): either we see the mutex free and queue the work, or
 * the owner, right after letting go, sees our bit and queues it.
 */
static void ktls_tx_kick(struct ktls_tx *tx)
{
	set_bit(KTLS_TX_PUSH_WANTED, &tx->flags);
	/* The bit before the mutex test; pairs with ktls_tx_unlock(). */
	smp_mb__after_atomic();
	if (!mutex_is_locked(&tx->lock) &&
	    !test_bit(KTLS_TX_CLOSING, &tx->flags))
		queue_delayed_work(system_wq, &tx->work, 0);
}

/* Every sender path takes tx->lock through these two. */
static int ktls_tx_lock(struct ktls_tx *tx, bool sleeper)
{
	int rc;

	rc = mutex_lock_interruptible(&tx->lock);
	if (!rc)
		WRITE_ONCE(tx->sleeper, sleeper);
	return rc;
}

static void ktls_tx_unlock(struct ktls_tx *tx)
{
	WRITE_ONCE(tx->sleeper, false);
	mutex_unlock(&tx->lock);
	/* Pairs with ktls_tx_kick() and the work's failed trylock. */
	smp_mb();
	if (test_bit(KTLS_TX_PUSH_WANTED, &tx->flags) &&
	    !test_bit(KTLS_TX_CLOSING, &tx->flags) &&
	    (READ_ONCE(tx->ct_len) || READ_ONCE(tx->pt_closed) ||
	     READ_ONCE(tx->ku_pending) || READ_ONCE(tx->ku_auto) ||
	     READ_ONCE(tx->ku_user) ||
	     test_bit(KTLS_TX_SEAL_WANTED, &tx->flags)))
		queue_delayed_work(system_wq, &tx->work, 0);
}

/* Push the sealed record; 0 once TCP holds all of it. */
static int ktls_tx_push(struct sock *sk, struct ktls_tx *tx, int flags)
{
	int rc;

	sock_owned_by_me(sk);
	while (tx->ct_sent < tx->ct_len) {
		rc = ktls_tcp_send_bvec(sk, tx->ct, tx->ct_n, tx->ct_sent,
					tx->ct_len - tx->ct_sent, flags);
		if (rc <= 0)
			return rc ? rc : -EAGAIN;
		tx->ct_sent += rc;
		sk_mem_uncharge(sk, rc);
	}
	if (tx->ct_n)
		ktls_tx_drop_ct(sk, tx);
	return 0;
}

#define KTLS_TX_POOL_BYTES	(PAGE_SIZE << KTLS_TX_POOL_ORDER)

/* The cgroup the socket's memory is charged to, if any. */
static struct mem_cgroup *ktls_tx_memcg(const struct sock *sk)
{
#ifdef CONFIG_MEMCG
	if (mem_cgroup_sockets_enabled)
		return sk->sk_memcg;
#endif
	return NULL;
}

/* Has memcg and every ancestor room for pages more? */
static bool ktls_tx_memcg_room(struct mem_cgroup *memcg, unsigned long pages)
{
#ifdef CONFIG_MEMCG
	for (; memcg; memcg = parent_mem_cgroup(memcg))
		if (page_counter_read(&memcg->memory) + pages >
		    READ_ONCE(memcg->memory.max))
			return false;
#endif
	return true;
}

/*
 * May the pool take one more page?  The pool holds no more than the
 * socket may have in flight (its send buffer, at least one page).  Its
 * pages are charged to the socket's memory cgroup, like the socket's
 * other memory, and only while that cgroup and every ancestor keep a
 * send buffer's worth of room beside the page: a cache must not push the
 * group into reclaim or OOM at the expense of the data it carries.
 */
static bool ktls_tx_pool_may_grow(struct sock *sk, struct ktls_tx *tx,
				  struct mem_cgroup *memcg)
{
	unsigned long sndbuf = max(READ_ONCE(sk->sk_sndbuf), 0);

	if ((tx->pool_n + 1) * KTLS_TX_POOL_BYTES >
	    max(sndbuf, KTLS_TX_POOL_BYTES))
		return false;
	return ktls_tx_memcg_room(memcg,
				  (KTLS_TX_POOL_BYTES + sndbuf) >> PAGE_SHIFT);
}

/*
 * A pool page only we still hold, or a new one while the pool may grow.
 * A new page is charged (__GFP_ACCOUNT) to sk->sk_memcg, whoever sends:
 * it stays charged while TCP or the pool holds it and is uncharged when
 * its last holder frees it.  Reuse charges nothing again.
 */
static struct page *ktls_tx_pool_get(struct sock *sk, struct ktls_tx *tx)
{
	gfp_t gfp = sk->sk_allocation | __GFP_COMP | __GFP_NOWARN |
		    __GFP_NORETRY;
	struct mem_cgroup *memcg, *old_memcg;
	struct page *page = NULL;
	unsigned int i, j;

	for (i = 0; i < tx->pool_n; i++) {
		j = (tx->pool_next + i) % tx->pool_n;
		if (page_ref_count(tx->pool[j]) == 1) {
			tx->pool_next = j + 1;
			page = tx->pool[j];
			goto out;
		}
	}
	memcg = ktls_tx_memcg(sk);
	if (tx->pool_n == tx->pool_max ||
	    !ktls_tx_pool_may_grow(sk, tx, memcg))
		goto out;
	if (memcg)
		gfp |= __GFP_ACCOUNT;
	/* NORETRY: a cgroup at its limit fails the charge, never OOMs. */
	old_memcg = set_active_memcg(memcg);
	page = alloc_pages(gfp, KTLS_TX_POOL_ORDER);
	set_active_memcg(old_memcg);
	if (page) {
		tx->pool[tx->pool_n++] = page;
		tx->pool_next = tx->pool_n;
		ktls_stat_inc(sock_net(sk), KTLS_STAT_TX_POOL_PAGES);
	}
out:
	/* An idle socket gives the pool back (see ktls_tx_trim). */
	tx->pool_used = jiffies;
	if (tx->pool_n && !delayed_work_pending(&tx->trim))
		queue_delayed_work(system_wq, &tx->trim,
				   min_t(unsigned long, ktls_tx_pool_idle(),
					 KTLS_TX_POOL_LOOK));
	return page;
}

/*
 * Room for ciphertext, at least 32 bytes so the header never splits: the
 * pool's current page, the next free pool page, else the socket's frag.
 */
static struct page_frag *ktls_tx_frag(struct sock *sk, struct ktls_tx *tx)
{
	struct page_frag *pfrag = &tx->frag;
	struct page *page;

	if (pfrag->page && pfrag->size - pfrag->offset >= 32)
		return pfrag;
	page = ktls_tx_pool_get(sk, tx);
	if (page) {
		pfrag->page = page;
		pfrag->offset = 0;
		pfrag->size = PAGE_SIZE << KTLS_TX_POOL_ORDER;
		return pfrag;
	}
	pfrag->page = NULL;
	pfrag = sk_page_frag(sk);
	return sk_page_frag_refill(sk, pfrag) ? pfrag : NULL;
}

/* Carve len bytes for the record's ciphertext out of page frags. */
static int ktls_tx_alloc_ct(struct sock *sk, struct ktls_tx *tx,
			    unsigned int len)
{
	struct page_frag *pfrag;
	unsigned int left = len;

	if (!sk_wmem_schedule(sk, len))
		return -ENOMEM;
	while (left) {
		unsigned int n;

		pfrag = tx->ct_n < KTLS_TX_CT_FRAGS ? ktls_tx_frag(sk, tx) :
						      NULL;
		if (!pfrag)
			goto undo;
		n = min(left, pfrag->size - pfrag->offset);
		bvec_set_page(&tx->ct[tx->ct_n++], pfrag->page, n,
			      pfrag->offset);
		get_page(pfrag->page);
		pfrag->offset += n;
		left -= n;
	}
	sk_mem_charge(sk, len);
	tx->ct_len = len;
	tx->ct_sent = 0;
	return 0;

undo:
	while (tx->ct_n)
		put_page(tx->ct[--tx->ct_n].bv_page);
	return -ENOMEM;
}

/*
 * KTLS_TX_PAD: zeros after the TLS 1.3 inner type byte so the inner
 * plaintext (inner bytes so far) is a multiple of the option's value,
 * capped by TLS_TX_MAX_PAYLOAD_LEN + 1 (RFC 8446 5.4; 8449 4).
 */
static unsigned int ktls_tx_pad_len(const struct ktls_context *ctx,
				    unsigned int inner)
{
	unsigned int max = ctx->tx_max_payload + 1;
	u32 unit = ctx->tx_pad;
	unsigned int want;

	if (unit <= 1 || inner >= max)
		return 0;
	if (unit >= max)
		want = max;
	else
		want = min(roundup(inner, unit), max);
	return want - inner;
}

/* Point sg entries at pad zero bytes (the zero page, read only). */
static void ktls_tx_sg_pad(struct scatterlist *sg, unsigned int pad)
{
	unsigned int n = 0, chunk;

	while (pad) {
		chunk = min_t(unsigned int, pad, PAGE_SIZE);
		sg_set_page(&sg[n++], ZERO_PAGE(0), chunk, 0);
		pad -= chunk;
	}
}

/* Seal the open record into tx->ct.  The caller pushed any older one. */
static int ktls_tx_seal(struct sock *sk, struct ktls_context *ctx,
			struct ktls_tx *tx)
{
	struct ktls_crypto *c = &ctx->tx_crypto;
	bool tls13 = ctx->version == TLS_1_3_VERSION;
	unsigned int explicit = tls13 ? 0 : c->cipher->explicit_iv;
	unsigned int len, skip, ptlen, aadlen, i, n, pad = 0;
	DECLARE_CRYPTO_WAIT(wait);
	u8 *hdr;
	int rc;

	sock_owned_by_me(sk);
	if (ktls_tx_seq_last(c)) {
		ktls_tx_abort(sk, EBADMSG);
		return -EBADMSG;
	}

	ptlen = tx->pt_len + tls13;
	if (tls13)
		pad = ktls_tx_pad_len(ctx, ptlen);
	ptlen += pad;
	len = tx->pt_len + pad + ktls_record_overhead(c, ctx->version);
	rc = ktls_tx_alloc_ct(sk, tx, len);
	if (rc)
		return rc;

	hdr = page_address(tx->ct[0].bv_page) + tx->ct[0].bv_offset;
	hdr[0] = tls13 ? KTLS_TYPE_DATA : tx->pt_type;
	hdr[1] = 0x03;
	hdr[2] = 0x03;
	hdr[3] = (len - KTLS_HEADER_SIZE) >> 8;
	hdr[4] = (len - KTLS_HEADER_SIZE) & 0xff;
	memcpy(hdr + KTLS_HEADER_SIZE, c->iv + c->cipher->salt_size,
	       explicit);

	ktls_build_nonce(c, ctx->version, tx->nonce);
	aadlen = ktls_build_aad(tx->aad, ctx->version, c->rec_seq,
				tx->pt_type,
				tls13 ? len - KTLS_HEADER_SIZE : tx->pt_len);

	/* src: aad | plaintext fragments | inner type (1.3) | zeros */
	n = tx->pt_n + 1 + tls13;
	sg_init_table(tx->src, n + DIV_ROUND_UP(pad, PAGE_SIZE));
	sg_set_buf(&tx->src[0], tx->aad, aadlen);
	for (i = 0; i < tx->pt_n; i++)
		sg_set_page(&tx->src[i + 1], tx->pt[i].bv_page,
			    tx->pt[i].bv_len, tx->pt[i].bv_offset);
	if (tls13) {
		tx->inner_type = tx->pt_type;
		sg_set_buf(&tx->src[n - 1], &tx->inner_type, 1);
		ktls_tx_sg_pad(&tx->src[n], pad);
	}

	/* dst: aad | the ciphertext pieces after header and nonce */
	sg_init_table(tx->dst, tx->ct_n + 1);
	sg_set_buf(&tx->dst[0], tx->aad, aadlen);
	skip = KTLS_HEADER_SIZE + explicit;
	for (i = 0, n = 1; i < tx->ct_n; i++) {
		const struct bio_vec *bv = &tx->ct[i];

		if (skip >= bv->bv_len) {
			skip -= bv->bv_len;
			continue;
		}
		sg_set_page(&tx->dst[n++], bv->bv_page, bv->bv_len - skip,
			    bv->bv_offset + skip);
		skip = 0;
	}
	sg_mark_end(&tx->dst[n - 1]);

	aead_request_set_tfm(tx->req, c->aead);
	aead_request_set_callback(tx->req, CRYPTO_TFM_REQ_MAY_SLEEP |
				  CRYPTO_TFM_REQ_MAY_BACKLOG,
				  crypto_req_done, &wait);
	aead_request_set_ad(tx->req, aadlen);
	aead_request_set_crypt(tx->req, tx->src, tx->dst, ptlen, tx->nonce);
	/* An async (cryptd) AEAD completes later: correctness first. */
	rc = crypto_wait_req(crypto_aead_encrypt(tx->req), &wait);
	if (rc) {
		ktls_tx_drop_ct(sk, tx);
		ktls_tx_abort(sk, EBADMSG);
		return -EBADMSG;
	}

	ktls_tx_drop_pt(sk, tx);
	ktls_iv_advance(c, ctx->version);
	/* Can't wrap: ktls_tx_seq_last() stops at the last number. */
	ktls_seq_advance(c->rec_seq);
	if (pad)
		ktls_stat_add(sock_net(sk), KTLS_STAT_TX_PAD_BYTES, pad);
	if (ctx->tx_rekey_records && ctx->tx_ku &&
	    ++tx->gen_records >= ctx->tx_rekey_records)
		WRITE_ONCE(tx->ku_auto, true);
	return 0;
}

/* A KeyUpdate is due: the peer or the program asked, or the limit. */
static bool ktls_tx_ku_wanted(const struct ktls_context *ctx,
			      const struct ktls_tx *tx)
{
	return ctx->tx_ku && (tx->ku_pending || tx->ku_auto || tx->ku_user);
}

/*
 * Seal KeyUpdate(update_not_requested) under the current key, then step
 * TX to the next generation: every later record uses it.  Nothing may be
 * open or waiting for TCP (the caller sealed and pushed it): the record
 * order on the wire is the order of the keys.
 */
static int ktls_tx_seal_key_update(struct sock *sk, struct ktls_context *ctx,
				   struct ktls_tx *tx)
{
	/* An answer owed to the peer goes first, never update_requested. */
	bool user = !tx->ku_pending && tx->ku_user;
	struct page *page;
	u8 *msg;
	int rc;

	sock_owned_by_me(sk);
	if (WARN_ON_ONCE(tx->pt_len || tx->ct_len))
		return -EINVAL;
	/* Rare: a page of its own rather than the task's page frag. */
	page = alloc_page(GFP_KERNEL);
	if (!page)
		return -ENOMEM;
	msg = page_address(page);
	msg[0] = KTLS_HS_KEY_UPDATE;
	msg[1] = 0;
	msg[2] = 0;
	msg[3] = 1;
	msg[4] = user && tx->ku_user_req;	/* update_requested */
	bvec_set_page(&tx->pt[0], page, 5, 0);
	tx->pt_n = 1;
	tx->pt_len = 5;
	tx->pt_type = KTLS_TYPE_HANDSHAKE;
	rc = ktls_tx_seal(sk, ctx, tx);
	if (rc) {
		/* Not left open: it would be sealed later without the step. */
		ktls_tx_drop_pt(sk, tx);
		return rc;
	}
	rc = ktls_ku_step(ctx->tx_ku, &ctx->tx_crypto);
	if (rc) {
		ktls_stat_inc(sock_net(sk), KTLS_STAT_KU_FAIL);
		ktls_tx_abort(sk, EBADMSG);
		return -EBADMSG;
	}
	ctx->tx_gen++;
	tx->gen_records = 0;
	WRITE_ONCE(tx->ku_auto, false);
	if (user) {
		WRITE_ONCE(tx->ku_user, false);
		tx->ku_user_req = false;
	} else if (tx->ku_pending) {
		WRITE_ONCE(tx->ku_pending, tx->ku_pending - 1);
		ktls_stat_inc(sock_net(sk), KTLS_STAT_KU_ANSWERED);
	}
	ktls_stat_inc(sock_net(sk), KTLS_STAT_TX_KU_AUTO);
	return 0;
}

/*
 * The next step towards a due KeyUpdate, the sealed record pushed: seal
 * the open record (it closes under the old key), else the KeyUpdate.
 */
static int ktls_tx_ku_step(struct sock *sk, struct ktls_context *ctx,
			   struct ktls_tx *tx)
{
	if (tx->pt_len)
		return ktls_tx_seal(sk, ctx, tx);
	return ktls_tx_seal_key_update(sk, ctx, tx);
}

void ktls_tx_key_update_request(struct sock *sk, struct ktls_context *ctx)
{
	struct ktls_tx *tx = ctx->tx;

	sock_owned_by_me(sk);
	WRITE_ONCE(tx->ku_pending, tx->ku_pending + 1);
	/* A sender holding tx->lock does it in its loop or at unlock. */
	ktls_tx_kick(tx);
}

void ktls_tx_key_update_user(struct sock *sk, struct ktls_context *ctx,
			     bool request_peer)
{
	struct ktls_tx *tx = ctx->tx;

	sock_owned_by_me(sk);
	/* Two requests before the step: one KeyUpdate, asking if either did. */
	tx->ku_user_req |= request_peer;
	WRITE_ONCE(tx->ku_user, true);
	ktls_tx_kick(tx);
}

/* Copy up to len bytes from the iter into the open record. */
static int ktls_tx_add_copy(struct sock *sk, struct ktls_tx *tx,
			    struct iov_iter *from, size_t len)
{
	struct page_frag *pfrag = sk_page_frag(sk);
	size_t added = 0;

	while (added < len) {
		struct bio_vec *last = tx->pt_n ? &tx->pt[tx->pt_n - 1] : NULL;
		size_t n, got;
		bool merge;

		if (!sk_page_frag_refill(sk, pfrag))
			return added ? added : -ENOMEM;
		n = min_t(size_t, len - added, pfrag->size - pfrag->offset);
		if (!sk_wmem_schedule(sk, n))
			return added ? added : -ENOMEM;
		merge = last && last->bv_page == pfrag->page &&
			last->bv_offset + last->bv_len == pfrag->offset;
		if (!merge && tx->pt_n == KTLS_TX_PT_FRAGS)
			break;

		got = copy_from_iter(page_address(pfrag->page) +
				     pfrag->offset, n, from);
		if (!got)
			return added ? added : -EFAULT;
		if (merge) {
			last->bv_len += got;
		} else {
			bvec_set_page(&tx->pt[tx->pt_n++], pfrag->page, got,
				      pfrag->offset);
			get_page(pfrag->page);
		}
		pfrag->offset += got;
		sk_mem_charge(sk, got);
		tx->pt_charged += got;
		tx->pt_len += got;
		added += got;
		if (got < n)
			return added;
	}
	return added;
}

/*
 * A record that is sealed at once (full, or the end of a send without
 * MSG_MORE) needn't be copied first: the AEAD reads the sender's pages
 * directly, as in-tree does.  They are let go before send() returns, so
 * later writes to the buffer can't reach the wire.  Returns the bytes
 * taken, or -errno with the iter untouched (0: copy instead).
 */
static int ktls_tx_seal_user(struct sock *sk, struct ktls_context *ctx,
			     struct ktls_tx *tx, struct iov_iter *from,
			     size_t len)
{
	size_t got = 0;
	int rc;

	while (got < len && tx->pt_n < KTLS_TX_PT_FRAGS) {
		size_t off, left;
		ssize_t n;
		int i = 0;

		n = iov_iter_get_pages2(from, tx->pin, len - got,
					KTLS_TX_PT_FRAGS - tx->pt_n, &off);
		if (n <= 0)
			break;
		for (left = n; left; i++) {
			size_t chunk = min_t(size_t, left, PAGE_SIZE - off);

			bvec_set_page(&tx->pt[tx->pt_n++], tx->pin[i], chunk,
				      off);
			left -= chunk;
			off = 0;
		}
		got += n;
	}
	tx->pt_len = got;
	if (!got)
		return 0;
	rc = ktls_tx_seal(sk, ctx, tx);
	if (rc) {
		ktls_tx_drop_pt(sk, tx);
		iov_iter_revert(from, got);
		return rc;
	}
	return got;
}

/* Reference (not copy) up to len bytes of the bvec iter's pages. */
static int ktls_tx_add_pages(struct ktls_tx *tx, struct iov_iter *from,
			     size_t len)
{
	size_t added = 0;

	while (added < len && tx->pt_n < KTLS_TX_PT_FRAGS) {
		const struct bio_vec *bv = from->bvec;
		size_t off = bv->bv_offset + from->iov_offset;
		struct page *page = nth_page(bv->bv_page, off >> PAGE_SHIFT);
		size_t n;

		off = offset_in_page(off);
		n = min3(len - added, bv->bv_len - from->iov_offset,
			 PAGE_SIZE - off);
		if (n) {
			get_page(page);
			bvec_set_page(&tx->pt[tx->pt_n++], page, n, off);
			tx->pt_len += n;
			added += n;
		}
		/* Also steps over an empty segment. */
		iov_iter_advance(from, n);
	}
	return added;
}

/* TLS_TX_MAX_PAYLOAD_LEN caps the plaintext of each record. */
static bool ktls_tx_full(const struct ktls_context *ctx,
			 const struct ktls_tx *tx)
{
	return tx->pt_len >= ctx->tx_max_payload ||
	       tx->pt_n == KTLS_TX_PT_FRAGS;
}

bool ktls_tx_record_open(const struct ktls_context *ctx)
{
	return ctx->tx->pt_len;
}

/*
 * The send path shared by sendmsg, sendpage and flushes; socket locked,
 * and tx->lock held unless the caller never sleeps (MSG_DONTWAIT) and no
 * sleeper owns it (the *_locked entry points, close()).
 * more: the caller has more data for this record (MSG_MORE and kin).
 * flush: close any open record before taking new data (new record type).
 */
static int ktls_tx_send(struct sock *sk, struct iov_iter *from, int flags,
			bool more, bool splice, u8 type, bool flush)
{
	struct ktls_context *ctx = ktls_get_ctx(sk);
	struct ktls_tx *tx = ctx->tx;
	long timeo = sock_sndtimeo(sk, flags & MSG_DONTWAIT);
	int tcp_flags = flags & (MSG_DONTWAIT | MSG_NOSIGNAL);
	size_t copied = 0;
	int rc = 0;

	sock_owned_by_me(sk);
	for (;;) {
		size_t left = from ? iov_iter_count(from) : 0;

		if (tx->ct_len) {
			rc = ktls_tx_push(sk, tx, tcp_flags |
					  (left || more ? MSG_MORE : 0));
			if (rc)
				break;
		}
		if (unlikely(ktls_tx_ku_wanted(ctx, tx))) {
			rc = ktls_tx_ku_step(sk, ctx, tx);
			if (rc == -ENOMEM)
				goto wait_for_memory;
			if (rc)
				break;
			continue;
		}
		if (tx->pt_len && (flush || tx->pt_closed ||
				   ktls_tx_full(ctx, tx) ||
				   tx->pt_type != type || (!left && !more))) {
			rc = ktls_tx_seal(sk, ctx, tx);
			if (rc == -ENOMEM)
				goto wait_for_memory;
			if (rc)
				break;
			flush = false;
			continue;
		}
		if (!left)
			break;

		if (ktls_tx_seq_last(&ctx->tx_crypto)) {
			ktls_tx_abort(sk, EBADMSG);
			rc = -EBADMSG;
			break;
		}
		if (sk->sk_err) {
			rc = -sk->sk_err;
			break;
		}
		if (sk->sk_shutdown & SEND_SHUTDOWN) {
			rc = -EPIPE;
			break;
		}
		if (!sk_stream_memory_free(sk))
			goto wait_for_sndbuf;

		tx->pt_type = type;
		if (!tx->pt_len && !splice && user_backed_iter(from) &&
		    (left >= ctx->tx_max_payload || !more)) {
			rc = ktls_tx_seal_user(sk, ctx, tx, from,
					       min_t(size_t, left,
						     ctx->tx_max_payload));
			if (rc == -ENOMEM)
				goto wait_for_memory;
			if (rc < 0)
				break;
			if (rc) {
				copied += rc;
				rc = 0;
				continue;
			}
		}
		left = min_t(size_t, left, ctx->tx_max_payload - tx->pt_len);
		if (splice)
			rc = ktls_tx_add_pages(tx, from, left);
		else
			rc = ktls_tx_add_copy(sk, tx, from, left);
		if (rc == -ENOMEM)
			goto wait_for_memory;
		if (rc < 0)
			break;
		copied += rc;
		rc = 0;
		continue;

wait_for_sndbuf:
		set_bit(SOCK_NOSPACE, &sk->sk_socket->flags);
wait_for_memory:
		rc = sk_stream_wait_memory(sk, &timeo);
		if (rc)
			break;
	}

	/*
	 * Bytes taken without MSG_MORE must not idle in an open record
	 * until the next send(): no memory for the seal, a timeout or
	 * signal, or the record before it still waiting for TCP.  The work
	 * seals and pushes it (after the older one, as room comes).
	 */
	if (!more && tx->pt_len) {
		WRITE_ONCE(tx->pt_closed, true);
		ktls_tx_kick(tx);
	} else if (tx->ct_len) {
		/*
		 * A sealed record TCP did not take all of (no room, or it
		 * could not allocate): its bytes were reported sent, so the
		 * work pushes the rest rather than the next send().
		 */
		ktls_tx_kick(tx);
	}
	/* Left undone (no room, a signal): the work finishes it. */
	if (ktls_tx_ku_wanted(ctx, tx))
		ktls_tx_kick(tx);
	if (copied)
		return copied;
	return rc < 0 ? sk_stream_error(sk, flags, rc) : rc;
}

static int ktls_tx_cmsg(struct msghdr *msg, u8 *type)
{
	struct cmsghdr *cmsg;
	int rc = -EINVAL;

	/* Like in-tree: cmsgs of other levels alone are EINVAL. */
	for_each_cmsghdr(cmsg, msg) {
		if (!CMSG_OK(msg, cmsg))
			return -EINVAL;
		if (cmsg->cmsg_level != SOL_TLS)
			continue;
		if (cmsg->cmsg_type != TLS_SET_RECORD_TYPE ||
		    cmsg->cmsg_len < CMSG_LEN(sizeof(*type)))
			return -EINVAL;
		/* A typed record is whole: it cannot stay open. */
		if (msg->msg_flags & MSG_MORE)
			return -EINVAL;
		*type = *(u8 *)CMSG_DATA(cmsg);
		rc = 0;
	}
	return rc;
}

static int ktls_tx_do_sendmsg(struct sock *sk, struct msghdr *msg,
			      size_t size)
{
	int flags = msg->msg_flags;
	bool more = flags & MSG_MORE;
	u8 type = KTLS_TYPE_DATA;
	bool typed = false;
	int rc;

	if (flags & ~(MSG_MORE | MSG_DONTWAIT | MSG_NOSIGNAL |
		      MSG_CMSG_COMPAT | MSG_SPLICE_PAGES | MSG_EOR |
		      MSG_SENDPAGE_NOPOLICY))
		return -EOPNOTSUPP;
	if (more && (flags & MSG_EOR))
		return -EINVAL;
	if (msg->msg_controllen) {
		rc = ktls_tx_cmsg(msg, &type);
		if (rc)
			return rc;
		typed = true;
	}
	return ktls_tx_send(sk, &msg->msg_iter, flags, more,
			    (flags & MSG_SPLICE_PAGES) &&
			    iov_iter_is_bvec(&msg->msg_iter), type, typed);
}

/*
 * proto_ops.sendmsg_locked (sockmap): the caller holds the socket lock but
 * not tx->lock.  A sender of ours may be asleep in TCP over tx->ct with
 * the socket lock let go: resealing tx->ct under it would corrupt what
 * TCP reads.  Refuse while one is (sockmap retries on EAGAIN), and never
 * sleep here, which would let the socket lock go the same way.  No
 * userspace path reaches this today.
 */
static int ktls_tx_sendmsg_locked(struct sock *sk, struct msghdr *msg,
				  size_t size)
{
	struct ktls_tx *tx = ktls_tx_get(sk);

	sock_owned_by_me(sk);
	if (READ_ONCE(tx->sleeper))
		return -EAGAIN;
	msg->msg_flags |= MSG_DONTWAIT;
	return ktls_tx_do_sendmsg(sk, msg, size);
}

static int ktls_tx_sendmsg(struct sock *sk, struct msghdr *msg, size_t size)
{
	struct ktls_tx *tx = ktls_tx_get(sk);
	int rc;

	rc = ktls_tx_lock(tx, !(msg->msg_flags & MSG_DONTWAIT));
	if (rc)
		return rc;
	lock_sock(sk);
	rc = ktls_tx_do_sendmsg(sk, msg, size);
	release_sock(sk);
	ktls_tx_unlock(tx);
	return rc;
}

#ifdef KTLS_HAVE_SENDPAGE
static int ktls_tx_do_sendpage(struct sock *sk, struct page *page,
			       int offset, size_t size, int flags)
{
	struct bio_vec bv;
	struct iov_iter it;

	if (flags & ~(MSG_MORE | MSG_DONTWAIT | MSG_NOSIGNAL |
		      MSG_SENDPAGE_NOTLAST | MSG_SENDPAGE_NOPOLICY |
		      MSG_NO_SHARED_FRAGS))
		return -EOPNOTSUPP;

	bvec_set_page(&bv, page, size, offset);
	iov_iter_bvec(&it, ITER_SOURCE, &bv, 1, size);
	return ktls_tx_send(sk, &it, flags,
			    flags & (MSG_MORE | MSG_SENDPAGE_NOTLAST), true,
			    KTLS_TYPE_DATA, false);
}

/* proto_ops.sendpage_locked: the contract of ktls_tx_sendmsg_locked(). */
static int ktls_tx_sendpage_locked(struct sock *sk, struct page *page,
				   int offset, size_t size, int flags)
{
	struct ktls_tx *tx = ktls_tx_get(sk);

	sock_owned_by_me(sk);
	if (READ_ONCE(tx->sleeper))
		return -EAGAIN;
	return ktls_tx_do_sendpage(sk, page, offset, size,
				   flags | MSG_DONTWAIT);
}

static int ktls_tx_sendpage(struct sock *sk, struct page *page, int offset,
			    size_t size, int flags)
{
	struct ktls_tx *tx = ktls_tx_get(sk);
	int rc;

	rc = ktls_tx_lock(tx, !(flags & MSG_DONTWAIT));
	if (rc)
		return rc;
	lock_sock(sk);
	rc = ktls_tx_do_sendpage(sk, page, offset, size, flags);
	release_sock(sk);
	ktls_tx_unlock(tx);
	return rc;
}
#endif

#ifdef KTLS_HAVE_SPLICE_EOF
/* The splice ended without SPLICE_F_MORE's promise kept: close the record. */
static void ktls_tx_splice_eof(struct socket *sock)
{
	struct sock *sk = sock->sk;
	struct ktls_tx *tx = ktls_tx_get(sk);

	if (!READ_ONCE(tx->pt_len))
		return;
	if (ktls_tx_lock(tx, false)) {
		/* A signal: the work closes the record instead. */
		set_bit(KTLS_TX_SEAL_WANTED, &tx->flags);
		ktls_tx_kick(tx);
		return;
	}
	lock_sock(sk);
	/* Don't block: the work pushes what is left as TCP makes room. */
	ktls_tx_send(sk, NULL, MSG_DONTWAIT | MSG_NOSIGNAL, false, false,
		     tx->pt_type, true);
	release_sock(sk);
	ktls_tx_unlock(tx);
}
#endif

/*
 * close() and shutdown(SHUT_WR) don't wait for the peer in TCP, and what
 * send() accepted must still arrive: hand the pending and open records to
 * TCP.  TCP sends them before FIN.  Socket locked; tx->lock held, or
 * close() (no sender left, the work stands down on KTLS_TX_CLOSING).
 */
static void ktls_tx_flush_final(struct sock *sk, struct ktls_tx *tx)
{
	struct ktls_context *ctx = ktls_get_ctx(sk);
	int sndbuf, room;

	sock_owned_by_me(sk);
	if (sk->sk_state != TCP_ESTABLISHED && sk->sk_state != TCP_CLOSE_WAIT)
		return;
	ktls_tx_send(sk, NULL, MSG_DONTWAIT | MSG_NOSIGNAL, false, false,
		     tx->pt_type, true);
	if (!tx->ct_len && !tx->pt_len)
		return;
	/*
	 * SO_SNDBUF is full (a stalled peer).  Let TCP queue what is left,
	 * at most two records, past it: raise it by that much plus room
	 * for skb overhead, only for the moment it takes.
	 */
	sndbuf = READ_ONCE(sk->sk_sndbuf);
	room = READ_ONCE(sk->sk_wmem_queued) + 2 * (tx->ct_len - tx->ct_sent +
		tx->pt_len + ktls_record_overhead(&ctx->tx_crypto,
						  ctx->version)) + SZ_64K;
	WRITE_ONCE(sk->sk_sndbuf, max(sndbuf, room));
	ktls_tx_send(sk, NULL, MSG_DONTWAIT | MSG_NOSIGNAL, false, false,
		     tx->pt_type, true);
	WRITE_ONCE(sk->sk_sndbuf, sndbuf);
}

/*
 * tx->lock for a final flush.  The work, the trim and a non-blocking
 * sender let go at once: wait for them (a trylock alone would lose an
 * open MSG_MORE record to them).  A sleeper may hold it for good, and
 * shutdown() is often what is meant to wake it: don't wait for that one.
 */
static bool ktls_tx_lock_flush(struct ktls_tx *tx)
{
	while (!mutex_trylock(&tx->lock)) {
		if (READ_ONCE(tx->sleeper) || signal_pending(current))
			return false;
		schedule_timeout_uninterruptible(1);
	}
	return true;
}

static int ktls_tx_shutdown(struct socket *sock, int how)
{
	struct sock *sk = sock->sk;
	struct ktls_tx *tx = ktls_tx_get(sk);

	/* inet_shutdown() sets SEND_SHUTDOWN before any proto hook runs. */
	if ((how == SHUT_WR || how == SHUT_RDWR) && ktls_tx_lock_flush(tx)) {
		lock_sock(sk);
		ktls_tx_flush_final(sk, tx);
		release_sock(sk);
		ktls_tx_unlock(tx);
	}
	return inet_shutdown(sock, how);
}

/* Drop our references to the pool's pages; TCP keeps those in flight. */
static void ktls_tx_pool_release(struct ktls_tx *tx)
{
	ktls_stat_add(sock_net(tx->sk), KTLS_STAT_TX_POOL_PAGES,
		      -(long)tx->pool_n);
	tx->frag.page = NULL;
	while (tx->pool_n)
		put_page(tx->pool[--tx->pool_n]);
	tx->pool_next = 0;
}

/*
 * A socket that stopped sending holds no pages: the pool only saves the
 * zeroing of pages during a transfer, not worth memory kept for idle
 * connections.
 */
static void ktls_tx_trim(struct work_struct *work)
{
	struct ktls_tx *tx = container_of(to_delayed_work(work),
					  struct ktls_tx, trim);
	unsigned long idle_at;

	/*
	 * A sender holds tx->lock, maybe blocked for good on a stalled peer:
	 * not idle, and not worth a worker stuck on the mutex.  Look again
	 * later.
	 */
	if (!mutex_trylock(&tx->lock)) {
		queue_delayed_work(system_wq, &tx->trim, KTLS_TX_POOL_LOOK);
		return;
	}
	/* close() flushes under the socket lock alone. */
	lock_sock(tx->sk);
	idle_at = tx->pool_used + ktls_tx_pool_idle();
	/* Closing: ktls_tx_free() releases the pool. */
	if (!test_bit(KTLS_TX_CLOSING, &tx->flags)) {
		/* A lowered tx_pool_idle_ms counts within a second. */
		if (time_before(jiffies, idle_at))
			queue_delayed_work(system_wq, &tx->trim,
					   min_t(unsigned long,
						 idle_at - jiffies,
						 KTLS_TX_POOL_LOOK));
		else
			ktls_tx_pool_release(tx);
	}
	release_sock(tx->sk);
	ktls_tx_unlock(tx);
}

/*
 * The work's share, never blocking: the sealed record, then an open one
 * a send() without MSG_MORE had to leave open (see ktls_tx_send()).
 */
static void ktls_tx_push_pending(struct sock *sk, struct ktls_tx *tx)
{
	struct ktls_context *ctx = ktls_get_ctx(sk);
	int rc;

	sock_owned_by_me(sk);
	lockdep_assert_held(&tx->lock);
	if (test_and_clear_bit(KTLS_TX_SEAL_WANTED, &tx->flags) && tx->pt_len)
		WRITE_ONCE(tx->pt_closed, true);
	for (;;) {
		/*
		 * Not all taken: TCP calls write_space again as room comes,
		 * once what it holds is acknowledged.  If it holds nothing
		 * (it could not allocate), no ACK will come: look again.
		 */
		if (tx->ct_len &&
		    ktls_tx_push(sk, tx, MSG_DONTWAIT | MSG_NOSIGNAL)) {
			if (!READ_ONCE(sk->sk_wmem_queued))
				queue_delayed_work(system_wq, &tx->work,
						   KTLS_TX_RETRY);
			return;
		}
		/* A KeyUpdate is due even when nobody sends. */
		if (!ktls_tx_ku_wanted(ctx, tx))
			break;
		rc = ktls_tx_ku_step(sk, ctx, tx);
		if (rc == -ENOMEM) {
			queue_delayed_work(system_wq, &tx->work,
					   KTLS_TX_RETRY);
			return;
		}
		if (rc)
			return;
	}
	if (!tx->pt_len || !tx->pt_closed)
		return;
	rc = ktls_tx_seal(sk, ctx, tx);
	if (rc == -ENOMEM) {
		/* Nothing in flight may call write_space: look again. */
		queue_delayed_work(system_wq, &tx->work, KTLS_TX_RETRY);
		return;
	}
	if (!rc)
		ktls_tx_push(sk, tx, MSG_DONTWAIT | MSG_NOSIGNAL);
}

static void ktls_tx_work(struct work_struct *work)
{
	struct ktls_tx *tx = container_of(to_delayed_work(work),
					  struct ktls_tx, work);
	struct sock *sk = tx->sk;

	/*
	 * Never wait for tx->lock: its owner may be a sender asleep in TCP
	 * for as long as the peer keeps its window shut (a hung worker per
	 * connection).  That sender pushes by itself; our bit makes it (or
	 * whoever holds the lock next) queue us again once it lets go.
	 */
	if (!mutex_trylock(&tx->lock)) {
		set_bit(KTLS_TX_PUSH_WANTED, &tx->flags);
		/* Pairs with ktls_tx_unlock(). */
		smp_mb__after_atomic();
		if (!mutex_trylock(&tx->lock))
			return;
	}
	clear_bit(KTLS_TX_PUSH_WANTED, &tx->flags);
	lock_sock(sk);
	if (!test_bit(KTLS_TX_CLOSING, &tx->flags))
		ktls_tx_push_pending(sk, tx);
	release_sock(sk);
	ktls_tx_unlock(tx);
}

void ktls_tx_write_space(struct sock *sk)
{
	struct ktls_context *ctx = ktls_get_ctx(sk);
	struct ktls_tx *tx;

	/*
	 * A layer stacked above us (sockmap) may call us after
	 * ktls_close() cleared the context: the socket is being closed,
	 * there is nothing to push and nobody to wake.
	 */
	if (unlikely(!ctx))
		return;
	tx = ctx->tx;
	/* Runs in softirq: push from process context. */
	if (tx && READ_ONCE(tx->ct_len) &&
	    !test_bit(KTLS_TX_CLOSING, &tx->flags))
		ktls_tx_kick(tx);
	ctx->sk_write_space(sk);
}

int ktls_tx_init(struct sock *sk, struct ktls_context *ctx)
{
	struct ktls_tx *tx;

	tx = kzalloc(sizeof(*tx), GFP_KERNEL);
	if (!tx)
		return -ENOMEM;
	tx->req = aead_request_alloc(ctx->tx_crypto.aead, GFP_KERNEL);
	if (!tx->req) {
		kfree(tx);
		return -ENOMEM;
	}
	tx->sk = sk;
	tx->pool_max = min_t(unsigned int, READ_ONCE(tx_pool_pages),
			     KTLS_TX_POOL_MAX);
	mutex_init(&tx->lock);
	INIT_DELAYED_WORK(&tx->work, ktls_tx_work);
	INIT_DELAYED_WORK(&tx->trim, ktls_tx_trim);
	ctx->tx = tx;
	return 0;
}

int ktls_tx_rekey(struct sock *sk, struct ktls_context *ctx,
		  struct crypto_aead *aead)
{
	struct ktls_tx *tx = ctx->tx;
	int rc;

	sock_owned_by_me(sk);
	/* The new key's rec_seq, installed by the caller, restarts the count. */
	rc = ktls_aead_req_replace(&tx->req, aead);
	if (rc)
		return rc;
	/* The program rekeys TX itself: the kernel owes nothing any more. */
	WRITE_ONCE(tx->ku_pending, 0);
	WRITE_ONCE(tx->ku_auto, false);
	WRITE_ONCE(tx->ku_user, false);
	tx->ku_user_req = false;
	tx->gen_records = 0;
	return 0;
}

void ktls_tx_build_proto(struct proto *prot, struct proto_ops *ops)
{
	prot->sendmsg = ktls_tx_sendmsg;
#ifdef KTLS_HAVE_SPLICE_EOF
	prot->splice_eof = ktls_tx_splice_eof;
#endif
#ifdef KTLS_HAVE_SENDPAGE
	prot->sendpage = ktls_tx_sendpage;
	ops->sendpage_locked = ktls_tx_sendpage_locked;
#endif
	/* TCP's would write plaintext past us. */
	ops->sendmsg_locked = ktls_tx_sendmsg_locked;
	ops->shutdown = ktls_tx_shutdown;
}

void ktls_tx_release(struct sock *sk, struct ktls_context *ctx, long timeo)
{
	struct ktls_tx *tx = ctx->tx;

	sock_owned_by_me(sk);
	set_bit(KTLS_TX_CLOSING, &tx->flags);
	/*
	 * Never blocks: TCP's close() then waits within SO_LINGER for what
	 * is queued.  SO_LINGER {1, 0} resets the connection and drops
	 * TCP's queue: nothing to flush, as in-tree.
	 */
	if (!sock_flag(sk, SOCK_LINGER) || READ_ONCE(sk->sk_lingertime))
		ktls_tx_flush_final(sk, tx);
	ktls_tx_drop_ct(sk, tx);
	ktls_tx_drop_pt(sk, tx);
}

void ktls_tx_free(struct ktls_context *ctx)
{
	struct ktls_tx *tx = ctx->tx;

	cancel_delayed_work_sync(&tx->work);
	cancel_delayed_work_sync(&tx->trim);
	ktls_tx_pool_release(tx);
	aead_request_free(tx->req);
	mutex_destroy(&tx->lock);
	/* The nonce and AAD copies are key-derived state. */
	kfree_sensitive(tx);
	ctx->tx = NULL;
}
