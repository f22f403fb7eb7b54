// SPDX-License-Identifier: MIT
/*
 * ktls-get: download one URL over kernel TLS RX into a file, check the
 * length, report bytes and MB/s.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <ktls.h>

#define BUF_SIZE	(256 * 1024)

struct url {
	char host[256], port[16], path[2048];
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* https://HOST[:PORT]/PATH, HOST may be [v6]. */
static int parse_url(const char *s, struct url *u)
{
	const char *h, *p, *slash;
	size_t n;

	if (strncmp(s, "https://", 8))
		return -1;
	h = s + 8;
	slash = strchr(h, '/');
	if (!slash)
		slash = h + strlen(h);
	if (*h == '[') {
		p = memchr(h, ']', slash - h);
		if (!p)
			return -1;
		n = p - h - 1;
		h++;
		p++;
	} else {
		p = memchr(h, ':', slash - h);
		if (!p)
			p = slash;
		n = p - h;
	}
	if (!n || n >= sizeof(u->host))
		return -1;
	memcpy(u->host, h, n);
	u->host[n] = '\0';
	if (*p == ':') {
		n = slash - p - 1;
		if (!n || n >= sizeof(u->port))
			return -1;
		memcpy(u->port, p + 1, n);
		u->port[n] = '\0';
	} else {
		strcpy(u->port, "443");
	}
	snprintf(u->path, sizeof(u->path), "%s", *slash ? slash : "/");
	return 0;
}

