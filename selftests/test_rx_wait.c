// SPDX-License-Identifier: GPL-2.0
/*
 * RX waits and wake-ups, and the edges of the record stream: a poller
 * must not miss a record made ready by a reader, poll must say readable
 * when recv() fails at once, a blocking recv() must sleep (never spin)
 * when TCP's queue changes under it, the optimistic TLS 1.3 zero-copy
 * open must leave no control-record bytes in the caller's buffer, the
 * last sequence number is refused, and empty records are skipped on
 * every read path.
 *
 * Every case runs against in-tree tls.ko first, then ktls, with the same
 * assertions; those for rules in-tree 6.1/6.12 lacks (upstream 6.13+)
 * skip the in-tree run and say so.  Every blocking call is bounded.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "lib_pair.h"
#include "lib_tlsrec.h"
#include "util.h"

#define TLS12	TLS_1_2_VERSION
#define TLS13	TLS_1_3_VERSION
#define GCM128	TLS_CIPHER_AES_GCM_128
#define T_DATA	23
#define T_HS	22
#define T_ALERT	21
#define MARK	0xa5

/* The cipher pair_keys() installs. */
static uint16_t cipher = GCM128;

static void set_rcvtimeo(int fd, int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	KT_ASSERT_OK(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)));
}

/* A rule of upstream 6.13+ net/tls that in-tree 6.1/6.12 does not have. */
static void ktls_only(const char *why)
{
	if (kt_module_loaded("tls"))
		KT_SKIP("in-tree tls.ko of this kernel lacks it: %s", why);
}

/* --- a thread's scheduler state: sleeping, or spinning in the kernel -- */

/*
 * State letter and utime + stime (clock ticks) of a thread, from its
 * /proc/thread-self/stat opened by itself (tests run in a PID namespace
 * whose ids /proc, mounted outside it, does not know).
 */
static char thread_stat(int fd, long *ticks)
{
	char buf[512], *p;
	unsigned long ut = 0, st = 0;
	char state = '?';
	ssize_t n;

	n = pread(fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return '?';
	buf[n] = 0;
	/* Fields after "(comm)": state is 3rd, utime 14th, stime 15th. */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
			 "%lu %lu", &state, &ut, &st) != 3)
		return '?';
	*ticks = ut + st;
	return state;
}

/* A blocking call made in a thread, watched from the test's thread. */
struct job {
	int fd;
	void *buf;
	size_t len;
	int flags;
	ssize_t ret;
	int err;
	volatile int statfd;	/* the thread's stat, 0 until it runs */
	volatile int done;
};

static int open_thread_stat(void)
{
	int fd = open("/proc/thread-self/stat", O_RDONLY | O_CLOEXEC);

	KT_ASSERT(fd > 0);
	return fd;
}

static void *recv_job(void *arg)
{
	struct job *j = arg;

	j->statfd = open_thread_stat();
	j->ret = recv(j->fd, j->buf, j->len, j->flags);
	j->err = errno;
	__atomic_store_n(&j->done, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

static void job_start(struct job *j, pthread_t *th)
{
	KT_ASSERT_EQ(pthread_create(th, NULL, recv_job, j), 0);
	while (!j->statfd)
		usleep(1000);
}

/*
 * Wait up to ms for the job; while it blocks it must sleep: state S and
 * no CPU time piling up.  Fails (with what the thread does) otherwise.
 */
static void job_finish(struct job *j, pthread_t th, int ms)
{
	long t0 = 0, t1 = 0;
	char s0, s1;
	int waited;

	for (waited = 0; waited < ms && !j->done; waited += 10) {
		if (waited == 300) {
			s0 = thread_stat(j->statfd, &t0);
			usleep(500000);
			waited += 500;
			s1 = thread_stat(j->statfd, &t1);
			if (!j->done && (s1 == 'R' || t1 - t0 > 10))
				KT_FAIL("blocked reader spins: state %c->%c, "
					"cpu ticks +%ld in 0.5 s", s0, s1,
					t1 - t0);
		}
		usleep(10000);
	}
	if (!j->done) {
		s0 = thread_stat(j->statfd, &t0);
		usleep(500000);
		s1 = thread_stat(j->statfd, &t1);
		KT_FAIL("recv did not return in %d ms (state %c->%c, cpu "
			"ticks +%ld in 0.5 s)", ms, s0, s1, t1 - t0);
	}
	KT_ASSERT_EQ(pthread_join(th, NULL), 0);
	close(j->statfd);
	errno = j->err;
}

/* Wait until the job's thread sleeps (state S). */
static void wait_asleep(struct job *j)
{
	long t;
	int i;

	for (i = 0; i < 300; i++) {
		if (thread_stat(j->statfd, &t) == 'S')
			return;
		usleep(10000);
	}
	KT_FAIL("the reader never went to sleep");
}

/* --- 4: a record made ready by a reader wakes pollers ---------------- */

struct poller {
	int fd, ret, revents;
	struct timespec end;
	volatile int done;
};

static double since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) + (t.tv_nsec - t0->tv_nsec) / 1e9;
}

