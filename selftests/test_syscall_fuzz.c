// SPDX-License-Identifier: GPL-2.0
/*
 * Concurrent syscall fuzzer (issue 15 part 1).  A pool of connected
 * loopback TCP pairs (IPv4 and IPv6) is shared by several threads that
 * run random operations on random ends: TCP_ULP, TLS_TX/TLS_RX with valid
 * and invalid crypto_info (every version and cipher, bad lengths, repeated
 * sets), the TLS socket options, getsockopt(SOL_TLS) of random lengths,
 * send/sendmsg/recv/recvmsg of random shapes and flags with record-type
 * cmsgs, sendfile from a memfd, splice both ways through pipes of random
 * size, poll and epoll (level and edge), shutdown, socket buffer/lowat/
 * linger options, raw records written by a plain end into its peer
 * (valid, control, empty, truncated, garbage), close while another thread
 * is blocked, reconnects, connect(AF_UNSPEC) and sock_diag dumps.
 *
 * Every blocking call is bounded (SO_RCVTIMEO/SO_SNDTIMEO, non-blocking
 * pipes, poll timeouts), so only the kernel can hang: a watchdog prints
 * any thread stuck in one operation longer than a few seconds with its
 * kernel stack.  After the run: no splat in /dev/kmsg, the gauges of
 * /proc/net/ktls_stat back to 0, rmmod ktls succeeds.  The same program
 * then runs against in-tree tls.ko and reports what it saw as "# intree:"
 * lines (not failures).
 *
 * Determinism: every thread's PRNG comes from (seed, thread); each
 * operation is (type, pair, end, arg) and arg seeds all of its choices,
 * so a run is its per-thread operation lists (the interleaving is not
 * reproducible).  A failing run is shrunk (best effort, bounded time) and
 * saved to /tmp/ktls-sysfuzz-SEED.txt and printed as "# sysfuzz-repro:"
 * lines; a file of them in selftests/repro-sys/NAME.txt is built in and
 * replayed by every run (replay_corpus).
 *
 * Environment: KTLS_SYSFUZZ_SECS (fuzz seconds in all, default 45: 3/4
 * for ktls, 1/4 for in-tree), KTLS_SYSFUZZ_SEED (default random, printed),
 * KTLS_SYSFUZZ_REPLAY=FILE (replay one reproducer instead of fuzzing),
 * KTLS_FAULTINJ=1 (make check-debug's fault phase: the workers set
 * make-it-fail, and sockets close with a RST).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>

#include "harness.h"
#include "lib_tlsrec.h"
#include "util.h"

#include "repro_sys_corpus.h"

#ifndef SO_ZEROCOPY
#define SO_ZEROCOPY	60
#endif
#ifndef MSG_ZEROCOPY
#define MSG_ZEROCOPY	0x4000000
#endif

#define NPAIRS		6
#define NTHREADS	4
#define MAXLOG		(1 << 17)	/* ops recorded per thread */
#define BUFSZ		(160 * 1024)
#define FILESZ		(1 << 20)
#define TIMEO_MS	100		/* SO_RCVTIMEO/SO_SNDTIMEO of every socket */
#define HANG_SECS	5

enum {
	OP_ULP, OP_CRYPTO, OP_TLSOPT, OP_GETOPT, OP_SEND, OP_RECV,
	OP_SENDFILE, OP_SPLICE_TO_SOCK, OP_SPLICE_FROM_SOCK, OP_POLL,
	OP_EPOLL, OP_SHUTDOWN, OP_SOCKOPT, OP_RAW, OP_CLOSE_BLOCKED,
	OP_CLOSE, OP_RECONNECT, OP_DISCONNECT, OP_DIAG, OP_ERRQUEUE,
	NOPS
};

static const struct {
	const char *name;
	unsigned int weight;
	int exclusive;		/* needs the pair to itself (closes fds) */
} ops[NOPS] = {
	[OP_ULP]		= { "ulp", 6 },
	[OP_CRYPTO]		= { "crypto_info", 12 },
	[OP_TLSOPT]		= { "tls_sockopt", 4 },
	[OP_GETOPT]		= { "getsockopt_tls", 4 },
	[OP_SEND]		= { "send", 16 },
	[OP_RECV]		= { "recv", 16 },
	[OP_SENDFILE]		= { "sendfile", 4 },
	[OP_SPLICE_TO_SOCK]	= { "splice_to_sock", 4 },
	[OP_SPLICE_FROM_SOCK]	= { "splice_from_sock", 4 },
	[OP_POLL]		= { "poll", 3 },
	[OP_EPOLL]		= { "epoll", 3 },
	[OP_SHUTDOWN]		= { "shutdown", 1 },
	[OP_SOCKOPT]		= { "sockopt", 4 },
	[OP_RAW]		= { "raw_records", 10 },
	[OP_CLOSE_BLOCKED]	= { "close_blocked", 2, 1 },
	[OP_CLOSE]		= { "close", 1, 1 },
	[OP_RECONNECT]		= { "reconnect", 4, 1 },
	[OP_DISCONNECT]		= { "disconnect", 1 },
	[OP_DIAG]		= { "sock_diag", 1 },
	[OP_ERRQUEUE]		= { "errqueue", 2 },
};

struct op {
	uint8_t type, pair, side, pad;
	uint32_t arg;
};

struct rng {
	uint32_t s;
};

static uint32_t mix(uint32_t x)
{
	x ^= x >> 16;
	x *= 0x7feb352d;
	x ^= x >> 15;
	x *= 0x846ca68b;
	x ^= x >> 16;
	return x;
}

static uint32_t rnd(struct rng *r)
{
	uint32_t x = r->s;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	r->s = x ?: 0x9e3779b9;
	return r->s;
}

static uint32_t below(struct rng *r, uint32_t n)
{
	return n ? rnd(r) % n : 0;
}

/* True with probability pct %. */
static int chance(struct rng *r, unsigned int pct)
{
	return below(r, 100) < pct;
}

/* What we believe about one end (best effort: ops race). */
struct end_state {
	int tx, rx;
	int rxk_ok;		/* rxk: the keys this end receives with */
	struct tr_keys rxk;
};

struct pair {
	pthread_rwlock_t lock;	/* read: using fd[]; write: closing them */
	pthread_mutex_t st;	/* end[], ver, cipher */
	int fd[2];
	uint32_t gen;
	uint16_t ver, cipher;
	struct end_state end[2];
};

struct worker {
	int idx;
	pid_t tid;
	pthread_t th;
	struct rng rng;
	struct op *log;		/* fuzz: recorded; replay: given */
	size_t nlog, maxlog;
	volatile size_t pos;	/* ops started */
	int replay;
	volatile double since;	/* start of the current op, 0 when idle */
	volatile int cur_type, cur_pair, cur_side;
	int hang_reported;
	int epfd;
	char stack[64];		/* /proc/PID/task/TID/stack, in /proc's pid ns */
	struct blocked *volatile blk;	/* close_blocked's helper */
	uint8_t *sbuf, *rbuf;
};

struct run {
	int intree;
	uint32_t seed;
	double deadline;
	volatile int stop;
	int nthreads;
	struct pair pool[NPAIRS];
	struct worker w[NTHREADS];
	int memfd;
	volatile int hang;
	int all_dumped;		/* print_all_threads() ran */
	volatile int faultinj_err;	/* a worker could not set make-it-fail */
	/*
	 * A worker never came back from the kernel: the pool, its locks and
	 * its op logs stay theirs (a stuck call may still return and use
	 * them), so no later run starts and nothing they use is freed.
	 */
	int wedged;
	unsigned long cnt[NOPS], okc[NOPS], skip[NOPS];
	uint32_t gen;
};

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static const uint16_t versions[] = { TLS_1_2_VERSION, TLS_1_3_VERSION };
static const uint16_t all_ciphers[] = { 51, 52, 53, 54, 55, 56, 57, 58 };

/* --- the pool ------------------------------------------------------------ */

