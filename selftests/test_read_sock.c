// SPDX-License-Identifier: GPL-2.0
/*
 * proto_ops.read_sock on a TLS_RX socket, as in-kernel consumers (the
 * nvme-tcp host over TLS) use it: decrypted data records only, a control
 * record stops it, and a record partly read by read_sock continues in
 * recvmsg() and the other way round.
 *
 * The test module /ktls/ktls_test_readsock.ko calls read_sock on a socket
 * of this process (selftests/kmod/ktls_test_readsock.c) and hands back what
 * its actor took, call by call.  Records are sealed by the independent
 * codec lib_tlsrec.  Every case runs against Debian's in-tree tls.ko, then
 * ktls, with the same assertions.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "lib_pair.h"
#include "lib_tlsrec.h"
#include "util.h"

#define TLS12	TLS_1_2_VERSION
#define TLS13	TLS_1_3_VERSION
#define T_DATA	23
#define T_HS	22
#define T_ALERT	21

#define RS_KO		"/ktls/ktls_test_readsock.ko"
#define RS_PROC		"/proc/ktls_test_readsock"
#define RS_MAX_CALLS	64
#define RS_BUF_SIZE	(256 * 1024)
#define RS_ALL		(1u << 20)

/* What the module returns (struct rs_out there). */
struct rs_result {
	int32_t ret;
	uint32_t calls;
	uint32_t len;
	uint32_t call_len[RS_MAX_CALLS];
	uint8_t data[RS_BUF_SIZE];
};

/* The versions and ciphers every case runs with. */
static const struct {
	uint16_t version, cipher;
} variants[] = {
	{ TLS12, TLS_CIPHER_AES_GCM_128 },
	{ TLS13, TLS_CIPHER_CHACHA20_POLY1305 },
};
#define NVARIANTS (sizeof(variants) / sizeof(variants[0]))

static void open_variant(struct kt_pair *p, int variant)
{
	uint16_t version = variants[variant].version;
	uint16_t cipher = variants[variant].cipher;

	kt_diag("%s %s", kt_cipher(cipher)->name,
		version == TLS12 ? "1.2" : "1.3");
	kt_pair_open(p, version, cipher);
}

/* In-tree tls.ko implements read_sock only where tls_sw_read_sock is. */
static int intree_has_read_sock(void)
{
	char line[256];
	int found = 0;
	FILE *f = fopen("/proc/kallsyms", "r");

	KT_ASSERT(f);
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, " tls_sw_read_sock") != NULL;
	fclose(f);
	return found;
}

/* Every case: the test module loaded, and a read_sock worth comparing. */
static void need_read_sock(void)
{
	int rc;

	if (!kt_module_loaded("ktls_test_readsock")) {
		rc = kt_module_load(RS_KO, NULL);
		if (rc && rc != -EEXIST)
			KT_FAIL("cannot load %s: %s", RS_KO, strerror(-rc));
	}
	if (!kt_module_loaded("ktls") && !intree_has_read_sock())
		KT_SKIP("this kernel's in-tree tls.ko has no tls_sw_read_sock (in-tree gained it in 6.6): its read_sock is tcp_read_sock, which returns ciphertext");
}

/* read_sock(desc.count = count, actor taking at most per_call) on fd. */
static void rs_call(int fd, size_t count, size_t per_call,
		    struct rs_result *r)
{
	char cmd[64];
	size_t have = 0;
	ssize_t n;
	int pfd = open(RS_PROC, O_RDWR | O_CLOEXEC);

	KT_ASSERT(pfd >= 0);
	snprintf(cmd, sizeof(cmd), "%d %zu %zu", fd, count, per_call);
	KT_ASSERT_EQ(write(pfd, cmd, strlen(cmd)), strlen(cmd));
	memset(r, 0, sizeof(*r));
	while ((n = pread(pfd, (char *)r + have, sizeof(*r) - have,
			  have)) > 0)
		have += n;
	KT_ASSERT(n == 0);
	KT_ASSERT(have >= offsetof(struct rs_result, data));
	KT_ASSERT_EQ(have, offsetof(struct rs_result, data) + r->len);
	close(pfd);
}

/*
 * read_sock must return ret, its actor having taken want's bytes in
 * ncalls calls of calls[i] bytes each (one per record, or less).
 */
