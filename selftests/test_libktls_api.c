// SPDX-License-Identifier: GPL-2.0
/*
 * libktls as a library (issue 17), over ktls in the VM:
 *  tickets_*:        post-handshake tickets in one record and across records;
 *  nonblocking_1000: 1,000 concurrent ktls_handshake_step() handshakes from
 *                    one epoll thread against a farm of OpenSSL clients;
 *  err_*:            every enum ktls_error, reached the way a program meets
 *                    it, with its message (KTLS_E_NOMEM: OpenSSL's
 *                    allocator fails; KTLS_E_LOCKDOWN: a lockdown file in a
 *                    mount namespace; KTLS_E_KEY_UPDATE: in-tree tls.ko,
 *                    which has no TLS 1.3 rekey on 6.1/6.12);
 *  fallback_*:       no ULP: the session carries on in userspace OpenSSL;
 *  keyupdate_*:      one sender and one receiver thread per end, both ways
 *                    busy, KeyUpdates answered by the receiving thread;
 *  secrets_*:        what the session still holds after the handover.
 */
#define _GNU_SOURCE	/* accept4 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/kdf.h>
#include <openssl/ssl.h>

#include <ktls.h>
#include "harness.h"
#include "lib_tlsrec.h"
#include "libktls_peek.h"
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
	struct ktls_session *s;
	struct ktls_opts o;
	SSL_CTX *ctx;
	int fd, server, rc;
	pthread_t thr;
};

static void *lib_end_main(void *arg)
{
	struct lib_end *e = arg;

	e->s = ktls_session_new();
	e->rc = e->s ? ktls_handshake(e->s, e->ctx, e->fd, e->server, &e->o) :
		       -1;
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
	KT_ASSERT(srv->s && cl->s);
	if (srv->rc)
		KT_FAIL("server: %s", ktls_errmsg(srv->s));
	if (cl->rc)
		KT_FAIL("client: %s", ktls_errmsg(cl->s));
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
	int sfd;

	lib_pair(&srv, &cl);
	sfd = ktls_session_fd(srv.s);
	KT_ASSERT_EQ(ktls_session_version(srv.s), TLS_1_3_VERSION);
	KT_ASSERT_EQ(ktls_session_first_seq(srv.s, 1), 3);
	KT_ASSERT_EQ(ktls_session_first_seq(srv.s, 0), 0);
	KT_ASSERT_EQ(ktls_session_first_seq(cl.s, 1), 0);
	KT_ASSERT_EQ(ktls_session_first_seq(cl.s, 0), 0);
	n = make_ticket(rec, 60, 0x11);
	n += make_ticket(rec + n, 90, 0x22);
	KT_ASSERT_EQ(kt_send_type(sfd, 22, rec, n, 0), (ssize_t)n);
	n = make_ticket(rec, 200, 0x33);
	KT_ASSERT_EQ(kt_send_type(sfd, 22, rec, 7, 0), 7);
	KT_ASSERT_EQ(kt_send_type(sfd, 22, rec + 7, n - 7, 0),
		     (ssize_t)(n - 7));
	KT_ASSERT_EQ(ktls_send(srv.s, data, sizeof(data)),
		     (ssize_t)sizeof(data));
	n = 0;
	while (n < sizeof(data)) {
		ssize_t r = ktls_recv(cl.s, buf + n, sizeof(buf) - n);

		if (r <= 0)
			KT_FAIL("ktls_recv: %zd %s %s", r, strerror(errno),
				ktls_errmsg(cl.s));
		n += (size_t)r;
	}
	KT_ASSERT_EQ(n, sizeof(data));
	KT_ASSERT(!memcmp(buf, data, n));
	ktls_close(srv.s);
	KT_ASSERT_EQ(ktls_recv(cl.s, buf, sizeof(buf)), 0);
	ktls_close(cl.s);
	ktls_session_free(srv.s);
	ktls_session_free(cl.s);
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
	struct ktls_session *s;
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
	int r = ktls_handshake_step(c->s);

	if (r > 0) {
		nb_watch(ep, c, r, watched ? EPOLL_CTL_MOD : EPOLL_CTL_ADD);
		return 0;
	}
	if (r == KTLS_STEP_ERROR)
		KT_FAIL("handshake: %s (%s)", ktls_errmsg(c->s),
			ktls_error_name(ktls_error(c->s)));
	KT_ASSERT(ktls_session_kernel(c->s, 1));
	KT_ASSERT(ktls_session_kernel(c->s, 0) && !ktls_fallback_reason(c->s));
	if (watched)
		KT_ASSERT_OK(epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL));
	/* A fresh socket buffer: one small send fits. */
	KT_ASSERT_EQ(ktls_send(c->s, nb_msg, sizeof(nb_msg)),
		     (ssize_t)sizeof(nb_msg));
	ktls_close(c->s);
	ktls_session_free(c->s);
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
				c->s = ktls_session_new();
				KT_ASSERT(c->s);
				if (ktls_handshake_start(c->s, ctx, fd, 1, &o))
					KT_FAIL("start: %s", ktls_errmsg(c->s));
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
	kt_diag("%s: %s", ktls_error_name(ktls_error(s)), ktls_errmsg(s));
	if (ktls_error(s) != code)
		KT_FAIL("error code %d (%s), want %d (%s): %s", ktls_error(s),
			ktls_error_name(ktls_error(s)), code,
			ktls_error_name(code), ktls_errmsg(s));
	KT_ASSERT(ktls_errmsg(s)[0]);
}