static void set_timeouts(int fd, int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/*
 * Fault phase: sockets close with a RST.  tcp_close() enters FIN_WAIT1 or
 * LAST_ACK before tcp_send_fin() allocates the FIN, and drops the FIN if
 * that allocation fails: such an orphan has no timer and lives on for
 * good, holding its ULP's module (in-tree's too).  A RST close frees the
 * socket whatever TCP manages to send.
 */
static int sock_close(int fd)
{
	static const struct linger lg = { 1, 0 };

	if (kt_faultinj_wanted())
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	return close(fd);
}

/* A connected pair; -1 on failure (EMFILE, ...), never exits. */
static int make_pair(int family, int fd[2])
{
	struct sockaddr_storage ss = { 0 };
	socklen_t len = family == AF_INET6 ? sizeof(struct sockaddr_in6) :
					     sizeof(struct sockaddr_in);
	int l, c = -1, s = -1;

	ss.ss_family = family;
	if (family == AF_INET6)
		((struct sockaddr_in6 *)&ss)->sin6_addr = in6addr_loopback;
	else
		((struct sockaddr_in *)&ss)->sin_addr.s_addr =
			htonl(INADDR_LOOPBACK);
	l = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l < 0)
		return -1;
	if (bind(l, (struct sockaddr *)&ss, len) ||
	    listen(l, 4) || getsockname(l, (struct sockaddr *)&ss, &len))
		goto close_l;
	c = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c < 0)
		goto close_l;
	/*
	 * Bounded too: with allocations failing (fault phase) the listener
	 * may drop the handshake's last ACK and only make the child at the
	 * SYN-ACK's retransmission, 1, 2, 4, 8 s later.  An accept() that
	 * waited through that was reported as a hang (20 s).
	 */
	set_timeouts(c, 1000 * kt_time_scale());
	set_timeouts(l, 1000 * kt_time_scale());
	if (connect(c, (struct sockaddr *)&ss, len))
		goto close_c;
	s = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	if (s < 0)
		goto close_c;
	close(l);
	set_timeouts(c, TIMEO_MS);
	set_timeouts(s, TIMEO_MS);
	fd[0] = c;
	fd[1] = s;
	return 0;
close_c:
	sock_close(c);
close_l:
	close(l);
	fd[0] = fd[1] = -1;
	return -1;
}

static unsigned int key_seed(const struct pair *p, int side, int dir);

/* TCP_ULP and one direction's keys as the pair's generation says. */
static void tls_setup(struct pair *p, int side, int dir)
{
	union kt_crypto_info ci;
	size_t len = kt_fill_info(&ci, p->ver, p->cipher,
				  key_seed(p, side, dir));

	if (kt_attach(p->fd[side]) && errno != EEXIST)
		return;
	if (setsockopt(p->fd[side], SOL_TLS, dir, &ci, len))
		return;
	pthread_mutex_lock(&p->st);
	if (dir == TLS_TX) {
		p->end[side].tx = 1;
	} else {
		p->end[side].rx = 1;
		p->end[side].rxk_ok = 1;
		tr_keys_from_info(&p->end[side].rxk, &ci);
	}
	pthread_mutex_unlock(&p->st);
}

/* Caller holds the pair's write lock (or owns the run alone). */
static void pair_reset(struct run *R, struct pair *p, uint32_t arg)
{
	int i;

	for (i = 0; i < 2; i++)
		if (p->fd[i] >= 0)
			sock_close(p->fd[i]);
	pthread_mutex_lock(&p->st);
	memset(p->end, 0, sizeof(p->end));
	p->gen = __atomic_add_fetch(&R->gen, 1, __ATOMIC_RELAXED);
	p->ver = versions[arg & 1];
	p->cipher = kt_ciphers[(arg >> 1) % kt_n_ciphers].type;
	pthread_mutex_unlock(&p->st);
	if (make_pair(arg & 8 ? AF_INET6 : AF_INET, p->fd))
		return;
	/* Mostly a TLS session both ways, so valid records flow. */
	if (arg & 0x30)
		for (i = 0; i < 4; i++)
			tls_setup(p, i >> 1, i & 1 ? TLS_RX : TLS_TX);
}

/* --- the operations -------------------------------------------------------- */

/* Key material: TX of one end matches RX of the other (same seed). */
static unsigned int key_seed(const struct pair *p, int side, int dir)
{
	return p->gen * 4 + (dir == TLS_TX ? side : !side);
}

static long op_ulp(struct run *R, struct pair *p, int side, int fd,
		   struct rng *r)
{
	static const char *const names[] = { "tls", "tlsx", "", "tcp",
		"a-very-long-ulp-name-that-is-too-long" };
	const char *u = chance(r, 85) ? kt_ulp() : names[below(r, 5)];
	socklen_t len = strlen(u);

	(void)R; (void)p; (void)side;
	if (chance(r, 5))
		len = below(r, 20);
	return setsockopt(fd, IPPROTO_TCP, TCP_ULP, u, len);
}

static long op_crypto(struct run *R, struct pair *p, int side, int fd,
		      struct rng *r)
{
	union kt_crypto_info ci;
	int dir = chance(r, 50) ? TLS_TX : TLS_RX;
	uint16_t ver, cipher;
	unsigned int ks;
	size_t len;
	long rc;

	(void)R;
	pthread_mutex_lock(&p->st);
	ver = p->ver;
	cipher = p->cipher;
	ks = key_seed(p, side, dir);
	pthread_mutex_unlock(&p->st);
	if (chance(r, 15))
		ver = chance(r, 50) ? versions[below(r, 2)] :
				      (uint16_t)(chance(r, 50) ? 0x0302 : rnd(r));
	if (chance(r, 15))
		cipher = chance(r, 80) ? all_ciphers[below(r, 8)] :
					 (uint16_t)rnd(r);
	if (chance(r, 10))
		ks += 1 + below(r, 3);	/* a rekey to other keys */
	len = kt_fill_info(&ci, ver, cipher, ks);
	if (chance(r, 5)) {
		/* Near the end of the sequence space. */
		uint8_t *seq = ci.raw + len - 8;

		if (kt_cipher(cipher))
			memset(seq, 0xff, 8), seq[7] = 0xff - below(r, 4);
	}
	if (chance(r, 12)) {
		static const int lens[] = { 0, 1, 3, 4, 39, 41, 55, 57, 64 };

		len = lens[below(r, 9)];
	}
	rc = setsockopt(fd, SOL_TLS, dir, &ci, len);
	if (!rc) {
		pthread_mutex_lock(&p->st);
		if (dir == TLS_TX) {
			p->end[side].tx = 1;
		} else {
			p->end[side].rx = 1;
			p->end[side].rxk_ok = 1;
			tr_keys_from_info(&p->end[side].rxk, &ci);
		}
		pthread_mutex_unlock(&p->st);
	}
	return rc;
}

static long op_tlsopt(struct run *R, struct pair *p, int side, int fd,
		      struct rng *r)
{
	static const int ivals[] = { 0, 1, 2, -1 };
	static const uint16_t plen[] = { 0, 1, 63, 64, 100, 4096, 16384,
					 16385, 65535 };
	static const int lens[] = { 0, 1, 2, 4, 8 };
	unsigned char buf[8] = { 0 };
	int opt, v, len;

	(void)R; (void)p; (void)side;
	switch (below(r, 4)) {
	case 0:
		opt = TLS_RX_EXPECT_NO_PAD;
		v = ivals[below(r, 4)];
		memcpy(buf, &v, 4);
		len = 4;
		break;
	case 1: {
		uint16_t m = plen[below(r, 9)];

		opt = TLS_TX_MAX_PAYLOAD_LEN;
		memcpy(buf, &m, 2);
		len = 2;
		break;
	}
	case 2:
		opt = TLS_TX_ZEROCOPY_RO;
		v = ivals[below(r, 4)];
		memcpy(buf, &v, 4);
		len = 4;
		break;
	default:
		opt = chance(r, 50) ? 0 : 6 + below(r, 100);
		len = 4;
		break;
	}
	if (chance(r, 15))
		len = lens[below(r, 5)];
	return setsockopt(fd, SOL_TLS, opt, buf, len);
}

static long op_getopt(struct run *R, struct pair *p, int side, int fd,
		      struct rng *r)
{
	static const int lens[] = { 0, 1, 2, 3, 4, 8, 39, 40, 41, 55, 56,
				    57, 64, 200 };
	unsigned char buf[256];
	socklen_t len = lens[below(r, 14)];

	(void)R; (void)p; (void)side;
	if (chance(r, 3))
		return getsockopt(fd, SOL_TLS, 1 + below(r, 6), NULL, &len);
	return getsockopt(fd, SOL_TLS, below(r, 8), buf, &len);
}

static size_t rand_size(struct rng *r)
{
	switch (below(r, 6)) {
	case 0:
		return 0;
	case 1:
		return 1 + below(r, 16);
	case 2:
		return below(r, 2048);
	case 3:
		return below(r, 20000);
	case 4:
		return 16384 + below(r, 3) - 1;
	default:
		return below(r, 100000);
	}
}

/* Split len bytes of buf into up to 8 iovecs, some of them empty. */
static int make_iov(struct rng *r, uint8_t *buf, size_t len,
		    struct iovec *iov)
{
	int n = 1 + below(r, 8), i;
	size_t off = 0;

	for (i = 0; i < n; i++) {
		size_t k = i == n - 1 ? len - off :
			   chance(r, 20) ? 0 : below(r, len - off + 1);

		iov[i].iov_base = buf + off;
		iov[i].iov_len = k;
		off += k;
	}
	return n;
}