static void rs_expect(int fd, size_t count, size_t per_call, int ret,
		      const uint8_t *want, const uint32_t *calls,
		      size_t ncalls)
{
	static struct rs_result r;
	size_t i, total = 0;

	rs_call(fd, count, per_call, &r);
	if (r.ret != ret)
		KT_FAIL("read_sock returned %d%s%s, expected %d%s%s", r.ret,
			r.ret < 0 ? " " : "", r.ret < 0 ? strerror(-r.ret) : "",
			ret, ret < 0 ? " " : "", ret < 0 ? strerror(-ret) : "");
	KT_ASSERT_EQ(r.calls, ncalls);
	for (i = 0; i < ncalls; i++) {
		if (r.call_len[i] != calls[i])
			KT_FAIL("actor call %zu took %u bytes, expected %u", i,
				r.call_len[i], calls[i]);
		total += calls[i];
	}
	KT_ASSERT_EQ(r.len, total);
	kt_expect_bytes(r.data, want, total);
}

#define CALLS(...)	((const uint32_t[]){ __VA_ARGS__ }),		\
			(sizeof((const uint32_t[]){ __VA_ARGS__ }) /	\
			 sizeof(uint32_t))
#define NO_CALLS	NULL, 0

/* Replace the socket's sk_data_ready by one that chains nothing. */
static void rs_hook(int fd)
{
	char cmd[32];
	int pfd = open(RS_PROC, O_WRONLY | O_CLOEXEC);

	KT_ASSERT(pfd >= 0);
	snprintf(cmd, sizeof(cmd), "%d hook", fd);
	KT_ASSERT_EQ(write(pfd, cmd, strlen(cmd)), strlen(cmd));
	close(pfd);
}

/* --- cases -------------------------------------------------------------- */

/* Records read whole, one actor call each; then EAGAIN, then EOF. */
static void whole_records(void)
{
	static uint8_t pt[20000];
	size_t v;

	need_read_sock();

	kt_fill_pattern(pt, sizeof(pt), 1);
	for (v = 0; v < NVARIANTS; v++) {
		struct kt_pair p;

		open_variant(&p, v);
		rs_expect(p.rx, RS_ALL, 0, -EAGAIN, NULL, NO_CALLS);
		kt_pair_send(&p, T_DATA, pt, 1);
		kt_pair_send(&p, T_DATA, pt + 1, 1000);
		kt_pair_send(&p, T_DATA, pt + 1001, 16384);
		kt_settle(50);
		rs_expect(p.rx, RS_ALL, 0, 17385, pt, CALLS(1, 1000, 16384));
		rs_expect(p.rx, RS_ALL, 0, -EAGAIN, NULL, NO_CALLS);
		kt_pair_send(&p, T_DATA, pt + 17385, 7);
		KT_ASSERT_OK(shutdown(p.tx, SHUT_WR));
		kt_settle(50);
		rs_expect(p.rx, RS_ALL, 0, 7, pt + 17385, CALLS(7));
		rs_expect(p.rx, RS_ALL, 0, 0, NULL, NO_CALLS);
		kt_pair_close(&p);
	}
}

/*
 * desc->count runs out inside a record: the rest stays for the next
 * read_sock or recvmsg, and a record recvmsg left half read continues
 * in read_sock.
 */
static void count_limit(void)
{
	static uint8_t pt[6000], got[6000];
	size_t v;

	need_read_sock();

	kt_fill_pattern(pt, sizeof(pt), 2);
	for (v = 0; v < NVARIANTS; v++) {
		struct kt_pair p;

		open_variant(&p, v);
		kt_pair_send(&p, T_DATA, pt, 1000);
		kt_pair_send(&p, T_DATA, pt + 1000, 2000);
		kt_pair_send(&p, T_DATA, pt + 3000, 3000);
		kt_settle(50);
		rs_expect(p.rx, 300, 0, 300, pt, CALLS(300));
		KT_ASSERT_EQ(recv(p.rx, got, 500, 0), 500);
		kt_expect_bytes(got, pt + 300, 500);
		rs_expect(p.rx, 1000, 0, 1000, pt + 800, CALLS(200, 800));
		KT_ASSERT_EQ(recv(p.rx, got, 100, 0), 100);
		kt_expect_bytes(got, pt + 1800, 100);
		rs_expect(p.rx, RS_ALL, 0, 4100, pt + 1900,
			  CALLS(1100, 3000));
		rs_expect(p.rx, RS_ALL, 0, -EAGAIN, NULL, NO_CALLS);
		kt_pair_close(&p);
	}
}

/*
 * An actor that takes less than offered with desc->count left: the rest
 * is offered again, as tcp_read_sock does.  In-tree drops the rest of
 * that record (it neither offers it again nor keeps it).
 */
