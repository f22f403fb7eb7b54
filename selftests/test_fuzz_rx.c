// SPDX-License-Identifier: GPL-2.0
/*
 * RX fuzzing: valid record streams sealed by the independent codec
 * (lib_tlsrec) are mutated (lengths, types, versions, tags, truncation,
 * garbage, dropped/replayed records), written in pieces (every byte
 * boundary, record boundaries, random) and ended with FIN or RST into a
 * TLS_RX socket, while the reader mixes recvmsg() with and without cmsg
 * room, MSG_PEEK and short buffers.
 *
 * The oracle models the receiver: records are framed from the header
 * (EMSGSIZE over the maximum, EBADMSG under the minimum, EINVAL for a
 * version other than 3.3, checked once header and explicit nonce are
 * in), a record opens only if it is byte-identical to the sealed record
 * expected at that sequence number (anything else fails authentication:
 * EBADMSG; TLS 1.3's outer type byte excepted: in-tree authenticates it
 * as 23 whatever it is, and so does ktls), a TLS 1.3 KeyUpdate is
 * delivered and then reads fail with EKEYEXPIRED (handshake messages are
 * framed across records; a malformed KeyUpdate is EBADMSG), a TLS 1.3
 * record of padding only is EBADMSG, and a stream cut
 * mid-record ends in EOF.  The reader must get exactly the expected typed
 * plaintext, then exactly the expected end (RST: a prefix, then
 * ECONNRESET, EOF or the expected error).  Control records without cmsg
 * room read as EIO and stay.  Reads have a timeout: a stall is a failure.
 *
 * Each failing case is written to /tmp/ktls-fuzz-*.hex and printed as
 * "# fuzz-repro: HEX" lines; put the hex into selftests/repro/NAME.hex and
 * replay_corpus runs it every time.  Seed: $KTLS_FUZZ_SEED (default: time),
 * budget: $KTLS_FUZZ_BUDGET seconds of random cases (default 40).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "lib_tlsrec.h"
#include "util.h"

#include "repro_corpus.h"

#define TLS12		TLS_1_2_VERSION
#define TLS13		TLS_1_3_VERSION
#define T_DATA		23
#define T_HS		22
#define HS_KEY_UPDATE	24
#define KEY_SEED	9

#define FZ_MAX_REC	8
#define FZ_MAX_PT	(40 * 1024)	/* plaintext of all records */
#define FZ_MAX_STREAM	(64 * 1024)
#define FZ_MAX_SPLIT	4096
#define FZ_MAGIC	"KFZ1"

enum { FZ_FIN, FZ_RST };

struct fz_rec {
	uint8_t type;		/* TLS 1.3: 0 = pt is the raw inner text */
	uint16_t len;
	uint8_t *pt;
};

/* One case; everything needed to replay it, serialisable. */
struct fz_case {
	uint16_t version, cipher;
	uint8_t end, nrec;
	uint32_t rseed;		/* the reader's choices */
	struct fz_rec rec[FZ_MAX_REC];
	uint32_t len;
	uint8_t stream[FZ_MAX_STREAM];
	uint16_t nsplit;
	uint32_t split[FZ_MAX_SPLIT];	/* write boundaries, ascending */
	uint8_t ptbuf[FZ_MAX_PT];
};

/* What the receiver must deliver, byte by byte, and how it ends. */
struct fz_model {
	uint32_t dlen;
	uint8_t data[FZ_MAX_PT];
	uint8_t type[FZ_MAX_PT];
	uint32_t rec_end[FZ_MAX_PT];	/* end of the record holding byte i */
	int term;			/* 0 EOF or -errno */
	int one_shot;			/* term is a header error */
	/*
	 * Empty records.  A control one reads as 0 bytes with its type; a
	 * data one is skipped, or (in-tree does the same) reads as 0 bytes
	 * with type 23 when a control record follows it.
	 */
	int nempty;
	uint32_t empty_at[FZ_MAX_REC * 2];
	uint8_t empty_type[FZ_MAX_REC * 2];
};

static uint32_t rng_state;

static uint32_t rnd(void)
{
	uint32_t x = rng_state;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	rng_state = x ?: 0x9e3779b9;
	return rng_state;
}

static uint32_t rnd_below(uint32_t n)
{
	return n ? rnd() % n : 0;
}

static int kernel_is_6_1(void)
{
	struct utsname u;

	return !uname(&u) && !strncmp(u.release, "6.1.", 4);
}

static void case_keys(const struct fz_case *c, struct tr_keys *k)
{
	union kt_crypto_info ci;

	kt_fill_info(&ci, c->version, c->cipher, KEY_SEED);
	tr_keys_from_info(k, &ci);
}

static size_t eiv_len(const struct fz_case *c)
{
	if (c->version == TLS13 || c->cipher == TLS_CIPHER_CHACHA20_POLY1305)
		return 0;
	return 8;
}

/* --- serialisation (reproducers) --------------------------------------- */

struct buf {
	uint8_t *p;
	size_t len, cap, off;
	int bad;
};

static void put(struct buf *b, const void *v, size_t n)
{
	if (b->len + n > b->cap) {
		b->bad = 1;
		return;
	}
	memcpy(b->p + b->len, v, n);
	b->len += n;
}

