// SPDX-License-Identifier: GPL-2.0
/*
 * RX path: record streams sealed in userspace by an independent OpenSSL
 * codec (lib_tlsrec) are written raw into a plain TCP socket; the other
 * end has TLS_RX set and must return the plaintext byte-exact, with the
 * in-tree errno for broken streams.
 *
 * Cases that do not depend on the kernel's poll semantics run twice: first
 * against Debian's in-tree tls.ko ("intree_*"), then against ktls
 * ("ktls_*"), with the same assertions, so both agree on this kernel.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "lib_pair.h"
#include "lib_tlsrec.h"
#include "util.h"

#define TLS12	TLS_1_2_VERSION
#define TLS13	TLS_1_3_VERSION
#define T_DATA	23
#define T_HS	22
#define T_ALERT	21
#define SEED	7

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void set_nonblock(int fd)
{
	KT_ASSERT_OK(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK));
}

/* --- byte-exact streams ------------------------------------------------ */

static const size_t sizes[] = {
	0, 1, 2, 13, 16, 17, 255, 1000, 1400, 4095, 4096, 8191, 12345,
	16383, 16384,
};
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))

/* The first n record sizes, written in wstep pieces, read in rstep. */
static void stream_sizes(uint16_t version, uint16_t cipher, size_t wstep,
			 size_t rstep, int no_pad, size_t n)
{
	static uint8_t stream[NSIZES * TR_MAX_REC], pt[NSIZES * 16384];
	static uint8_t got[NSIZES * 16384];
	size_t off = 0, total = 0, have = 0, i;
	struct kt_pair p;

	kt_pair_open(&p, version, cipher);
	/* The hint lets records be opened straight into the buffer. */
	if (no_pad)
		KT_ASSERT_OK(setsockopt(p.rx, SOL_TLS, TLS_RX_EXPECT_NO_PAD,
					&no_pad, sizeof(no_pad)));
	for (i = 0; i < n; i++) {
		kt_fill_pattern(pt + total, sizes[i], i + cipher + version);
		off += kt_pair_seal(&p, T_DATA, pt + total, sizes[i], stream + off);
		total += sizes[i];
	}
	kt_write_split(p.tx, stream, off, wstep);
	while (have < total) {
		size_t want = total - have < rstep ? total - have : rstep;
		ssize_t r = read(p.rx, got + have, want);

		KT_ASSERT(r > 0);
		have += r;
	}
	kt_expect_bytes(got, pt, total);
	kt_pair_close(&p);
}

/* All record sizes, written in odd-sized pieces, read in odd sizes. */
static void stream_one(uint16_t version, uint16_t cipher, size_t wstep,
		       size_t rstep, int no_pad)
{
	stream_sizes(version, cipher, wstep, rstep, no_pad, NSIZES);
}

static void all_ciphers_stream(void)
{
	static const uint16_t vers[] = { TLS12, TLS13 };
	size_t c, v;

	for (c = 0; c < kt_n_ciphers; c++)
		for (v = 0; v < 2; v++) {
			kt_diag("%s %s", kt_ciphers[c].name,
				vers[v] == TLS12 ? "1.2" : "1.3");
			stream_one(vers[v], kt_ciphers[c].type, 1447, 3001, 0);
			stream_one(vers[v], kt_ciphers[c].type, 65536, 65536,
				   vers[v] == TLS13);
		}
}

/*
 * Tiny writes: headers and bodies split across many segments.  A byte
 * per write and per read stops at 4 KiB records (11 of the sizes, 11 KB):
 * all 70 KB took in-tree over 8 minutes on the KASAN kernel.
 */
static void split_segments(void)
{
	stream_one(TLS12, TLS_CIPHER_AES_GCM_128, 3, 7, 0);
	stream_sizes(TLS13, TLS_CIPHER_AES_GCM_256, 1, 1, 0, 11);
}

/* Many small records in one segment, one read takes them all. */
static void many_in_one_read(void)
{
	static uint8_t stream[64 * 64], pt[64 * 32], got[4096];
	size_t off = 0, i;
	struct kt_pair p;

	kt_pair_open(&p, TLS12, TLS_CIPHER_CHACHA20_POLY1305);
	kt_fill_pattern(pt, sizeof(pt), 3);
	for (i = 0; i < 64; i++)
		off += kt_pair_seal(&p, T_DATA, pt + i * 32, 32, stream + off);
	kt_write_all(p.tx, stream, off);
	kt_settle(50);
	KT_ASSERT_EQ(read(p.rx, got, sizeof(got)), sizeof(pt));
	kt_expect_bytes(got, pt, sizeof(pt));
	kt_pair_close(&p);
}

static void partial_reads(void)
{
	static uint8_t pt[10000], got[20000];
	struct kt_pair p;

	kt_pair_open(&p, TLS13, TLS_CIPHER_AES_CCM_128);
	kt_fill_pattern(pt, sizeof(pt), 9);
	kt_pair_send(&p, T_DATA, pt, sizeof(pt));
	KT_ASSERT_EQ(read(p.rx, got, 1), 1);
	KT_ASSERT_EQ(read(p.rx, got + 1, 99), 99);
	KT_ASSERT_EQ(read(p.rx, got + 100, 3000), 3000);
	KT_ASSERT_EQ(read(p.rx, got + 3100, 16900), 6900);
	kt_expect_bytes(got, pt, sizeof(pt));
	kt_pair_close(&p);
}

static void peek_across_records(void)
{
	uint8_t pt[300], got[400], got2[400];
	struct kt_pair p;

	kt_pair_open(&p, TLS12, TLS_CIPHER_AES_GCM_128);
	kt_fill_pattern(pt, sizeof(pt), 4);
	kt_pair_send(&p, T_DATA, pt, 100);
	kt_pair_send(&p, T_DATA, pt + 100, 50);
	kt_pair_send(&p, T_DATA, pt + 150, 150);
	kt_settle(50);
	/* A partial peek, then a peek over all three records. */
	KT_ASSERT_EQ(recv(p.rx, got, 10, MSG_PEEK), 10);
	kt_expect_bytes(got, pt, 10);
	KT_ASSERT_EQ(recv(p.rx, got, sizeof(got), MSG_PEEK), 300);
	kt_expect_bytes(got, pt, 300);
	/* Nothing was consumed: a partial read, a peek, the rest. */
	KT_ASSERT_EQ(read(p.rx, got2, 120), 120);
	KT_ASSERT_EQ(recv(p.rx, got2 + 120, 280, MSG_PEEK), 180);
	KT_ASSERT_EQ(read(p.rx, got2 + 120, 280), 180);
	kt_expect_bytes(got2, pt, 300);
	kt_pair_close(&p);
}

