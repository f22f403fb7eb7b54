// SPDX-License-Identifier: GPL-2.0
/*
 * ktls RX: frame TLS records out of the TCP receive queue, open them with
 * the AEAD and hand plaintext to recvmsg() and splice().
 *
 * A record stays in TCP's receive queue until a reader opens it: the AEAD
 * reads the ciphertext from the skbs and writes the plaintext into the
 * reader's pages or into rx->cur.  sk_data_ready copies only the header
 * into rx->cur, so poll() and sleeping readers learn when a whole record
 * is there.  When TCP can't hold a whole record (small receive buffer,
 * closed window), its bytes are copied into rx->cur as they arrive
 * instead ("copy mode") and it is opened in place.  Opened records wait
 * on rx->ready until read (MSG_PEEK may open several).  Buffers are
 * recycled through rx->spare, which an idle socket frees (rx_buf_idle_ms)
 * and the buffer work allocates again when a record arrives.  rx->cur,
 * the spare and the receive queue are only touched with the socket owned
 * (lock_sock) or from sk_data_ready, which TCP calls only with exclusive
 * access to that queue.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <crypto/aead.h>
#include <crypto/skcipher.h>
#include <linux/list.h>
#include <linux/moduleparam.h>
#include <linux/poll.h>
#include <linux/scatterlist.h>
#include <linux/sched/signal.h>
#include <linux/skbuff.h>
#include <linux/slab.h>
#include <linux/splice.h>
#include <linux/uio.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <net/tcp.h>

#include "handshake.h"
#include "keyupd.h"
#include "rx.h"
#include "stats.h"
#include "tx.h"

/* A record's plaintext spans 5 pages; leave room for a split iovec. */
#define KTLS_RX_ZC_PAGES	8
/* skb pieces a record may span in TCP's queue before it is copied out. */
#define KTLS_RX_SRC_SG		48
/* Records left unread this long are opened by the idle work. */
#define KTLS_RX_IDLE_DELAY	(HZ / 100 ?: 1)
/* The buffer work looks at an idle spare at least this often. */
#define KTLS_RX_BUF_LOOK	HZ
#define KTLS_RX_BUF_RETRY	(HZ / 20 ?: 1)	/* its allocation failed */

static unsigned int rx_buf_idle_ms = 1000;
module_param(rx_buf_idle_ms, uint, 0644);
MODULE_PARM_DESC(rx_buf_idle_ms,
		 "A receiving socket frees its spare record buffer (16 KiB) this long after a record last used it (ms, default 1000; 0: kept)");

/* One record: header and ciphertext, opened in place. */
struct ktls_rx_rec {
	struct list_head list;
	unsigned int off;	/* of the unread plaintext in data[] */
	unsigned int len;	/* unread plaintext bytes */
	u8 type;
	u8 data[];
};

/*
 * What opening the record in rx->cur needs beside struct ktls_rx: the
 * scatterlists for its ciphertext in TCP's skbs and for a reader's pages,
 * and the TLS 1.3 peek's keystream block (crypto reads no stack).  It
 * rides at the end of every record buffer, where the 32 KiB kmalloc of a
 * 16 KiB record has room, so an idle receiver holds a 512-byte struct
 * ktls_rx instead of a 4 KiB one.
 */
struct ktls_rx_scratch {
	/* The AAD and the ciphertext in TCP's skbs. */
	struct scatterlist sg_src[KTLS_RX_SRC_SG + 1];
	unsigned int src_end;		/* the sg_src entry marked last */
	/* Zero copy: AAD, the reader's pages, the TLS 1.3 type byte. */
	struct scatterlist sg_user[KTLS_RX_ZC_PAGES + 2];
	struct page *pages[KTLS_RX_ZC_PAGES];
	struct scatterlist sg_ks;
	u8 ks[64];			/* one keystream block */
};

struct ktls_rx {
	void (*saved_data_ready)(struct sock *sk);
	struct list_head ready;		/* opened, not yet fully read */
	struct ktls_rx_rec *spare;	/* recycled: no allocation per record */
	struct ktls_rx_rec *cur;	/* ciphertext being gathered */
	unsigned int have;		/* bytes of it in cur */
	unsigned int cur_len;		/* its length, 0 until header checked */
	u32 cur_seq;			/* TCP's copied_seq at its header */
	bool copy;			/* cur gathers the whole record */
	unsigned int nready;		/* list length, read by poll */
	bool rec_queued;		/* cur holds a whole record */
	bool stopped;			/* framing error: no more records */
	bool key_expired;		/* KeyUpdate read: wait for TLS_RX */
	bool ku_now;			/* the kernel steps RX after this one */
	struct ktls_hs_parser hs;	/* TLS 1.3 handshake messages */
	bool reader_present;
	bool taken;			/* a reader took a record: wake pollers */
	unsigned int charged;		/* record buffers charged to sk */
	int fatal;			/* sticky -EBADMSG after a bad record */
	wait_queue_head_t wq;		/* readers waiting for reader_present */
	/*
	 * With the RX secret set, records nobody reads are opened by this
	 * work, so a KeyUpdate (and its answer) does not wait for a reader.
	 */
	struct delayed_work idle;
	/* Frees an idle spare; allocates one when a record finds none. */
	struct delayed_work buf_work;
	unsigned long buf_used;		/* jiffies a record last freed one */
	struct sock *sk;
	bool closing;			/* ktls_rx_release() ran */

	u16 version;
	u8 eiv;				/* explicit nonce bytes per record */
	unsigned int min_len;		/* header length field bounds */
	unsigned int max_len;
	unsigned int prepend;		/* bytes needed before the checks */
	unsigned int rec_size;		/* largest header + body */

	struct aead_request *req;
	struct scatterlist sg[2];
	/* TLS 1.3: the bare stream cipher, to peek at a record's type. */
	struct crypto_sync_skcipher *peek;
	u8 tail;
	u8 aad[KTLS_MAX_AAD];
	u8 iv[KTLS_AEAD_IV_SIZE];
};

static void ktls_rx_report(struct sock *sk, int err)
{
	WRITE_ONCE(sk->sk_err, -err);
	/* Paired with smp_rmb() in tcp_poll() */
	smp_wmb();
	sk_error_report(sk);
}

/* Like the in-tree strparser: report once through sk_err, then stop. */
static void ktls_rx_abort(struct sock *sk, struct ktls_rx *rx, int err)
{
	rx->stopped = true;
	ktls_rx_report(sk, err);
	/* Its buffers are of no more use (ktls_rx_drop_bufs). */
	if (!rx->closing)
		mod_delayed_work(system_wq, &rx->buf_work, 0);
}

static int ktls_rx_copy_actor(read_descriptor_t *desc, struct sk_buff *skb,
			      unsigned int offset, size_t len)
{
	size_t n = min(len, desc->count);
	u8 *to = (u8 *)desc->arg.data + desc->written;

	if (!n)
		return 0;
	if (skb_copy_bits(skb, offset, to, n)) {
		desc->error = -EFAULT;
		return -EFAULT;
	}
	desc->written += n;
	desc->count -= n;
	return n;
}

/*
 * Copy up to len bytes, at off bytes past the head of TCP's receive
 * queue, to buf, leaving them queued; returns how many.
 */
static unsigned int ktls_rx_peek_at(struct sock *sk, unsigned int off,
				    u8 *buf, unsigned int len)
{
	u32 seq = READ_ONCE(tcp_sk(sk)->copied_seq) + off;
	unsigned int done = 0, inq = tcp_inq(sk);
	struct sk_buff *skb;

	if (off >= inq)
		return 0;
	len = min(len, inq - off);
	skb_queue_walk(&sk->sk_receive_queue, skb) {
		u32 o = seq - TCP_SKB_CB(skb)->seq;
		unsigned int n;

		if (done == len)
			break;
		if (o >= skb->len)
			continue;
		n = min(len - done, skb->len - o);
		if (skb_copy_bits(skb, o, buf + done, n))
			break;
		done += n;
		seq += n;
	}
	return done;
}