static long op_send(struct run *R, struct pair *p, int side, int fd,
		    struct rng *r, uint8_t *buf)
{
	static const uint8_t types[] = { 23, 21, 22, 20, 24, 0, 255 };
	static const int fl[] = { MSG_MORE, MSG_DONTWAIT, MSG_EOR, MSG_OOB,
				  MSG_ZEROCOPY };
	static const int pct[] = { 25, 40, 15, 4, 10 };
	char ctl[CMSG_SPACE(4)] = { 0 };
	struct iovec iov[8];
	struct msghdr msg = { .msg_iov = iov };
	size_t len = rand_size(r);
	int flags = MSG_NOSIGNAL, i;

	(void)R; (void)p; (void)side;
	for (i = 0; i < 5; i++)
		if (chance(r, pct[i]))
			flags |= fl[i];
	kt_fill_pattern(buf, len, rnd(r));
	if (chance(r, 30))
		return send(fd, buf, len, flags);
	msg.msg_iovlen = make_iov(r, buf, len, iov);
	if (chance(r, 25)) {
		struct cmsghdr *cm;

		msg.msg_control = ctl;
		msg.msg_controllen = CMSG_SPACE(1);
		cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = chance(r, 90) ? SOL_TLS : SOL_SOCKET;
		cm->cmsg_type = chance(r, 90) ? TLS_SET_RECORD_TYPE : 2;
		cm->cmsg_len = chance(r, 90) ? CMSG_LEN(1) :
					       CMSG_LEN(below(r, 3) * 2);
		*CMSG_DATA(cm) = types[below(r, 7)];
	}
	return sendmsg(fd, &msg, flags);
}

static long op_recv(struct run *R, struct pair *p, int side, int fd,
		    struct rng *r, uint8_t *buf)
{
	static const int fl[] = { MSG_PEEK, MSG_DONTWAIT, MSG_WAITALL,
				  MSG_TRUNC, MSG_OOB };
	static const int pct[] = { 20, 45, 15, 10, 3 };
	char ctl[128];
	struct iovec iov[8];
	struct msghdr msg = { .msg_iov = iov };
	size_t len = rand_size(r);
	int flags = 0, i;

	(void)R; (void)p; (void)side;
	for (i = 0; i < 5; i++)
		if (chance(r, pct[i]))
			flags |= fl[i];
	if (chance(r, 25))
		return recv(fd, buf, len, flags);
	msg.msg_iovlen = make_iov(r, buf, len, iov);
	switch (below(r, 4)) {
	case 0:
		break;
	case 1:
		msg.msg_control = ctl;
		msg.msg_controllen = below(r, CMSG_SPACE(1));
		break;
	case 2:
		msg.msg_control = ctl;
		msg.msg_controllen = CMSG_SPACE(1);
		break;
	default:
		msg.msg_control = ctl;
		msg.msg_controllen = sizeof(ctl);
		break;
	}
	return recvmsg(fd, &msg, flags);
}

static long op_sendfile(struct run *R, struct pair *p, int side, int fd,
			struct rng *r)
{
	off_t off = below(r, FILESZ);
	size_t n = rand_size(r);

	(void)p; (void)side;
	if (chance(r, 10))
		off = FILESZ - below(r, 100);
	return sendfile(fd, R->memfd, &off, n);
}

static int rand_pipe(struct rng *r, int pfd[2])
{
	static const int sizes[] = { 4096, 8192, 16384, 65536, 1 << 20 };

	if (pipe2(pfd, O_NONBLOCK | O_CLOEXEC))
		return -1;
	if (chance(r, 70))
		fcntl(pfd[0], F_SETPIPE_SZ, sizes[below(r, 5)]);
	return 0;
}

static unsigned int splice_flags(struct rng *r)
{
	return (chance(r, 40) ? SPLICE_F_NONBLOCK : 0) |
	       (chance(r, 30) ? SPLICE_F_MORE : 0);
}

static long op_splice_to_sock(struct run *R, struct pair *p, int side,
			      int fd, struct rng *r, uint8_t *buf)
{
	size_t n = rand_size(r);
	int pfd[2];
	ssize_t w;
	long rc;

	(void)R; (void)p; (void)side;
	if (rand_pipe(r, pfd))
		return -1;
	kt_fill_pattern(buf, n, rnd(r));
	w = write(pfd[1], buf, n);
	if (w < 0)
		w = 0;
	rc = splice(pfd[0], NULL, fd, NULL, chance(r, 80) ? (size_t)w :
		    rand_size(r), splice_flags(r));
	close(pfd[0]);
	close(pfd[1]);
	return rc;
}

static long op_splice_from_sock(struct run *R, struct pair *p, int side,
				int fd, struct rng *r)
{
	int pfd[2];
	long rc;

	(void)R; (void)p; (void)side;
	if (rand_pipe(r, pfd))
		return -1;
	rc = splice(fd, NULL, pfd[1], NULL, rand_size(r), splice_flags(r));
	close(pfd[0]);
	close(pfd[1]);
	return rc;
}

static long op_poll(struct run *R, struct pair *p, int side, int fd,
		    struct rng *r)
{
	struct pollfd pf = { .fd = fd, .events = POLLIN | POLLPRI };

	(void)R; (void)p; (void)side;
	if (chance(r, 50))
		pf.events |= POLLOUT;
	if (chance(r, 50))
		pf.events |= POLLRDHUP;
	return poll(&pf, 1, below(r, 20));
}

/* A persistent epoll set per thread: sockets get closed while in it. */
static long op_epoll(struct worker *w, int fd, struct rng *r)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP };
	struct epoll_event out[8];

	if (chance(r, 50))
		ev.events |= EPOLLOUT;
	if (chance(r, 50))
		ev.events |= EPOLLET;
	ev.data.fd = fd;
	switch (below(r, 4)) {
	case 0:
		return epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev);
	case 1:
		return epoll_ctl(w->epfd, EPOLL_CTL_MOD, fd, &ev);
	case 2:
		return epoll_ctl(w->epfd, EPOLL_CTL_DEL, fd, NULL);
	default:
		return epoll_wait(w->epfd, out, 8, below(r, 20));
	}
}

static long op_sockopt(struct run *R, struct pair *p, int side, int fd,
		       struct rng *r)
{
	static const int bufs[] = { 0, 1, 256, 4096, 65536, 1 << 20 };
	static const int lowat[] = { 0, 1, 100, 16384, 65536, 1 << 20 };
	struct linger lg = { 1, 0 };
	int v;

	(void)R; (void)p; (void)side;
	switch (below(r, 5)) {
	case 0:
		v = bufs[below(r, 6)];
		return setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v));
	case 1:
		v = bufs[below(r, 6)];
		return setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v));
	case 2:
		v = lowat[below(r, 6)];
		return setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &v, sizeof(v));
	case 3:
		/* At most 1 s: a close with linger waits that long. */
		lg.l_onoff = chance(r, 70);
		lg.l_linger = below(r, 2);
		return setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	default:
		v = 1;
		return setsockopt(fd, SOL_SOCKET, SO_ZEROCOPY, &v, sizeof(v));
	}
}

/*
 * Bytes written by this end, raw when it has no TLS_TX, into its peer:
 * records sealed with the peer's RX keys (data, control, KeyUpdate,
 * empty, truncated) or garbage and bad headers.
 */
static long op_raw(struct run *R, struct pair *p, int side, int fd,
		   struct rng *r, uint8_t *buf)
{
	static const uint8_t ku[] = { 24, 0, 0, 1, 0 };
	uint8_t *pt = buf + TR_MAX_REC * 4;
	size_t len = 0, n;
	struct tr_keys k;
	int kind = below(r, 8), i;