static void iovec_many_pieces(void)
{
	static uint8_t pt[40000], got[40000];
	struct iovec iov[64];
	size_t off = 0, i;
	struct kt_pair p;

	kt_pair_open(&p, TLS13, TLS_CIPHER_CHACHA20_POLY1305);
	kt_fill_pattern(pt, sizeof(pt), 5);
	kt_pair_send(&p, T_DATA, pt, 16384);
	kt_pair_send(&p, T_DATA, pt + 16384, 16384);
	kt_pair_send(&p, T_DATA, pt + 32768, sizeof(pt) - 32768);
	for (i = 0; i < 64; i++) {
		size_t n = i == 63 ? sizeof(got) - off : 1 + (i * 97) % 1200;

		iov[i].iov_base = got + off;
		iov[i].iov_len = n;
		off += n;
	}
	KT_ASSERT_EQ(readv(p.rx, iov, 64) > 0, 1);
	/* MSG_WAITALL gathers the rest across records. */
	memset(got, 0, sizeof(got));
	kt_pair_close(&p);

	kt_pair_open(&p, TLS13, TLS_CIPHER_CHACHA20_POLY1305);
	kt_pair_send(&p, T_DATA, pt, 16384);
	kt_pair_send(&p, T_DATA, pt + 16384, 16384);
	kt_pair_send(&p, T_DATA, pt + 32768, sizeof(pt) - 32768);
	{
		struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 64 };

		KT_ASSERT_EQ(recvmsg(p.rx, &msg, MSG_WAITALL), sizeof(got));
	}
	kt_expect_bytes(got, pt, sizeof(pt));
	kt_pair_close(&p);
}

struct sender {
	struct kt_pair *p;
	const uint8_t *pt;
	size_t n, step;
	useconds_t delay;
};

static void *sender_fn(void *arg)
{
	struct sender *s = arg;
	size_t off = 0;

	while (off < s->n) {
		size_t k = s->n - off < s->step ? s->n - off : s->step;

		usleep(s->delay);
		kt_pair_send(s->p, T_DATA, s->pt + off, k);
		off += k;
	}
	return NULL;
}

/* MSG_PEEK | MSG_WAITALL over records already queued, then more. */
static void peek_waitall(void)
{
	uint8_t pt[3000], got[3000];
	struct sender s;
	pthread_t th;
	struct kt_pair p;

	kt_pair_open(&p, TLS13, TLS_CIPHER_AES_GCM_128);
	kt_fill_pattern(pt, sizeof(pt), 18);
	kt_pair_send(&p, T_DATA, pt, 1000);
	kt_pair_send(&p, T_DATA, pt + 1000, 1000);
	kt_settle(50);
	KT_ASSERT_EQ(recv(p.rx, got, 10, MSG_PEEK), 10);
	KT_ASSERT_EQ(recv(p.rx, got, 2000, MSG_PEEK | MSG_WAITALL), 2000);
	kt_expect_bytes(got, pt, 2000);
	s = (struct sender){ &p, pt + 2000, 1000, 1000, 200000 };
	KT_ASSERT_EQ(pthread_create(&th, NULL, sender_fn, &s), 0);
	KT_ASSERT_EQ(recv(p.rx, got, 3000, MSG_PEEK | MSG_WAITALL), 3000);
	pthread_join(th, NULL);
	kt_expect_bytes(got, pt, 3000);
	memset(got, 0, sizeof(got));
	kt_read_all(p.rx, got, 3000);
	kt_expect_bytes(got, pt, 3000);
	kt_pair_close(&p);
}

static void waitall(void)
{
	static uint8_t pt[50000], got[50000];
	struct sender s;
	pthread_t th;
	struct kt_pair p;

	kt_pair_open(&p, TLS12, TLS_CIPHER_AES_GCM_256);
	kt_fill_pattern(pt, sizeof(pt), 6);
	s = (struct sender){ &p, pt, sizeof(pt), 7000, 20000 };
	KT_ASSERT_EQ(pthread_create(&th, NULL, sender_fn, &s), 0);
	KT_ASSERT_EQ(recv(p.rx, got, sizeof(got), MSG_WAITALL), sizeof(got));
	pthread_join(th, NULL);
	kt_expect_bytes(got, pt, sizeof(pt));
	kt_pair_close(&p);
}

static void rcvlowat(void)
{
	uint8_t pt[400], got[1000];
	int lowat = 300;
	struct sender s;
	pthread_t th;
	struct kt_pair p;

	kt_pair_open(&p, TLS12, TLS_CIPHER_AES_GCM_128);
	kt_fill_pattern(pt, sizeof(pt), 8);
	KT_ASSERT_OK(setsockopt(p.rx, SOL_SOCKET, SO_RCVLOWAT, &lowat,
				sizeof(lowat)));
	s = (struct sender){ &p, pt, sizeof(pt), 100, 50000 };
	KT_ASSERT_EQ(pthread_create(&th, NULL, sender_fn, &s), 0);
	/* Returns once 300 bytes are there: three or four records. */
	{
		ssize_t r = read(p.rx, got, sizeof(got));

		KT_ASSERT(r >= 300);
		pthread_join(th, NULL);
		/* TCP wakes nobody for less than the low mark: lower it. */
		lowat = 1;
		KT_ASSERT_OK(setsockopt(p.rx, SOL_SOCKET, SO_RCVLOWAT, &lowat,
					sizeof(lowat)));
		if (r < 400)
			KT_ASSERT_EQ(read(p.rx, got + r, sizeof(got) - r),
				     400 - r);
	}
	kt_expect_bytes(got, pt, sizeof(pt));
	kt_pair_close(&p);
}