/* Move up to n queued bytes from TCP to the end of rx->cur. */
static void ktls_rx_read(struct sock *sk, struct ktls_rx *rx, unsigned int n)
{
	read_descriptor_t desc = {};

	if (!n || !tcp_inq(sk))
		return;
	desc.arg.data = rx->cur->data + rx->have;
	desc.count = n;
	tcp_read_sock(sk, &desc, ktls_rx_copy_actor);
	rx->have += desc.written;
}

/* The header checks of the in-tree, in its order: 0 or -errno. */
static int ktls_rx_check_header(struct ktls_rx *rx, const u8 *hdr)
{
	unsigned int len = (hdr[3] << 8) | hdr[4];

	if (len > rx->max_len)
		return -EMSGSIZE;
	if (len < rx->min_len)
		return -EBADMSG;
	if (hdr[1] != 3 || hdr[2] != 3)
		return -EINVAL;
	rx->cur_len = KTLS_HEADER_SIZE + len;
	return 0;
}

/* All of the record whose header was checked is there. */
static bool ktls_rx_whole(struct sock *sk, const struct ktls_rx *rx)
{
	if (rx->copy)
		return rx->have == rx->cur_len;
	return tcp_inq(sk) >= rx->cur_len;
}

static bool ktls_rx_fill(struct sock *sk, struct ktls_rx *rx);

/*
 * A record TCP can't hold in full (small receive buffer, window closed)
 * would never complete there: copy it out as it arrives, like in-tree's
 * strparser does.
 */
static bool ktls_rx_copy_mode(struct sock *sk, struct ktls_rx *rx)
{
	if (rx->copy || !tcp_epollin_ready(sk, INT_MAX))
		return false;
	rx->copy = true;
	rx->have = 0;
	return ktls_rx_fill(sk, rx);
}

/*
 * Frame the next record: true once all of it is there (in TCP's queue or,
 * in copy mode, in rx->cur).  The header is checked once the in-tree
 * would (header and explicit nonce).  Needs exclusive access to the
 * receive queue; never allocates.
 */
static bool ktls_rx_fill(struct sock *sk, struct ktls_rx *rx)
{
	int err;

	/*
	 * Someone read TCP's queue under us (a plain recv() that slept in
	 * tcp_recvmsg() before TLS_RX was set): frame again from what TCP
	 * holds now, as in-tree does since "tls: handle data disappearing
	 * from under the TLS ULP".
	 */
	if (unlikely(rx->cur_len && !rx->copy &&
		     rx->cur_seq != READ_ONCE(tcp_sk(sk)->copied_seq)))
		rx->cur_len = 0;
	if (rx->cur_len && ktls_rx_whole(sk, rx))
		return true;
	if (rx->stopped)
		return false;
	if (!rx->cur) {
		if (!rx->spare || !tcp_inq(sk))
			return false;
		rx->cur = rx->spare;
		rx->spare = NULL;
		rx->have = 0;
		rx->cur_len = 0;
		rx->copy = false;
	}
	if (!rx->cur_len) {
		if (rx->copy)
			ktls_rx_read(sk, rx, rx->prepend - rx->have);
		else
			rx->have = ktls_rx_peek_at(sk, 0, rx->cur->data,
						   rx->prepend);
		rx->cur_seq = READ_ONCE(tcp_sk(sk)->copied_seq);
		if (rx->have < rx->prepend)
			return ktls_rx_copy_mode(sk, rx);
		err = ktls_rx_check_header(rx, rx->cur->data);
		if (err) {
			ktls_rx_abort(sk, rx, err);
			return false;
		}
	}
	if (rx->copy)
		ktls_rx_read(sk, rx, rx->cur_len - rx->have);
	if (ktls_rx_whole(sk, rx))
		return true;
	return ktls_rx_copy_mode(sk, rx);
}

/* Pull what TCP has and refresh what poll() and sleepers look at. */
static void ktls_rx_update(struct sock *sk, struct ktls_rx *rx)
{
	WRITE_ONCE(rx->rec_queued, ktls_rx_fill(sk, rx));
}

/*
 * Readable whenever recv() returns without waiting: text or a whole
 * record is there, or it fails at once.  As in-tree, a bad record keeps
 * the socket readable after SO_ERROR consumed sk_err (in-tree leaves it
 * queued and fails it again).  After a KeyUpdate recv() says EKEYEXPIRED
 * at once: in-tree 6.1/6.12 have no rekey, so we follow the same rule.
 */
static bool ktls_rx_readable(const struct ktls_rx *rx)
{
	return READ_ONCE(rx->nready) || READ_ONCE(rx->rec_queued) ||
	       READ_ONCE(rx->fatal) || READ_ONCE(rx->key_expired);
}

/* sock_def_readable() (not exported): wake whoever sleeps on sk. */
static void ktls_rx_wake_sk(struct sock *sk)
{
	struct socket_wq *wq;

	rcu_read_lock();
	wq = rcu_dereference(sk->sk_wq);
	if (skwq_has_sleeper(wq))
		wake_up_interruptible_sync_poll(&wq->wait, EPOLLIN |
						EPOLLPRI | EPOLLRDNORM |
						EPOLLRDBAND);
	sk_wake_async(sk, SOCK_WAKE_WAITD, POLL_IN);
	rcu_read_unlock();
}

static void ktls_rx_data_ready(struct sock *sk)
{
	struct ktls_context *ctx = ktls_get_ctx(sk);
	struct ktls_rx *rx = ctx ? ctx->rx : NULL;

	/*
	 * A layer stacked above us may keep calling the callback it saved
	 * after ktls_close() cleared icsk_ulp_data (set under the socket
	 * lock, which this runs under too, so a context seen here is not
	 * freed under us).  Our saved callback is gone with rx: wake
	 * sleepers as TCP's default would.
	 */
	if (unlikely(!rx)) {
		ktls_rx_wake_sk(sk);
		return;
	}
	/* Update before the wakeup so woken readers see the record. */
	ktls_rx_update(sk, rx);
	/*
	 * The spare was freed while idle and no reader is there to allocate
	 * one: the buffer work does (no allocation in softirq), then wakes
	 * pollers.
	 */
	if (unlikely(!rx->cur && !rx->spare && !READ_ONCE(rx->nready) &&
		     !rx->stopped && tcp_inq(sk)))
		mod_delayed_work(system_wq, &rx->buf_work, 0);
	/*
	 * Lockless hints: the work checks again under the socket lock.  Not
	 * rec_queued: with every buffer on the ready list nothing is
	 * framed here, yet the work can allocate one.
	 */
	if (READ_ONCE(ctx->rx_ku) && tcp_inq(sk) &&
	    !READ_ONCE(rx->reader_present))
		queue_delayed_work(system_wq, &rx->idle, KTLS_RX_IDLE_DELAY);
	rx->saved_data_ready(sk);
}

static int ktls_rx_reader_lock(struct sock *sk, struct ktls_rx *rx,
			       bool nonblock)
{
	long timeo;
	int err = 0;

	lock_sock(sk);
	timeo = sock_rcvtimeo(sk, nonblock);
	/* The lock is dropped while a reader sleeps: keep readers apart. */
	while (unlikely(rx->reader_present)) {
		DEFINE_WAIT_FUNC(wait, woken_wake_function);

		if (!timeo) {
			err = -EAGAIN;
			break;
		}
		add_wait_queue(&rx->wq, &wait);
		release_sock(sk);
		timeo = wait_woken(&wait, TASK_INTERRUPTIBLE, timeo);
		lock_sock(sk);
		remove_wait_queue(&rx->wq, &wait);
		if (signal_pending(current)) {
			err = sock_intr_errno(timeo);
			break;
		}
	}
	if (err) {
		release_sock(sk);
		return err;
	}
	rx->reader_present = true;
	return 0;
}

/* Socket owned: let the next reader in. */
static void ktls_rx_reader_release(struct sock *sk, struct ktls_rx *rx)
{
	sock_owned_by_me(sk);
	ktls_rx_update(sk, rx);
	/*
	 * A poller that looked while we held the record it saw would sleep
	 * through the next one framed here (no data_ready comes for it):
	 * wake pollers whenever a take leaves the socket readable, as
	 * in-tree does when its parser finds the next record.
	 */
	if (rx->taken) {
		rx->taken = false;
		if (ktls_rx_readable(rx))
			rx->saved_data_ready(sk);
	}
	rx->reader_present = false;
	if (wq_has_sleeper(&rx->wq))
		wake_up(&rx->wq);
}

