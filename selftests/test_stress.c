// SPDX-License-Identifier: GPL-2.0
/*
 * Stress: full-duplex traffic on many kTLS sockets at once, concurrent
 * readers on one socket, close()/shutdown() racing blocked reads and
 * writes, sockets closed with open records and queued data, rmmod while
 * sockets are alive (refused) and after they are gone (succeeds), and
 * hundreds of short connections through the libktls handshake.
 *
 * Bounded for TCG: $KTLS_STRESS_CONNS connections (default 300) and a few
 * seconds per case.  Run it under the debug kernel (make check-debug) to
 * have KASAN, lockdep and kmemleak watch.  Ends with ktls loaded as "tls".
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
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "harness.h"
#include "ktls.h"
#include "util.h"

#define TLS12	TLS_1_2_VERSION
#define TLS13	TLS_1_3_VERSION

static void set_timeouts(int fd, int sec)
{
	struct timeval tv = { sec, 0 };

	KT_ASSERT_OK(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)));
	KT_ASSERT_OK(setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)));
}

/* A connected pair with TX and RX on both ends (keys crosswise). */
static void tls_pair(uint16_t version, uint16_t cipher, int *a, int *b)
{
	kt_tcp_pair(AF_INET, a, b);
	kt_install(*a, TLS_TX, version, cipher, 1);
	kt_install(*b, TLS_RX, version, cipher, 1);
	kt_install(*b, TLS_TX, version, cipher, 2);
	kt_install(*a, TLS_RX, version, cipher, 2);
}

static uint16_t nth_cipher(unsigned int i)
{
	return kt_ciphers[i % kt_n_ciphers].type;
}

/* --- full duplex on many sockets --------------------------------------- */

struct stream {
	int fd;
	unsigned int seed;
	size_t total;
	int err;
	char why[160];
};

static void *writer_fn(void *arg)
{
	struct stream *s = arg;
	static __thread unsigned char buf[20000];
	size_t off = 0;
	unsigned int i = 0;

	while (off < s->total) {
		size_t n = 1 + (s->seed * 7 + i++ * 7919) % sizeof(buf);
		ssize_t w;

		if (n > s->total - off)
			n = s->total - off;
		/* The pattern depends on the stream offset only. */
		for (size_t j = 0; j < n; j++)
			buf[j] = (unsigned char)((off + j) * 31 + s->seed);
		/* The last piece closes the record: shutdown does not. */
		w = send(s->fd, buf, n,
			 i % 3 || off + n == s->total ? 0 : MSG_MORE);
		if (w <= 0) {
			s->err = errno;
			snprintf(s->why, sizeof(s->why), "send at %zu: %s",
				 off, strerror(errno));
			return NULL;
		}
		off += w;
	}
	if (shutdown(s->fd, SHUT_WR)) {
		s->err = errno;
		snprintf(s->why, sizeof(s->why), "shutdown: %s",
			 strerror(errno));
	}
	return NULL;
}

static void *reader_fn(void *arg)
{
	struct stream *s = arg;
	static __thread unsigned char buf[30000];
	size_t off = 0;

	for (;;) {
		ssize_t r = recv(s->fd, buf, 1 + off % sizeof(buf), 0);

		if (r == 0)
			break;
		if (r < 0) {
			s->err = errno;
			snprintf(s->why, sizeof(s->why), "recv at %zu: %s",
				 off, strerror(errno));
			return NULL;
		}
		for (ssize_t j = 0; j < r; j++)
			if (buf[j] != (unsigned char)((off + j) * 31 +
						      s->seed)) {
				s->err = EBADMSG;
				snprintf(s->why, sizeof(s->why),
					 "byte %zu differs", off + j);
				return NULL;
			}
		off += r;
	}
	if (off != s->total) {
		s->err = EPROTO;
		snprintf(s->why, sizeof(s->why), "EOF after %zu of %zu bytes",
			 off, s->total);
	}
	return NULL;
}

