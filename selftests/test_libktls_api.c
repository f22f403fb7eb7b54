// SPDX-License-Identifier: GPL-2.0
/*
 * libktls as a library (issue 17), over ktls in the VM:
 *  tickets_*:        post-handshake tickets in one record and across records;
 *  nonblocking_1000: 1,000 concurrent ktls_handshake_step() handshakes from
 *                    one epoll thread against a farm of OpenSSL clients;
 *  err_*:            every reachable enum ktls_error, with its message;
 *  fallback_*:       no ULP: the session carries on in userspace OpenSSL;
 *  keyupdate_*:      one sender and one receiver thread per end, both ways
 *                    busy, KeyUpdates answered by the receiving thread;
 *  secrets_*:        what the session still holds after the handover.
 */
#define _GNU_SOURCE	/* accept4 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <ktls.h>
#include "harness.h"
#include "util.h"

/* ---- a plain OpenSSL peer in a thread ---- */

struct peer {
	int fd, server, tls13;
	const char *suites;	/* TLS 1.3 suites, NULL: defaults */
	SSL_CTX *ctx;
	SSL *ssl;
	pthread_t thr;
	void (*job)(struct peer *p);
	char err[256];
	unsigned char *buf;
	size_t len;
};

static SSL_CTX *peer_ctx(int server, int tls13, const char *suites)
{
	char err[KTLS_ERR_LEN];
	SSL_CTX *ctx = ktls_ctx_new(server, NULL, NULL, err, sizeof(err));

	if (!ctx)
		KT_FAIL("peer ctx: %s", err);
	KT_ASSERT(SSL_CTX_set_min_proto_version(ctx, tls13 ? TLS1_3_VERSION :
						 TLS1_2_VERSION));
	KT_ASSERT(SSL_CTX_set_max_proto_version(ctx, tls13 ? TLS1_3_VERSION :
						 TLS1_2_VERSION));
	if (suites)
		KT_ASSERT(SSL_CTX_set_ciphersuites(ctx, suites));
	return ctx;
}

static void *peer_main(void *arg)
{
	struct peer *p = arg;
	int rc;

	p->ssl = SSL_new(p->ctx);
	SSL_set_fd(p->ssl, p->fd);
	rc = p->server ? SSL_accept(p->ssl) : SSL_connect(p->ssl);
	if (rc != 1) {
		snprintf(p->err, sizeof(p->err), "peer handshake: %s",
			 ERR_reason_error_string(ERR_get_error()));
		return NULL;
	}
	if (p->job)
		p->job(p);
	return NULL;
}