static void short_actor(void)
{
	static uint8_t pt[2000], got[100];
	size_t v;

	need_read_sock();

	if (!kt_module_loaded("ktls"))
		KT_SKIP("in-tree tls_sw_read_sock drops what an actor leaves of a record while desc->count is not 0");
	kt_fill_pattern(pt, sizeof(pt), 3);
	for (v = 0; v < NVARIANTS; v++) {
		struct kt_pair p;

		open_variant(&p, v);
		kt_pair_send(&p, T_DATA, pt, 1000);
		kt_pair_send(&p, T_DATA, pt + 1000, 10);
		kt_pair_send(&p, T_DATA, pt + 1010, 500);
		kt_settle(50);
		rs_expect(p.rx, 1200, 300, 1200, pt,
			  CALLS(300, 300, 300, 100, 10, 190));
		KT_ASSERT_EQ(recv(p.rx, got, sizeof(got), 0), 100);
		kt_expect_bytes(got, pt + 1200, 100);
		rs_expect(p.rx, RS_ALL, 0, 210, pt + 1300, CALLS(210));
		kt_pair_close(&p);
	}
}

/*
 * A control record stops read_sock with in-tree's errno (after the data
 * before it) and stays readable by recvmsg with its type.
 */
static void control_stops(void)
{
	static const uint8_t alert[2] = { 1, 0 }, hs[4] = { 4, 0, 0, 0 };
	static uint8_t pt[1000];
	uint8_t got[100], type;
	size_t v;

	need_read_sock();

	kt_fill_pattern(pt, sizeof(pt), 4);
	for (v = 0; v < NVARIANTS; v++) {
		struct kt_pair p;

		open_variant(&p, v);
		kt_pair_send(&p, T_DATA, pt, 500);
		kt_pair_send(&p, T_ALERT, alert, sizeof(alert));
		kt_pair_send(&p, T_DATA, pt + 500, 300);
		kt_pair_send(&p, T_HS, hs, sizeof(hs));
		kt_settle(50);
		rs_expect(p.rx, RS_ALL, 0, 500, pt, CALLS(500));
		rs_expect(p.rx, RS_ALL, 0, -EINVAL, NULL, NO_CALLS);
		rs_expect(p.rx, RS_ALL, 0, -EINVAL, NULL, NO_CALLS);
		KT_ASSERT_EQ(kt_recv_type(p.rx, got, sizeof(got), 0, &type),
			     sizeof(alert));
		KT_ASSERT_EQ(type, T_ALERT);
		kt_expect_bytes(got, alert, sizeof(alert));
		rs_expect(p.rx, RS_ALL, 0, 300, pt + 500, CALLS(300));
		rs_expect(p.rx, RS_ALL, 0, -EINVAL, NULL, NO_CALLS);
		/* Peeked, it still stops read_sock. */
		KT_ASSERT_EQ(kt_recv_type(p.rx, got, sizeof(got), MSG_PEEK,
					  &type), sizeof(hs));
		KT_ASSERT_EQ(type, T_HS);
		rs_expect(p.rx, RS_ALL, 0, -EINVAL, NULL, NO_CALLS);
		KT_ASSERT_EQ(kt_recv_type(p.rx, got, sizeof(got), 0, &type),
			     sizeof(hs));
		KT_ASSERT_EQ(type, T_HS);
		kt_expect_bytes(got, hs, sizeof(hs));
		rs_expect(p.rx, RS_ALL, 0, -EAGAIN, NULL, NO_CALLS);
		kt_pair_close(&p);
	}
}

/* A record that fails authentication: the data before it, then EBADMSG. */
static void bad_tag(void)
{
	static uint8_t pt[300], rec[TR_MAX_REC];
	uint8_t got[100];
	size_t v, n;

	need_read_sock();

	kt_fill_pattern(pt, sizeof(pt), 5);
	for (v = 0; v < NVARIANTS; v++) {
		struct kt_pair p;

		open_variant(&p, v);
		kt_pair_send(&p, T_DATA, pt, 100);
		n = kt_pair_seal(&p, T_DATA, pt + 100, 200, rec);
		rec[n - 3] ^= 0x40;
		kt_write_all(p.tx, rec, n);
		kt_settle(50);
		rs_expect(p.rx, RS_ALL, 0, 100, pt, CALLS(100));
		rs_expect(p.rx, RS_ALL, 0, -EBADMSG, NULL, NO_CALLS);
		KT_ASSERT_ERRNO(read(p.rx, got, sizeof(got)), EBADMSG);
		kt_pair_close(&p);

		/* First thing read. */
		open_variant(&p, v);
		n = kt_pair_seal(&p, T_DATA, pt, 100, rec);
		rec[7] ^= 1;
		kt_write_all(p.tx, rec, n);
		kt_settle(50);
		rs_expect(p.rx, RS_ALL, 0, -EBADMSG, NULL, NO_CALLS);
		kt_pair_close(&p);
	}
}