#define NPAIRS	6

static void full_duplex(void)
{
	struct stream st[NPAIRS * 4];
	pthread_t th[NPAIRS * 4];
	int fds[NPAIRS * 2], i;

	for (i = 0; i < NPAIRS; i++) {
		int a, b;

		tls_pair(i % 2 ? TLS13 : TLS12, nth_cipher(i), &a, &b);
		set_timeouts(a, 20);
		set_timeouts(b, 20);
		fds[2 * i] = a;
		fds[2 * i + 1] = b;
		/* a->b and b->a at once: a reader and a writer per socket. */
		st[4 * i] = (struct stream){ .fd = a, .seed = i * 4 + 1,
					     .total = 300000 };
		st[4 * i + 1] = (struct stream){ .fd = b, .seed = i * 4 + 1,
						 .total = 300000 };
		st[4 * i + 2] = (struct stream){ .fd = b, .seed = i * 4 + 2,
						 .total = 200000 };
		st[4 * i + 3] = (struct stream){ .fd = a, .seed = i * 4 + 2,
						 .total = 200000 };
	}
	for (i = 0; i < NPAIRS * 4; i++)
		KT_ASSERT_EQ(pthread_create(&th[i], NULL,
					    i % 2 ? reader_fn : writer_fn,
					    &st[i]), 0);
	for (i = 0; i < NPAIRS * 4; i++)
		pthread_join(th[i], NULL);
	for (i = 0; i < NPAIRS * 4; i++)
		if (st[i].err)
			KT_FAIL("stream %d: %s", i, st[i].why);
	for (i = 0; i < NPAIRS * 2; i++)
		close(fds[i]);
}

/* --- two readers on one socket ------------------------------------------ */

struct hist_reader {
	int fd;
	unsigned long count[256];
	size_t bytes;
	int err;
};

static void *hist_fn(void *arg)
{
	struct hist_reader *h = arg;
	unsigned char buf[3000];

	for (;;) {
		ssize_t r = recv(h->fd, buf, 1 + h->bytes % sizeof(buf), 0);

		if (r <= 0) {
			h->err = r ? errno : 0;
			return NULL;
		}
		for (ssize_t j = 0; j < r; j++)
			h->count[buf[j]]++;
		h->bytes += r;
	}
}