static void put_u(struct buf *b, uint32_t v, int n)
{
	uint8_t t[4];
	int i;

	for (i = 0; i < n; i++)
		t[i] = v >> (8 * i);
	put(b, t, n);
}

static void get(struct buf *b, void *v, size_t n)
{
	if (b->off + n > b->len) {
		b->bad = 1;
		memset(v, 0, n);
		return;
	}
	memcpy(v, b->p + b->off, n);
	b->off += n;
}

static uint32_t get_u(struct buf *b, int n)
{
	uint8_t t[4] = { 0 };
	uint32_t v = 0;
	int i;

	get(b, t, n);
	for (i = n - 1; i >= 0; i--)
		v = v << 8 | t[i];
	return v;
}

static size_t case_save(const struct fz_case *c, uint8_t *out, size_t cap)
{
	struct buf b = { .p = out, .cap = cap };
	int i;

	put(&b, FZ_MAGIC, 4);
	put_u(&b, c->version, 2);
	put_u(&b, c->cipher, 2);
	put_u(&b, c->end, 1);
	put_u(&b, c->nrec, 1);
	put_u(&b, c->rseed, 4);
	for (i = 0; i < c->nrec; i++) {
		put_u(&b, c->rec[i].type, 1);
		put_u(&b, c->rec[i].len, 2);
		put(&b, c->rec[i].pt, c->rec[i].len);
	}
	put_u(&b, c->len, 4);
	put(&b, c->stream, c->len);
	put_u(&b, c->nsplit, 2);
	for (i = 0; i < c->nsplit; i++)
		put_u(&b, c->split[i], 4);
	return b.bad ? 0 : b.len;
}

static int case_load(struct fz_case *c, const uint8_t *in, size_t len)
{
	struct buf b = { .p = (uint8_t *)in, .len = len };
	size_t ptoff = 0;
	char magic[4];
	int i;

	memset(c, 0, sizeof(*c));
	get(&b, magic, 4);
	if (memcmp(magic, FZ_MAGIC, 4))
		return -1;
	c->version = get_u(&b, 2);
	c->cipher = get_u(&b, 2);
	c->end = get_u(&b, 1);
	c->nrec = get_u(&b, 1);
	c->rseed = get_u(&b, 4);
	if (c->nrec > FZ_MAX_REC || !kt_cipher(c->cipher))
		return -1;
	for (i = 0; i < c->nrec; i++) {
		c->rec[i].type = get_u(&b, 1);
		c->rec[i].len = get_u(&b, 2);
		if (ptoff + c->rec[i].len > FZ_MAX_PT)
			return -1;
		c->rec[i].pt = c->ptbuf + ptoff;
		get(&b, c->rec[i].pt, c->rec[i].len);
		ptoff += c->rec[i].len;
	}
	c->len = get_u(&b, 4);
	if (c->len > FZ_MAX_STREAM)
		return -1;
	get(&b, c->stream, c->len);
	c->nsplit = get_u(&b, 2);
	if (c->nsplit > FZ_MAX_SPLIT)
		return -1;
	for (i = 0; i < c->nsplit; i++)
		c->split[i] = get_u(&b, 4);
	return b.bad || b.off != b.len ? -1 : 0;
}

static int hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* Hex text to bytes; '#' starts a comment line, whitespace is skipped. */
static ssize_t unhex(const char *s, uint8_t *out, size_t cap)
{
	size_t n = 0;
	int hi = -1;

	for (; *s; s++) {
		int v;

		if (*s == '#') {
			while (*s && *s != '\n')
				s++;
			if (!*s)
				break;
			continue;
		}
		v = hexval(*s);
		if (v < 0)
			continue;
		if (hi < 0) {
			hi = v;
			continue;
		}
		if (n == cap)
			return -1;
		out[n++] = hi << 4 | v;
		hi = -1;
	}
	return hi < 0 ? (ssize_t)n : -1;
}

static uint8_t save_buf[FZ_MAX_STREAM * 2 + 4 * FZ_MAX_SPLIT + 4096];

/* Keep a failing case: a file in /tmp and hex lines in the log. */
static void case_report(const struct fz_case *c, const char *tag)
{
	size_t n = case_save(c, save_buf, sizeof(save_buf)), i;
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "/tmp/ktls-fuzz-%s.hex", tag);
	f = fopen(path, "w");
	if (f)
		fprintf(f, "# ktls RX fuzz reproducer (%s)\n", tag);
	kt_diag("reproducer %s (%zu bytes); paste the fuzz-repro lines into selftests/repro/%s.hex",
		path, n, tag);
	for (i = 0; i < n; i += 64) {
		char line[160];
		size_t j, k = 0;

		for (j = i; j < n && j < i + 64; j++)
			k += sprintf(line + k, "%02x", save_buf[j]);
		printf("# fuzz-repro: %s\n", line);
		if (f)
			fprintf(f, "%s\n", line);
	}
	fflush(stdout);
	if (f)
		fclose(f);
}

/* --- the oracle -------------------------------------------------------- */