static void peer_start(struct peer *p, int fd, int server, int tls13,
		       void (*job)(struct peer *p))
{
	struct timeval tv = { 60, 0 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	p->fd = fd;
	p->server = server;
	p->tls13 = tls13;
	p->job = job;
	p->ctx = peer_ctx(server, tls13, p->suites);
	KT_ASSERT_EQ(pthread_create(&p->thr, NULL, peer_main, p), 0);
}

static void peer_join(struct peer *p)
{
	pthread_join(p->thr, NULL);
	if (p->err[0])
		KT_FAIL("%s", p->err);
}

static SSL_CTX *our_ctx(int server)
{
	char err[KTLS_ERR_LEN];
	SSL_CTX *ctx = ktls_ctx_new(server, NULL, NULL, err, sizeof(err));

	if (!ctx)
		KT_FAIL("ctx: %s", err);
	return ctx;
}

/* ---- tickets after the handover ---- */

/* A NewSessionTicket of n bytes in all (RFC 8446 4.6.1 layout). */
static size_t make_ticket(unsigned char *m, size_t n, unsigned char seed)
{
	size_t body = n - 4, tl = body - 4 - 4 - 2 - 2 - 2;

	memset(m, seed, n);
	m[0] = 4;
	m[1] = 0;
	m[2] = (unsigned char)(body >> 8);
	m[3] = (unsigned char)body;
	m[12] = 1;			/* nonce length 1 (m[13]) */
	m[14] = (unsigned char)(tl >> 8);
	m[15] = (unsigned char)tl;
	m[n - 2] = 0;			/* no extensions */
	m[n - 1] = 0;
	return n;
}

struct lib_end {
	struct ktls_session s;
	struct ktls_opts o;
	SSL_CTX *ctx;
	int fd, server, rc;
	pthread_t thr;
};

static void *lib_end_main(void *arg)
{
	struct lib_end *e = arg;

	e->rc = ktls_handshake(&e->s, e->ctx, e->fd, e->server, &e->o);
	return NULL;
}

static void lib_pair(struct lib_end *srv, struct lib_end *cl)
{
	int c, sv;

	kt_tcp_pair(AF_INET, &c, &sv);
	srv->fd = sv;
	srv->server = 1;
	srv->ctx = our_ctx(1);
	srv->o.timeout_ms = 60000;
	cl->fd = c;
	cl->ctx = our_ctx(0);
	cl->o.timeout_ms = 60000;
	KT_ASSERT_EQ(pthread_create(&srv->thr, NULL, lib_end_main, srv), 0);
	KT_ASSERT_EQ(pthread_create(&cl->thr, NULL, lib_end_main, cl), 0);
	pthread_join(srv->thr, NULL);
	pthread_join(cl->thr, NULL);
	if (srv->rc)
		KT_FAIL("server: %s", srv->s.err);
	if (cl->rc)
		KT_FAIL("client: %s", cl->s.err);
}

/*
 * The server's three OpenSSL tickets (counted: rec_seq TX 3), then two
 * tickets in one record and one split across two records, then data: the
 * client's ktls_recv consumes the tickets and returns exactly the data.
 */
static void tickets_in_one_record_and_across_records(void)
{
	static const char data[] = "data after five tickets";
	struct lib_end srv = { .o.num_tickets = 3 }, cl = { 0 };
	unsigned char rec[512], buf[64];
	size_t n;

	lib_pair(&srv, &cl);
	KT_ASSERT_EQ(srv.s.version, TLS_1_3_VERSION);
	KT_ASSERT_EQ(srv.s.rec_tx, 3);
	KT_ASSERT_EQ(srv.s.rec_rx, 0);
	KT_ASSERT_EQ(cl.s.rec_tx, 0);
	KT_ASSERT_EQ(cl.s.rec_rx, 0);
	n = make_ticket(rec, 60, 0x11);
	n += make_ticket(rec + n, 90, 0x22);
	KT_ASSERT_EQ(kt_send_type(srv.s.fd, 22, rec, n, 0), (ssize_t)n);
	n = make_ticket(rec, 200, 0x33);
	KT_ASSERT_EQ(kt_send_type(srv.s.fd, 22, rec, 7, 0), 7);
	KT_ASSERT_EQ(kt_send_type(srv.s.fd, 22, rec + 7, n - 7, 0),
		     (ssize_t)(n - 7));
	KT_ASSERT_EQ(ktls_send(&srv.s, data, sizeof(data)),
		     (ssize_t)sizeof(data));
	n = 0;
	while (n < sizeof(data)) {
		ssize_t r = ktls_recv(&cl.s, buf + n, sizeof(buf) - n);

		if (r <= 0)
			KT_FAIL("ktls_recv: %zd %s %s", r, strerror(errno),
				cl.s.err);
		n += (size_t)r;
	}
	KT_ASSERT_EQ(n, sizeof(data));
	KT_ASSERT(!memcmp(buf, data, n));
	ktls_close(&srv.s);
	KT_ASSERT_EQ(ktls_recv(&cl.s, buf, sizeof(buf)), 0);
	ktls_close(&cl.s);
}

/* ---- 1,000 non-blocking handshakes from one epoll thread ---- */

#define NB_CONNS	1000
#define NB_CLIENT_THREADS 50

static const char nb_msg[] = "handshake done, this came through ktls";

struct nb_farm {
	struct sockaddr_in addr;
	int next;		/* connections handed out */
	int failed;
	char err[256];
};

/* Each farm thread runs blocking OpenSSL clients one after another. */
static void *nb_client_main(void *arg)
{
	struct nb_farm *f = arg;
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	char buf[sizeof(nb_msg)];

	for (;;) {
		int i = __atomic_fetch_add(&f->next, 1, __ATOMIC_SEQ_CST);
		struct timeval tv = { 120, 0 };
		size_t got = 0;
		SSL *ssl;
		int fd;

		if (i >= NB_CONNS)
			break;
		fd = socket(AF_INET, SOCK_STREAM, 0);
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		if (fd < 0 || connect(fd, (struct sockaddr *)&f->addr,
				      sizeof(f->addr))) {
			snprintf(f->err, sizeof(f->err), "client %d: connect: %s",
				 i, strerror(errno));
			__atomic_add_fetch(&f->failed, 1, __ATOMIC_SEQ_CST);
			break;
		}
		ssl = SSL_new(ctx);
		SSL_set_fd(ssl, fd);
		if (SSL_connect(ssl) != 1) {
			snprintf(f->err, sizeof(f->err), "client %d: SSL_connect: %s",
				 i, ERR_reason_error_string(ERR_get_error()));
			__atomic_add_fetch(&f->failed, 1, __ATOMIC_SEQ_CST);
		} else {
			while (got < sizeof(buf)) {
				int n = SSL_read(ssl, buf + got,
						 (int)(sizeof(buf) - got));

				if (n <= 0)
					break;
				got += (size_t)n;
			}
			if (got != sizeof(buf) || memcmp(buf, nb_msg, got)) {
				snprintf(f->err, sizeof(f->err),
					 "client %d: read %zu bytes, not the message",
					 i, got);
				__atomic_add_fetch(&f->failed, 1,
						   __ATOMIC_SEQ_CST);
			}
		}
		SSL_free(ssl);
		close(fd);
	}
	SSL_CTX_free(ctx);
	return NULL;
}

struct nb_conn {
	struct ktls_session s;
	int fd;
};

static void nb_watch(int ep, struct nb_conn *c, int step, int op)
{
	struct epoll_event ev = {
		.events = step == KTLS_STEP_WANT_READ ? EPOLLIN : EPOLLOUT,
		.data.ptr = c,
	};

	KT_ASSERT_OK(epoll_ctl(ep, op, c->fd, &ev));
}

/*
 * One step of c's handshake; watched for what it wants next, or finished:
 * the message through ktls, then closed.  A step may run the whole
 * handshake when the peer's messages are already there.  1: finished.
 */
static int nb_step(int ep, struct nb_conn *c, int watched)
{
	int r = ktls_handshake_step(&c->s);

	if (r > 0) {
		nb_watch(ep, c, r, watched ? EPOLL_CTL_MOD : EPOLL_CTL_ADD);
		return 0;
	}
	if (r == KTLS_STEP_ERROR)
		KT_FAIL("handshake: %s (%s)", c->s.err,
			ktls_error_name(c->s.code));
	KT_ASSERT(c->s.tx_on && c->s.rx_on && !c->s.fallback);
	if (watched)
		KT_ASSERT_OK(epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL));
	/* A fresh socket buffer: one small send fits. */
	KT_ASSERT_EQ(ktls_send(&c->s, nb_msg, sizeof(nb_msg)),
		     (ssize_t)sizeof(nb_msg));
	ktls_close(&c->s);
	free(c);
	return 1;
}