	(void)R;
	pthread_mutex_lock(&p->st);
	if (p->end[!side].rxk_ok) {
		k = p->end[!side].rxk;
	} else {
		union kt_crypto_info ci;

		kt_fill_info(&ci, p->ver, p->cipher, key_seed(p, !side, TLS_RX));
		tr_keys_from_info(&k, &ci);
	}
	pthread_mutex_unlock(&p->st);
	switch (kind) {
	case 0: case 1: case 2:		/* valid data records */
		for (i = 0; i < 1 + (int)below(r, 3); i++) {
			n = chance(r, 70) ? below(r, 2000) : below(r, 16385);
			kt_fill_pattern(pt, n, rnd(r));
			len += tr_seal(&k, 23, pt, n, buf + len);
		}
		break;
	case 3:				/* control: alert, handshake */
		if (k.version == TLS_1_3_VERSION && chance(r, 50)) {
			len = tr_seal(&k, 22, ku, sizeof(ku), buf);
		} else {
			kt_fill_pattern(pt, 2, rnd(r));
			len = tr_seal(&k, chance(r, 50) ? 21 : 22, pt,
				      1 + below(r, 40), buf);
		}
		break;
	case 4:				/* empty records */
		len = tr_seal(&k, chance(r, 70) ? 23 : 21, pt, 0, buf);
		break;
	case 5:				/* truncated */
		n = below(r, 3000);
		kt_fill_pattern(pt, n, rnd(r));
		len = tr_seal(&k, 23, pt, n, buf);
		len = below(r, len);
		break;
	case 6:				/* garbage */
		len = 1 + below(r, 300);
		kt_fill_pattern(buf, len, rnd(r));
		break;
	default:			/* a bad or huge header */
		buf[0] = chance(r, 50) ? 23 : rnd(r);
		buf[1] = 3;
		buf[2] = chance(r, 50) ? 3 : rnd(r);
		n = chance(r, 50) ? 16384 + 256 + below(r, 600) : rnd(r) & 0xffff;
		buf[3] = n >> 8;
		buf[4] = n;
		len = 5 + below(r, 64);
		break;
	}
	if (kind <= 4 && chance(r, 80)) {
		/* The peer's keys advanced: keep them for the next records. */
		pthread_mutex_lock(&p->st);
		if (p->end[!side].rxk_ok && p->end[!side].rxk.cipher == k.cipher)
			p->end[!side].rxk = k;
		pthread_mutex_unlock(&p->st);
	}
	return send(fd, buf, len, MSG_NOSIGNAL | (chance(r, 50) ?
					   MSG_DONTWAIT : 0));
}

struct blocked {
	char stack[64];
	int fd, mode;
	uint32_t seed;
	uint8_t *buf;
	int memfd;
};

static void stack_path(char *buf, size_t size)
{
	char link[48] = "";

	/* gettid() is the pid ns's id; /proc may be the root ns's. */
	if (readlink("/proc/thread-self", link, sizeof(link) - 1) <= 0)
		snprintf(link, sizeof(link), "self/task/%ld",
			 (long)syscall(SYS_gettid));
	snprintf(buf, size, "/proc/%s/stack", link);
}

static void *blocked_fn(void *arg)
{
	struct blocked *b = arg;
	off_t off = 0;
	int pfd[2];

	stack_path(b->stack, sizeof(b->stack));
	switch (b->mode) {
	case 0:
		recv(b->fd, b->buf, 65536, MSG_WAITALL);
		break;
	case 1:
		send(b->fd, b->buf, BUFSZ, MSG_NOSIGNAL);
		break;
	case 2:
		sendfile(b->fd, b->memfd, &off, BUFSZ);
		break;
	default:
		if (!pipe2(pfd, O_CLOEXEC)) {
			splice(b->fd, NULL, pfd[1], NULL, 65536, 0);
			close(pfd[0]);
			close(pfd[1]);
		}
		break;
	}
	/* Often the last reference: the socket is released here. */
	sock_close(b->fd);
	return NULL;
}

/*
 * Close an end while another thread is blocked on it: the blocked call
 * runs on a dup of the fd (with a longer timeout), then the original fd
 * is closed and maybe the peer too.  The pair's write lock is held, so no
 * other op uses these fds meanwhile.
 */
static long op_close_blocked(struct run *R, struct worker *w,
			     struct pair *p, int side, struct rng *r,
			     uint8_t *buf)
{
	struct blocked b = { .mode = below(r, 4), .buf = buf,
			     .memfd = R->memfd };
	pthread_t th;
	int fd = p->fd[side], sndbuf = 16384;

	if (fd < 0)
		return -2;
	b.fd = dup(fd);
	if (b.fd < 0)
		return -1;
	set_timeouts(b.fd, 300);
	/*
	 * A timeout bounds waiting, not work: with a roomy send buffer and
	 * 63-byte records (TLS_TX_MAX_PAYLOAD_LEN) a 1 MiB sendfile kept the
	 * debug kernel encrypting for 20 s without ever blocking.  A small
	 * buffer makes the helper block (what this op is about) soon; the
	 * socket is closed for good by this op, so nothing else sees it.
	 */
	setsockopt(b.fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	if (pthread_create(&th, NULL, blocked_fn, &b)) {
		sock_close(b.fd);
		return -1;
	}
	w->blk = &b;
	usleep(below(r, 40000));
	sock_close(fd);
	p->fd[side] = -1;
	switch (below(r, 4)) {
	case 0:
		if (p->fd[!side] >= 0) {
			sock_close(p->fd[!side]);
			p->fd[!side] = -1;
		}
		break;
	case 1:
		if (p->fd[!side] >= 0)
			shutdown(p->fd[!side], SHUT_RDWR);
		break;
	case 2:
		if (p->fd[!side] >= 0)
			send(p->fd[!side], buf + BUFSZ / 2, below(r, 20000),
			     MSG_NOSIGNAL | MSG_DONTWAIT);
		break;
	default:
		break;
	}
	pthread_join(th, NULL);
	w->blk = NULL;
	pthread_mutex_lock(&p->st);
	memset(&p->end[side], 0, sizeof(p->end[side]));
	pthread_mutex_unlock(&p->st);
	return 0;
}

static long op_diag(int fd, struct rng *r, uint8_t *buf)
{
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 req;
	} q = {
		.nlh = {
			.nlmsg_len = sizeof(q),
			.nlmsg_type = SOCK_DIAG_BY_FAMILY,
			.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
			.nlmsg_seq = 1,
		},
		.req = {
			.sdiag_protocol = IPPROTO_TCP,
			.idiag_states = chance(r, 50) ? ~0u : 1 << 1,
		},
	};
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	long rc = 0;
	int nl, done = 0;

	q.req.idiag_ext = chance(r, 70) ? 1 << (INET_DIAG_INFO - 1) :
					  (uint8_t)rnd(r);
	q.req.sdiag_family = AF_INET;
	if (!getsockname(fd, (struct sockaddr *)&ss, &sl))
		q.req.sdiag_family = ss.ss_family;
	nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (nl < 0)
		return -1;
	set_timeouts(nl, 500);
	if (send(nl, &q, sizeof(q), 0) != sizeof(q)) {
		close(nl);
		return -1;
	}
	while (!done) {
		ssize_t n = recv(nl, buf, BUFSZ, 0);
		struct nlmsghdr *h;

		if (n <= 0) {
			rc = -1;
			break;
		}
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, n);
		     h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_type == NLMSG_DONE)
				done = 1;
			if (h->nlmsg_type == NLMSG_ERROR) {
				errno = -((struct nlmsgerr *)NLMSG_DATA(h))->error;
				rc = -1;
				done = 1;
			}
		}
	}
	close(nl);
	return rc;
}

static long op_errqueue(int fd, struct rng *r, uint8_t *buf)
{
	char ctl[256];
	struct iovec iov = { buf, 256 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = ctl,
			      .msg_controllen = below(r, sizeof(ctl)) };

	return recvmsg(fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT);
}

