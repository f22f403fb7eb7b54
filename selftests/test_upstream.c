// SPDX-License-Identifier: GPL-2.0
/*
 * Bug classes upstream net/tls fixed after 6.12, one case each (the rest
 * live in test_rx_wait.c, test_tx_stall.c, test_read_sock.c): each runs
 * against Debian's in-tree tls.ko, then against ktls, with the same
 * assertions.
 *
 *  disconnect_while_busy   connect(AF_UNSPEC) while a reader and a writer
 *                          are blocked: refused, both carry on
 *  bad_header_copy_mode    a bogus header behind a record that TCP could
 *                          not hold whole (copy mode)
 *  splice_tiny_buffers     splice of many small pipe buffers: more page
 *                          fragments than one record can reference
 *  coalesce_under_reader   records trickled a byte at a time, TCP merging
 *                          and collapsing its queue under a sleeping reader
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <unistd.h>

#include "harness.h"
#include "lib_tlsrec.h"
#include "util.h"

#define TLS12	TLS_1_2_VERSION
#define TLS13	TLS_1_3_VERSION
#define T_DATA	23
#define SEED	41

static void set_timeo(int fd, int opt, int ms)
{
	struct timeval tv = { .tv_sec = ms / 1000,
			      .tv_usec = (ms % 1000) * 1000 };

	KT_ASSERT_OK(setsockopt(fd, SOL_SOCKET, opt, &tv, sizeof(tv)));
}

static void keys_of(struct tr_keys *k, uint16_t version, uint16_t cipher,
		    unsigned int seed)
{
	union kt_crypto_info ci;

	kt_fill_info(&ci, version, cipher, seed);
	tr_keys_from_info(k, &ci);
}

/* --- disconnect() while a reader and a writer sleep ------------------- */

struct blocked {
	int fd;
	size_t len;
	ssize_t r;
	int err;
	uint8_t *buf;
};

static void *recv_fn(void *arg)
{
	struct blocked *b = arg;

	b->r = recv(b->fd, b->buf, b->len, 0);
	b->err = errno;
	return NULL;
}

static void *send_fn(void *arg)
{
	struct blocked *b = arg;

	b->r = send(b->fd, b->buf, b->len, 0);
	b->err = errno;
	return NULL;
}

/* n bytes, or false at a timeout/EOF before the first byte. */
static int read_full(int fd, uint8_t *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = recv(fd, buf + got, n - got, 0);

		if (r <= 0 && !got)
			return 0;
		if (r <= 0)
			KT_FAIL("stream cut after %zu of %zu bytes", got, n);
		got += r;
	}
	return 1;
}

static void disconnect_while_busy(void)
{
	struct sockaddr sa = { .sa_family = AF_UNSPEC };
	static uint8_t big[4 << 20], rec[TR_MAX_REC], got[16];
	struct blocked r = { .buf = got, .len = sizeof(got) };
	struct blocked w = { .buf = big, .len = sizeof(big) };
	pthread_t rt, wt;
	struct tr_keys k;
	size_t n, have = 0;
	int a, b;

	kt_tcp_pair(AF_INET, &a, &b);
	kt_install(a, TLS_RX, TLS13, TLS_CIPHER_AES_GCM_128, SEED);
	kt_install(a, TLS_TX, TLS13, TLS_CIPHER_AES_GCM_128, SEED + 1);
	set_timeo(a, SO_RCVTIMEO, 10000);
	set_timeo(a, SO_SNDTIMEO, 10000);
	r.fd = a;
	w.fd = a;
	kt_fill_pattern(big, sizeof(big), 3);
	KT_ASSERT_EQ(pthread_create(&rt, NULL, recv_fn, &r), 0);
	KT_ASSERT_EQ(pthread_create(&wt, NULL, send_fn, &w), 0);
	usleep(300000);

	KT_ASSERT_ERRNO(connect(a, &sa, sizeof(sa)), EOPNOTSUPP);

	/*
	 * The refused disconnect still counts (sk_disconnects): a waiter
	 * woken after it gives up with EPIPE, as for TCP; the record is
	 * read by the next call then.
	 */
	keys_of(&k, TLS13, TLS_CIPHER_AES_GCM_128, SEED);
	n = tr_seal(&k, T_DATA, "still here", 10, rec);
	kt_write_all(b, rec, n);
	pthread_join(rt, NULL);
	if (r.r < 0) {
		KT_ASSERT_EQ(r.err, EPIPE);
		r.r = recv(a, got, sizeof(got), 0);
	}
	KT_ASSERT_EQ(r.r, 10);
	KT_ASSERT(!memcmp(got, "still here", 10));

	/* What the writer reports as sent arrives, every record opens. */
	keys_of(&k, TLS13, TLS_CIPHER_AES_GCM_128, SEED + 1);
	set_timeo(b, SO_RCVTIMEO, 2000);
	for (;;) {
		static uint8_t raw[TR_MAX_REC], pt[TR_MAX_PT + 256];
		size_t ptlen;
		uint8_t type;
		ssize_t used;

		if (!read_full(b, raw, TR_HDR))
			break;
		n = (raw[3] << 8) | raw[4];
		KT_ASSERT(n <= TR_MAX_REC - TR_HDR);
		KT_ASSERT(read_full(b, raw + TR_HDR, n));
		used = tr_open(&k, raw, TR_HDR + n, &type, pt, &ptlen);
		if (used <= 0)
			KT_FAIL("record after %zu bytes: %s", have, tr_error());
		KT_ASSERT_EQ(type, T_DATA);
		KT_ASSERT(have + ptlen <= sizeof(big));
		KT_ASSERT(!memcmp(pt, big + have, ptlen));
		have += ptlen;
	}
	pthread_join(wt, NULL);
	if (w.r < 0)
		KT_FAIL("send: %s", strerror(w.err));
	KT_ASSERT_EQ(have, w.r);
	close(a);
	close(b);
}