static void nonblock_eagain(void)
{
	uint8_t pt[500], rec[TR_MAX_REC], got[500];
	size_t n;
	struct kt_pair p;

	kt_pair_open(&p, TLS13, TLS_CIPHER_AES_GCM_128);
	kt_fill_pattern(pt, sizeof(pt), 10);
	KT_ASSERT_ERRNO(recv(p.rx, got, sizeof(got), MSG_DONTWAIT), EAGAIN);
	n = kt_pair_seal(&p, T_DATA, pt, sizeof(pt), rec);
	kt_write_all(p.tx, rec, n - 10);
	kt_settle(50);
	/* A partial record is not readable. */
	KT_ASSERT_ERRNO(recv(p.rx, got, sizeof(got), MSG_DONTWAIT), EAGAIN);
	set_nonblock(p.rx);
	KT_ASSERT_ERRNO(read(p.rx, got, sizeof(got)), EAGAIN);
	kt_write_all(p.tx, rec + n - 10, 10);
	kt_settle(50);
	KT_ASSERT_EQ(read(p.rx, got, sizeof(got)), sizeof(pt));
	kt_expect_bytes(got, pt, sizeof(pt));
	KT_ASSERT_ERRNO(read(p.rx, got, sizeof(got)), EAGAIN);
	kt_pair_close(&p);
}

static void rcvtimeo(void)
{
	struct timeval tv = { 0, 300000 };
	uint8_t rec[TR_MAX_REC], got[100];
	struct kt_pair p;
	double t0;
	size_t n;

	kt_pair_open(&p, TLS12, TLS_CIPHER_CHACHA20_POLY1305);
	KT_ASSERT_OK(setsockopt(p.rx, SOL_SOCKET, SO_RCVTIMEO, &tv,
				sizeof(tv)));
	n = kt_pair_seal(&p, T_DATA, "hello", 5, rec);
	kt_write_all(p.tx, rec, n - 1);
	t0 = now();
	KT_ASSERT_ERRNO(read(p.rx, got, sizeof(got)), EAGAIN);
	KT_ASSERT(now() - t0 >= 0.25);
	kt_write_all(p.tx, rec + n - 1, 1);
	KT_ASSERT_EQ(read(p.rx, got, sizeof(got)), 5);
	kt_expect_bytes(got, "hello", 5);
	kt_pair_close(&p);
}

/* --- record types ------------------------------------------------------ */

static void control_records(void)
{
	static const uint16_t vers[] = { TLS12, TLS13 };
	uint8_t got[100], type;
	struct kt_pair p;
	int v;

	for (v = 0; v < 2; v++) {
		kt_pair_open(&p, vers[v], TLS_CIPHER_AES_GCM_128);
		kt_pair_send(&p, T_DATA, "data1", 5);
		kt_pair_send(&p, T_HS, "handshake", 9);
		kt_pair_send(&p, T_ALERT, "al", 2);
		kt_pair_send(&p, T_DATA, "data2", 5);
		kt_pair_send(&p, T_DATA, "data3", 5);
		kt_settle(50);
		/* A read stops at the type boundary, also when peeking. */
		KT_ASSERT_EQ(kt_recv_type(p.rx, got, 100, MSG_PEEK, &type), 5);
		KT_ASSERT_EQ(type, T_DATA);
		KT_ASSERT_EQ(kt_recv_type(p.rx, got, 100, 0, &type), 5);
		KT_ASSERT_EQ(type, T_DATA);
		kt_expect_bytes(got, "data1", 5);
		/* No room for the cmsg: EIO, and the record stays. */
		KT_ASSERT_ERRNO(read(p.rx, got, 100), EIO);
		KT_ASSERT_ERRNO(recv(p.rx, got, 100, 0), EIO);
		KT_ASSERT_EQ(kt_recv_type(p.rx, got, 100, MSG_PEEK, &type), 9);
		KT_ASSERT_EQ(type, T_HS);
		/* Each control record alone, never merged. */
		KT_ASSERT_EQ(kt_recv_type(p.rx, got, 100, 0, &type), 9);
		KT_ASSERT_EQ(type, T_HS);
		kt_expect_bytes(got, "handshake", 9);
		KT_ASSERT_EQ(kt_recv_type(p.rx, got, 100, 0, &type), 2);
		KT_ASSERT_EQ(type, T_ALERT);
		kt_expect_bytes(got, "al", 2);
		KT_ASSERT_EQ(kt_recv_type(p.rx, got, 100, 0, &type), 10);
		KT_ASSERT_EQ(type, T_DATA);
		kt_expect_bytes(got, "data2data3", 10);
		kt_pair_close(&p);
	}
}

/* A control record read in two pieces keeps its type. */
static void control_partial(void)
{
	uint8_t got[100], type;
	struct kt_pair p;

	kt_pair_open(&p, TLS12, TLS_CIPHER_AES_CCM_128);
	kt_pair_send(&p, T_HS, "0123456789", 10);
	kt_pair_send(&p, T_DATA, "x", 1);
	KT_ASSERT_EQ(kt_recv_type(p.rx, got, 4, 0, &type), 4);
	KT_ASSERT_EQ(type, T_HS);
	KT_ASSERT_EQ(kt_recv_type(p.rx, got + 4, 100, 0, &type), 6);
	KT_ASSERT_EQ(type, T_HS);
	kt_expect_bytes(got, "0123456789", 10);
	KT_ASSERT_EQ(kt_recv_type(p.rx, got, 100, 0, &type), 1);
	KT_ASSERT_EQ(type, T_DATA);
	kt_pair_close(&p);
}

