// SPDX-License-Identifier: MIT
/*
 * The connection state machine (see conn.h).  Nothing here blocks: every
 * read, write and sendfile is on a non-blocking socket, and a state that
 * cannot go on waits for epoll with a deadline the timer scan enforces.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "conn.h"
#include "files.h"
#include "fmt.h"
#include "http.h"
#include "log.h"
#include "loop.h"
#include "tls.h"

/* Bytes one connection may send per wake-up before the others' turn. */
#define SEND_SLICE	(4 << 20)

static void close_now(struct conn *c);

/* The request buffers back to the allocator, unless a (pipelined)
 * request still waits in them. */
static void io_release(struct conn *c)
{
	if (c->io && !c->have) {
		free(c->io);
		c->io = NULL;
	}
}

static const char key_handshake[] = "handshake", key_header[] = "header",
	key_refused[] = "refused";

double conn_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

const char *conn_tls_version(const struct conn *c)
{
	return c->s && ktls_session_version(c->s) ?
	       ktls_version_name(ktls_session_version(c->s)) : "-";
}

const char *conn_tls_cipher(const struct conn *c)
{
	return c->s && ktls_session_cipher(c->s) ?
	       ktls_cipher_name(ktls_session_cipher(c->s)) : "-";
}

int conn_idle(const struct conn *c)
{
	return c->state == CS_HEAD && !c->have;
}

/* A response we give up on: reset, so neither side keeps the queue. */
static void abort_now(struct conn *c)
{
	struct linger lg = { 1, 0 };

	setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close_now(c);
}

static void close_now(struct conn *c)
{
	c->have = 0;
	io_release(c);
	if (c->file_fd >= 0)
		close(c->file_fd);
	tls_free(c);
	loop_forget(c);
	close(c->fd);
	c->fd = -1;
	c->state = CS_DEAD;
}

void conn_drop(struct conn *c, const char *why)
{
	if (why && cfg.trace)
		log_msg("[%s] dropped: %s", c->tag, why);
	close_now(c);
}

struct conn *conn_new(struct worker *w, int fd, const struct sockaddr *sa,
		      const unsigned char ip[16])
{
	static atomic_ulong ids;
	struct conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->fd = fd;
	c->w = w;
	c->file_fd = -1;
	c->id = atomic_fetch_add(&ids, 1) + 1;
	snprintf(c->tag, sizeof(c->tag), "conn %lu", c->id);
	memcpy(c->ip, ip, 16);
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;

		inet_ntop(AF_INET, &in->sin_addr, c->peer_host, sizeof(c->peer_host));
	} else {
		const struct sockaddr_in6 *in6 = (const void *)sa;

		inet_ntop(AF_INET6, &in6->sin6_addr, c->peer_host,
			  sizeof(c->peer_host));
	}
	c->state = CS_HANDSHAKE;
	c->req_t0 = conn_now_ms();
	c->deadline = c->req_t0 + cfg.handshake_ms;
	/* The SSL object (several KB, more once it reads) waits for the
	 * ClientHello's first byte: a silent connection costs no TLS. */
	if (cfg.trace)
		log_msg("[%s] TCP accepted from %s", c->tag, c->peer_host);
	return c;
}

/* --- lingering close ----------------------------------------------------- */

/*
 * Never close with unread bytes queued: Linux would answer with a reset
 * and the peer would lose what we had not yet delivered.  So: close_notify,
 * shutdown(SHUT_WR), then read and discard until EOF, or until everything
 * we sent is acknowledged and reading has failed, or a short deadline.
 */
static void linger_read(struct conn *c)
{
	char scratch[16384];

	while (!c->read_dead) {
		int had_notify = ktls_session_peer_closed(c->s);
		ssize_t n;

		if (c->raw_drain)
			n = recv(c->fd, scratch, sizeof(scratch), 0);
		else
			n = tls_read(c, scratch, sizeof(scratch));
		if (n > 0)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n == 0 && !c->raw_drain && c->ssl &&
		    (SSL_get_shutdown(c->ssl) & SSL_RECEIVED_SHUTDOWN)) {
			c->raw_drain = 1;	/* OpenSSL is done: raw bytes */
			continue;
		}
		if (n == 0 && c->kernel && ktls_session_peer_closed(c->s) &&
		    !had_notify)
			continue;		/* close_notify; EOF next */
		if (n == 0) {
			close_now(c);	/* EOF: nothing can be left unread */
			return;
		}
		c->read_dead = 1;	/* cannot read on: wait for the ACKs */
		loop_watch(c, c->notify_pending ? EPOLLOUT : 0);
	}
}