static void ktls_rx_reader_unlock(struct sock *sk, struct ktls_rx *rx)
{
	ktls_rx_reader_release(sk, rx);
	release_sock(sk);
}

static unsigned int ktls_rx_scratch_off(const struct ktls_rx *rx)
{
	return ALIGN(sizeof(struct ktls_rx_rec) + rx->rec_size,
		     __alignof__(struct ktls_rx_scratch));
}

static unsigned int ktls_rx_rec_bytes(const struct ktls_rx *rx)
{
	return ktls_rx_scratch_off(rx) + sizeof(struct ktls_rx_scratch);
}

static struct ktls_rx_scratch *ktls_rx_scratch(const struct ktls_rx *rx,
					       struct ktls_rx_rec *rec)
{
	return (void *)rec + ktls_rx_scratch_off(rx);
}

/*
 * Record buffers are receive memory of the socket: charge them like the
 * skbs the in-tree code keeps queued.  Socket owned.
 */
static struct ktls_rx_rec *ktls_rx_alloc_rec(struct sock *sk,
					     struct ktls_rx *rx)
{
	unsigned int size = ktls_rx_rec_bytes(rx);
	struct ktls_rx_scratch *sx;
	struct ktls_rx_rec *rec;

	sock_owned_by_me(sk);
	if (sk_has_account(sk) && size > sk->sk_forward_alloc &&
	    !__sk_mem_schedule(sk, size - sk->sk_forward_alloc, SK_MEM_RECV))
		return NULL;
	rec = kmalloc(size, GFP_KERNEL);
	if (!rec) {
		sk_mem_reclaim(sk);
		return NULL;
	}
	sx = ktls_rx_scratch(rx, rec);
	sg_init_table(sx->sg_src, ARRAY_SIZE(sx->sg_src));
	sx->src_end = ARRAY_SIZE(sx->sg_src) - 1;
	sk_mem_charge(sk, size);
	rx->charged += size;
	ktls_stat_inc(sock_net(sk), KTLS_STAT_RX_BUFFERS);
	return rec;
}

static void ktls_rx_free_rec(struct sock *sk, struct ktls_rx *rx,
			     struct ktls_rx_rec *rec)
{
	unsigned int size = ktls_rx_rec_bytes(rx);

	sock_owned_by_me(sk);
	kfree_sensitive(rec);
	rx->charged -= size;
	sk_mem_uncharge(sk, size);
	ktls_stat_dec(sock_net(sk), KTLS_STAT_RX_BUFFERS);
}

/* Unset: 0, the spare stays. */
static unsigned long ktls_rx_buf_idle(void)
{
	unsigned int ms = READ_ONCE(rx_buf_idle_ms);

	return ms ? max(msecs_to_jiffies(ms), 1UL) : 0;
}

/* The spare was just used: an idle socket gives it back (buf_work). */
static void ktls_rx_buf_arm(struct ktls_rx *rx)
{
	unsigned long idle = ktls_rx_buf_idle();

	rx->buf_used = jiffies;
	if (idle && !delayed_work_pending(&rx->buf_work))
		queue_delayed_work(system_wq, &rx->buf_work,
				   min(idle, KTLS_RX_BUF_LOOK));
}

static void ktls_rx_put_rec(struct sock *sk, struct ktls_rx *rx,
			    struct ktls_rx_rec *rec)
{
	if (rx->spare) {
		ktls_rx_free_rec(sk, rx, rec);
		return;
	}
	rx->spare = rec;
	ktls_rx_buf_arm(rx);
}

/*
 * Records opened by MSG_PEEK or partly read hold their buffers: give
 * ktls_rx_fill() one to gather into.  False only when out of memory.
 */
static bool ktls_rx_have_buf(struct sock *sk, struct ktls_rx *rx)
{
	sock_owned_by_me(sk);
	if (rx->cur || rx->spare || rx->stopped)
		return true;
	rx->spare = ktls_rx_alloc_rec(sk, rx);
	return rx->spare;
}

/* A whole record is there now, without waiting. */
static bool ktls_rx_ready_now(struct sock *sk, struct ktls_rx *rx)
{
	if (tcp_inq(sk) && !ktls_rx_have_buf(sk, rx))
		return false;
	return ktls_rx_fill(sk, rx);
}

/*
 * Wait until rx->cur holds a whole record: 1, or 0 at end of stream, or
 * an error.  As in-tree, a queued record wins over a pending error; see
 * KTLS_RX_KEEP_ERR_AFTER_DATA for an error met after data was copied.
 */
static int ktls_rx_wait(struct sock *sk, struct ktls_rx *rx, long *timeo,
			bool has_copied)
{
	DEFINE_WAIT_FUNC(wait, woken_wake_function);
	int ret;

	sock_owned_by_me(sk);
	while (!ktls_rx_fill(sk, rx)) {
		/* Nothing to gather into: TCP may hold a record already. */
		if (!rx->cur && !rx->spare && !rx->stopped) {
			if (!ktls_rx_have_buf(sk, rx))
				return -ENOMEM;
			continue;
		}
		if (sk->sk_err) {
			if (has_copied && KTLS_RX_KEEP_ERR_AFTER_DATA)
				return -READ_ONCE(sk->sk_err);
			return sock_error(sk);
		}
		if (sk->sk_shutdown & RCV_SHUTDOWN)
			return 0;
		if (sock_flag(sk, SOCK_DONE))
			return 0;
		if (!*timeo)
			return -EAGAIN;

		/*
		 * Not whole after all (TCP's queue shrank without a
		 * data_ready, e.g. SO_OOBINLINE turned off): a stale flag
		 * would end every sleep at once and spin here.
		 */
		WRITE_ONCE(rx->rec_queued, false);
		add_wait_queue(sk_sleep(sk), &wait);
		sk_set_bit(SOCKWQ_ASYNC_WAITDATA, sk);
		/* Lockless: sk_data_ready keeps rec_queued current. */
		ret = sk_wait_event(sk, timeo,
				    READ_ONCE(rx->rec_queued) ||
				    READ_ONCE(sk->sk_err) ||
				    (READ_ONCE(sk->sk_shutdown) & RCV_SHUTDOWN),
				    &wait);
		sk_clear_bit(SOCKWQ_ASYNC_WAITDATA, sk);
		remove_wait_queue(sk_sleep(sk), &wait);
		if (signal_pending(current))
			return sock_intr_errno(*timeo);
		if (ret < 0)
			return ret;
	}
	return 1;
}

/*
 * Map one skb's bytes [off, off + len) into at most n sg entries: the
 * count used, or -EMSGSIZE.
 */
static int ktls_rx_sg_skb(const struct sk_buff *skb, unsigned int off,
			  unsigned int len, struct scatterlist *sg,
			  unsigned int n, unsigned int depth)
{
	unsigned int head = skb_headlen(skb), used = 0, i, chunk;
	const struct sk_buff *frag;
	int rc;

	if (off < head) {
		chunk = min(len, head - off);
		if (used == n)
			return -EMSGSIZE;
		sg_set_buf(&sg[used++], skb->data + off, chunk);
		len -= chunk;
		off = 0;
	} else {
		off -= head;
	}
	for (i = 0; len && i < skb_shinfo(skb)->nr_frags; i++) {
		const skb_frag_t *f = &skb_shinfo(skb)->frags[i];
		unsigned int size = skb_frag_size(f);

		if (off >= size) {
			off -= size;
			continue;
		}
		chunk = min(len, size - off);
		if (used == n)
			return -EMSGSIZE;
		sg_set_page(&sg[used++], skb_frag_page(f), chunk,
			    skb_frag_off(f) + off);
		len -= chunk;
		off = 0;
	}
	skb_walk_frags(skb, frag) {
		if (!len)
			break;
		if (off >= frag->len) {
			off -= frag->len;
			continue;
		}
		/* GRO nests one level; anything deeper is copied instead. */
		if (depth)
			return -EMSGSIZE;
		chunk = min(len, frag->len - off);
		rc = ktls_rx_sg_skb(frag, off, chunk, sg + used, n - used, 1);
		if (rc < 0)
			return rc;
		used += rc;
		len -= chunk;
		off = 0;
	}
	return len ? -EMSGSIZE : used;
}

