/* SPDX-License-Identifier: GPL-2.0 */
/* Minimal HTTP/1.1 request parsing for ktls-serve. */
#ifndef KTLS_HTTP_H
#define KTLS_HTTP_H

#include <stddef.h>
#include <sys/types.h>

#define HTTP_MAX_HEAD	8192

struct http_req {
	char method[8];
	char path[1024];	/* decoded, query stripped */
	int minor;		/* HTTP/1.minor */
	int keep_alive;
	int has_range;
	char range[64];		/* the Range header value */
	int has_body;
};

/*
 * Parse one request head (up to and including the blank line).  Returns 0,
 * or the HTTP status to answer with (400, 414, 501, 505).
 */
int http_parse(const char *head, size_t len, struct http_req *req);
/* Length of the head in buf (through "\r\n\r\n"), 0 if incomplete. */
size_t http_head_len(const char *buf, size_t len);
/*
 * Resolve a Range header against a file size: 0 = serve all (absent or
 * ignorable), 206 with [*start, *end] inclusive, or 416.
 */
int http_range(const char *value, off_t size, off_t *start, off_t *end);
/* 1 if the decoded path is safe to join to the root (no "..", no NUL). */
int http_path_safe(const char *path);
const char *http_reason(int status);

#endif /* KTLS_HTTP_H */