/* close_notify, then shutdown(SHUT_WR); the alert may have to wait for
 * room in a send buffer the response just filled. */
static void linger_notify(struct conn *c)
{
	if (c->notify_pending && tls_close_notify(c) == 1) {
		loop_watch(c, EPOLLIN | EPOLLOUT);
		return;
	}
	c->notify_pending = 0;
	shutdown(c->fd, SHUT_WR);
	loop_watch(c, c->read_dead ? 0 : EPOLLIN);
}

static void start_linger(struct conn *c)
{
	c->have = 0;		/* never parsed now */
	io_release(c);
	if (c->file_fd >= 0) {
		close(c->file_fd);
		c->file_fd = -1;
	}
	c->state = CS_LINGER;
	c->deadline = conn_now_ms() + cfg.linger_ms;
	c->notify_pending = !c->no_close_notify;
	linger_notify(c);
	linger_read(c);
}

static int unacked(const struct conn *c)
{
	int n = 0;

	if (ioctl(c->fd, SIOCOUTQ, &n))
		return 0;
	return n;
}

/* --- responses ------------------------------------------------------------ */

/* Start of a response head into c->io->out. */
static int head_begin(struct conn *c, int status)
{
	char date[FMT_HTTP_DATE];
	struct fmt f;

	fmt_http_date(time(NULL), date);
	fmt_init(&f, c->io->out, sizeof(c->io->out), 0);
	fmt_str(&f, "HTTP/1.1 ");
	fmt_u64(&f, (unsigned int)status);
	fmt_str(&f, " ");
	fmt_str(&f, http_reason(status));
	fmt_str(&f, "\r\nServer: ktls-serve\r\nDate: ");
	fmt_str(&f, date);
	fmt_str(&f, "\r\n");
	return (int)f.len;
}

static int head_end(struct conn *c, int len)
{
	const struct http_req *r = &c->io->req;
	const char *conn_hdr = c->close_after ? "Connection: close\r\n" :
		r->minor == 0 ? "Connection: keep-alive\r\n" : "";
	struct fmt f;

	fmt_init(&f, c->io->out, sizeof(c->io->out), (size_t)len);
	fmt_str(&f, conn_hdr);
	fmt_str(&f, "\r\n");
	return (int)f.len;
}

static void send_progress(struct conn *c);

static void begin_send(struct conn *c, int len)
{
	if (!c->nparts)
		c->out_body = 0;
	c->out_len = (size_t)len;
	c->out_off = 0;
	c->body_sent = 0;
	c->logged = 0;
	c->state = CS_SEND;
	c->deadline = conn_now_ms() + cfg.send_ms;
	send_progress(c);
}

/* A short text/plain answer (errors, redirects). */
static void respond_simple(struct conn *c, int status, const char *extra,
			   int close_after)
{
	char body[96];
	int blen, len;

	c->status = status;
	c->close_after |= close_after || !c->io->req.keep_alive;
	blen = snprintf(body, sizeof(body), "%d %s\n", status,
			http_reason(status));
	len = head_begin(c, status);
	len += snprintf(c->io->out + len, sizeof(c->io->out) - len,
			"%sContent-Type: text/plain\r\nContent-Length: %d\r\n",
			extra ? extra : "", status == 304 ? 0 : blen);
	if (status == 304)
		blen = 0;
	len = head_end(c, len);
	if (strcmp(c->io->req.method, "HEAD") && status != 304 &&
	    len + blen < (int)sizeof(c->io->out)) {
		memcpy(c->io->out + len, body, blen);
		len += blen;
	} else {
		blen = 0;
	}
	c->file_off = c->file_end = 0;
	c->nparts = 0;
	c->body_inline = blen;
	begin_send(c, len);
}

/* The head of part i (delimiter, Content-Type, Content-Range) into buf;
 * the first one has no CRLF before its delimiter (RFC 2046 5.1.1). */