/* --- a bogus header in copy mode --------------------------------------- */

/* rx end with a 2 KiB receive buffer: no 16 KiB record fits in TCP. */
static void small_rcvbuf_pair(int *rx, int *tx)
{
	int one = 1;

	kt_tcp_pair_bufs(AF_INET, tx, rx, 2048, 0);
	KT_ASSERT_OK(setsockopt(*tx, IPPROTO_TCP, TCP_NODELAY, &one,
				sizeof(one)));
}

struct writer {
	int fd;
	const uint8_t *buf;
	size_t len;
};

static void *writer_fn(void *arg)
{
	struct writer *w = arg;
	size_t off = 0;

	/* In 1000-byte pieces: the reader meets the record partial. */
	while (off < w->len) {
		size_t k = w->len - off < 1000 ? w->len - off : 1000;

		kt_write_all(w->fd, w->buf + off, k);
		off += k;
		usleep(1000);
	}
	return NULL;
}

static void bad_header_after(uint8_t maj, uint8_t min, unsigned int len,
			     int err)
{
	static uint8_t pt[16384], stream[TR_MAX_REC + 64], got[16384];
	struct writer w;
	struct tr_keys k;
	size_t n, have = 0;
	pthread_t th;
	int rx, tx;

	small_rcvbuf_pair(&rx, &tx);
	kt_install(rx, TLS_RX, TLS12, TLS_CIPHER_AES_GCM_128, SEED);
	set_timeo(rx, SO_RCVTIMEO, 10000);
	keys_of(&k, TLS12, TLS_CIPHER_AES_GCM_128, SEED);
	kt_fill_pattern(pt, sizeof(pt), 5);
	n = tr_seal(&k, T_DATA, pt, sizeof(pt), stream);
	memset(stream + n, 0x5a, 64);
	stream[n] = T_DATA;
	stream[n + 1] = maj;
	stream[n + 2] = min;
	stream[n + 3] = len >> 8;
	stream[n + 4] = len & 0xff;
	w = (struct writer){ tx, stream, n + 64 };
	KT_ASSERT_EQ(pthread_create(&th, NULL, writer_fn, &w), 0);
	while (have < sizeof(pt)) {
		ssize_t r = recv(rx, got + have, sizeof(got) - have, 0);

		if (r <= 0)
			KT_FAIL("recv after %zu bytes: %zd %s", have, r,
				strerror(errno));
		have += r;
	}
	KT_ASSERT(!memcmp(got, pt, sizeof(pt)));
	pthread_join(th, NULL);
	KT_ASSERT_ERRNO(recv(rx, got, sizeof(got), 0), err);
	KT_ASSERT_ERRNO(recv(rx, got, sizeof(got), MSG_DONTWAIT), EAGAIN);
	close(rx);
	close(tx);
}

static void bad_header_copy_mode(void)
{
	bad_header_after(3, 3, 0xffff, EMSGSIZE);
	bad_header_after(3, 1, 100, EINVAL);
	bad_header_after(3, 3, 3, EBADMSG);
}

/* --- TCP coalescing the receive queue under a reader ------------------ */

/*
 * A record written a byte at a time: TCP merges the segments into the
 * skbs already queued (tcp_try_coalesce) and, past the receive buffer,
 * collapses the queue (tcp_collapse), while a reader sleeps on the
 * framed, partial record.  The plaintext must come out byte-exact.
 */
struct trickle {
	int fd;
	const uint8_t *buf;
	size_t len;
};

static void *trickle_fn(void *arg)
{
	struct trickle *t = arg;
	size_t i;

	for (i = 0; i < t->len; i++)
		kt_write_all(t->fd, t->buf + i, 1);
	return NULL;
}