static void nonblocking_1000(void)
{
	struct nb_farm farm = { 0 };
	struct ktls_opts o = { .timeout_ms = 300000 };
	static pthread_t thr[NB_CLIENT_THREADS];
	struct epoll_event evs[64];
	socklen_t al = sizeof(farm.addr);
	SSL_CTX *ctx = our_ctx(1);
	int lfd, ep, i, done = 0, inflight = 0, max_inflight = 0;

	farm.addr.sin_family = AF_INET;
	farm.addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	KT_ASSERT(lfd >= 0);
	KT_ASSERT_OK(bind(lfd, (struct sockaddr *)&farm.addr,
			  sizeof(farm.addr)));
	KT_ASSERT_OK(listen(lfd, 1024));
	KT_ASSERT_OK(getsockname(lfd, (struct sockaddr *)&farm.addr, &al));
	ep = epoll_create1(0);
	KT_ASSERT(ep >= 0);
	{
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };

		KT_ASSERT_OK(epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev));
	}
	for (i = 0; i < NB_CLIENT_THREADS; i++) {
		pthread_attr_t a;

		pthread_attr_init(&a);
		pthread_attr_setstacksize(&a, 256 * 1024);
		KT_ASSERT_EQ(pthread_create(&thr[i], &a, nb_client_main,
					    &farm), 0);
		pthread_attr_destroy(&a);
	}
	while (done + farm.failed < NB_CONNS) {
		int n = epoll_wait(ep, evs, 64, 60000), k, fd;

		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0)
			KT_FAIL("nothing happened for 60 s: %d done, %d failed, %d in flight",
				done, farm.failed, inflight);
		KT_ASSERT(n > 0);
		for (k = 0; k < n; k++) {
			struct nb_conn *c = evs[k].data.ptr;

			if (c) {
				if (nb_step(ep, c, 1)) {
					inflight--;
					done++;
				}
				continue;
			}
			while ((fd = accept4(lfd, NULL, NULL,
					     SOCK_NONBLOCK)) >= 0) {
				c = calloc(1, sizeof(*c));
				KT_ASSERT(c);
				c->fd = fd;
				if (ktls_handshake_start(&c->s, ctx, fd, 1, &o))
					KT_FAIL("start: %s", c->s.err);
				if (nb_step(ep, c, 0)) {
					done++;
					continue;
				}
				if (++inflight > max_inflight)
					max_inflight = inflight;
			}
			KT_ASSERT(errno == EAGAIN);
		}
	}
	for (i = 0; i < NB_CLIENT_THREADS; i++)
		pthread_join(thr[i], NULL);
	kt_diag("%d handshakes done, at most %d in flight at once", done,
		max_inflight);
	if (farm.failed)
		KT_FAIL("%d clients failed, e.g. %s", farm.failed, farm.err);
	KT_ASSERT_EQ(done, NB_CONNS);
	/* Many handshakes were in progress together, not one after another. */
	KT_ASSERT(max_inflight >= NB_CLIENT_THREADS / 2);
	close(lfd);
	close(ep);
	SSL_CTX_free(ctx);
}

