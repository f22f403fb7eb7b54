/* SPDX-License-Identifier: MIT */
/*
 * Appending text to a fixed buffer without printf: every response head
 * and access log line is built here (the printf family cost ktls-serve
 * ~14,000 instructions per request, more than nginx's whole request
 * parsing; bench-serve-profile).  Output that does not fit is cut, the
 * buffer always NUL-terminated.
 */
#ifndef SERVE_FMT_H
#define SERVE_FMT_H

#include <stddef.h>
#include <time.h>

struct fmt {
	char *buf;
	size_t len;	/* < max */
	size_t max;	/* > 0 */
};

/* Append to buf, which already holds len bytes of text. */
void fmt_init(struct fmt *f, char *buf, size_t max, size_t len);
void fmt_mem(struct fmt *f, const char *s, size_t n);
void fmt_str(struct fmt *f, const char *s);
void fmt_u64(struct fmt *f, unsigned long long v);
void fmt_i64(struct fmt *f, long long v);
void fmt_hex(struct fmt *f, unsigned long long v);

/* "Sun, 06 Nov 1994 08:49:37 GMT" (RFC 9110 IMF-fixdate): 29 bytes. */
#define FMT_HTTP_DATE	30
void fmt_http_date(time_t t, char out[FMT_HTTP_DATE]);

#endif /* SERVE_FMT_H */
