/* SPDX-License-Identifier: MIT */
/*
 * HTTP/1.1 request heads, strictly (RFC 9110/9112).  No I/O, no globals:
 * tests/http-unit.c and tests/fuzz-http.c drive it on their own.
 */
#ifndef SERVE_HTTP_H
#define SERVE_HTTP_H

#include <stddef.h>
#include <sys/types.h>

#define HTTP_MAX_HEAD	8192
#define HTTP_MAX_FIELDS	100

struct http_req {
	char method[8];
	char path[1024];	/* decoded, query stripped, never empty */
	char line[512];		/* the request line as sent (for the log) */
	int minor;		/* HTTP/1.minor */
	int keep_alive;
	int has_range;
	char range[128];	/* the Range value */
	char if_none_match[256];
	char if_modified_since[64];
	char if_range[256];
	char user_agent[256];	/* raw, for the log (escaped there) */
	char referer[256];
	int has_body;
};

/*
 * Parse one request head (through the blank line).  0, or the status to
 * answer before closing (400, 414, 431, 501, 505).  req->line is filled as
 * far as it was read, even on an error.
 */
int http_parse(const char *head, size_t len, struct http_req *req);
/*
 * Length of the head at buf (through CRLF CRLF), 0 if incomplete, or
 * (size_t)-1 when what is there can never be a valid head (a bare LF or a
 * NUL), so the caller answers 400 at once instead of waiting for more.
 */
size_t http_head_len(const char *buf, size_t len);
/* One byte range, inclusive at both ends. */
struct http_span {
	off_t start, end;
};

/* Ranges served as multipart/byteranges at most; more: the whole body. */
#define HTTP_MAX_RANGES	16

/*
 * A Range value against a file of `size` bytes (RFC 9110 14.1.2).
 * 0 = ignore it (absent, other unit, invalid, more than `max` satisfiable
 * ranges, or more bytes in all than the file has: overlaps); 206 with
 * out[0..*n) the satisfiable ranges in the order asked, or 416 when none
 * is.  Numbers of any length are safe (they saturate).
 */
int http_ranges(const char *value, off_t size, struct http_span *out,
		int max, int *n);
/* The same for one range: 206 with [*start, *end], 416, or 0 (also when
 * there are several). */
int http_range(const char *value, off_t size, off_t *start, off_t *end);
/* 1 if the decoded path is safe to resolve under the root. */
int http_path_safe(const char *path);
const char *http_reason(int status);

#endif /* SERVE_HTTP_H */