/* ---- error codes ---- */

static void job_nop(struct peer *p)
{
	(void)p;
}

static void expect_code(const struct ktls_session *s, int code)
{
	kt_diag("%s: %s", ktls_error_name(ktls_error(s)), s->err);
	if (ktls_error(s) != code)
		KT_FAIL("error code %d (%s), want %d (%s): %s", ktls_error(s),
			ktls_error_name(ktls_error(s)), code,
			ktls_error_name(code), s->err);
	KT_ASSERT(s->err[0]);
}

static void err_no_ulp(void)
{
	struct ktls_opts o = { .ulp = "ktls-none", .timeout_ms = 60000 };
	struct ktls_session s;
	struct peer p = { 0 };
	int c, sv;

	kt_tcp_pair(AF_INET, &c, &sv);
	peer_start(&p, sv, 1, 1, job_nop);
	KT_ASSERT_EQ(ktls_handshake(&s, our_ctx(0), c, 0, &o), -1);
	expect_code(&s, KTLS_E_NO_ULP);
	KT_ASSERT(!s.fallback && !s.ssl);
	peer_join(&p);
}

static void err_ulp_taken(void)
{
	struct ktls_opts o = { .timeout_ms = 60000 };
	struct ktls_session s;
	struct peer p = { 0 };
	int c, sv;

	kt_tcp_pair(AF_INET, &c, &sv);
	KT_ASSERT_OK(kt_attach(c));
	peer_start(&p, sv, 1, 1, job_nop);
	KT_ASSERT_EQ(ktls_handshake(&s, our_ctx(0), c, 0, &o), -1);
	expect_code(&s, KTLS_E_ULP_TAKEN);
	peer_join(&p);
}