/* TLS 1.3 padding: tr_seal() with type 0 seals pt as the inner text. */
static void tls13_padding(void)
{
	uint8_t inner[300] = { 0 }, got[300], type;
	int one = 1;
	struct kt_pair p;

	kt_pair_open(&p, TLS13, TLS_CIPHER_AES_GCM_256);
	memcpy(inner, "padded", 6);
	inner[6] = T_DATA;		/* then 293 zero bytes of padding */
	kt_pair_send(&p, 0, inner, sizeof(inner));
	inner[6] = T_HS;
	kt_pair_send(&p, 0, inner, 7);	/* one zero byte of padding */
	KT_ASSERT_EQ(kt_recv_type(p.rx, got, sizeof(got), 0, &type), 6);
	KT_ASSERT_EQ(type, T_DATA);
	kt_expect_bytes(got, "padded", 6);
	KT_ASSERT_EQ(kt_recv_type(p.rx, got, sizeof(got), 0, &type), 6);
	KT_ASSERT_EQ(type, T_HS);
	/* The no-pad hint must not break a peer that pads. */
	KT_ASSERT_OK(setsockopt(p.rx, SOL_TLS, TLS_RX_EXPECT_NO_PAD, &one,
				sizeof(one)));
	inner[6] = T_DATA;
	kt_pair_send(&p, 0, inner, 100);
	kt_pair_send(&p, T_DATA, "plain", 5);
	kt_settle(50);
	KT_ASSERT_EQ(read(p.rx, got, sizeof(got)), 11);
	kt_expect_bytes(got, "paddedplain", 11);
	/* Types still split reads when records are opened in place. */
	kt_pair_send(&p, T_DATA, "d1", 2);
	kt_pair_send(&p, T_HS, "h", 1);
	kt_pair_send(&p, T_DATA, "d2", 2);
	kt_settle(50);
	KT_ASSERT_EQ(read(p.rx, got, sizeof(got)), 2);
	kt_expect_bytes(got, "d1", 2);
	KT_ASSERT_EQ(kt_recv_type(p.rx, got, sizeof(got), 0, &type), 1);
	KT_ASSERT_EQ(type, T_HS);
	kt_expect_bytes(got, "h", 1);
	KT_ASSERT_EQ(read(p.rx, got, sizeof(got)), 2);
	kt_expect_bytes(got, "d2", 2);
	/* All padding, no type: EBADMSG, and it sticks. */
	memset(inner, 0, sizeof(inner));
	kt_pair_send(&p, 0, inner, 50);
	KT_ASSERT_ERRNO(read(p.rx, got, sizeof(got)), EBADMSG);
	KT_ASSERT_ERRNO(read(p.rx, got, sizeof(got)), EBADMSG);
	kt_pair_close(&p);
}

/* --- broken streams ---------------------------------------------------- */

/* Read once more without blocking after a one-shot error. */
static void expect_once_then_eagain(struct kt_pair *p, int err)
{
	uint8_t got[64];

	KT_ASSERT_ERRNO(read(p->rx, got, sizeof(got)), err);
	KT_ASSERT_ERRNO(recv(p->rx, got, sizeof(got), MSG_DONTWAIT), EAGAIN);
}

static void raw_header(struct kt_pair *p, uint8_t type, uint8_t maj, uint8_t min,
		       unsigned int len)
{
	uint8_t buf[64] = { type, maj, min, len >> 8, len & 0xff };

	/* More than any header plus explicit nonce: all checks can run. */
	kt_write_all(p->tx, buf, sizeof(buf));
	kt_settle(50);
}

static void err_oversized(void)
{
	static const uint16_t vers[] = { TLS12, TLS13 };
	size_t c;
	int v;

	for (c = 0; c < kt_n_ciphers; c++)
		for (v = 0; v < 2; v++) {
			const struct kt_cipher *ci = &kt_ciphers[c];
			unsigned int max = 16384 + 16 +
				(vers[v] == TLS13 ? 1 : ci->iv == 8 ? 8 : 0);
			struct kt_pair p;

			/* The largest legal length only waits for more. */
			kt_pair_open(&p, vers[v], ci->type);
			raw_header(&p, T_DATA, 3, 3, max);
			KT_ASSERT_ERRNO(recv(p.rx, &p, 1, MSG_DONTWAIT),
					EAGAIN);
			kt_pair_close(&p);

			kt_pair_open(&p, vers[v], ci->type);
			raw_header(&p, T_DATA, 3, 3, max + 1);
			expect_once_then_eagain(&p, EMSGSIZE);
			kt_pair_close(&p);
		}
}

static void err_garbage_header(void)
{
	uint8_t junk[64];
	struct kt_pair p;

	kt_pair_open(&p, TLS12, TLS_CIPHER_AES_GCM_128);
	memset(junk, 0xa5, sizeof(junk));
	kt_write_all(p.tx, junk, sizeof(junk));
	kt_settle(50);
	expect_once_then_eagain(&p, EMSGSIZE);
	kt_pair_close(&p);
}

static void err_bad_version(void)
{
	struct kt_pair p;

	kt_pair_open(&p, TLS12, TLS_CIPHER_AES_GCM_128);
	raw_header(&p, T_DATA, 3, 1, 100);
	expect_once_then_eagain(&p, EINVAL);
	kt_pair_close(&p);

	kt_pair_open(&p, TLS13, TLS_CIPHER_CHACHA20_POLY1305);
	raw_header(&p, T_DATA, 2, 3, 100);
	expect_once_then_eagain(&p, EINVAL);
	kt_pair_close(&p);
}

static void err_too_short(void)
{
	struct kt_pair p;

	/* GCM 1.2 needs explicit nonce + tag: 24 bytes. */
	kt_pair_open(&p, TLS12, TLS_CIPHER_AES_GCM_128);
	raw_header(&p, T_DATA, 3, 3, 23);
	expect_once_then_eagain(&p, EBADMSG);
	kt_pair_close(&p);

	kt_pair_open(&p, TLS13, TLS_CIPHER_AES_GCM_128);
	raw_header(&p, T_DATA, 3, 3, 15);
	expect_once_then_eagain(&p, EBADMSG);
	kt_pair_close(&p);
}

