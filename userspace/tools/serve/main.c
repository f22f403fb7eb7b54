// SPDX-License-Identifier: GPL-2.0
/*
 * ktls-serve: a static-file HTTPS server whose bodies leave with sendfile()
 * through kernel TLS.  One thread per connection (small stacks, a cap on
 * how many), GET/HEAD, keep-alive, Range, one log line per request.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>

#include <ktls.h>
#include "http.h"

#define STACK_SIZE	(256 * 1024)
#define IDLE_MS		30000
#define HANDSHAKE_MS	10000

static struct {
	const char *root;
	char root_real[PATH_MAX];
	SSL_CTX *ctx;
	struct ktls_opts opts;
	int max_conns;
	int trace;
	long long rekey_bytes;	/* TLS 1.3: KeyUpdate after this many */
} cfg;

static atomic_int n_conns;
static atomic_ulong conn_ids;
static volatile sig_atomic_t stopping, want_stats;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

struct conn {
	int fd;
	unsigned long id;
	char peer[INET6_ADDRSTRLEN + 8];
	char tag[32];
	struct ktls_opts opts;
	struct ktls_session s;
	char buf[HTTP_MAX_HEAD];
	size_t have;
	long long since_rekey;	/* body bytes under the current TX key */
};

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&log_lock);
	va_start(ap, fmt);
	vfprintf(stdout, fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
	pthread_mutex_unlock(&log_lock);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= w;
	}
	return 0;
}

