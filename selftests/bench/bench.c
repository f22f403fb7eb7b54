// SPDX-License-Identifier: GPL-2.0
/*
 * ktls bench: throughput of the TLS record layer over loopback TCP, our
 * ktls (ULP "ktls") against Debian's in-tree tls.ko (ULP "tls"), userspace
 * OpenSSL EVP records and plain TCP.
 *
 * Rows (each for TLS 1.2/1.3 x AES-128-GCM, AES-256-GCM, ChaCha20-Poly1305):
 *   tx-sendfile  sendfile() of a tmpfs file; ktls, intree, user, and plain
 *                TCP once (no cipher)
 *   rx           recv() of a pre-built record stream; ktls, intree, user
 *   send-16k/1k/100  send() of fixed-size messages; ktls, intree
 * The receiver of TX rows reads and discards raw bytes.
 *
 * Runs of a row are interleaved, the order reversed every repetition
 * (A B C C B A A B C ...).  Every measured run is
 * wrapped in marker instructions (see count.c) so a QEMU plugin can count
 * guest instructions; on real hardware they are NOPs.  One line per run:
 *   run ROW IMPL VER CIPHER rep=R bytes=N ns=T mark=M ctxt=C intr=I idle=T
 * (the guest's context switches, interrupts and idle USER_HZ ticks, all
 * CPUs, during the run)
 * and after each row one line per implementation:
 *   row ROW IMPL VER CIPHER median_mbps=X runs=R
 * Before its measured runs each implementation of a row is checked once on
 * a small transfer: TX output is opened by an independent EVP codec
 * (lib_tlsrec.c), RX output compared with the file; a failure prints
 *   fail ROW IMPL VER CIPHER: why
 * and drops that implementation from the row.
 *
 * Environment: BENCH_MB (file and RX stream size, default 256),
 * BENCH_SEND_MB (send-16k total, default 64; send-1k gets a quarter,
 * send-100 a sixteenth), BENCH_REPS (default 3), BENCH_ROWS (comma list of
 * row names to run, default all), BENCH_FILE (default
 * /dev/shm/ktls-bench.file), BENCH_TIMEOUT (seconds per
 * measured run, default 120; the 1 MiB check runs get 20),
 * BENCH_NO_LOAD=1 (do not load modules: for hosts where tls and
 * ktls ulp_name=ktls are already loaded).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <openssl/evp.h>

#include "util.h"
#include "lib_tlsrec.h"

#define MiB		(1024UL * 1024)
#define RBUF		(256 * 1024)
#define VERIFY_BYTES	(1 * MiB)
#define MAX_REPS	32

/* nopl 0x4b544c01(%rax) / 0x4b544c02(%rax): see count.c. */
static inline void mark_start(void)
{
	__asm__ volatile(".byte 0x0f,0x1f,0x80,0x01,0x4c,0x54,0x4b" ::: "memory");
}

static unsigned int mark_seq;

static inline unsigned int mark_stop(void)
{
	__asm__ volatile(".byte 0x0f,0x1f,0x80,0x02,0x4c,0x54,0x4b" ::: "memory");
	return ++mark_seq;
}

enum impl { I_KTLS, I_INTREE, I_USER, I_PLAIN, I_N };
static const char *const impl_name[I_N] = { "ktls", "intree", "user", "plain" };

enum kind { K_SENDFILE, K_RX, K_SEND };

struct row {
	const char *name;
	enum kind kind;
	size_t msg;		/* K_SEND message size */
	size_t bytes;		/* plaintext moved per run */
};

struct cfg {
	uint16_t version, cipher;
	const char *vname, *cname;
};

static size_t file_bytes;
static const unsigned char *file_map;	/* the tmpfs file, mapped */
static int file_fd = -1;
static unsigned int reps = 3;
static unsigned int timeout_s = 120;
static unsigned int check_timeout_s = 20;
static const char *rows_filter;
static volatile sig_atomic_t timed_out;
static long long rx_got;	/* plaintext an RX run received, for errors */
static int have_impl[I_N];

static void die(const char *what)
{
	fprintf(stderr, "bench: %s: %s\n", what, strerror(errno));
	exit(2);
}