/* Run one op; its outcome goes to the counters. */
static void exec_op(struct run *R, struct worker *w, const struct op *o)
{
	struct pair *p = &R->pool[o->pair % NPAIRS];
	int side = o->side & 1, type = o->type % NOPS, fd;
	struct rng r = { mix(o->arg) ?: 1 };
	long rc = -2;		/* -2: skipped (no fd, pair busy) */

	w->cur_type = type;
	w->cur_pair = o->pair % NPAIRS;
	w->cur_side = side;
	w->since = now();
	if (ops[type].exclusive) {
		if (pthread_rwlock_trywrlock(&p->lock))
			goto out;
		switch (type) {
		case OP_CLOSE_BLOCKED:
			rc = op_close_blocked(R, w, p, side, &r, w->sbuf);
			break;
		case OP_CLOSE:
			if (p->fd[side] >= 0) {
				rc = sock_close(p->fd[side]);
				p->fd[side] = -1;
				pthread_mutex_lock(&p->st);
				memset(&p->end[side], 0, sizeof(p->end[side]));
				pthread_mutex_unlock(&p->st);
			}
			break;
		default:
			pair_reset(R, p, rnd(&r));
			rc = p->fd[0] >= 0 ? 0 : -1;
			break;
		}
		pthread_rwlock_unlock(&p->lock);
		goto out;
	}
	pthread_rwlock_rdlock(&p->lock);
	/* Waiting for a pair's lock is not a hang: its holder is timed. */
	w->since = now();
	fd = p->fd[side];
	if (fd < 0)
		goto unlock;
	switch (type) {
	case OP_ULP:
		rc = op_ulp(R, p, side, fd, &r);
		break;
	case OP_CRYPTO:
		rc = op_crypto(R, p, side, fd, &r);
		break;
	case OP_TLSOPT:
		rc = op_tlsopt(R, p, side, fd, &r);
		break;
	case OP_GETOPT:
		rc = op_getopt(R, p, side, fd, &r);
		break;
	case OP_SEND:
		rc = op_send(R, p, side, fd, &r, w->sbuf);
		break;
	case OP_RECV:
		rc = op_recv(R, p, side, fd, &r, w->rbuf);
		break;
	case OP_SENDFILE:
		rc = op_sendfile(R, p, side, fd, &r);
		break;
	case OP_SPLICE_TO_SOCK:
		rc = op_splice_to_sock(R, p, side, fd, &r, w->sbuf);
		break;
	case OP_SPLICE_FROM_SOCK:
		rc = op_splice_from_sock(R, p, side, fd, &r);
		break;
	case OP_POLL:
		rc = op_poll(R, p, side, fd, &r);
		break;
	case OP_EPOLL:
		rc = op_epoll(w, fd, &r);
		break;
	case OP_SHUTDOWN:
		rc = shutdown(fd, below(&r, 3));
		break;
	case OP_SOCKOPT:
		rc = op_sockopt(R, p, side, fd, &r);
		break;
	case OP_RAW:
		rc = op_raw(R, p, side, fd, &r, w->sbuf);
		break;
	case OP_DISCONNECT: {
		struct sockaddr sa = { .sa_family = AF_UNSPEC };

		rc = connect(fd, &sa, sizeof(sa));
		break;
	}
	case OP_DIAG:
		rc = op_diag(fd, &r, w->rbuf);
		break;
	default:
		rc = op_errqueue(fd, &r, w->rbuf);
		break;
	}
unlock:
	pthread_rwlock_unlock(&p->lock);
out:
	w->since = 0;
	__atomic_add_fetch(&R->cnt[type], 1, __ATOMIC_RELAXED);
	if (rc == -2)
		__atomic_add_fetch(&R->skip[type], 1, __ATOMIC_RELAXED);
	else if (rc >= 0)
		__atomic_add_fetch(&R->okc[type], 1, __ATOMIC_RELAXED);
}

static unsigned int total_weight(void)
{
	unsigned int i, t = 0;

	for (i = 0; i < NOPS; i++)
		t += ops[i].weight;
	return t;
}

static void gen_op(struct worker *w, struct op *o)
{
	uint32_t x = below(&w->rng, total_weight());
	int t = 0;

	while (x >= ops[t].weight)
		x -= ops[t++].weight;
	o->type = t;
	o->pair = below(&w->rng, NPAIRS);
	o->side = below(&w->rng, 2);
	o->pad = 0;
	o->arg = rnd(&w->rng);
}

static struct run *cur_run;

static void *worker_fn(void *arg)
{
	struct worker *w = arg;
	struct run *R = cur_run;
	size_t i = 0;
	struct op o;

	w->tid = syscall(SYS_gettid);
	stack_path(w->stack, sizeof(w->stack));
	/* Fault phase: the workers' allocations (and their helpers') fail. */
	if (kt_faultinj_wanted() && kt_faultinj_self(1)) {
		kt_diag("KTLS_FAULTINJ=1 but make-it-fail: %s", strerror(errno));
		R->faultinj_err = 1;
	}
	while (!R->stop && now() < R->deadline) {
		if (w->replay) {
			if (i >= w->nlog)
				break;
			o = w->log[i++];
		} else {
			gen_op(w, &o);
			if (w->nlog < w->maxlog)
				w->log[w->nlog++] = o;
		}
		w->pos = w->replay ? i : w->nlog;
		exec_op(R, w, &o);
	}
	return NULL;
}

/* --- watchdog, kmsg, gauges ---------------------------------------------- */

static void print_stack(const char *path)
{
	char line[256];
	FILE *f;

	f = fopen(path, "r");
	if (!f) {
		kt_diag("  (no %s: %s)", path, strerror(errno));
		return;
	}
	while (fgets(line, sizeof(line), f))
		kt_diag("  stack: %.*s", (int)strcspn(line, "\n"), line);
	fclose(f);
}

/* One line of a small /proc file, without its newline ("" if none). */
static void read_line(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "r");

	buf[0] = 0;
	if (!f)
		return;
	if (fgets(buf, size, f))
		buf[strcspn(buf, "\n")] = 0;
	fclose(f);
}

/*
 * Every thread of the process: state and CPU time from stat, the syscall
 * it is in ("running" when on a CPU: then its stack reads empty, so two
 * samples tell a spinning task from a sleeping one), and its kernel
 * stack.  Helpers the worker table does not know about show up here.
 */
static void print_all_threads(const char *prefix)
{
	char path[300], stat[512], sc[128];
	struct dirent *de;
	int round;
	DIR *d;

	for (round = 0; round < 2; round++) {
		d = opendir("/proc/self/task");
		if (!d) {
			kt_diag("%s(no /proc/self/task: %s)", prefix,
				strerror(errno));
			return;
		}
		kt_diag("%sall threads, sample %d:", prefix, round + 1);
		while ((de = readdir(d))) {
			unsigned long ut = 0, stt = 0;
			char *p, st;
			int i;

			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "/proc/self/task/%s/stat",
				 de->d_name);
			read_line(path, stat, sizeof(stat));
			/* After "(comm)": state, then utime/stime are fields 14, 15. */
			p = strrchr(stat, ')');
			p = p ? p + 2 : stat;
			snprintf(path, sizeof(path),
				 "/proc/self/task/%s/syscall", de->d_name);
			read_line(path, sc, sizeof(sc));
			st = *p;
			for (i = 0; i < 11 && p; i++)
				p = strchr(p + 1, ' ');
			if (p)
				sscanf(p, " %lu %lu", &ut, &stt);
			kt_diag("%s task %s: state %c utime %lu stime %lu syscall %s",
				prefix, de->d_name, st, ut, stt, sc);
			snprintf(path, sizeof(path), "/proc/self/task/%s/stack",
				 de->d_name);
			print_stack(path);
		}
		closedir(d);
		if (!round)
			usleep(500 * 1000);
	}
}

/* The worker's last ops, and its close_blocked helper's stack. */
static void print_tail(struct worker *w)
{
	struct blocked *b = w->blk;
	size_t end = w->pos, k = end > 12 ? end - 12 : 0;

	if (b && b->stack[0]) {
		kt_diag("  its close_blocked helper (mode %d):", b->mode);
		print_stack(b->stack);
	}
	for (; k < end; k++)
		kt_diag("  last ops: %d %s %u %u %08x", w->idx,
			ops[w->log[k].type].name, w->log[k].pair,
			w->log[k].side, w->log[k].arg);
}

static int scale(void)
{
	return kt_time_scale();
}

static void *watchdog_fn(void *arg)
{
	struct run *R = arg;
	int i;

	while (!R->stop) {
		double t = now();

		for (i = 0; i < R->nthreads; i++) {
			struct worker *w = &R->w[i];
			double s = w->since;

			if (!s || w->hang_reported ||
			    t - s < HANG_SECS * scale())
				continue;
			w->hang_reported = 1;
			R->hang = 1;
			kt_diag("%sHANG: thread %d (tid %d) in op %s pair %d end %d for %.1f s",
				R->intree ? "intree: " : "", i, w->tid,
				ops[w->cur_type].name, w->cur_pair,
				w->cur_side, t - s);
			print_stack(w->stack);
			print_tail(w);
			/* Once a run: what every thread (helpers too) is doing. */
			if (!R->all_dumped) {
				R->all_dumped = 1;
				print_all_threads(R->intree ? "intree: " : "");
			}
		}
		usleep(200000);
	}
	return NULL;
}

/* kmsg lines that mean a kernel problem. */
static const char *const splat_words[] = {
	"BUG", "WARNING", "Oops", "KASAN", "UBSAN", "lockdep",
	"circular locking", "refcount_t", "list_add corruption",
	"list_del corruption", "blocked for more than", "hung_task",
	"general protection", "stack-protector", "rcu_sched detected",
	"self-detected stall", "kernel BUG", "use-after-free",
	"double-free", "underflow", "possible recursive locking",
	"inconsistent lock state", "suspicious RCU usage", "detected stall",
	"Call Trace:", "Unable to handle kernel", "Kernel panic", "kmemleak",
};

/* load() logs a fake splat with this marker to check the scanner. */
#define SELF_CHECK	"test_syscall_fuzz-self-check"
static int count_self_check;

/* Drain fd; print and count splat lines (prefix for in-tree notes). */
static int kmsg_scan(int fd, const char *prefix)
{
	char rec[2048];
	int found = 0;
	size_t i;

	if (fd < 0)
		return 0;
	for (;;) {
		ssize_t n = read(fd, rec, sizeof(rec) - 1);

		if (n < 0 && errno == EPIPE)
			continue;
		if (n <= 0)
			break;
		rec[n] = 0;
		if (!count_self_check && strstr(rec, SELF_CHECK))
			continue;
		for (i = 0; i < sizeof(splat_words) / sizeof(*splat_words); i++)
			if (strstr(rec, splat_words[i])) {
				char *msg = strchr(rec, ';');

				kt_diag("%skmsg: %.*s", prefix,
					(int)strcspn(msg ? msg + 1 : rec, "\n"),
					msg ? msg + 1 : rec);
				found++;
				break;
			}
	}
	return found;
}

