// SPDX-License-Identifier: GPL-2.0
/*
 * hold_conns HOST PORT N SECONDS: open N TCP connections, send nothing,
 * close them after SECONDS (or when the peer does).  test_serve.sh uses it
 * for its idle-client check: one process instead of N shell pipelines,
 * which a KASAN kernel takes minutes to fork.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct pollfd *pf;
	int n, secs, i, open_n = 0;
	time_t end;

	if (argc != 5 || inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1) {
		fprintf(stderr, "usage: hold_conns HOST PORT N SECONDS\n");
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
		open_n++;
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
