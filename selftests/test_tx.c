// SPDX-License-Identifier: GPL-2.0
/*
 * TX path: the kernel seals, a plain TCP peer reads raw bytes and the
 * independent codec in lib_tlsrec.c authenticates and decrypts them.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/sendfile.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>

#include "harness.h"
#include "lib_pair.h"
#include "lib_tlsrec.h"
#include "util.h"

#define V12	TLS_1_2_VERSION
#define V13	TLS_1_3_VERSION

static void pair_open(struct kt_tx_pair *p, int family, uint16_t version,
		      uint16_t cipher, const union kt_crypto_info *ci)
{
	kt_need_ktls();
	kt_tcp_pair(family, &p->tx, &p->peer);
	kt_tx_pair_keys(p, version, cipher, ci);
}

/* Nothing more may arrive at the peer (within a short wait). */
static void expect_quiet(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	KT_ASSERT_EQ(poll(&pfd, 1, 200), 0);
}

/* Every cipher x version, sizes around the record limit. */
static void test_ciphers_sizes(void)
{
	static const size_t sizes[] = { 1, 13, 4096, 16383, 16384, 16385,
					32768, 40000 };
	int v;
	size_t c, i;

	for (v = 0; v < 2; v++) {
		for (c = 0; c < kt_n_ciphers; c++) {
			struct kt_tx_pair p;

			pair_open(&p, AF_INET, v ? V13 : V12,
				  kt_ciphers[c].type, NULL);
			for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
				size_t n = sizes[i];
				uint8_t *b = kt_pattern(n, (unsigned int)(i + c));

				KT_ASSERT_EQ(send(p.tx, b, n, 0), n);
				KT_ASSERT_EQ(kt_tx_pair_expect(&p, 23, b, n),
					     (n + TR_MAX_PT - 1) / TR_MAX_PT);
				free(b);
			}
			expect_quiet(p.peer);
			kt_tx_pair_close(&p);
		}
	}
}

/* Every size 0..64 KiB in steps, one cipher per version. */
static void test_size_sweep(void)
{
	uint8_t *b = kt_pattern(65536, 3);
	int v;

	for (v = 0; v < 2; v++) {
		struct kt_tx_pair p;
		size_t n;

		pair_open(&p, AF_INET, v ? V13 : V12, TLS_CIPHER_AES_GCM_128,
			  NULL);
		/* A zero-length send makes no record. */
		KT_ASSERT_EQ(send(p.tx, b, 0, 0), 0);
		for (n = 0; n <= 65536; n += n < 64 ? 1 : 4093) {
			KT_ASSERT_EQ(send(p.tx, b, n, 0), n);
			if (n)
				kt_tx_pair_expect(&p, 23, b, n);
		}
		KT_ASSERT_EQ(send(p.tx, b, 65536, 0), 65536);
		KT_ASSERT_EQ(kt_tx_pair_expect(&p, 23, b, 65536), 4);
		expect_quiet(p.peer);
		kt_tx_pair_close(&p);
	}
	free(b);
}

/* Kernel records are byte-identical to EVP-sealed ones. */
static void test_known_answer(void)
{
	static uint8_t raw[TR_MAX_REC], want[TR_MAX_REC];
	int v;
	size_t c, i;

	for (v = 0; v < 2; v++) {
		for (c = 0; c < kt_n_ciphers; c++) {
			union kt_crypto_info ci;
			const struct kt_cipher *kc = &kt_ciphers[c];
			unsigned char *iv, *seq;
			struct tr_keys k;
			struct kt_tx_pair p;

			kt_fill_info(&ci, v ? V13 : V12, kc->type, 11);
			iv = ci.raw + sizeof(ci.info);
			seq = iv + kc->iv + kc->key + kc->salt;
			/* Explicit nonce != rec_seq; carries on increment. */
			memset(iv + kc->iv - 2, 0xff, 2);
			memcpy(seq, "\x00\x00\x00\x00\x01\x02\x03\xfe", 8);
			pair_open(&p, AF_INET, ci.info.version, kc->type, &ci);
			tr_keys_from_info(&k, &ci);
			for (i = 0; i < 4; i++) {
				uint8_t msg[64];
				size_t n = 1 + i * 17, got, wn;

				kt_fill_pattern(msg, n, (unsigned int)i);
				if (i == 2) {
					KT_ASSERT_EQ(kt_send_type(p.tx, 22,
								  msg, n, 0),
						     n);
					wn = tr_seal(&k, 22, msg, n, want);
				} else {
					KT_ASSERT_EQ(send(p.tx, msg, n, 0), n);
					wn = tr_seal(&k, 23, msg, n, want);
				}
				KT_ASSERT(wn);
				got = kt_read_raw(p.peer, raw);
				KT_ASSERT_EQ(got, wn);
				if (memcmp(raw, want, wn))
					KT_FAIL("%s v%x record %zu differs",
						kc->name, ci.info.version, i);
			}
			kt_tx_pair_close(&p);
		}
	}
}

