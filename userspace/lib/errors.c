// SPDX-License-Identifier: MIT
/* Readable error messages: the failed step plus OpenSSL's or libc's reason. */
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <openssl/err.h>

#include "internal.h"

void kl_err_ssl(char *buf, size_t len, const char *fmt, ...)
{
	unsigned long e;
	size_t n;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	/* The first queued error is the root cause; list them all. */
	while ((e = ERR_get_error())) {
		const char *r = ERR_reason_error_string(e);
		char tmp[128];

		n = strlen(buf);
		if (n + 3 >= len)
			continue;
		if (!r) {
			ERR_error_string_n(e, tmp, sizeof(tmp));
			r = tmp;
		}
		snprintf(buf + n, len - n, ": %s", r);
	}
}

void kl_err_sys(char *buf, size_t len, const char *fmt, ...)
{
	int err = errno;
	size_t n;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	n = strlen(buf);
	if (n + 3 < len)
		snprintf(buf + n, len - n, ": %s", strerror(err));
	errno = err;
}

void kl_trace(const struct ktls_session *s, const char *fmt, ...)
{
	FILE *f = s->opts ? s->opts->trace : NULL;
	char line[512];
	va_list ap;

	if (!f)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* One fprintf per line keeps lines whole between threads. */
	if (s->opts->tag)
		fprintf(f, "[%s] %s\n", s->opts->tag, line);
	else
		fprintf(f, "%s\n", line);
	fflush(f);
}

char *kl_hex(char *out, const unsigned char *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
	return out;
}