static void *poll_job(void *arg)
{
	struct poller *w = arg;
	struct pollfd pf = { .fd = w->fd, .events = POLLIN };

	w->ret = poll(&pf, 1, 3000);
	clock_gettime(CLOCK_MONOTONIC, &w->end);
	w->revents = pf.revents;
	__atomic_store_n(&w->done, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

struct reader {
	int fd;
	void *ctl;
	uint8_t buf[100];
	ssize_t ret;
	int err;
};

static void *recvmsg_job(void *arg)
{
	struct reader *r = arg;
	struct iovec iov = { r->buf, sizeof(r->buf) };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = r->ctl, .msg_controllen = CMSG_SPACE(1),
	};

	r->ret = recvmsg(r->fd, &msg, 0);
	r->err = errno;
	return NULL;
}

/*
 * Two whole records queued.  The reader takes the first one and then
 * stalls writing its cmsg (the msg_control page faults to userfaultfd);
 * a poller goes to sleep meanwhile.  When the reader finishes, the second
 * record is ready: the poller must be woken.
 */
static void poll_wakes_after_read(void)
{
	uint8_t pt[100], got[100], zero[4096] = { 0 };
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { 0 };
	struct uffdio_copy copy = { 0 };
	struct timespec resolved;
	struct pollfd upf;
	struct uffd_msg um;
	struct reader r = { 0 };
	struct poller w = { 0 };
	pthread_t rt, pt_;
	struct kt_pair p;
	long psz = sysconf(_SC_PAGESIZE);
	double late;
	int uffd;
	void *page;

	uffd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (uffd < 0)
		KT_SKIP("userfaultfd: %s", strerror(errno));
	KT_ASSERT_OK(ioctl(uffd, UFFDIO_API, &api));
	page = mmap(NULL, psz, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	KT_ASSERT(page != MAP_FAILED);
	reg.range.start = (unsigned long)page;
	reg.range.len = psz;
	reg.mode = UFFDIO_REGISTER_MODE_MISSING;
	KT_ASSERT_OK(ioctl(uffd, UFFDIO_REGISTER, &reg));

	kt_pair_open(&p, TLS12, cipher);
	kt_fill_pattern(pt, sizeof(pt), 1);
	kt_pair_send(&p, T_DATA, pt, sizeof(pt));
	kt_pair_send(&p, T_DATA, pt, sizeof(pt));
	kt_settle(100);

	r.fd = p.rx;
	r.ctl = page;
	KT_ASSERT_EQ(pthread_create(&rt, NULL, recvmsg_job, &r), 0);
	upf = (struct pollfd){ .fd = uffd, .events = POLLIN };
	KT_ASSERT_EQ(poll(&upf, 1, 3000), 1);
	KT_ASSERT_EQ(read(uffd, &um, sizeof(um)), sizeof(um));
	KT_ASSERT_EQ(um.event, UFFD_EVENT_PAGEFAULT);

	/*
	 * The reader took the first record and holds the socket; nothing is
	 * readable until it is done (ktls; in-tree may already see the next
	 * record).
	 */
	w.fd = p.rx;
	KT_ASSERT_EQ(pthread_create(&pt_, NULL, poll_job, &w), 0);
	usleep(300000);
	if (w.done && kt_module_loaded("ktls"))
		KT_FAIL("poll returned %d (revents %#x) while the reader held "
			"the record", w.ret, w.revents);

	copy.dst = (unsigned long)page;
	copy.src = (unsigned long)zero;
	copy.len = psz;
	clock_gettime(CLOCK_MONOTONIC, &resolved);
	KT_ASSERT_OK(ioctl(uffd, UFFDIO_COPY, &copy));
	KT_ASSERT_EQ(pthread_join(rt, NULL), 0);
	errno = r.err;
	KT_ASSERT_EQ(r.ret, sizeof(pt));
	KT_ASSERT(!memcmp(r.buf, pt, sizeof(pt)));

	KT_ASSERT_EQ(pthread_join(pt_, NULL), 0);
	late = since(&resolved) - since(&w.end);
	/* At its 3 s timeout poll looks again and finds the record. */
	if (w.ret != 1 || late > 1.0)
		KT_FAIL("poller not woken with a record ready: poll "
			"returned %d, %.3f s after the reader resumed", w.ret,
			late);
	KT_ASSERT(w.revents & POLLIN);
	KT_ASSERT_EQ(recv(p.rx, got, sizeof(got), MSG_DONTWAIT), sizeof(pt));
	KT_ASSERT(!memcmp(got, pt, sizeof(pt)));
	kt_pair_close(&p);
}

/* --- 6: poll says readable while recv() fails at once ---------------- */

static void poll_after_fatal_error(void)
{
	uint8_t pt[64], rec[2][TR_MAX_REC], buf[256];
	struct pollfd pf;
	size_t n0, n1;
	socklen_t sl;
	struct kt_pair p;
	int err;

	kt_pair_open(&p, TLS12, cipher);
	kt_fill_pattern(pt, sizeof(pt), 2);
	n0 = kt_pair_seal(&p, T_DATA, pt, sizeof(pt), rec[0]);
	n1 = kt_pair_seal(&p, T_DATA, pt, sizeof(pt), rec[1]);
	rec[0][n0 - 1] ^= 1;
	rec[1][n1 - 1] ^= 1;
	kt_write_all(p.tx, rec[0], n0);
	kt_write_all(p.tx, rec[1], n1);
	kt_settle(100);
	set_rcvtimeo(p.rx, 2000);

	KT_ASSERT_ERRNO(recv(p.rx, buf, sizeof(buf), 0), EBADMSG);
	sl = sizeof(err);
	KT_ASSERT_OK(getsockopt(p.rx, SOL_SOCKET, SO_ERROR, &err, &sl));
	KT_ASSERT_EQ(err, EBADMSG);
	pf = (struct pollfd){ .fd = p.rx, .events = POLLIN };
	KT_ASSERT_EQ(poll(&pf, 1, 500), 1);
	KT_ASSERT(pf.revents & POLLIN);
	KT_ASSERT_ERRNO(recv(p.rx, buf, sizeof(buf), 0), EBADMSG);
	KT_ASSERT_EQ(poll(&pf, 1, 500), 1);
	KT_ASSERT(pf.revents & POLLIN);
	kt_pair_close(&p);
}

/* After a KeyUpdate, recv() fails at once with EKEYEXPIRED: readable. */
static void poll_key_expired(void)
{
	static const uint8_t key_update[] = { 24, 0, 0, 1, 0 };
	uint8_t buf[64];
	struct pollfd pf;
	struct kt_pair p;
	uint8_t type;

	ktls_only("TLS 1.3 rekey (newer upstream)");
	kt_pair_open(&p, TLS13, cipher);
	kt_pair_send(&p, T_HS, key_update, sizeof(key_update));
	kt_settle(100);
	KT_ASSERT_EQ(kt_recv_type(p.rx, buf, sizeof(buf), 0, &type),
		     sizeof(key_update));
	KT_ASSERT_EQ(type, T_HS);
	pf = (struct pollfd){ .fd = p.rx, .events = POLLIN };
	KT_ASSERT_EQ(poll(&pf, 1, 500), 1);
	KT_ASSERT(pf.revents & POLLIN);
	KT_ASSERT_ERRNO(recv(p.rx, buf, sizeof(buf), MSG_DONTWAIT),
			EKEYEXPIRED);
	kt_pair_close(&p);
}

/* --- 12: TCP's queue changes under a framed record ------------------- */

/*
 * A plain recv() already asleep in TCP when TLS_RX is installed takes the
 * first 100 bytes of the next record; the TLS reader must re-frame from
 * what TCP holds now (a bogus header: EMSGSIZE), not spin.
 */
static void data_taken_underneath(void)
{
	uint8_t pt[1000], rec[TR_MAX_REC], head[100], big[4096];
	struct job plain = { 0 }, tls = { 0 };
	pthread_t th;
	struct kt_pair p;
	size_t n;

	kt_pair_raw(&p);
	plain.fd = p.rx;
	plain.buf = head;
	plain.len = sizeof(head);
	job_start(&plain, &th);
	wait_asleep(&plain);
	usleep(100000);
	kt_pair_keys(&p, TLS12, cipher, 0);

	kt_fill_pattern(pt, sizeof(pt), 3);
	n = kt_pair_seal(&p, T_DATA, pt, sizeof(pt), rec);
	KT_ASSERT_EQ(n, 1029);
	kt_write_all(p.tx, rec, n);
	job_finish(&plain, th, 3000);
	KT_ASSERT_EQ(plain.ret, sizeof(head));
	KT_ASSERT(!memcmp(head, rec, sizeof(head)));
	kt_settle(100);

	set_rcvtimeo(p.rx, 2000);
	tls.fd = p.rx;
	tls.buf = big;
	tls.len = sizeof(big);
	job_start(&tls, &th);
	job_finish(&tls, th, 5000);
	if (tls.ret != -1 || tls.err != EMSGSIZE)
		KT_FAIL("recv returned %zd (%s), expected EMSGSIZE", tls.ret,
			strerror(tls.err));
	kt_pair_close(&p);
}

/*
 * The record's last byte is urgent data, inline while SO_OOBINLINE is
 * on; turning it off hides that byte from the queue (tcp_inq drops by
 * one).  The record is no longer whole: recv() sleeps until SO_RCVTIMEO.
 */
static void oobinline_turned_off(void)
{
	uint8_t pt[1000], rec[TR_MAX_REC], big[4096];
	struct job tls = { 0 };
	int one = 1, zero = 0;
	struct kt_pair p;
	pthread_t th;
	size_t n;

	kt_pair_raw(&p);
	KT_ASSERT_OK(setsockopt(p.rx, SOL_SOCKET, SO_OOBINLINE, &one,
				sizeof(one)));
	kt_pair_keys(&p, TLS12, cipher, 0);
	kt_fill_pattern(pt, sizeof(pt), 4);
	n = kt_pair_seal(&p, T_DATA, pt, sizeof(pt), rec);
	kt_write_all(p.tx, rec, n - 1);
	KT_ASSERT_EQ(send(p.tx, rec + n - 1, 1, MSG_OOB), 1);
	kt_settle(100);
	KT_ASSERT_OK(setsockopt(p.rx, SOL_SOCKET, SO_OOBINLINE, &zero,
				sizeof(zero)));

	set_rcvtimeo(p.rx, 1500);
	tls.fd = p.rx;
	tls.buf = big;
	tls.len = sizeof(big);
	job_start(&tls, &th);
	job_finish(&tls, th, 5000);
	if (tls.ret != -1 || tls.err != EAGAIN)
		KT_FAIL("recv returned %zd (%s), expected EAGAIN", tls.ret,
			strerror(tls.err));
	/* And again, now that the reader knows the record is not whole. */
	tls = (struct job){ .fd = p.rx, .buf = big, .len = sizeof(big) };
	job_start(&tls, &th);
	job_finish(&tls, th, 5000);
	if (tls.ret != -1 || tls.err != EAGAIN)
		KT_FAIL("second recv returned %zd (%s), expected EAGAIN",
			tls.ret, strerror(tls.err));
	kt_pair_close(&p);
}

/* --- 13: no control-record bytes beyond what recv() returned --------- */

static void marker_after_data(uint8_t ctl_type, const void *ctl,
			      size_t ctl_len)
{
	static uint8_t buf[16384];
	uint8_t pt[100], type;
	struct kt_pair p;
	size_t i;

	kt_pair_open(&p, TLS13, cipher);
	kt_fill_pattern(pt, sizeof(pt), 5);
	kt_pair_send(&p, T_DATA, pt, sizeof(pt));
	kt_pair_send(&p, ctl_type, ctl, ctl_len);
	kt_settle(100);
	memset(buf, MARK, sizeof(buf));
	KT_ASSERT_EQ(kt_recv_type(p.rx, buf, sizeof(buf), 0, &type),
		     sizeof(pt));
	KT_ASSERT_EQ(type, T_DATA);
	KT_ASSERT(!memcmp(buf, pt, sizeof(pt)));
	for (i = sizeof(pt); i < sizeof(buf); i++)
		if (buf[i] != MARK)
			KT_FAIL("byte %zu after the data record changed: "
				"0x%02x", i, buf[i]);
	memset(buf, 0, sizeof(buf));
	KT_ASSERT_EQ(kt_recv_type(p.rx, buf, sizeof(buf), 0, &type), ctl_len);
	KT_ASSERT_EQ(type, ctl_type);
	KT_ASSERT(!memcmp(buf, ctl, ctl_len));
	kt_pair_close(&p);
}

/* Every cipher: ktls peeks at the TLS 1.3 type with the bare cipher. */
static void no_control_bytes_after_data(void)
{
	static const uint8_t alert[] = { 2, 40 };
	uint8_t hs[3000];
	size_t c;

	kt_fill_pattern(hs, sizeof(hs), 6);
	hs[0] = 4;	/* NewSessionTicket */
	for (c = 0; c < kt_n_ciphers; c++) {
		cipher = kt_ciphers[c].type;
		marker_after_data(T_ALERT, alert, sizeof(alert));
		marker_after_data(T_HS, hs, 300);
		marker_after_data(T_HS, hs, sizeof(hs));
	}
}

/* --- sequence number exhaustion (upstream 6.13) ---------------------- */

static void last_seq_refused(void)
{
	uint8_t buf[64];
	struct kt_pair p;

	ktls_only("the last sequence number refused (upstream 6.13)");
	kt_pair_raw(&p);
	kt_pair_keys(&p, TLS12, cipher, UINT64_MAX - 1);
	kt_pair_send(&p, T_DATA, "first", 5);
	kt_pair_send(&p, T_DATA, "last", 4);
	kt_settle(100);
	set_rcvtimeo(p.rx, 2000);
	KT_ASSERT_EQ(recv(p.rx, buf, sizeof(buf), 0), 5);
	KT_ASSERT(!memcmp(buf, "first", 5));
	KT_ASSERT_ERRNO(recv(p.rx, buf, sizeof(buf), 0), EBADMSG);
	KT_ASSERT_ERRNO(recv(p.rx, buf, sizeof(buf), 0), EBADMSG);
	kt_pair_close(&p);
}

/* --- zero-length records on every read path -------------------------- */

static void send_empties(struct kt_pair *p, int n)
{
	while (n--)
		kt_pair_send(p, T_DATA, "", 0);
}

/* recvmsg and peek: empty data records are skipped to the payload. */
static void empty_then_data(void)
{
	uint16_t v[] = { TLS12, TLS13 };
	uint8_t buf[64], type;
	struct kt_pair p;
	int i;

	for (i = 0; i < 2; i++) {
		kt_pair_open(&p, v[i], cipher);
		set_rcvtimeo(p.rx, 2000);
		send_empties(&p, 3);
		kt_pair_send(&p, T_DATA, "abc", 3);
		send_empties(&p, 1);
		kt_pair_send(&p, T_DATA, "defg", 4);
		kt_settle(100);
		KT_ASSERT_EQ(kt_recv_type(p.rx, buf, sizeof(buf), MSG_PEEK,
					  &type), 7);
		KT_ASSERT(type == T_DATA && !memcmp(buf, "abcdefg", 7));
		KT_ASSERT_EQ(kt_recv_type(p.rx, buf, sizeof(buf), 0, &type),
			     7);
		KT_ASSERT(type == T_DATA && !memcmp(buf, "abcdefg", 7));
		kt_pair_close(&p);
	}
}

/* A run of empty records and nothing behind: EAGAIN, peeking or not. */
static void empty_run_eagain(void)
{
	uint8_t buf[64];
	struct kt_pair p;

	kt_pair_open(&p, TLS13, cipher);
	send_empties(&p, 3);
	kt_settle(100);
	KT_ASSERT_ERRNO(recv(p.rx, buf, sizeof(buf), MSG_DONTWAIT | MSG_PEEK),
			EAGAIN);
	KT_ASSERT_ERRNO(recv(p.rx, buf, sizeof(buf), MSG_DONTWAIT), EAGAIN);
	kt_pair_send(&p, T_DATA, "x", 1);
	kt_settle(100);
	KT_ASSERT_EQ(recv(p.rx, buf, sizeof(buf), MSG_DONTWAIT), 1);
	KT_ASSERT_EQ(buf[0], 'x');
	kt_pair_close(&p);
}

/* A control record behind a run of empties reads as if it came first. */
static void empty_then_control(void)
{
	static const uint8_t alert[] = { 1, 0 };
	uint8_t buf[64], type;
	int flags[] = { MSG_PEEK, 0 };
	struct kt_pair p;
	int i;

	ktls_only("empty records skipped on every path (upstream net/tls)");
	kt_pair_open(&p, TLS12, cipher);
	set_rcvtimeo(p.rx, 2000);
	send_empties(&p, 2);
	kt_pair_send(&p, T_ALERT, alert, sizeof(alert));
	kt_settle(100);
	for (i = 0; i < 2; i++) {
		KT_ASSERT_EQ(kt_recv_type(p.rx, buf, sizeof(buf), flags[i],
					  &type), sizeof(alert));
		KT_ASSERT_EQ(type, T_ALERT);
		KT_ASSERT(!memcmp(buf, alert, sizeof(alert)));
	}
	kt_pair_close(&p);
}

/* splice: empties skipped; EAGAIN after a run; EINVAL for control. */
static void empty_splice(void)
{
	static const uint8_t alert[] = { 1, 0 };
	uint8_t buf[64];
	struct kt_pair p;
	int pp[2];

	ktls_only("empty records skipped on every path (upstream net/tls)");
	KT_ASSERT_OK(pipe(pp));
	kt_pair_open(&p, TLS13, cipher);
	set_rcvtimeo(p.rx, 2000);
	send_empties(&p, 3);
	kt_pair_send(&p, T_DATA, "hello", 5);
	send_empties(&p, 2);
	kt_settle(100);
	KT_ASSERT_EQ(splice(p.rx, NULL, pp[1], NULL, 100, 0), 5);
	KT_ASSERT_EQ(read(pp[0], buf, sizeof(buf)), 5);
	KT_ASSERT(!memcmp(buf, "hello", 5));
	KT_ASSERT_ERRNO(splice(p.rx, NULL, pp[1], NULL, 100,
			       SPLICE_F_NONBLOCK), EAGAIN);
	kt_pair_send(&p, T_ALERT, alert, sizeof(alert));
	kt_settle(100);
	KT_ASSERT_ERRNO(splice(p.rx, NULL, pp[1], NULL, 100, 0), EINVAL);
	kt_pair_close(&p);
}

/* --- 11: a layer stacked above data_ready outlives close() ----------- */

#define STACK_KO	"/ktls/ktls_test_stack.ko"
#define STACK_PARAM	"/sys/module/ktls_test_stack/parameters/"

static int stack_write(const char *param, const char *val)
{
	char path[128];
	int fd, rc = 0;

	snprintf(path, sizeof(path), STACK_PARAM "%s", param);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

/*
 * Like a sockmap psock, the helper module saves the data_ready it finds
 * (the ULP's) and calls it again after close() took the ULP away.
 */
static void stacked_data_ready_after_close(void)
{
	uint8_t buf[16];
	char fd[16];
	struct kt_pair p;
	int rc;

	/* In-tree's tls_data_ready() dereferences its context unchecked. */
	ktls_only("tls_data_ready() does not check its context");
	rc = kt_module_load(STACK_KO, NULL);
	if (rc && rc != -EEXIST)
		KT_FAIL("cannot load %s: %s", STACK_KO, strerror(-rc));
	kt_pair_open(&p, TLS12, cipher);
	snprintf(fd, sizeof(fd), "%d", p.rx);
	KT_ASSERT_EQ(stack_write("hook", fd), 0);
	kt_pair_send(&p, T_DATA, "live", 4);
	kt_settle(100);
	KT_ASSERT_EQ(stack_write("fire", "1"), 0);
	KT_ASSERT_EQ(recv(p.rx, buf, sizeof(buf), MSG_DONTWAIT), 4);
	KT_ASSERT(!memcmp(buf, "live", 4));
	close(p.rx);
	/* The old code oopsed here, in this process (NULL context). */
	KT_ASSERT_EQ(stack_write("fire", "1"), 0);
	KT_ASSERT_EQ(stack_write("unhook", "1"), 0);
	close(p.tx);
	KT_ASSERT_EQ(kt_module_unload("ktls_test_stack"), 0);
}

static const struct kt_case cases[] = {
	KT_CASE_T(poll_wakes_after_read, 30),
	KT_CASE_T(poll_after_fatal_error, 30),
	KT_CASE_T(poll_key_expired, 30),
	KT_CASE_T(data_taken_underneath, 30),
	KT_CASE_T(oobinline_turned_off, 30),
	KT_CASE_T(no_control_bytes_after_data, 30),
	KT_CASE_T(last_seq_refused, 30),
	KT_CASE_T(empty_then_data, 30),
	KT_CASE_T(empty_run_eagain, 30),
	KT_CASE_T(empty_then_control, 30),
	KT_CASE_T(empty_splice, 30),
	KT_CASE_T(stacked_data_ready_after_close, 30),
};

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	kt_need_ktls();
	return kt_run_phased("rx_wait", cases,
			     sizeof(cases) / sizeof(cases[0]), NULL);
}