static int part_head(const struct conn *c, int i, char *buf, size_t max)
{
	return snprintf(buf, max, "%s--%s\r\nContent-Type: %s\r\n"
			"Content-Range: bytes %lld-%lld/%lld\r\n\r\n",
			i ? "\r\n" : "", c->boundary, c->ctype,
			(long long)c->io->spans[i].start, (long long)c->io->spans[i].end,
			(long long)c->fsize);
}

static int part_tail(const struct conn *c, char *buf, size_t max)
{
	return snprintf(buf, max, "\r\n--%s--\r\n", c->boundary);
}

/* Content-Length of the multipart body: part heads, file bytes, tail. */
static long long multipart_length(const struct conn *c)
{
	char tmp[256];
	long long total = part_tail(c, tmp, sizeof(tmp));
	int i;

	for (i = 0; i < c->nparts; i++)
		total += part_head(c, i, tmp, sizeof(tmp)) +
			 (c->io->spans[i].end - c->io->spans[i].start + 1);
	return total;
}

/* A boundary that will not occur in the file bytes (64 random bits). */
static void new_boundary(struct conn *c)
{
	unsigned long long r;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r))
		r = (unsigned long long)conn_now_ms() * 0x9e3779b97f4a7c15ULL ^
		    c->id;
	snprintf(c->boundary, sizeof(c->boundary), "ktls%016llx", r);
}

/* multipart/byteranges: the head and part 0's head into out[]. */
static int respond_multipart(struct conn *c, struct file_ref *f, int len)
{
	int ph;

	c->ctype = f->type;
	c->fsize = f->st.st_size;
	new_boundary(c);
	len += snprintf(c->io->out + len, sizeof(c->io->out) - len,
			"Content-Type: multipart/byteranges; boundary=%s\r\n"
			"Content-Length: %lld\r\n", c->boundary,
			multipart_length(c));
	len = head_end(c, len);
	if (!strcmp(c->io->req.method, "HEAD"))
		return len;
	ph = part_head(c, 0, c->io->out + len, sizeof(c->io->out) - len);
	c->out_body = (size_t)ph;
	c->part = 0;
	c->file_off = c->io->spans[0].start;
	c->file_end = c->io->spans[0].end + 1;
	return len + ph;
}

/* The file bytes of part c->part are out: the next part's head (or the
 * closing delimiter) into out[]; 0 when the body is complete. */
static int next_part(struct conn *c)
{
	if (c->part >= c->nparts)
		return 0;
	c->part++;
	if (c->part < c->nparts) {
		c->out_len = (size_t)part_head(c, c->part, c->io->out,
					       sizeof(c->io->out));
		c->file_off = c->io->spans[c->part].start;
		c->file_end = c->io->spans[c->part].end + 1;
	} else {
		c->out_len = (size_t)part_tail(c, c->io->out, sizeof(c->io->out));
	}
	c->out_off = 0;
	c->out_body = c->out_len;
	return 1;
}