/*
 * Point sx->sg_src (after the AAD entry) at len bytes of TCP's receive
 * queue, off bytes past what was read: 0, or -EMSGSIZE if they are in
 * too many pieces.
 */
static int ktls_rx_sg_queue(struct sock *sk, struct ktls_rx_scratch *sx,
			    unsigned int off, unsigned int len)
{
	u32 seq = tcp_sk(sk)->copied_seq + off;
	struct scatterlist *sg = sx->sg_src + 1;
	unsigned int used = 0;
	struct sk_buff *skb;
	int rc;

	/* Only the end mark changes from record to record. */
	sg_unmark_end(&sx->sg_src[sx->src_end]);
	skb_queue_walk(&sk->sk_receive_queue, skb) {
		u32 o = seq - TCP_SKB_CB(skb)->seq;
		unsigned int n;

		if (!len)
			break;
		if (o >= skb->len)
			continue;
		n = min(len, skb->len - o);
		rc = ktls_rx_sg_skb(skb, o, n, sg + used,
				    KTLS_RX_SRC_SG - used, 0);
		if (rc < 0)
			return rc;
		used += rc;
		len -= n;
		seq += n;
	}
	if (len || !used)
		return -EMSGSIZE;
	sx->src_end = used;
	sg_mark_end(&sx->sg_src[used]);
	return 0;
}

/*
 * Authenticate and decrypt the record in rx->cur (rec) into dst, whose
 * first entry is left for the AAD; dst NULL decrypts into rec itself.
 * The ciphertext is read where it is: in TCP's skbs, or in rec in copy
 * mode (or when it is in too many pieces, after copying it there).
 */
static int ktls_rx_crypt(struct ktls_context *ctx, struct ktls_rx *rx,
			 struct ktls_rx_rec *rec, unsigned int rec_len,
			 struct scatterlist *dst)
{
	struct ktls_crypto *c = &ctx->rx_crypto;
	unsigned int body = KTLS_HEADER_SIZE + rx->eiv;
	unsigned int ct_len = rec_len - body;	/* ciphertext and tag */
	unsigned int pt_len = ct_len - c->cipher->tag_size;
	unsigned int aad_len;
	u8 *hdr = rec->data;
	struct scatterlist *src = rx->sg;
	DECLARE_CRYPTO_WAIT(wait);
	int err;

	/*
	 * As upstream since 6.13: a record would use up the last sequence
	 * number (the next one would repeat a nonce): refuse it unopened.
	 */
	if (unlikely(!memchr_inv(c->rec_seq, 0xff, KTLS_REC_SEQ_SIZE)))
		return -EBADMSG;
	if (!rx->copy) {
		struct ktls_rx_scratch *sx = ktls_rx_scratch(rx, rec);

		if (!ktls_rx_sg_queue(ctx->sk, sx, body, ct_len)) {
			src = sx->sg_src;
		} else {
			/* Too many pieces: gather them (TCP has them all). */
			rx->copy = true;
			rx->have = 0;
			ktls_rx_read(ctx->sk, rx, rec_len);
			if (rx->have != rec_len)
				return -EBADMSG;
		}
	}
	ktls_build_nonce(c, rx->version, rx->iv);
	if (rx->eiv)
		memcpy(ktls_nonce_explicit(c, rx->iv), hdr + KTLS_HEADER_SIZE,
		       rx->eiv);
	aad_len = ktls_build_aad(rx->aad, rx->version, c->rec_seq, hdr[0],
				 rx->version == TLS_1_3_VERSION ? ct_len :
								  pt_len);

	sg_init_table(rx->sg, 2);
	sg_set_buf(&rx->sg[0], rx->aad, aad_len);
	sg_set_buf(&rx->sg[1], hdr + body, ct_len);
	sg_set_buf(&src[0], rx->aad, aad_len);
	if (dst)
		sg_set_buf(&dst[0], rx->aad, aad_len);
	else
		dst = rx->sg;
	aead_request_set_tfm(rx->req, c->aead);
	aead_request_set_callback(rx->req, CRYPTO_TFM_REQ_MAY_BACKLOG |
				  CRYPTO_TFM_REQ_MAY_SLEEP,
				  crypto_req_done, &wait);
	aead_request_set_ad(rx->req, aad_len);
	aead_request_set_crypt(rx->req, src, dst, ct_len, rx->iv);
	err = crypto_wait_req(crypto_aead_decrypt(rx->req), &wait);
	if (err) {
		ktls_stat_inc(sock_net(ctx->sk), KTLS_STAT_DECRYPT_ERROR);
		return -EBADMSG;
	}
	return 0;
}

/*
 * The RX secret is set: the kernel consumes KeyUpdates.  Its bytes (the
 * record's tail, see ktls_hs_parse()) are cut from the text; messages
 * before it still reach the reader.  ended: the record completes one.
 */
static int ktls_rx_ku_consume(struct ktls_context *ctx, struct ktls_rx *rx,
			      struct ktls_rx_rec *rec, unsigned int *pt_len,
			      int ended)
{
	*pt_len -= rx->hs.ku_bytes;
	if (ended) {
		/* RFC 8446 4.6.3: anything but 0 or 1 is illegal. */
		if (rx->hs.ku_request > 1)
			return -EBADMSG;
		rx->ku_now = true;
		ktls_stat_inc(sock_net(ctx->sk), KTLS_STAT_RX_REKEY_RECEIVED);
	}
	/*
	 * Nothing left: an empty data record, which every reader skips
	 * without a trace (no type, no 0-byte read).
	 */
	if (!*pt_len)
		rec->type = KTLS_TYPE_DATA;
	return 0;
}

static void ktls_rx_peek_setkey(struct ktls_context *ctx, struct ktls_rx *rx);

/*
 * Step RX past the KeyUpdate just opened (its sequence number taken):
 * the next record is opened with the next generation.  An update the
 * peer asked for is the TX side's to send.  Socket owned.
 */
static void ktls_rx_key_update(struct sock *sk, struct ktls_context *ctx,
			       struct ktls_rx *rx)
{
	struct net *net = sock_net(sk);

	sock_owned_by_me(sk);
	rx->ku_now = false;
	if (ktls_ku_step(ctx->rx_ku, &ctx->rx_crypto)) {
		ktls_stat_inc(net, KTLS_STAT_KU_FAIL);
		/* The next record can't be opened: fail as a bad one. */
		WRITE_ONCE(rx->fatal, -EBADMSG);
		ktls_rx_abort(sk, rx, -EBADMSG);
		return;
	}
	ctx->rx_gen++;
	ktls_rx_peek_setkey(ctx, rx);
	ktls_stat_inc(net, KTLS_STAT_RX_KU_AUTO);
	if (!rx->hs.ku_request)
		return;
	if (ctx->tx && ctx->tx_ku)
		ktls_tx_key_update_request(sk, ctx);
	else
		ktls_stat_inc(net, KTLS_STAT_KU_UNANSWERED);
}

/* Open rec in place; on success rec->off/len/type describe the text. */
static int ktls_rx_decrypt(struct ktls_context *ctx, struct ktls_rx *rx,
			   struct ktls_rx_rec *rec, unsigned int rec_len)
{
	unsigned int body = KTLS_HEADER_SIZE + rx->eiv;
	unsigned int pt_len = rec_len - body - ctx->rx_crypto.cipher->tag_size;
	u8 *pt = rec->data + body;
	int err;

	err = ktls_rx_crypt(ctx, rx, rec, rec_len, NULL);
	if (err)
		return err;

