/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * ktls's own SOL_TLS options, beyond the in-tree kTLS UAPI.  Numbered from
 * KTLS_SOL_TLS_BASE, far from upstream's small numbers (1..5 today), so a
 * future upstream option cannot collide with them.
 *
 * Probe: getsockopt(fd, SOL_TLS, KTLS_FEATURES, &u32, &len) on a socket
 * with TCP_ULP "tls".  ktls answers a bitmask of KTLS_FEAT_*; the in-tree
 * kTLS (and an older ktls) fails with ENOPROTOOPT.
 *
 * In-kernel TLS 1.3 KeyUpdate (opt-in): after TLS_TX (TLS_RX) on a TLS 1.3
 * socket, set KTLS_TX_SECRET (KTLS_RX_SECRET) to that direction's current
 * application traffic secret.  From then on the kernel derives each next
 * generation itself (RFC 8446 7.2, 7.3):
 *	secret' = HKDF-Expand-Label(secret, "traffic upd", "", Hash.length)
 *	key/iv  = HKDF-Expand-Label(secret', "key"/"iv", "", length)
 * RX: a KeyUpdate from the peer is consumed at its record boundary; the
 * reader never sees it nor EKEYEXPIRED.  If it asks for an update and the
 * TX secret is set too, the kernel sends KeyUpdate(update_not_requested)
 * and switches TX.  Other handshake messages still reach the reader.
 * Secrets are write-only (getsockopt: EPERM) and wiped at every step, on
 * a userspace rekey of that direction (which ends the chain) and on close.
 *
 * Errors: optlen other than sizeof(struct ktls_traffic_secret), an unknown
 * hash, a hash other than the suite's (SHA-384 for AES-256-GCM, SHA-256
 * otherwise), len not the hash's length, a TLS 1.2 socket, the direction's
 * keys not set yet, or a secret that does not derive the key and IV in
 * use: EINVAL.
 */
#ifndef _KTLS_EXT_H
#define _KTLS_EXT_H

#include <linux/types.h>

#define KTLS_SOL_TLS_BASE	0x4b00		/* 19200: 'K' << 8 */

/* get: __u32 bitmask of KTLS_FEAT_*; set: ENOPROTOOPT */
#define KTLS_FEATURES		(KTLS_SOL_TLS_BASE + 0)
/* set only: struct ktls_traffic_secret */
#define KTLS_TX_SECRET		(KTLS_SOL_TLS_BASE + 1)
#define KTLS_RX_SECRET		(KTLS_SOL_TLS_BASE + 2)
/*
 * __u32, set and get: with KTLS_TX_SECRET set, send KeyUpdate
 * (update_not_requested) and switch TX after this many records under one
 * key.  0 (default): never.  KTLS_REKEY_RFC_LIMIT: the AES-GCM limit of
 * RFC 8446 5.5 (2^24.5 full-size records, rounded down).  EINVAL unless
 * KTLS_TX_SECRET is set; a userspace TX rekey stops it.
 */
#define KTLS_TX_REKEY_RECORDS	(KTLS_SOL_TLS_BASE + 3)
/*
 * __u32, set and get: pad each TLS 1.3 TX record's inner plaintext
 * (content plus type byte) with zeros up to a multiple of this many bytes,
 * capped by TLS_TX_MAX_PAYLOAD_LEN + 1.  0 (default) or 1: no padding;
 * KTLS_PAD_MAX: every record padded to the maximum.  EINVAL on TLS 1.2.
 */
#define KTLS_TX_PAD		(KTLS_SOL_TLS_BASE + 4)
/* get only: struct ktls_key_gen, the key generation per direction */
#define KTLS_KEY_GEN		(KTLS_SOL_TLS_BASE + 5)
/*
 * set only, __u32 0 or 1: with KTLS_TX_SECRET set, send one KeyUpdate
 * now (1: update_requested) and switch TX, in order with data, as the
 * kernel does for its own.  Neither the program nor a concurrent
 * in-kernel update can then use a stale key.  EINVAL otherwise.
 */
#define KTLS_TX_KEY_UPDATE	(KTLS_SOL_TLS_BASE + 6)

/*
 * sock_diag (INET_DIAG_ULP_INFO, in INET_ULP_INFO_TLS), __u32 each: the
 * key generation of a direction whose traffic secret the kernel holds.
 * Far from upstream's TLS_INFO_* numbers, below the NLA_F_* flag bits.
 */
#define KTLS_INFO_TX_KEY_GEN	0x0b00
#define KTLS_INFO_RX_KEY_GEN	0x0b01

#define KTLS_FEAT_KEY_UPDATE	0x1	/* KTLS_{TX,RX}_SECRET, KTLS_KEY_GEN */
#define KTLS_FEAT_TX_REKEY	0x2	/* KTLS_TX_REKEY_RECORDS */
#define KTLS_FEAT_TX_PAD	0x4	/* KTLS_TX_PAD */
#define KTLS_FEAT_TX_KEY_UPDATE	0x8	/* KTLS_TX_KEY_UPDATE */

#define KTLS_HASH_SHA256	1
#define KTLS_HASH_SHA384	2

#define KTLS_SECRET_MAX		48
#define KTLS_REKEY_RFC_LIMIT	0xffffffffU
#define KTLS_REKEY_RFC_RECORDS	23726566U	/* floor(2^24.5) */
#define KTLS_PAD_MAX		0xffffffffU

struct ktls_traffic_secret {
	__u16 hash;			/* KTLS_HASH_* */
	__u16 len;			/* 32 (SHA-256) or 48 (SHA-384) */
	__u8 secret[KTLS_SECRET_MAX];	/* the first len bytes */
};

/*
 * Generations: 0 for the keys TLS_TX/TLS_RX set; +1 per step, whoever made
 * it (the kernel, or userspace re-setting TLS_TX/TLS_RX).
 */
struct ktls_key_gen {
	__u32 tx;
	__u32 rx;
};

#endif /* _KTLS_EXT_H */