static void respond_file(struct conn *c, struct file_ref *f)
{
	const struct http_req *r = &c->io->req;
	off_t start = 0, end = f->st.st_size - 1;
	char lm[40], etag[80], extra[160];
	int status = 200, len;
	struct fmt h;

	http_date(f->st.st_mtim.tv_sec, lm, sizeof(lm));
	file_etag(&f->st, etag, sizeof(etag));
	if (files_not_modified(r, &f->st)) {
		close(f->fd);
		snprintf(extra, sizeof(extra), "ETag: %s\r\nLast-Modified: %s\r\n",
			 etag, lm);
		c->status = 304;
		c->close_after |= !r->keep_alive;
		len = head_begin(c, 304);
		len += snprintf(c->io->out + len, sizeof(c->io->out) - len, "%s", extra);
		c->file_off = c->file_end = 0;
		begin_send(c, head_end(c, len));
		return;
	}
	c->nparts = 0;
	if (r->has_range && files_if_range_ok(r, &f->st)) {
		int rs = http_ranges(r->range, f->st.st_size, c->io->spans,
				     HTTP_MAX_RANGES, &c->nparts);

		if (rs == 416) {
			close(f->fd);
			snprintf(extra, sizeof(extra),
				 "Content-Range: bytes */%lld\r\n",
				 (long long)f->st.st_size);
			respond_simple(c, 416, extra, 0);
			return;
		}
		if (rs == 206) {
			status = 206;
			start = c->io->spans[0].start;
			end = c->io->spans[0].end;
		}
	}
	c->status = status;
	c->close_after |= !r->keep_alive;
	len = head_begin(c, status);
	fmt_init(&h, c->io->out, sizeof(c->io->out), (size_t)len);
	fmt_str(&h, "Last-Modified: ");
	fmt_str(&h, lm);
	fmt_str(&h, "\r\nETag: ");
	fmt_str(&h, etag);
	fmt_str(&h, "\r\nAccept-Ranges: bytes\r\n");
	len = (int)h.len;
	c->file_off = c->file_end = 0;
	if (c->nparts > 1) {
		len = respond_multipart(c, f, len);
	} else {
		c->nparts = 0;
		fmt_str(&h, "Content-Type: ");
		fmt_str(&h, f->type);
		fmt_str(&h, "\r\nContent-Length: ");
		fmt_i64(&h, (long long)(end - start + 1));
		fmt_str(&h, "\r\n");
		if (status == 206) {
			fmt_str(&h, "Content-Range: bytes ");
			fmt_i64(&h, (long long)start);
			fmt_str(&h, "-");
			fmt_i64(&h, (long long)end);
			fmt_str(&h, "/");
			fmt_i64(&h, (long long)f->st.st_size);
			fmt_str(&h, "\r\n");
		}
		len = head_end(c, (int)h.len);
		c->file_off = start;
		c->file_end = end + 1;
	}
	if (!strcmp(r->method, "HEAD")) {
		close(f->fd);
		c->file_off = c->file_end = 0;
		c->nparts = 0;
	} else {
		c->file_fd = f->fd;
	}
	begin_send(c, len);
}

static void serve_request(struct conn *c, int parse_status)
{
	struct http_req *r = &c->io->req;
	struct file_ref f;
	char loc[1200];
	int st;

	c->close_after = c->rd_eof;
	c->body_inline = 0;
	c->nparts = 0;
	if (parse_status) {
		respond_simple(c, parse_status, NULL, 1);
		return;
	}
	if (r->has_body) {	/* a body we would have to frame: refuse */
		respond_simple(c, 400, NULL, 1);
		return;
	}
	st = files_open(r->path, &f);
	if (st == 301) {
		snprintf(loc, sizeof(loc), "Location: %s\r\n", f.redirect);
		respond_simple(c, 301, loc, 0);
		return;
	}
	if (st) {
		if (st == 503)
			log_limited(key_refused, "%s: open %s: out of file descriptors (503)",
				    c->peer_host, "a file");
		respond_simple(c, st, st == 503 ? "Retry-After: 1\r\n" : NULL,
			       st == 503);
		return;
	}
	respond_file(c, &f);
}

/* --- request heads ----------------------------------------------------- */

static void try_head(struct conn *c)
{
	size_t hl;
	int st;

	if (c->state != CS_HEAD || !c->have)
		return;
	hl = http_head_len(c->io->buf, c->have);
	if (hl == 0 && c->have < sizeof(c->io->buf))
		return;		/* more to come */
	c->req_t0 = conn_now_ms();
	if (hl == 0 || hl == (size_t)-1) {
		/* Fill req.line for the log, then refuse. */
		http_parse(c->io->buf, c->have, &c->io->req);
		c->have = 0;
		serve_request(c, hl == 0 ? 431 : 400);
		return;
	}
	st = http_parse(c->io->buf, hl, &c->io->req);
	memmove(c->io->buf, c->io->buf + hl, c->have - hl);
	c->have -= hl;
	serve_request(c, st);
}

/* Read what is there into c->io->buf (c->rd_eof at EOF or close_notify);
 * -1 on an error. */
static int read_more(struct conn *c)
{
	if (!c->io) {
		c->io = malloc(sizeof(*c->io));
		if (!c->io)
			return -1;
		c->io->req.line[0] = '\0';
	}
	while (c->have < sizeof(c->io->buf) && !c->rd_eof) {
		ssize_t n = tls_read(c, c->io->buf + c->have,
				     sizeof(c->io->buf) - c->have);

		if (n > 0) {
			/* The first byte of a head starts its deadline. */
			if (!c->have && c->state == CS_HEAD)
				c->deadline = conn_now_ms() + cfg.header_ms;
			c->have += (size_t)n;
			continue;
		}
		if (n == 0) {
			c->rd_eof = 1;
			return 0;
		}
		if (errno == EAGAIN)
			return 0;
		if (*ktls_errmsg(c->s) && cfg.trace)
			log_msg("[%s] %s", c->tag, ktls_errmsg(c->s));
		return -1;
	}
	return 0;
}