/* Empty data records are skipped to the payload behind them. */
static void empty_records(void)
{
	static uint8_t pt[1000];
	size_t v;

	need_read_sock();

	kt_fill_pattern(pt, sizeof(pt), 6);
	for (v = 0; v < NVARIANTS; v++) {
		struct kt_pair p;

		open_variant(&p, v);
		kt_pair_send(&p, T_DATA, pt, 100);
		kt_pair_send(&p, T_DATA, pt, 0);
		kt_pair_send(&p, T_DATA, pt, 0);
		kt_pair_send(&p, T_DATA, pt + 100, 200);
		kt_settle(50);
		rs_expect(p.rx, RS_ALL, 0, 300, pt, CALLS(100, 200));
		kt_pair_send(&p, T_DATA, pt, 0);
		kt_settle(50);
		rs_expect(p.rx, RS_ALL, 0, -EAGAIN, NULL, NO_CALLS);
		kt_pair_send(&p, T_DATA, pt + 300, 50);
		kt_settle(50);
		rs_expect(p.rx, RS_ALL, 0, 50, pt + 300, CALLS(50));
		kt_pair_close(&p);
	}
}

/* read_sock returns ret and its actor took nothing. */
static void rs_expect_none(int fd, size_t count, int ret)
{
	static struct rs_result r;

	rs_call(fd, count, 0, &r);
	if (r.ret != ret)
		KT_FAIL("read_sock(count %zu) returned %d, expected %d", count,
			r.ret, ret);
	KT_ASSERT_EQ(r.len, 0);
}

/*
 * desc->count 0 on entry: nothing is taken, and the return value is 0 or
 * -errno, never a byte count.  Empty data records are skipped whatever
 * the count (-EAGAIN with nothing else queued), a control record stops
 * it with -EINVAL, a data record is offered and nothing taken: 0.  Found
 * in review: ktls returned 1 after skipping an empty record.
 */
static void count_zero(void)
{
	static uint8_t pt[100];
	uint8_t got[100], type;
	size_t v;

	need_read_sock();

	kt_fill_pattern(pt, sizeof(pt), 11);
	for (v = 0; v < NVARIANTS; v++) {
		struct kt_pair p;

		open_variant(&p, v);
		kt_pair_send(&p, T_DATA, pt, 0);
		kt_settle(50);
		rs_expect_none(p.rx, 0, -EAGAIN);

		kt_pair_send(&p, T_DATA, pt, 0);
		kt_pair_send(&p, T_DATA, pt, 50);
		kt_settle(50);
		rs_expect_none(p.rx, 0, 0);
		rs_expect(p.rx, RS_ALL, 0, 50, pt, CALLS(50));

		kt_pair_send(&p, T_DATA, pt, 0);
		kt_pair_send(&p, T_ALERT, pt + 50, 2);
		kt_settle(50);
		rs_expect_none(p.rx, 0, -EINVAL);
		KT_ASSERT_EQ(kt_recv_type(p.rx, got, sizeof(got), 0, &type),
			     2);
		KT_ASSERT_EQ(type, T_ALERT);
		KT_ASSERT(!memcmp(got, pt + 50, 2));
		kt_pair_close(&p);
	}
}

/* Records opened by MSG_PEEK are read_sock's next bytes. */
static void after_peek(void)
{
	static uint8_t pt[2000], got[2000];
	size_t v;

	need_read_sock();

	kt_fill_pattern(pt, sizeof(pt), 7);
	for (v = 0; v < NVARIANTS; v++) {
		struct kt_pair p;

		open_variant(&p, v);
		kt_pair_send(&p, T_DATA, pt, 1000);
		kt_pair_send(&p, T_DATA, pt + 1000, 500);
		kt_pair_send(&p, T_DATA, pt + 1500, 200);
		kt_settle(50);
		KT_ASSERT_EQ(recv(p.rx, got, 300, 0), 300);
		kt_expect_bytes(got, pt, 300);
		KT_ASSERT_EQ(recv(p.rx, got, 1000, MSG_PEEK), 1000);
		kt_expect_bytes(got, pt + 300, 1000);
		rs_expect(p.rx, 800, 0, 800, pt + 300, CALLS(700, 100));
		KT_ASSERT_EQ(recv(p.rx, got, sizeof(got), MSG_PEEK), 600);
		kt_expect_bytes(got, pt + 1100, 600);
		rs_expect(p.rx, RS_ALL, 0, 600, pt + 1100, CALLS(400, 200));
		KT_ASSERT_ERRNO(recv(p.rx, got, sizeof(got), MSG_DONTWAIT),
				EAGAIN);
		kt_pair_close(&p);
	}
}