static void model_deliver(struct fz_model *m, uint8_t type, const uint8_t *p,
			  size_t n)
{
	uint32_t end = m->dlen + n, i;

	for (i = 0; i < n; i++) {
		m->data[m->dlen + i] = p[i];
		m->type[m->dlen + i] = type;
		m->rec_end[m->dlen + i] = end;
	}
	m->dlen = end;
}

/*
 * The receiver's view of TLS 1.3 handshake messages (type, 24-bit length,
 * body) across handshake records: 1 when this record ends a KeyUpdate,
 * -1 when it is malformed (a KeyUpdate body other than 1 byte, or bytes
 * behind a KeyUpdate in its record), else 0.
 */
struct hs_model {
	uint8_t head[4];
	unsigned int have;	/* header bytes seen of the current message */
	uint32_t body;		/* its body bytes still to come */
};

static int hs_model_feed(struct hs_model *h, const uint8_t *p, size_t n)
{
	int ended_ku = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (ended_ku)
			return -1;
		if (h->have < 4) {
			h->head[h->have++] = p[i];
			if (h->have < 4)
				continue;
			h->body = (uint32_t)h->head[1] << 16 |
				  h->head[2] << 8 | h->head[3];
			if (h->head[0] == HS_KEY_UPDATE && h->body != 1)
				return -1;
		} else {
			h->body--;
		}
		if (!h->body) {
			ended_ku = h->head[0] == HS_KEY_UPDATE;
			h->have = 0;
		}
	}
	return ended_ku;
}

static void model_run(const struct fz_case *c, struct fz_model *m)
{
	static uint8_t ref[TR_MAX_REC];
	size_t eiv = eiv_len(c), min = TR_TAG + eiv;
	size_t max = TR_MAX_PT + min + (c->version == TLS13);
	size_t pos = 0;
	struct hs_model hsm = { 0 };
	struct tr_keys k;
	int seq = 0, skip, hs;
	uint8_t type;

	memset(m, 0, sizeof(*m));
	case_keys(c, &k);
	for (;;) {
		const uint8_t *h = c->stream + pos;
		size_t len, rlen, n;

		if (c->len - pos < TR_HDR + eiv) {
			m->term = 0;
			return;
		}
		len = h[3] << 8 | h[4];
		m->one_shot = 1;
		if (len > max) {
			m->term = -EMSGSIZE;
			return;
		}
		if (len < min) {
			m->term = -EBADMSG;
			return;
		}
		if (h[1] != 3 || h[2] != 3) {
			m->term = -EINVAL;
			return;
		}
		m->one_shot = 0;
		if (c->len - pos < TR_HDR + len) {
			m->term = 0;
			return;
		}
		if (seq >= c->nrec) {
			m->term = -EBADMSG;
			return;
		}
		rlen = tr_seal(&k, c->rec[seq].type, c->rec[seq].pt,
			       c->rec[seq].len, ref);
		/*
		 * As in-tree, TLS 1.3 authenticates the outer type as 23
		 * whatever the header says (the inner type is what counts).
		 */
		skip = c->version == TLS13;
		if (rlen != TR_HDR + len ||
		    memcmp(ref + skip, h + skip, rlen - skip)) {
			m->term = -EBADMSG;
			return;
		}
		if (c->version == TLS13 && !c->rec[seq].type) {
			/* Raw inner text: strip the padding, the type last. */
			n = c->rec[seq].len;

			while (n && !c->rec[seq].pt[n - 1])
				n--;
			if (!n) {
				m->term = -EBADMSG;
				return;
			}
			if (n == 1) {
				m->empty_at[m->nempty] = m->dlen;
				m->empty_type[m->nempty++] = c->rec[seq].pt[0];
			}
			type = c->rec[seq].pt[n - 1];
			n--;
		} else {
			type = c->rec[seq].type;
			n = c->rec[seq].len;
		}
		/*
		 * TLS 1.3 handshake messages may share and span records; the
		 * record that ends a KeyUpdate is delivered, then ktls stops
		 * with EKEYEXPIRED until new RX keys come.  A malformed
		 * KeyUpdate fails its record.
		 */
		hs = 0;
		if (c->version == TLS13 && type == T_HS)
			hs = hs_model_feed(&hsm, c->rec[seq].pt, n);
		if (hs < 0) {
			m->term = -EBADMSG;
			return;
		}
		model_deliver(m, type, c->rec[seq].pt, n);
		if (hs) {
			m->term = -EKEYEXPIRED;
			return;
		}
		seq++;
		pos += rlen;
	}
}

/* --- running one case -------------------------------------------------- */

struct fz_run {
	const struct fz_case *c;
	const struct fz_model *m;
	int rx, tx;
	uint32_t pos;		/* bytes of m->data read so far */
	int eidx;		/* empty records passed so far */
	int done;		/* the reader saw the end */
	char why[256];
};

static uint8_t rbuf[FZ_MAX_PT + 64];

#define FZ_FAIL(r, ...) do {						\
	snprintf((r)->why, sizeof((r)->why), __VA_ARGS__);		\
	return -1;							\
} while (0)