static void coalesce_one(int small)
{
	static uint8_t pt[3][6000], stream[3 * TR_MAX_REC], got[6000];
	struct trickle t;
	struct tr_keys k;
	size_t n = 0, i;
	pthread_t th;
	int rx, tx;

	if (small) {
		small_rcvbuf_pair(&rx, &tx);
	} else {
		int one = 1;

		kt_tcp_pair(AF_INET, &tx, &rx);
		KT_ASSERT_OK(setsockopt(tx, IPPROTO_TCP, TCP_NODELAY, &one,
					sizeof(one)));
	}
	kt_install(rx, TLS_RX, TLS13, TLS_CIPHER_AES_GCM_128, SEED);
	/* A byte per write is slow on a debug kernel: scale the wait. */
	set_timeo(rx, SO_RCVTIMEO, 20000 * kt_time_scale());
	keys_of(&k, TLS13, TLS_CIPHER_AES_GCM_128, SEED);
	for (i = 0; i < 3; i++) {
		kt_fill_pattern(pt[i], sizeof(pt[i]), 60 + i);
		n += tr_seal(&k, T_DATA, pt[i], sizeof(pt[i]), stream + n);
	}
	t = (struct trickle){ tx, stream, n };
	KT_ASSERT_EQ(pthread_create(&th, NULL, trickle_fn, &t), 0);
	for (i = 0; i < 3; i++) {
		size_t have = 0;

		/* The last one is read late: its bytes wait, coalesced. */
		if (i == 2)
			usleep(300000);
		while (have < sizeof(got)) {
			ssize_t r = recv(rx, got + have, sizeof(got) - have, 0);

			if (r <= 0)
				KT_FAIL("record %zu: recv after %zu bytes: %zd %s",
					i, have, r, strerror(errno));
			have += r;
		}
		if (memcmp(got, pt[i], sizeof(got)))
			KT_FAIL("record %zu differs", i);
	}
	pthread_join(th, NULL);
	KT_ASSERT_ERRNO(recv(rx, got, sizeof(got), MSG_DONTWAIT), EAGAIN);
	close(rx);
	close(tx);
}

/* Records left in TCP's queue (default buffer) and copied out (2 KiB). */
static void coalesce_under_reader(void)
{
	coalesce_one(0);
	coalesce_one(1);
}

/* --- splice of many small pipe buffers --------------------------------- */

static void splice_tiny(uint16_t version, uint16_t cipher, size_t pieces,
			size_t piece)
{
	uint8_t *src = mmap(NULL, pieces * 4096, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	static uint8_t want[1 << 16], raw[TR_MAX_REC], pt[TR_MAX_PT + 256];
	struct iovec *iov = calloc(pieces, sizeof(*iov));
	size_t i, total = pieces * piece, have = 0;
	struct tr_keys k;
	int pfd[2], a, b;
	ssize_t n;

	KT_ASSERT(src != MAP_FAILED && iov && total <= sizeof(want));
	kt_tcp_pair(AF_INET, &a, &b);
	kt_install(a, TLS_TX, version, cipher, SEED);
	keys_of(&k, version, cipher, SEED);
	KT_ASSERT_OK(pipe(pfd));
	KT_ASSERT(fcntl(pfd[1], F_SETPIPE_SZ, 1 << 20) >= (1 << 20));
	/* One page per piece: each becomes a pipe buffer of its own. */
	for (i = 0; i < pieces; i++) {
		kt_fill_pattern(src + i * 4096 + 100, piece, 100 + i);
		memcpy(want + i * piece, src + i * 4096 + 100, piece);
		iov[i].iov_base = src + i * 4096 + 100;
		iov[i].iov_len = piece;
	}
	n = vmsplice(pfd[1], iov, pieces, 0);
	KT_ASSERT_EQ(n, total);
	n = splice(pfd[0], NULL, a, NULL, total, 0);
	KT_ASSERT_EQ(n, total);

	while (have < total) {
		size_t len, ptlen;
		uint8_t type;
		ssize_t used;

		kt_read_all(b, raw, TR_HDR);
		len = (raw[3] << 8) | raw[4];
		KT_ASSERT(len <= TR_MAX_REC - TR_HDR);
		kt_read_all(b, raw + TR_HDR, len);
		used = tr_open(&k, raw, TR_HDR + len, &type, pt, &ptlen);
		if (used <= 0)
			KT_FAIL("record after %zu bytes: %s", have, tr_error());
		KT_ASSERT_EQ(type, T_DATA);
		KT_ASSERT(have + ptlen <= total);
		if (memcmp(pt, want + have, ptlen))
			KT_FAIL("plaintext differs in the record at %zu", have);
		have += ptlen;
	}
	close(pfd[0]);
	close(pfd[1]);
	close(a);
	close(b);
	munmap(src, pieces * 4096);
	free(iov);
}

static void splice_tiny_buffers(void)
{
	splice_tiny(TLS12, TLS_CIPHER_AES_GCM_128, 200, 7);
	splice_tiny(TLS13, TLS_CIPHER_CHACHA20_POLY1305, 100, 300);
	splice_tiny(TLS13, TLS_CIPHER_AES_GCM_256, 240, 1);
}

static const struct kt_case cases[] = {
	KT_CASE_T(disconnect_while_busy, 60),
	KT_CASE_T(bad_header_copy_mode, 60),
	KT_CASE_T(splice_tiny_buffers, 60),
	/* 36,000 one-byte writes: minutes on a KASAN kernel under TCG. */
	KT_CASE_T(coalesce_under_reader, 180),
};

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	kt_need_ktls();
	return kt_run_phased("upstream", cases,
			     sizeof(cases) / sizeof(cases[0]), NULL);
}
