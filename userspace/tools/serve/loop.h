/* SPDX-License-Identifier: MIT */
/* Worker threads: one epoll loop each, its own SO_REUSEPORT listener. */
#ifndef SERVE_LOOP_H
#define SERVE_LOOP_H

#include <stdatomic.h>
#include <stdio.h>
#include <openssl/ssl.h>

struct conn;

struct worker {
	int id, lfd, epfd;
	struct conn *conns;		/* list for the deadline scan */
	int n_conns;
	double accept_paused_until;	/* EMFILE: retry accept() later */
	int listening;
	int watching_lfd;		/* lfd in the epoll set */
	struct conn *dead;		/* closed this round, freed after it */
};

extern SSL_CTX *serve_ctx;
/* Further certificates, picked by SNI (tls.c). */
extern SSL_CTX *sni_ctx[];
extern int n_sni_ctx;
extern FILE *serve_keylog;
extern atomic_int n_conns_total;
extern atomic_long n_kernel, n_userspace;
extern volatile int stopping;

/* A listening socket for one worker (SO_REUSEPORT). -1 with a message. */
int loop_listen(const char *addr, const char *port);
/* The worker thread's body; arg is a struct worker. */
void *loop_run(void *arg);
/* Change what epoll waits for on c. */
void loop_watch(struct conn *c, unsigned int events);
/* Forget c (closed): list, epoll, counts. */
void loop_forget(struct conn *c);
/* Per-client-address accounting; 0 if over the cap. */
int peers_take(const unsigned char ip[16]);
void peers_put(const unsigned char ip[16]);

#endif /* SERVE_LOOP_H */