static const char *ename(int e)
{
	switch (e) {
	case 0: return "EOF";
	case EBADMSG: return "EBADMSG";
	case EMSGSIZE: return "EMSGSIZE";
	case EINVAL: return "EINVAL";
	case ECONNRESET: return "ECONNRESET";
	case EIO: return "EIO";
	case EAGAIN: return "EAGAIN";
	case EKEYEXPIRED: return "EKEYEXPIRED";
	default: return strerror(e);
	}
}

/* Index of the first empty control record not passed yet, or nempty. */
static int next_ctl_empty(const struct fz_run *r)
{
	int i = r->eidx;

	while (i < r->m->nempty && r->m->empty_type[i] == T_DATA)
		i++;
	return i;
}

/* An empty record of this type at the reader's position, or -1. */
static int empty_here(const struct fz_run *r, uint8_t type)
{
	int i;

	for (i = r->eidx; i < r->m->nempty && r->m->empty_at[i] == r->pos;
	     i++) {
		if (r->m->empty_type[i] == type)
			return i;
		if (r->m->empty_type[i] != T_DATA)
			break;	/* a control record is not skipped */
	}
	return -1;
}

/* The reader's end (0 EOF or errno): is it the one the model allows? */
static int check_end(struct fz_run *r, int e)
{
	const struct fz_model *m = r->m;
	int want = -m->term;

	r->done = 1;
	if (r->c->end == FZ_RST) {
		/* A reset may cut delivery short or replace the error. */
		if (e == ECONNRESET || e == 0 ||
		    (e == want && r->pos == m->dlen))
			return 0;
		FZ_FAIL(r, "RST stream ended in %s after %u/%u bytes, want %s",
			ename(e), r->pos, m->dlen, ename(want));
	}
	if (r->pos != m->dlen || next_ctl_empty(r) != m->nempty)
		FZ_FAIL(r, "ended in %s after %u of %u bytes, %d of %d empty records (want %s)",
			ename(e), r->pos, m->dlen, r->eidx, m->nempty,
			ename(want));
	if (e == want)
		return 0;
	/* 6.1: an error met after data in one read is consumed with it. */
	if (e == 0 && m->one_shot && kernel_is_6_1())
		return 0;
	FZ_FAIL(r, "ended in %s, want %s (at byte %u)", ename(e), ename(want),
		r->pos);
}

