// SPDX-License-Identifier: GPL-2.0
/* Shared helpers for the ktls selftests. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "harness.h"
#include "util.h"


const struct kt_cipher kt_ciphers[] = {
	{ .name = "aes-gcm-128", .type = TLS_CIPHER_AES_GCM_128,
	  .info_size = sizeof(struct tls12_crypto_info_aes_gcm_128),
	  .iv = 8, .key = 16, .salt = 4, .evp = "AES-128-GCM" },
	{ .name = "aes-gcm-256", .type = TLS_CIPHER_AES_GCM_256,
	  .info_size = sizeof(struct tls12_crypto_info_aes_gcm_256),
	  .iv = 8, .key = 32, .salt = 4, .evp = "AES-256-GCM" },
	{ .name = "aes-ccm-128", .type = TLS_CIPHER_AES_CCM_128,
	  .info_size = sizeof(struct tls12_crypto_info_aes_ccm_128),
	  .iv = 8, .key = 16, .salt = 4, .evp = "AES-128-CCM" },
	{ .name = "chacha20-poly1305", .type = TLS_CIPHER_CHACHA20_POLY1305,
	  .info_size = sizeof(struct tls12_crypto_info_chacha20_poly1305),
	  .iv = 12, .key = 32, .salt = 0, .evp = "ChaCha20-Poly1305" },
};
const size_t kt_n_ciphers = sizeof(kt_ciphers) / sizeof(kt_ciphers[0]);

const struct kt_cipher *kt_cipher(uint16_t type)
{
	size_t i;

	for (i = 0; i < kt_n_ciphers; i++)
		if (kt_ciphers[i].type == type)
			return &kt_ciphers[i];
	return NULL;
}

const char *kt_ulp(void)
{
	const char *u = getenv("KTLS_ULP");

	return u && *u ? u : "tls";
}

void kt_tcp_pair(int family, int *client, int *server)
{
	kt_tcp_pair_bufs(family, client, server, 0, 0);
}

void kt_tcp_pair_bufs(int family, int *client, int *server, int rcvbuf,
		      int sndbuf)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t len = family == AF_INET6 ? sizeof(struct sockaddr_in6) :
					     sizeof(struct sockaddr_in);
	int l, c, s;

	ss.ss_family = family;
	if (family == AF_INET6)
		((struct sockaddr_in6 *)&ss)->sin6_addr = in6addr_loopback;
	else
		((struct sockaddr_in *)&ss)->sin_addr.s_addr =
			htonl(INADDR_LOOPBACK);

	l = socket(family, SOCK_STREAM, 0);
	KT_ASSERT(l >= 0);
	/* Set before the SYN: the window scale and the accepted socket
	 * follow the listener's buffer.
	 */
	if (rcvbuf)
		KT_ASSERT_OK(setsockopt(l, SOL_SOCKET, SO_RCVBUF, &rcvbuf,
					sizeof(rcvbuf)));
	KT_ASSERT_OK(bind(l, (struct sockaddr *)&ss, len));
	KT_ASSERT_OK(listen(l, 8));
	KT_ASSERT_OK(getsockname(l, (struct sockaddr *)&ss, &len));
	c = socket(family, SOCK_STREAM, 0);
	KT_ASSERT(c >= 0);
	if (sndbuf)
		KT_ASSERT_OK(setsockopt(c, SOL_SOCKET, SO_SNDBUF, &sndbuf,
					sizeof(sndbuf)));
	KT_ASSERT_OK(connect(c, (struct sockaddr *)&ss, len));
	s = accept(l, NULL, NULL);
	KT_ASSERT(s >= 0);
	close(l);
	*client = c;
	*server = s;
}

int kt_attach(int fd)
{
	const char *u = kt_ulp();

	return setsockopt(fd, IPPROTO_TCP, TCP_ULP, u, strlen(u));
}

size_t kt_fill_info(union kt_crypto_info *ci, uint16_t version,
		    uint16_t cipher, unsigned int seed)
{
	const struct kt_cipher *c = kt_cipher(cipher);
	unsigned char *p;
	size_t i, n;

	memset(ci, 0, sizeof(*ci));
	ci->info.version = version;
	ci->info.cipher_type = cipher;
	if (!c)
		return sizeof(ci->info);
	/* iv, key, salt, rec_seq follow the header in this order. */
	p = ci->raw + sizeof(ci->info);
	n = c->iv + c->key + c->salt;
	for (i = 0; i < n; i++)
		p[i] = (unsigned char)(seed * 31 + i * 7 + 1);
	/* rec_seq starts at 0 so tests can count records. */
	return c->info_size;
}

void kt_install(int fd, int dir, uint16_t version, uint16_t cipher,
		unsigned int seed)
{
	union kt_crypto_info ci;
	size_t len = kt_fill_info(&ci, version, cipher, seed);

	if (kt_attach(fd) && errno != EEXIST)
		KT_FAIL("TCP_ULP %s: %s", kt_ulp(), strerror(errno));
	KT_ASSERT_OK(setsockopt(fd, SOL_TLS, dir, &ci, len));
}

