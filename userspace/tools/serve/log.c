// SPDX-License-Identifier: MIT
/*
 * Logging.  Every byte that came from a client is escaped before it reaches
 * a log line (\xHH for control characters, quotes, backslashes, non-ASCII),
 * so a path with %0a cannot forge a line and %1b cannot reach a terminal.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conn.h"
#include "fmt.h"
#include "http.h"
#include "log.h"

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static int access_fd = 1;
static const char *access_path;

static void write_line(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t w = write(fd, buf, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		buf += w;
		len -= (size_t)w;
	}
}

static void vlog(const char *fmt, va_list ap)
{
	char line[1024];
	int n = vsnprintf(line, sizeof(line) - 1, fmt, ap);

	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	pthread_mutex_lock(&log_lock);
	write_line(1, line, (size_t)n);
	pthread_mutex_unlock(&log_lock);
}

void log_msg(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(fmt, ap);
	va_end(ap);
}

#define LIMIT_KEYS	16
#define LIMIT_BURST	5	/* lines per key per second */
static struct {
	const char *key;
	time_t second;
	unsigned int used;
	unsigned long held;
} limits[LIMIT_KEYS];

void log_limited(const char *key, const char *fmt, ...)
{
	time_t now = time(NULL);
	unsigned long held = 0;
	char line[512];
	va_list ap;
	int i, go = 0;

	pthread_mutex_lock(&log_lock);
	for (i = 0; i < LIMIT_KEYS; i++) {
		if (limits[i].key && limits[i].key != key)
			continue;
		limits[i].key = key;
		if (limits[i].second != now) {
			limits[i].second = now;
			limits[i].used = 0;
		}
		if (limits[i].used < LIMIT_BURST) {
			limits[i].used++;
			held = limits[i].held;
			limits[i].held = 0;
			go = 1;
		} else {
			limits[i].held++;
		}
		break;
	}
	pthread_mutex_unlock(&log_lock);
	if (!go)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (held)
		log_msg("%s (and %lu more like it not logged)", line, held);
	else
		log_msg("%s", line);
}

#define CAUSES 32
static struct { char what[48], cause[200]; unsigned long n; } causes[CAUSES];

void log_cause(const char *what, const char *cause)
{
	int i, first = 0;

	pthread_mutex_lock(&log_lock);
	for (i = 0; i < CAUSES; i++) {
		if (!causes[i].n) {
			snprintf(causes[i].what, sizeof(causes[i].what), "%s", what);
			snprintf(causes[i].cause, sizeof(causes[i].cause), "%s", cause);
			first = 1;
		} else if (strcmp(causes[i].what, what) ||
			   strncmp(causes[i].cause, cause, sizeof(causes[i].cause) - 1)) {
			continue;
		}
		causes[i].n++;
		break;
	}
	pthread_mutex_unlock(&log_lock);
	if (first)
		log_msg("%s: %s (logged once; SIGUSR1 counts)", what, cause);
}

void log_causes_dump(void)
{
	int i;

	for (i = 0; i < CAUSES && causes[i].n; i++)
		log_msg("stats: %s %lu times: %s", causes[i].what, causes[i].n,
			causes[i].cause);
}

int access_log_open(const char *path)
{
	int fd;

	access_path = path;
	if (!path)
		return 0;
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0)
		return -1;
	pthread_mutex_lock(&log_lock);
	if (access_fd != 1)
		close(access_fd);
	access_fd = fd;
	pthread_mutex_unlock(&log_lock);
	return 0;
}

void access_log_reopen(void)
{
	if (!access_path)
		return;
	if (access_log_open(access_path))
		log_msg("SIGHUP: access log %s: reopen failed: %s (still writing the old one)",
			access_path, strerror(errno));
	else
		log_msg("SIGHUP: access log %s reopened", access_path);
}

size_t log_escape(char *out, size_t max, const char *in)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	for (; *in && o + 5 < max; in++) {
		unsigned char c = (unsigned char)*in;

		if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		} else {
			out[o++] = (char)c;
		}
	}
	out[o] = '\0';
	return o;
}

/* The log's timestamp, formatted once a second per thread. */
static const char *log_time(void)
{
	static __thread time_t last = -1;
	static __thread char when[64];
	time_t now = time(NULL);
	struct tm tm;

	if (now != last) {
		localtime_r(&now, &tm);
		strftime(when, sizeof(when), "%d/%b/%Y:%H:%M:%S %z", &tm);
		last = now;
	}
	return when;
}

void access_log(const struct conn *c, const struct http_req *r, int status,
		long long bytes, const char *note)
{
	char line[2048], rl[600], ua[300], ref[300];
	long long tenths;
	struct fmt f;
	double ms;

	log_escape(rl, sizeof(rl), r && r->line[0] ? r->line : "-");
	log_escape(ua, sizeof(ua), r && r->user_agent[0] ? r->user_agent : "-");
	log_escape(ref, sizeof(ref), r && r->referer[0] ? r->referer : "-");
	ms = conn_now_ms() - c->req_t0;
	tenths = ms > 0 ? (long long)(ms * 10 + 0.5) : 0;
	/* host - - [time] "line" status bytes "referer" "agent" N.Nms ... */
	fmt_init(&f, line, sizeof(line) - 1, 0);
	fmt_str(&f, c->peer_host);
	fmt_str(&f, " - - [");
	fmt_str(&f, log_time());
	fmt_str(&f, "] \"");
	fmt_str(&f, rl);
	fmt_str(&f, "\" ");
	fmt_i64(&f, status);
	fmt_str(&f, " ");
	fmt_i64(&f, bytes);
	fmt_str(&f, " \"");
	fmt_str(&f, ref);
	fmt_str(&f, "\" \"");
	fmt_str(&f, ua);
	fmt_str(&f, "\" ");
	fmt_i64(&f, tenths / 10);
	fmt_str(&f, ".");
	fmt_i64(&f, tenths % 10);
	fmt_str(&f, "ms ");
	fmt_str(&f, conn_tls_version(c));
	fmt_str(&f, " ");
	fmt_str(&f, conn_tls_cipher(c));
	fmt_str(&f, c->kernel ? " ktls" : " userspace-tls");
	if (note) {
		fmt_str(&f, " ");
		fmt_str(&f, note);
	}
	/* Room for the newline was kept out of the limit. */
	line[f.len++] = '\n';
	pthread_mutex_lock(&log_lock);
	write_line(access_fd, line, f.len);
	pthread_mutex_unlock(&log_lock);
}
