/* SPDX-License-Identifier: MIT */
/* ktls-serve's logs: errors (stderr), the access log, causes counted once. */
#ifndef SERVE_LOG_H
#define SERVE_LOG_H

#include <stddef.h>

struct conn;
struct http_req;

#define LOG_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* A line to stdout (messages the tests and operators grep for). */
void log_msg(const char *fmt, ...) LOG_PRINTF(1, 2);
/* At most a few lines per second for `key` (a static string's address);
 * how many were held back is added to the next one. */
void log_limited(const char *key, const char *fmt, ...) LOG_PRINTF(2, 3);
/* Log `cause` the first time it is seen, count it always. */
void log_cause(const char *what, const char *cause);
/* "fallback: ... (N times)" lines for SIGUSR1. */
void log_causes_dump(void);

/* Open the access log (NULL: stdout); 0 or -1 with errno. */
int access_log_open(const char *path);
/* SIGHUP: reopen it (logrotate moved it). */
void access_log_reopen(void);
/* Combined log format plus time taken and the TLS path, one line. */
void access_log(const struct conn *c, const struct http_req *r, int status,
		long long bytes, const char *note);
/* Escape bytes for a log line: no control characters, no quotes. */
size_t log_escape(char *out, size_t max, const char *in);

#endif /* SERVE_LOG_H */