/* One read, checked against the model: 0, or -1 with r->why. */
static int read_step(struct fz_run *r, int block)
{
	const struct fz_model *m = r->m;
	char cbuf[CMSG_SPACE(sizeof(uint8_t))];
	struct iovec iov = { rbuf, 0 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	uint32_t pick = rnd(), i;
	int ce;
	int plain = pick % 8 == 0, peek = pick % 8 == 1;
	int flags = block ? 0 : MSG_DONTWAIT;
	struct cmsghdr *cm;
	uint8_t type = 0;
	ssize_t n;

	iov.iov_len = (pick >> 8) % 4 ? 1 + rnd_below(64) :
		      1 + rnd_below(sizeof(rbuf) - 1);
	if (!plain) {
		msg.msg_control = cbuf;
		msg.msg_controllen = sizeof(cbuf);
	}
	if (peek)
		flags |= MSG_PEEK;
	n = recvmsg(r->rx, &msg, flags);
	if (n < 0) {
		int e = errno;

		if (e == EAGAIN && !block)
			return 0;
		if (e == EAGAIN)
			FZ_FAIL(r, "read stalled (EAGAIN after the timeout) at byte %u of %u",
				r->pos, m->dlen);
		if (e == EIO && plain) {
			int i = next_ctl_empty(r);

			if (i < m->nempty && m->empty_at[i] == r->pos)
				return 0;
			if (r->pos < m->dlen && m->type[r->pos] != T_DATA)
				return 0;
			FZ_FAIL(r, "EIO at byte %u/%u not at a control record",
				r->pos, m->dlen);
		}
		return check_end(r, e);
	}
	cm = CMSG_FIRSTHDR(&msg);
	if (!plain && cm && cm->cmsg_level == SOL_TLS &&
	    cm->cmsg_type == TLS_GET_RECORD_TYPE)
		type = *CMSG_DATA(cm);
	if (plain)
		type = T_DATA;
	if (!n && type) {
		int i = empty_here(r, type);

		if (i >= 0) {
			if (!peek)
				r->eidx = i + 1;
			return 0;
		}
		if (type != T_DATA)
			FZ_FAIL(r, "unexpected empty record of type %u at byte %u",
				type, r->pos);
	}
	if (!n)
		return check_end(r, 0);
	if (!type)
		FZ_FAIL(r, "%zd bytes without a record type", n);
	if (r->pos + n > m->dlen)
		FZ_FAIL(r, "%zd bytes at %u, only %u expected", n, r->pos,
			m->dlen);
	ce = next_ctl_empty(r);
	if (ce < m->nempty && m->empty_at[ce] < r->pos + n)
		FZ_FAIL(r, "read over the empty record at byte %u",
			m->empty_at[ce]);
	for (i = 0; i < n; i++) {
		if (m->type[r->pos + i] != type)
			FZ_FAIL(r, "byte %u has type %u, want %u", r->pos + i,
				type, m->type[r->pos + i]);
		if (m->data[r->pos + i] != rbuf[i])
			FZ_FAIL(r, "byte %u differs", r->pos + i);
	}
	if (type != T_DATA && r->pos + n > m->rec_end[r->pos])
		FZ_FAIL(r, "control record merged at byte %u", r->pos);
	if (!peek) {
		r->pos += n;
		/* Empty data records on the way are passed. */
		while (r->eidx < m->nempty &&
		       m->empty_at[r->eidx] < r->pos)
			r->eidx++;
	}
	return 0;
}

static int write_piece(struct fz_run *r, const uint8_t *p, size_t n)
{
	int stuck = 0;

	while (n) {
		ssize_t w = send(r->tx, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (w > 0) {
			p += w;
			n -= w;
			stuck = 0;
			continue;
		}
		if (w < 0 && errno != EAGAIN)
			FZ_FAIL(r, "send: %s", strerror(errno));
		/* Full: the reader drains, unless it already ended. */
		if (r->done)
			return 1;
		if (read_step(r, 0))
			return -1;
		if (++stuck > 3000)
			FZ_FAIL(r, "writer stuck: receiver stopped draining at byte %u",
				r->pos);
		usleep(1000);
	}
	return 0;
}

static int run_case(const struct fz_case *c, const struct fz_model *m,
		    char *why, size_t whylen)
{
	struct timeval tv = { 3, 0 };
	struct linger lg = { 1, 0 };
	struct fz_run r = { .c = c, .m = m };
	uint32_t off = 0, i;
	int one = 1, rc = 0;

	rng_state = c->rseed ?: 1;
	kt_tcp_pair(c->rseed & 1 ? AF_INET6 : AF_INET, &r.tx, &r.rx);
	KT_ASSERT_OK(setsockopt(r.tx, IPPROTO_TCP, TCP_NODELAY, &one,
				sizeof(one)));
	KT_ASSERT_OK(setsockopt(r.rx, SOL_SOCKET, SO_RCVTIMEO, &tv,
				sizeof(tv)));
	kt_install(r.rx, TLS_RX, c->version, c->cipher, KEY_SEED);
	for (i = 0; i <= c->nsplit && !rc; i++) {
		uint32_t end = i < c->nsplit ? c->split[i] : c->len;

		if (end < off || end > c->len)
			continue;
		rc = write_piece(&r, c->stream + off, end - off);
		off = end;
		if (!rc && !r.done && rnd() % 2)
			rc = read_step(&r, 0);
	}
	if (rc >= 0) {
		if (c->end == FZ_RST) {
			KT_ASSERT_OK(setsockopt(r.tx, SOL_SOCKET, SO_LINGER,
						&lg, sizeof(lg)));
		} else {
			KT_ASSERT_OK(shutdown(r.tx, SHUT_WR));
		}
		close(r.tx);
		r.tx = -1;
		rc = 0;
		while (!r.done && !rc)
			rc = read_step(&r, 1);
	}
	if (r.tx >= 0)
		close(r.tx);
	close(r.rx);
	if (rc)
		snprintf(why, whylen, "%s", r.why);
	return rc ? -1 : 0;
}

/* --- the generator ----------------------------------------------------- */

static const uint8_t ctl_types[] = { 21, 22, 24 };

static size_t pick_len(size_t room)
{
	uint32_t p = rnd_below(100);
	size_t n;

	if (p < 70)
		n = 1 + rnd_below(200);
	else if (p < 92)
		n = 1 + rnd_below(2000);
	else if (p < 96)
		n = TR_MAX_PT;
	else
		n = 1 + rnd_below(TR_MAX_PT);
	return n < room ? n : room;
}

/* Seal the reference records into the stream, record offsets in at[]. */
static void gen_records(struct fz_case *c, uint32_t *at, int *nat)
{
	static uint8_t recs[FZ_MAX_REC][TR_MAX_REC];
	size_t rl[FZ_MAX_REC], ptoff = 0;
	int order[FZ_MAX_REC * 2], no = 0, i;
	struct tr_keys k;

	c->nrec = 1 + rnd_below(FZ_MAX_REC);
	for (i = 0; i < c->nrec; i++) {
		struct fz_rec *r = &c->rec[i];
		size_t room = FZ_MAX_PT - ptoff;

		if (room < 2) {
			c->nrec = i;
			break;
		}
		r->pt = c->ptbuf + ptoff;
		r->type = rnd() % 10 < 7 ? T_DATA : ctl_types[rnd_below(3)];
		r->len = pick_len(room - 1);
		kt_fill_pattern(r->pt, r->len, rnd());
		if (r->type == T_HS && rnd() % 8 == 0)
			r->pt[0] = HS_KEY_UPDATE;
		if (c->version == TLS13 && rnd() % 8 == 0) {
			/* Raw inner text: content, type, zero padding. */
			size_t pad = rnd_below(64), body;

			if (r->len + pad + 1 > room)
				pad = 0;
			body = rnd() % 16 ? r->len : 0;
			r->pt[body] = rnd() % 8 ? r->type : 0;
			memset(r->pt + body + 1, 0, pad);
			r->len = body + 1 + pad;
			r->type = 0;
		}
		ptoff += r->len;
	}
	case_keys(c, &k);
	for (i = 0; i < c->nrec; i++)
		rl[i] = tr_seal(&k, c->rec[i].type, c->rec[i].pt,
				c->rec[i].len, recs[i]);
	/* Record order: mostly as sealed, sometimes dropped/replayed/swapped. */
	for (i = 0; i < c->nrec; i++) {
		uint32_t p = rnd_below(100);

		if (p < 3)
			continue;
		order[no++] = i;
		if (p < 6)
			order[no++] = i;
		else if (p < 9 && i + 1 < c->nrec)
			order[no - 1] = i + 1, order[no++] = i, i++;
	}
	c->len = 0;
	*nat = 0;
	for (i = 0; i < no; i++) {
		size_t n = rl[order[i]];

		if (c->len + n > FZ_MAX_STREAM - 64)
			break;
		at[(*nat)++] = c->len;
		memcpy(c->stream + c->len, recs[order[i]], n);
		c->len += n;
	}
}

static void mutate(struct fz_case *c, const uint32_t *at, int nat)
{
	uint32_t p, o;
	int nmut = rnd_below(4), j;

	for (j = 0; j < nmut && c->len; j++) {
		uint32_t r = nat ? at[rnd_below(nat)] : 0;
		size_t eiv = eiv_len(c);
		unsigned int max = TR_MAX_PT + TR_TAG + eiv +
				   (c->version == TLS13);
		unsigned int v;

		p = rnd_below(c->len);
		if (r > c->len)
			r = c->len;
		switch (rnd_below(9)) {
		case 0:		/* bit flip anywhere */
			c->stream[p] ^= 1 << rnd_below(8);
			break;
		case 1:		/* a tag byte */
			o = r + TR_HDR + ((c->stream[r + 3] << 8 |
					   c->stream[r + 4]) - 1 -
					  rnd_below(TR_TAG));
			if (o < c->len)
				c->stream[o] ^= 1 + rnd_below(255);
			break;
		case 2:		/* length field */
			if (r + TR_HDR > c->len)
				break;
			v = c->stream[r + 3] << 8 | c->stream[r + 4];
			switch (rnd_below(6)) {
			case 0: v = max + 1; break;
			case 1: v = TR_TAG + eiv - 1; break;
			case 2: v = max; break;
			case 3: v += 1 + rnd_below(3); break;
			case 4: v = v > 3 ? v - 1 - rnd_below(3) : 0; break;
			default: v = rnd() & 0xffff; break;
			}
			c->stream[r + 3] = v >> 8;
			c->stream[r + 4] = v;
			break;
		case 3:		/* version */
			if (r + TR_HDR > c->len)
				break;
			c->stream[r + 1 + rnd_below(2)] = rnd() % 2 ?
				rnd() : 1 + rnd_below(4);
			break;
		case 4:		/* outer type */
			if (r < c->len)
				c->stream[r] = rnd() % 2 ? rnd() :
					ctl_types[rnd_below(3)];
			break;
		case 5:		/* truncate */
			c->len = p;
			break;
		case 6:		/* garbage at a record boundary */
		case 7: {	/* a plausible header with a random length */
			uint32_t n = 1 + rnd_below(30), i;

			if (c->len + n > FZ_MAX_STREAM)
				break;
			memmove(c->stream + r + n, c->stream + r, c->len - r);
			for (i = 0; i < n; i++)
				c->stream[r + i] = rnd();
			if (n >= TR_HDR && rnd() % 2) {
				c->stream[r] = T_DATA;
				c->stream[r + 1] = 3;
				c->stream[r + 2] = 3;
			}
			c->len += n;
			break;
		}
		default:	/* a byte set to anything */
			c->stream[p] = rnd();
			break;
		}
	}
}

static void gen_splits(struct fz_case *c, const uint32_t *at, int nat)
{
	uint32_t mode = rnd_below(5), i, off;

	c->nsplit = 0;
	switch (mode) {
	case 0:		/* one write */
		break;
	case 1:		/* every byte, for short streams */
		if (c->len <= 600) {
			for (i = 1; i < c->len; i++)
				c->split[c->nsplit++] = i;
			break;
		}
		/* fall through */
	case 2:		/* at record boundaries, give or take a few bytes */
		for (i = 0; i < (uint32_t)nat && c->nsplit < FZ_MAX_SPLIT; i++) {
			int d = (int)rnd_below(11) - 5;
			int64_t s = (int64_t)at[i] + d;

			if (s > 0 && s < c->len &&
			    (!c->nsplit || s > c->split[c->nsplit - 1]))
				c->split[c->nsplit++] = s;
		}
		break;
	default:	/* random pieces */
		off = 0;
		while (c->nsplit < 64) {
			off += 1 + rnd_below(mode == 3 ? 40 : 3000);
			if (off >= c->len)
				break;
			c->split[c->nsplit++] = off;
		}
		break;
	}
}

static void gen_case(struct fz_case *c, uint32_t seed)
{
	uint32_t at[FZ_MAX_REC * 2];
	int nat;

	/* Scramble the seed: neighbouring seeds must not look alike. */
	seed ^= seed >> 16;
	seed *= 0x7feb352d;
	seed ^= seed >> 15;
	seed *= 0x846ca68b;
	seed ^= seed >> 16;
	rng_state = seed ?: 1;
	memset(c, 0, sizeof(*c) - sizeof(c->ptbuf));
	c->version = rnd() % 2 ? TLS12 : TLS13;
	c->cipher = kt_ciphers[rnd_below(kt_n_ciphers)].type;
	c->end = rnd() % 8 ? FZ_FIN : FZ_RST;
	gen_records(c, at, &nat);
	if (rnd() % 4)
		mutate(c, at, nat);
	gen_splits(c, at, nat);
	c->rseed = rnd() | 1;
	if (rnd() % 2)
		c->rseed &= ~1u;
	c->rseed = c->rseed ?: 2;
}

/* --- the cases --------------------------------------------------------- */

static struct fz_case fcase;
static struct fz_model fmodel;

static int check_one(const struct fz_case *c, char *why, size_t n)
{
	model_run(c, &fmodel);
	return run_case(c, &fmodel, why, n);
}

static void fail_case(const struct fz_case *c, const char *tag,
		      const char *why)
{
	kt_diag("case %s: %s v%04x cipher %u %s, %u stream bytes, %u pieces: %s",
		tag, "FAILED", c->version, c->cipher,
		c->end == FZ_RST ? "RST" : "FIN", c->len, c->nsplit, why);
	case_report(c, tag);
}

static uint32_t fuzz_seed(void)
{
	const char *s = getenv("KTLS_FUZZ_SEED");

	uint32_t v = 0;
	FILE *f;

	if (s && *s)
		return strtoul(s, NULL, 0);
	f = fopen("/dev/urandom", "r");
	if (!f || fread(&v, sizeof(v), 1, f) != 1)
		v = (uint32_t)time(NULL) ^ (uint32_t)getpid() << 16;
	if (f)
		fclose(f);
	return v;
}

/* Random cases for the time budget; each in its own child with a timer. */
/* Case idx of a seed: runs with nearby seeds must not share cases. */
static uint32_t case_seed(uint32_t seed, unsigned long idx)
{
	return seed * 0x9e3779b1u + (uint32_t)idx;
}

static void random_streams(void)
{
	const char *b = getenv("KTLS_FUZZ_BUDGET");
	double budget = b && *b ? atof(b) : 40;
	uint32_t seed = fuzz_seed();
	struct timespec t0, t;
	volatile uint32_t *shared;
	unsigned long n = 0;
	char why[256], tag[64];

	shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	KT_ASSERT(shared != MAP_FAILED);
	kt_diag("fuzz seed %u (KTLS_FUZZ_SEED=%u reproduces), budget %.0fs",
		seed, seed, budget);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		pid_t pid;
		int status;

		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec + (t.tv_nsec - t0.tv_nsec) / 1e9 >
		    budget)
			break;
		/* A batch per child: forking per case costs too much. */
		shared[0] = 0;
		pid = fork();
		KT_ASSERT(pid >= 0);
		if (pid == 0) {
			uint32_t i;

			for (i = 0; i < 50; i++) {
				gen_case(&fcase, case_seed(seed, n + i));
				shared[0] = i + 1;
				alarm(15);
				if (check_one(&fcase, why, sizeof(why))) {
					snprintf(tag, sizeof(tag), "%u-%lu",
						 seed, n + i);
					fail_case(&fcase, tag, why);
					_exit(1);
				}
			}
			_exit(0);
		}
		KT_ASSERT(waitpid(pid, &status, 0) == pid);
		if (!WIFEXITED(status) || WEXITSTATUS(status)) {
			uint32_t i = shared[0] ? shared[0] - 1 : 0;

			if (!WIFEXITED(status)) {
				snprintf(tag, sizeof(tag), "%u-%lu", seed,
					 n + i);
				gen_case(&fcase, case_seed(seed, n + i));
				fail_case(&fcase, tag,
					  WTERMSIG(status) == SIGALRM ?
					  "timeout (hang)" : "crashed");
			}
			KT_FAIL("fuzz case %lu of seed %u failed (KTLS_FUZZ_SEED=%u, case index %lu)",
				n + i, seed, seed, n + i);
		}
		n += shared[0];
	}
	kt_diag("fuzz seed %u: %lu random cases passed", seed, n);
	KT_ASSERT(n > 0);
}