static void err_no_ulp(void)
{
	struct ktls_opts o = { .ulp = "ktls-none", .timeout_ms = 60000 };
	struct ktls_session *s = ktls_session_new();
	struct peer p = { 0 };
	int c, sv;

	kt_tcp_pair(AF_INET, &c, &sv);
	peer_start(&p, sv, 1, 1, job_nop);
	KT_ASSERT_EQ(ktls_handshake(s, our_ctx(0), c, 0, &o), -1);
	expect_code(s, KTLS_E_NO_ULP);
	KT_ASSERT(!ktls_fallback_reason(s) && !ktls_session_ssl(s));
	peer_join(&p);
}

static void err_ulp_taken(void)
{
	struct ktls_opts o = { .timeout_ms = 60000 };
	struct ktls_session *s = ktls_session_new();
	struct peer p = { 0 };
	int c, sv;

	kt_tcp_pair(AF_INET, &c, &sv);
	KT_ASSERT_OK(kt_attach(c));
	peer_start(&p, sv, 1, 1, job_nop);
	KT_ASSERT_EQ(ktls_handshake(s, our_ctx(0), c, 0, &o), -1);
	expect_code(s, KTLS_E_ULP_TAKEN);
	peer_join(&p);
}

static void err_handshake(void)
{
	struct ktls_session *s = ktls_session_new();
	int c, sv;

	kt_tcp_pair(AF_INET, &c, &sv);
	kt_write_all(c, "GET / HTTP/1.0\r\n\r\n", 18);
	KT_ASSERT_EQ(ktls_handshake(s, our_ctx(1), sv, 1, NULL), -1);
	expect_code(s, KTLS_E_HANDSHAKE);
}

/* The peer server offers only a suite we do not: it alerts. */
static void err_peer_alert(void)
{
	struct ktls_opts o = { .timeout_ms = 60000 };
	struct ktls_session *s = ktls_session_new();
	struct peer p = { .suites = "TLS_AES_128_CCM_8_SHA256" };
	int c, sv;

	kt_tcp_pair(AF_INET, &c, &sv);
	peer_start(&p, sv, 1, 1, job_nop);
	KT_ASSERT_EQ(ktls_handshake(s, our_ctx(0), c, 0, &o), -1);
	expect_code(s, KTLS_E_PEER_ALERT);
	pthread_join(p.thr, NULL);
}

/*
 * A program's own SSL_CTX negotiates a suite the kernel cannot carry
 * (AES-128-CCM-8): the handshake completes, the handover does not.
 */
static void err_cipher_from_handshake(void)
{
	struct ktls_opts o = { .timeout_ms = 60000 };
	struct ktls_session *s = ktls_session_new();
	struct peer p = { .suites = "TLS_AES_128_CCM_8_SHA256" };
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	int c, sv;

	KT_ASSERT(s && ctx);
	KT_ASSERT(SSL_CTX_set_ciphersuites(ctx, "TLS_AES_128_CCM_8_SHA256"));
	kt_tcp_pair(AF_INET, &c, &sv);
	peer_start(&p, sv, 1, 1, job_nop);
	KT_ASSERT_EQ(ktls_handshake(s, ctx, c, 0, &o), -1);
	peer_join(&p);
	expect_code(s, KTLS_E_CIPHER);
	KT_ASSERT(strstr(ktls_errmsg(s), "TLS_AES_128_CCM_8_SHA256"));
	KT_ASSERT(!ktls_session_kernel(s, 1) && !ktls_session_kernel(s, 0));
	ktls_session_free(s);
	SSL_CTX_free(ctx);
}

static void err_timeout(void)
{
	struct ktls_opts o = { .timeout_ms = 300 };
	struct ktls_session *s = ktls_session_new();
	int c, sv;

	kt_tcp_pair(AF_INET, &c, &sv);
	KT_ASSERT_EQ(ktls_handshake(s, our_ctx(0), c, 0, &o), -1);
	expect_code(s, KTLS_E_TIMEOUT);
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
	struct ktls_session *s = ktls_session_new();
	pthread_t thr;
	int c, sv;

	kt_tcp_pair(AF_INET, &c, &sv);
	KT_ASSERT_EQ(pthread_create(&thr, NULL, close_after_hello, &sv), 0);
	KT_ASSERT_EQ(ktls_handshake(s, our_ctx(0), c, 0, &o), -1);
	pthread_join(thr, NULL);
	expect_code(s, KTLS_E_PEER_CLOSED);
}

