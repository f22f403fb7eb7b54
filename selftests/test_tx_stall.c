// SPDX-License-Identifier: GPL-2.0
/*
 * TX under a stalled or slow peer, failed allocations and racing
 * shutdown(): no kernel worker may wait on a sender, and every byte send()
 * reported must reach the peer without another send().
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "harness.h"
#include "lib_pair.h"
#include "lib_tlsrec.h"
#include "util.h"

#define V12	TLS_1_2_VERSION
#define V13	TLS_1_3_VERSION

static void pair_open(struct kt_tx_pair *p, uint16_t version, uint16_t cipher)
{
	kt_need_ktls();
	kt_tcp_pair(AF_INET, &p->tx, &p->peer);
	kt_tx_pair_keys(p, version, cipher, NULL);
}

/*
 * The peer's receive buffer (and the sender's send buffer) are small from
 * the SYN on: the window stays small and the sender blocks early.
 */
static void small_window_pair(struct kt_tx_pair *p, uint16_t version,
			      uint16_t cipher)
{
	kt_need_ktls();
	kt_tcp_pair_bufs(AF_INET, &p->tx, &p->peer, 4096, 4096);
	kt_tx_pair_keys(p, version, cipher, NULL);
}

/* Something arrives at fd within ms milliseconds. */
static int readable_within(int fd, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	return poll(&pfd, 1, ms * (int)kt_time_scale()) == 1;
}

static long read_long(const char *path)
{
	FILE *f = fopen(path, "r");
	long v;

	if (!f)
		KT_FAIL("%s: %s", path, strerror(errno));
	KT_ASSERT_EQ(fscanf(f, "%ld", &v), 1);
	fclose(f);
	return v;
}

static void write_long(const char *path, long v)
{
	FILE *f = fopen(path, "w");

	if (!f)
		KT_FAIL("%s: %s", path, strerror(errno));
	KT_ASSERT(fprintf(f, "%ld\n", v) > 0);
	KT_ASSERT_OK(fclose(f));
}

#define HUNG_TIMEOUT	"/proc/sys/kernel/hung_task_timeout_secs"

/*
 * A blocking send() far larger than SO_SNDBUF to a peer that read 8 KiB
 * and stopped: the sender sleeps in TCP for good.  ACKs (window probes)
 * keep calling write_space; no kernel worker may end up waiting for the
 * sender (a hung task, one per such connection).
 */
static void test_stalled_peer_no_hung_worker(void)
{
	const size_t len = 64 << 20;
	uint8_t *b = kt_pattern(len, 41), raw[8192];
	long hung_old;
	int kmsg, hung;
	struct kt_tx_pair p;
	pid_t pid;

	KT_ASSERT(access("/proc/self/stack", R_OK) == 0);
	hung_old = read_long(HUNG_TIMEOUT);
	write_long(HUNG_TIMEOUT, 10);
	kmsg = kt_kmsg_open();
	KT_ASSERT(kmsg >= 0);
	small_window_pair(&p, V13, TLS_CIPHER_AES_GCM_128);
	pid = fork();
	KT_ASSERT(pid >= 0);
	if (!pid) {
		close(p.peer);
		kt_write_all(p.tx, b, len);
		_exit(KT_EXIT_PASS);
	}
	kt_read_all(p.peer, raw, sizeof(raw));
	/* Past one hung-task period and a half, then look. */
	sleep(25 * kt_time_scale());
	if (kt_tasks_in("ktls_tx_work")) {
		usleep(300 * 1000);
		hung = kt_tasks_in("ktls_tx_work");
		if (hung)
			KT_FAIL("%d task(s) stuck in ktls_tx_work", hung);
	}
	hung = kt_kmsg_find(kmsg, "blocked for more than");
	KT_ASSERT_OK(kill(pid, SIGKILL));
	KT_ASSERT_EQ(waitpid(pid, NULL, 0), pid);
	write_long(HUNG_TIMEOUT, hung_old);
	KT_ASSERT_EQ(hung, 0);
	close(p.tx);
	close(p.peer);
	close(kmsg);
	free(b);
}

#define POOL_PARAM	"/sys/module/ktls/parameters/tx_pool_pages"
#define FI_PARAM(n)	"/sys/module/ktls_test_failinj/parameters/" n

static void failinj_load(const char *func)
{
	const char *ko = getenv("KTLS_FAILINJ_KO");
	char params[128];
	int rc;

	if (kt_module_loaded("ktls_test_failinj"))
		KT_ASSERT_EQ(kt_module_unload("ktls_test_failinj"), 0);
	snprintf(params, sizeof(params), "func=%s", func);
	rc = kt_module_load(ko && *ko ? ko : "/ktls/ktls_test_failinj.ko",
			    params);
	if (rc)
		KT_FAIL("cannot load ktls_test_failinj: %s", strerror(-rc));
	write_long(FI_PARAM("tgid"), getpid());
}