/* TLS_SET_RECORD_TYPE: any type; large payloads split; flushes first. */
static void test_record_types(void)
{
	static const uint8_t types[] = { 21, 22, 100, 23 };
	int v;
	size_t i;

	for (v = 0; v < 2; v++) {
		uint8_t *b = kt_pattern(40000, 5);
		struct kt_tx_pair p;

		pair_open(&p, AF_INET, v ? V13 : V12,
			  TLS_CIPHER_CHACHA20_POLY1305, NULL);
		for (i = 0; i < sizeof(types); i++) {
			KT_ASSERT_EQ(kt_send_type(p.tx, types[i], b, 2, 0), 2);
			KT_ASSERT_EQ(kt_tx_pair_expect(&p, types[i], b, 2), 1);
		}
		KT_ASSERT_EQ(kt_send_type(p.tx, 22, b, 40000, 0), 40000);
		KT_ASSERT_EQ(kt_tx_pair_expect(&p, 22, b, 40000), 3);

		/* An open data record goes out before the typed one. */
		KT_ASSERT_EQ(send(p.tx, b, 10, MSG_MORE), 10);
		KT_ASSERT_EQ(kt_send_type(p.tx, 21, b + 10, 2, 0), 2);
		KT_ASSERT_EQ(kt_tx_pair_expect(&p, 23, b, 10), 1);
		KT_ASSERT_EQ(kt_tx_pair_expect(&p, 21, b + 10, 2), 1);
		/* ... and data after it is data again. */
		KT_ASSERT_EQ(send(p.tx, b, 5, 0), 5);
		KT_ASSERT_EQ(kt_tx_pair_expect(&p, 23, b, 5), 1);
		expect_quiet(p.peer);
		kt_tx_pair_close(&p);
		free(b);
	}
}

/* Several MSG_MORE sends make one record; MSG_EOR closes it. */
static void test_msg_more_eor(void)
{
	uint8_t *b = kt_pattern(20000, 9);
	struct kt_tx_pair p;
	int i;

	pair_open(&p, AF_INET, V12, TLS_CIPHER_AES_GCM_256, NULL);
	for (i = 0; i < 10; i++)
		KT_ASSERT_EQ(send(p.tx, b + i * 100, 100, MSG_MORE), 100);
	expect_quiet(p.peer);
	KT_ASSERT_EQ(send(p.tx, b + 1000, 1, 0), 1);
	KT_ASSERT_EQ(kt_tx_pair_expect(&p, 23, b, 1001), 1);

	KT_ASSERT_EQ(send(p.tx, b, 7, MSG_MORE), 7);
	KT_ASSERT_EQ(send(p.tx, b + 7, 9, MSG_EOR), 9);
	KT_ASSERT_EQ(kt_tx_pair_expect(&p, 23, b, 16), 1);

	/* A zero-length send without MSG_MORE closes an open record. */
	KT_ASSERT_EQ(send(p.tx, b, 30, MSG_MORE), 30);
	KT_ASSERT_EQ(send(p.tx, b, 0, 0), 0);
	KT_ASSERT_EQ(kt_tx_pair_expect(&p, 23, b, 30), 1);

	/* MSG_MORE past 16 KiB: full records go, the rest stays open. */
	KT_ASSERT_EQ(send(p.tx, b, 20000, MSG_MORE), 20000);
	KT_ASSERT_EQ(kt_tx_pair_expect(&p, 23, b, 16384), 1);
	expect_quiet(p.peer);
	KT_ASSERT_EQ(send(p.tx, b, 0, MSG_EOR), 0);
	KT_ASSERT_EQ(kt_tx_pair_expect(&p, 23, b + 16384, 20000 - 16384), 1);
	expect_quiet(p.peer);
	kt_tx_pair_close(&p);
	free(b);
}