/* After the handover: I/O, peer alert, protocol, invalid use. */
static void err_after_handover(void)
{
	struct lib_end srv = { 0 }, cl = { 0 };
	/* A CertificateRequest after the handshake: not allowed here. */
	unsigned char creq[8] = { 13, 0, 0, 4, 0, 0, 0, 0 };
	char buf[64];

	lib_pair(&srv, &cl);
	KT_ASSERT_EQ(kt_send_type(ktls_session_fd(srv.s), 22, creq,
				  sizeof(creq), 0), 8);
	KT_ASSERT_EQ(ktls_recv(cl.s, buf, sizeof(buf)), -1);
	expect_code(cl.s, KTLS_E_PROTOCOL);
	/* A fatal alert. */
	KT_ASSERT_OK(ktls_send_alert(cl.s, 2, 10));
	KT_ASSERT_EQ(ktls_recv(srv.s, buf, sizeof(buf)), -1);
	expect_code(srv.s, KTLS_E_PEER_ALERT);
	/* The peer is gone: send fails with EPIPE. */
	close(ktls_session_fd(cl.s));
	{
		static char big[1 << 16];
		int i;
		ssize_t r = 0;

		for (i = 0; i < 200 && r >= 0; i++)
			r = ktls_send(srv.s, big, sizeof(big));
		KT_ASSERT_EQ(r, -1);
	}
	expect_code(srv.s, KTLS_E_IO);
	/* No handshake in progress. */
	KT_ASSERT_EQ(ktls_handshake_step(srv.s), KTLS_STEP_ERROR);
	expect_code(srv.s, KTLS_E_INVALID);
	ktls_close(srv.s);
	/* Its fd is closed already: free without ktls_close(). */
	ktls_session_free(cl.s);
	ktls_session_free(srv.s);
}

static void err_key_update_needs_tls13(void)
{
	struct ktls_opts o = { .timeout_ms = 60000 };
	struct ktls_session *s = ktls_session_new();
	struct peer p = { 0 };
	int c, sv;

	kt_tcp_pair(AF_INET, &c, &sv);
	peer_start(&p, sv, 1, 0, job_nop);
	KT_ASSERT_OK(ktls_handshake(s, our_ctx(0), c, 0, &o));
	peer_join(&p);
	KT_ASSERT_EQ(ktls_key_update(s, 0), -1);
	expect_code(s, KTLS_E_INVALID);
	ktls_close(s);
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

/* A session in fallback carries recv, send and sendfile through OpenSSL. */
static void fallback_transfer(struct ktls_session *s, struct peer *p)
{
	unsigned char *want = malloc(FB_BIG), *got = malloc(FB_BIG);
	char path[] = "/tmp/ktls-fallback-XXXXXX";
	size_t have = 0;
	off_t off = 0;
	int fd;

	KT_ASSERT(want && got);
	KT_ASSERT(ktls_session_ssl(s) && !ktls_session_kernel(s, 1) &&
		  !ktls_session_kernel(s, 0));
	KT_ASSERT(ktls_fallback_reason(s));
	kt_diag("fallback reason: %s", ktls_fallback_reason(s));
	kt_fill_pattern(want, FB_BIG, 5);
	while (have < FB_BIG) {
		ssize_t n = ktls_recv(s, got + have, FB_BIG - have);

		if (n <= 0)
			KT_FAIL("ktls_recv (fallback): %s", ktls_errmsg(s));
		have += (size_t)n;
	}
	KT_ASSERT(!memcmp(got, want, FB_BIG));
	KT_ASSERT_EQ(ktls_send(s, got, FB_BIG), FB_BIG);
	fd = mkstemp(path);
	KT_ASSERT(fd >= 0);
	unlink(path);
	kt_write_all(fd, want, FB_BIG);
	KT_ASSERT_EQ(ktls_sendfile(s, fd, &off, FB_BIG), FB_BIG);
	KT_ASSERT_EQ(off, FB_BIG);
	close(fd);
	peer_join(p);
	KT_ASSERT_EQ(p->len, 2 * FB_BIG);
	KT_ASSERT(!memcmp(p->buf, want, FB_BIG));
	KT_ASSERT(!memcmp(p->buf + FB_BIG, want, FB_BIG));
	free(p->buf);
	free(want);
	free(got);
}

static void fallback_without_ulp(void)
{
	struct ktls_opts o = { .ulp = "ktls-none", .timeout_ms = 60000,
			       .flags = KTLS_F_FALLBACK };
	struct ktls_session *s = ktls_session_new();
	struct peer p = { 0 };
	int c, sv;

	kt_tcp_pair(AF_INET, &c, &sv);
	peer_start(&p, sv, 1, 1, job_fallback);
	if (ktls_handshake(s, our_ctx(0), c, 0, &o))
		KT_FAIL("ktls_handshake with KTLS_F_FALLBACK: %s",
			ktls_errmsg(s));
	KT_ASSERT_EQ(ktls_error(s), KTLS_E_NO_ULP);
	KT_ASSERT(strstr(ktls_fallback_reason(s), "not registered"));
	fallback_transfer(s, &p);
	ktls_close(s);
}

/* A suite the kernel cannot carry (CCM_8) is an install failure too. */
static void fallback_cipher(void)
{
	struct ktls_opts o = { .timeout_ms = 60000, .flags = KTLS_F_FALLBACK };
	struct ktls_session *s = ktls_session_new();
	struct peer p = { .suites = "TLS_AES_128_CCM_8_SHA256" };
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	int c, sv;

	KT_ASSERT(s && ctx);
	KT_ASSERT(SSL_CTX_set_ciphersuites(ctx, "TLS_AES_128_CCM_8_SHA256"));
	kt_tcp_pair(AF_INET, &c, &sv);
	peer_start(&p, sv, 1, 1, job_fallback);
	if (ktls_handshake(s, ctx, c, 0, &o))
		KT_FAIL("ktls_handshake (CCM_8) with KTLS_F_FALLBACK: %s",
			ktls_errmsg(s));
	KT_ASSERT_EQ(ktls_error(s), KTLS_E_CIPHER);
	KT_ASSERT(strstr(ktls_fallback_reason(s), "TLS_AES_128_CCM_8_SHA256"));
	fallback_transfer(s, &p);
	ktls_close(s);
	SSL_CTX_free(ctx);
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
				 off, ktls_errmsg(d->s));
			break;
		}
		off += (size_t)n;
		if (off % KU_EVERY == 0 && off < KU_TOTAL) {
			/* Ask the peer to update too: its reader answers. */
			if (ktls_key_update(d->s, 1)) {
				snprintf(d->err, sizeof(d->err),
					 "key update at %zu: %s", off,
					 ktls_errmsg(d->s));
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
				 have, n, ktls_errmsg(d->s));
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
	KT_ASSERT_EQ(ktls_session_version(srv.s), TLS_1_3_VERSION);
	KT_ASSERT_EQ(ktls_session_kernel_rekey(srv.s, 1),
		     !(flags & KTLS_F_NO_KERNEL_REKEY));
	d[0].s = cl.s;
	d[1].s = srv.s;
	d[2].s = srv.s;
	d[3].s = cl.s;
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
	ktls_close(srv.s);
	ktls_close(cl.s);
}

