/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The RX and TX tests' fixtures.  RX: a loopback TCP pair whose rx end
 * has the ULP and
 * TLS_RX, and whose tx end is a raw peer writing records sealed by the
 * independent codec (lib_tlsrec) with the same keys.
 */
#ifndef KTLS_LIB_PAIR_H
#define KTLS_LIB_PAIR_H

#include <stddef.h>
#include <stdint.h>

#include "lib_tlsrec.h"

/* Key material seed both ends use (kt_fill_info). */
#define KT_PAIR_SEED	7

struct kt_pair {
	int rx, tx;
	struct tr_keys k;
	uint16_t version, cipher;
};

/* TCP pair, TCP_NODELAY on the peer, the ULP on rx; no keys yet. */
void kt_pair_raw(struct kt_pair *p);
/* TLS_RX starting at record sequence seq; the codec follows the same keys. */
void kt_pair_keys(struct kt_pair *p, uint16_t version, uint16_t cipher,
		  uint64_t seq);
/* kt_pair_raw + kt_pair_keys at sequence 0. */
void kt_pair_open(struct kt_pair *p, uint16_t version, uint16_t cipher);
void kt_pair_close(struct kt_pair *p);

/* Seal one record into out (room for TR_MAX_REC); its length. */
size_t kt_pair_seal(struct kt_pair *p, uint8_t type, const void *pt,
		    size_t len, uint8_t *out);
/* Seal one record and write all of it to the peer end. */
void kt_pair_send(struct kt_pair *p, uint8_t type, const void *pt,
		  size_t len);

/* Seal one record under k and write all of it to the raw end. */
void kt_send_rec(int raw, struct tr_keys *k, uint8_t type, const void *pt,
		 size_t len);
/* Read one record with a buffer of exactly its size; fail unless it is pt. */
void kt_expect_rec(int fd, uint8_t type, const void *pt, size_t len);

/* Write n bytes in pieces of at most step bytes. */
void kt_write_split(int fd, const void *buf, size_t n, size_t step);
/* Fail the case at the first byte that differs. */
void kt_expect_bytes(const void *got, const void *want, size_t n);
/* Loopback: after ms, the rx end holds everything the peer wrote. */
void kt_settle(unsigned int ms);

/* The TX tests' fixture: TLS_TX on tx, a raw peer opening its records. */
struct kt_tx_pair {
	int tx, peer;
	struct tr_keys k;
	union kt_crypto_info ci;
	size_t ci_len;
};

/* ULP + TLS_TX on p->tx with ci (NULL: keys from KT_PAIR_SEED); the
 * codec follows the same keys.
 */
void kt_tx_pair_keys(struct kt_tx_pair *p, uint16_t version, uint16_t cipher,
		     const union kt_crypto_info *ci);
void kt_tx_pair_close(struct kt_tx_pair *p);
/* Read one whole record's raw bytes from fd; its length. */
size_t kt_read_raw(int fd, uint8_t *buf);
/* Read, authenticate and decrypt the peer's next record; its length. */
size_t kt_tx_pair_read(struct kt_tx_pair *p, uint8_t *type, uint8_t *pt);

/* Records of one type whose plaintexts concatenate to want; how many. */
size_t kt_tx_pair_expect(struct kt_tx_pair *p, uint8_t type,
			 const uint8_t *want, size_t len);

/* A thread writing len bytes of buf to fd (kt_write_all). */
struct kt_writer {
	int fd;
	const uint8_t *buf;
	size_t len;
};
void *kt_writer_fn(void *arg);

#endif /* KTLS_LIB_PAIR_H */
