// SPDX-License-Identifier: GPL-2.0
/*
 * close() under SO_LINGER, against Debian's in-tree tls.ko first and then
 * ktls, with the same assertions (kt_run_phased).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>

#include "harness.h"
#include "util.h"

static void tx_pair(int *tx, int *peer, int small)
{
	kt_tcp_pair_bufs(AF_INET, tx, peer, small ? 4096 : 0,
			 small ? 4096 : 0);
	kt_install(*tx, TLS_TX, TLS_1_2_VERSION, TLS_CIPHER_AES_GCM_128, 5);
}

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

/* SO_LINGER {1, 0}: an abortive close; the peer reads ECONNRESET only. */
static void linger_abort(void)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	struct pollfd pfd;
	char b[5000] = { 1 };
	int tx, peer;
	ssize_t r;

	tx_pair(&tx, &peer, 0);
	KT_ASSERT_EQ(send(tx, b, sizeof(b), MSG_MORE), sizeof(b));
	KT_ASSERT_OK(setsockopt(tx, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)));
	close(tx);
	pfd.fd = peer;
	pfd.events = POLLIN;
	KT_ASSERT_EQ(poll(&pfd, 1, 2000), 1);
	r = read(peer, b, sizeof(b));
	if (r >= 0)
		KT_FAIL("read %zd bytes after an aborting close", r);
	KT_ASSERT_EQ(errno, ECONNRESET);
	close(peer);
}

/*
 * SO_LINGER {1, 1} with a peer that never reads: close() waits about the
 * linger time for the queued records, then returns.
 */
static void linger_timeout(void)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 1 };
	static char b[16384];
	int tx, peer, n = 0;
	double t0, dt;

	tx_pair(&tx, &peer, 1);
	while (send(tx, b, sizeof(b), MSG_DONTWAIT) > 0)
		KT_ASSERT(++n < 1000);
	KT_ASSERT_EQ(errno, EAGAIN);
	KT_ASSERT_OK(setsockopt(tx, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)));
	t0 = now();
	close(tx);
	dt = now() - t0;
	kt_diag("close() took %.2f s", dt);
	KT_ASSERT(dt > 0.5 && dt < 3.0 * kt_time_scale());
	close(peer);
}

int main(void)
{
	static const struct kt_case cases[] = {
		KT_CASE(linger_abort),
		KT_CASE(linger_timeout),
	};

	setvbuf(stdout, NULL, _IOLBF, 0);
	return kt_run_phased("tx_linger", cases,
			     sizeof(cases) / sizeof(cases[0]), NULL);
}
