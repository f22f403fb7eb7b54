// SPDX-License-Identifier: MIT
/* Host unit test of ktls-serve's HTTP parsing: `make -C userspace check`. */
#include <stdio.h>
#include <string.h>

#include "../tools/serve/http.h"
#include "unit.h"

static int parse(const char *s, struct http_req *r)
{
	return http_parse(s, strlen(s), r);
}

int main(void)
{
	struct http_req r;
	off_t a = -1, b = -1;

	EXPECT(parse("GET /a%20b?x=1 HTTP/1.1\r\nHost: h\r\n\r\n", &r) == 0);
	EXPECT(!strcmp(r.path, "/a b") && r.keep_alive && r.minor == 1);
	EXPECT(parse("HEAD / HTTP/1.0\r\n\r\n", &r) == 0 && !r.keep_alive);
	EXPECT(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
		     &r) == 0 && r.keep_alive);
	EXPECT(parse("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
		     &r) == 0 && !r.keep_alive);
	EXPECT(parse("GET / HTTP/1.1\r\n\r\n", &r) == 400);	/* no Host */
	EXPECT(parse("NONSENSE\r\n\r\n", &r) == 400);
	EXPECT(parse("POST / HTTP/1.1\r\nHost: h\r\n\r\n", &r) == 501);
	EXPECT(parse("GET / HTTP/2.0\r\nHost: h\r\n\r\n", &r) == 505);
	EXPECT(parse("GET /%zz HTTP/1.1\r\nHost: h\r\n\r\n", &r) == 400);
	EXPECT(parse("GET /%00 HTTP/1.1\r\nHost: h\r\n\r\n", &r) == 400);
	EXPECT(parse("GET x HTTP/1.1\r\nHost: h\r\n\r\n", &r) == 400);
	EXPECT(parse("GET / HTTP/1.1\r\nbad header\r\n\r\n", &r) == 400);
	EXPECT(parse("GET / HTTP/1.1\r\nHost: h\r\nRange: bytes=1-2\r\n\r\n",
		     &r) == 0 && r.has_range && !strcmp(r.range, "bytes=1-2"));

	EXPECT(http_path_safe("/a/b.txt"));
	EXPECT(!http_path_safe("/../etc/passwd"));
	EXPECT(!http_path_safe("/a/../../x"));
	EXPECT(!http_path_safe("/a/.."));
	EXPECT(http_path_safe("/a/..b"));

	EXPECT(http_range("bytes=0-9", 100, &a, &b) == 206 && a == 0 && b == 9);
	EXPECT(http_range("bytes=90-", 100, &a, &b) == 206 && a == 90 &&
	       b == 99);
	EXPECT(http_range("bytes=-10", 100, &a, &b) == 206 && a == 90 &&
	       b == 99);
	EXPECT(http_range("bytes=-500", 100, &a, &b) == 206 && a == 0);
	EXPECT(http_range("bytes=50-500", 100, &a, &b) == 206 && b == 99);
	EXPECT(http_range("bytes=100-", 100, &a, &b) == 416);
	EXPECT(http_range("bytes=-0", 100, &a, &b) == 416);
	EXPECT(http_range("bytes=5-1", 100, &a, &b) == 0);
	EXPECT(http_range("bytes=0-1,5-6", 100, &a, &b) == 0);
	EXPECT(http_range("items=0-1", 100, &a, &b) == 0);

	EXPECT(http_head_len("GET / HTTP/1.1\r\n\r\nX", 19) == 18);
	EXPECT(http_head_len("GET / HTTP/1.1\r\n", 16) == 0);

	/* Issue 16: strict parsing (RFC 9112), each of these is 400. */