/*
 * The peer asks for our KeyUpdate while our sender is blocked in
 * ktls_send() (the peer does not read).  Our reader must go on reading:
 * libktls 0.2 answered from the reader under the TX lock, which the
 * blocked sender held, so the reader stopped too, and with a peer doing
 * the same in the other direction both ends stopped for good (a CI run's
 * keyupdate_two_threads_no_kernel_rekey hung so on 6.1).  The answer is
 * owed instead and goes out when the sender lets go of the lock.
 */
struct blocked_send {
	struct ktls_session *s;
	size_t len;
	ssize_t n;
};

static void *blocked_send_fn(void *arg)
{
	struct blocked_send *b = arg;
	unsigned char *buf = malloc(b->len);

	kt_fill_pattern(buf, b->len, 9);
	b->n = 0;
	while ((size_t)b->n < b->len) {
		ssize_t n = ktls_send(b->s, buf + b->n, b->len - (size_t)b->n);

		if (n <= 0)
			break;
		b->n += n;
	}
	free(buf);
	return NULL;
}

struct late_recv {
	struct ktls_session *s;
	char buf[16];
	ssize_t n;
	atomic_int done;
};

static void *late_recv_fn(void *arg)
{
	struct late_recv *r = arg;

	r->n = ktls_recv(r->s, r->buf, sizeof(r->buf));
	atomic_store(&r->done, 1);
	return NULL;
}

