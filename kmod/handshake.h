/* SPDX-License-Identifier: GPL-2.0 */
/*
 * TLS 1.3 handshake message framing on the RX side, just enough to find
 * where a KeyUpdate ends: post-handshake messages (NewSessionTicket,
 * KeyUpdate, ...) may share a record and may span records.
 */
#ifndef _KTLS_HANDSHAKE_H
#define _KTLS_HANDSHAKE_H

#include <linux/types.h>

#define KTLS_HS_HDR	4	/* msg_type(1) length(3) */

/*
 * Per socket, fixed size whatever the messages' lengths: the header of
 * the current message as gathered so far, then its body bytes still due.
 */
struct ktls_hs_parser {
	u32 left;
	u8 hdr[KTLS_HS_HDR];
	u8 hdr_len;
	/* Set by each ktls_hs_parse() call, for the record it was fed: */
	u8 ku_request;		/* request_update of the KeyUpdate it ended */
	u32 ku_bytes;		/* its trailing bytes that belong to one */
};

/*
 * Feed the plaintext of one handshake record, in stream order.  Returns 1
 * when the record ends with the end of a KeyUpdate (records after it use
 * the next key), 0 otherwise, -EBADMSG for a malformed stream: a KeyUpdate
 * that is not 1 byte long, or bytes after a KeyUpdate in its record
 * (RFC 8446 5.1: a key change must align with a record boundary).
 * A KeyUpdate's bytes are always the tail of the records it spans: the
 * count is in p->ku_bytes, so the kernel can drop them when it consumes
 * the KeyUpdate and hand the reader the messages before it.
 */
int ktls_hs_parse(struct ktls_hs_parser *p, const u8 *buf, unsigned int len);

#endif /* _KTLS_HANDSHAKE_H */
