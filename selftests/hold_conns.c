// SPDX-License-Identifier: GPL-2.0
/*
 * hold_conns [-t PATH] HOST PORT N SECONDS: open N TCP connections, send
 * nothing, close them after SECONDS (or when the peer does).  test_serve.sh
 * uses it for its idle-client check: one process instead of N shell
 * pipelines, which a KASAN kernel takes minutes to fork.
 *
 * -t PATH: each connection is TLS instead: handshake, one keep-alive
 * "GET PATH" whose response is read whole, then idle (the memory a server
 * keeps per idle keep-alive connection, test_serve_idle.sh).  Prints
 * "held N in T s" once all are idle.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <openssl/ssl.h>

/* One request on a fresh TLS connection, its response read whole
 * (Content-Length); 0 or -1. */
static int tls_request(SSL *ssl, const char *path)
{
	char buf[16384], req[1200];
	size_t have = 0, want = 0;
	int n;

	n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: hold\r\n\r\n",
		     path);
	if (SSL_write(ssl, req, n) != n)
		return -1;
	for (;;) {
		char *end, *cl;

		n = SSL_read(ssl, buf + have, sizeof(buf) - 1 - have);
		if (n <= 0)
			return -1;
		have += (size_t)n;
		buf[have] = '\0';
		end = strstr(buf, "\r\n\r\n");
		if (!end)
			continue;
		cl = strstr(buf, "Content-Length: ");
		if (!cl || cl > end)
			return -1;
		want = (size_t)(end + 4 - buf) + strtoul(cl + 16, NULL, 10);
		break;
	}
	while (have < want) {
		size_t room = sizeof(buf) - 1;

		n = SSL_read(ssl, buf, (int)(want - have < room ? want - have : room));
		if (n <= 0)
			return -1;
		have += (size_t)n;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct pollfd *pf;
	int n, secs, i, open_n = 0;
	const char *tls_path = NULL;
	SSL_CTX *ctx = NULL;
	time_t end, t0 = time(NULL);

	/* A server that closes on us: an error message, not a silent death. */
	signal(SIGPIPE, SIG_IGN);
	if (argc == 7 && !strcmp(argv[1], "-t")) {
		tls_path = argv[2];
		argv += 2;
		argc -= 2;
		ctx = SSL_CTX_new(TLS_client_method());
		if (!ctx)
			return 1;
	}
	if (argc != 5 || inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1) {
		fprintf(stderr, "usage: hold_conns [-t PATH] HOST PORT N SECONDS\n");
		return 2;
	}
	sa.sin_port = htons(atoi(argv[2]));
	n = atoi(argv[3]);
	secs = atoi(argv[4]);
	pf = calloc(n > 0 ? n : 1, sizeof(*pf));
	if (!pf || n <= 0 || secs <= 0)
		return 2;
	for (i = 0; i < n; i++) {
		pf[i].fd = socket(AF_INET, SOCK_STREAM, 0);
		pf[i].events = POLLIN;
		if (pf[i].fd < 0 ||
		    connect(pf[i].fd, (struct sockaddr *)&sa, sizeof(sa))) {
			fprintf(stderr, "hold_conns: connection %d: %s\n", i,
				strerror(errno));
			return 1;
		}
		if (ctx) {
			SSL *ssl = SSL_new(ctx);

			/* Kept for the life of the process: the connection
			 * stays open, idle after its one request. */
			if (!ssl || !SSL_set_fd(ssl, pf[i].fd) ||
			    SSL_connect(ssl) != 1 ||
			    tls_request(ssl, tls_path)) {
				fprintf(stderr, "hold_conns: TLS connection %d failed\n",
					i);
				return 1;
			}
		}
		open_n++;
	}
	if (ctx) {
		printf("held %d in %ld s\n", n, (long)(time(NULL) - t0));
		fflush(stdout);
	}
	/* Until the time is up or the server has closed every one. */
	end = time(NULL) + secs;
	while (open_n && time(NULL) < end) {
		if (poll(pf, n, 1000) <= 0)
			continue;
		for (i = 0; i < n; i++) {
			if (pf[i].fd >= 0 && pf[i].revents) {
				close(pf[i].fd);
				pf[i].fd = -1;
				open_n--;
			}
		}
	}
	return 0;
}