static void keyupdate_answer_while_sender_blocked(void)
{
	struct lib_end srv = { .o.flags = KTLS_F_NO_KERNEL_REKEY },
		       cl = { .o.flags = KTLS_F_NO_KERNEL_REKEY };
	struct blocked_send b = { .len = 8 << 20 };
	struct late_recv r = { 0 };
	unsigned char *got, *want;
	pthread_t tb, tr;
	size_t have = 0;
	char tail[8];
	long tx0, rx0;
	int i;

	lib_pair(&srv, &cl);
	tx0 = kt_stat("TlsTxRekeyOk");
	rx0 = kt_stat("TlsRxRekeyOk");
	b.s = cl.s;
	r.s = cl.s;
	KT_ASSERT_EQ(pthread_create(&tb, NULL, blocked_send_fn, &b), 0);
	/* The server reads nothing: the client's sender blocks in send(). */
	usleep(500 * 1000);
	KT_ASSERT(b.n < (ssize_t)b.len);
	KT_ASSERT_EQ(pthread_create(&tr, NULL, late_recv_fn, &r), 0);
	if (ktls_key_update(srv.s, 1))
		KT_FAIL("server key update: %s", ktls_errmsg(srv.s));
	KT_ASSERT_EQ(ktls_send(srv.s, "after", 5), 5);
	for (i = 0; i < 300 * (int)kt_time_scale() && !atomic_load(&r.done); i++)
		usleep(10 * 1000);
	if (!atomic_load(&r.done))
		KT_FAIL("the client's reader is stuck behind its blocked sender (3 s): it waits for the TX lock to answer the KeyUpdate");
	pthread_join(tr, NULL);
	KT_ASSERT_EQ(r.n, 5);
	KT_ASSERT(!memcmp(r.buf, "after", 5));
	/* Now the server reads; the client's sender finishes, then answers. */
	got = malloc(b.len);
	want = malloc(b.len);
	kt_fill_pattern(want, b.len, 9);
	while (have < b.len) {
		ssize_t n = ktls_recv(srv.s, got + have, b.len - have);

		if (n <= 0)
			KT_FAIL("server recv at %zu: %s", have, ktls_errmsg(srv.s));
		have += (size_t)n;
	}
	pthread_join(tb, NULL);
	KT_ASSERT_EQ(b.n, (ssize_t)b.len);
	KT_ASSERT(!memcmp(got, want, b.len));
	/* Its answer went after the data, before this record. */
	KT_ASSERT_EQ(ktls_send(cl.s, "tail", 4), 4);
	KT_ASSERT_EQ(ktls_recv(srv.s, tail, sizeof(tail)), 4);
	KT_ASSERT(!memcmp(tail, "tail", 4));
	/* Each end stepped TX once and RX once: the update and its answer. */
	KT_ASSERT_EQ(kt_stat("TlsTxRekeyOk") - tx0, 2);
	KT_ASSERT_EQ(kt_stat("TlsRxRekeyOk") - rx0, 2);
	free(got);
	free(want);
	ktls_close(srv.s);
	ktls_close(cl.s);
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

/*
 * TLS 1.3 keeps the traffic secrets for KeyUpdate unless the kernel took
 * them over (the default with ktls): then its chain is the only one.
 */
static void run_secrets(int tls13, unsigned int flags)
{
	struct ktls_opts o = { .timeout_ms = 60000, .flags = flags };
	int kept = tls13 && (flags & KTLS_F_NO_KERNEL_REKEY);
	struct ktls_session *s = ktls_session_new();
	struct peer p = { 0 };
	unsigned char buf[64];
	int c, sv;

	kt_tcp_pair(AF_INET, &c, &sv);
	peer_start(&p, sv, 1, tls13, job_nop);
	KT_ASSERT_OK(ktls_handshake(s, our_ctx(0), c, 0, &o));
	peer_join(&p);
	KT_ASSERT(ktls_session_kernel(s, 1) && ktls_session_kernel(s, 0));
	/* The kernel has the keys: the session gives none out ... */
	KT_ASSERT_ERRNO(ktls_session_crypto_info(s, 1, buf, sizeof(buf)),
			ENOENT);
	KT_ASSERT_ERRNO(ktls_session_crypto_info(s, 0, buf, sizeof(buf)),
			ENOENT);
	/* ... and holds none (libktls_peek.c looks at its memory). */
	KT_ASSERT(kt_peek_keys_zero(s));
	KT_ASSERT_EQ(ktls_session_kernel_rekey(s, 1), tls13 && !kept);
	KT_ASSERT_EQ(ktls_session_kernel_rekey(s, 0), tls13 && !kept);
	/* Secrets: kept only while libktls itself must rekey. */
	KT_ASSERT_EQ(kt_peek_secret_zero(s, 1), !kept);
	KT_ASSERT_EQ(kt_peek_secret_zero(s, 0), !kept);
	ktls_close(s);
	KT_ASSERT(kt_peek_secret_zero(s, 1));
	KT_ASSERT(kt_peek_secret_zero(s, 0));
	ktls_session_free(s);
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

/* ---- KTLS_E_PENDING: a record that carries more than Finished ---- */

/*
 * TLS 1.2 server keys from the peer's master secret (RFC 5246 6.3, AES-
 * 128-GCM: two 16-byte keys, then two 4-byte implicit IVs).
 */
static void server_write_keys(SSL *ssl, struct tr_keys *k)
{
	unsigned char ms[48], seed[13 + 64], block[40];
	union kt_crypto_info ci = { 0 };
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "TLS1-PRF", NULL);
	EVP_KDF_CTX *kctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	OSSL_PARAM params[4];
	size_t mslen;

	KT_ASSERT(kctx);
	mslen = SSL_SESSION_get_master_key(SSL_get_session(ssl), ms,
					   sizeof(ms));
	KT_ASSERT_EQ(mslen, 48);
	memcpy(seed, "key expansion", 13);
	KT_ASSERT_EQ(SSL_get_server_random(ssl, seed + 13, 32), 32);
	KT_ASSERT_EQ(SSL_get_client_random(ssl, seed + 45, 32), 32);
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
						     (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SECRET,
						      ms, mslen);
	params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SEED,
						      seed, sizeof(seed));
	params[3] = OSSL_PARAM_construct_end();
	KT_ASSERT_EQ(EVP_KDF_derive(kctx, block, sizeof(block), params), 1);
	ci.gcm128.info.version = TLS_1_2_VERSION;
	ci.gcm128.info.cipher_type = TLS_CIPHER_AES_GCM_128;
	memcpy(ci.gcm128.key, block + 16, 16);
	memcpy(ci.gcm128.salt, block + 36, 4);
	tr_keys_from_info(k, &ci);
	EVP_KDF_CTX_free(kctx);
	EVP_KDF_free(kdf);
}

