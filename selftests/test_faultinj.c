// SPDX-License-Identifier: GPL-2.0
/*
 * Byte accounting, with or without allocation failures: a ktls sender
 * sends a checkable stream in random shapes (sizes, MSG_MORE, sendfile)
 * to a ktls reader.  Every byte send() or sendfile() reported as sent
 * must reach the reader, in order and intact, and a send without
 * MSG_MORE must not leave bytes waiting for a later call: at sync points
 * the reader must have everything within a bounded time.  A call may
 * fail only with an errno of the allowed set; a connection may end only
 * by reporting an error to the sender (then the reader's bytes must be a
 * correct prefix).  After close the ktls_stat gauges return to 0.
 *
 * In make check this runs a few seconds without faults.  make
 * check-debug's fault phase sets KTLS_FAULTINJ=1: both threads then set
 * make-it-fail, so failslab/fail_page_alloc (task-filter=Y) fail their
 * allocations, ktls's included (KTLS_FAULTINJ_SECS per case, default 4).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "util.h"

#define PERIOD		251	/* the stream: byte at offset o is o % 251 */
#define MAXSEND		(64 << 10)
#define TIMEO_MS	100

/* Whose allocations fail (with KTLS_FAULTINJ=1). */
enum { FAULTS_TX = 1, FAULTS_RX = 2 };

struct reader {
	int fd;
	int faults;
	volatile int stop;
	volatile uint64_t got;
	volatile int err;		/* fatal errno, 0 while none */
	volatile int bad;		/* corrupt byte seen */
	uint64_t bad_at;
	unsigned long retries;		/* allowed transient errors */
	int inj_rc;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void fill(uint8_t *buf, uint64_t off, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		buf[i] = (off + i) % PERIOD;
}

static void set_timeouts(int fd)
{
	struct timeval tv = { 0, TIMEO_MS * 1000 };

	KT_ASSERT_OK(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)));
	KT_ASSERT_OK(setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)));
}

/* What an allocation failure or a timeout may return: try again. */
static int transient(int err)
{
	return err == EAGAIN || err == EINTR || err == ENOMEM ||
	       err == ENOBUFS;
}

/* What ends a connection, reported to the caller: stop there. */
static int fatal_tx(int err)
{
	return err == EPIPE || err == ECONNRESET || err == EBADMSG ||
	       err == EIO;
}

static void *reader_fn(void *arg)
{
	static uint8_t buf[MAXSEND];
	struct reader *r = arg;
	ssize_t n, i;

	r->inj_rc = kt_faultinj_wanted() && r->faults & FAULTS_RX ?
		    kt_faultinj_self(1) : 0;
	while (!r->stop) {
		n = recv(r->fd, buf, sizeof(buf), 0);
		if (n < 0 && transient(errno)) {
			r->retries++;
			continue;
		}
		if (n <= 0) {
			r->err = n ? errno : EPIPE;
			break;
		}
		for (i = 0; i < n; i++)
			if (buf[i] != (r->got + i) % PERIOD) {
				r->bad_at = r->got + i;
				r->bad = 1;
				return NULL;
			}
		r->got += n;
	}
	return NULL;
}

/* Wait until the reader has want bytes; 0 on success. */
static int wait_for(struct reader *r, uint64_t want, double secs)
{
	double end = now() + secs;

	while (r->got < want && !r->err && !r->bad && now() < end)
		usleep(2000);
	return r->got == want ? 0 : -1;
}