int kt_module_load(const char *path, const char *params)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int rc;

	if (fd < 0)
		return -errno;
	rc = syscall(SYS_finit_module, fd, params ? params : "", 0);
	rc = rc ? -errno : 0;
	close(fd);
	return rc;
}

int kt_module_unload(const char *name)
{
	int tries;

	/* A just-closed socket may still pin the module for an RCU period. */
	for (tries = 0; tries < 50; tries++) {
		if (!syscall(SYS_delete_module, name, O_NONBLOCK))
			return 0;
		if (errno != EAGAIN && errno != EBUSY && errno != EWOULDBLOCK)
			return -errno;
		usleep(100000);
	}
	return -errno;
}

int kt_module_loaded(const char *name)
{
	char path[256];
	struct stat st;

	snprintf(path, sizeof(path), "/sys/module/%s/initstate", name);
	return stat(path, &st) == 0;
}

static int kt_ktls_ulp_is(const char *ulp_name)
{
	char buf[64] = "";
	FILE *f = fopen("/sys/module/ktls/parameters/ulp_name", "r");

	if (!f)
		return 0;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = 0;
	fclose(f);
	buf[strcspn(buf, "\n")] = 0;
	return !strcmp(buf, ulp_name);
}

int kt_ktls_load(const char *ulp_name)
{
	const char *ko = getenv("KTLS_KO");
	char params[64];
	int rc;

	if (kt_module_loaded("ktls")) {
		if (kt_ktls_ulp_is(ulp_name))
			return 0;
		rc = kt_module_unload("ktls");
		if (rc)
			return rc;
	}
	snprintf(params, sizeof(params), "ulp_name=%s", ulp_name);
	return kt_module_load(ko && *ko ? ko : "/ktls/ktls.ko", params);
}

void kt_need_ktls(void)
{
	int rc = kt_ktls_load(kt_ulp());

	if (rc)
		KT_FAIL("cannot load ktls with ulp_name=%s: %s", kt_ulp(),
			strerror(-rc));
}

void kt_new_netns(void)
{
	struct ifreq ifr = { 0 };
	int fd;

	KT_ASSERT_OK(unshare(CLONE_NEWNET));
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	KT_ASSERT(fd >= 0);
	strcpy(ifr.ifr_name, "lo");
	KT_ASSERT_OK(ioctl(fd, SIOCGIFFLAGS, &ifr));
	ifr.ifr_flags |= IFF_UP;
	KT_ASSERT_OK(ioctl(fd, SIOCSIFFLAGS, &ifr));
	close(fd);
}

long kt_stat(const char *name)
{
	char line[256], n[64];
	long v, found = -1;
	FILE *f = fopen("/proc/net/ktls_stat", "r");

	KT_ASSERT(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%63s %ld", n, &v) == 2 && !strcmp(n, name))
			found = v;
	fclose(f);
	if (found < 0)
		KT_FAIL("no counter %s", name);
	return found;
}

void kt_write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;

	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			KT_FAIL("write: %s", w ? strerror(errno) : "0 bytes");
		p += w;
		n -= w;
	}
}

void kt_read_all(int fd, void *buf, size_t n)
{
	char *p = buf;

	while (n) {
		ssize_t r = read(fd, p, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			KT_FAIL("read: %s, %zu bytes short",
				r ? strerror(errno) : "EOF", n);
		p += r;
		n -= r;
	}
}

void kt_fill_pattern(void *buf, size_t n, unsigned int seed)
{
	unsigned char *p = buf;
	uint32_t x = seed * 2654435761u + 1;
	size_t i;

	for (i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (unsigned char)x;
	}
}

ssize_t kt_send_type(int fd, uint8_t type, const void *buf, size_t len,
		     int flags)
{
	char ctl[CMSG_SPACE(1)] = { 0 };
	struct iovec iov = { (void *)buf, len };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = ctl, .msg_controllen = sizeof(ctl),
	};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);

	cm->cmsg_level = SOL_TLS;
	cm->cmsg_type = TLS_SET_RECORD_TYPE;
	cm->cmsg_len = CMSG_LEN(1);
	*CMSG_DATA(cm) = type;
	return sendmsg(fd, &msg, flags);
}

ssize_t kt_recv_type(int fd, void *buf, size_t len, int flags,
		     uint8_t *type)
{
	char ctl[CMSG_SPACE(1)];
	struct iovec iov = { buf, len };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = ctl, .msg_controllen = sizeof(ctl),
	};
	struct cmsghdr *cm;
	ssize_t r = recvmsg(fd, &msg, flags);

	*type = 0;
	if (r < 0)
		return r;
	cm = CMSG_FIRSTHDR(&msg);
	if (cm && cm->cmsg_level == SOL_TLS &&
	    cm->cmsg_type == TLS_GET_RECORD_TYPE)
		*type = *CMSG_DATA(cm);
	return r;
}

/* --- in-tree tls.ko and kernel log (appended for test_control/test_module) */