/* A flipped bit anywhere: EBADMSG, for every read after it too. */
static void err_tampered(void)
{
	static const uint16_t vers[] = { TLS12, TLS13 };
	uint8_t pt[200], rec[TR_MAX_REC], got[400];
	size_t c, n;
	int v;

	kt_fill_pattern(pt, sizeof(pt), 11);
	for (c = 0; c < kt_n_ciphers; c++)
		for (v = 0; v < 2; v++) {
			struct kt_pair p;

			kt_pair_open(&p, vers[v], kt_ciphers[c].type);
			kt_pair_send(&p, T_DATA, pt, 100);
			n = kt_pair_seal(&p, T_DATA, pt + 100, 100, rec);
			rec[n - 1 - (v * 37 + c * 11) % 100] ^= 0x10;
			kt_write_all(p.tx, rec, n);
			kt_settle(50);
			/* Good data first, then the error. */
			KT_ASSERT_EQ(read(p.rx, got, sizeof(got)), 100);
			kt_expect_bytes(got, pt, 100);
			KT_ASSERT_ERRNO(read(p.rx, got, sizeof(got)), EBADMSG);
			KT_ASSERT_ERRNO(recv(p.rx, got, sizeof(got),
					     MSG_DONTWAIT), EBADMSG);
			KT_ASSERT_ERRNO(recv(p.rx, got, sizeof(got),
					     MSG_PEEK), EBADMSG);
			kt_pair_close(&p);
		}
}

/* Wrong sequence number (a replayed record) fails authentication. */
static void err_replay(void)
{
	uint8_t rec[TR_MAX_REC], got[100];
	struct kt_pair p;
	size_t n;

	kt_pair_open(&p, TLS13, TLS_CIPHER_AES_GCM_128);
	n = kt_pair_seal(&p, T_DATA, "once", 4, rec);
	kt_write_all(p.tx, rec, n);
	kt_write_all(p.tx, rec, n);
	KT_ASSERT_EQ(read(p.rx, got, sizeof(got)), 4);
	KT_ASSERT_ERRNO(read(p.rx, got, sizeof(got)), EBADMSG);
	kt_pair_close(&p);
}

/* Peer FIN in the middle of a record: end of stream. */
static void fin_mid_record(void)
{
	uint8_t rec[TR_MAX_REC], got[100];
	struct kt_pair p;
	size_t n;

	kt_pair_open(&p, TLS12, TLS_CIPHER_AES_GCM_128);
	kt_pair_send(&p, T_DATA, "first", 5);
	n = kt_pair_seal(&p, T_DATA, "second", 6, rec);
	kt_write_all(p.tx, rec, n - 3);
	KT_ASSERT_OK(shutdown(p.tx, SHUT_WR));
	kt_settle(50);
	KT_ASSERT_EQ(read(p.rx, got, sizeof(got)), 5);
	KT_ASSERT_EQ(read(p.rx, got, sizeof(got)), 0);
	KT_ASSERT_EQ(read(p.rx, got, sizeof(got)), 0);
	kt_pair_close(&p);
}

static void peer_reset(void)
{
	struct linger lg = { 1, 0 };
	uint8_t rec[TR_MAX_REC], got[100];
	struct kt_pair p;
	size_t n;

	kt_pair_open(&p, TLS13, TLS_CIPHER_AES_GCM_128);
	n = kt_pair_seal(&p, T_DATA, "lost", 4, rec);
	kt_write_all(p.tx, rec, n - 2);
	KT_ASSERT_OK(setsockopt(p.tx, SOL_SOCKET, SO_LINGER, &lg,
				sizeof(lg)));
	close(p.tx);
	kt_settle(50);
	KT_ASSERT_ERRNO(read(p.rx, got, sizeof(got)), ECONNRESET);
	close(p.rx);
}

static int kernel_is_6_1(void)
{
	struct utsname u;

	KT_ASSERT_OK(uname(&u));
	return !strncmp(u.release, "6.1.", 4);
}

/*
 * RST met by a MSG_WAITALL read that already has data: the data comes
 * back; 6.12 reports the reset on the next read, 6.1 consumed it.
 */
static void reset_after_data(void)
{
	struct linger lg = { 1, 0 };
	uint8_t rec[TR_MAX_REC], got[100];
	struct kt_pair p;
	size_t n;

	kt_pair_open(&p, TLS12, TLS_CIPHER_AES_GCM_256);
	kt_pair_send(&p, T_DATA, "kept", 4);
	n = kt_pair_seal(&p, T_DATA, "lost", 4, rec);
	kt_write_all(p.tx, rec, n - 2);
	kt_settle(50);
	KT_ASSERT_OK(setsockopt(p.tx, SOL_SOCKET, SO_LINGER, &lg,
				sizeof(lg)));
	close(p.tx);
	KT_ASSERT_EQ(recv(p.rx, got, sizeof(got), MSG_WAITALL), 4);
	kt_expect_bytes(got, "kept", 4);
	if (kernel_is_6_1())
		KT_ASSERT_EQ(read(p.rx, got, sizeof(got)), 0);
	else
		KT_ASSERT_ERRNO(read(p.rx, got, sizeof(got)), ECONNRESET);
	close(p.rx);
}

/* getsockopt(TLS_RX) reports the next record's sequence number. */
static void rec_seq_advances(void)
{
	union kt_crypto_info set, got;
	socklen_t len;
	uint8_t buf[100];
	size_t c, n;
	int i;

	for (c = 0; c < kt_n_ciphers; c++) {
		const struct kt_cipher *ci = &kt_ciphers[c];
		struct kt_pair p;

		kt_pair_open(&p, TLS12, ci->type);
		n = kt_fill_info(&set, TLS12, ci->type, SEED);
		for (i = 0; i < 3; i++)
			kt_pair_send(&p, i == 1 ? T_HS : T_DATA, "abc", 3);
		for (i = 0; i < 3; i++) {
			uint8_t type;

			KT_ASSERT_EQ(kt_recv_type(p.rx, buf, sizeof(buf), 0,
						  &type), 3);
		}
		len = n;
		memset(&got, 0, sizeof(got));
		KT_ASSERT_OK(getsockopt(p.rx, SOL_TLS, TLS_RX, &got, &len));
		KT_ASSERT_EQ(len, n);
		/*
		 * Everything as set, but rec_seq (last byte 0 -> 3) and, as
		 * in-tree, the TLS 1.2 GCM/CCM iv advanced by one per record.
		 */
		set.raw[n - 1] = 3;
		if (ci->iv == 8) {
			uint8_t *iv = set.raw + sizeof(set.info);
			unsigned int sum = iv[7] + 3;

			iv[7] = sum & 0xff;
			for (i = 6; i >= 0 && (sum >> 8); i--) {
				sum = iv[i] + 1;
				iv[i] = sum & 0xff;
			}
		}
		KT_ASSERT(!memcmp(&got, &set, n));
		kt_pair_close(&p);
	}
}