static void failinj_arm(int on)
{
	FILE *f = fopen(FI_PARAM("armed"), "w");

	KT_ASSERT(f);
	KT_ASSERT(fputs(on ? "Y\n" : "N\n", f) >= 0);
	KT_ASSERT_OK(fclose(f));
}

/* A file of len pattern bytes, already unlinked. */
static int temp_file(const uint8_t *b, size_t len)
{
	char path[] = "/tmp/ktls-stall-XXXXXX";
	int fd = mkstemp(path);

	KT_ASSERT(fd >= 0);
	unlink(path);
	kt_write_all(fd, b, len);
	return fd;
}

/*
 * sendfile() of a small file takes the page-cache pages by reference
 * (no allocation), so bytes are taken; then the record's ciphertext
 * cannot be allocated (no pool: it comes from sk_page_frag_refill, made
 * to fail for this process) until SO_SNDTIMEO ends the call.  sendfile()
 * reports the bytes: they must reach the peer within a second, with no
 * further send(), once allocations work again.
 */
static void test_sendfile_enomem_delivered(void)
{
	struct timeval tv = { .tv_sec = 0, .tv_usec = 300000 };
	const size_t len = 3000;
	uint8_t *b = kt_pattern(len, 42);
	long pool_old, hits;
	off_t off = 0;
	struct kt_tx_pair p;
	ssize_t n;
	int fd;

	kt_need_ktls();
	pool_old = read_long(POOL_PARAM);
	write_long(POOL_PARAM, 0);
	failinj_load("sk_page_frag_refill");
	fd = temp_file(b, len);
	pair_open(&p, V12, TLS_CIPHER_AES_GCM_128);
	KT_ASSERT_OK(setsockopt(p.tx, SOL_SOCKET, SO_SNDTIMEO, &tv,
				sizeof(tv)));
	kt_diag("tx_pool_pages %ld, %ld calls before", read_long(POOL_PARAM),
		read_long(FI_PARAM("calls")));
	failinj_arm(1);
	n = sendfile(p.tx, fd, &off, len);
	failinj_arm(0);
	hits = read_long(FI_PARAM("hits"));
	write_long(POOL_PARAM, pool_old);
	kt_diag("sendfile: %zd (%s), %ld failed allocations of %ld (last by %ld, we are %d)",
		n, n < 0 ? strerror(errno) : "ok", hits,
		read_long(FI_PARAM("calls")), read_long(FI_PARAM("last_tgid")),
		getpid());
	/* The case needs taken bytes and a failed seal. */
	KT_ASSERT(hits > 0);
	KT_ASSERT(n > 0);
	if (!readable_within(p.peer, 1000))
		KT_FAIL("%zd bytes sendfile() reported did not arrive", n);
	kt_tx_pair_expect(&p, 23, b, n);
	close(fd);
	close(p.tx);
	close(p.peer);
	KT_ASSERT_EQ(kt_module_unload("ktls_test_failinj"), 0);
	free(b);
}

/*
 * The peer's side of test_shutdown_flush_race: records until EOF, their
 * plaintext equal to want from the start; then the total must be what
 * the sender reports through the pipe.
 */
static void race_reader(struct kt_tx_pair *p, const uint8_t *want, int pipe_rd)
{
	static uint8_t raw[TR_MAX_REC], pt[TR_MAX_PT + 256];
	size_t got = 0, total;

	for (;;) {
		size_t ptlen, len;
		uint8_t type;
		ssize_t r = read(p->peer, raw, 1);

		if (r == 0)
			break;
		KT_ASSERT_EQ(r, 1);
		kt_read_all(p->peer, raw + 1, TR_HDR - 1);
		len = (size_t)raw[3] << 8 | raw[4];
		KT_ASSERT(len <= TR_MAX_REC - TR_HDR);
		kt_read_all(p->peer, raw + TR_HDR, len);
		if (tr_open(&p->k, raw, TR_HDR + len, &type, pt, &ptlen) !=
		    (ssize_t)(TR_HDR + len))
			KT_FAIL("record at %zu: %s", got, tr_error());
		KT_ASSERT_EQ(type, 23);
		if (memcmp(pt, want + got, ptlen))
			KT_FAIL("plaintext differs at %zu", got);
		got += ptlen;
		/* Slowly: the sender's next send() waits on TCP. */
		usleep(1000);
	}
	kt_read_all(pipe_rd, &total, sizeof(total));
	if (got != total)
		KT_FAIL("EOF after %zu of %zu bytes", got, total);
}