static void test_einval(void)
{
	char ctl[CMSG_SPACE(4)] = { 0 };
	struct iovec iov = { .iov_base = "abc", .iov_len = 3 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = ctl, .msg_controllen = sizeof(ctl),
	};
	struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
	struct kt_tx_pair p;

	pair_open(&p, AF_INET, V13, TLS_CIPHER_AES_GCM_128, NULL);
	KT_ASSERT_ERRNO(send(p.tx, "abc", 3, MSG_EOR | MSG_MORE), EINVAL);
	KT_ASSERT_ERRNO(kt_send_type(p.tx, 22, "abc", 3, MSG_MORE), EINVAL);
	KT_ASSERT_ERRNO(send(p.tx, "abc", 3, MSG_OOB), EOPNOTSUPP);

	/* Only cmsgs of another level: EINVAL as in-tree. */
	cmsg->cmsg_level = SOL_IP;
	cmsg->cmsg_type = 1;
	cmsg->cmsg_len = CMSG_LEN(4);
	KT_ASSERT_ERRNO(sendmsg(p.tx, &msg, 0), EINVAL);
	/* SOL_TLS but not TLS_SET_RECORD_TYPE. */
	cmsg->cmsg_level = SOL_TLS;
	cmsg->cmsg_type = TLS_GET_RECORD_TYPE;
	cmsg->cmsg_len = CMSG_LEN(1);
	KT_ASSERT_ERRNO(sendmsg(p.tx, &msg, 0), EINVAL);
	/* Too short for the type byte. */
	cmsg->cmsg_type = TLS_SET_RECORD_TYPE;
	cmsg->cmsg_len = CMSG_LEN(0);
	KT_ASSERT_ERRNO(sendmsg(p.tx, &msg, 0), EINVAL);

	/* None of that sent anything: the stream starts at seq 0. */
	expect_quiet(p.peer);
	KT_ASSERT_EQ(send(p.tx, "xyz", 3, 0), 3);
	KT_ASSERT_EQ(kt_tx_pair_expect(&p, 23, (const uint8_t *)"xyz", 3), 1);
	KT_ASSERT_EQ(p.k.seq, 1);
	kt_tx_pair_close(&p);
}

/* Drain records in a child so a blocking sender can proceed. */
static pid_t reader_child(struct kt_tx_pair *p, const uint8_t *want, size_t len,
			  int slow_us)
{
	pid_t pid = fork();

	KT_ASSERT(pid >= 0);
	if (pid == 0) {
		static uint8_t pt[TR_MAX_PT + 256];
		size_t got = 0;

		close(p->tx);
		while (got < len) {
			uint8_t type;
			size_t n = kt_tx_pair_read(p, &type, pt);

			KT_ASSERT_EQ(type, 23);
			KT_ASSERT(got + n <= len);
			if (memcmp(pt, want + got, n))
				KT_FAIL("data differs at %zu", got);
			got += n;
			if (slow_us)
				usleep(slow_us);
		}
		/* Then EOF: nothing was sent twice. */
		KT_ASSERT_EQ(read(p->peer, pt, 1), 0);
		_exit(KT_EXIT_PASS);
	}
	close(p->peer);
	return pid;
}

static void wait_child_ok(pid_t pid)
{
	int st;

	KT_ASSERT_EQ(waitpid(pid, &st, 0), pid);
	KT_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == KT_EXIT_PASS);
}

static void sendfile_one(uint16_t version, uint16_t cipher, size_t len,
			 off_t start, int slow_us)
{
	uint8_t *b = kt_pattern(len, 21);
	char path[] = "/tmp/ktls-tx-XXXXXX";
	off_t off = start;
	struct kt_tx_pair p;
	pid_t pid;
	int fd;

	fd = mkstemp(path);
	KT_ASSERT(fd >= 0);
	unlink(path);
	kt_write_all(fd, b, len);
	pair_open(&p, AF_INET, version, cipher, NULL);
	pid = reader_child(&p, b + start, len - start, slow_us);
	while ((size_t)off < len) {
		ssize_t n = sendfile(p.tx, fd, &off, len - off);

		KT_ASSERT(n > 0);
	}
	close(p.tx);
	wait_child_ok(pid);
	close(fd);
	free(b);
}

/* Page-cache pages go into records byte-exact, aligned or not. */
static void test_sendfile(void)
{
	sendfile_one(V12, TLS_CIPHER_AES_GCM_128, 4 << 20, 0, 0);
	sendfile_one(V13, TLS_CIPHER_CHACHA20_POLY1305, (1 << 20) + 123, 1000,
		     0);
	sendfile_one(V12, TLS_CIPHER_AES_CCM_128, 100000, 4095, 0);
}

#define POOL_PARAM	"/sys/module/ktls/parameters/tx_pool_pages"

static unsigned int pool_get(void)
{
	unsigned int n;
	FILE *f = fopen(POOL_PARAM, "r");

	KT_ASSERT(f);
	KT_ASSERT_EQ(fscanf(f, "%u", &n), 1);
	fclose(f);
	return n;
}

static void pool_set(unsigned int n)
{
	FILE *f = fopen(POOL_PARAM, "w");

	KT_ASSERT(f);
	KT_ASSERT(fprintf(f, "%u\n", n) > 0);
	KT_ASSERT_OK(fclose(f));
	KT_ASSERT_EQ(pool_get(), n);
}

/* Pool pages held by all sockets of this netns. */
static long pool_pages(void)
{
	return kt_stat("KtlsTxPoolPages");
}

