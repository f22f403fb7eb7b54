/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Every difference between the kernels ktls builds for lives here.
 * Kbuild probes the headers (Debian backports features into 6.1, so the
 * version number alone would lie) and defines:
 *   KTLS_HAVE_SENDPAGE    proto.sendpage / proto_ops.sendpage_locked exist
 *                         (removed in 6.5 in favour of MSG_SPLICE_PAGES)
 *   KTLS_HAVE_SPLICE_EOF  proto.splice_eof exists (6.5, backported to 6.1)
 */
#ifndef _KTLS_COMPAT_H
#define _KTLS_COMPAT_H

#include <linux/bvec.h>
#include <linux/socket.h>
#include <linux/uio.h>
#include <linux/version.h>
#include <net/tcp.h>

/* Flags the TX path consumes; a kernel without them never sets them. */
#ifndef MSG_SPLICE_PAGES
#define MSG_SPLICE_PAGES	0
#endif
#ifndef MSG_SENDPAGE_NOPOLICY
#define MSG_SENDPAGE_NOPOLICY	0
#endif
#ifndef MSG_SENDPAGE_NOTLAST
#define MSG_SENDPAGE_NOTLAST	0
#endif
#ifndef MSG_NO_SHARED_FRAGS
#define MSG_NO_SHARED_FRAGS	0
#endif

/*
 * Hand len bytes of pages, starting skip bytes into bv[0..nr), to TCP
 * without copying them; the socket is locked.  TCP takes its own page
 * references.  Returns the bytes TCP accepted (maybe fewer) or -errno.
 */
#ifdef KTLS_HAVE_SENDPAGE
/* Before 6.5, TCP takes pages only through sendpage. */
static inline int ktls_tcp_send_bvec(struct sock *sk, const struct bio_vec *bv,
				     unsigned int nr, size_t skip, size_t len,
				     int flags)
{
	size_t sent = 0;
	unsigned int i;

	for (i = 0; i < nr && sent < len; i++) {
		size_t n = bv[i].bv_len;
		int f = flags;
		ssize_t rc;

		if (skip >= n) {
			skip -= n;
			continue;
		}
		n = min(n - skip, len - sent);
		if (sent + n < len)
			f |= MSG_SENDPAGE_NOTLAST | MSG_MORE;
		rc = do_tcp_sendpages(sk, bv[i].bv_page,
				      bv[i].bv_offset + skip, n, f);
		if (rc <= 0)
			return sent ? sent : rc;
		sent += rc;
		if (rc < n)
			break;
		skip = 0;
	}
	return sent;
}
#else
static inline int ktls_tcp_send_bvec(struct sock *sk, const struct bio_vec *bv,
				     unsigned int nr, size_t skip, size_t len,
				     int flags)
{
	struct msghdr msg = { .msg_flags = flags | MSG_SPLICE_PAGES };

	iov_iter_bvec(&msg.msg_iter, ITER_SOURCE, bv, nr, skip + len);
	iov_iter_advance(&msg.msg_iter, skip);
	return tcp_sendmsg_locked(sk, &msg, len);
}
#endif

/*
 * RX: when a read has already returned data and then meets a socket error,
 * 6.12's in-tree kTLS leaves sk_err set for the next read (tls_rx_rec_wait
 * has_copied); 6.1's consumes it there.  Kbuild sets KTLS_RX_KEEPS_ERR.
 */
#ifdef KTLS_RX_KEEPS_ERR
#define KTLS_RX_KEEP_ERR_AFTER_DATA	true
#else
#define KTLS_RX_KEEP_ERR_AFTER_DATA	false
#endif

#endif /* _KTLS_COMPAT_H */