/* Records the peer sent before TLS_RX was set are decrypted too. */
static void queued_before_rx(void)
{
	uint8_t stream[3 * TR_MAX_REC], pt[3000], got[3000];
	union kt_crypto_info ci;
	struct tr_keys k;
	size_t off = 0, len;
	int c, s;

	kt_tcp_pair(AF_INET, &c, &s);
	KT_ASSERT_OK(kt_attach(s));
	kt_fill_pattern(pt, sizeof(pt), 12);
	len = kt_fill_info(&ci, TLS12, TLS_CIPHER_AES_GCM_128, SEED);
	tr_keys_from_info(&k, &ci);
	off += tr_seal(&k, T_DATA, pt, 1000, stream + off);
	off += tr_seal(&k, T_DATA, pt + 1000, 1000, stream + off);
	off += tr_seal(&k, T_DATA, pt + 2000, 1000, stream + off);
	/* Two whole records and part of the third before TLS_RX. */
	kt_write_all(c, stream, off - 500);
	kt_settle(50);
	KT_ASSERT_OK(setsockopt(s, SOL_TLS, TLS_RX, &ci, len));
	KT_ASSERT_EQ(recv(s, got, sizeof(got), MSG_DONTWAIT), 2000);
	kt_write_all(c, stream + off - 500, 500);
	kt_read_all(s, got + 2000, 1000);
	kt_expect_bytes(got, pt, sizeof(pt));
	close(c);
	close(s);
}

static void efault(void)
{
	uint8_t got[100], *bad;
	struct kt_pair p;

	bad = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	KT_ASSERT(bad != MAP_FAILED);

	kt_pair_open(&p, TLS12, TLS_CIPHER_AES_GCM_128);
	kt_pair_send(&p, T_DATA, "fault", 5);
	kt_settle(50);
	KT_ASSERT_ERRNO(read(p.rx, bad, 100), EFAULT);
	kt_pair_close(&p);

	/* A record bigger than the buffer is not decrypted into it. */
	kt_pair_open(&p, TLS12, TLS_CIPHER_AES_GCM_128);
	kt_pair_send(&p, T_DATA, "fault", 5);
	kt_settle(50);
	KT_ASSERT_ERRNO(read(p.rx, bad, 2), EFAULT);
	KT_ASSERT_EQ(read(p.rx, got, sizeof(got)), 5);
	kt_expect_bytes(got, "fault", 5);
	kt_pair_close(&p);
}

/* --- splice ------------------------------------------------------------ */

static void splice_to_pipe(void)
{
	static uint8_t pt[30000], got[30000];
	size_t have = 0;
	uint8_t type;
	int pfd[2];
	struct kt_pair p;

	kt_pair_open(&p, TLS13, TLS_CIPHER_AES_GCM_128);
	kt_fill_pattern(pt, sizeof(pt), 13);
	KT_ASSERT_OK(pipe(pfd));
	kt_pair_send(&p, T_DATA, pt, 16384);
	kt_pair_send(&p, T_DATA, pt + 16384, sizeof(pt) - 16384);
	kt_pair_send(&p, T_HS, "hs", 2);
	while (have < sizeof(pt)) {
		ssize_t r = splice(p.rx, NULL, pfd[1], NULL, 5000, 0);

		KT_ASSERT(r > 0);
		kt_read_all(pfd[0], got + have, r);
		have += r;
	}
	kt_expect_bytes(got, pt, sizeof(pt));
	/* A control record cannot be spliced and stays queued. */
	KT_ASSERT_ERRNO(splice(p.rx, NULL, pfd[1], NULL, 100, 0), EINVAL);
	KT_ASSERT_EQ(kt_recv_type(p.rx, got, 100, 0, &type), 2);
	KT_ASSERT_EQ(type, T_HS);
	close(pfd[0]);
	close(pfd[1]);
	kt_pair_close(&p);
}

/* --- poll (6.12 semantics on every kernel: ktls only) ------------------ */

static void poll_whole_record(void)
{
	uint8_t rec[TR_MAX_REC], got[2000];
	struct epoll_event ev;
	struct pollfd pf;
	struct kt_pair p;
	size_t n;
	int ep;

	/* 6.1's in-tree still reports partial records: ktls does not. */
	if (kernel_is_6_1() && kt_module_loaded("tls"))
		KT_SKIP("in-tree 6.1 polls partial records readable");

	kt_pair_open(&p, TLS12, TLS_CIPHER_AES_GCM_128);
	pf = (struct pollfd){ .fd = p.rx, .events = POLLIN };
	KT_ASSERT_EQ(poll(&pf, 1, 0), 0);
	n = kt_pair_seal(&p, T_DATA, got, 1500, rec);
	ep = epoll_create1(0);
	KT_ASSERT(ep >= 0);
	ev.events = EPOLLIN;
	ev.data.fd = p.rx;
	KT_ASSERT_OK(epoll_ctl(ep, EPOLL_CTL_ADD, p.rx, &ev));
	kt_write_all(p.tx, rec, n - 1);
	kt_settle(50);
	KT_ASSERT_EQ(poll(&pf, 1, 100), 0);
	KT_ASSERT_EQ(epoll_wait(ep, &ev, 1, 100), 0);
	kt_write_all(p.tx, rec + n - 1, 1);
	KT_ASSERT_EQ(epoll_wait(ep, &ev, 1, 2000), 1);
	KT_ASSERT(ev.events & EPOLLIN);
	KT_ASSERT_EQ(poll(&pf, 1, 2000), 1);
	KT_ASSERT(pf.revents & POLLIN);
	/* Opened text left over keeps the socket readable. */
	KT_ASSERT_EQ(read(p.rx, got, 10), 10);
	KT_ASSERT_EQ(poll(&pf, 1, 0), 1);
	KT_ASSERT_EQ(read(p.rx, got, sizeof(got)), 1490);
	KT_ASSERT_EQ(poll(&pf, 1, 0), 0);
	close(ep);
	kt_pair_close(&p);
}