struct sock_locker {
	int fd;
	volatile int stop;
};

/* Takes and drops the socket lock (TCP_INFO) over and over. */
static void *sock_locker(void *arg)
{
	struct sock_locker *l = arg;

	while (!l->stop) {
		struct tcp_info ti;
		socklen_t len = sizeof(ti);

		getsockopt(l->fd, IPPROTO_TCP, TCP_INFO, &ti, &len);
	}
	return NULL;
}

/*
 * shutdown(SHUT_WR) right after a send(MSG_MORE) that had to push a
 * pending record first: TCP's ACKs meanwhile queued the push work, which
 * takes the TX lock the moment the sender lets go (and holds it a little
 * longer while a thread keeps taking the socket lock).  The open record
 * must still go out before FIN, every time.
 */
static void test_shutdown_flush_race(void)
{
	const size_t max = 1 << 20, tail = 300;
	uint8_t *b = kt_pattern(max, 44);
	int i, rounds = 100;

	for (i = 0; i < rounds; i++) {
		struct sock_locker lk = { .stop = 0 };
		size_t off = 0;
		struct kt_tx_pair p;
		int fds[2], st;
		pthread_t th;
		pid_t pid;

		KT_ASSERT_OK(pipe(fds));
		small_window_pair(&p, i & 1 ? V12 : V13,
				  TLS_CIPHER_AES_GCM_128);
		pid = fork();
		KT_ASSERT(pid >= 0);
		if (!pid) {
			close(p.tx);
			close(fds[1]);
			race_reader(&p, b, fds[0]);
			_exit(KT_EXIT_PASS);
		}
		close(p.peer);
		close(fds[0]);
		/* Until TCP is full: a record stays pending. */
		for (;;) {
			ssize_t n = send(p.tx, b + off, 16384, MSG_DONTWAIT);

			if (n < 0) {
				KT_ASSERT_EQ(errno, EAGAIN);
				break;
			}
			off += n;
			KT_ASSERT(off + 16384 + tail < max);
		}
		lk.fd = p.tx;
		KT_ASSERT_EQ(pthread_create(&th, NULL, sock_locker, &lk), 0);
		KT_ASSERT_EQ(send(p.tx, b + off, tail, MSG_MORE), tail);
		off += tail;
		KT_ASSERT_OK(shutdown(p.tx, SHUT_WR));
		lk.stop = 1;
		KT_ASSERT_EQ(pthread_join(th, NULL), 0);
		kt_write_all(fds[1], &off, sizeof(off));
		KT_ASSERT_EQ(waitpid(pid, &st, 0), pid);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != KT_EXIT_PASS)
			KT_FAIL("round %d: the peer did not get it all", i);
		close(fds[1]);
		close(p.tx);
	}
	free(b);
}

struct sndbuf_watch {
	int fd;
	volatile int stop;
	int max, min, reads;
};

static void *sndbuf_reader(void *arg)
{
	struct sndbuf_watch *w = arg;

	while (!w->stop) {
		socklen_t l = sizeof(int);
		int v;

		if (getsockopt(w->fd, SOL_SOCKET, SO_SNDBUF, &v, &l))
			break;
		if (v > w->max)
			w->max = v;
		if (v < w->min)
			w->min = v;
		w->reads++;
	}
	return NULL;
}

/*
 * The final flush of shutdown() must not show a made-up SO_SNDBUF: a
 * reader thread polls it while records are flushed to a stalled peer.
 */
static void test_flush_sndbuf_hidden(void)
{
	uint8_t *b = kt_pattern(16000, 45);
	int i, rounds = 20, worst = 0;

	for (i = 0; i < rounds; i++) {
		struct sndbuf_watch w = { .max = 0, .min = INT_MAX };
		pthread_t th;
		size_t off = 0;
		struct kt_tx_pair p;

		small_window_pair(&p, V13, TLS_CIPHER_AES_GCM_256);
		/* An open record larger than SO_SNDBUF: sealed by the flush. */
		off = 16000;
		KT_ASSERT_EQ(send(p.tx, b, off, MSG_MORE), off);
		w.fd = p.tx;
		KT_ASSERT_EQ(pthread_create(&th, NULL, sndbuf_reader, &w), 0);
		while (w.reads < 10)
			sched_yield();
		KT_ASSERT_OK(shutdown(p.tx, SHUT_WR));
		usleep(2000);
		w.stop = 1;
		KT_ASSERT_EQ(pthread_join(th, NULL), 0);
		if (w.max > worst)
			worst = w.max;
		if (w.max == INT_MAX)
			KT_FAIL("round %d: SO_SNDBUF read INT_MAX (%d reads)",
				i, w.reads);
		kt_tx_pair_expect(&p, 23, b, off);
		close(p.tx);
		close(p.peer);
	}
	kt_diag("largest SO_SNDBUF seen: %d", worst);
	free(b);
}