static void err_handshake(void)
{
	struct ktls_session s;
	int c, sv;

	kt_tcp_pair(AF_INET, &c, &sv);
	kt_write_all(c, "GET / HTTP/1.0\r\n\r\n", 18);
	KT_ASSERT_EQ(ktls_handshake(&s, our_ctx(1), sv, 1, NULL), -1);
	expect_code(&s, KTLS_E_HANDSHAKE);
}

/* The peer server offers only a suite we do not: it alerts. */
static void err_peer_alert(void)
{
	struct ktls_opts o = { .timeout_ms = 60000 };
	struct ktls_session s;
	struct peer p = { .suites = "TLS_AES_128_CCM_8_SHA256" };
	int c, sv;

	kt_tcp_pair(AF_INET, &c, &sv);
	peer_start(&p, sv, 1, 1, job_nop);
	KT_ASSERT_EQ(ktls_handshake(&s, our_ctx(0), c, 0, &o), -1);
	expect_code(&s, KTLS_E_PEER_ALERT);
	pthread_join(p.thr, NULL);
}

static void err_timeout(void)
{
	struct ktls_opts o = { .timeout_ms = 300 };
	struct ktls_session s;
	int c, sv;

	kt_tcp_pair(AF_INET, &c, &sv);
	KT_ASSERT_EQ(ktls_handshake(&s, our_ctx(0), c, 0, &o), -1);
	expect_code(&s, KTLS_E_TIMEOUT);
	close(sv);
}

static void *close_after_hello(void *arg)
{
	int fd = *(int *)arg;
	char buf[4096];

	if (read(fd, buf, sizeof(buf)) > 0)
		close(fd);
	return NULL;
}

static void err_peer_closed(void)
{
	struct ktls_opts o = { .timeout_ms = 60000 };
	struct ktls_session s;
	pthread_t thr;
	int c, sv;

	kt_tcp_pair(AF_INET, &c, &sv);
	KT_ASSERT_EQ(pthread_create(&thr, NULL, close_after_hello, &sv), 0);
	KT_ASSERT_EQ(ktls_handshake(&s, our_ctx(0), c, 0, &o), -1);
	pthread_join(thr, NULL);
	expect_code(&s, KTLS_E_PEER_CLOSED);
}

/* After the handover: I/O, peer alert, protocol, invalid use. */
static void err_after_handover(void)
{
	struct lib_end srv = { 0 }, cl = { 0 };
	/* A CertificateRequest after the handshake: not allowed here. */
	unsigned char creq[8] = { 13, 0, 0, 4, 0, 0, 0, 0 };
	char buf[64];

	lib_pair(&srv, &cl);
	KT_ASSERT_EQ(kt_send_type(srv.s.fd, 22, creq, sizeof(creq), 0), 8);
	KT_ASSERT_EQ(ktls_recv(&cl.s, buf, sizeof(buf)), -1);
	expect_code(&cl.s, KTLS_E_PROTOCOL);
	/* A fatal alert. */
	KT_ASSERT_OK(ktls_send_alert(&cl.s, 2, 10));
	KT_ASSERT_EQ(ktls_recv(&srv.s, buf, sizeof(buf)), -1);
	expect_code(&srv.s, KTLS_E_PEER_ALERT);
	/* The peer is gone: send fails with EPIPE. */
	close(cl.s.fd);
	cl.s.fd = -1;
	{
		static char big[1 << 16];
		int i;
		ssize_t r = 0;

		for (i = 0; i < 200 && r >= 0; i++)
			r = ktls_send(&srv.s, big, sizeof(big));
		KT_ASSERT_EQ(r, -1);
	}
	expect_code(&srv.s, KTLS_E_IO);
	/* No handshake in progress. */
	KT_ASSERT_EQ(ktls_handshake_step(&srv.s), KTLS_STEP_ERROR);
	expect_code(&srv.s, KTLS_E_INVALID);
	ktls_close(&srv.s);
	ktls_close(&cl.s);
}

static void err_key_update_needs_tls13(void)
{
	struct ktls_opts o = { .timeout_ms = 60000 };
	struct ktls_session s;
	struct peer p = { 0 };
	int c, sv;

	kt_tcp_pair(AF_INET, &c, &sv);
	peer_start(&p, sv, 1, 0, job_nop);
	KT_ASSERT_OK(ktls_handshake(&s, our_ctx(0), c, 0, &o));
	peer_join(&p);
	KT_ASSERT_EQ(ktls_key_update(&s, 0), -1);
	expect_code(&s, KTLS_E_INVALID);
	ktls_close(&s);
}