static int connect_to(const struct url *u, FILE *trace)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	int fd = -1, rc;
	double t0 = now_s();

	hints.ai_flags = AI_NUMERICHOST;
	rc = getaddrinfo(u->host, u->port, &hints, &res);
	if (rc == EAI_NONAME) {
		hints.ai_flags = 0;
		rc = getaddrinfo(u->host, u->port, &hints, &res);
	}
	if (rc) {
		fprintf(stderr, "ktls-get: resolve %s: %s\n", u->host,
			gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && !connect(fd, ai->ai_addr, ai->ai_addrlen))
			break;
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	if (fd < 0)
		fprintf(stderr, "ktls-get: connect %s:%s: %s\n", u->host,
			u->port, strerror(errno));
	else if (trace)
		fprintf(trace, "TCP connect %s:%s: connected in %.1f ms\n",
			u->host, u->port, (now_s() - t0) * 1e3);
	freeaddrinfo(res);
	return fd;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= w;
	}
	return 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: ktls-get [options] https://HOST[:PORT]/PATH\n"
		"  -o, --output FILE   write the body here (default: basename)\n"
		"      --tls1.2 | --tls1.3   only this version\n"
		"      --cipher LIST   TLS 1.2 cipher list / TLS 1.3 suites\n"
		"      --ca FILE       also trust these CAs (PEM)\n"
		"      --insecure      do not verify the server's certificate\n"
		"      --fallback      without kernel TLS, go on in userspace TLS\n"
		"      --ulp NAME      TCP ULP (default $KTLS_ULP or tls)\n"
		"      --trace         print the handshake step by step\n"
		"      --keylog FILE   write the NSS key log (secrets!)\n");
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "tls1.2", no_argument, NULL, '2' },
		{ "tls1.3", no_argument, NULL, '3' },
		{ "cipher", required_argument, NULL, 'C' },
		{ "ca", required_argument, NULL, 'A' },
		{ "insecure", no_argument, NULL, 'k' },
		{ "fallback", no_argument, NULL, 'F' },
		{ "ulp", required_argument, NULL, 'u' },
		{ "trace", no_argument, NULL, 't' },
		{ "keylog", required_argument, NULL, 'K' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *out = NULL, *cipher = NULL, *ca = NULL;
	struct ktls_opts o = { .timeout_ms = 30000 };
	char err[KTLS_ERR_LEN], *buf, *body, req[2600];
	long long clen = -1, got = 0;
	int opt, ver = 0, fd, ofd, status, rc = 1, insecure = 0;
	struct ktls_session *s;
	size_t have = 0, hl = 0;
	SSL_CTX *ctx;
	struct url u;
	double t0;

	while ((opt = getopt_long(argc, argv, "o:h", lopts, NULL)) != -1) {
		switch (opt) {
		case 'o':
			out = optarg;
			break;
		case '2':
			ver = TLS1_2_VERSION;
			break;
		case '3':
			ver = TLS1_3_VERSION;
			break;
		case 'C':
			cipher = optarg;
			break;
		case 'A':
			ca = optarg;
			break;
		case 'k':
			insecure = 1;
			break;
		case 'F':
			o.flags |= KTLS_F_FALLBACK;
			break;
		case 'u':
			o.ulp = optarg;
			break;
		case 't':
			o.trace = stderr;
			break;
		case 'K':
			o.keylog = fopen(optarg, "a");
			if (!o.keylog) {
				perror(optarg);
				return 2;
			}
			break;
		default:
			usage();
			return opt == 'h' ? 0 : 2;
		}
	}
	if (optind + 1 != argc || parse_url(argv[optind], &u)) {
		usage();
		return 2;
	}
	if (!out) {
		out = strrchr(u.path, '/') + 1;
		if (!*out)
			out = "index.html";
	}

	ctx = ktls_ctx_new(0, NULL, NULL, err, sizeof(err));
	if (!ctx) {
		fprintf(stderr, "ktls-get: %s\n", err);
		return 1;
	}
	if (ver && (!SSL_CTX_set_min_proto_version(ctx, ver) ||
		    !SSL_CTX_set_max_proto_version(ctx, ver)))
		goto ssl_fail;
	if (cipher && !(ver == TLS1_3_VERSION ?
			SSL_CTX_set_ciphersuites(ctx, cipher) :
			SSL_CTX_set_cipher_list(ctx, cipher)))
		goto ssl_fail;
	/* The system's CA store, plus --ca; SNI and the host name checked. */
	if (!insecure) {
		if (!SSL_CTX_set_default_verify_paths(ctx))
			goto ssl_fail;
		if (ca && !SSL_CTX_load_verify_locations(ctx, ca, NULL))
			goto ssl_fail;
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	}
	o.server_name = u.host;

	fd = connect_to(&u, o.trace);
	if (fd < 0)
		goto out_ctx;
	s = ktls_session_new();
	if (!s) {
		fprintf(stderr, "ktls-get: out of memory\n");
		close(fd);
		goto out_ctx;
	}
	t0 = now_s();
	if (ktls_handshake(s, ctx, fd, 0, &o)) {
		fprintf(stderr, "ktls-get: %s\n", ktls_errmsg(s));
		if (insecure == 0 && ktls_error(s) == KTLS_E_HANDSHAKE &&
		    strstr(ktls_errmsg(s), "not trusted"))
			fprintf(stderr, "ktls-get: (--ca FILE to trust its CA, --insecure to skip the check)\n");
		close(fd);
		goto out_session;
	}
	if (ktls_fallback_reason(s))
		fprintf(stderr, "ktls-get: kernel TLS unavailable, userspace TLS instead: %s\n",
			ktls_fallback_reason(s));
	snprintf(req, sizeof(req),
		 "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: ktls-get\r\n"
		 "Connection: close\r\n\r\n", u.path, u.host);
	if (ktls_send(s, req, strlen(req)) != (ssize_t)strlen(req)) {
		perror("ktls-get: sending the request");
		goto out_close;
	}
	buf = malloc(BUF_SIZE);
	if (!buf)
		goto out_close;
	/* The response head. */
	while (!hl) {
		ssize_t n = ktls_recv(s, buf + have, BUF_SIZE - have - 1);
		char *e;

		if (n <= 0) {
			fprintf(stderr, "ktls-get: reading the response: %s\n",
				n ? (*ktls_errmsg(s) ? ktls_errmsg(s) :
				     strerror(errno)) :
				"connection closed");
			goto out_buf;
		}
		have += n;
		buf[have] = '\0';
		e = strstr(buf, "\r\n\r\n");
		if (e)
			hl = e + 4 - buf;
		else if (have == BUF_SIZE - 1)
			goto out_buf;
	}
	if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1) {
		fprintf(stderr, "ktls-get: not an HTTP response\n");
		goto out_buf;
	}
	for (body = buf; body < buf + hl; body = strstr(body, "\r\n") + 2)
		if (!strncasecmp(body, "Content-Length:", 15))
			clen = atoll(body + 15);
	if (status != 200) {
		fprintf(stderr, "ktls-get: HTTP status %d\n", status);
		goto out_buf;
	}
	ofd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (ofd < 0) {
		perror(out);
		goto out_buf;
	}
	got = have - hl;
	if (write_all(ofd, buf + hl, got))
		goto write_fail;
	while (clen < 0 || got < clen) {
		ssize_t n = ktls_recv(s, buf, BUF_SIZE);

		if (n == 0)
			break;
		if (n < 0) {
			fprintf(stderr, "ktls-get: after %lld bytes: %s\n",
				got, *ktls_errmsg(s) ? ktls_errmsg(s) :
				strerror(errno));
			goto out_file;
		}
		if (write_all(ofd, buf, n))
			goto write_fail;
		got += n;
	}
	if (clen >= 0 && got != clen) {
		fprintf(stderr, "ktls-get: short body: %lld of %lld bytes\n",
			got, clen);
	} else if (clen < 0 && !ktls_session_peer_closed(s)) {
		fprintf(stderr, "ktls-get: no Content-Length and the connection ended without close_notify: %lld bytes, possibly truncated\n",
			got);
	} else {
		double dt = now_s() - t0;
		SSL *ssl = ktls_fallback_reason(s) ? ktls_session_ssl(s) : NULL;

		printf("%s: %lld bytes in %.2f s, %.1f MB/s (%s %s, %s)\n",
		       out, got, dt, dt > 0 ? got / dt / 1e6 : 0.0,
		       ssl ? SSL_get_version(ssl) :
		       ktls_version_name(ktls_session_version(s)),
		       ssl ? SSL_get_cipher_name(ssl) :
		       ktls_cipher_name(ktls_session_cipher(s)),
		       ssl ? "userspace TLS fallback" : "kernel TLS RX");
		rc = 0;
	}
	goto out_file;
write_fail:
	perror(out);
out_file:
	close(ofd);
out_buf:
	free(buf);
out_close:
	ktls_close(s);
out_session:
	ktls_session_free(s);
out_ctx:
	SSL_CTX_free(ctx);
	if (o.keylog)
		fclose(o.keylog);
	return rc;
ssl_fail:
	ERR_print_errors_fp(stderr);
	fprintf(stderr, "ktls-get: bad --tls/--cipher/--ca option\n");
	SSL_CTX_free(ctx);
	return 2;
}
