// SPDX-License-Identifier: MIT
/*
 * Event loop and accept.  A fixed number of workers, each with its own
 * SO_REUSEPORT listener and epoll set; a connection lives on one worker
 * for its whole life, so nothing about it is shared.  Deadlines are
 * checked by a scan of the worker's connections every TICK_MS.  Shared:
 * the connection count (--max-conns) and the per-address table.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "conn.h"
#include "log.h"
#include "loop.h"

#define TICK_MS		200
#define STOP_GRACE_MS	5000
#define EMFILE_PAUSE_MS	100

SSL_CTX *serve_ctx;
SSL_CTX *sni_ctx[MAX_CERTS];
int n_sni_ctx;
FILE *serve_keylog;
atomic_int n_conns_total;
atomic_long n_kernel, n_userspace;
volatile int stopping;

static const char key_cap[] = "cap", key_ipcap[] = "ipcap",
	key_accept[] = "accept";

int loop_listen(const char *addr, const char *port)
{
	struct addrinfo hints = {
		.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
		.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV,
	}, *res;
	int fd, one = 1, rc;

	rc = getaddrinfo(addr, port, &hints, &res);
	if (rc) {
		fprintf(stderr, "ktls-serve: address %s port %s: %s\n", addr,
			port, gai_strerror(rc));
		return -1;
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) ||
	    bind(fd, res->ai_addr, res->ai_addrlen) || listen(fd, 4096)) {
		fprintf(stderr, "ktls-serve: listen on %s:%s: %s\n", addr,
			port, strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

/* --- per-client-address counts --------------------------------------------- */

#define PEER_BUCKETS 4096
struct peer { unsigned char ip[16]; int n; struct peer *next; };
static struct peer *peers[PEER_BUCKETS];
static pthread_mutex_t peers_lock = PTHREAD_MUTEX_INITIALIZER;

static unsigned int peer_hash(const unsigned char ip[16])
{
	unsigned int h = 2166136261u, i;

	for (i = 0; i < 16; i++)
		h = (h ^ ip[i]) * 16777619u;
	return h % PEER_BUCKETS;
}

int peers_take(const unsigned char ip[16])
{
	struct peer **pp = &peers[peer_hash(ip)], *p;
	int ok = 1;

	pthread_mutex_lock(&peers_lock);
	for (p = *pp; p && memcmp(p->ip, ip, 16); p = p->next)
		;
	if (!p && (p = calloc(1, sizeof(*p)))) {
		memcpy(p->ip, ip, 16);
		p->next = *pp;
		*pp = p;
	}
	if (!p || (cfg.max_per_ip && p->n >= cfg.max_per_ip))
		ok = 0;
	else
		p->n++;
	pthread_mutex_unlock(&peers_lock);
	return ok;
}

void peers_put(const unsigned char ip[16])
{
	struct peer **pp = &peers[peer_hash(ip)], *p;

	pthread_mutex_lock(&peers_lock);
	for (; (p = *pp); pp = &p->next) {
		if (memcmp(p->ip, ip, 16))
			continue;
		if (--p->n <= 0) {
			*pp = p->next;
			free(p);
		}
		break;
	}
	pthread_mutex_unlock(&peers_lock);
}

static void addr_key(const struct sockaddr_storage *ss, unsigned char ip[16])
{
	memset(ip, 0, 16);
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)ss;

		/* v4-mapped, so one table holds both families */
		ip[10] = ip[11] = 0xff;
		memcpy(ip + 12, &in->sin_addr, 4);
	} else if (ss->ss_family == AF_INET6) {
		memcpy(ip, &((const struct sockaddr_in6 *)(const void *)ss)->sin6_addr, 16);
	}
}

/* --- epoll bookkeeping ---------------------------------------------------- */

void loop_watch(struct conn *c, unsigned int events)
{
	struct epoll_event ev = { .events = events, .data.ptr = c };
	int op;

	if (events == c->events)
		return;
	/* Not in the set at all when nothing is wanted: a HUP would
	 * otherwise wake us again and again. */
	if (!events)
		op = EPOLL_CTL_DEL;
	else
		op = c->events ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
	if (epoll_ctl(c->w->epfd, op, c->fd, &ev) == 0 || op == EPOLL_CTL_DEL)
		c->events = events;
}

