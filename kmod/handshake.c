// SPDX-License-Identifier: GPL-2.0
/*
 * TLS 1.3 handshake message boundaries for KeyUpdate detection (RX).
 *
 * A record's first byte is a message type only when no message was left
 * unfinished by the previous handshake record, so the parser carries the
 * message in progress from record to record.  Handshake records are not
 * interleaved with other types while a message is unfinished (RFC 8446
 * 5.1); other records are not fed here and do not change the state.
 */
#include <linux/errno.h>
#include <linux/minmax.h>

#include "ktls.h"
#include "handshake.h"

int ktls_hs_parse(struct ktls_hs_parser *p, const u8 *buf, unsigned int len)
{
	bool key_update_done = false;
	unsigned int n, total = len, start = 0;

	p->ku_bytes = 0;
	while (len) {
		/* Nothing may follow a KeyUpdate under the same key. */
		if (key_update_done)
			return -EBADMSG;
		if (p->hdr_len < KTLS_HS_HDR) {
			/* A message starts here. */
			if (!p->hdr_len)
				start = total - len;
			p->hdr[p->hdr_len++] = *buf++;
			len--;
			if (p->hdr_len < KTLS_HS_HDR)
				continue;
			p->left = (p->hdr[1] << 16) | (p->hdr[2] << 8) |
				  p->hdr[3];
			/* KeyUpdate carries exactly one byte. */
			if (p->hdr[0] == KTLS_HS_KEY_UPDATE && p->left != 1)
				return -EBADMSG;
		} else {
			n = min(p->left, len);
			if (p->hdr[0] == KTLS_HS_KEY_UPDATE)
				p->ku_request = *buf;
			buf += n;
			len -= n;
			p->left -= n;
		}
		if (p->hdr_len == KTLS_HS_HDR && !p->left) {
			/* The message ended: the next byte starts another. */
			key_update_done = p->hdr[0] == KTLS_HS_KEY_UPDATE;
			p->hdr_len = 0;
		}
	}
	/* The record ends in a KeyUpdate, whole or begun. */
	if (key_update_done ||
	    (p->hdr_len && p->hdr[0] == KTLS_HS_KEY_UPDATE))
		p->ku_bytes = total - start;
	return key_update_done;
}