/*
 * Ciphertext pages are reused once TCP let go of them.  With a pool of 1
 * or 2 pages and a slow reader most records come from pages that were in
 * flight a moment ago (or from the fallback): every byte must still open
 * to what was sent, by sendfile() and by send() of odd sizes.
 */
static void test_page_pool(void)
{
	static const unsigned int sizes[] = { 1, 2, 0, 64 };
	unsigned int keep, i, t;
	size_t len = 3 << 20, off, n;
	long held;
	uint8_t *b = kt_pattern(len, 22);
	struct kt_tx_pair p;
	pid_t pid;

	kt_need_ktls();
	kt_new_netns();
	keep = pool_get();
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		pool_set(sizes[i]);
		sendfile_one(V13, TLS_CIPHER_AES_GCM_128, len, 0, 300);
		pair_open(&p, AF_INET, V12, TLS_CIPHER_AES_GCM_256, NULL);
		pid = reader_child(&p, b, len, 300);
		for (off = 0; off < len; off += n) {
			n = 1000 + (off * 7919) % 40000;
			if (n > len - off)
				n = len - off;
			kt_write_all(p.tx, b + off, n);
		}
		/* The pool grew, within its bound. */
		held = pool_pages();
		if (held < !!sizes[i] || held > sizes[i])
			KT_FAIL("pool of %u holds %ld pages", sizes[i], held);
		if (sizes[i] == 64) {
			/* An idle sender gives its pages back (after 1 s). */
			for (t = 0; t < 50 * kt_time_scale() && pool_pages();
			     t++)
				usleep(100 * 1000);
			KT_ASSERT_EQ(pool_pages(), 0);
		}
		close(p.tx);
		wait_child_ok(pid);
		KT_ASSERT_EQ(pool_pages(), 0);
	}
	pool_set(keep);
	free(b);
}

static void test_splice(void)
{
	const size_t len = 1 << 20;
	uint8_t *b = kt_pattern(len, 22);
	size_t done = 0;
	struct kt_tx_pair p;
	pid_t rd, wr;
	int pfd[2];

	pair_open(&p, AF_INET, V13, TLS_CIPHER_AES_GCM_256, NULL);
	KT_ASSERT_OK(pipe(pfd));
	rd = reader_child(&p, b, len, 0);
	wr = fork();
	KT_ASSERT(wr >= 0);
	if (wr == 0) {
		close(pfd[0]);
		/* Odd-sized writes: pipe buffers that split records. */
		for (size_t o = 0; o < len; o += 3001)
			kt_write_all(pfd[1], b + o,
				     len - o < 3001 ? len - o : 3001);
		_exit(KT_EXIT_PASS);
	}
	close(pfd[1]);
	while (done < len) {
		ssize_t n = splice(pfd[0], NULL, p.tx, NULL, len - done,
				   SPLICE_F_MORE);

		KT_ASSERT(n > 0);
		done += n;
	}
	close(p.tx);
	wait_child_ok(wr);
	wait_child_ok(rd);
	free(b);
}

struct sender_arg {
	int fd;
	const uint8_t *buf;
	size_t len;
};

static void *sender_thread(void *arg)
{
	struct sender_arg *a = arg;
	size_t off;

	for (off = 0; off < a->len; off += 1000)
		kt_write_all(a->fd, a->buf + off, 1000);
	return NULL;
}

/*
 * Two threads sending at once: every record authenticates and every
 * byte arrives once.  Each write is one record, so a record holds one
 * thread's bytes.
 */
static void test_concurrent(void)
{
	static uint8_t pt[TR_MAX_PT + 256];
	const size_t len = 1000 * 1000;
	uint8_t *b0 = kt_pattern(len, 30), *b1 = kt_pattern(len, 31);
	struct sender_arg a0, a1;
	size_t got0 = 0, got1 = 0;
	pthread_t t0, t1;
	struct kt_tx_pair p;

	pair_open(&p, AF_INET, V13, TLS_CIPHER_AES_GCM_128, NULL);
	a0 = (struct sender_arg){ p.tx, b0, len };
	a1 = (struct sender_arg){ p.tx, b1, len };
	KT_ASSERT_EQ(pthread_create(&t0, NULL, sender_thread, &a0), 0);
	KT_ASSERT_EQ(pthread_create(&t1, NULL, sender_thread, &a1), 0);
	while (got0 < len || got1 < len) {
		uint8_t type;
		size_t n = kt_tx_pair_read(&p, &type, pt);

		KT_ASSERT_EQ(type, 23);
		KT_ASSERT_EQ(n, 1000);
		if (got0 < len && !memcmp(pt, b0 + got0, n))
			got0 += n;
		else if (got1 < len && !memcmp(pt, b1 + got1, n))
			got1 += n;
		else
			KT_FAIL("record fits neither stream (%zu, %zu)",
				got0, got1);
	}
	pthread_join(t0, NULL);
	pthread_join(t1, NULL);
	expect_quiet(p.peer);
	kt_tx_pair_close(&p);
	free(b0);
	free(b1);
}