	rec->type = rec->data[0];
	if (rx->version == TLS_1_3_VERSION) {
		/* Strip the zero padding; the last non-zero byte is the type. */
		while (pt_len && !pt[pt_len - 1])
			pt_len--;
		if (!pt_len)
			return -EBADMSG;
		rec->type = pt[--pt_len];
		/*
		 * A record that ends a KeyUpdate: later records use a key we
		 * don't have.  Messages may share and span records.
		 */
		if (rec->type == KTLS_TYPE_HANDSHAKE) {
			err = ktls_hs_parse(&rx->hs, pt, pt_len);
			if (err < 0)
				return err;
			if (ctx->rx_ku) {
				err = ktls_rx_ku_consume(ctx, rx, rec, &pt_len,
							 err);
				if (err)
					return err;
			} else if (err) {
				WRITE_ONCE(rx->key_expired, true);
				ktls_stat_inc(sock_net(ctx->sk),
					      KTLS_STAT_RX_REKEY_RECEIVED);
			}
		}
	}
	rec->off = body;
	rec->len = pt_len;
	return 0;
}

/* rx->cur was opened (or failed): detach it and step the sequence. */
static struct ktls_rx_rec *ktls_rx_take(struct sock *sk,
					struct ktls_context *ctx,
					struct ktls_rx *rx, int err)
{
	struct ktls_rx_rec *rec = rx->cur;

	sock_owned_by_me(sk);
	rx->taken = true;
	/* Its ciphertext is done with: let TCP free it and open the window. */
	if (!rx->copy)
		tcp_read_done(sk, rx->cur_len);
	rx->cur = NULL;
	rx->have = 0;
	rx->cur_len = 0;
	WRITE_ONCE(rx->rec_queued, false);
	if (err) {
		ktls_rx_put_rec(sk, rx, rec);
		/* As tls_err_abort(): every later read fails the same way. */
		WRITE_ONCE(rx->fatal, err);
		rx->stopped = true;
		ktls_rx_report(sk, err);
		return NULL;
	}
	/* ktls_rx_crypt() refused the last sequence number: no wrap. */
	ktls_seq_advance(ctx->rx_crypto.rec_seq);
	/* Unused for opening, but getsockopt() reports it as in-tree. */
	ktls_iv_advance(&ctx->rx_crypto, rx->version);
	if (unlikely(rx->ku_now))
		ktls_rx_key_update(sk, ctx, rx);
	return rec;
}

/* Open the whole record in rx->cur and queue it on rx->ready. */
static struct ktls_rx_rec *ktls_rx_open(struct sock *sk,
					struct ktls_context *ctx,
					struct ktls_rx *rx, int *errp)
{
	struct ktls_rx_rec *rec;
	int err;

	err = ktls_rx_decrypt(ctx, rx, rx->cur, rx->cur_len);
	rec = ktls_rx_take(sk, ctx, rx, err);
	if (!rec) {
		*errp = err;
		return NULL;
	}
	list_add_tail(&rec->list, &rx->ready);
	WRITE_ONCE(rx->nready, rx->nready + 1);
	return rec;
}

/*
 * TLS 1.3 hides a record's type in its last plaintext byte.  The AEADs
 * here encrypt in counter mode, so when the sender did not pad, that byte
 * is the ciphertext byte XOR one keystream byte, which one block of the
 * bare stream cipher gives without opening the record.  A hint only: the
 * AEAD still checks the whole record.  Key from rx_crypto.conf.
 */
static void ktls_rx_peek_setkey(struct ktls_context *ctx, struct ktls_rx *rx)
{
	const struct ktls_crypto *c = &ctx->rx_crypto;

	if (rx->peek &&
	    crypto_sync_skcipher_setkey(rx->peek, c->conf.raw +
					c->cipher->key_off,
					c->cipher->key_size)) {
		crypto_free_sync_skcipher(rx->peek);
		rx->peek = NULL;
	}
}

static void ktls_rx_peek_init(struct ktls_context *ctx, struct ktls_rx *rx)
{
	const struct ktls_cipher *ci = ctx->rx_crypto.cipher;
	const char *name;

	if (rx->version != TLS_1_3_VERSION)
		return;
	if (ci->type == TLS_CIPHER_CHACHA20_POLY1305)
		name = "chacha20";
	else if (!strcmp(ci->aead_name, "gcm(aes)") ||
		 !strcmp(ci->aead_name, "ccm(aes)"))
		name = "ctr(aes)";
	else
		return;
	/* Without it records after data are opened in place: slower only. */
	rx->peek = crypto_alloc_sync_skcipher(name, 0, 0);
	if (IS_ERR(rx->peek)) {
		rx->peek = NULL;
		return;
	}
	ktls_rx_peek_setkey(ctx, rx);
}

/* The type of the whole TLS 1.3 record in rx->cur if unpadded, or 0. */
static u8 ktls_rx_peek_type(struct sock *sk, struct ktls_context *ctx,
			    struct ktls_rx *rx)
{
	const struct ktls_crypto *c = &ctx->rx_crypto;
	struct ktls_rx_scratch *sx = ktls_rx_scratch(rx, rx->cur);
	/* Where the type byte is, in the plaintext and in the record. */
	unsigned int i = rx->cur_len - KTLS_HEADER_SIZE -
			 c->cipher->tag_size - 1;
	bool chacha = c->cipher->type == TLS_CIPHER_CHACHA20_POLY1305;
	unsigned int bsize = chacha ? 64 : 16;
	u32 blk = i / bsize;
	u8 nonce[KTLS_AEAD_IV_SIZE], iv[KTLS_AEAD_IV_SIZE];
	u8 ct;

	SYNC_SKCIPHER_REQUEST_ON_STACK(req, rx->peek);

	if (rx->copy)
		ct = rx->cur->data[KTLS_HEADER_SIZE + i];
	else if (ktls_rx_peek_at(sk, KTLS_HEADER_SIZE + i, &ct, 1) != 1)
		return 0;

	ktls_build_nonce(c, rx->version, nonce);
	if (chacha) {
		/* chacha20: le32 block counter, then the nonce; text from 1. */
		blk += 1;
		iv[0] = blk;
		iv[1] = blk >> 8;
		iv[2] = blk >> 16;
		iv[3] = blk >> 24;
		memcpy(iv + 4, nonce, KTLS_NONCE_SIZE);
	} else {
		/*
		 * CCM: flags, nonce, 24-bit counter, text from A_1.  GCM:
		 * nonce, 32-bit counter, J0 is 1, text from 2.  Either way
		 * the counter ends the block and fits in 24 bits here.
		 */
		memcpy(iv, nonce, sizeof(iv));
		blk += c->cipher->ccm ? 1 : 2;
		iv[13] = blk >> 16;
		iv[14] = blk >> 8;
		iv[15] = blk;
	}
	memset(sx->ks, 0, bsize);
	sg_init_one(&sx->sg_ks, sx->ks, bsize);
	skcipher_request_set_sync_tfm(req, rx->peek);
	skcipher_request_set_callback(req, 0, NULL, NULL);
	skcipher_request_set_crypt(req, &sx->sg_ks, &sx->sg_ks, bsize, iv);
	if (crypto_skcipher_encrypt(req))
		ct = 0;
	else
		ct ^= sx->ks[i % bsize];
	skcipher_request_zero(req);
	memzero_explicit(sx->ks, bsize);
	return ct;
}

/*
 * Can the whole record in rx->cur go straight to the reader?  As in-tree:
 * a data record that fits, not peeked, into user memory.  A TLS 1.3
 * record's type is known only once opened: try it anyway (in-tree does
 * only with TLS_RX_EXPECT_NO_PAD); peers rarely pad, and a padded or
 * control record is opened a second time.  Without the hint, after data
 * only a record whose peeked type is data: a control record met after
 * data must not leave its text past the length recvmsg() returns.
 */
