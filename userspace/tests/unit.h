/* SPDX-License-Identifier: MIT */
/* The host unit tests' one assertion: count a failure, say where, go on. */
#ifndef KTLS_TESTS_UNIT_H
#define KTLS_TESTS_UNIT_H

#include <stdio.h>

static int failures;

#define EXPECT(cond) do {						\
	if (!(cond)) {							\
		printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);	\
		failures++;						\
	}								\
} while (0)

#endif /* KTLS_TESTS_UNIT_H */