struct pending_peer {
	int fd;
	SSL_CTX *ctx;
	pthread_t thr;
	int rewritten;
	char err[256];
};

/*
 * Write the server's records to the socket; the encrypted one after its
 * ChangeCipherSpec (Finished) goes out re-sealed with a HelloRequest
 * behind Finished in the same record.
 */
static int pending_flush(struct pending_peer *pp, SSL *ssl, BIO *wbio,
			 unsigned char *out, size_t *have, int *seen_ccs)
{
	static unsigned char pt[TR_MAX_PT + 256], rec[TR_MAX_REC];
	static const unsigned char hello_request[4] = { 0, 0, 0, 0 };
	int n;

	while ((n = BIO_read(wbio, out + *have, 65536 - (int)*have)) > 0)
		*have += (size_t)n;
	while (*have >= 5) {
		size_t len = 5 + ((size_t)out[3] << 8 | out[4]);
		const unsigned char *w = out;
		size_t wlen = len;

		if (*have < len)
			break;
		if (out[0] == 20) {
			*seen_ccs = 1;
		} else if (out[0] == 22 && *seen_ccs && !pp->rewritten) {
			struct tr_keys k;
			uint8_t type;
			size_t ptlen;

			server_write_keys(ssl, &k);
			if (tr_open(&k, out, len, &type, pt, &ptlen) !=
			    (ssize_t)len || type != 22 || pt[0] != 20) {
				snprintf(pp->err, sizeof(pp->err),
					 "peer: cannot open its Finished: %s",
					 tr_error());
				return -1;
			}
			memcpy(pt + ptlen, hello_request, 4);
			k.seq = 0;
			wlen = tr_seal(&k, 22, pt, ptlen + 4, rec);
			w = rec;
			pp->rewritten = 1;
		}
		kt_write_all(pp->fd, w, wlen);
		memmove(out, out + len, *have - len);
		*have -= len;
	}
	return 0;
}

static void *pending_peer_main(void *arg)
{
	struct pending_peer *pp = arg;
	static unsigned char out[65536];
	BIO *rbio = BIO_new(BIO_s_mem()), *wbio = BIO_new(BIO_s_mem());
	SSL *ssl = SSL_new(pp->ctx);
	size_t have = 0;
	int seen_ccs = 0, rc;
	char buf[4096];

	SSL_set_bio(ssl, rbio, wbio);
	SSL_set_accept_state(ssl);
	for (;;) {
		ssize_t n;

		ERR_clear_error();
		rc = SSL_do_handshake(ssl);
		if (pending_flush(pp, ssl, wbio, out, &have, &seen_ccs))
			break;
		if (rc == 1)
			break;
		if (SSL_get_error(ssl, rc) != SSL_ERROR_WANT_READ) {
			snprintf(pp->err, sizeof(pp->err), "peer handshake: %s",
				 ERR_reason_error_string(ERR_get_error()));
			break;
		}
		n = read(pp->fd, buf, sizeof(buf));
		if (n <= 0) {
			snprintf(pp->err, sizeof(pp->err),
				 "peer: read %zd before its Finished", n);
			break;
		}
		BIO_write(rbio, buf, (int)n);
	}
	SSL_free(ssl);
	return NULL;
}

/*
 * The peer server puts a HelloRequest behind its Finished, in the same
 * record: OpenSSL completes the handshake with 4 bytes still in its
 * record buffer, which the kernel would never see, so the handover is
 * refused with KTLS_E_PENDING and nothing goes to the kernel.
 */