static bool ktls_rx_zc_ok(struct sock *sk, struct ktls_context *ctx,
			  struct ktls_rx *rx,
			  struct msghdr *msg, size_t len, u8 control,
			  int flags)
{
	unsigned int tls13 = rx->version == TLS_1_3_VERSION;
	unsigned int pt_len = rx->cur_len - KTLS_HEADER_SIZE - rx->eiv -
			      ctx->rx_crypto.cipher->tag_size - tls13;

	if ((flags & MSG_PEEK) || !user_backed_iter(&msg->msg_iter))
		return false;
	if (!pt_len || pt_len > len)
		return false;
	if (control && control != KTLS_TYPE_DATA)
		return false;
	if (!tls13)
		return rx->cur->data[0] == KTLS_TYPE_DATA;
	if (!control || ctx->rx_no_pad)
		return true;
	return rx->peek && ktls_rx_peek_type(sk, ctx, rx) == KTLS_TYPE_DATA;
}

/*
 * Open rx->cur straight into the reader's pages: the plaintext length, or
 * -EAGAIN when the in-place path must do it (pages not mapped, a TLS 1.3
 * record padded or not data; the ciphertext is intact then), or -EBADMSG.
 * The iterator is advanced only on success.
 */
static int ktls_rx_open_zc(struct sock *sk, struct ktls_context *ctx,
			   struct ktls_rx *rx, struct iov_iter *to)
{
	unsigned int tls13 = rx->version == TLS_1_3_VERSION;
	unsigned int len = rx->cur_len - KTLS_HEADER_SIZE - rx->eiv -
			   ctx->rx_crypto.cipher->tag_size - tls13;
	struct ktls_rx_scratch *sx = ktls_rx_scratch(rx, rx->cur);
	struct scatterlist *sg = sx->sg_user;
	unsigned int n = 0, i;
	size_t mapped = 0;
	int err = 0;

	sg_init_table(sg, ARRAY_SIZE(sx->sg_user));
	while (mapped < len) {
		size_t start;
		ssize_t got;

		if (n == KTLS_RX_ZC_PAGES) {
			err = -EAGAIN;
			goto unmap;
		}
		got = iov_iter_get_pages2(to, sx->pages + n, len - mapped,
					  KTLS_RX_ZC_PAGES - n, &start);
		if (got <= 0) {
			err = -EAGAIN;
			goto unmap;
		}
		mapped += got;
		while (got > 0) {
			unsigned int plen = min_t(size_t, got,
						  PAGE_SIZE - start);

			sg_set_page(&sg[1 + n], sx->pages[n], plen, start);
			n++;
			got -= plen;
			start = 0;
		}
	}
	if (tls13)
		sg_set_buf(&sg[1 + n], &rx->tail, 1);
	sg_mark_end(&sg[n + tls13]);

	err = ktls_rx_crypt(ctx, rx, rx->cur, rx->cur_len, sg);
	/* Padding or a control record: let the in-place path sort it. */
	if (!err && tls13 && rx->tail != KTLS_TYPE_DATA) {
		/* Zero there: the sender padded despite EXPECT_NO_PAD. */
		if (!rx->tail && ctx->rx_no_pad)
			ktls_stat_inc(sock_net(sk), KTLS_STAT_RX_NO_PAD_VIOL);
		ktls_stat_inc(sock_net(sk), KTLS_STAT_DECRYPT_RETRY);
		err = -EAGAIN;
	}
unmap:
	for (i = 0; i < n; i++)
		put_page(sx->pages[i]);
	if (err) {
		iov_iter_revert(to, mapped);
		return err;
	}
	return len;
}

/*
 * A whole record in rx->cur, waiting for it if need be: 1, 0 at end of
 * stream, or -errno.
 */
static int ktls_rx_get(struct sock *sk, struct ktls_rx *rx, long *timeo,
		       bool has_copied)
{
	sock_owned_by_me(sk);
	if (rx->fatal)
		return rx->fatal;
	if (rx->key_expired)
		return -EKEYEXPIRED;
	if (ktls_rx_fill(sk, rx))
		return 1;
	return ktls_rx_wait(sk, rx, timeo, has_copied);
}

static void ktls_rx_consume(struct sock *sk, struct ktls_rx *rx,
			    struct ktls_rx_rec *rec, unsigned int n)
{
	rec->off += n;
	rec->len -= n;
	if (rec->len)
		return;
	list_del(&rec->list);
	WRITE_ONCE(rx->nready, rx->nready - 1);
	ktls_rx_put_rec(sk, rx, rec);
}

/*
 * All records returned by one recvmsg() have one type; the first one's
 * type goes to the cmsg, which a non-data record cannot do without.
 */
static int ktls_rx_check_type(struct msghdr *msg, u8 type, u8 *control)
{
	int err;

	if (*control)
		return *control == type;
	if (!type)
		return -EBADMSG;
	*control = type;
	err = put_cmsg(msg, SOL_TLS, TLS_GET_RECORD_TYPE, sizeof(*control),
		       control);
	if (*control != KTLS_TYPE_DATA &&
	    (err || (msg->msg_flags & MSG_CTRUNC)))
		return -EIO;
	return 1;
}

static int ktls_rx_recvmsg(struct sock *sk, struct msghdr *msg, size_t len,
			   int flags, int *addr_len)
{
	struct ktls_context *ctx = ktls_get_ctx(sk);
	struct ktls_rx *rx = ctx->rx;
	bool peek = flags & MSG_PEEK;
	struct list_head *pos;
	u8 control = 0;
	size_t copied = 0;
	long timeo;
	int target, err;

	if (unlikely(flags & MSG_ERRQUEUE))
		return sock_recv_errqueue(sk, msg, len, SOL_IP, IP_RECVERR);

	err = ktls_rx_reader_lock(sk, rx, flags & MSG_DONTWAIT);
	if (err)
		return err;

	timeo = sock_rcvtimeo(sk, flags & MSG_DONTWAIT);
	target = sock_rcvlowat(sk, flags & MSG_WAITALL, len);
	pos = rx->ready.next;
	err = 0;
	while (len) {
		struct ktls_rx_rec *rec;
		unsigned int chunk;

		if (pos != &rx->ready) {
			rec = list_entry(pos, struct ktls_rx_rec, list);
		} else {
			/* Past the target, only take what is already here. */
			if (copied >= target && !ktls_rx_ready_now(sk, rx))
				break;
			err = ktls_rx_get(sk, rx, &timeo, copied);
			if (err <= 0)
				break;
			if (ktls_rx_zc_ok(sk, ctx, rx, msg, len, control,
					  flags)) {
				err = ktls_rx_open_zc(sk, ctx, rx,
						      &msg->msg_iter);
				if (err >= 0) {
					chunk = err;
					ktls_rx_put_rec(sk, rx,
							ktls_rx_take(sk, ctx,
								     rx, 0));
					err = ktls_rx_check_type(msg,
							KTLS_TYPE_DATA,
							&control);
					copied += chunk;
					len -= chunk;
					msg->msg_flags |= MSG_EOR;
					continue;
				}
				if (err != -EAGAIN) {
					ktls_rx_take(sk, ctx, rx, err);
					break;
				}
			}
			rec = ktls_rx_open(sk, ctx, rx, &err);
			if (!rec)
				break;
			pos = &rec->list;
		}

		/*
		 * An empty data record is skipped: it sets no type, so what
		 * follows reads as if it came first (as upstream).
		 */
		if (unlikely(!rec->len && rec->type == KTLS_TYPE_DATA)) {
			if (peek) {
				pos = pos->next;
			} else {
				ktls_rx_consume(sk, rx, rec, 0);
				pos = rx->ready.next;
			}
			continue;
		}

		err = ktls_rx_check_type(msg, rec->type, &control);
		if (err <= 0)
			break;

		chunk = min_t(size_t, len, rec->len);
		if (copy_to_iter(rec->data + rec->off, chunk,
				 &msg->msg_iter) != chunk) {
			err = -EFAULT;
			break;
		}
		copied += chunk;
		len -= chunk;
		if (peek) {
			pos = pos->next;
		} else if (chunk == rec->len) {
			msg->msg_flags |= MSG_EOR;
			ktls_rx_consume(sk, rx, rec, chunk);
			pos = rx->ready.next;
		} else {
			ktls_rx_consume(sk, rx, rec, chunk);
		}
		/* A control record is returned alone. */
		if (control != KTLS_TYPE_DATA)
			break;
	}

	ktls_rx_reader_unlock(sk, rx);
	if (copied)
		return copied;
	/* An empty control record reads as 0 bytes, not as "1". */
	return err < 0 ? err : 0;
}

