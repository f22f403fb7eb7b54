// SPDX-License-Identifier: MIT
/*
 * Fuzz target for ktls-serve's HTTP parser (tools/serve/http.c), built with
 * clang -fsanitize=fuzzer,address,undefined by `make -C userspace fuzz`
 * (part of `make -C userspace check`).  Besides what ASan/UBSan catch, it
 * checks the parser's promises: a status from the known set, a path that
 * starts with '/', a Range inside the file, a head length inside the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../tools/serve/http.h"

#define PROMISE(c) do { if (!(c)) abort(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every span inside the file, no more than asked, and no more bytes in
 * all than the file has (the amplification guard). */
static void check_ranges(const char *v, off_t size)
{
	struct http_span sp[HTTP_MAX_RANGES];
	off_t total = 0;
	int n = -1, i, rs = http_ranges(v, size, sp, HTTP_MAX_RANGES, &n);

	PROMISE(rs == 0 || rs == 206 || rs == 416);
	PROMISE(n >= 0 && n <= HTTP_MAX_RANGES);
	PROMISE((rs == 206) == (n > 0));
	for (i = 0; i < n; i++) {
		PROMISE(sp[i].start >= 0 && sp[i].start <= sp[i].end &&
			sp[i].end < size);
		total += sp[i].end - sp[i].start + 1;
	}
	PROMISE(total <= size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const off_t sizes[] = { 0, 1, 100, INT64_MAX };
	struct http_req r;
	char *buf = malloc(size ? size : 1);	/* exact size: ASan sees overreads */
	size_t hl;
	unsigned i;
	int st;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	hl = http_head_len(buf, size);
	PROMISE(hl == (size_t)-1 || hl <= size);
	st = http_parse(buf, size, &r);
	PROMISE(st == 0 || st == 400 || st == 414 || st == 431 || st == 501 ||
		st == 505);
	PROMISE(memchr(r.line, '\0', sizeof(r.line)) != NULL);
	if (st == 0) {
		PROMISE(r.path[0] == '/');
		PROMISE(strlen(r.path) < sizeof(r.path));
		PROMISE(!strcmp(r.method, "GET") || !strcmp(r.method, "HEAD"));
		(void)http_path_safe(r.path);
	}
	if (r.has_range) {
		for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			off_t a = -1, b = -1;
			int rs = http_range(r.range, sizes[i], &a, &b);

			PROMISE(rs == 0 || rs == 206 || rs == 416);
			if (rs == 206)
				PROMISE(a >= 0 && a <= b && b < sizes[i]);
			check_ranges(r.range, sizes[i]);
		}
	}
	free(buf);
	return 0;
}