static long stat_read(const char *path, const char *name)
{
	char line[256], n[64];
	long v, found = -1;
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%63s %ld", n, &v) == 2 && !strcmp(n, name))
			found = v;
	fclose(f);
	return found;
}

static const char *const gauges[] = { "TlsCurrTxSw", "TlsCurrRxSw",
				      "KtlsTxPoolPages", "KtlsRxBuffers" };
#define NGAUGES	(sizeof(gauges) / sizeof(gauges[0]))

/* Wait up to 10 s for the gauges to drop to base[]; 0 if they do. */
static int gauges_settle(const char *path, const long *base, long *last)
{
	int tries, i, bad = 0;

	for (tries = 0; tries < 100 * scale(); tries++) {
		bad = 0;
		for (i = 0; i < (int)NGAUGES; i++) {
			last[i] = stat_read(path, gauges[i]);
			if (last[i] >= 0 && last[i] != base[i])
				bad = 1;
		}
		if (!bad)
			return 0;
		usleep(100000);
	}
	return -1;
}

/* --- one run ------------------------------------------------------------- */

struct outcome {
	int hang, splats, leak;
	long gauge[NGAUGES];
};

static const char *stat_path(int intree)
{
	return intree ? "/proc/net/tls_stat" : "/proc/net/ktls_stat";
}

/*
 * Run the pool with nthreads workers: random ops for secs (logs[] get the
 * ops) or, with replay set, the ops in logs[].  Everything is closed at
 * the end and the outcome checked.
 */
static int run_once(struct run *R, uint32_t seed, double secs,
		    struct op **logs, size_t *nlogs, int replay,
		    struct outcome *out)
{
	pthread_t wd;
	long base[NGAUGES];
	int i, kfd;
	double stop_by;

	memset(out, 0, sizeof(*out));
	if (R->wedged) {
		kt_diag("%snot run: a worker of an earlier run is still in the kernel",
			R->intree ? "intree: " : "");
		out->hang = 1;
		return -1;
	}
	for (i = 0; i < (int)NGAUGES; i++)
		base[i] = stat_read(stat_path(R->intree), gauges[i]);
	/* Gauges absent (in-tree lacks the Ktls* ones): compare nothing. */
	for (i = 0; i < (int)NGAUGES; i++)
		if (base[i] < 0)
			base[i] = -1;
	kfd = kt_kmsg_open();
	R->seed = seed;
	R->stop = 0;
	R->hang = 0;
	R->all_dumped = 0;
	R->nthreads = NTHREADS;
	memset(R->cnt, 0, sizeof(R->cnt));
	memset(R->okc, 0, sizeof(R->okc));
	memset(R->skip, 0, sizeof(R->skip));
	for (i = 0; i < NPAIRS; i++) {
		struct pair *p = &R->pool[i];

		pthread_rwlock_init(&p->lock, NULL);
		pthread_mutex_init(&p->st, NULL);
		p->fd[0] = p->fd[1] = -1;
		pair_reset(R, p, mix(seed * 131 + i));
	}
	cur_run = R;
	R->deadline = now() + secs;
	for (i = 0; i < NTHREADS; i++) {
		struct worker *w = &R->w[i];

		w->idx = i;
		w->rng.s = mix(seed * 0x9e3779b1u + i + 1) ?: 1;
		w->replay = replay;
		w->log = logs[i];
		w->nlog = replay ? nlogs[i] : 0;
		w->maxlog = MAXLOG;
		w->since = 0;
		w->hang_reported = 0;
		w->epfd = epoll_create1(EPOLL_CLOEXEC);
		KT_ASSERT(!pthread_create(&w->th, NULL, worker_fn, w));
	}
	KT_ASSERT(!pthread_create(&wd, NULL, watchdog_fn, R));
	stop_by = R->deadline + 2 * HANG_SECS * scale();
	for (i = 0; i < NTHREADS; i++) {
		struct timespec ts;
		double t;

		for (;;) {
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += 1;
			if (!pthread_timedjoin_np(R->w[i].th, NULL, &ts))
				break;
			t = now();
			if (t > stop_by) {
				/* Stuck in the kernel: report, give up. */
				R->hang = 1;
				kt_diag("%sthread %d (tid %d) still in op %s after the run",
					R->intree ? "intree: " : "", i,
					R->w[i].tid,
					ops[R->w[i].cur_type].name);
				print_stack(R->w[i].stack);
				print_tail(&R->w[i]);
				print_all_threads(R->intree ? "intree: " : "");
				out->hang = 1;
				R->stop = 1;
				pthread_join(wd, NULL);
				R->wedged = 1;
				return -1;
			}
		}
		if (!replay)
			nlogs[i] = R->w[i].nlog;
	}
	R->stop = 1;
	pthread_join(wd, NULL);
	for (i = 0; i < NTHREADS; i++)
		close(R->w[i].epfd);
	for (i = 0; i < NPAIRS; i++) {
		struct linger lg = { 1, 0 };
		int k;

		/* RST: no orphan left in FIN_WAIT to pin the module. */
		for (k = 0; k < 2; k++)
			if (R->pool[i].fd[k] >= 0) {
				setsockopt(R->pool[i].fd[k], SOL_SOCKET,
					   SO_LINGER, &lg, sizeof(lg));
				close(R->pool[i].fd[k]);
			}
		pthread_rwlock_destroy(&R->pool[i].lock);
		pthread_mutex_destroy(&R->pool[i].st);
	}
	out->hang = R->hang || R->faultinj_err;
	out->leak = gauges_settle(stat_path(R->intree), base, out->gauge) ? 1 : 0;
	/* Splats printed while the gauges settle count too. */
	out->splats = kmsg_scan(kfd, R->intree ? "intree: " : "");
	if (kfd >= 0)
		close(kfd);
	return out->hang || out->splats || out->leak ? -1 : 0;
}

static void print_counts(struct run *R, const char *prefix)
{
	unsigned long total = 0;
	int i;

	for (i = 0; i < NOPS; i++) {
		total += R->cnt[i];
		kt_diag("%sop %-17s %7lu runs %7lu ok %7lu failed %6lu skipped",
			prefix, ops[i].name, R->cnt[i], R->okc[i],
			R->cnt[i] - R->okc[i] - R->skip[i], R->skip[i]);
	}
	kt_diag("%s%lu ops in all", prefix, total);
}

static void print_outcome(const struct outcome *o, const char *prefix)
{
	kt_diag("%soutcome: %s, %d kmsg splat line(s), gauges %s (TlsCurrTxSw %ld TlsCurrRxSw %ld KtlsTxPoolPages %ld KtlsRxBuffers %ld)",
		prefix, o->hang ? "HANG" : "no hang", o->splats,
		o->leak ? "NOT back to their start" : "back to their start",
		o->gauge[0], o->gauge[1], o->gauge[2], o->gauge[3]);
}

/* --- reproducers ----------------------------------------------------------- */

static int op_by_name(const char *s)
{
	int i;

	for (i = 0; i < NOPS; i++)
		if (!strcmp(ops[i].name, s))
			return i;
	return -1;
}

/* Parse a reproducer; returns the seed or -1. */
static long repro_parse(const char *text, struct op **logs, size_t *nlogs)
{
	long seed = -1;
	const char *l = text;
	int i;

	for (i = 0; i < NTHREADS; i++)
		nlogs[i] = 0;
	while (l && *l) {
		const char *e = strchr(l, '\n');
		char line[160], name[40];
		unsigned int t, pr, sd, arg, sv;
		size_t n = e ? (size_t)(e - l) : strlen(l);

		snprintf(line, sizeof(line), "%.*s", (int)n, l);
		l = e ? e + 1 : NULL;
		if (sscanf(line, "seed %u", &sv) == 1) {
			seed = sv;
		} else if (sscanf(line, "%u %39s %u %u %x", &t, name, &pr, &sd,
				  &arg) == 5) {
			int ty = op_by_name(name);

			if (ty < 0 || t >= NTHREADS || pr >= NPAIRS || sd > 1 ||
			    nlogs[t] >= MAXLOG)
				return -1;
			logs[t][nlogs[t]++] = (struct op){ ty, pr, sd, 0, arg };
		} else if (line[0] && line[0] != '#') {
			return -1;
		}
	}
	return seed;
}