static ssize_t ktls_rx_splice_read(struct socket *sock, loff_t *ppos,
				   struct pipe_inode_info *pipe, size_t len,
				   unsigned int flags)
{
	struct sock *sk = sock->sk;
	struct ktls_context *ctx = ktls_get_ctx(sk);
	struct ktls_rx *rx = ctx->rx;
	bool nonblock = flags & SPLICE_F_NONBLOCK;
	struct ktls_rx_rec *rec;
	struct sk_buff *skb;
	unsigned int chunk;
	long timeo;
	int err;

	err = ktls_rx_reader_lock(sk, rx, nonblock);
	if (err)
		return err;

	timeo = sock_rcvtimeo(sk, nonblock);
	for (;;) {
		rec = list_first_entry_or_null(&rx->ready, struct ktls_rx_rec,
					       list);
		if (!rec) {
			err = ktls_rx_get(sk, rx, &timeo, false);
			if (err <= 0)
				goto unlock;
			rec = ktls_rx_open(sk, ctx, rx, &err);
			if (!rec)
				goto unlock;
		}
		/* Control records need the cmsg that only recvmsg() has. */
		if (rec->type != KTLS_TYPE_DATA) {
			err = -EINVAL;
			goto unlock;
		}
		/* Not 0 (end of file) for an empty record: skip it. */
		if (likely(rec->len))
			break;
		ktls_rx_consume(sk, rx, rec, 0);
	}

	chunk = min_t(size_t, len, rec->len);
	/* skb_splice_bits() copies linear data into pages for the pipe. */
	skb = alloc_skb(chunk, GFP_KERNEL);
	if (!skb) {
		err = -ENOMEM;
		goto unlock;
	}
	skb_put_data(skb, rec->data + rec->off, chunk);
	err = skb_splice_bits(skb, sk, 0, pipe, chunk, flags);
	consume_skb(skb);
	if (err > 0)
		ktls_rx_consume(sk, rx, rec, err);

unlock:
	ktls_rx_reader_unlock(sk, rx);
	return err;
}

static bool ktls_rx_sock_is_readable(struct sock *sk)
{
	struct ktls_context *ctx = ktls_get_ctx(sk);

	return ctx && ctx->rx && ktls_rx_readable(ctx->rx);
}

/* Readable only when a whole record (or opened text) is there. */
static __poll_t ktls_rx_poll(struct file *file, struct socket *sock,
			     struct poll_table_struct *wait)
{
	struct sock *sk = sock->sk;
	struct ktls_context *ctx;
	__poll_t mask;

	mask = tcp_poll(file, sock, wait);
	if (inet_sk_state_load(sk) != TCP_ESTABLISHED ||
	    (READ_ONCE(sk->sk_shutdown) & RCV_SHUTDOWN))
		return mask;

	ctx = ktls_get_ctx(sk);
	if (ctx && ctx->rx && ktls_rx_readable(ctx->rx))
		mask |= EPOLLIN | EPOLLRDNORM;
	else
		mask &= ~(EPOLLIN | EPOLLRDNORM);
	return mask;
}

/* The unread text of rec in an skb of its own, for a read_sock actor. */
static struct sk_buff *ktls_rx_rec_skb(const struct ktls_rx_rec *rec)
{
	struct sk_buff *skb = alloc_skb(rec->len, GFP_KERNEL);

	if (skb)
		skb_put_data(skb, rec->data + rec->off, rec->len);
	return skb;
}

/*
 * proto_ops.read_sock for in-kernel readers (nvme-tcp over TLS): the text
 * of data records, in order, to actor; as in-tree's tls_sw_read_sock it
 * never waits, stops with -EINVAL at a control record (left for
 * recvmsg() and its cmsg) and skips empty data records whatever
 * desc->count (a count of 0 only stops it after an actor call), so a
 * positive return is always bytes the actor took.  Opened records
 * are shared with recvmsg(): what one leaves of a record the other
 * reads.  An actor taking less than offered while desc->count is left
 * is offered the rest again, as tcp_read_sock() does.
 *
 * Called with the socket owned (lock_sock), in process context: opening
 * a record may sleep.  Another reader sleeping in recvmsg() or splice
 * has dropped the lock but owns rx: then -EAGAIN, as in-tree.
 */
static int ktls_rx_read_sock(struct sock *sk, read_descriptor_t *desc,
			     sk_read_actor_t actor)
{
	struct ktls_context *ctx = ktls_get_ctx(sk);
	struct ktls_rx *rx = ctx->rx;
	struct ktls_rx_rec *rec;
	struct sk_buff *skb = NULL;
	long timeo = 0;
	int copied = 0, err = 0, used;

	/*
	 * strparser (KCM) reads from softirq under the bh lock alone, but
	 * opening a record allocates and may sleep: -ENOMEM makes it retry
	 * from its worker, which owns the socket.
	 */
	if (!in_task()) {
		desc->error = -ENOMEM;
		return 0;
	}
	sock_owned_by_me(sk);
	might_sleep();
	if (rx->reader_present)
		return -EAGAIN;
	rx->reader_present = true;

	for (;;) {
		rec = list_first_entry_or_null(&rx->ready, struct ktls_rx_rec,
					       list);
		if (!rec) {
			err = ktls_rx_get(sk, rx, &timeo, copied);
			if (err <= 0)
				break;
			rec = ktls_rx_open(sk, ctx, rx, &err);
			if (!rec)
				break;
		}
		if (rec->type != KTLS_TYPE_DATA) {
			err = -EINVAL;
			break;
		}
		if (!rec->len) {
			ktls_rx_consume(sk, rx, rec, 0);
			continue;
		}
		/* One skb per record; a short actor is offered its tail. */
		if (!skb) {
			skb = ktls_rx_rec_skb(rec);
			if (!skb) {
				err = -ENOMEM;
				break;
			}
		}
		used = actor(desc, skb, skb->len - rec->len, rec->len);
		if (used <= 0) {
			err = used;
			break;
		}
		if (WARN_ON_ONCE((unsigned int)used > rec->len))
			used = rec->len;
		copied += used;
		if (used == rec->len) {
			consume_skb(skb);
			skb = NULL;
		}
		ktls_rx_consume(sk, rx, rec, used);
		if (!desc->count)
			break;
	}

	consume_skb(skb);
	ktls_rx_reader_release(sk, rx);
	return copied ?: err;
}

/*
 * No reader came for the records that arrived: open whole ones at the
 * head of the queue onto rx->ready, in order, as MSG_PEEK would, so a
 * KeyUpdate among them is acted on now.  Readers get the text later,
 * unchanged.  Opened records are bounded by the receive buffer; past it
 * TCP's window closes as it would for any reader that does not read.
 * Takes the socket lock only (a sender blocked in TCP has let it go);
 * never tx->lock.
 */
static void ktls_rx_idle_work(struct work_struct *work)
{
	struct ktls_rx *rx = container_of(to_delayed_work(work),
					  struct ktls_rx, idle);
	struct sock *sk = rx->sk;
	struct ktls_context *ctx;
	struct ktls_rx_rec *rec;
	int err = 0;

	lock_sock(sk);
	ctx = ktls_get_ctx(sk);
	if (rx->closing || rx->reader_present || !ctx->rx_ku)
		goto unlock;
	while (!rx->fatal && !rx->key_expired &&
	       rx->charged + ktls_rx_rec_bytes(rx) <=
	       (unsigned int)READ_ONCE(sk->sk_rcvbuf)) {
		if (!ktls_rx_ready_now(sk, rx))
			break;
		rec = ktls_rx_open(sk, ctx, rx, &err);
		if (!rec)
			break;
		/* Hidden (a consumed KeyUpdate): drop it now. */
		if (!rec->len && rec->type == KTLS_TYPE_DATA)
			ktls_rx_consume(sk, rx, rec, 0);
	}
	ktls_rx_update(sk, rx);
	if (rx->taken) {
		rx->taken = false;
		if (ktls_rx_readable(rx))
			rx->saved_data_ready(sk);
	}
unlock:
	release_sock(sk);
}

