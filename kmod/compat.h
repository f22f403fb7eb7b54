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

#include <linux/socket.h>
#include <linux/version.h>

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

#endif /* _KTLS_COMPAT_H */