struct blocked_read {
	int fd;
	ssize_t ret;
	uint8_t buf[100];
};

static void *blocked_read_fn(void *arg)
{
	struct blocked_read *b = arg;

	b->ret = recv(b->fd, b->buf, sizeof(b->buf), 0);
	return NULL;
}

/* A reader asleep in recvmsg() owns the receive side: read_sock EAGAIN. */
static void reader_busy(void)
{
	static uint8_t pt[100];
	size_t v;

	need_read_sock();
	kt_fill_pattern(pt, sizeof(pt), 8);
	for (v = 0; v < NVARIANTS; v++) {
		struct blocked_read b = { 0 };
		struct kt_pair p;
		pthread_t t;

		open_variant(&p, v);
		b.fd = p.rx;
		KT_ASSERT_EQ(pthread_create(&t, NULL, blocked_read_fn, &b), 0);
		kt_settle(50);
		rs_expect(p.rx, RS_ALL, 0, -EAGAIN, NULL, NO_CALLS);
		kt_pair_send(&p, T_DATA, pt, 60);
		KT_ASSERT_EQ(pthread_join(t, NULL), 0);
		KT_ASSERT_EQ(b.ret, 60);
		kt_expect_bytes(b.buf, pt, 60);
		kt_pair_send(&p, T_DATA, pt + 60, 40);
		kt_settle(50);
		rs_expect(p.rx, RS_ALL, 0, 40, pt + 60, CALLS(40));
		kt_pair_close(&p);
	}
}

/*
 * The consumer replaced sk_data_ready and chains nothing (nvme-tcp does):
 * read_sock alone must frame what TCP holds, also records larger than
 * the receive buffer, whose bytes arrive only as they are read.
 */
static void hooked_data_ready(void)
{
	static uint8_t pt[4 * 16384], stream[4 * TR_MAX_REC];
	static struct rs_result r;
	size_t v, i, got, off;
	int rcvbuf = 4096, tries;

	need_read_sock();
	kt_fill_pattern(pt, sizeof(pt), 9);
	for (v = 0; v < NVARIANTS; v++) {
		struct kt_writer w;
		struct kt_pair p;
		pthread_t t;

		open_variant(&p, v);
		KT_ASSERT_OK(setsockopt(p.rx, SOL_SOCKET, SO_RCVBUF, &rcvbuf,
					sizeof(rcvbuf)));
		rs_hook(p.rx);
		for (i = 0, off = 0; i < 4; i++)
			off += kt_pair_seal(&p, T_DATA, pt + i * 16384, 16384,
				    stream + off);
		w = (struct kt_writer){ p.tx, stream, off };
		KT_ASSERT_EQ(pthread_create(&t, NULL, kt_writer_fn, &w), 0);
		/* Read as a consumer polled by its own wakeups would. */
		for (got = 0, tries = 0; got < sizeof(pt) && tries < 2000;
		     tries++) {
			rs_call(p.rx, RS_ALL, 0, &r);
			if (r.ret == -EAGAIN) {
				usleep(5000);
				continue;
			}
			if (r.ret <= 0)
				KT_FAIL("read_sock returned %d after %zu bytes",
					r.ret, got);
			KT_ASSERT_EQ(r.ret, r.len);
			KT_ASSERT(got + r.len <= sizeof(pt));
			kt_expect_bytes(r.data, pt + got, r.len);
			got += r.len;
		}
		KT_ASSERT_EQ(got, sizeof(pt));
		KT_ASSERT_EQ(pthread_join(t, NULL), 0);
		kt_pair_close(&p);
	}
}

static const struct kt_case cases[] = {
	KT_CASE(whole_records), KT_CASE(count_limit), KT_CASE(short_actor),
	KT_CASE(control_stops), KT_CASE(bad_tag), KT_CASE(empty_records),
	KT_CASE(after_peek), KT_CASE(reader_busy),
	KT_CASE(hooked_data_ready), KT_CASE(count_zero),
};

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	kt_need_ktls();
	return kt_run_phased("read_sock", cases,
			     sizeof(cases) / sizeof(cases[0]), NULL);
}