/* --rekey-bytes: a TLS 1.3 key update each time that much went out. */
static int send_file(struct conn *c, int fd, off_t off, off_t len)
{
	int rekey = cfg.rekey_bytes > 0 && c->s.version == TLS_1_3_VERSION;

	while (len > 0) {
		off_t n = len > (1 << 30) ? (1 << 30) : len;
		ssize_t w;

		if (rekey && n > cfg.rekey_bytes - c->since_rekey)
			n = cfg.rekey_bytes - c->since_rekey;
		w = sendfile(c->fd, fd, &off, (size_t)n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		len -= w;
		if (!rekey)
			continue;
		c->since_rekey += w;
		if (c->since_rekey < cfg.rekey_bytes)
			continue;
		if (ktls_key_update(&c->s, 0)) {
			logf_("%s: %s", c->peer, c->s.err);
			return -1;
		}
		c->since_rekey = 0;
	}
	return 0;
}

static void log_req(struct conn *c, const struct http_req *r, int status,
		    off_t bytes, double t0, const char *note)
{
	logf_("%s \"%s %s HTTP/1.%d\" %d %lld %.1fms %s %s%s%s", c->peer,
	      r->method[0] ? r->method : "-", r->path[0] ? r->path : "-",
	      r->minor, status, (long long)bytes, now_ms() - t0,
	      ktls_version_name(c->s.version), ktls_cipher_name(c->s.cipher),
	      note ? " " : "", note ? note : "");
}

/* HTTP/1.0 keep-alive must be confirmed; 1.1 only announces close. */
static const char *conn_header(const struct http_req *r)
{
	if (!r->keep_alive)
		return "Connection: close\r\n";
	return r->minor == 0 ? "Connection: keep-alive\r\n" : "";
}

/* An error page; -1 if the connection must close. */
static int send_error(struct conn *c, const struct http_req *r, int status,
		      int head, double t0, const char *note)
{
	char hdr[512], body[128];
	int blen, hlen;

	blen = snprintf(body, sizeof(body), "%d %s\n", status,
			http_reason(status));
	hlen = snprintf(hdr, sizeof(hdr),
			"HTTP/1.1 %d %s\r\nServer: ktls-serve\r\n"
			"Content-Type: text/plain\r\nContent-Length: %d\r\n"
			"%s\r\n%s", status, http_reason(status), blen,
			conn_header(r),
			head ? "" : body);
	log_req(c, r, status, head ? 0 : blen, t0, note);
	if (send_all(c->fd, hdr, hlen))
		return -1;
	return r->keep_alive ? 0 : -1;
}

/* Open root + path, refusing anything that resolves outside the root. */
static int open_under_root(const char *path, int *status)
{
	char full[PATH_MAX], real[PATH_MAX];
	size_t rl = strlen(cfg.root_real);
	struct stat st;
	int fd;

	if (!http_path_safe(path)) {
		*status = 403;
		return -1;
	}
	if (snprintf(full, sizeof(full), "%s%s%s", cfg.root_real, path,
		     path[strlen(path) - 1] == '/' ? "index.html" : "") >=
	    (int)sizeof(full)) {
		*status = 404;
		return -1;
	}
	if (!realpath(full, real)) {
		*status = 404;
		return -1;
	}
	if (strncmp(real, cfg.root_real, rl) ||
	    (real[rl] != '/' && real[rl] != '\0')) {
		*status = 403;
		return -1;
	}
	fd = open(real, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		if (fd >= 0)
			close(fd);
		*status = 404;
		return -1;
	}
	return fd;
}

/* Serve one parsed request; -1 when the connection must close. */
static int serve(struct conn *c, struct http_req *r, double t0)
{
	int head = !strcmp(r->method, "HEAD"), status = 200, fd, rc = 0;
	off_t start = 0, end, len;
	char hdr[512];
	struct stat st;
	int hlen;

	fd = open_under_root(r->path, &status);
	if (fd < 0)
		return send_error(c, r, status, head, t0, NULL);
	fstat(fd, &st);
	end = st.st_size - 1;
	if (r->has_range) {
		int rs = http_range(r->range, st.st_size, &start, &end);

		if (rs == 416) {
			hlen = snprintf(hdr, sizeof(hdr),
					"HTTP/1.1 416 Range Not Satisfiable\r\n"
					"Server: ktls-serve\r\n"
					"Content-Range: bytes */%lld\r\n"
					"Content-Length: 0\r\n%s\r\n",
					(long long)st.st_size,
					conn_header(r));
			close(fd);
			log_req(c, r, 416, 0, t0, NULL);
			if (send_all(c->fd, hdr, hlen))
				return -1;
			return r->keep_alive ? 0 : -1;
		}
		if (rs == 206)
			status = 206;
	}
	len = end - start + 1;
	hlen = snprintf(hdr, sizeof(hdr),
			"HTTP/1.1 %d %s\r\nServer: ktls-serve\r\n"
			"Content-Type: application/octet-stream\r\n"
			"Accept-Ranges: bytes\r\nContent-Length: %lld\r\n",
			status, http_reason(status), (long long)len);
	if (status == 206)
		hlen += snprintf(hdr + hlen, sizeof(hdr) - hlen,
				 "Content-Range: bytes %lld-%lld/%lld\r\n",
				 (long long)start, (long long)end,
				 (long long)st.st_size);
	hlen += snprintf(hdr + hlen, sizeof(hdr) - hlen, "%s\r\n",
			 conn_header(r));
	if (send_all(c->fd, hdr, hlen) ||
	    (!head && send_file(c, fd, start, len))) {
		log_req(c, r, status, 0, t0, "(client went away)");
		rc = -1;
	} else {
		log_req(c, r, status, head ? 0 : len, t0, NULL);
	}
	close(fd);
	return rc || !r->keep_alive ? -1 : 0;
}

/* Next request head into c->buf; its length, 0 at EOF, -1 on error. */
static ssize_t read_head(struct conn *c)
{
	size_t hl;

	while (!(hl = http_head_len(c->buf, c->have))) {
		ssize_t n;

		if (c->have == sizeof(c->buf))
			return -2;	/* too large */
		n = ktls_recv(&c->s, c->buf + c->have,
			      sizeof(c->buf) - c->have);
		if (n == 0)
			return 0;
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;	/* idle timeout */
			if (c->s.err[0])
				logf_("%s: %s", c->peer, c->s.err);
			return -1;
		}
		c->have += n;
	}
	return hl;
}

static void conn_run(struct conn *c)
{
	struct timeval idle = { IDLE_MS / 1000, 0 };

	if (ktls_handshake(&c->s, cfg.ctx, c->fd, 1, &c->opts)) {
		logf_("%s: %s", c->peer, c->s.err);
		close(c->fd);
		return;
	}
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &idle, sizeof(idle));
	while (!stopping) {
		struct http_req r;
		double t0;
		ssize_t hl = read_head(c);
		int st;

		if (hl <= 0) {
			if (hl == -2) {
				memset(&r, 0, sizeof(r));
				send_error(c, &r, 400, 0, now_ms(),
					   "(request head too large)");
			}
			break;
		}
		t0 = now_ms();
		st = http_parse(c->buf, hl, &r);
		memmove(c->buf, c->buf + hl, c->have - hl);
		c->have -= hl;
		if (st) {
			r.keep_alive = 0;
			send_error(c, &r, st, 0, t0, NULL);
			break;
		}
		if (r.has_body) {
			r.keep_alive = 0;
			send_error(c, &r, 400, 0, t0, "(request body)");
			break;
		}
		if (serve(c, &r, t0))
			break;
	}
	ktls_close(&c->s);
}