/* Non-blocking writer against a slow reader: EAGAIN, then all arrives. */
static void test_nonblock(void)
{
	const size_t len = 2 << 20;
	uint8_t *b = kt_pattern(len, 23);
	size_t off = 0, eagain = 0, partial = 0;
	int small = 16384;
	struct kt_tx_pair p;
	pid_t pid;

	pair_open(&p, AF_INET, V12, TLS_CIPHER_CHACHA20_POLY1305, NULL);
	KT_ASSERT_OK(setsockopt(p.tx, SOL_SOCKET, SO_SNDBUF, &small,
				sizeof(small)));
	KT_ASSERT_OK(setsockopt(p.peer, SOL_SOCKET, SO_RCVBUF, &small,
				sizeof(small)));
	KT_ASSERT_OK(fcntl(p.tx, F_SETFL, O_NONBLOCK));
	pid = reader_child(&p, b, len, 2000);
	while (off < len) {
		size_t want = len - off < 50000 ? len - off : 50000;
		ssize_t n = send(p.tx, b + off, want, 0);

		if (n < 0) {
			struct pollfd pfd = { .fd = p.tx, .events = POLLOUT };

			KT_ASSERT_EQ(errno, EAGAIN);
			eagain++;
			KT_ASSERT(poll(&pfd, 1, 10000) >= 0);
			continue;
		}
		KT_ASSERT(n > 0);
		if ((size_t)n < want)
			partial++;
		off += n;
	}
	KT_ASSERT(eagain > 0);
	kt_diag("EAGAIN %zu times, %zu partial sends", eagain, partial);
	close(p.tx);
	wait_child_ok(pid);
	free(b);
}

/*
 * Like kt_tcp_pair() but the peer's receive buffer is small from the
 * SYN on: its window stays small, so TCP builds small segments and can
 * take a record only in part.
 */
static void small_window_pair(struct kt_tx_pair *p, uint16_t version,
			      uint16_t cipher)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);
	int l, small = 4096;

	kt_need_ktls();
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	l = socket(AF_INET, SOCK_STREAM, 0);
	KT_ASSERT(l >= 0);
	KT_ASSERT_OK(setsockopt(l, SOL_SOCKET, SO_RCVBUF, &small,
				sizeof(small)));
	KT_ASSERT_OK(bind(l, (struct sockaddr *)&a, alen));
	KT_ASSERT_OK(listen(l, 1));
	KT_ASSERT_OK(getsockname(l, (struct sockaddr *)&a, &alen));
	p->tx = socket(AF_INET, SOCK_STREAM, 0);
	KT_ASSERT(p->tx >= 0);
	KT_ASSERT_OK(setsockopt(p->tx, SOL_SOCKET, SO_SNDBUF, &small,
				sizeof(small)));
	KT_ASSERT_OK(connect(p->tx, (struct sockaddr *)&a, alen));
	p->peer = accept(l, NULL, NULL);
	KT_ASSERT(p->peer >= 0);
	close(l);
	p->ci_len = kt_fill_info(&p->ci, version, cipher, 7);
	tr_keys_from_info(&p->k, &p->ci);
	KT_ASSERT_OK(kt_attach(p->tx));
	KT_ASSERT_OK(setsockopt(p->tx, SOL_TLS, TLS_TX, &p->ci, p->ci_len));
}

/*
 * A record TCP took only in part goes out from write_space, with no
 * further send() to push it.
 */
static void test_pending_push(void)
{
	const size_t len = 4 << 20;
	uint8_t *b = kt_pattern(len, 27);
	size_t off = 0, recs = 0;
	struct kt_tx_pair p;

	small_window_pair(&p, V13, TLS_CIPHER_AES_GCM_128);
	for (;;) {
		ssize_t n = send(p.tx, b + off, 16384, MSG_DONTWAIT);

		if (n < 0) {
			KT_ASSERT_EQ(errno, EAGAIN);
			break;
		}
		off += n;
		KT_ASSERT(off + 16384 < len);
	}
	KT_ASSERT(off > 0);
	/* The sender is idle from here on; the peer must get it all. */
	recs = kt_tx_pair_expect(&p, 23, b, off);
	kt_diag("%zu bytes in %zu records", off, recs);
	expect_quiet(p.peer);
	kt_tx_pair_close(&p);
	free(b);
}

/*
 * close() and shutdown() with a stalled peer return at once, yet what
 * send() accepted (a record TCP took in part, an open record) arrives.
 */