/* In HEAD: read, answer a complete head, close at the end of input. */
static void head_input(struct conn *c)
{
	if (read_more(c)) {
		close_now(c);
		return;
	}
	try_head(c);
	if (c->state == CS_HEAD && c->rd_eof) {
		if (c->have)
			log_limited(key_header, "%s: closed in the middle of a request head",
				    c->peer_host);
		c->have = 0;
		start_linger(c);
		return;
	}
	/* Woken with nothing to parse (idle keep-alive, a record that
	 * was no data): give the buffers back. */
	if (c->state == CS_HEAD)
		io_release(c);
}

/* Keep-alive: wait for the next head.  0 if the connection ended. */
static int enter_head(struct conn *c)
{
	c->state = CS_HEAD;
	io_release(c);
	if (c->io)	/* a pipelined request waits in buf */
		memset(&c->io->req, 0, sizeof(c->io->req));
	c->deadline = conn_now_ms() + (c->have ? cfg.header_ms : cfg.idle_ms);
	loop_watch(c, EPOLLIN);
	if (stopping && !c->have) {
		start_linger(c);
		return 0;
	}
	return 1;
}

/* --- sending ------------------------------------------------------------ */

static void finish_response(struct conn *c, const char *note)
{
	if (!c->logged) {
		access_log(c, &c->io->req, c->status,
			   c->body_sent + (c->out_off == c->out_len ?
					   c->body_inline : 0), note);
		c->logged = 1;
	}
	if (c->file_fd >= 0) {
		close(c->file_fd);
		c->file_fd = -1;
	}
}

static int rekey_due(const struct conn *c)
{
	return cfg.rekey_bytes > 0 && c->kernel && !c->kernel_rekey &&
	       ktls_session_version(c->s) == TLS_1_3_VERSION &&
	       c->since_rekey >= cfg.rekey_bytes;
}

static void send_progress(struct conn *c)
{
	long long slice = 0;

more:
	while (c->out_off < c->out_len) {
		ssize_t n = tls_write(c, c->io->out + c->out_off,
				      c->out_len - c->out_off);

		if (n < 0 && errno == EAGAIN)
			goto wait;
		if (n <= 0)
			goto gone;
		c->out_off += (size_t)n;
		c->deadline = conn_now_ms() + cfg.send_ms;
	}
	c->body_sent += (long long)c->out_body;	/* multipart heads */
	c->out_body = 0;
	while (c->file_off < c->file_end) {
		off_t left = c->file_end - c->file_off;
		size_t chunk = left > (1 << 20) ? (1 << 20) : (size_t)left;
		ssize_t n;

		if (rekey_due(c)) {
			if (ktls_key_update(c->s, 0)) {
				if (errno == EAGAIN)
					goto wait;
				log_msg("%s: %s", c->peer_host,
					ktls_errmsg(c->s));
				goto gone;
			}
			c->since_rekey = 0;
		}
		if (cfg.rekey_bytes > 0 && c->kernel && !c->kernel_rekey &&
		    ktls_session_version(c->s) == TLS_1_3_VERSION &&
		    (long long)chunk > cfg.rekey_bytes - c->since_rekey)
			chunk = (size_t)(cfg.rekey_bytes - c->since_rekey);
		n = tls_send_file(c, chunk);
		if (n < 0 && errno == EAGAIN)
			goto wait;
		if (n == 0) {
			/* The file shrank under us: the client must not take
			 * a short body for a whole one, so no close_notify. */
			finish_response(c, "(file truncated while sent)");
			c->no_close_notify = 1;
			start_linger(c);
			return;
		}
		if (n < 0)
			goto gone;
		c->body_sent += n;
		c->since_rekey += n;
		c->deadline = conn_now_ms() + cfg.send_ms;
		slice += n;
		if (slice >= SEND_SLICE)
			goto wait;	/* level-triggered: back soon */
	}
	if (next_part(c))
		goto more;
	finish_response(c, NULL);
	if (c->close_after || stopping) {
		start_linger(c);
		return;
	}
	/*
	 * A pipelined head already read is answered now; bytes still in the
	 * kernel wake the (level-triggered) loop: no read() that would only
	 * say EAGAIN after every response.
	 */
	if (enter_head(c) && c->have)
		head_input(c);
	return;
wait:
	/* Kernel TLS: keep reading too, so a KeyUpdate from the peer is
	 * taken (and answered) during a long download. */
	loop_watch(c, EPOLLOUT | (c->kernel && !c->rd_eof &&
				  c->have < sizeof(c->io->buf) ? EPOLLIN : 0));
	return;
gone:
	finish_response(c, "(client went away)");
	abort_now(c);
}

