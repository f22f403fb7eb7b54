// SPDX-License-Identifier: MIT
/*
 * serve_peer: a misbehaving HTTPS client for test_serve_bad.sh.
 *
 *   serve_peer [opts] HOST PORT      request bytes on stdin
 *     -t MS     trickle: send the request (or, with -r, raw bytes) one byte
 *               every MS milliseconds
 *     -r        raw TCP, no TLS (e.g. a ClientHello trickled by hand)
 *     -s BPS    slow reader: read at most BPS bytes per second (0: never)
 *     -u MIB    TLS 1.3: send a KeyUpdate (update_requested) every MIB MiB
 *               of response read
 *     -w SEC    give up after SEC seconds (default 30)
 *     -o FILE   write the response (head and body) to FILE
 *
 * Prints one line: "status=S bytes=N secs=T end=E" where E is how the
 * connection ended: eof, close_notify, reset, timeout, error.  Exit 0
 * unless the helper itself failed.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void msleep(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static size_t read_stdin(char **out)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);
	ssize_t n;

	while (buf && (n = read(0, buf + len, cap - len)) > 0) {
		len += n;
		if (len == cap)
			buf = realloc(buf, cap *= 2);
	}
	*out = buf;
	return buf ? len : 0;
}

/* Wait until fd is readable or the deadline; 0 when it timed out. */
static int wait_in(int fd, double deadline)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int ms = (int)((deadline - now_s()) * 1000);

	if (ms <= 0)
		return 0;
	return poll(&p, 1, ms) != 0;
}

int main(int argc, char **argv)
{
	int opt, raw = 0, trickle = 0, bps = -1, upd_mib = 0, wait_s = 30;
	const char *end = "timeout", *outname = NULL;
	long long got = 0, next_upd;
	struct sockaddr_in sa = { .sin_family = AF_INET };
	char *req, buf[16384];
	size_t req_len, i;
	SSL_CTX *ctx = NULL;
	SSL *ssl = NULL;
	double t0, deadline;
	FILE *out = NULL;
	int fd, status = 0;

	while ((opt = getopt(argc, argv, "t:rs:u:w:o:")) != -1) {
		switch (opt) {
		case 't': trickle = atoi(optarg); break;
		case 'r': raw = 1; break;
		case 's': bps = atoi(optarg); break;
		case 'u': upd_mib = atoi(optarg); break;
		case 'w': wait_s = atoi(optarg); break;
		case 'o': outname = optarg; break;
		default: return 2;
		}
	}
	if (argc - optind != 2 ||
	    inet_pton(AF_INET, argv[optind], &sa.sin_addr) != 1) {
		fprintf(stderr, "usage: serve_peer [-t MS] [-r] [-s BPS] [-u MIB] [-w SEC] [-o FILE] HOST PORT\n");
		return 2;
	}
	sa.sin_port = htons(atoi(argv[optind + 1]));
	signal(SIGPIPE, SIG_IGN);	/* a reset while writing is a result */
	req_len = read_stdin(&req);
	if (outname && !(out = fopen(outname, "w"))) {
		perror(outname);
		return 2;
	}
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		perror("connect");
		return 2;
	}
	if (bps >= 0) {		/* a small window makes a slow reader bite */
		int small = 4096;

		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	}
	t0 = now_s();
	deadline = t0 + wait_s;
	if (!raw) {
		ctx = SSL_CTX_new(TLS_client_method());
		ssl = ctx ? SSL_new(ctx) : NULL;
		if (!ssl || !SSL_set_fd(ssl, fd) ||
		    !SSL_set_tlsext_host_name(ssl, "localhost") ||
		    SSL_connect(ssl) != 1) {
			printf("status=0 bytes=0 secs=%.2f end=handshake_failed\n",
			       now_s() - t0);
			return 0;
		}
	}
	for (i = 0; i < req_len;) {
		size_t n = trickle ? 1 : req_len - i;
		int w;

		if (now_s() > deadline)
			goto done;
		w = raw ? (int)send(fd, req + i, n, MSG_NOSIGNAL) :
			  SSL_write(ssl, req + i, (int)n);
		if (w <= 0) {
			end = "closed_while_sending";
			goto done;
		}
		i += w;
		if (trickle && i < req_len) {
			/* The server may drop us while we dawdle. */
			struct pollfd p = { .fd = fd, .events = POLLIN };

			if (poll(&p, 1, trickle) > 0) {
				char c;

				if (recv(fd, &c, 1, MSG_PEEK) <= 0) {
					end = "closed_while_sending";
					goto done;
				}
				break;	/* an answer (e.g. 400) before the end */
			}
		}
	}
	next_upd = upd_mib ? (long long)upd_mib << 20 : -1;
	for (;;) {
		size_t want = sizeof(buf);
		int n;

		if (bps == 0) {		/* never read: wait for the drop */
			char c;
			ssize_t r;

			if (!wait_in(fd, deadline))
				goto done;
			r = recv(fd, &c, 1, MSG_PEEK);
			if (r <= 0 || now_s() >= deadline) {
				end = r < 0 ? "reset" : "eof";
				goto done;
			}
			/* Data is there; we do not take it.  Poll for the drop. */
			for (;;) {
				struct pollfd p = { .fd = fd, .events = POLLRDHUP };

				if (poll(&p, 1, 200) > 0 &&
				    (p.revents & (POLLRDHUP | POLLHUP | POLLERR))) {
					end = "closed_by_server";
					goto done;
				}
				if (now_s() >= deadline)
					goto done;
			}
		}
		if (bps > 0 && want > (size_t)bps / 10 + 1)
			want = bps / 10 + 1;
		if (!(ssl && SSL_pending(ssl)) && !wait_in(fd, deadline))
			goto done;
		if (raw) {
			n = (int)recv(fd, buf, want, 0);
			if (n <= 0) {
				end = n == 0 ? "eof" : errno == ECONNRESET ? "reset" : "error";
				goto done;
			}
		} else {
			n = SSL_read(ssl, buf, (int)want);
			if (n <= 0) {
				int e = SSL_get_error(ssl, n);

				if (e == SSL_ERROR_ZERO_RETURN)
					end = "close_notify";
				else if (e == SSL_ERROR_SYSCALL && errno == ECONNRESET)
					end = "reset";
				else if (e == SSL_ERROR_SYSCALL && !ERR_peek_error())
					end = "eof";
				else
					end = "error";
				goto done;
			}
		}
		if (!got && n >= 12 && !strncmp(buf, "HTTP/1.", 7))
			status = atoi(buf + 9);
		got += n;
		if (out)
			fwrite(buf, 1, n, out);
		if (next_upd >= 0 && got >= next_upd && ssl) {
			SSL_key_update(ssl, SSL_KEY_UPDATE_REQUESTED);
			SSL_do_handshake(ssl);
			next_upd += (long long)upd_mib << 20;
		}
		if (bps > 0)
			msleep(100);
	}
done:
	printf("status=%d bytes=%lld secs=%.2f end=%s\n", status, got,
	       now_s() - t0, end);
	if (out)
		fclose(out);
	return 0;
}