/* ktls_probe: works; no such ULP; a cipher Debian's kernels lack (SM4). */
static void probe_reports(void)
{
	char msg[KTLS_ERR_LEN];
	int rc;

	rc = ktls_probe(NULL, 0, 0, msg, sizeof(msg));
	kt_diag("probe: %s", msg);
	KT_ASSERT_EQ(rc, KTLS_OK);
	rc = ktls_probe(NULL, TLS_1_2_VERSION, TLS_CIPHER_CHACHA20_POLY1305,
			msg, sizeof(msg));
	kt_diag("probe: %s", msg);
	KT_ASSERT_EQ(rc, KTLS_OK);
	rc = ktls_probe("ktls-none", 0, 0, msg, sizeof(msg));
	kt_diag("probe: %s", msg);
	KT_ASSERT_EQ(rc, KTLS_E_NO_ULP);
	KT_ASSERT(strstr(msg, "not registered"));
	rc = ktls_probe(NULL, TLS_1_3_VERSION, 55, msg, sizeof(msg));
	kt_diag("probe: %s", msg);
	KT_ASSERT_EQ(rc, KTLS_E_CIPHER);
}

/* ---- fallback to userspace TLS ---- */

#define FB_BIG	(300 * 1024)

static void job_fallback(struct peer *p)
{
	unsigned char *buf = malloc(2 * FB_BIG);
	size_t got = 0;

	kt_fill_pattern(buf, FB_BIG, 5);
	if (SSL_write(p->ssl, buf, FB_BIG) != FB_BIG) {
		snprintf(p->err, sizeof(p->err), "peer SSL_write failed");
		free(buf);
		return;
	}
	/* Echoed with ktls_send, then the same again with ktls_sendfile. */
	while (got < 2 * FB_BIG) {
		int n = SSL_read(p->ssl, buf + got, (int)(2 * FB_BIG - got));

		if (n <= 0) {
			snprintf(p->err, sizeof(p->err),
				 "peer SSL_read after %zu bytes", got);
			free(buf);
			return;
		}
		got += (size_t)n;
	}
	p->buf = buf;
	p->len = got;
}

static void fallback_without_ulp(void)
{
	struct ktls_opts o = { .ulp = "ktls-none", .timeout_ms = 60000,
			       .flags = KTLS_F_FALLBACK };
	unsigned char *want = malloc(FB_BIG), *got = malloc(FB_BIG);
	char path[] = "/tmp/ktls-fallback-XXXXXX";
	struct ktls_session s;
	struct peer p = { 0 };
	size_t have = 0;
	off_t off = 0;
	int c, sv, fd;

	kt_tcp_pair(AF_INET, &c, &sv);
	peer_start(&p, sv, 1, 1, job_fallback);
	if (ktls_handshake(&s, our_ctx(0), c, 0, &o))
		KT_FAIL("ktls_handshake with KTLS_F_FALLBACK: %s", s.err);
	KT_ASSERT(s.fallback && s.ssl && !s.tx_on && !s.rx_on);
	KT_ASSERT(ktls_fallback_reason(&s));
	kt_diag("fallback reason: %s", ktls_fallback_reason(&s));
	KT_ASSERT(strstr(ktls_fallback_reason(&s), "not registered"));
	KT_ASSERT_EQ(ktls_error(&s), KTLS_E_NO_ULP);
	kt_fill_pattern(want, FB_BIG, 5);
	while (have < FB_BIG) {
		ssize_t n = ktls_recv(&s, got + have, FB_BIG - have);

		if (n <= 0)
			KT_FAIL("ktls_recv (fallback): %s", s.err);
		have += (size_t)n;
	}
	KT_ASSERT(!memcmp(got, want, FB_BIG));
	KT_ASSERT_EQ(ktls_send(&s, got, FB_BIG), FB_BIG);
	fd = mkstemp(path);
	KT_ASSERT(fd >= 0);
	unlink(path);
	kt_write_all(fd, want, FB_BIG);
	KT_ASSERT_EQ(ktls_sendfile(&s, fd, &off, FB_BIG), FB_BIG);
	KT_ASSERT_EQ(off, FB_BIG);
	close(fd);
	peer_join(&p);
	KT_ASSERT_EQ(p.len, 2 * FB_BIG);
	KT_ASSERT(!memcmp(p.buf, want, FB_BIG));
	KT_ASSERT(!memcmp(p.buf + FB_BIG, want, FB_BIG));
	ktls_close(&s);
	free(p.buf);
	free(want);
	free(got);
}