static void err_pending(void)
{
	struct ktls_opts o = { .timeout_ms = 60000 };
	struct ktls_session *s = ktls_session_new();
	struct pending_peer pp = { 0 };
	struct timeval tv = { 60, 0 };
	int c, sv;

	kt_tcp_pair(AF_INET, &c, &sv);
	setsockopt(sv, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	pp.fd = sv;
	pp.ctx = peer_ctx(1, 0, NULL);
	KT_ASSERT(SSL_CTX_set_cipher_list(pp.ctx,
					  "ECDHE-ECDSA-AES128-GCM-SHA256"));
	KT_ASSERT_EQ(pthread_create(&pp.thr, NULL, pending_peer_main, &pp),
		     0);
	KT_ASSERT_EQ(ktls_handshake(s, our_ctx(0), c, 0, &o), -1);
	pthread_join(pp.thr, NULL);
	if (pp.err[0])
		KT_FAIL("%s", pp.err);
	KT_ASSERT(pp.rewritten);
	expect_code(s, KTLS_E_PENDING);
	/* What is held: no application data, a record's unprocessed rest. */
	if (strstr(ktls_errmsg(s), " 0 ") ||
	    !strstr(ktls_errmsg(s), "unprocessed"))
		KT_FAIL("the message does not say what OpenSSL holds: %s",
			ktls_errmsg(s));
	KT_ASSERT(!ktls_session_kernel(s, 1) && !ktls_session_kernel(s, 0));
	/* No ULP went on the socket. */
	{
		char ulp[16] = "";
		socklen_t len = sizeof(ulp);

		KT_ASSERT_OK(getsockopt(c, SOL_TCP, TCP_ULP, ulp, &len));
		KT_ASSERT_EQ(ulp[0], 0);
	}
	ktls_session_free(s);
	close(c);
	close(sv);
}

/* ---- KTLS_E_NOMEM: OpenSSL's allocator fails ---- */

static int nomem_armed, nomem_hooked;

static void *nomem_malloc(size_t n, const char *file, int line)
{
	(void)file;
	(void)line;
	if (__atomic_load_n(&nomem_armed, __ATOMIC_SEQ_CST))
		return NULL;
	return malloc(n);
}

static void *nomem_realloc(void *p, size_t n, const char *file, int line)
{
	(void)file;
	(void)line;
	if (__atomic_load_n(&nomem_armed, __ATOMIC_SEQ_CST))
		return NULL;
	return realloc(p, n);
}

static void nomem_free(void *p, const char *file, int line)
{
	(void)file;
	(void)line;
	free(p);
}

/*
 * Every OpenSSL allocation fails while armed: the handshake cannot start
 * (SSL_new) and says KTLS_E_NOMEM; disarmed, the same context and a new
 * session work.
 */
static void err_nomem(void)
{
	struct ktls_opts o = { .timeout_ms = 60000 };
	struct ktls_session *s = ktls_session_new();
	SSL_CTX *ctx = our_ctx(0);
	struct peer p = { 0 };
	int c, sv;

	if (!nomem_hooked)
		KT_FAIL("CRYPTO_set_mem_functions was refused in main()");
	KT_ASSERT(s);
	kt_tcp_pair(AF_INET, &c, &sv);
	__atomic_store_n(&nomem_armed, 1, __ATOMIC_SEQ_CST);
	KT_ASSERT_EQ(ktls_handshake_start(s, ctx, c, 0, &o), -1);
	__atomic_store_n(&nomem_armed, 0, __ATOMIC_SEQ_CST);
	expect_code(s, KTLS_E_NOMEM);
	KT_ASSERT_EQ(ktls_handshake_step(s), KTLS_STEP_ERROR);
	expect_code(s, KTLS_E_INVALID);
	ktls_session_free(s);
	/* Nothing was left half set up. */
	s = ktls_session_new();
	peer_start(&p, sv, 1, 1, job_nop);
	if (ktls_handshake(s, ctx, c, 0, &o))
		KT_FAIL("after the allocator came back: %s", ktls_errmsg(s));
	peer_join(&p);
	KT_ASSERT(ktls_session_kernel(s, 1) && ktls_session_kernel(s, 0));
	ktls_close(s);
	ktls_session_free(s);
	SSL_CTX_free(ctx);
}

/* ---- KTLS_E_LOCKDOWN: ktls_probe under kernel lockdown ---- */

/*
 * In a mount namespace of this case's own, a tmpfs over securityfs holds
 * a lockdown file as the kernel writes it.  With "confidentiality"
 * selected and no such ULP, ktls_probe says lockdown; with "[none]" it
 * says the ULP is missing; a ULP that works is fine either way.
 */
static void probe_lockdown(const char *line, const char *ulp, int want)
{
	char msg[KTLS_ERR_LEN];
	FILE *f = fopen("/sys/kernel/security/lockdown", "w");
	int rc;

	KT_ASSERT(f);
	KT_ASSERT(fputs(line, f) >= 0);
	KT_ASSERT_OK(fclose(f));
	rc = ktls_probe(ulp, 0, 0, msg, sizeof(msg));
	kt_diag("lockdown \"%.*s\", ulp %s: %s: %s", (int)strcspn(line, "\n"),
		line, ulp ? ulp : "(default)", ktls_error_name(rc), msg);
	KT_ASSERT_EQ(rc, want);
	if (want == KTLS_E_LOCKDOWN)
		KT_ASSERT(strstr(msg, "\"confidentiality\"") &&
			  strstr(msg, "not registered") && strstr(msg, "MOK"));
}

static void err_lockdown(void)
{
	struct stat st;

	/* The debug kernel has no securityfs; Debian's kernels run this. */
	if (stat("/sys/kernel/security", &st))
		KT_SKIP("no /sys/kernel/security (CONFIG_SECURITYFS) to mount a lockdown file over: %s",
			strerror(errno));
	KT_ASSERT_OK(unshare(CLONE_NEWNS));
	KT_ASSERT_OK(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL));
	KT_ASSERT_OK(mount("ktls-test", "/sys/kernel/security", "tmpfs", 0,
			   "size=64k"));
	probe_lockdown("none integrity [confidentiality]\n", "ktls-none",
		       KTLS_E_LOCKDOWN);
	probe_lockdown("[none] integrity confidentiality\n", "ktls-none",
		       KTLS_E_NO_ULP);
	probe_lockdown("none [integrity] confidentiality\n", NULL, KTLS_OK);
}