/* Nothing lost, nothing doubled: the byte histograms add up. */
static void two_readers(void)
{
	static unsigned char buf[1 << 20];
	static struct hist_reader h[2];
	unsigned long want[256] = { 0 };
	pthread_t th[2];
	size_t off;
	int a, b, i, v;

	tls_pair(TLS13, TLS_CIPHER_AES_GCM_128, &a, &b);
	set_timeouts(b, 20);
	kt_fill_pattern(buf, sizeof(buf), 3);
	for (off = 0; off < sizeof(buf); off++)
		want[buf[off]]++;
	for (i = 0; i < 2; i++) {
		h[i].fd = b;
		KT_ASSERT_EQ(pthread_create(&th[i], NULL, hist_fn, &h[i]), 0);
	}
	for (off = 0; off < sizeof(buf);) {
		size_t n = 1 + (off * 13) % 40000;

		if (n > sizeof(buf) - off)
			n = sizeof(buf) - off;
		kt_write_all(a, buf + off, n);
		off += n;
	}
	KT_ASSERT_OK(shutdown(a, SHUT_WR));
	for (i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	KT_ASSERT_EQ(h[0].err, 0);
	KT_ASSERT_EQ(h[1].err, 0);
	KT_ASSERT_EQ(h[0].bytes + h[1].bytes, sizeof(buf));
	for (v = 0; v < 256; v++)
		if (h[0].count[v] + h[1].count[v] != want[v])
			KT_FAIL("byte value %d: %lu received, %lu sent", v,
				h[0].count[v] + h[1].count[v], want[v]);
	close(a);
	close(b);
}

/* --- close()/shutdown() racing blocked I/O ------------------------------ */

struct blocked {
	int fd, write;
	ssize_t ret;
	int err;
	volatile int done;
};

static void *blocked_fn(void *arg)
{
	struct blocked *b = arg;
	static __thread unsigned char buf[65536];

	if (b->write) {
		/* Until the peer's window and our buffer are full. */
		do {
			b->ret = send(b->fd, buf, sizeof(buf), 0);
		} while (b->ret > 0);
	} else {
		b->ret = recv(b->fd, buf, sizeof(buf), 0);
	}
	b->err = b->ret < 0 ? errno : 0;
	b->done = 1;
	return NULL;
}

static int wait_done(struct blocked *b, int ms)
{
	while (!b->done && ms-- > 0)
		usleep(1000);
	return b->done;
}

/* A peer's FIN or RST may have closed the socket already. */
static void shutdown_ok(int fd, int how)
{
	if (shutdown(fd, how) && errno != ENOTCONN)
		KT_FAIL("shutdown(%d): %s", how, strerror(errno));
}

/* Fill the send path (peer not reading) so the next send blocks. */
static void prefill(int fd)
{
	static unsigned char buf[65536];

	while (send(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
	KT_ASSERT(errno == EAGAIN);
}

/* How the racing end is ended; i picks one. */
static void end_socket(int i, int fd, int peer)
{
	struct linger lg = { 1, 0 };

	switch (i % 4) {
	case 0:
		KT_ASSERT_OK(shutdown(fd, SHUT_RDWR));
		break;
	case 1:
		KT_ASSERT_OK(shutdown(fd, i % 8 < 4 ? SHUT_RD : SHUT_WR));
		KT_ASSERT_OK(shutdown(fd, SHUT_RDWR));
		break;
	case 2:	/* peer FIN (RST if data arrives after it) */
		KT_ASSERT_OK(shutdown(peer, SHUT_RDWR));
		shutdown_ok(fd, SHUT_RDWR);
		break;
	default: /* peer RST */
		KT_ASSERT_OK(setsockopt(peer, SOL_SOCKET, SO_LINGER, &lg,
					sizeof(lg)));
		KT_ASSERT_OK(shutdown(peer, SHUT_RDWR));
		shutdown_ok(fd, SHUT_RDWR);
		break;
	}
}

static void shutdown_races(void)
{
	int i;

	for (i = 0; i < 80; i++) {
		struct blocked b = { 0 };
		pthread_t th;
		int a, c;

		tls_pair(i % 3 ? TLS13 : TLS12, nth_cipher(i), &a, &c);
		set_timeouts(a, 10);
		b.fd = a;
		b.write = i % 2;
		if (b.write)
			prefill(a);
		KT_ASSERT_EQ(pthread_create(&th, NULL, blocked_fn, &b), 0);
		/* Sometimes before it blocks, mostly while it is blocked. */
		usleep(i % 5 ? 20000 + (i % 7) * 3000 : 0);
		end_socket(i / 2, a, c);
		if (!wait_done(&b, 8000))
			KT_FAIL("iteration %d: blocked %s did not return", i,
				b.write ? "send" : "recv");
		pthread_join(th, NULL);
		if (b.write) {
			if (b.ret >= 0 || (b.err != EPIPE &&
					   b.err != ECONNRESET))
				KT_FAIL("iteration %d: send returned %zd errno %d",
					i, b.ret, b.err);
		} else if (b.ret != 0 && !(b.ret < 0 && b.err == ECONNRESET)) {
			KT_FAIL("iteration %d: recv returned %zd errno %d", i,
				b.ret, b.err);
		}
		close(a);
		close(c);
	}
}

/*
 * close() of the last reference while a thread is blocked: the blocked
 * call keeps the file alive, so it must still end when the peer goes.
 */
static void close_races(void)
{
	int i, entered = 0;

	for (i = 0; i < 40; i++) {
		struct blocked b = { 0 };
		pthread_t th;
		int a, c;

		tls_pair(i % 2 ? TLS13 : TLS12, nth_cipher(i + 1), &a, &c);
		set_timeouts(a, 10);
		b.fd = a;
		b.write = i % 2;
		if (b.write)
			prefill(a);
		KT_ASSERT_EQ(pthread_create(&th, NULL, blocked_fn, &b), 0);
		usleep(i % 4 ? 30000 : 0);
		close(a);
		if (i % 3 == 0) {
			struct linger lg = { 1, 0 };

			KT_ASSERT_OK(setsockopt(c, SOL_SOCKET, SO_LINGER, &lg,
						sizeof(lg)));
		}
		close(c);
		if (!wait_done(&b, 12000))
			KT_FAIL("iteration %d: blocked %s did not return", i,
				b.write ? "send" : "recv");
		pthread_join(th, NULL);
		/* EBADF: close() won the race, the call never started. */
		if (b.ret < 0 && b.err == EBADF)
			continue;
		entered++;
		/* The file lived on in the blocked call; now it is gone. */
		if (b.write ? b.ret >= 0 || (b.err != EPIPE &&
					     b.err != ECONNRESET) :
			      b.ret != 0 && b.err != ECONNRESET)
			KT_FAIL("iteration %d: %s returned %zd errno %d", i,
				b.write ? "send" : "recv", b.ret, b.err);
	}
	kt_diag("%d of 40 calls were blocked when their fd was closed",
		entered);
	KT_ASSERT(entered >= 20);
}

/* --- sockets closed with state inside ----------------------------------- */

static void close_with_state(void)
{
	static unsigned char buf[100000];
	int i;

	kt_fill_pattern(buf, sizeof(buf), 5);
	for (i = 0; i < 120; i++) {
		int a, b, flags = MSG_DONTWAIT;

		tls_pair(i % 2 ? TLS13 : TLS12, nth_cipher(i), &a, &b);
		switch (i % 6) {
		case 0:	/* an open record (MSG_MORE) */
			KT_ASSERT_EQ(send(a, buf, 100, MSG_MORE), 100);
			break;
		case 1:	/* records queued, undecrypted, at the reader */
			kt_write_all(a, buf, 50000);
			break;
		case 2:	/* a record half read */
			kt_write_all(a, buf, 5000);
			kt_read_all(b, buf + 50000, 100);
			break;
		case 3:	/* both ways, and half a record in TCP */
			kt_write_all(a, buf, 3000);
			kt_write_all(b, buf, 3000);
			send(a, buf, 20000, flags | MSG_MORE);
			break;
		case 4:	/* the send buffer full: nobody reads */
			while (send(a, buf, sizeof(buf), flags) > 0)
				;
			break;
		default: /* peeked, not read */
			kt_write_all(a, buf, 1000);
			usleep(2000);
			recv(b, buf + 50000, 500, MSG_PEEK);
			break;
		}
		/* Either end first, sometimes with a reset. */
		if (i % 4 == 3) {
			struct linger lg = { 1, 0 };

			KT_ASSERT_OK(setsockopt(a, SOL_SOCKET, SO_LINGER, &lg,
						sizeof(lg)));
		}
		if (i % 2) {
			close(a);
			close(b);
		} else {
			close(b);
			close(a);
		}
	}
}

/* --- rmmod while sockets are alive ------------------------------------- */

static int try_rmmod(void)
{
	errno = 0;
	if (!syscall(SYS_delete_module, "ktls", O_NONBLOCK))
		return 0;
	return errno;
}

static void rmmod_refused(void)
{
	struct blocked b = { 0 };
	pthread_t th;
	int a, c, l, e;

	/* Only the ULP attached. */
	kt_tcp_pair(AF_INET, &a, &l);
	KT_ASSERT_OK(kt_attach(a));
	e = try_rmmod();
	if (e != EWOULDBLOCK && e != EBUSY)
		KT_FAIL("rmmod with a ULP socket: %s", e ? strerror(e) :
			"succeeded");
	close(a);
	close(l);

	/* Keys installed and a reader blocked in the module. */
	tls_pair(TLS13, TLS_CIPHER_AES_GCM_256, &a, &c);
	set_timeouts(a, 20);
	b.fd = a;
	KT_ASSERT_EQ(pthread_create(&th, NULL, blocked_fn, &b), 0);
	usleep(30000);
	for (l = 0; l < 5; l++) {
		e = try_rmmod();
		if (e != EWOULDBLOCK && e != EBUSY)
			KT_FAIL("rmmod with a blocked reader: %s",
				e ? strerror(e) : "succeeded");
	}
	KT_ASSERT(kt_module_loaded("ktls"));
	kt_write_all(c, "ping", 4);
	KT_ASSERT(wait_done(&b, 8000));
	pthread_join(th, NULL);
	KT_ASSERT_EQ(b.ret, 4);
	close(a);
	close(c);

	/* Closed: the module goes (after RCU), then comes back as "tls". */
	KT_ASSERT_EQ(kt_module_unload("ktls"), 0);
	KT_ASSERT(!kt_module_loaded("ktls"));
	kt_need_ktls();
	KT_ASSERT(kt_module_loaded("ktls"));
}

/* After every case above: no socket may still pin the module. */
static void module_unpinned(void)
{
	KT_ASSERT_EQ(kt_module_unload("ktls"), 0);
	kt_need_ktls();
}

/* --- short connections through the libktls handshake ------------------- */

struct conn_srv {
	int listen_fd, n, err;
	SSL_CTX *ctx;
	char why[KTLS_ERR_LEN + 64];
};

static void echo_one(struct ktls_session *s, int server, int i, char *why,
		     size_t whylen)
{
	char msg[64], got[64];
	int len = snprintf(msg, sizeof(msg), "connection %d says hello", i);
	ssize_t r;

	if (server) {
		r = ktls_recv(s, got, sizeof(got));
		if (r != len || memcmp(got, msg, len)) {
			snprintf(why, whylen, "server %d got %zd bytes: %s", i,
				 r, r < 0 ? ktls_errmsg(s) : "wrong");
			return;
		}
		if (write(ktls_session_fd(s), got, r) != r)
			snprintf(why, whylen, "server write: %s",
				 strerror(errno));
		return;
	}
	if (write(ktls_session_fd(s), msg, len) != len) {
		snprintf(why, whylen, "client write: %s", strerror(errno));
		return;
	}
	r = ktls_recv(s, got, sizeof(got));
	if (r != len || memcmp(got, msg, len))
		snprintf(why, whylen, "client %d got %zd bytes back: %s", i, r,
			 r < 0 ? ktls_errmsg(s) : "wrong");
}

static void *conn_server(void *arg)
{
	struct conn_srv *cs = arg;
	struct ktls_opts o = { .timeout_ms = 20000 };
	int i;

	for (i = 0; i < cs->n && !cs->why[0]; i++) {
		struct ktls_session *s = ktls_session_new();
		int fd = accept(cs->listen_fd, NULL, NULL);

		if (fd < 0 || !s) {
			snprintf(cs->why, sizeof(cs->why), "accept: %s",
				 strerror(errno));
			ktls_session_free(s);
			break;
		}
		if (ktls_handshake(s, cs->ctx, fd, 1, &o)) {
			snprintf(cs->why, sizeof(cs->why), "server %d: %s", i,
				 ktls_errmsg(s));
			ktls_session_free(s);
			close(fd);
			break;
		}
		echo_one(s, 1, i, cs->why, sizeof(cs->why));
		/* Some vanish without close_notify, keys still in place. */
		if (i % 5 == 4) {
			ktls_wipe(s);
			close(fd);
		} else {
			ktls_close(s);
		}
		ktls_session_free(s);
	}
	return NULL;
}

static void short_connections(void)
{
	const char *env = getenv("KTLS_STRESS_CONNS");
	int n = env && *env ? atoi(env) : 300;
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	struct conn_srv cs = { .n = n };
	struct ktls_opts o = { .timeout_ms = 20000 };
	char err[KTLS_ERR_LEN], why[KTLS_ERR_LEN + 64] = "";
	SSL_CTX *cctx[2];
	pthread_t th;
	int i;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cs.listen_fd = socket(AF_INET, SOCK_STREAM, 0);
	KT_ASSERT(cs.listen_fd >= 0);
	KT_ASSERT_OK(bind(cs.listen_fd, (struct sockaddr *)&sa, sizeof(sa)));
	KT_ASSERT_OK(listen(cs.listen_fd, 64));
	KT_ASSERT_OK(getsockname(cs.listen_fd, (struct sockaddr *)&sa, &sl));
	cs.ctx = ktls_ctx_new(1, NULL, NULL, err, sizeof(err));
	if (!cs.ctx)
		KT_FAIL("server ctx: %s", err);
	/* Clients alternate TLS 1.3 and 1.2. */
	for (i = 0; i < 2; i++) {
		cctx[i] = ktls_ctx_new(0, NULL, NULL, err, sizeof(err));
		if (!cctx[i])
			KT_FAIL("client ctx: %s", err);
	}
	KT_ASSERT(SSL_CTX_set_max_proto_version(cctx[1], TLS1_2_VERSION));
	KT_ASSERT_EQ(pthread_create(&th, NULL, conn_server, &cs), 0);
	for (i = 0; i < n && !why[0] && !cs.why[0]; i++) {
		struct ktls_session *s = ktls_session_new();
		int fd = socket(AF_INET, SOCK_STREAM, 0);

		KT_ASSERT(fd >= 0 && s);
		set_timeouts(fd, 20);
		KT_ASSERT_OK(connect(fd, (struct sockaddr *)&sa, sizeof(sa)));
		if (ktls_handshake(s, cctx[i % 2], fd, 0, &o)) {
			snprintf(why, sizeof(why), "client %d: %s", i,
				 ktls_errmsg(s));
			ktls_session_free(s);
			close(fd);
			break;
		}
		if (!ktls_session_kernel(s, 1) || !ktls_session_kernel(s, 0)) {
			snprintf(why, sizeof(why), "client %d: keys not installed",
				 i);
			ktls_session_free(s);
			close(fd);
			break;
		}
		echo_one(s, 0, i, why, sizeof(why));
		ktls_close(s);
		ktls_session_free(s);
	}
	if (why[0] || cs.why[0])
		shutdown(cs.listen_fd, SHUT_RDWR);
	pthread_join(th, NULL);
	close(cs.listen_fd);
	if (why[0])
		KT_FAIL("%s", why);
	if (cs.why[0])
		KT_FAIL("%s", cs.why);
	kt_diag("%d connections: handshake, echo, close", n);
	SSL_CTX_free(cs.ctx);
	SSL_CTX_free(cctx[0]);
	SSL_CTX_free(cctx[1]);
}

static void load(void)
{
	kt_need_ktls();
	KT_ASSERT(kt_module_loaded("ktls"));
}

int main(void)
{
	static const struct kt_case cases[] = {
		KT_CASE(load),
		KT_CASE_T(full_duplex, 240),
		KT_CASE_T(two_readers, 120),
		KT_CASE_T(shutdown_races, 240),
		KT_CASE_T(close_races, 300),
		KT_CASE_T(close_with_state, 240),
		KT_CASE(module_unpinned),
		KT_CASE_T(rmmod_refused, 120),
		KT_CASE_T(short_connections, 600),
		KT_CASE(module_unpinned),
	};

	setvbuf(stdout, NULL, _IOLBF, 0);
	kt_need_ktls();
	return kt_run("stress", cases, sizeof(cases) / sizeof(cases[0]));
}