static void repro_write(FILE *f, uint32_t seed, struct op **logs,
			size_t *nlogs, const char *why)
{
	size_t k;
	int i;

	fprintf(f, "# ktls syscall fuzz reproducer: %s\n", why);
	fprintf(f, "# replayed by test_syscall_fuzz from selftests/repro-sys/*.txt\n");
	fprintf(f, "seed %u\n", seed);
	for (i = 0; i < NTHREADS; i++)
		for (k = 0; k < nlogs[i]; k++)
			fprintf(f, "%d %s %u %u %08x\n", i,
				ops[logs[i][k].type].name, logs[i][k].pair,
				logs[i][k].side, logs[i][k].arg);
}

static void repro_save(uint32_t seed, struct op **logs, size_t *nlogs,
		       const char *why)
{
	char path[64], line[256];
	struct op *tl[NTHREADS];
	size_t total = 0, tn[NTHREADS];
	int i, shown = 0;
	FILE *f;

	for (i = 0; i < NTHREADS; i++)
		total += nlogs[i];
	snprintf(path, sizeof(path), "/tmp/ktls-sysfuzz-%u.txt", seed);
	f = fopen(path, "w+");
	if (!f) {
		kt_diag("cannot write %s: %s", path, strerror(errno));
		return;
	}
	repro_write(f, seed, logs, nlogs, why);
	kt_diag("reproducer: %s, %zu ops (%s); put the sysfuzz-repro lines into selftests/repro-sys/NAME.txt",
		path, total, why);
	if (total > 390) {
		/* Too long to print: print each thread's last 90 ops. */
		fclose(f);
		for (i = 0; i < NTHREADS; i++) {
			tn[i] = nlogs[i] < 90 ? nlogs[i] : 90;
			tl[i] = logs[i] + nlogs[i] - tn[i];
		}
		snprintf(path, sizeof(path), "/tmp/ktls-sysfuzz-%u-tail.txt",
			 seed);
		f = fopen(path, "w+");
		if (!f)
			return;
		repro_write(f, seed, tl, tn, "the last 90 ops of each thread");
		kt_diag("printed: its tail, %s", path);
	}
	rewind(f);
	while (fgets(line, sizeof(line), f) && shown++ < 400)
		printf("# sysfuzz-repro: %s", line);
	if (shown > 400)
		kt_diag("(reproducer longer than 400 lines: see %s)", path);
	fflush(stdout);
	fclose(f);
}

/* A fresh ktls (WARN_ONCE armed again) when nothing pins it. */
static void reload_ktls(void)
{
	if (!kt_module_unload("ktls"))
		kt_need_ktls();
}

static struct op *alloc_log(void)
{
	struct op *l = calloc(MAXLOG, sizeof(*l));

	KT_ASSERT(l);
	return l;
}

/* Time left, and no worker stuck in the kernel (no run could start). */
static int minimise_on(const struct run *R, double until)
{
	return now() < until && !R->wedged;
}

/*
 * Best-effort shrinking for at most `secs`: replay tails of the logs,
 * then drop chunks, keeping a change while the run still fails.
 */
static void minimise(struct run *R, uint32_t seed, struct op **logs,
		     size_t *nlogs, double secs)
{
	struct op *t[NTHREADS];
	size_t tn[NTHREADS];
	double until = now() + secs;
	struct outcome o;
	size_t tail, chunk;
	int i, tries = 0;

	for (i = 0; i < NTHREADS; i++)
		t[i] = alloc_log();
	/* Tails first: a splat usually follows its cause closely. */
	for (tail = 64; tail < MAXLOG && minimise_on(R, until); tail *= 4) {
		int shorter = 0;

		for (i = 0; i < NTHREADS; i++) {
			tn[i] = nlogs[i] < tail ? nlogs[i] : tail;
			shorter |= tn[i] < nlogs[i];
			memcpy(t[i], logs[i] + nlogs[i] - tn[i],
			       tn[i] * sizeof(struct op));
		}
		if (!shorter)
			break;
		reload_ktls();
		tries++;
		if (run_once(R, seed, until - now() + 1, t, tn, 1, &o) &&
		    !o.hang) {
			for (i = 0; i < NTHREADS; i++) {
				memcpy(logs[i], t[i], tn[i] * sizeof(struct op));
				nlogs[i] = tn[i];
			}
			break;
		}
	}
	/* Then chunks of each thread's list. */
	for (chunk = 32; chunk >= 1 && minimise_on(R, until); chunk /= 2) {
		for (i = 0; i < NTHREADS && minimise_on(R, until); i++) {
			size_t at;

			for (at = 0; at < nlogs[i] && minimise_on(R, until);) {
				size_t n = nlogs[i] - at < chunk ?
					   nlogs[i] - at : chunk;
				int k;

				for (k = 0; k < NTHREADS; k++) {
					memcpy(t[k], logs[k],
					       nlogs[k] * sizeof(struct op));
					tn[k] = nlogs[k];
				}
				memmove(t[i] + at, t[i] + at + n,
					(tn[i] - at - n) * sizeof(struct op));
				tn[i] -= n;
				reload_ktls();
				tries++;
				if (run_once(R, seed, until - now() + 1, t, tn,
					     1, &o) && !o.hang) {
					memcpy(logs[i], t[i],
					       tn[i] * sizeof(struct op));
					nlogs[i] = tn[i];
				} else {
					at += n;
				}
			}
		}
		if (chunk == 1)
			break;
	}
	kt_diag("minimised in %d replays", tries);
	for (i = 0; i < NTHREADS && !R->wedged; i++)
		free(t[i]);
}

/* --- the cases ------------------------------------------------------------- */

static struct run the_run;
static int kmsg_at_start = -1;

static uint32_t fuzz_seed(void)
{
	const char *s = getenv("KTLS_SYSFUZZ_SEED");
	uint32_t v = 0;
	FILE *f;

	if (s && *s)
		return strtoul(s, NULL, 0);
	f = fopen("/dev/urandom", "r");
	if (!f || fread(&v, sizeof(v), 1, f) != 1)
		v = (uint32_t)time(NULL) ^ (uint32_t)getpid() << 16;
	if (f)
		fclose(f);
	return v;
}

static double budget(void)
{
	const char *s = getenv("KTLS_SYSFUZZ_SECS");
	double v = s && *s ? atof(s) : 45;

	return v > 0 ? v : 45;
}

static void setup_run(struct run *R, int intree)
{
	static uint8_t *pattern;

	memset(R, 0, sizeof(*R));
	R->intree = intree;
	R->memfd = memfd_create("sysfuzz", MFD_CLOEXEC);
	KT_ASSERT(R->memfd >= 0);
	pattern = malloc(FILESZ);
	KT_ASSERT(pattern);
	kt_fill_pattern(pattern, FILESZ, 77);
	KT_ASSERT_EQ(write(R->memfd, pattern, FILESZ), FILESZ);
	free(pattern);
	for (int i = 0; i < NTHREADS; i++) {
		R->w[i].sbuf = malloc(BUFSZ + TR_MAX_REC * 6);
		R->w[i].rbuf = malloc(BUFSZ);
		KT_ASSERT(R->w[i].sbuf && R->w[i].rbuf);
	}
}

/* Fresh ktls: the gauges start at 0 and WARN_ONCE is armed. */
static void load(void)
{
	/* A word run-vm.sh does not flag: the console stays clean. */
	static const char marker[] = "<4>" SELF_CHECK ": refcount_t marker, not a real one\n";
	int tries, found = 0;
	int fd, wfd;

	if (kt_module_loaded("tls"))
		KT_ASSERT_EQ(kt_module_unload("tls"), 0);
	if (kt_module_loaded("ktls"))
		KT_ASSERT_EQ(kt_module_unload("ktls"), 0);
	kt_need_ktls();
	KT_ASSERT(kt_module_loaded("ktls"));
	/* The splat scanner sees a kernel log line (this one is ours). */
	fd = kt_kmsg_open();
	wfd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);
	KT_ASSERT(fd >= 0 && wfd >= 0);
	KT_ASSERT_EQ(write(wfd, marker, strlen(marker)), strlen(marker));
	count_self_check = 1;
	/* A record is readable once complete: retry for a second. */
	for (tries = 0; tries < 20 && !found; tries++) {
		found = kmsg_scan(fd, "(expected) ");
		if (!found)
			usleep(50000);
	}
	KT_ASSERT_EQ(found, 1);
	close(wfd);
	close(fd);
}