/* Build a small three-record stream: data, control, data. */
static void small_case(struct fz_case *c, uint16_t version, uint16_t cipher)
{
	static const uint8_t types[3] = { T_DATA, 22, T_DATA };
	struct tr_keys k;
	size_t off = 0;
	int i;

	memset(c, 0, sizeof(*c) - sizeof(c->ptbuf));
	c->version = version;
	c->cipher = cipher;
	c->end = FZ_FIN;
	c->nrec = 3;
	c->rseed = 5;
	case_keys(c, &k);
	for (i = 0; i < 3; i++) {
		c->rec[i].type = types[i];
		c->rec[i].len = 3 + i * 4;
		c->rec[i].pt = c->ptbuf + off;
		kt_fill_pattern(c->rec[i].pt, c->rec[i].len, i + 1);
		off += c->rec[i].len;
		c->len += tr_seal(&k, types[i], c->rec[i].pt, c->rec[i].len,
				  c->stream + c->len);
	}
}

static void sweep(int flip)
{
	static const uint16_t vers[] = { TLS12, TLS13 };
	static struct fz_case base;
	unsigned long n = 0;
	char why[256], tag[64];
	size_t ci;
	int v;

	for (ci = 0; ci < kt_n_ciphers; ci++)
		for (v = 0; v < 2; v++) {
			uint32_t s;

			small_case(&base, vers[v], kt_ciphers[ci].type);
			for (s = flip ? 0 : 1; s < base.len; s++) {
				memcpy(&fcase, &base, sizeof(fcase));
				if (flip) {
					/* Each byte changed, written at once. */
					fcase.stream[s] ^= 0x41;
				} else {
					/* Two writes, split after s bytes. */
					fcase.nsplit = 1;
					fcase.split[0] = s;
				}
				fcase.rseed = s * 2 + 3 + v;
				if (check_one(&fcase, why, sizeof(why))) {
					snprintf(tag, sizeof(tag), "%s-%u-%u-%u",
						 flip ? "flip" : "split",
						 vers[v], fcase.cipher, s);
					fail_case(&fcase, tag, why);
					KT_FAIL("sweep case %s failed", tag);
				}
				n++;
			}
		}
	kt_diag("%lu %s cases passed", n, flip ? "byte-flip" : "split-point");
}