/* ---- KTLS_E_KEY_UPDATE: a kernel without TLS 1.3 rekey ---- */

/*
 * Debian's in-tree tls.ko (6.1, 6.12) takes TLS 1.3 keys once and
 * refuses a second TLS_TX/TLS_RX with EBUSY.  Our KeyUpdate goes out,
 * the new TX key does not: KTLS_E_KEY_UPDATE; the peer's ktls_recv()
 * reads that KeyUpdate, its new RX key does not go in either.  ktls is
 * loaded again at the end (the case runs last).
 */
static void err_key_update_refused_by_kernel(void)
{
	struct lib_end srv = { .o.ulp = "tls" }, cl = { .o.ulp = "tls" };
	char buf[64];
	int rc;

	if (kt_module_loaded("ktls"))
		KT_ASSERT_EQ(kt_module_unload("ktls"), 0);
	rc = kt_intree_load();
	if (rc) {
		kt_need_ktls();
		KT_SKIP("in-tree tls.ko does not load: %s", strerror(-rc));
	}
	lib_pair(&srv, &cl);
	KT_ASSERT_EQ(ktls_session_version(cl.s), TLS_1_3_VERSION);
	KT_ASSERT_EQ(ktls_key_update(cl.s, 0), -1);
	expect_code(cl.s, KTLS_E_KEY_UPDATE);
	KT_ASSERT(strstr(ktls_errmsg(cl.s), "TLS_TX"));
	KT_ASSERT_EQ(ktls_recv(srv.s, buf, sizeof(buf)), -1);
	expect_code(srv.s, KTLS_E_KEY_UPDATE);
	KT_ASSERT(strstr(ktls_errmsg(srv.s), "TLS_RX"));
	ktls_close(srv.s);
	ktls_close(cl.s);
	ktls_session_free(srv.s);
	ktls_session_free(cl.s);
	KT_ASSERT_EQ(kt_module_unload("tls"), 0);
	kt_need_ktls();
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
		KT_CASE(err_cipher_from_handshake),
		KT_CASE(err_timeout),
		KT_CASE(err_peer_closed),
		KT_CASE(err_after_handover),
		KT_CASE(err_key_update_needs_tls13),
		KT_CASE(probe_reports),
		KT_CASE(fallback_without_ulp),
		KT_CASE(fallback_cipher),
		KT_CASE_T(keyupdate_two_threads_both_ways, 600),
		KT_CASE_T(keyupdate_two_threads_no_kernel_rekey, 600),
		KT_CASE_T(keyupdate_answer_while_sender_blocked, 120),
		KT_CASE(secrets_tls12_wiped_after_install),
		KT_CASE(secrets_tls13_given_to_the_kernel),
		KT_CASE(secrets_tls13_kept_for_key_update_only),
		KT_CASE(err_pending),
		KT_CASE(err_nomem),
		KT_CASE(err_lockdown),
		/* Last: it swaps ktls for in-tree tls.ko and back. */
		KT_CASE(err_key_update_refused_by_kernel),
	};
	/* Cases that need no kernel module (KTLS_LIBKTLS_HOST=1). */
	static const struct kt_case host_cases[] = {
		KT_CASE(err_handshake),
		KT_CASE(err_cipher_from_handshake),
		KT_CASE(err_timeout),
		KT_CASE(err_peer_closed),
		KT_CASE(err_pending),
		KT_CASE(fallback_cipher),
	};

	setvbuf(stdout, NULL, _IOLBF, 0);
	/* Before OpenSSL allocates anything, or it refuses. */
	nomem_hooked = CRYPTO_set_mem_functions(nomem_malloc, nomem_realloc,
						nomem_free);
	if (getenv("KTLS_LIBKTLS_HOST"))
		return kt_run("libktls-api-host", host_cases,
			      sizeof(host_cases) / sizeof(host_cases[0]));
	kt_need_ktls();
	return kt_run("libktls-api", cases, sizeof(cases) / sizeof(cases[0]));
}