static int replay_text(const char *name, const char *text)
{
	struct op *logs[NTHREADS];
	size_t nlogs[NTHREADS];
	struct outcome o;
	long seed;
	int i, rc = -1;

	for (i = 0; i < NTHREADS; i++)
		logs[i] = alloc_log();
	seed = repro_parse(text, logs, nlogs);
	if (seed < 0) {
		kt_diag("reproducer %s: malformed", name);
	} else {
		rc = run_once(&the_run, seed, 60, logs, nlogs, 1, &o);
		kt_diag("reproducer %s: %zu+%zu+%zu+%zu ops, %s", name,
			nlogs[0], nlogs[1], nlogs[2], nlogs[3],
			rc ? "FAILED" : "clean");
		if (rc)
			print_outcome(&o, "");
		print_counts(&the_run, "  ");
	}
	for (i = 0; i < NTHREADS && !the_run.wedged; i++)
		free(logs[i]);
	return rc;
}

/* Every reproducer of selftests/repro-sys/, built in; or one file. */
static void replay_corpus(void)
{
	const char *file = getenv("KTLS_SYSFUZZ_REPLAY");
	int i, n = 0, bad = 0;

	setup_run(&the_run, 0);
	if (file && *file) {
		static char text[MAXLOG * 40];
		FILE *f = fopen(file, "r");
		size_t len;

		KT_ASSERT(f);
		len = fread(text, 1, sizeof(text) - 1, f);
		fclose(f);
		text[len] = 0;
		bad += !!replay_text(file, text);
		n++;
	}
	for (i = 0; repro_sys_corpus[i].name; i++, n++)
		bad += !!replay_text(repro_sys_corpus[i].name,
				     repro_sys_corpus[i].text);
	kt_diag("%d reproducers replayed, %d failed", n, bad);
	KT_ASSERT_EQ(bad, 0);
	KT_ASSERT(n > 0);
}

static void fuzz(int intree, double secs)
{
	const char *pre = intree ? "intree: " : "";
	struct op *logs[NTHREADS];
	size_t nlogs[NTHREADS];
	uint32_t seed = fuzz_seed();
	struct outcome o;
	char why[160];
	int i, rc;

	setup_run(&the_run, intree);
	for (i = 0; i < NTHREADS; i++)
		logs[i] = alloc_log();
	kt_diag("%sseed %u (KTLS_SYSFUZZ_SEED=%u reproduces the op lists), %.0f s, %d threads, %d pairs",
		pre, seed, seed, secs, NTHREADS, NPAIRS);
	rc = run_once(&the_run, seed, secs, logs, nlogs, 0, &o);
	print_counts(&the_run, pre);
	print_outcome(&o, pre);
	if (!rc || intree)
		return;
	snprintf(why, sizeof(why), "seed %u: %s%s%s", seed,
		 o.hang ? "hang " : "", o.splats ? "kmsg splat " : "",
		 o.leak ? "gauges not back to 0" : "");
	if (!o.hang)
		minimise(&the_run, seed, logs, nlogs, 60);
	repro_save(seed, logs, nlogs, why);
	KT_FAIL("fuzz run failed: %s", why);
}

static void fuzz_ktls_ipv4_ipv6(void)
{
	KT_ASSERT(kt_module_loaded("ktls"));
	fuzz(0, budget() * 3 / 4);
}

/* Everything the kernel logged since the program started. */
static void kmsg_clean(void)
{
	KT_ASSERT(kmsg_at_start >= 0);
	KT_ASSERT_EQ(kmsg_scan(kmsg_at_start, ""), 0);
}

static void gauges_zero(void)
{
	static const long zero[NGAUGES];
	long last[NGAUGES];

	if (gauges_settle("/proc/net/ktls_stat", zero, last))
		KT_FAIL("gauges not 0: TlsCurrTxSw %ld TlsCurrRxSw %ld KtlsTxPoolPages %ld KtlsRxBuffers %ld",
			last[0], last[1], last[2], last[3]);
	KT_ASSERT_EQ(stat_read("/proc/net/ktls_stat", "TlsCurrTxSw"), 0);
}

static void print_file(const char *path, const char *what)
{
	char line[256];
	FILE *f = fopen(path, "r");

	while (f && fgets(line, sizeof(line), f))
		kt_diag("%s: %.*s", what, (int)strcspn(line, "\n"), line);
	if (f)
		fclose(f);
}

/* TCP sockets per state (hex st column of /proc/net/tcp{,6}); total. */
static unsigned int print_tcp_states(void)
{
	static const char *const files[] = { "/proc/net/tcp", "/proc/net/tcp6" };
	unsigned int st, n[16] = { 0 };
	char line[512];
	int i;

	for (i = 0; i < 2; i++) {
		FILE *f = fopen(files[i], "r");

		while (f && fgets(line, sizeof(line), f))
			if (sscanf(line, "%*s %*s %*s %x", &st) == 1 && st < 16)
				n[st]++;
		if (f)
			fclose(f);
	}
	for (st = 0, i = 1; i < 12; i++)
		if (n[i]) {
			kt_diag("tcp sockets in state %d: %u", i, n[i]);
			st += n[i];
		}
	return st;
}

/*
 * An orphaned TCP socket (closed mid-run with a FIN) keeps its ULP's
 * module until TCP is done with it, in-tree too: wait for those, but the
 * module must go once no TCP socket is left.
 */
static void rmmod_ok(void)
{
	int rc = kt_module_unload("ktls"), waited = 5, idle = 0;

	if (rc) {
		print_file("/sys/module/ktls/refcnt", "ktls refcnt");
		print_file("/proc/net/sockstat", "sockstat");
		print_file("/proc/net/sockstat6", "sockstat6");
		while (rc && waited < 65 && idle < 2) {
			idle = print_tcp_states() ? 0 : idle + 1;
			sleep(5);
			waited += 5;
			rc = kt_module_unload("ktls");
		}
		print_file("/sys/module/ktls/refcnt", "ktls refcnt now");
		if (rc)
			KT_FAIL("rmmod ktls: %s after %d s%s", strerror(-rc),
				waited, idle ? " with no TCP socket left" : "");
		kt_diag("rmmod ktls ok after %d s: orphaned TCP sockets held it",
			waited);
	}
	KT_ASSERT(!kt_module_loaded("ktls"));
}

/* The same fuzzing against in-tree tls.ko: reported, never a failure. */
static void intree(void)
{
	int rc;

	if (kt_module_loaded("ktls") && kt_module_unload("ktls"))
		KT_SKIP("ktls still loaded: cannot load in-tree tls.ko beside it");
	rc = kt_intree_load();
	if (rc)
		KT_SKIP("cannot load in-tree tls.ko: %s", strerror(-rc));
	setenv("KTLS_ULP", "tls", 1);
	fuzz(1, budget() / 4);
	rc = kt_module_unload("tls");
	kt_diag("intree: rmmod tls %s", rc ? strerror(-rc) : "ok");
	if (rc) {
		int waited = 5;

		print_file("/sys/module/tls/refcnt", "intree: tls refcnt");
		print_file("/proc/net/sockstat", "intree: sockstat");
		while (rc && waited < 65) {
			print_tcp_states();
			sleep(5);
			waited += 5;
			rc = kt_module_unload("tls");
		}
		kt_diag("intree: rmmod tls %s after %d s",
			rc ? strerror(-rc) : "ok", waited);
	}
	/* The in-tree findings are the report; the phase does not fail. */
}

/*
 * Host-side helper: test_syscall_fuzz --gen SEED SECS N runs the fuzzer
 * for SECS seconds on whatever "tls" the running kernel has (none is
 * fine) and prints the first N ops of each thread as a reproducer, e.g.
 * to seed selftests/repro-sys/.
 */
static int gen(uint32_t seed, double secs, size_t n)
{
	struct op *logs[NTHREADS];
	size_t nlogs[NTHREADS];
	struct outcome o;
	int i;

	setup_run(&the_run, 1);
	for (i = 0; i < NTHREADS; i++)
		logs[i] = alloc_log();
	run_once(&the_run, seed, secs, logs, nlogs, 0, &o);
	print_counts(&the_run, "");
	print_outcome(&o, "");
	for (i = 0; i < NTHREADS; i++)
		if (nlogs[i] > n)
			nlogs[i] = n;
	repro_write(stdout, seed, logs, nlogs, "generated");
	return 0;
}

int main(int argc, char **argv)
{
	static const struct kt_case cases[] = {
		KT_CASE(load),
		KT_CASE_T(replay_corpus, 300),
		KT_CASE_T(fuzz_ktls_ipv4_ipv6, 600),
		KT_CASE(kmsg_clean),
		KT_CASE(gauges_zero),
		KT_CASE(rmmod_ok),
		KT_CASE_T(intree, 600),
	};

	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	if (argc == 5 && !strcmp(argv[1], "--gen"))
		return gen(strtoul(argv[2], NULL, 0), atof(argv[3]),
			   strtoul(argv[4], NULL, 0));
	kmsg_at_start = kt_kmsg_open();
	return kt_run("syscall_fuzz", cases, sizeof(cases) / sizeof(cases[0]));
}