static void run(uint16_t version, uint16_t cipher, int faults)
{
	const char *e = getenv("KTLS_FAULTINJ_SECS");
	double secs = e ? atof(e) : 4, sync_secs = 2.0 * kt_time_scale();
	static uint8_t buf[MAXSEND];
	unsigned long ops = 0, syncs = 0, retries = 0, more = 0, files = 0;
	uint64_t sent = 0;
	int a, b, memfd, last_more = 1, tx_err = 0, i;
	int inj = kt_faultinj_wanted() && faults & FAULTS_TX;
	struct reader r = { 0 };
	unsigned int seed = time(NULL);
	pthread_t th;
	double end;

	kt_need_ktls();
	kt_new_netns();
	kt_diag("seed %u, %.0f s, faults %s", seed, secs,
		!kt_faultinj_wanted() ? "off" : faults == FAULTS_TX ? "in the sender" :
		faults == FAULTS_RX ? "in the reader" : "in sender and reader");
	srand(seed);
	memfd = memfd_create("stream", 0);
	KT_ASSERT(memfd >= 0);
	fill(buf, 0, MAXSEND);
	KT_ASSERT_EQ(write(memfd, buf, MAXSEND), MAXSEND);
	fill(buf, MAXSEND, PERIOD);
	KT_ASSERT_EQ(write(memfd, buf, PERIOD), PERIOD);
	kt_tcp_pair(AF_INET, &a, &b);
	kt_install(a, TLS_TX, version, cipher, 1);
	kt_install(b, TLS_RX, version, cipher, 1);
	set_timeouts(a);
	set_timeouts(b);
	r.fd = b;
	r.faults = faults;
	KT_ASSERT(!pthread_create(&th, NULL, reader_fn, &r));
	if (inj && kt_faultinj_self(1))
		KT_FAIL("KTLS_FAULTINJ=1 but make-it-fail: %s", strerror(errno));
	end = now() + secs;
	while (now() < end && !r.err && !r.bad) {
		size_t n = 1 + rand() % (rand() % 4 ? 4096 : MAXSEND);
		int flags = MSG_NOSIGNAL | (rand() % 4 ? 0 : MSG_MORE);
		ssize_t rc;

		ops++;
		if (rand() % 8 == 0) {
			off_t off = sent % PERIOD;

			/*
			 * A whole sendfile ends its record; a short one may
			 * stop after a piece splice sent with MSG_MORE (no
			 * splice_eof then, in-tree alike): still open.
			 */
			rc = sendfile(a, memfd, &off, n);
			flags = MSG_NOSIGNAL | (rc >= 0 && (size_t)rc < n ?
						MSG_MORE : 0);
			files++;
		} else {
			fill(buf, sent, n);
			rc = send(a, buf, n, flags);
		}
		if (rc > 0) {
			sent += rc;
			last_more = flags & MSG_MORE;
			more += !!last_more;
		} else if (rc < 0 && transient(errno)) {
			retries++;
		} else if (rc < 0 && fatal_tx(errno)) {
			tx_err = errno;
			break;
		} else {
			KT_FAIL("send of %zu returned %zd: %s", n, rc,
				strerror(errno));
		}
		/* Bytes a send without MSG_MORE accepted do not wait. */
		if (ops % 16 == 0 && !last_more && !tx_err) {
			if (wait_for(&r, sent, sync_secs) && !r.err)
				KT_FAIL("after op %lu: reader has %llu of %llu bytes send() reported, %.0f s after a send without MSG_MORE (reader errno %d)",
					ops, (unsigned long long)r.got,
					(unsigned long long)sent, sync_secs,
					r.err);
			syncs++;
		}
	}
	/* Opening make-it-fail may itself fail while it is set. */
	for (i = 0; inj && kt_faultinj_self(0); i++)
		KT_ASSERT(i < 1000);
	/* Close an open MSG_MORE record: one byte without it. */
	while (!tx_err && !r.err && !r.bad && last_more) {
		ssize_t rc;

		fill(buf, sent, 1);
		rc = send(a, buf, 1, MSG_NOSIGNAL);
		if (rc == 1) {
			sent++;
			last_more = 0;
		} else if (rc < 0 && fatal_tx(errno)) {
			tx_err = errno;
		} else if (rc < 0 && !transient(errno)) {
			KT_FAIL("final send: %s", strerror(errno));
		}
	}
	if (!tx_err && !r.bad && wait_for(&r, sent, sync_secs) &&
	    !(r.err == EBADMSG && kt_faultinj_wanted() && faults & FAULTS_RX))
		KT_FAIL("at the end: reader has %llu of %llu bytes send() reported (reader errno %d)",
			(unsigned long long)r.got, (unsigned long long)sent,
			r.err);
	r.stop = 1;
	pthread_join(th, NULL);
	kt_diag("%lu ops (%lu sendfile, %lu MSG_MORE), %llu bytes, %lu sync points, %lu send and %lu recv retries (allowed errnos), sender errno %d, reader errno %d",
		ops, files, more, (unsigned long long)sent, syncs, retries,
		r.retries, tx_err, r.err);
	if (r.inj_rc)
		KT_FAIL("reader's make-it-fail: %s", strerror(-r.inj_rc));
	if (r.bad)
		KT_FAIL("reader got a wrong byte at stream offset %llu",
			(unsigned long long)r.bad_at);
	/*
	 * The reader may stop early when the sender was told too, or with
	 * EBADMSG when its own allocations fail: a record it cannot open
	 * ends the connection, as in-tree (tls_sw_recvmsg() turns any
	 * decrypt error, -ENOMEM included, into tls_err_abort(-EBADMSG)).
	 * A sender's failure must never cost the reader a record.
	 */
	if (r.err == EBADMSG && kt_faultinj_wanted() && faults & FAULTS_RX)
		kt_diag("reader's connection ended with EBADMSG at %llu of %llu bytes (its own allocation failed), all intact",
			(unsigned long long)r.got, (unsigned long long)sent);
	else if (r.err && !tx_err)
		KT_FAIL("reader failed with %s at %llu of %llu bytes, the sender got no error",
			strerror(r.err), (unsigned long long)r.got,
			(unsigned long long)sent);
	if (tx_err)
		kt_diag("connection ended by an error to the sender: %s; reader had %llu of %llu bytes, all intact",
			strerror(tx_err), (unsigned long long)r.got,
			(unsigned long long)sent);
	close(a);
	close(b);
	close(memfd);
	/* No context and no pool page left behind. */
	for (end = now() + sync_secs;
	     (kt_stat("TlsCurrTxSw") || kt_stat("TlsCurrRxSw") ||
	      kt_stat("KtlsTxPoolPages") || kt_stat("KtlsRxBuffers")) &&
	     now() < end;)
		usleep(10000);
	KT_ASSERT_EQ(kt_stat("TlsCurrTxSw"), 0);
	KT_ASSERT_EQ(kt_stat("TlsCurrRxSw"), 0);
	KT_ASSERT_EQ(kt_stat("KtlsTxPoolPages"), 0);
	KT_ASSERT_EQ(kt_stat("KtlsRxBuffers"), 0);
}

static void bytes_tx_faults_tls13_gcm(void)
{
	run(TLS_1_3_VERSION, TLS_CIPHER_AES_GCM_128, FAULTS_TX);
}

static void bytes_tx_faults_tls12_chacha(void)
{
	run(TLS_1_2_VERSION, TLS_CIPHER_CHACHA20_POLY1305, FAULTS_TX);
}

static void bytes_rx_faults_tls13_gcm(void)
{
	run(TLS_1_3_VERSION, TLS_CIPHER_AES_GCM_128, FAULTS_RX);
}

static void bytes_both_faults_tls12_gcm(void)
{
	run(TLS_1_2_VERSION, TLS_CIPHER_AES_GCM_128, FAULTS_TX | FAULTS_RX);
}

KT_MAIN("ktls_faultinj",
	KT_CASE_T(bytes_tx_faults_tls13_gcm, 900),
	KT_CASE_T(bytes_tx_faults_tls12_chacha, 900),
	KT_CASE_T(bytes_rx_faults_tls13_gcm, 900),
	KT_CASE_T(bytes_both_faults_tls12_gcm, 900));
