// SPDX-License-Identifier: GPL-2.0
/* Host unit test of ktls-serve's HTTP parsing: `make -C userspace check`. */
#include <stdio.h>
#include <string.h>

#include "../tools/serve/http.h"

static int failures;

#define EXPECT(cond) do {						\
	if (!(cond)) {							\
		printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);	\
		failures++;						\
	}								\
} while (0)

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

	printf("%s\n", failures ? "http-unit: FAILED" : "http-unit: ok");
	return failures ? 1 : 0;
}
