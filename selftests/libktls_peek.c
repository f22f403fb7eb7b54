// SPDX-License-Identifier: GPL-2.0
/*
 * White-box looks into a libktls session for test_libktls_api: whether the
 * key and secret bytes it still holds are zero.  Only this file sees
 * struct ktls_session's layout; the tests themselves use the public API.
 */
#include "../userspace/lib/internal.h"
#include "libktls_peek.h"

static int all_zero(const void *p, size_t n)
{
	const unsigned char *b = p;

	while (n--)
		if (*b++)
			return 0;
	return 1;
}

int kt_peek_keys_zero(const struct ktls_session *s)
{
	return all_zero(&s->tx, sizeof(s->tx)) &&
	       all_zero(&s->rx, sizeof(s->rx));
}

int kt_peek_secret_zero(const struct ktls_session *s, int client)
{
	return client ? all_zero(s->secret_c, sizeof(s->secret_c)) :
			all_zero(s->secret_s, sizeof(s->secret_s));
}