/* ---- one sender and one receiver thread per end, KeyUpdates ---- */

#define KU_TOTAL	(6 * 1024 * 1024)
#define KU_CHUNK	(16 * 1024)
#define KU_EVERY	(512 * 1024)

struct ku_dir {
	struct ktls_session *s;
	unsigned int seed;
	int updates;		/* KeyUpdates this sender asked for */
	char err[KTLS_ERR_LEN + 64];
};

static void *ku_sender(void *arg)
{
	struct ku_dir *d = arg;
	unsigned char *buf = malloc(KU_TOTAL);
	size_t off = 0;

	kt_fill_pattern(buf, KU_TOTAL, d->seed);
	while (off < KU_TOTAL) {
		ssize_t n = ktls_send(d->s, buf + off, KU_CHUNK);

		if (n <= 0) {
			snprintf(d->err, sizeof(d->err), "send at %zu: %s",
				 off, d->s->err);
			break;
		}
		off += (size_t)n;
		if (off % KU_EVERY == 0 && off < KU_TOTAL) {
			/* Ask the peer to update too: its reader answers. */
			if (ktls_key_update(d->s, 1)) {
				snprintf(d->err, sizeof(d->err),
					 "key update at %zu: %s", off,
					 d->s->err);
				break;
			}
			d->updates++;
		}
	}
	free(buf);
	return NULL;
}

static void *ku_receiver(void *arg)
{
	struct ku_dir *d = arg;
	unsigned char *buf = malloc(KU_TOTAL), *want = malloc(KU_TOTAL);
	size_t have = 0;

	kt_fill_pattern(want, KU_TOTAL, d->seed);
	while (have < KU_TOTAL) {
		ssize_t n = ktls_recv(d->s, buf + have, KU_TOTAL - have);

		if (n <= 0) {
			snprintf(d->err, sizeof(d->err), "recv at %zu: %zd %s",
				 have, n, d->s->err);
			break;
		}
		have += (size_t)n;
	}
	if (have == KU_TOTAL && memcmp(buf, want, KU_TOTAL))
		snprintf(d->err, sizeof(d->err), "received data differs");
	free(buf);
	free(want);
	return NULL;
}

static void run_two_threads(unsigned int flags)
{
	struct lib_end srv = { .o.flags = flags }, cl = { .o.flags = flags };
	struct ku_dir d[4] = {
		{ .seed = 1 }, { .seed = 1 },	/* client -> server */
		{ .seed = 2 }, { .seed = 2 },	/* server -> client */
	};
	void *(*fn[4])(void *) = { ku_sender, ku_receiver, ku_sender,
				   ku_receiver };
	pthread_t thr[4];
	int i;

	lib_pair(&srv, &cl);
	KT_ASSERT_EQ(srv.s.version, TLS_1_3_VERSION);
	KT_ASSERT_EQ(ktls_session_kernel_rekey(&srv.s, 1),
		     !(flags & KTLS_F_NO_KERNEL_REKEY));
	d[0].s = &cl.s;
	d[1].s = &srv.s;
	d[2].s = &srv.s;
	d[3].s = &cl.s;
	for (i = 0; i < 4; i++)
		KT_ASSERT_EQ(pthread_create(&thr[i], NULL, fn[i], &d[i]), 0);
	for (i = 0; i < 4; i++)
		pthread_join(thr[i], NULL);
	for (i = 0; i < 4; i++)
		if (d[i].err[0])
			KT_FAIL("thread %d: %s", i, d[i].err);
	kt_diag("%d + %d KeyUpdates asked for, each answered by the other end's reader",
		d[0].updates, d[2].updates);
	KT_ASSERT(d[0].updates >= 8 && d[2].updates >= 8);
	ktls_close(&srv.s);
	ktls_close(&cl.s);
}

