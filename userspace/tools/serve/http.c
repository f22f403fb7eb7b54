// SPDX-License-Identifier: GPL-2.0
/* Minimal HTTP/1.1 request parsing for ktls-serve (see http.h). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http.h"

size_t http_head_len(const char *buf, size_t len)
{
	size_t i;

	for (i = 3; i < len; i++)
		if (buf[i] == '\n' && buf[i - 1] == '\r' &&
		    buf[i - 2] == '\n' && buf[i - 3] == '\r')
			return i + 1;
	return 0;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Percent-decode target (up to '?') into out; -1 if malformed. */
static int decode_path(const char *t, size_t n, char *out, size_t max)
{
	size_t i, o = 0;

	for (i = 0; i < n && t[i] != '?' && t[i] != '#'; i++) {
		int c = (unsigned char)t[i];

		if (c == '%') {
			int hi, lo;

			if (i + 2 >= n)
				return -1;
			hi = hexval(t[i + 1]);
			lo = hexval(t[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			c = hi << 4 | lo;
			i += 2;
		}
		if (c == 0 || o + 1 >= max)
			return -1;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return 0;
}

int http_path_safe(const char *path)
{
	const char *p = path;

	if (path[0] != '/')
		return 0;
	while (*p) {
		const char *seg = p + 1, *end = strchr(seg, '/');
		size_t n = end ? (size_t)(end - seg) : strlen(seg);

		if (n == 2 && seg[0] == '.' && seg[1] == '.')
			return 0;
		if (memchr(seg, '\\', n))
			return 0;
		p = seg + n;
	}
	return 1;
}

static const char *header_value(const char *line, const char *eol,
				const char *name)
{
	size_t n = strlen(name);

	if ((size_t)(eol - line) <= n || strncasecmp(line, name, n) ||
	    line[n] != ':')
		return NULL;
	line += n + 1;
	while (line < eol && (*line == ' ' || *line == '\t'))
		line++;
	return line;
}

static int token_in(const char *v, const char *eol, const char *tok)
{
	size_t n = strlen(tok);

	for (; v + n <= eol; v++)
		if (!strncasecmp(v, tok, n))
			return 1;
	return 0;
}

int http_parse(const char *head, size_t len, struct http_req *req)
{
	const char *eol = memchr(head, '\r', len), *sp1, *sp2, *line;
	const char *end = head + len;
	int has_host = 0, conn_close = 0, conn_keep = 0;

	memset(req, 0, sizeof(*req));
	if (!eol || eol[1] != '\n')
		return 400;
	sp1 = memchr(head, ' ', eol - head);
	if (!sp1 || sp1 == head || (size_t)(sp1 - head) >= sizeof(req->method))
		return sp1 && sp1 != head ? 501 : 400;
	sp2 = memchr(sp1 + 1, ' ', eol - sp1 - 1);
	if (!sp2 || sp2 == sp1 + 1)
		return 400;
	memcpy(req->method, head, sp1 - head);
	if ((size_t)(eol - sp2 - 1) != 8 || strncmp(sp2 + 1, "HTTP/1.", 7) ||
	    !isdigit((unsigned char)sp2[8]))
		return strncmp(sp2 + 1, "HTTP/", 5) ? 400 : 505;
	req->minor = sp2[8] - '0';
	if ((size_t)(sp2 - sp1 - 1) >= sizeof(req->path))
		return 414;
	if (sp1[1] != '/' ||
	    decode_path(sp1 + 1, sp2 - sp1 - 1, req->path, sizeof(req->path)))
		return 400;

	for (line = eol + 2; line < end; line = eol + 2) {
		const char *v;

		eol = memchr(line, '\r', end - line);
		if (!eol || eol + 1 >= end || eol[1] != '\n')
			return 400;
		if (eol == line)
			break;		/* the blank line */
		if (!memchr(line, ':', eol - line) || *line == ' ' ||
		    *line == '\t')
			return 400;
		if (header_value(line, eol, "Host")) {
			has_host = 1;
		} else if ((v = header_value(line, eol, "Connection"))) {
			conn_close |= token_in(v, eol, "close");
			conn_keep |= token_in(v, eol, "keep-alive");
		} else if ((v = header_value(line, eol, "Range"))) {
			if ((size_t)(eol - v) < sizeof(req->range)) {
				memcpy(req->range, v, eol - v);
				req->has_range = 1;
			}
		} else if ((v = header_value(line, eol, "Content-Length"))) {
			req->has_body = strtol(v, NULL, 10) != 0;
		} else if (header_value(line, eol, "Transfer-Encoding")) {
			req->has_body = 1;
		}
	}
	if (req->minor >= 1 && !has_host)
		return 400;
	req->keep_alive = req->minor >= 1 ? !conn_close : conn_keep;
	if (strcmp(req->method, "GET") && strcmp(req->method, "HEAD"))
		return 501;
	return 0;
}

/* Parse digits into *v; returns the end, or NULL when there are none. */
static const char *number(const char *p, off_t *v)
{
	const char *s = p;

	*v = 0;
	while (isdigit((unsigned char)*p)) {
		if (*v > ((off_t)1 << 60))
			return NULL;
		*v = *v * 10 + (*p++ - '0');
	}
	return p == s ? NULL : p;
}

int http_range(const char *value, off_t size, off_t *start, off_t *end)
{
	const char *p = value;
	off_t a, b;

	if (strncmp(p, "bytes=", 6) || strchr(p, ','))
		return 0;	/* other units, several ranges: send it all */
	p += 6;
	if (*p == '-') {
		p = number(p + 1, &b);
		if (!p || *p || b == 0)
			return p && !*p ? 416 : 0;
		*start = b >= size ? 0 : size - b;
		*end = size - 1;
		return size ? 206 : 416;
	}
	p = number(p, &a);
	if (!p || *p != '-')
		return 0;
	p++;
	if (*p) {
		p = number(p, &b);
		if (!p || *p || b < a)
			return 0;
	} else {
		b = size - 1;
	}
	if (a >= size)
		return 416;
	*start = a;
	*end = b >= size ? size - 1 : b;
	return 206;
}

const char *http_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 206: return "Partial Content";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 414: return "URI Too Long";
	case 416: return "Range Not Satisfiable";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 505: return "HTTP Version Not Supported";
	}
	return "Error";
}