static unsigned long env_ul(const char *name, unsigned long def)
{
	const char *v = getenv(name);

	return v && *v ? strtoul(v, NULL, 0) : def;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void on_alarm(int sig)
{
	(void)sig;
	timed_out = 1;
}

/* ---- userspace TLS records on EVP, one context per connection --------- */

struct ub {
	EVP_CIPHER_CTX *ctx;
	struct tr_keys k;
	int enc;
	int tls13;
	size_t explicit;	/* 8 for TLS 1.2 GCM, else 0 */
};

static int ub_init(struct ub *u, const union kt_crypto_info *ci, int enc)
{
	const struct kt_cipher *c = kt_cipher(ci->info.cipher_type);
	const EVP_CIPHER *evp = c ? EVP_get_cipherbyname(c->evp) : NULL;

	memset(u, 0, sizeof(*u));
	tr_keys_from_info(&u->k, ci);
	u->enc = enc;
	u->tls13 = ci->info.version == TLS_1_3_VERSION;
	u->explicit = (!u->tls13 &&
		       ci->info.cipher_type != TLS_CIPHER_CHACHA20_POLY1305) ? 8 : 0;
	u->ctx = EVP_CIPHER_CTX_new();
	if (!evp || !u->ctx ||
	    !EVP_CipherInit_ex(u->ctx, evp, NULL, NULL, NULL, enc) ||
	    !EVP_CIPHER_CTX_ctrl(u->ctx, EVP_CTRL_AEAD_SET_IVLEN, 12, NULL) ||
	    !EVP_CipherInit_ex(u->ctx, NULL, NULL, u->k.key, NULL, enc))
		return -1;
	return 0;
}

static void ub_free(struct ub *u)
{
	EVP_CIPHER_CTX_free(u->ctx);
	u->ctx = NULL;
}

static void ub_nonce(const struct ub *u, const unsigned char *explicit,
		     unsigned char *nonce)
{
	int i;

	memcpy(nonce, u->k.iv, 12);
	if (u->explicit) {
		memcpy(nonce + 4, explicit, 8);
		return;
	}
	for (i = 0; i < 8; i++)
		nonce[4 + i] ^= (unsigned char)(u->k.seq >> (56 - 8 * i));
}

static size_t ub_aad(const struct ub *u, const unsigned char *hdr, size_t len,
		     unsigned char *aad)
{
	int i;

	if (u->tls13) {
		memcpy(aad, hdr, TR_HDR);
		return TR_HDR;
	}
	for (i = 0; i < 8; i++)
		aad[i] = (unsigned char)(u->k.seq >> (56 - 8 * i));
	aad[8] = hdr[0];
	aad[9] = 0x03;
	aad[10] = 0x03;
	aad[11] = (unsigned char)(len >> 8);
	aad[12] = (unsigned char)len;
	return 13;
}

/* Per-record overhead on the wire. */
static size_t ub_overhead(const struct ub *u)
{
	return TR_HDR + u->explicit + (u->tls13 ? 1 : 0) + TR_TAG;
}

/*
 * Seal the len plaintext bytes already at rec + TR_HDR + explicit, in
 * place; returns the record length.
 */
static size_t ub_seal(struct ub *u, unsigned char *rec, size_t len)
{
	unsigned char nonce[12], aad[13];
	unsigned char *body = rec + TR_HDR + u->explicit;
	size_t ptlen = len + (u->tls13 ? 1 : 0);
	size_t wire = u->explicit + ptlen + TR_TAG, alen;
	int n;

	rec[0] = 23;
	rec[1] = 3;
	rec[2] = 3;
	rec[3] = (unsigned char)(wire >> 8);
	rec[4] = (unsigned char)wire;
	if (u->tls13)
		body[len] = 23;
	if (u->explicit) {
		memcpy(rec + TR_HDR, u->k.explicit_iv, 8);
		for (n = 7; n >= 0 && !++u->k.explicit_iv[n]; n--)
			;
	}
	ub_nonce(u, rec + TR_HDR, nonce);
	alen = ub_aad(u, rec, len, aad);
	if (!EVP_EncryptInit_ex(u->ctx, NULL, NULL, NULL, nonce) ||
	    !EVP_EncryptUpdate(u->ctx, NULL, &n, aad, (int)alen) ||
	    !EVP_EncryptUpdate(u->ctx, body, &n, body, (int)ptlen) ||
	    !EVP_EncryptFinal_ex(u->ctx, body + ptlen, &n) ||
	    !EVP_CIPHER_CTX_ctrl(u->ctx, EVP_CTRL_AEAD_GET_TAG, TR_TAG,
				 body + ptlen))
		die("EVP seal");
	u->k.seq++;
	return TR_HDR + wire;
}

/*
 * Open one whole record in place; returns the plaintext length (data at
 * rec + TR_HDR + explicit) or -1.
 */
static ssize_t ub_open(struct ub *u, unsigned char *rec, size_t reclen)
{
	unsigned char nonce[12], aad[13];
	unsigned char *body = rec + TR_HDR + u->explicit;
	size_t ctlen, alen;
	int n;

	if (reclen < ub_overhead(u))
		return -1;
	ctlen = reclen - TR_HDR - u->explicit - TR_TAG;
	ub_nonce(u, rec + TR_HDR, nonce);
	alen = ub_aad(u, rec, ctlen, aad);
	if (!EVP_DecryptInit_ex(u->ctx, NULL, NULL, NULL, nonce) ||
	    !EVP_DecryptUpdate(u->ctx, NULL, &n, aad, (int)alen) ||
	    !EVP_DecryptUpdate(u->ctx, body, &n, body, (int)ctlen) ||
	    !EVP_CIPHER_CTX_ctrl(u->ctx, EVP_CTRL_AEAD_SET_TAG, TR_TAG,
				 body + ctlen) ||
	    EVP_DecryptFinal_ex(u->ctx, body + ctlen, &n) <= 0)
		return -1;
	u->k.seq++;
	if (u->tls13) {
		/* Strip padding; the last non-zero byte is the type. */
		while (ctlen && !body[ctlen - 1])
			ctlen--;
		if (!ctlen || body[ctlen - 1] != 23)
			return -1;
		ctlen--;
	}
	return (ssize_t)ctlen;
}

/* ---- sockets ------------------------------------------------------------ */

static const char *ulp_of(enum impl i)
{
	return i == I_KTLS ? "ktls" : "tls";
}

/* Attach the ULP and install keys; 0 or an error message. */
static const char *tls_setup(int fd, enum impl i, int dir,
			     const union kt_crypto_info *ci)
{
	static char err[128];
	const char *ulp = ulp_of(i);
	size_t len = kt_cipher(ci->info.cipher_type)->info_size;

	if (setsockopt(fd, IPPROTO_TCP, TCP_ULP, ulp, strlen(ulp)) &&
	    errno != EEXIST) {
		snprintf(err, sizeof(err), "TCP_ULP %s: %s", ulp,
			 strerror(errno));
		return err;
	}
	if (setsockopt(fd, SOL_TLS, dir, ci, len)) {
		snprintf(err, sizeof(err), "SOL_TLS %s: %s",
			 dir == TLS_TX ? "TLS_TX" : "TLS_RX", strerror(errno));
		return err;
	}
	return NULL;
}

/*
 * Receiver of TX rows, in a child: reads to EOF.  With check, opens every
 * record with lib_tlsrec (or compares raw bytes for plain) against the
 * file.  Reports plaintext bytes (raw bytes when not checking) through
 * the pipe, or -1.
 */
static void tx_receiver(int fd, int out, const union kt_crypto_info *ci,
			int check)
{
	unsigned char *buf = malloc(RBUF), *pt = malloc(TR_MAX_PT + 256);
	size_t have = 0, off, ptlen;
	long long total = 0;
	struct tr_keys k;
	uint8_t type;
	ssize_t n, used;

	if (!buf || !pt)
		die("malloc");
	if (ci)
		tr_keys_from_info(&k, ci);
	for (;;) {
		n = read(fd, buf + have, RBUF - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (!check) {
			total += n;
			continue;
		}
		have += (size_t)n;
		if (!ci) {
			if (total + (long long)have > (long long)file_bytes ||
			    memcmp(buf, file_map + total, have))
				goto bad;
			total += (long long)have;
			have = 0;
			continue;
		}
		off = 0;
		for (;;) {
			used = tr_open(&k, buf + off, have - off, &type, pt,
				       &ptlen);
			if (used < 0) {
				fprintf(stderr, "bench: record: %s\n",
					tr_error());
				goto bad;
			}
			if (!used)
				break;
			if (type != 23 ||
			    total + (long long)ptlen > (long long)file_bytes ||
			    memcmp(pt, file_map + total, ptlen))
				goto bad;
			total += (long long)ptlen;
			off += (size_t)used;
		}
		memmove(buf, buf + off, have - off);
		have -= off;
	}
	if (n < 0 || (check && have))
		goto bad;
	if (write(out, &total, sizeof(total)) != sizeof(total))
		_exit(1);
	_exit(0);
bad:
	total = -1;
	if (write(out, &total, sizeof(total)) != sizeof(total))
		_exit(1);
	_exit(1);
}

/* Userspace TX: read() the file, seal 16 KiB records, write() each. */
static int user_tx(int fd, const union kt_crypto_info *ci, size_t bytes)
{
	unsigned char *rec = malloc(TR_MAX_REC);
	size_t done = 0, len, pre;
	struct ub u;
	ssize_t n;
	int rc = -1;

	if (!rec || ub_init(&u, ci, 1))
		die("user tx init");
	pre = TR_HDR + u.explicit;
	while (done < bytes && !timed_out) {
		len = bytes - done < TR_MAX_PT ? bytes - done : TR_MAX_PT;
		n = pread(file_fd, rec + pre, len, (off_t)done);
		if (n <= 0)
			goto out;
		len = ub_seal(&u, rec, (size_t)n);
		if (write(fd, rec, len) != (ssize_t)len)
			goto out;
		done += (size_t)n;
	}
	rc = done == bytes ? 0 : -1;
out:
	ub_free(&u);
	free(rec);
	return rc;
}

static int do_sendfile(int fd, size_t bytes)
{
	off_t off = 0;
	ssize_t n;

	while ((size_t)off < bytes && !timed_out) {
		n = sendfile(fd, file_fd, &off, bytes - (size_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
	}
	return (size_t)off == bytes ? 0 : -1;
}

static int do_send(int fd, size_t msg, size_t bytes)
{
	size_t done = 0, len;
	ssize_t n;

	while (done < bytes && !timed_out) {
		len = bytes - done < msg ? bytes - done : msg;
		n = send(fd, file_map + done, len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		done += (size_t)n;
	}
	return done == bytes ? 0 : -1;
}

/*
 * Guest scheduler counters around a run: under TCG wall time is not only
 * instructions; idle vCPUs and context switches (each CR3 load empties
 * QEMU's soft TLB) cost time the instruction count does not show.
 */
struct gstat {
	unsigned long long ctxt, intr, idle;	/* idle in USER_HZ ticks */
};

static void gstat_read(struct gstat *g)
{
	unsigned long long v[5] = { 0 };
	char line[256];
	FILE *f = fopen("/proc/stat", "r");

	memset(g, 0, sizeof(*g));
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		/* "cpu " only: "cpu %llu" would also take "cpu0 ..." lines. */
		if (!strncmp(line, "cpu ", 4) &&
		    sscanf(line + 4, "%llu %llu %llu %llu %llu", &v[0], &v[1],
			   &v[2], &v[3], &v[4]) == 5)
			g->idle = v[3] + v[4];
		else if (sscanf(line, "ctxt %llu", &g->ctxt) != 1)
			sscanf(line, "intr %llu", &g->intr);
	}
	fclose(f);
}

static void gstat_delta(struct gstat *d, const struct gstat *a)
{
	struct gstat b;

	gstat_read(&b);
	d->ctxt = b.ctxt - a->ctxt;
	d->intr = b.intr - a->intr;
	d->idle = b.idle - a->idle;
}

struct result {
	uint64_t ns;
	unsigned int mark;
	const char *err;
	struct gstat gs;
};

static void reap(pid_t pid)
{
	int st;

	kill(pid, SIGKILL);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
}

/* Read the child's report; -1 on error or timeout. */
static long long child_report(int fd)
{
	long long v;
	ssize_t n;

	do {
		n = read(fd, &v, sizeof(v));
	} while (n < 0 && errno == EINTR && !timed_out);
	return n == sizeof(v) ? v : -1;
}

/* TX rows: this process sends, a child receives. */
static struct result run_tx(const struct row *r, enum impl im,
			    const struct cfg *c, size_t bytes, int check)
{
	union kt_crypto_info ci;
	struct result res = { 0 };
	struct gstat gs0;
	int cli, srv, p[2], rc;
	long long got;
	uint64_t t0;
	pid_t pid;

	kt_fill_info(&ci, c->version, c->cipher, 7);
	kt_tcp_pair(AF_INET, &cli, &srv);
	if (im != I_USER && im != I_PLAIN) {
		res.err = tls_setup(cli, im, TLS_TX, &ci);
		if (res.err)
			goto out_close;
	}
	if (pipe(p))
		die("pipe");
	pid = fork();
	if (pid < 0)
		die("fork");
	if (!pid) {
		close(cli);
		close(p[0]);
		tx_receiver(srv, p[1], im == I_PLAIN ? NULL : &ci, check);
	}
	close(srv);
	close(p[1]);
	timed_out = 0;
	alarm(check ? check_timeout_s : timeout_s);
	gstat_read(&gs0);
	if (!check)
		mark_start();
	t0 = now_ns();
	if (im == I_USER)
		rc = user_tx(cli, &ci, bytes);
	else if (r->kind == K_SEND)
		rc = do_send(cli, r->msg, bytes);
	else
		rc = do_sendfile(cli, bytes);
	/* close() pushes the last record; the receiver then sees EOF. */
	close(cli);
	got = child_report(p[0]);
	res.ns = now_ns() - t0;
	if (!check)
		res.mark = mark_stop();
	gstat_delta(&res.gs, &gs0);
	alarm(0);
	close(p[0]);
	reap(pid);
	if (timed_out)
		res.err = "timeout";
	else if (rc)
		res.err = "sender failed";
	else if (got < 0 || (check && (size_t)got != bytes))
		res.err = check ? "receiver: records do not open to the file" :
				  "receiver failed";
	return res;
out_close:
	close(cli);
	close(srv);
	return res;
}

/* RX: a pre-built record stream of the file, sealed in userspace. */
static unsigned char *stream;
static size_t stream_len, stream_cap;

static void build_stream(const struct cfg *c)
{
	union kt_crypto_info ci;
	size_t done = 0, len, pre;
	struct ub u;

	kt_fill_info(&ci, c->version, c->cipher, 9);
	if (ub_init(&u, &ci, 1))
		die("stream init");
	pre = TR_HDR + u.explicit;
	stream_len = 0;
	while (done < file_bytes) {
		len = file_bytes - done < TR_MAX_PT ? file_bytes - done :
						      TR_MAX_PT;
		memcpy(stream + stream_len + pre, file_map + done, len);
		stream_len += ub_seal(&u, stream + stream_len, len);
		done += len;
	}
	ub_free(&u);
}

/* Stream bytes that carry the first `bytes` of plaintext. */
static size_t stream_prefix(const struct cfg *c, size_t bytes)
{
	size_t full = bytes / TR_MAX_PT, part = bytes % TR_MAX_PT, ovh;

	ovh = TR_HDR + TR_TAG;
	if (c->version == TLS_1_3_VERSION)
		ovh += 1;
	else if (c->cipher != TLS_CIPHER_CHACHA20_POLY1305)
		ovh += 8;
	return full * (TR_MAX_PT + ovh) + (part ? part + ovh : 0);
}

static void rx_sender(int fd, int go, size_t len)
{
	char b;

	if (read(go, &b, 1) != 1)
		_exit(1);
	kt_write_all(fd, stream, len);
	_exit(0);
}

/* Userspace RX: read raw, open records in place. */
static long long user_rx(int fd, const union kt_crypto_info *ci, int check)
{
	unsigned char *buf = malloc(RBUF);
	size_t have = 0, off, reclen;
	long long total = 0;
	ssize_t n, pt;
	struct ub u;

	if (!buf || ub_init(&u, ci, 0))
		die("user rx init");
	for (;;) {
		n = read(fd, buf + have, RBUF - have);
		if (n < 0 && errno == EINTR && !timed_out)
			continue;
		if (n <= 0)
			break;
		have += (size_t)n;
		off = 0;
		while (have - off >= TR_HDR) {
			reclen = TR_HDR + ((size_t)buf[off + 3] << 8 |
					   buf[off + 4]);
			if (have - off < reclen)
				break;
			pt = ub_open(&u, buf + off, reclen);
			if (pt < 0 || (check &&
			    memcmp(buf + off + TR_HDR + u.explicit,
				   file_map + total, (size_t)pt)))
				goto bad;
			total += pt;
			rx_got = total;
			off += reclen;
		}
		memmove(buf, buf + off, have - off);
		have -= off;
	}
	if (n < 0 || have)
		goto bad;
	ub_free(&u);
	free(buf);
	return total;
bad:
	ub_free(&u);
	free(buf);
	return -1;
}

static long long kernel_rx(int fd, int check)
{
	unsigned char *buf = malloc(RBUF);
	long long total = 0;
	ssize_t n;

	if (!buf)
		die("malloc");
	for (;;) {
		n = recv(fd, buf, RBUF, 0);
		if (n < 0 && errno == EINTR && !timed_out)
			continue;
		if (n <= 0)
			break;
		if (check && (total + n > (long long)file_bytes ||
			      memcmp(buf, file_map + total, (size_t)n))) {
			n = -1;
			break;
		}
		total += n;
		rx_got = total;
	}
	free(buf);
	return n < 0 ? -1 : total;
}

/* RX rows: a child writes the stream, this process receives. */
static struct result run_rx(enum impl im, const struct cfg *c, size_t bytes,
			    int check)
{
	union kt_crypto_info ci;
	static char err[128];
	struct result res = { 0 };
	struct gstat gs0;
	int cli, srv, go[2];
	long long got;
	uint64_t t0;
	pid_t pid;

	kt_fill_info(&ci, c->version, c->cipher, 9);
	kt_tcp_pair(AF_INET, &cli, &srv);
	if (im != I_USER) {
		res.err = tls_setup(srv, im, TLS_RX, &ci);
		if (res.err) {
			close(cli);
			close(srv);
			return res;
		}
	}
	if (pipe(go))
		die("pipe");
	pid = fork();
	if (pid < 0)
		die("fork");
	if (!pid) {
		close(srv);
		close(go[1]);
		rx_sender(cli, go[0], stream_prefix(c, bytes));
	}
	close(cli);
	close(go[0]);
	timed_out = 0;
	rx_got = 0;
	alarm(check ? check_timeout_s : timeout_s);
	gstat_read(&gs0);
	if (!check)
		mark_start();
	t0 = now_ns();
	if (write(go[1], "g", 1) != 1)
		die("go");
	got = im == I_USER ? user_rx(srv, &ci, check) : kernel_rx(srv, check);
	res.ns = now_ns() - t0;
	if (!check)
		res.mark = mark_stop();
	gstat_delta(&res.gs, &gs0);
	alarm(0);
	close(go[1]);
	close(srv);
	reap(pid);
	if (timed_out) {
		snprintf(err, sizeof(err),
			 "timeout: recv blocked after %lld of %zu bytes",
			 rx_got, bytes);
		res.err = err;
	} else if (got < 0 || (size_t)got != bytes) {
		snprintf(err, sizeof(err), "%s after %lld of %zu bytes (%s)",
			 check ? "plaintext differs or recv failed" :
				 "receiver failed", rx_got, bytes,
			 strerror(errno));
		res.err = err;
	}
	return res;
}

static struct result run_one(const struct row *r, enum impl im,
			     const struct cfg *c, size_t bytes, int check)
{
	if (r->kind == K_RX)
		return run_rx(im, c, bytes, check);
	return run_tx(r, im, c, bytes, check);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int row_wanted(const char *name)
{
	const char *p = rows_filter;
	size_t n = strlen(name);

	if (!p || !*p)
		return 1;
	while ((p = strstr(p, name))) {
		if ((p == rows_filter || p[-1] == ',') &&
		    (p[n] == ',' || !p[n]))
			return 1;
		p += n;
	}
	return 0;
}

/* Check each implementation once, then interleave the measured runs. */
static void bench_row(const struct row *r, const enum impl *impls,
		      unsigned int nimpl, const struct cfg *c)
{
	uint64_t ns[I_N][MAX_REPS];
	unsigned int nok[I_N] = { 0 };
	int live[I_N] = { 0 };
	size_t vbytes = r->bytes < VERIFY_BYTES ? r->bytes : VERIFY_BYTES;
	struct result res;
	unsigned int i, rep;
	enum impl im;
	double mbps;

	if (!row_wanted(r->name))
		return;
	for (i = 0; i < nimpl; i++) {
		im = impls[i];
		if (!have_impl[im]) {
			printf("fail %s %s %s %s: module not loaded\n",
			       r->name, impl_name[im], c->vname, c->cname);
			continue;
		}
		res = run_one(r, im, c, vbytes, 1);
		if (res.err) {
			printf("fail %s %s %s %s: %s\n", r->name,
			       impl_name[im], c->vname, c->cname, res.err);
			continue;
		}
		live[im] = 1;
	}
	fflush(stdout);
	for (rep = 0; rep < reps; rep++) {
		for (i = 0; i < nimpl; i++) {
			/* A B C, C B A, ...: neither goes first every time. */
			im = impls[rep % 2 ? nimpl - 1 - i : i];
			if (!live[im])
				continue;
			res = run_one(r, im, c, r->bytes, 0);
			printf("run %s %s %s %s rep=%u bytes=%zu ns=%llu mark=%u ctxt=%llu intr=%llu idle=%llu%s%s\n",
			       r->name, impl_name[im], c->vname, c->cname,
			       rep, r->bytes, (unsigned long long)res.ns,
			       res.mark, res.gs.ctxt, res.gs.intr,
			       res.gs.idle, res.err ? " error=" : "",
			       res.err ? res.err : "");
			fflush(stdout);
			if (res.err) {
				live[im] = 0;
				continue;
			}
			ns[im][nok[im]++] = res.ns;
		}
	}
	for (i = 0; i < nimpl; i++) {
		im = impls[i];
		if (!nok[im])
			continue;
		qsort(ns[im], nok[im], sizeof(ns[im][0]), cmp_u64);
		mbps = (double)r->bytes / MiB * 1e9 / (double)ns[im][nok[im] / 2];
		printf("row %s %s %s %s median_mbps=%.1f runs=%u\n", r->name,
		       impl_name[im], c->vname, c->cname, mbps, nok[im]);
	}
	fflush(stdout);
}

static void make_file(const char *path)
{
	unsigned char *buf = malloc(MiB);
	size_t done = 0;

	if (!buf)
		die("malloc");
	file_fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (file_fd < 0)
		die(path);
	unlink(path);
	while (done < file_bytes) {
		size_t len = file_bytes - done < MiB ? file_bytes - done : MiB;

		kt_fill_pattern(buf, len, (unsigned int)(done / MiB) + 1);
		kt_write_all(file_fd, buf, len);
		done += len;
	}
	free(buf);
	file_map = mmap(NULL, file_bytes, PROT_READ, MAP_SHARED | MAP_POPULATE,
			file_fd, 0);
	if (file_map == MAP_FAILED)
		die("mmap");
}

static void load_modules(void)
{
	int rc;

	have_impl[I_USER] = have_impl[I_PLAIN] = 1;
	if (env_ul("BENCH_NO_LOAD", 0)) {
		have_impl[I_INTREE] = kt_module_loaded("tls");
		have_impl[I_KTLS] = kt_module_loaded("ktls");
		return;
	}
	/* tls.ko first: loaded after a "tls" holder it corrupts the list. */
	rc = kt_intree_load();
	if (rc)
		printf("# in-tree tls.ko: load failed: %s\n", strerror(-rc));
	have_impl[I_INTREE] = !rc;
	rc = kt_ktls_load("ktls");
	if (rc)
		printf("# ktls.ko ulp_name=ktls: load failed: %s\n",
		       strerror(-rc));
	have_impl[I_KTLS] = !rc;
}

int main(void)
{
	static const struct cfg cfgs[] = {
		{ TLS_1_2_VERSION, TLS_CIPHER_AES_GCM_128, "tls12", "aes128gcm" },
		{ TLS_1_3_VERSION, TLS_CIPHER_AES_GCM_128, "tls13", "aes128gcm" },
		{ TLS_1_2_VERSION, TLS_CIPHER_AES_GCM_256, "tls12", "aes256gcm" },
		{ TLS_1_3_VERSION, TLS_CIPHER_AES_GCM_256, "tls13", "aes256gcm" },
		{ TLS_1_2_VERSION, TLS_CIPHER_CHACHA20_POLY1305, "tls12", "chacha20" },
		{ TLS_1_3_VERSION, TLS_CIPHER_CHACHA20_POLY1305, "tls13", "chacha20" },
	};
	static const enum impl tx3[] = { I_KTLS, I_INTREE, I_USER };
	static const enum impl tx2[] = { I_KTLS, I_INTREE };
	static const enum impl plain[] = { I_PLAIN };
	static const struct cfg none = { 0, 0, "-", "-" };
	const char *path = getenv("BENCH_FILE");
	size_t send_bytes;
	struct row rows[5];
	struct sigaction sa;
	unsigned int i;

	file_bytes = env_ul("BENCH_MB", 256) * MiB;
	send_bytes = env_ul("BENCH_SEND_MB", 64) * MiB;
	reps = (unsigned int)env_ul("BENCH_REPS", 3);
	timeout_s = (unsigned int)env_ul("BENCH_TIMEOUT", 120);
	if (check_timeout_s > timeout_s)
		check_timeout_s = timeout_s;
	rows_filter = getenv("BENCH_ROWS");
	if (!file_bytes || !send_bytes || !reps || reps > MAX_REPS) {
		fprintf(stderr, "bench: bad BENCH_MB/BENCH_SEND_MB/BENCH_REPS\n");
		return 2;
	}
	if (send_bytes > file_bytes)
		send_bytes = file_bytes;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;	/* no SA_RESTART: syscalls see EINTR */
	sigaction(SIGALRM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);

	load_modules();
	make_file(path && *path ? path : "/dev/shm/ktls-bench.file");
	stream_cap = stream_prefix(&cfgs[0], file_bytes) + TR_MAX_REC;
	stream = malloc(stream_cap);
	if (!stream)
		die("malloc stream");

	rows[0] = (struct row){ "tx-sendfile", K_SENDFILE, 0, file_bytes };
	rows[1] = (struct row){ "rx", K_RX, 0, file_bytes };
	rows[2] = (struct row){ "send-16k", K_SEND, 16384, send_bytes };
	rows[3] = (struct row){ "send-1k", K_SEND, 1024, send_bytes / 4 };
	rows[4] = (struct row){ "send-100", K_SEND, 100, send_bytes / 16 };

	printf("# bench: file %zu MiB, send-16k %zu MiB, reps %u, mark=%d\n",
	       file_bytes / MiB, send_bytes / MiB, reps, 1);
	bench_row(&rows[0], plain, 1, &none);
	for (i = 0; i < sizeof(cfgs) / sizeof(cfgs[0]); i++) {
		bench_row(&rows[0], tx3, 3, &cfgs[i]);
		if (row_wanted("rx"))
			build_stream(&cfgs[i]);
		bench_row(&rows[1], tx3, 3, &cfgs[i]);
		bench_row(&rows[2], tx2, 2, &cfgs[i]);
		bench_row(&rows[3], tx2, 2, &cfgs[i]);
		bench_row(&rows[4], tx2, 2, &cfgs[i]);
	}
	printf("# bench: done\n");
	return 0;
}