#define H "GET / HTTP/1.1\r\nHost: h\r\n"
	EXPECT(parse(H "Content-Length : 5\r\n\r\n", &r) == 400);
	EXPECT(parse(H "Content-Length: 0\r\nContent-Length: 5\r\n\r\n",
		     &r) == 400);
	EXPECT(parse(H "Content-Length: 5x\r\n\r\n", &r) == 400);
	EXPECT(parse(H "Content-Length: -1\r\n\r\n", &r) == 400);
	EXPECT(parse(H "Transfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n",
		     &r) == 400);
	EXPECT(parse(H "X-A: a\r\n b\r\n\r\n", &r) == 400);	/* obs-fold */
	EXPECT(parse(H "X-A: a\x01b\r\n\r\n", &r) == 400);
	EXPECT(parse(H "X-A: a\x7f\r\n\r\n", &r) == 400);
	EXPECT(parse(H "X-A: a\rb\r\n\r\n", &r) == 400);
	EXPECT(parse(H "Host: h2\r\n\r\n", &r) == 400);
	EXPECT(parse(H "X A: b\r\n\r\n", &r) == 400);
	EXPECT(parse(H ": b\r\n\r\n", &r) == 400);
	EXPECT(parse("GET  / HTTP/1.1\r\nHost: h\r\n\r\n", &r) == 400);
	EXPECT(parse("GET / HTTP/1.1 \r\nHost: h\r\n\r\n", &r) == 400);
	EXPECT(parse("GET /a\x01 HTTP/1.1\r\nHost: h\r\n\r\n", &r) == 400);
	EXPECT(parse("GET / http/1.1\r\nHost: h\r\n\r\n", &r) == 400);
	EXPECT(parse(H "Connection: xclosey\r\n\r\n", &r) == 0 &&
	       r.keep_alive);
	EXPECT(parse(H "Connection: keep-alive, Close\r\n\r\n", &r) == 0 &&
	       !r.keep_alive);
	EXPECT(parse("GET http://h/x/y?q HTTP/1.1\r\nHost: h\r\n\r\n", &r) == 0 &&
	       !strcmp(r.path, "/x/y"));
	EXPECT(parse("GET https://h HTTP/1.1\r\nHost: h\r\n\r\n", &r) == 0 &&
	       !strcmp(r.path, "/"));
	EXPECT(parse("GET /a#f HTTP/1.1\r\nHost: h\r\n\r\n", &r) == 400);
	EXPECT(parse(H "If-None-Match: \"x\"\r\nIf-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n\r\n",
		     &r) == 0 && !strcmp(r.if_none_match, "\"x\"") &&
	       !strcmp(r.if_modified_since, "Sun, 06 Nov 1994 08:49:37 GMT"));
	/* Bare LF ends nothing: the head scan says malformed at once. */
	EXPECT(http_head_len("GET / HTTP/1.1\nHost: h\n\n", 25) == (size_t)-1);

	/* Range: 64-bit overflow, unsatisfiable, invalid. */
	EXPECT(http_range("bytes=-9999999999999999999", 100, &a, &b) == 206 &&
	       a == 0 && b == 99);
	EXPECT(http_range("bytes=0-99999999999999999999", 100, &a, &b) == 206 &&
	       a == 0 && b == 99);
	EXPECT(http_range("bytes=9223372036854775807-", 100, &a, &b) == 416);
	EXPECT(http_range("bytes=18446744073709551616-", 100, &a, &b) == 416);
	EXPECT(http_range("bytes=-9223372036854775808", 100, &a, &b) == 206 &&
	       a == 0 && b == 99);
	EXPECT(http_range("bytes=-", 100, &a, &b) == 0);
	EXPECT(http_range("bytes=1-2x", 100, &a, &b) == 0);
	EXPECT(http_range("bytes=-5", 0, &a, &b) == 416);
	EXPECT(http_range("Bytes=0-0", 100, &a, &b) == 206 && a == 0 && b == 0);
	EXPECT(http_range("bytes= 0-0", 100, &a, &b) == 0);

	/* Several ranges (multipart/byteranges). */
	{
		struct http_span sp[HTTP_MAX_RANGES];
		int n = -1;

		EXPECT(http_ranges("bytes=0-1,5-6", 100, sp, HTTP_MAX_RANGES,
				   &n) == 206 && n == 2 && sp[0].start == 0 &&
		       sp[0].end == 1 && sp[1].start == 5 && sp[1].end == 6);
		/* Order kept, OWS and empty elements around commas. */
		EXPECT(http_ranges("bytes=-10 , ,20-29,\t0-0", 100, sp,
				   HTTP_MAX_RANGES, &n) == 206 && n == 3 &&
		       sp[0].start == 90 && sp[0].end == 99 &&
		       sp[1].start == 20 && sp[2].end == 0);
		/* Unsatisfiable ones are dropped; all of them: 416. */
		EXPECT(http_ranges("bytes=200-300,1-1,-0", 100, sp,
				   HTTP_MAX_RANGES, &n) == 206 && n == 1 &&
		       sp[0].start == 1 && sp[0].end == 1);
		EXPECT(http_ranges("bytes=200-300,100-", 100, sp,
				   HTTP_MAX_RANGES, &n) == 416 && n == 0);
		/* One bad spec spoils the set: the whole body. */
		EXPECT(http_ranges("bytes=0-1,x-2", 100, sp, HTTP_MAX_RANGES,
				   &n) == 0);
		EXPECT(http_ranges("bytes=0-1,3-2", 100, sp, HTTP_MAX_RANGES,
				   &n) == 0);
		EXPECT(http_ranges("bytes=0 -1", 100, sp, HTTP_MAX_RANGES,
				   &n) == 0);
		EXPECT(http_ranges("bytes=,", 100, sp, HTTP_MAX_RANGES,
				   &n) == 0);
		/* Overlaps adding up past the file (amplification), too
		 * many ranges, overflowing numbers: the whole body. */
		EXPECT(http_ranges("bytes=0-,0-", 100, sp, HTTP_MAX_RANGES,
				   &n) == 0);
		EXPECT(http_ranges("bytes=0-59,40-99", 100, sp,
				   HTTP_MAX_RANGES, &n) == 0);
		EXPECT(http_ranges("bytes=0-49,40-89", 100, sp,
				   HTTP_MAX_RANGES, &n) == 206 && n == 2);
		EXPECT(http_ranges("bytes=0-0,1-1,2-2,3-3,4-4,5-5,6-6,7-7,8-8,"
				   "9-9,10-10,11-11,12-12,13-13,14-14,15-15",
				   100, sp, HTTP_MAX_RANGES, &n) == 206 &&
		       n == 16 && sp[15].start == 15);
		EXPECT(http_ranges("bytes=0-0,1-1,2-2,3-3,4-4,5-5,6-6,7-7,8-8,"
				   "9-9,10-10,11-11,12-12,13-13,14-14,15-15,"
				   "16-16", 100, sp, HTTP_MAX_RANGES, &n) == 0);
		EXPECT(http_ranges("bytes=-99999999999999999999,"
				   "99999999999999999999-", 100, sp,
				   HTTP_MAX_RANGES, &n) == 206 && n == 1 &&
		       sp[0].start == 0 && sp[0].end == 99);
	}

	printf("%s\n", failures ? "http-unit: FAILED" : "http-unit: ok");
	return failures ? 1 : 0;
}