/*
 * A framing error ended RX: no record will be gathered again, so neither
 * the buffer the bad header sits in nor the spare is kept (the peer's
 * bytes may stay in TCP until close).  Records already opened keep theirs
 * until read.
 */
static void ktls_rx_drop_bufs(struct sock *sk, struct ktls_rx *rx)
{
	if (rx->cur && !rx->cur_len) {
		ktls_rx_free_rec(sk, rx, rx->cur);
		rx->cur = NULL;
		rx->have = 0;
	}
	if (rx->spare) {
		ktls_rx_free_rec(sk, rx, rx->spare);
		rx->spare = NULL;
	}
}

/*
 * An idle socket's spare is freed rx_buf_idle_ms after a record last used
 * it: 16 KiB per connection that waits (in-tree keeps no buffer either).
 * A record arriving without one is framed here, after an allocation the
 * softirq could not make, and pollers are woken for it.  Takes the socket
 * lock only (a sender blocked in TCP has let it go); never tx->lock.
 */
static void ktls_rx_buf_work(struct work_struct *work)
{
	struct ktls_rx *rx = container_of(to_delayed_work(work),
					  struct ktls_rx, buf_work);
	struct sock *sk = rx->sk;
	unsigned long idle, idle_at;

	lock_sock(sk);
	if (rx->closing)
		goto unlock;
	if (rx->stopped) {
		ktls_rx_drop_bufs(sk, rx);
		goto unlock;
	}
	if (!rx->cur && !rx->spare && !rx->nready &&
	    tcp_inq(sk)) {
		if (!ktls_rx_have_buf(sk, rx)) {
			/* Out of memory: try again; a reader's recv() may. */
			queue_delayed_work(system_wq, &rx->buf_work,
					   KTLS_RX_BUF_RETRY);
			rx->saved_data_ready(sk);
			goto unlock;
		}
		ktls_rx_update(sk, rx);
		if (ktls_rx_readable(rx))
			rx->saved_data_ready(sk);
		goto unlock;
	}
	idle = ktls_rx_buf_idle();
	if (!rx->spare || !idle)
		goto unlock;
	idle_at = rx->buf_used + idle;
	if (time_before(jiffies, idle_at) || tcp_inq(sk)) {
		/* A lowered rx_buf_idle_ms counts within a second. */
		queue_delayed_work(system_wq, &rx->buf_work,
				   clamp(idle_at - jiffies, 1UL,
					 KTLS_RX_BUF_LOOK));
		goto unlock;
	}
	ktls_rx_free_rec(sk, rx, rx->spare);
	rx->spare = NULL;
unlock:
	release_sock(sk);
}

void ktls_rx_idle_kick(struct sock *sk, struct ktls_context *ctx)
{
	sock_owned_by_me(sk);
	if (ctx->rx && ctx->rx_ku)
		queue_delayed_work(system_wq, &ctx->rx->idle, 0);
}

void ktls_rx_build_proto(struct proto *prot, struct proto_ops *ops)
{
	prot->recvmsg = ktls_rx_recvmsg;
	prot->sock_is_readable = ktls_rx_sock_is_readable;
	ops->poll = ktls_rx_poll;
	ops->splice_read = ktls_rx_splice_read;
	ops->read_sock = ktls_rx_read_sock;
}

int ktls_rx_init(struct sock *sk, struct ktls_context *ctx)
{
	struct ktls_crypto *c = &ctx->rx_crypto;
	const struct ktls_cipher *ci = c->cipher;
	struct ktls_rx *rx;
	int err = -ENOMEM;

	sock_owned_by_me(sk);
	rx = sock_kmalloc(sk, sizeof(*rx), GFP_KERNEL);
	if (!rx)
		return -ENOMEM;
	memset(rx, 0, sizeof(*rx));

	INIT_LIST_HEAD(&rx->ready);
	init_waitqueue_head(&rx->wq);
	INIT_DELAYED_WORK(&rx->idle, ktls_rx_idle_work);
	INIT_DELAYED_WORK(&rx->buf_work, ktls_rx_buf_work);
	rx->sk = sk;
	rx->version = c->conf.info.version;
	rx->eiv = rx->version == TLS_1_3_VERSION ? 0 : ci->explicit_iv;
	rx->min_len = ci->tag_size + rx->eiv;
	rx->max_len = KTLS_MAX_PAYLOAD + rx->min_len +
		      (rx->version == TLS_1_3_VERSION);
	rx->prepend = KTLS_HEADER_SIZE + rx->eiv;
	rx->rec_size = KTLS_HEADER_SIZE + rx->max_len;

	rx->req = aead_request_alloc(c->aead, GFP_KERNEL);
	if (!rx->req)
		goto free_rx;
	/* One buffer up front; records reuse it. */
	rx->spare = ktls_rx_alloc_rec(sk, rx);
	if (!rx->spare)
		goto free_req;
	ktls_rx_buf_arm(rx);
	ktls_rx_peek_init(ctx, rx);

	ctx->rx = rx;
	write_lock_bh(&sk->sk_callback_lock);
	rx->saved_data_ready = sk->sk_data_ready;
	sk->sk_data_ready = ktls_rx_data_ready;
	write_unlock_bh(&sk->sk_callback_lock);

	/* Records queued before TLS_RX are framed like any others. */
	ktls_rx_update(sk, rx);
	return 0;

free_req:
	aead_request_free(rx->req);
free_rx:
	sock_kfree_s(sk, rx, sizeof(*rx));
	return err;
}

int ktls_rx_rekey(struct sock *sk, struct ktls_context *ctx,
		  struct crypto_aead *aead)
{
	sock_owned_by_me(sk);
	return ktls_aead_req_replace(&ctx->rx->req, aead);
}

void ktls_rx_rekey_done(struct sock *sk, struct ktls_context *ctx)
{
	struct ktls_rx *rx = ctx->rx;

	sock_owned_by_me(sk);
	ktls_rx_peek_setkey(ctx, rx);
	if (!rx->key_expired)
		return;
	WRITE_ONCE(rx->key_expired, false);
	/* Records that waited for this key make the socket readable. */
	ktls_rx_update(sk, rx);
	if (ktls_rx_readable(rx))
		rx->saved_data_ready(sk);
}

void ktls_rx_release(struct sock *sk, struct ktls_context *ctx)
{
	struct ktls_rx *rx = ctx->rx;

	sock_owned_by_me(sk);
	/* The idle work stands down; ktls_rx_free() waits for it. */
	rx->closing = true;
	write_lock_bh(&sk->sk_callback_lock);
	if (sk->sk_data_ready == ktls_rx_data_ready)
		sk->sk_data_ready = rx->saved_data_ready;
	write_unlock_bh(&sk->sk_callback_lock);

	/* The buffers go in ktls_rx_free(); the charge needs the lock. */
	sk_mem_uncharge(sk, rx->charged);
	rx->charged = 0;
}

void ktls_rx_free(struct ktls_context *ctx)
{
	struct ktls_rx *rx = ctx->rx;
	struct ktls_rx_rec *rec, *tmp;
	long n = 0;

	cancel_delayed_work_sync(&rx->idle);
	cancel_delayed_work_sync(&rx->buf_work);
	list_for_each_entry_safe(rec, tmp, &rx->ready, list) {
		list_del(&rec->list);
		kfree_sensitive(rec);
		n++;
	}
	n += !!rx->spare + !!rx->cur;
	kfree_sensitive(rx->spare);
	kfree_sensitive(rx->cur);
	ktls_stat_add(sock_net(ctx->sk), KTLS_STAT_RX_BUFFERS, -n);
	if (rx->peek)
		crypto_free_sync_skcipher(rx->peek);
	aead_request_free(rx->req);
	/* The nonce buffer holds the static IV. */
	memzero_explicit(rx, sizeof(*rx));
	sock_kfree_s(ctx->sk, rx, sizeof(*rx));
	ctx->rx = NULL;
}