static void test_close_stalled(void)
{
	const size_t len = 4 << 20;
	uint8_t *b = kt_pattern(len, 28);
	int how;

	for (how = 0; how < 2; how++) {
		struct timespec t0, t1;
		size_t off = 0;
		struct kt_tx_pair p;
		uint8_t c;

		small_window_pair(&p, how ? V12 : V13, TLS_CIPHER_AES_GCM_256);
		for (;;) {
			ssize_t n = send(p.tx, b + off, 16384, MSG_DONTWAIT);

			if (n < 0) {
				KT_ASSERT_EQ(errno, EAGAIN);
				break;
			}
			off += n;
			KT_ASSERT(off + 16384 < len);
		}
		clock_gettime(CLOCK_MONOTONIC, &t0);
		if (how)
			KT_ASSERT_OK(shutdown(p.tx, SHUT_WR));
		else
			close(p.tx);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		KT_ASSERT(t1.tv_sec - t0.tv_sec < 3);
		kt_tx_pair_expect(&p, 23, b, off);
		KT_ASSERT_EQ(read(p.peer, &c, 1), 0);
		if (how)
			close(p.tx);
		close(p.peer);
	}
	free(b);
}

/*
 * A sender blocked for good on a stalled peer holds the TX lock; the idle
 * pool trim must not park a kernel worker on it (hung-task reports after
 * 120 s, one stuck worker per such socket): it looks again later, and
 * the pool stays, since the socket is not idle.
 */
static void test_trim_blocked_sender(void)
{
	const size_t len = 1 << 20;
	uint8_t *b = kt_pattern(len, 29);
	FILE *f = fopen("/proc/self/stack", "r");
	struct kt_tx_pair p;
	pid_t pid;

	KT_ASSERT(f);	/* CONFIG_STACKTRACE: the check below needs it */
	fclose(f);
	kt_new_netns();
	small_window_pair(&p, V13, TLS_CIPHER_AES_GCM_128);
	pid = fork();
	KT_ASSERT(pid >= 0);
	if (!pid) {
		close(p.peer);
		kt_write_all(p.tx, b, len);
		_exit(KT_EXIT_PASS);
	}
	/* The trim runs 1 s after the last page taken, then every second. */
	sleep(3 * kt_time_scale());
	if (kt_tasks_in("ktls_tx_trim")) {
		usleep(200 * 1000);
		if (kt_tasks_in("ktls_tx_trim"))
			KT_FAIL("a worker is stuck in ktls_tx_trim");
	}
	KT_ASSERT(pool_pages() > 0);
	kt_tx_pair_expect(&p, 23, b, len);
	wait_child_ok(pid);
	kt_tx_pair_close(&p);
	KT_ASSERT_EQ(pool_pages(), 0);
	free(b);
}