int kt_intree_load(void)
{
	const char *ko = getenv("KTLS_INTREE");
	char path[256], rel[128] = "";
	FILE *f;

	if (kt_module_loaded("tls"))
		return 0;
	/* tls.ko ignores a clash on "tls": never load it beside that. */
	if (kt_module_loaded("ktls") && kt_ktls_ulp_is("tls"))
		return -EBUSY;
	if (ko && *ko) {
		snprintf(path, sizeof(path), "%s", ko);
	} else {
		f = fopen("/proc/sys/kernel/osrelease", "r");
		if (!f)
			return -errno;
		if (!fgets(rel, sizeof(rel), f))
			rel[0] = 0;
		fclose(f);
		rel[strcspn(rel, "\n")] = 0;
		snprintf(path, sizeof(path),
			 "/lib/modules/%s/kernel/net/tls/tls.ko", rel);
	}
	return kt_module_load(path, NULL);
}

int kt_kmsg_open(void)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd >= 0)
		lseek(fd, 0, SEEK_END);
	return fd;
}

int kt_kmsg_find(int fd, const char *needle)
{
	char rec[2048];
	int found = 0;
	ssize_t n;

	for (;;) {
		n = read(fd, rec, sizeof(rec) - 1);
		if (n < 0 && errno == EPIPE)
			continue;	/* overwritten records: go on */
		if (n <= 0)
			break;
		rec[n] = 0;
		if (strstr(rec, needle)) {
			kt_diag("kmsg: %.*s", (int)strcspn(rec, "\n"), rec);
			found++;
		}
	}
	return found;
}

/* --- the same cases against in-tree tls.ko, then ktls (kt_run_phased) */

static void (*kt_phase)(int intree);

/* Unload ktls, load Debian's tls.ko: the intree_* cases run against it. */
static void kt_use_intree(void)
{
	int rc;

	if (kt_module_loaded("ktls"))
		KT_ASSERT_EQ(kt_module_unload("ktls"), 0);
	rc = kt_intree_load();
	if (rc)
		KT_SKIP("cannot load in-tree tls.ko: %s", strerror(-rc));
	KT_ASSERT(kt_module_loaded("tls"));
	if (kt_phase)
		kt_phase(1);
}

/* Unload tls.ko and hand "tls" back to ktls for the ktls_* cases. */
static void kt_use_ktls(void)
{
	if (kt_module_loaded("tls"))
		KT_ASSERT_EQ(kt_module_unload("tls"), 0);
	KT_ASSERT(!kt_module_loaded("tls"));
	kt_need_ktls();
	KT_ASSERT(kt_module_loaded("ktls"));
	if (kt_phase)
		kt_phase(0);
}

static void kt_in_intree(void)
{
	if (!kt_module_loaded("tls") || kt_module_loaded("ktls"))
		KT_SKIP("in-tree tls.ko is not the one loaded");
	/* The in-tree run always uses its own name. */
	setenv("KTLS_ULP", "tls", 1);
}

static void kt_in_ktls(void)
{
	KT_ASSERT(kt_module_loaded("ktls"));
	KT_ASSERT(!kt_module_loaded("tls"));
}

int kt_run_phased(const char *suite, const struct kt_case *cases, size_t n,
		  void (*phase)(int intree))
{
	static const struct {
		const char *prefix;
		void (*use)(void), (*in)(void);
	} phases[] = {
		{ "intree", kt_use_intree, kt_in_intree },
		{ "ktls", kt_use_ktls, kt_in_ktls },
	};
	struct kt_case *all = calloc(2 * (n + 1), sizeof(*all));
	size_t i, k = 0, p;
	char *name;

	KT_ASSERT(all);
	kt_phase = phase;
	for (p = 0; p < 2; p++) {
		KT_ASSERT(asprintf(&name, "use_%s", phases[p].prefix) > 0);
		all[k++] = (struct kt_case){ .name = name, .fn = phases[p].use };
		for (i = 0; i < n; i++) {
			KT_ASSERT(asprintf(&name, "%s_%s", phases[p].prefix,
					   cases[i].name) > 0);
			all[k] = cases[i];
			all[k].name = name;
			all[k++].pre = phases[p].in;
		}
	}
	return kt_run(suite, all, k);
}

uint8_t *kt_pattern(size_t n, unsigned int seed)
{
	uint8_t *b = malloc(n ? n : 1);

	KT_ASSERT(b);
	kt_fill_pattern(b, n, seed);
	return b;
}

int kt_tasks_in(const char *fn)
{
	char path[300], line[256];
	struct dirent *d;
	int hits = 0;
	DIR *dir = opendir("/proc");
	FILE *f;

	KT_ASSERT(dir);
	while ((d = readdir(dir))) {
		if (d->d_name[0] < '0' || d->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stack", d->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f))
			hits += !!strstr(line, fn);
		fclose(f);
	}
	closedir(dir);
	return hits;
}

int kt_faultinj_wanted(void)
{
	const char *s = getenv("KTLS_FAULTINJ");

	return s && !strcmp(s, "1");
}

int kt_faultinj_self(int on)
{
	int fd = open("/proc/thread-self/make-it-fail", O_WRONLY), rc = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, on ? "1" : "0", 1) != 1)
		rc = -errno;
	close(fd);
	return rc;
}
