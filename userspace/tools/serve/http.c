// SPDX-License-Identifier: MIT
/*
 * Strict HTTP/1.1 request heads (RFC 9112 section 3 and 5, RFC 9110
 * section 14 for Range).  Anything a lenient parser would "repair" is 400:
 * two parsers disagreeing on where a request ends is how smuggling works.
 */
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "http.h"

size_t http_head_len(const char *buf, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (buf[i] == '\0')
			return (size_t)-1;
		if (buf[i] != '\n')
			continue;
		if (i == 0 || buf[i - 1] != '\r')
			return (size_t)-1;	/* bare LF */
		if (i >= 3 && buf[i - 2] == '\n' && buf[i - 3] == '\r')
			return i + 1;
	}
	return 0;
}

/* RFC 9110 5.6.2 tchar. */
static int is_tchar(unsigned char c)
{
	if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z'))
		return 1;
	return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Field value bytes: VCHAR, obs-text, SP, HTAB (RFC 9110 5.5). */
static int is_field_char(unsigned char c)
{
	return c == ' ' || c == '\t' || (c > 0x20 && c != 0x7f);
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decode the path part of t[0..n) (up to '?'); -1 if malformed. */
static int decode_path(const char *t, size_t n, char *out, size_t max)
{
	size_t i, o = 0;

	for (i = 0; i < n && t[i] != '?'; i++) {
		int c = (unsigned char)t[i];

		if (c == '#')
			return -1;	/* not part of a request-target */
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
	if (!o)
		out[o++] = '/';
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

/* Copy a field value into a fixed buffer, truncated. */
static void copy_value(char *dst, size_t max, const char *v, size_t n)
{
	if (n >= max)
		n = max - 1;
	memcpy(dst, v, n);
	dst[n] = '\0';
}

/* Comma-separated tokens (RFC 9110 5.6.1): is `tok` one of them? */
static int list_has(const char *v, size_t n, const char *tok)
{
	size_t tl = strlen(tok), i = 0;

	while (i < n) {
		size_t s, e;

		while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		s = i;
		while (i < n && v[i] != ',')
			i++;
		e = i;
		while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
			e--;
		if (e - s == tl && !strncasecmp(v + s, tok, tl))
			return 1;
	}
	return 0;
}

/* The request line; 0 or a status.  *next: where the fields start. */
static int parse_line(const char *p, const char *end, struct http_req *req,
		      const char **next)
{
	const char *eol = memchr(p, '\r', end - p), *sp1, *sp2, *t;
	size_t tl;

	if (!eol || eol + 1 >= end || eol[1] != '\n')
		return 400;
	copy_value(req->line, sizeof(req->line), p, eol - p);
	*next = eol + 2;
	for (sp1 = p; sp1 < eol && is_tchar(*sp1); sp1++)
		;
	if (sp1 == p || sp1 == eol || *sp1 != ' ')
		return 400;
	if ((size_t)(sp1 - p) >= sizeof(req->method))
		return 501;
	memcpy(req->method, p, sp1 - p);
	req->method[sp1 - p] = '\0';
	for (sp2 = sp1 + 1; sp2 < eol && (unsigned char)*sp2 > 0x20 &&
	     *sp2 != 0x7f; sp2++)
		;
	if (sp2 == sp1 + 1 || sp2 == eol || *sp2 != ' ')
		return 400;
	/* HTTP-version = "HTTP/" DIGIT "." DIGIT, case-sensitive. */
	if (eol - sp2 - 1 != 8 || strncmp(sp2 + 1, "HTTP/", 5) ||
	    sp2[7] != '.' || sp2[6] < '0' || sp2[6] > '9' ||
	    sp2[8] < '0' || sp2[8] > '9')
		return 400;
	if (sp2[6] != '1')
		return 505;
	req->minor = sp2[8] - '0';

	t = sp1 + 1;
	tl = sp2 - t;
	if (tl >= sizeof(req->path))
		return 414;
	/* absolute-form (RFC 9112 3.2.2): the path after the authority. */
	if (tl > 7 && (!strncasecmp(t, "http://", 7) ||
		       !strncasecmp(t, "https://", 8))) {
		const char *a = t + (t[4] == ':' ? 7 : 8);
		const char *slash = memchr(a, '/', sp2 - a);
		const char *q = memchr(a, '?', sp2 - a);

		if (q && (!slash || q < slash))
			slash = q;
		if (!slash)
			slash = sp2;
		tl = sp2 - slash;
		t = slash;
		if (tl && *t == '?')
			return decode_path("", 0, req->path,
					   sizeof(req->path)) ? 400 : 0;
	} else if (*t != '/') {
		return 400;	/* authority-form, asterisk-form: not for files */
	}
	return decode_path(t, tl, req->path, sizeof(req->path)) ? 400 : 0;
}

/* Content-Length = 1*DIGIT; -1 if not. */
static long long parse_length(const char *v, size_t n)
{
	long long x = 0;
	size_t i;

	if (!n || n > 18)
		return -1;
	for (i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		x = x * 10 + (v[i] - '0');
	}
	return x;
}

int http_parse(const char *head, size_t len, struct http_req *req)
{
	const char *end = head + len, *line, *eol;
	int hosts = 0, lengths = 0, te = 0, conn_close = 0, conn_keep = 0;
	int fields = 0, ranges = 0, st;
	long long cl = 0;

	memset(req, 0, sizeof(*req));
	/* RFC 9112 2.2: ignore empty lines before the request line. */
	while (end - head >= 2 && head[0] == '\r' && head[1] == '\n')
		head += 2;
	st = parse_line(head, end, req, &line);
	if (st)
		return st;

	for (; line < end; line = eol + 2) {
		const char *colon, *v, *ve, *p;
		size_t nl;

		eol = memchr(line, '\r', end - line);
		if (!eol || eol + 1 >= end || eol[1] != '\n')
			return 400;	/* bare CR, or no CRLF */
		if (eol == line)
			break;		/* the blank line */
		if (++fields > HTTP_MAX_FIELDS)
			return 431;
		/* No whitespace anywhere in the name, none before the colon
		 * (RFC 9112 5.1), and a leading one is obs-fold (5.2). */
		for (colon = line; colon < eol && is_tchar(*colon); colon++)
			;
		if (colon == line || colon == eol || *colon != ':')
			return 400;
		nl = colon - line;
		for (p = colon + 1; p < eol; p++)
			if (!is_field_char(*p))
				return 400;
		v = colon + 1;
		while (v < eol && (*v == ' ' || *v == '\t'))
			v++;
		ve = eol;
		while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
			ve--;
#define NAME(s) (nl == sizeof(s) - 1 && !strncasecmp(line, s, nl))
		if (NAME("Host")) {
			if (++hosts > 1 || memchr(v, ' ', ve - v) ||
			    memchr(v, '\t', ve - v) || memchr(v, '/', ve - v))
				return 400;
		} else if (NAME("Content-Length")) {
			cl = parse_length(v, ve - v);
			if (++lengths > 1 || cl < 0)
				return 400;
		} else if (NAME("Transfer-Encoding")) {
			te = 1;
		} else if (NAME("Connection")) {
			conn_close |= list_has(v, ve - v, "close");
			conn_keep |= list_has(v, ve - v, "keep-alive");
		} else if (NAME("Range")) {
			ranges++;
			copy_value(req->range, sizeof(req->range), v, ve - v);
			/* Too long to keep whole: treat as absent. */
			req->has_range = (size_t)(ve - v) < sizeof(req->range);
		} else if (NAME("If-None-Match")) {
			copy_value(req->if_none_match,
				   sizeof(req->if_none_match), v, ve - v);
		} else if (NAME("If-Modified-Since")) {
			copy_value(req->if_modified_since,
				   sizeof(req->if_modified_since), v, ve - v);
		} else if (NAME("If-Range")) {
			copy_value(req->if_range, sizeof(req->if_range), v,
				   ve - v);
		} else if (NAME("User-Agent")) {
			copy_value(req->user_agent, sizeof(req->user_agent),
				   v, ve - v);
		} else if (NAME("Referer")) {
			copy_value(req->referer, sizeof(req->referer), v,
				   ve - v);
		}
#undef NAME
	}
	if (line >= end)
		return 400;	/* no blank line */
	if (ranges > 1)
		req->has_range = 0;
	/* RFC 9112 6.1: both is a smuggling attempt; close after. */
	if (te && lengths)
		return 400;
	if (req->minor >= 1 && hosts != 1)
		return 400;
	/* No request bodies here: one we cannot frame ends the connection. */
	req->has_body = te || cl > 0;
	req->keep_alive = req->minor >= 1 ? !conn_close : conn_keep && !conn_close;
	if (strcmp(req->method, "GET") && strcmp(req->method, "HEAD"))
		return 501;
	return 0;
}

/* Digits into *v, saturating at INT64_MAX; the end, NULL if none. */
static const char *number(const char *p, uint64_t *v)
{
	const char *s = p;

	*v = 0;
	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned d = (unsigned)(*p - '0');

		if (*v > ((uint64_t)INT64_MAX - d) / 10)
			*v = INT64_MAX;
		else
			*v = *v * 10 + d;
	}
	return p == s ? NULL : p;
}

/* One range-spec of [p, e) against sz bytes: 1 satisfiable (*a..*b
 * inclusive), 0 unsatisfiable, -1 not a range-spec (RFC 9110 14.1.1). */
static int range_spec(const char *p, const char *e, uint64_t sz, uint64_t *a,
		      uint64_t *b)
{
	const char *q;

	if (p < e && *p == '-') {		/* suffix-range */
		q = number(p + 1, b);
		if (!q || q != e)
			return -1;
		if (*b == 0 || sz == 0)
			return 0;
		*a = *b >= sz ? 0 : sz - *b;
		*b = sz - 1;
		return 1;
	}
	q = number(p, a);
	if (!q || q >= e || *q != '-')
		return -1;
	q++;
	*b = UINT64_MAX;
	if (q < e) {
		const char *r = number(q, b);

		if (!r || r != e || *b < *a)
			return -1;
	}
	if (*a >= sz)
		return 0;
	if (*b >= sz)
		*b = sz - 1;
	return 1;
}

int http_ranges(const char *value, off_t size, struct http_span *out,
		int max, int *n)
{
	const char *p = value;
	uint64_t sz = size < 0 ? 0 : (uint64_t)size, total = 0;
	int specs = 0;

	*n = 0;
	if (strncasecmp(p, "bytes=", 6))
		goto whole;	/* other units: send it all */
	p += 6;
	/* 1#range-spec: commas with optional whitespace; empty elements are
	 * skipped (RFC 9110 5.6.1), but at least one spec, and none before
	 * the first (no OWS after "="). */
	if (*p == ' ' || *p == '\t')
		goto whole;
	while (*p) {
		const char *e = p;
		uint64_t a, b;
		int rs;

		while (*e && *e != ',' && *e != ' ' && *e != '\t')
			e++;
		if (e > p) {
			rs = range_spec(p, e, sz, &a, &b);
			if (rs < 0)
				goto whole;
			specs++;
			if (rs) {
				/* Too many, or more bytes than the file
				 * (overlaps): the whole body is cheaper and
				 * allowed (RFC 9110 14.2). */
				if (*n == max)
					goto whole;
				total += b - a + 1;
				if (total > sz)
					goto whole;
				out[*n].start = (off_t)a;
				out[*n].end = (off_t)b;
				(*n)++;
			}
		}
		p = e;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p && *p != ',')
			goto whole;	/* whitespace inside a spec */
		if (*p)
			p++;
		while (*p == ' ' || *p == '\t')
			p++;
	}
	if (specs)
		return *n ? 206 : 416;
whole:
	*n = 0;
	return 0;
}

int http_range(const char *value, off_t size, off_t *start, off_t *end)
{
	struct http_span sp;
	int n, rs = http_ranges(value, size, &sp, 1, &n);

	if (rs == 206) {
		*start = sp.start;
		*end = sp.end;
	}
	return rs;
}

const char *http_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 206: return "Partial Content";
	case 301: return "Moved Permanently";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 408: return "Request Timeout";
	case 414: return "URI Too Long";
	case 416: return "Range Not Satisfiable";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	}
	return "Error";
}