/*
 * SO_LINGER {1, 0}: close() aborts the connection, as in-tree does: no
 * record is flushed (TCP drops its queue and resets), the peer reads
 * ECONNRESET.
 */
static void test_linger_abort(void)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	uint8_t *b = kt_pattern(5000, 46), buf[64];
	struct kt_tx_pair p;
	ssize_t r;

	pair_open(&p, V12, TLS_CIPHER_AES_GCM_128);
	KT_ASSERT_EQ(send(p.tx, b, 5000, MSG_MORE), 5000);
	KT_ASSERT_OK(setsockopt(p.tx, SOL_SOCKET, SO_LINGER, &lg,
				sizeof(lg)));
	close(p.tx);
	KT_ASSERT(readable_within(p.peer, 2000));
	r = read(p.peer, buf, sizeof(buf));
	if (r >= 0)
		KT_FAIL("read %zd bytes after an aborting close", r);
	KT_ASSERT_EQ(errno, ECONNRESET);
	close(p.peer);
	free(b);
}

/*
 * SO_LINGER {1, N}: close() of a socket whose open record goes to a
 * reading peer delivers it, then FIN.
 */
static void test_linger_delivers(void)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 5 };
	uint8_t *b = kt_pattern(5000, 47), c;
	struct kt_tx_pair p;

	pair_open(&p, V13, TLS_CIPHER_AES_GCM_128);
	KT_ASSERT_EQ(send(p.tx, b, 5000, MSG_MORE), 5000);
	KT_ASSERT_OK(setsockopt(p.tx, SOL_SOCKET, SO_LINGER, &lg,
				sizeof(lg)));
	close(p.tx);
	KT_ASSERT_EQ(kt_tx_pair_expect(&p, 23, b, 5000), 1);
	KT_ASSERT_EQ(read(p.peer, &c, 1), 0);
	close(p.peer);
	free(b);
}

/*
 * A record never uses the last sequence number (2^64 - 1), as upstream
 * since 6.13: the one before it goes out, the next send() is refused
 * with EBADMSG and the socket carries the error; nothing more arrives.
 */
static void test_seq_last_refused(void)
{
	int last;

	for (last = 0; last < 2; last++) {
		const struct kt_cipher *kc = kt_cipher(TLS_CIPHER_AES_GCM_128);
		unsigned char *seq;
		socklen_t l = sizeof(int);
		struct kt_tx_pair p;
		int err;

		kt_need_ktls();
		kt_tcp_pair(AF_INET, &p.tx, &p.peer);
		p.ci_len = kt_fill_info(&p.ci, last ? V12 : V13, kc->type, 13);
		seq = p.ci.raw + sizeof(p.ci.info) + kc->iv + kc->key +
		      kc->salt;
		memset(seq, 0xff, 8);
		seq[7] = last ? 0xff : 0xfe;
		tr_keys_from_info(&p.k, &p.ci);
		KT_ASSERT_OK(kt_attach(p.tx));
		KT_ASSERT_OK(setsockopt(p.tx, SOL_TLS, TLS_TX, &p.ci,
					p.ci_len));
		if (!last) {
			KT_ASSERT_EQ(send(p.tx, "prev", 4, 0), 4);
			KT_ASSERT_EQ(kt_tx_pair_expect(&p, 23, (const uint8_t *)"prev",
						 4), 1);
		}
		KT_ASSERT_ERRNO(send(p.tx, "last", 4, 0), EBADMSG);
		KT_ASSERT_OK(getsockopt(p.tx, SOL_SOCKET, SO_ERROR, &err, &l));
		KT_ASSERT_EQ(err, EBADMSG);
		KT_ASSERT(!readable_within(p.peer, 200));
		close(p.tx);
		close(p.peer);
	}
}

KT_MAIN("tx_stall",
	KT_CASE_T(test_stalled_peer_no_hung_worker, 90),
	KT_CASE_T(test_sendfile_enomem_delivered, 30),
	KT_CASE_T(test_shutdown_flush_race, 240),
	KT_CASE_T(test_flush_sndbuf_hidden, 120),
	KT_CASE(test_linger_abort),
	KT_CASE(test_linger_delivers),
	KT_CASE(test_seq_last_refused))