/* --- events and deadlines ------------------------------------------------- */

void conn_on_event(struct conn *c, unsigned int events)
{
	int rc;

	switch (c->state) {
	case CS_HANDSHAKE:
		if (!c->tls_started) {
			if (tls_start(c)) {
				log_limited(key_refused, "%s: cannot set up TLS (out of memory?)",
					    c->peer_host);
				close_now(c);
				return;
			}
			c->tls_started = 1;
		}
		rc = tls_handshake_step(c);
		if (rc == TLS_WANT_READ) {
			loop_watch(c, EPOLLIN);
		} else if (rc == TLS_WANT_WRITE) {
			loop_watch(c, EPOLLOUT);
		} else if (rc == TLS_FAILED) {
			log_limited(key_handshake, "%s: %s", c->peer_host,
				    ktls_errmsg(c->s));
			close_now(c);
		} else {
			c->state = CS_HEAD;
			c->deadline = conn_now_ms() + cfg.header_ms;
			loop_watch(c, EPOLLIN);
			/* Bytes may already wait behind Finished. */
			head_input(c);
		}
		return;
	case CS_HEAD:
		head_input(c);
		return;
	case CS_SEND:
		/* Read (a KeyUpdate, which ktls_recv answers with one of ours)
		 * only when the send buffer has room for that answer; else
		 * wait for EPOLLOUT alone, send_progress asks for EPOLLIN
		 * again. */
		if ((events & EPOLLIN) &&
		    !(events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
			loop_watch(c, EPOLLOUT);
			return;
		}
		if ((events & EPOLLIN) && c->kernel) {
			if (read_more(c)) {
				finish_response(c, "(client went away)");
				close_now(c);
				return;
			}
			/* At EOF or a full buffer: stop asking for EPOLLIN. */
			if (c->rd_eof || c->have == sizeof(c->io->buf))
				loop_watch(c, EPOLLOUT);
		}
		if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
			send_progress(c);
		return;
	case CS_LINGER:
		if (c->notify_pending && (events & EPOLLOUT))
			linger_notify(c);
		linger_read(c);
		return;
	case CS_DEAD:
		return;
	}
}

void conn_on_tick(struct conn *c, double now)
{
	if (c->state == CS_LINGER && c->read_dead && !unacked(c)) {
		/* Everything sent is acknowledged, but a close_notify that
		 * waited for room (EPOLLOUT not handled yet) must still go
		 * first, or the peer sees EOF and may take the body for cut
		 * short; the next scan closes once it is acknowledged too. */
		if (c->notify_pending) {
			linger_notify(c);
			if (!c->notify_pending)
				return;
		}
		close_now(c);
		return;
	}
	if (now < c->deadline)
		return;
	switch (c->state) {
	case CS_HANDSHAKE:
		log_limited(key_handshake,
			    "%s: TLS handshake (server): not done within the %d s deadline",
			    c->peer_host, cfg.handshake_ms / 1000);
		close_now(c);
		return;
	case CS_HEAD:
		if (c->have) {
			/* slowloris: the head did not arrive in time */
			http_parse(c->io->buf, c->have, &c->io->req);
			access_log(c, &c->io->req, 408, 0, "(request head deadline)");
			c->have = 0;
		}
		start_linger(c);
		return;
	case CS_SEND:
		/* Unsent bytes would keep the socket (and a FIN) queued
		 * behind a peer that does not read: reset it. */
		finish_response(c, "(send timeout: no progress)");
		abort_now(c);
		return;
	case CS_LINGER:
		/* A plain close: the kernel still delivers what is queued to
		 * a slow reader (an abortive one would cut its tail). */
		close_now(c);
		return;
	case CS_DEAD:
		return;
	}
}
