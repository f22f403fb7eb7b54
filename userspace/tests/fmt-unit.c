// SPDX-License-Identifier: MIT
/*
 * Host unit test of ktls-serve's printf-free formatting (tools/serve/fmt.c)
 * against the C library's own: `make -C userspace check`.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../tools/serve/fmt.h"
#include "unit.h"

static void date_like_strftime(time_t t)
{
	char ours[FMT_HTTP_DATE], libc[64];
	struct tm tm;

	fmt_http_date(t, ours);
	gmtime_r(&t, &tm);
	strftime(libc, sizeof(libc), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	if (strcmp(ours, libc)) {
		printf("FAIL date %lld: \"%s\", strftime \"%s\"\n",
		       (long long)t, ours, libc);
		failures++;
	}
}

static void numbers(long long v)
{
	char ours[64], libc[64];
	struct fmt f;

	fmt_init(&f, ours, sizeof(ours), 0);
	fmt_i64(&f, v);
	fmt_str(&f, " ");
	fmt_u64(&f, (unsigned long long)v);
	fmt_str(&f, " ");
	fmt_hex(&f, (unsigned long long)v);
	snprintf(libc, sizeof(libc), "%lld %llu %llx", v,
		 (unsigned long long)v, (unsigned long long)v);
	if (strcmp(ours, libc) || f.len != strlen(libc)) {
		printf("FAIL numbers %lld: \"%s\", printf \"%s\"\n", v, ours,
		       libc);
		failures++;
	}
}

int main(void)
{
	static const long long edges[] = {
		0, 1, -1, 9, 10, 99, 100, 4095, 4096, LLONG_MAX, LLONG_MIN,
		LLONG_MIN + 1, 1000000000000LL, -1234567890123LL,
	};
	char small[8], buf[64];
	struct fmt f;
	unsigned int i;
	time_t t;

	for (i = 0; i < sizeof(edges) / sizeof(edges[0]); i++)
		numbers(edges[i]);
	srand(1);
	for (i = 0; i < 100000; i++)
		numbers(((long long)rand() << 33) ^ ((long long)rand() << 10) ^
			rand());

	/* Every day from 1970 to past 2100 (leap years, 2000, 2100), then
	 * random seconds up to year 9999; each twice (the cache). */
	for (t = 0; t < 4200000000LL; t += 86400 + 3601) {
		date_like_strftime(t);
		date_like_strftime(t);
	}
	for (i = 0; i < 100000; i++) {
		t = (time_t)(((unsigned long long)rand() << 31 | (unsigned)rand()) %
			     253402300800ULL);
		date_like_strftime(t);
	}
	date_like_strftime(253402300799LL);	/* 9999-12-31 23:59:59 */
	date_like_strftime(951782400);		/* 2000-02-29 */

	/* Cut, always terminated. */
	fmt_init(&f, small, sizeof(small), 0);
	fmt_str(&f, "abcdefghij");
	EXPECT(f.len == 7 && !strcmp(small, "abcdefg"));
	fmt_u64(&f, 5);
	EXPECT(f.len == 7 && !strcmp(small, "abcdefg"));
	fmt_init(&f, small, sizeof(small), 100);
	EXPECT(f.len == 7 && small[7] == '\0');
	fmt_init(&f, buf, sizeof(buf), 0);
	fmt_str(&f, "HTTP/1.1 ");
	fmt_u64(&f, 200);
	fmt_mem(&f, " OK", 3);
	EXPECT(!strcmp(buf, "HTTP/1.1 200 OK") && f.len == 15);
	fmt_init(&f, buf, sizeof(buf), 4);
	fmt_str(&f, "!");
	EXPECT(!strcmp(buf, "HTTP!"));

	if (failures) {
		printf("fmt-unit: %d failures\n", failures);
		return 1;
	}
	printf("fmt-unit: all passed\n");
	return 0;
}