void loop_forget(struct conn *c)
{
	struct worker *w = c->w;

	if (c->events)
		epoll_ctl(w->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	c->events = 0;
	if (c->prev)
		c->prev->next = c->next;
	else
		w->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	w->n_conns--;
	atomic_fetch_sub(&n_conns_total, 1);
	peers_put(c->ip);
	c->prev = NULL;
	c->next = w->dead;
	w->dead = c;
}

static void free_dead(struct worker *w)
{
	while (w->dead) {
		struct conn *c = w->dead;

		w->dead = c->next;
		free(c);
	}
}

/* --- accept ---------------------------------------------------------------- */

static void watch_listener(struct worker *w, int on)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };

	if (on == w->watching_lfd || w->lfd < 0)
		return;
	epoll_ctl(w->epfd, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, w->lfd, &ev);
	w->watching_lfd = on;
}

static void accept_some(struct worker *w)
{
	int i;

	for (i = 0; i < 64; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		unsigned char ip[16];
		struct conn *c;
		int fd, one = 1;

		fd = accept4(w->lfd, (struct sockaddr *)&ss, &sl,
			     SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				/* The backlog keeps them; try again soon
				 * instead of spinning on a ready listener. */
				log_limited(key_accept,
					    "accept: %s: pausing accept() for %d ms (raise the fd limit or lower --max-conns)",
					    strerror(errno), EMFILE_PAUSE_MS);
				watch_listener(w, 0);
				w->accept_paused_until = conn_now_ms() + EMFILE_PAUSE_MS;
			}
			return;
		}
		if (atomic_load(&n_conns_total) >= cfg.max_conns) {
			close(fd);
			log_limited(key_cap, "refusing connections: --max-conns %d reached",
				    cfg.max_conns);
			continue;
		}
		addr_key(&ss, ip);
		if (!peers_take(ip)) {
			close(fd);
			log_limited(key_ipcap, "refusing a connection: --max-per-ip %d reached for one address",
				    cfg.max_per_ip);
			continue;
		}
		atomic_fetch_add(&n_conns_total, 1);
		c = conn_new(w, fd, (struct sockaddr *)&ss, ip);
		if (!c) {
			atomic_fetch_sub(&n_conns_total, 1);
			peers_put(ip);
			close(fd);
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c->next = w->conns;
		if (w->conns)
			w->conns->prev = c;
		w->conns = c;
		w->n_conns++;
		loop_watch(c, EPOLLIN);	/* the ClientHello */
	}
}

/* --- the loop ------------------------------------------------------------- */

static void scan(struct worker *w, double now)
{
	struct conn *c, *next;

	for (c = w->conns; c; c = next) {
		next = c->next;
		if (stopping && conn_idle(c))
			conn_drop(c, "shutting down");
		else
			conn_on_tick(c, now);
	}
}

void *loop_run(void *arg)
{
	struct worker *w = arg;
	struct epoll_event evs[256];
	double last_tick = conn_now_ms(), stop_at = 0;

	watch_listener(w, 1);
	w->listening = 1;
	for (;;) {
		int n = epoll_wait(w->epfd, evs, 256, TICK_MS), i;
		double now;

		for (i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;

			if (!c) {
				accept_some(w);
				continue;
			}
			if (c->state != CS_DEAD)
				conn_on_event(c, evs[i].events);
		}
		free_dead(w);
		now = conn_now_ms();
		if (w->accept_paused_until && now >= w->accept_paused_until &&
		    w->listening) {
			w->accept_paused_until = 0;
			watch_listener(w, 1);
		}
		if (stopping && w->listening) {
			watch_listener(w, 0);
			close(w->lfd);
			w->lfd = -1;
			w->listening = 0;
			stop_at = now;
		}
		if (now - last_tick >= TICK_MS || stopping) {
			last_tick = now;
			scan(w, now);
			free_dead(w);
		}
		if (stopping && (!w->conns || now - stop_at > STOP_GRACE_MS))
			break;
	}
	while (w->conns)
		conn_drop(w->conns, "shutting down");
	free_dead(w);
	close(w->epfd);
	return NULL;
}