/* --- concurrency ------------------------------------------------------- */

#define RACE_RECS	400
#define RACE_SIZE	700

struct racer {
	int fd;
	unsigned int seen[RACE_RECS];
	unsigned int n;
	int bad;
};

static void *racer_fn(void *arg)
{
	struct racer *r = arg;
	uint8_t buf[RACE_SIZE], want[RACE_SIZE];

	for (;;) {
		ssize_t got = read(r->fd, buf, sizeof(buf));
		unsigned int idx;

		if (got <= 0)
			break;
		/* Every read returns exactly one whole record. */
		idx = buf[0] | buf[1] << 8;
		if (got != RACE_SIZE || idx >= RACE_RECS) {
			r->bad = 1;
			break;
		}
		kt_fill_pattern(want, RACE_SIZE, idx);
		if (memcmp(buf + 2, want + 2, RACE_SIZE - 2)) {
			r->bad = 1;
			break;
		}
		r->seen[r->n++] = idx;
	}
	return NULL;
}

static void two_readers(void)
{
	static struct racer r[2];
	uint8_t pt[RACE_SIZE];
	static uint8_t count[RACE_RECS];
	pthread_t th[2];
	struct kt_pair p;
	unsigned int i;

	kt_pair_open(&p, TLS12, TLS_CIPHER_AES_GCM_128);
	for (i = 0; i < 2; i++) {
		memset(&r[i], 0, sizeof(r[i]));
		r[i].fd = p.rx;
		KT_ASSERT_EQ(pthread_create(&th[i], NULL, racer_fn, &r[i]), 0);
	}
	for (i = 0; i < RACE_RECS; i++) {
		kt_fill_pattern(pt, sizeof(pt), i);
		pt[0] = i & 0xff;
		pt[1] = i >> 8;
		kt_pair_send(&p, T_DATA, pt, sizeof(pt));
	}
	KT_ASSERT_OK(shutdown(p.tx, SHUT_WR));
	for (i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	KT_ASSERT(!r[0].bad && !r[1].bad);
	KT_ASSERT_EQ(r[0].n + r[1].n, RACE_RECS);
	for (i = 0; i < r[0].n; i++)
		count[r[0].seen[i]]++;
	for (i = 0; i < r[1].n; i++)
		count[r[1].seen[i]]++;
	for (i = 0; i < RACE_RECS; i++)
		KT_ASSERT_EQ(count[i], 1);
	kt_pair_close(&p);
}

struct writer {
	int fd;
	size_t n;
};

static void *writer_fn(void *arg)
{
	struct writer *w = arg;
	uint8_t buf[4096];
	size_t off = 0;

	memset(buf, 'w', sizeof(buf));
	while (off < w->n) {
		ssize_t k = write(w->fd, buf, sizeof(buf));

		if (k <= 0)
			break;
		off += k;
	}
	w->n = off;
	return NULL;
}

struct reader {
	int fd;
	uint8_t *buf;
	size_t n;
};

static void *reader_fn(void *arg)
{
	struct reader *r = arg;

	kt_read_all(r->fd, r->buf, r->n);
	return NULL;
}

/* One thread writes (plain TCP: no TX keys) while another reads. */
static void read_while_writing(void)
{
	static uint8_t pt[100000], got[100000], sink[4096];
	struct writer w;
	struct sender s;
	struct reader r;
	pthread_t th[3];
	size_t drained = 0;
	struct kt_pair p;
	int i;

	kt_pair_open(&p, TLS13, TLS_CIPHER_AES_GCM_128);
	kt_fill_pattern(pt, sizeof(pt), 14);
	w = (struct writer){ p.rx, 1 << 20 };
	s = (struct sender){ &p, pt, sizeof(pt), 9000, 1000 };
	r = (struct reader){ p.rx, got, sizeof(got) };
	KT_ASSERT_EQ(pthread_create(&th[0], NULL, writer_fn, &w), 0);
	KT_ASSERT_EQ(pthread_create(&th[1], NULL, sender_fn, &s), 0);
	KT_ASSERT_EQ(pthread_create(&th[2], NULL, reader_fn, &r), 0);
	while (drained < (1 << 20)) {
		ssize_t k = read(p.tx, sink, sizeof(sink));

		KT_ASSERT(k > 0);
		drained += k;
	}
	for (i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	KT_ASSERT_EQ(w.n, 1 << 20);
	kt_expect_bytes(got, pt, sizeof(pt));
	kt_pair_close(&p);
}

struct blocked {
	int fd;
	ssize_t r;
	int err;
	uint8_t buf[100];
};

static void *blocked_fn(void *arg)
{
	struct blocked *b = arg;

	b->r = read(b->fd, b->buf, sizeof(b->buf));
	b->err = errno;
	return NULL;
}

/* close() does not end a read in progress; the socket outlives it. */
static void close_during_read(void)
{
	static struct blocked b;
	pthread_t th;
	struct kt_pair p;

	kt_pair_open(&p, TLS12, TLS_CIPHER_CHACHA20_POLY1305);
	b.fd = p.rx;
	KT_ASSERT_EQ(pthread_create(&th, NULL, blocked_fn, &b), 0);
	usleep(200000);
	close(p.rx);
	usleep(100000);
	kt_pair_send(&p, T_DATA, "after close", 11);
	pthread_join(th, NULL);
	KT_ASSERT_EQ(b.r, 11);
	kt_expect_bytes(b.buf, "after close", 11);
	close(p.tx);
}

static void shutdown_during_read(void)
{
	static struct blocked b;
	pthread_t th;
	struct kt_pair p;

	kt_pair_open(&p, TLS13, TLS_CIPHER_AES_CCM_128);
	b.fd = p.rx;
	KT_ASSERT_EQ(pthread_create(&th, NULL, blocked_fn, &b), 0);
	usleep(200000);
	KT_ASSERT_OK(shutdown(p.rx, SHUT_RDWR));
	pthread_join(th, NULL);
	KT_ASSERT_EQ(b.r, 0);
	kt_pair_close(&p);
}

/* Close with opened, partly read and unread records queued. */
static void close_with_queued(void)
{
	uint8_t pt[5000], got[10];
	int i;

	kt_fill_pattern(pt, sizeof(pt), 15);
	for (i = 0; i < 20; i++) {
		struct kt_pair p;

		kt_pair_open(&p, i & 1 ? TLS13 : TLS12, TLS_CIPHER_AES_GCM_128);
		kt_pair_send(&p, T_DATA, pt, sizeof(pt));
		kt_pair_send(&p, T_DATA, pt, sizeof(pt));
		kt_pair_send(&p, T_DATA, pt, 100);
		kt_settle(50);
		if (i % 3 == 1)
			KT_ASSERT_EQ(recv(p.rx, got, 10, MSG_PEEK), 10);
		if (i % 3 == 2)
			KT_ASSERT_EQ(read(p.rx, got, 10), 10);
		kt_pair_close(&p);
	}
}

/*
 * A receive buffer smaller than one record: the record must still come
 * out (in-tree copies it out of TCP piecewise), also to a poll() loop.
 */
static void small_rcvbuf(void)
{
	static uint8_t pt[4 * 16384], got[4 * 16384];
	int partial_poll;
	size_t have = 0;
	struct sender s;
	pthread_t th;
	struct kt_pair p;

	partial_poll = kernel_is_6_1() && kt_module_loaded("tls");
	memset(&p, 0, sizeof(p));
	kt_tcp_pair_bufs(AF_INET, &p.tx, &p.rx, 2048, 0);
	KT_ASSERT_OK(kt_attach(p.rx));
	kt_pair_keys(&p, TLS12, TLS_CIPHER_AES_GCM_128, 0);

	kt_fill_pattern(pt, sizeof(pt), 17);
	s = (struct sender){ &p, pt, sizeof(pt), 16384, 1000 };
	KT_ASSERT_EQ(pthread_create(&th, NULL, sender_fn, &s), 0);
	while (have < sizeof(pt)) {
		struct pollfd pf = { .fd = p.rx, .events = POLLIN };
		ssize_t r;

		KT_ASSERT_EQ(poll(&pf, 1, 20000), 1);
		r = recv(p.rx, got + have, sizeof(got) - have, MSG_DONTWAIT);
		/* 6.1's in-tree polls a partial record readable. */
		if (r < 0 && errno == EAGAIN && partial_poll) {
			usleep(1000);
			continue;
		}
		KT_ASSERT(r > 0);
		have += r;
	}
	pthread_join(th, NULL);
	kt_expect_bytes(got, pt, sizeof(pt));
	kt_pair_close(&p);
}

/* --- our own TX as the peer ------------------------------------------- */

struct tx_job {
	int fd;
	const uint8_t *buf;
	size_t n;
};

static void *tx_job_fn(void *arg)
{
	struct tx_job *j = arg;

	kt_write_all(j->fd, j->buf, j->n);
	return NULL;
}

/* TLS_TX on one end, TLS_RX on the other, over IPv4 and IPv6. */
static void own_tx_roundtrip(void)
{
	static const uint16_t vers[] = { TLS12, TLS13 };
	static uint8_t pt[100000], got[100000];
	uint8_t type;
	size_t c;
	int v;

	kt_fill_pattern(pt, sizeof(pt), 16);
	for (c = 0; c < kt_n_ciphers; c++)
		for (v = 0; v < 2; v++) {
			struct tx_job j;
			pthread_t th;
			int a, b;

			kt_tcp_pair(v ? AF_INET6 : AF_INET, &a, &b);
			kt_install(a, TLS_TX, vers[v], kt_ciphers[c].type, SEED);
			kt_install(b, TLS_RX, vers[v], kt_ciphers[c].type, SEED);
			j = (struct tx_job){ a, pt, sizeof(pt) };
			KT_ASSERT_EQ(pthread_create(&th, NULL, tx_job_fn, &j),
				     0);
			kt_read_all(b, got, sizeof(got));
			pthread_join(th, NULL);
			kt_expect_bytes(got, pt, sizeof(pt));
			KT_ASSERT_EQ(kt_send_type(a, T_HS, "hs", 2, 0), 2);
			KT_ASSERT_EQ(kt_recv_type(b, got, 100, 0, &type), 2);
			KT_ASSERT_EQ(type, T_HS);
			kt_expect_bytes(got, "hs", 2);
			close(a);
			close(b);
		}
}

/* --- cases: in-tree tls.ko first, then ktls -------------------------- */

static const struct kt_case cases[] = {
	KT_CASE(all_ciphers_stream), KT_CASE(split_segments),
	KT_CASE(many_in_one_read), KT_CASE(partial_reads),
	KT_CASE(peek_across_records), KT_CASE(peek_waitall),
	KT_CASE(iovec_many_pieces),
	KT_CASE(waitall), KT_CASE(rcvlowat), KT_CASE(nonblock_eagain),
	KT_CASE(rcvtimeo),
	KT_CASE(control_records), KT_CASE(control_partial),
	KT_CASE(tls13_padding),
	KT_CASE(err_oversized), KT_CASE(err_garbage_header),
	KT_CASE(err_bad_version), KT_CASE(err_too_short),
	KT_CASE(err_tampered), KT_CASE(err_replay),
	KT_CASE(fin_mid_record), KT_CASE(peer_reset),
	KT_CASE(queued_before_rx), KT_CASE(efault),
	KT_CASE(splice_to_pipe), KT_CASE(two_readers),
	KT_CASE(read_while_writing),
	KT_CASE(close_during_read), KT_CASE(shutdown_during_read),
	KT_CASE(close_with_queued), KT_CASE(poll_whole_record),
	KT_CASE(reset_after_data),
	KT_CASE(rec_seq_advances), KT_CASE(own_tx_roundtrip),
	KT_CASE(small_rcvbuf),
};

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	kt_need_ktls();
	return kt_run_phased("rx", cases, sizeof(cases) / sizeof(cases[0]),
			     NULL);
}