static void *conn_main(void *arg)
{
	struct conn *c = arg;

	conn_run(c);
	free(c);
	atomic_fetch_sub(&n_conns, 1);
	return NULL;
}

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		want_stats = 1;
	else
		stopping = 1;
}

/* SIGUSR1: what the process holds, to spot leaks from outside. */
static void log_stats(void)
{
	char line[128];
	int fds = -1, threads = -1;
	FILE *f = fopen("/proc/self/status", "r");
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;

	while (f && fgets(line, sizeof(line), f))
		sscanf(line, "Threads: %d", &threads);
	if (f)
		fclose(f);
	if (d) {
		fds = 0;
		while ((de = readdir(d)))
			fds += de->d_name[0] != '.';
		closedir(d);
		fds--;		/* the directory's own fd */
	}
	logf_("stats: %d connections, %d threads, %d fds",
	      atomic_load(&n_conns), threads, fds);
}

static int listen_on(const char *addr, const char *port)
{
	struct addrinfo hints = {
		.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
		.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV,
	}, *res;
	int fd, one = 1, rc;

	rc = getaddrinfo(addr, port, &hints, &res);
	if (rc) {
		fprintf(stderr, "ktls-serve: address %s port %s: %s\n",
			addr ? addr : "*", port, gai_strerror(rc));
		return -1;
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, res->ai_addr, res->ai_addrlen) || listen(fd, 512)) {
		fprintf(stderr, "ktls-serve: listen on %s:%s: %s\n",
			addr ? addr : "*", port, strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

static void peer_name(const struct sockaddr_storage *ss, char *out,
		      size_t len)
{
	char host[INET6_ADDRSTRLEN] = "?";
	int port = 0;

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)ss;

		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		port = ntohs(in->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)ss;

		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		port = ntohs(in6->sin6_port);
	}
	snprintf(out, len, "%s:%d", host, port);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: ktls-serve [options] [ROOT]\n"
		"  -l, --listen ADDR     address to listen on (default 0.0.0.0)\n"
		"  -p, --port PORT       port (default 8443)\n"
		"  -c, --cert FILE       PEM certificate (chain)\n"
		"  -k, --key FILE        PEM private key (default: in --cert)\n"
		"      --max-conns N     concurrent connections (default 1024)\n"
		"      --ulp NAME        TCP ULP to attach (default $KTLS_ULP or tls)\n"
		"      --trace           print each connection's handshake\n"
		"      --keylog FILE     write the NSS key log (secrets!)\n"
		"      --rekey-bytes N   TLS 1.3: update the TX key (KeyUpdate)\n"
		"                        after every N body bytes\n"
		"      --handshake-timeout SEC  drop a client silent for SEC\n"
		"                        seconds during the handshake (default 10)\n"
		"SIGTERM/SIGINT: stop; SIGUSR1: log connections, threads, fds.\n"
		"Serves ROOT (default .) over HTTPS; bodies go out with sendfile()\n"
		"through kernel TLS.  Without --cert a self-signed ECDSA\n"
		"certificate is generated.\n");
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "port", required_argument, NULL, 'p' },
		{ "cert", required_argument, NULL, 'c' },
		{ "key", required_argument, NULL, 'k' },
		{ "max-conns", required_argument, NULL, 'm' },
		{ "ulp", required_argument, NULL, 'u' },
		{ "trace", no_argument, NULL, 't' },
		{ "keylog", required_argument, NULL, 'K' },
		{ "rekey-bytes", required_argument, NULL, 'R' },
		{ "handshake-timeout", required_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *addr = "0.0.0.0", *port = "8443", *cert = NULL;
	const char *key = NULL;
	struct sigaction sa = { .sa_handler = on_signal };
	char err[KTLS_ERR_LEN];
	sigset_t stop_sigs, old;
	pthread_attr_t attr;
	int opt, lfd, waited;

	cfg.max_conns = 1024;
	cfg.opts.timeout_ms = HANDSHAKE_MS;
	while ((opt = getopt_long(argc, argv, "l:p:c:k:h", lopts, NULL)) != -1) {
		switch (opt) {
		case 'l':
			addr = optarg;
			break;
		case 'p':
			port = optarg;
			break;
		case 'c':
			cert = optarg;
			break;
		case 'k':
			key = optarg;
			break;
		case 'm':
			cfg.max_conns = atoi(optarg);
			break;
		case 'u':
			cfg.opts.ulp = optarg;
			break;
		case 't':
			cfg.opts.trace = stdout;
			break;
		case 'K':
			cfg.opts.keylog = fopen(optarg, "a");
			if (!cfg.opts.keylog) {
				perror(optarg);
				return 2;
			}
			break;
		case 'R':
			cfg.rekey_bytes = atoll(optarg);
			if (cfg.rekey_bytes <= 0) {
				fprintf(stderr, "ktls-serve: --rekey-bytes needs N > 0\n");
				return 2;
			}
			break;
		case 'T':
			cfg.opts.timeout_ms = atoi(optarg) * 1000;
			if (cfg.opts.timeout_ms <= 0) {
				fprintf(stderr, "ktls-serve: --handshake-timeout needs SEC > 0\n");
				return 2;
			}
			break;
		default:
			usage();
			return opt == 'h' ? 0 : 2;
		}
	}
	cfg.root = optind < argc ? argv[optind] : ".";
	if (!realpath(cfg.root, cfg.root_real)) {
		fprintf(stderr, "ktls-serve: root %s: %s\n", cfg.root,
			strerror(errno));
		return 2;
	}
	cfg.ctx = ktls_ctx_new(1, cert, key, err, sizeof(err));
	if (!cfg.ctx) {
		fprintf(stderr, "ktls-serve: %s\n", err);
		return 1;
	}
	if (!cert)
		logf_("no --cert: using a generated self-signed ECDSA P-256 certificate (CN=ktls-serve)");

	signal(SIGPIPE, SIG_IGN);
	sigaction(SIGTERM, &sa, NULL);	/* no SA_RESTART: accept() returns */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sigemptyset(&stop_sigs);
	sigaddset(&stop_sigs, SIGUSR1);
	sigaddset(&stop_sigs, SIGTERM);
	sigaddset(&stop_sigs, SIGINT);
	lfd = listen_on(addr, port);
	if (lfd < 0)
		return 1;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, STACK_SIZE);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	logf_("listening on %s:%s, serving %s", addr, port, cfg.root_real);

	while (!stopping) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		struct conn *c;
		pthread_t thr;
		int fd = accept4(lfd, (struct sockaddr *)&ss, &sl,
				 SOCK_CLOEXEC);

		if (want_stats) {
			want_stats = 0;
			log_stats();
		}
		if (fd < 0) {
			if (errno != EINTR && errno != ECONNABORTED)
				logf_("accept: %s", strerror(errno));
			if (errno == EMFILE || errno == ENFILE)
				usleep(100000);
			continue;
		}
		if (atomic_load(&n_conns) >= cfg.max_conns) {
			close(fd);
			continue;
		}
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->id = atomic_fetch_add(&conn_ids, 1) + 1;
		peer_name(&ss, c->peer, sizeof(c->peer));
		c->opts = cfg.opts;
		snprintf(c->tag, sizeof(c->tag), "conn %lu", c->id);
		c->opts.tag = c->tag;
		if (cfg.opts.trace)
			logf_("[%s] TCP accepted from %s", c->tag, c->peer);
		atomic_fetch_add(&n_conns, 1);
		/* Workers inherit a mask without SIGTERM: it must stop accept(). */
		pthread_sigmask(SIG_BLOCK, &stop_sigs, &old);
		if (pthread_create(&thr, &attr, conn_main, c)) {
			atomic_fetch_sub(&n_conns, 1);
			close(fd);
			free(c);
		}
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	close(lfd);
	logf_("shutting down: %d connection(s) open", atomic_load(&n_conns));
	/* Threads notice `stopping` after their current request. */
	for (waited = 0; atomic_load(&n_conns) > 0 && waited < 50; waited++)
		usleep(100000);
	SSL_CTX_free(cfg.ctx);
	if (cfg.opts.keylog)
		fclose(cfg.opts.keylog);
	return 0;
}