static void split_every_byte(void)
{
	sweep(0);
}

static void flip_every_byte(void)
{
	sweep(1);
}

static uint8_t file_buf[FZ_MAX_STREAM * 3 + 16 * FZ_MAX_SPLIT + 8192];

static int replay_hex(const char *name, const char *hex)
{
	static uint8_t bin[sizeof(save_buf)];
	char why[256];
	ssize_t n = unhex(hex, bin, sizeof(bin));

	if (n < 0 || case_load(&fcase, bin, n)) {
		kt_diag("reproducer %s: malformed", name);
		return -1;
	}
	if (check_one(&fcase, why, sizeof(why))) {
		kt_diag("reproducer %s: %s", name, why);
		return -1;
	}
	return 0;
}

/* Every reproducer: built in from selftests/repro/, and /ktls/bin/repro/. */
static void replay_corpus(void)
{
	const char *dir = getenv("KTLS_REPRO_DIR") ?: "/ktls/bin/repro";
	int n = 0, bad = 0;
	size_t i;
	DIR *d;

	for (i = 0; repro_corpus[i].name; i++, n++)
		bad += !!replay_hex(repro_corpus[i].name, repro_corpus[i].hex);
	d = opendir(dir);
	while (d) {
		struct dirent *e = readdir(d);
		char path[512];
		size_t len;
		FILE *f;

		if (!e)
			break;
		len = strlen(e->d_name);
		if (len < 5 || strcmp(e->d_name + len - 4, ".hex"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		len = fread(file_buf, 1, sizeof(file_buf) - 1, f);
		fclose(f);
		file_buf[len] = 0;
		bad += !!replay_hex(e->d_name, (const char *)file_buf);
		n++;
	}
	if (d)
		closedir(d);
	kt_diag("%d reproducers replayed, %d failed", n, bad);
	KT_ASSERT_EQ(bad, 0);
	KT_ASSERT(n > 0);
}

static void load(void)
{
	kt_need_ktls();
	KT_ASSERT(kt_module_loaded("ktls"));
}

/*
 * Host-side helper, no kernel needed: test_fuzz_rx --emit SEED IDX prints
 * random case IDX of fuzz seed SEED (as numbered in a failure message) as
 * a reproducer, with what the model expects; --emit N prints raw case N.
 */
static int emit(uint32_t seed)
{
	char tag[32];

	gen_case(&fcase, seed);
	model_run(&fcase, &fmodel);
	snprintf(tag, sizeof(tag), "gen-%u", seed);
	printf("# generator case %u: v%04x cipher %u, %u bytes, expect %u bytes then %s\n",
	       seed, fcase.version, fcase.cipher, fcase.len, fmodel.dlen,
	       ename(-fmodel.term));
	for (int i = 0; i < fcase.nrec; i++)
		printf("# record %d: type %u, %u bytes, last byte %u\n", i,
		       fcase.rec[i].type, fcase.rec[i].len,
		       fcase.rec[i].len ? fcase.rec[i].pt[fcase.rec[i].len - 1] : 0);
	printf("# %u pieces, reader seed %u, %d empty records\n",
	       fcase.nsplit, fcase.rseed, fmodel.nempty);
	case_report(&fcase, tag);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct kt_case cases[] = {
		KT_CASE(load),
		KT_CASE_T(replay_corpus, 120),
		KT_CASE_T(split_every_byte, 300),
		KT_CASE_T(flip_every_byte, 300),
		KT_CASE_T(random_streams, 600),
	};

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 3 && !strcmp(argv[1], "--emit"))
		return emit(strtoul(argv[2], NULL, 0));
	if (argc == 4 && !strcmp(argv[1], "--emit"))
		return emit(case_seed(strtoul(argv[2], NULL, 0),
				      strtoul(argv[3], NULL, 0)));
	kt_need_ktls();
	return kt_run("fuzz_rx", cases, sizeof(cases) / sizeof(cases[0]));
}