/* SO_SNDTIMEO bounds a blocking send when nobody reads. */
static void test_sndtimeo(void)
{
	struct timeval tv = { .tv_sec = 0, .tv_usec = 300000 };
	const size_t len = 8 << 20;
	uint8_t *b = kt_pattern(len, 24);
	struct timespec t0, t1;
	struct kt_tx_pair p;
	ssize_t n;

	pair_open(&p, AF_INET, V12, TLS_CIPHER_AES_GCM_128, NULL);
	KT_ASSERT_OK(setsockopt(p.tx, SOL_SOCKET, SO_SNDTIMEO, &tv,
				sizeof(tv)));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	n = send(p.tx, b, len, 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	KT_ASSERT(n > 0 && (size_t)n < len);
	KT_ASSERT(t1.tv_sec - t0.tv_sec < 30);
	/* The next one times out too (TCP may find a little room). */
	n = send(p.tx, b, len, 0);
	KT_ASSERT(n < 0 ? errno == EAGAIN : (size_t)n < len);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	KT_ASSERT(t0.tv_sec - t1.tv_sec < 30);
	kt_tx_pair_close(&p);
	free(b);
}

/* close() and shutdown() deliver an open MSG_MORE record. */
static void test_close_flush(void)
{
	uint8_t *b = kt_pattern(5000, 25);
	uint8_t c;
	int how;

	for (how = 0; how < 2; how++) {
		struct kt_tx_pair p;

		pair_open(&p, AF_INET, how ? V13 : V12,
			  TLS_CIPHER_AES_CCM_128, NULL);
		KT_ASSERT_EQ(send(p.tx, b, 5000, MSG_MORE), 5000);
		if (how) {
			KT_ASSERT_OK(shutdown(p.tx, SHUT_WR));
			KT_ASSERT_ERRNO(send(p.tx, b, 1, MSG_NOSIGNAL), EPIPE);
		} else {
			close(p.tx);
		}
		KT_ASSERT_EQ(kt_tx_pair_expect(&p, 23, b, 5000), 1);
		KT_ASSERT_EQ(read(p.peer, &c, 1), 0);
		if (how)
			close(p.tx);
		close(p.peer);
	}
	free(b);
}

static volatile sig_atomic_t got_sigpipe;

static void on_sigpipe(int sig)
{
	(void)sig;
	got_sigpipe = 1;
}

static void test_epipe(void)
{
	struct kt_tx_pair p;

	pair_open(&p, AF_INET, V12, TLS_CIPHER_AES_GCM_128, NULL);
	KT_ASSERT_OK(shutdown(p.tx, SHUT_WR));
	KT_ASSERT_ERRNO(send(p.tx, "a", 1, MSG_NOSIGNAL), EPIPE);
	KT_ASSERT_EQ(got_sigpipe, 0);
	signal(SIGPIPE, on_sigpipe);
	KT_ASSERT_ERRNO(send(p.tx, "a", 1, 0), EPIPE);
	KT_ASSERT_EQ(got_sigpipe, 1);
	kt_tx_pair_close(&p);
}

static void get_tx(int fd, union kt_crypto_info *ci, size_t len)
{
	socklen_t l = (socklen_t)len;

	memset(ci, 0, sizeof(*ci));
	KT_ASSERT_OK(getsockopt(fd, SOL_TLS, TLS_TX, ci, &l));
	KT_ASSERT_EQ(l, len);
}

/* getsockopt(TLS_TX) tracks rec_seq and the TLS 1.2 explicit nonce. */
static void test_getsockopt_seq(void)
{
	size_t c;

	for (c = 0; c < kt_n_ciphers; c++) {
		const struct kt_cipher *kc = &kt_ciphers[c];
		union kt_crypto_info ci;
		unsigned char *iv, *seq, want_iv[12];
		struct kt_tx_pair p;
		int i;

		pair_open(&p, AF_INET, V12, kc->type, NULL);
		for (i = 0; i < 3; i++)
			KT_ASSERT_EQ(send(p.tx, "abcd", 4, 0), 4);
		get_tx(p.tx, &ci, kc->info_size);
		iv = ci.raw + sizeof(ci.info);
		seq = iv + kc->iv + kc->key + kc->salt;
		KT_ASSERT(!memcmp(seq, "\0\0\0\0\0\0\0\3", 8));
		/* The explicit nonce advanced too; ChaCha20's iv is fixed. */
		memcpy(want_iv, p.ci.raw + sizeof(ci.info), kc->iv);
		if (kc->iv == 8)
			want_iv[7] += 3;
		KT_ASSERT(!memcmp(iv, want_iv, kc->iv));
		/* The key comes back as set. */
		KT_ASSERT(!memcmp(iv + kc->iv,
				  p.ci.raw + sizeof(ci.info) + kc->iv,
				  kc->key));
		KT_ASSERT_EQ(kt_tx_pair_expect(&p, 23, (const uint8_t *)
					 "abcdabcdabcd", 12), 3);
		kt_tx_pair_close(&p);
	}
}

/*
 * The number before the last is usable; the last is not (upstream 6.13+;
 * test_tx_stall.c's test_seq_last_refused has the details).
 */
static void test_seq_wrap(void)
{
	int v;

	for (v = 0; v < 2; v++) {
		const struct kt_cipher *kc = kt_cipher(TLS_CIPHER_AES_GCM_128);
		union kt_crypto_info ci;
		struct kt_tx_pair p;
		int err;
		socklen_t l = sizeof(err);

		kt_fill_info(&ci, v ? V13 : V12, kc->type, 13);
		memset(ci.raw + sizeof(ci.info) + kc->iv + kc->key + kc->salt,
		       0xff, 7);
		ci.raw[sizeof(ci.info) + kc->iv + kc->key + kc->salt + 7] =
			0xfe;
		pair_open(&p, AF_INET, ci.info.version, kc->type, &ci);
		KT_ASSERT_EQ(p.k.seq, UINT64_MAX - 1);
		KT_ASSERT_EQ(send(p.tx, "last", 4, 0), 4);
		KT_ASSERT_EQ(kt_tx_pair_expect(&p, 23, (const uint8_t *)"last", 4),
			     1);
		KT_ASSERT_ERRNO(send(p.tx, "more", 4, 0), EBADMSG);
		KT_ASSERT_OK(getsockopt(p.tx, SOL_SOCKET, SO_ERROR, &err, &l));
		KT_ASSERT_EQ(err, EBADMSG);
		expect_quiet(p.peer);
		kt_tx_pair_close(&p);
	}
}

static void test_ipv6(void)
{
	uint8_t *b = kt_pattern(30000, 26);
	struct kt_tx_pair p;

	pair_open(&p, AF_INET6, V13, TLS_CIPHER_CHACHA20_POLY1305, NULL);
	KT_ASSERT_EQ(send(p.tx, b, 30000, 0), 30000);
	KT_ASSERT_EQ(kt_tx_pair_expect(&p, 23, b, 30000), 2);
	KT_ASSERT_EQ(send(p.tx, b, 10, MSG_MORE), 10);
	close(p.tx);
	KT_ASSERT_EQ(kt_tx_pair_expect(&p, 23, b, 10), 1);
	close(p.peer);
	free(b);
}

/* After sockets with pending TX state close, the module unloads. */
static void test_rmmod(void)
{
	uint8_t *b = kt_pattern(1 << 20, 29);
	size_t off = 0;
	struct kt_tx_pair p;
	uint8_t c;

	small_window_pair(&p, V12, TLS_CIPHER_AES_GCM_128);
	for (;;) {
		ssize_t n = send(p.tx, b + off, 16384, MSG_DONTWAIT);

		if (n < 0)
			break;
		off += n;
	}
	KT_ASSERT(off > 0);
	close(p.tx);
	kt_tx_pair_expect(&p, 23, b, off);
	KT_ASSERT_EQ(read(p.peer, &c, 1), 0);
	close(p.peer);
	KT_ASSERT_EQ(kt_module_unload("ktls"), 0);
	KT_ASSERT(!kt_module_loaded("ktls"));
	kt_need_ktls();
	free(b);
}

/*
 * Records sealed straight from the sender's pages: an iovec of odd
 * pieces, the buffer rewritten as soon as send() returns (what was sent
 * must not change), and a fault in the middle of the buffer (the bytes
 * before it go out, and nothing else).
 */
static void test_user_pages(void)
{
	static const size_t pieces[] = { 1, 4095, 16384, 7, 20000, 3000 };
	long pg = sysconf(_SC_PAGESIZE);
	struct iovec iov[6];
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 6 };
	uint8_t *b = kt_pattern(60000, 11), *want = kt_pattern(60000, 11);
	uint8_t *map;
	size_t off = 0, i;
	struct kt_tx_pair p;
	ssize_t n;

	pair_open(&p, AF_INET, V13, TLS_CIPHER_AES_GCM_256, NULL);
	for (i = 0; i < 6; i++) {
		iov[i].iov_base = b + off + i;	/* gaps: odd alignment */
		iov[i].iov_len = pieces[i];
		memcpy(want + off, b + off + i, pieces[i]);
		off += pieces[i];
	}
	KT_ASSERT_EQ(sendmsg(p.tx, &msg, 0), off);
	memset(b, 0xee, 60000);
	kt_tx_pair_expect(&p, 23, want, off);

	/* Two readable pages, then one that faults. */
	map = mmap(NULL, 3 * pg, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	KT_ASSERT(map != MAP_FAILED);
	kt_fill_pattern(map, 2 * pg, 12);
	memcpy(want, map, 2 * pg);
	KT_ASSERT_OK(mprotect(map + 2 * pg, pg, PROT_NONE));
	n = send(p.tx, map + 100, 3 * pg - 100, 0);
	KT_ASSERT_EQ(n, 2 * pg - 100);
	kt_tx_pair_expect(&p, 23, want + 100, n);
	expect_quiet(p.peer);
	/* The stream goes on after the fault. */
	KT_ASSERT_EQ(send(p.tx, want, 5000, 0), 5000);
	kt_tx_pair_expect(&p, 23, want, 5000);
	munmap(map, 3 * pg);
	kt_tx_pair_close(&p);
	free(b);
	free(want);
}

KT_MAIN("tx",
	KT_CASE(test_user_pages),
	KT_CASE(test_ciphers_sizes),
	KT_CASE(test_size_sweep),
	KT_CASE(test_known_answer),
	KT_CASE(test_record_types),
	KT_CASE(test_msg_more_eor),
	KT_CASE(test_einval),
	KT_CASE_T(test_sendfile, 240),
	KT_CASE_T(test_page_pool, 300),
	KT_CASE_T(test_splice, 240),
	KT_CASE_T(test_nonblock, 240),
	KT_CASE_T(test_concurrent, 240),
	KT_CASE_T(test_pending_push, 30),
	KT_CASE_T(test_close_stalled, 60),
	KT_CASE_T(test_trim_blocked_sender, 60),
	KT_CASE(test_sndtimeo),
	KT_CASE(test_close_flush),
	KT_CASE(test_epipe),
	KT_CASE(test_getsockopt_seq),
	KT_CASE(test_seq_wrap),
	KT_CASE(test_ipv6),
	KT_CASE_T(test_rmmod, 60))