/* The kernel sends each update and answers each request (the default). */
static void keyupdate_two_threads_both_ways(void)
{
	run_two_threads(0);
}

/* libktls does, under its TX lock (KTLS_F_NO_KERNEL_REKEY). */
static void keyupdate_two_threads_no_kernel_rekey(void)
{
	run_two_threads(KTLS_F_NO_KERNEL_REKEY);
}

/* ---- secrets ---- */

static int all_zero(const void *p, size_t n)
{
	const unsigned char *b = p;

	while (n--)
		if (*b++)
			return 0;
	return 1;
}

/*
 * TLS 1.3 keeps the traffic secrets for KeyUpdate unless the kernel took
 * them over (the default with ktls): then its chain is the only one.
 */
static void run_secrets(int tls13, unsigned int flags)
{
	struct ktls_opts o = { .timeout_ms = 60000, .flags = flags };
	int kept = tls13 && (flags & KTLS_F_NO_KERNEL_REKEY);
	struct ktls_session s;
	struct peer p = { 0 };
	int c, sv;

	kt_tcp_pair(AF_INET, &c, &sv);
	peer_start(&p, sv, 1, tls13, job_nop);
	KT_ASSERT_OK(ktls_handshake(&s, our_ctx(0), c, 0, &o));
	peer_join(&p);
	KT_ASSERT(s.tx_on && s.rx_on);
	/* The kernel has the keys. */
	KT_ASSERT(all_zero(&s.tx, sizeof(s.tx)));
	KT_ASSERT(all_zero(&s.rx, sizeof(s.rx)));
	KT_ASSERT_EQ(ktls_session_kernel_rekey(&s, 1), tls13 && !kept);
	KT_ASSERT_EQ(ktls_session_kernel_rekey(&s, 0), tls13 && !kept);
	KT_ASSERT_EQ(all_zero(s.secret_c, sizeof(s.secret_c)), !kept);
	KT_ASSERT_EQ(all_zero(s.secret_s, sizeof(s.secret_s)), !kept);
	ktls_close(&s);
	KT_ASSERT(all_zero(s.secret_c, sizeof(s.secret_c)));
	KT_ASSERT(all_zero(s.secret_s, sizeof(s.secret_s)));
}

static void secrets_tls12_wiped_after_install(void)
{
	run_secrets(0, 0);
}

static void secrets_tls13_given_to_the_kernel(void)
{
	run_secrets(1, 0);
}

static void secrets_tls13_kept_for_key_update_only(void)
{
	run_secrets(1, KTLS_F_NO_KERNEL_REKEY);
}

int main(void)
{
	static const struct kt_case cases[] = {
		KT_CASE(tickets_in_one_record_and_across_records),
		KT_CASE_T(nonblocking_1000, 900),
		KT_CASE(err_no_ulp),
		KT_CASE(err_ulp_taken),
		KT_CASE(err_handshake),
		KT_CASE(err_peer_alert),
		KT_CASE(err_timeout),
		KT_CASE(err_peer_closed),
		KT_CASE(err_after_handover),
		KT_CASE(err_key_update_needs_tls13),
		KT_CASE(probe_reports),
		KT_CASE(fallback_without_ulp),
		KT_CASE_T(keyupdate_two_threads_both_ways, 600),
		KT_CASE_T(keyupdate_two_threads_no_kernel_rekey, 600),
		KT_CASE(secrets_tls12_wiped_after_install),
		KT_CASE(secrets_tls13_given_to_the_kernel),
		KT_CASE(secrets_tls13_kept_for_key_update_only),
	};

	setvbuf(stdout, NULL, _IOLBF, 0);
	kt_need_ktls();
	return kt_run("libktls-api", cases, sizeof(cases) / sizeof(cases[0]));
}
