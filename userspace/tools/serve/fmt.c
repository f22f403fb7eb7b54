// SPDX-License-Identifier: MIT
/* Text into fixed buffers without printf (fmt.h says why). */
#include <string.h>
#include <time.h>

#include "fmt.h"

void fmt_init(struct fmt *f, char *buf, size_t max, size_t len)
{
	f->buf = buf;
	f->max = max;
	f->len = len < max ? len : max - 1;
	buf[f->len] = '\0';
}

void fmt_mem(struct fmt *f, const char *s, size_t n)
{
	size_t room = f->max - 1 - f->len;

	if (n > room)
		n = room;
	memcpy(f->buf + f->len, s, n);
	f->len += n;
	f->buf[f->len] = '\0';
}

void fmt_str(struct fmt *f, const char *s)
{
	fmt_mem(f, s, strlen(s));
}

void fmt_u64(struct fmt *f, unsigned long long v)
{
	char d[20];
	size_t i = sizeof(d);

	do {
		d[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	fmt_mem(f, d + i, sizeof(d) - i);
}

void fmt_i64(struct fmt *f, long long v)
{
	if (v < 0) {
		fmt_mem(f, "-", 1);
		/* -(v + 1) + 1: LLONG_MIN has no positive counterpart. */
		fmt_u64(f, (unsigned long long)-(v + 1) + 1);
		return;
	}
	fmt_u64(f, (unsigned long long)v);
}

void fmt_hex(struct fmt *f, unsigned long long v)
{
	static const char hex[] = "0123456789abcdef";
	char d[16];
	size_t i = sizeof(d);

	do {
		d[--i] = hex[v & 15];
		v >>= 4;
	} while (v);
	fmt_mem(f, d + i, sizeof(d) - i);
}

static void two(char *p, int v)
{
	p[0] = (char)('0' + v / 10 % 10);
	p[1] = (char)('0' + v % 10);
}

void fmt_http_date(time_t t, char out[FMT_HTTP_DATE])
{
	static const char days[] = "SunMonTueWedThuFriSat";
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	/* Date once a second, Last-Modified of the same file again. */
	static __thread time_t last_t = -1;
	static __thread char last[FMT_HTTP_DATE];
	struct tm tm;

	if (t == last_t) {
		memcpy(out, last, FMT_HTTP_DATE);
		return;
	}
	if (!gmtime_r(&t, &tm) || tm.tm_year + 1900 > 9999 ||
	    tm.tm_year + 1900 < 0) {
		/* Outside what the format can say: the epoch, as a date. */
		t = 0;
		gmtime_r(&t, &tm);
	}
	memcpy(out, days + 3 * tm.tm_wday, 3);
	memcpy(out + 3, ", ", 2);
	two(out + 5, tm.tm_mday);
	out[7] = ' ';
	memcpy(out + 8, months + 3 * tm.tm_mon, 3);
	out[11] = ' ';
	two(out + 12, (tm.tm_year + 1900) / 100);
	two(out + 14, (tm.tm_year + 1900) % 100);
	out[16] = ' ';
	two(out + 17, tm.tm_hour);
	out[19] = ':';
	two(out + 20, tm.tm_min);
	out[22] = ':';
	two(out + 23, tm.tm_sec);
	memcpy(out + 25, " GMT", 5);
	if (t >= 0) {
		memcpy(last, out, FMT_HTTP_DATE);
		last_t = t;
	}
}
