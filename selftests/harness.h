/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A small KTAP test harness.  Each case runs in its own child process with
 * an alarm, so a crash or hang fails that case only.  A case fails on the
 * first failed ASSERT/EXPECT; SKIP is reported as a skip, never a pass.
 */
#ifndef KTLS_HARNESS_H
#define KTLS_HARNESS_H

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define KT_EXIT_PASS	0
#define KT_EXIT_FAIL	1
#define KT_EXIT_SKIP	4

struct kt_case {
	const char *name;
	void (*fn)(void);
	unsigned int timeout;	/* seconds; 0 means the default */
	void (*pre)(void);	/* if set, runs first in the case's process */
};

#define KT_DEFAULT_TIMEOUT	120

#define KT_CASE(fn_)		{ .name = #fn_, .fn = fn_ }
#define KT_CASE_T(fn_, t_)	{ .name = #fn_, .fn = fn_, .timeout = (t_) }

static inline void kt_diag(const char *fmt, ...)
{
	va_list ap;

	fputs("# ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
}

#define KT_FAIL(...) do {						\
	printf("# %s:%d: ", __FILE__, __LINE__);			\
	printf(__VA_ARGS__);						\
	putchar('\n');							\
	fflush(stdout);							\
	_exit(KT_EXIT_FAIL);						\
} while (0)

#define KT_SKIP(...) do {						\
	printf("# SKIP: ");						\
	printf(__VA_ARGS__);						\
	putchar('\n');							\
	fflush(stdout);							\
	_exit(KT_EXIT_SKIP);						\
} while (0)

#define KT_ASSERT(cond) do {						\
	if (!(cond))							\
		KT_FAIL("assertion failed: %s (errno %d %s)", #cond,	\
			errno, strerror(errno));			\
} while (0)

#define KT_ASSERT_EQ(a, b) do {						\
	long long a_ = (long long)(a), b_ = (long long)(b);		\
	if (a_ != b_)							\
		KT_FAIL("%s == %lld, expected %s == %lld (errno %d %s)",\
			#a, a_, #b, b_, errno, strerror(errno));	\
} while (0)

/* The call must fail with exactly this errno. */
#define KT_ASSERT_ERRNO(call, err) do {					\
	long r_;							\
	errno = 0;							\
	r_ = (long)(call);						\
	if (r_ != -1 || errno != (err))					\
		KT_FAIL("%s returned %ld errno %d (%s), expected -1 %s",\
			#call, r_, errno, strerror(errno), #err);	\
} while (0)

/* The call must succeed (return >= 0). */
#define KT_ASSERT_OK(call) do {						\
	long r_;							\
	errno = 0;							\
	r_ = (long)(call);						\
	if (r_ < 0)							\
		KT_FAIL("%s failed: %s", #call, strerror(errno));	\
} while (0)

/* Slow kernels (KASAN, lockdep) stretch every limit: KTLS_TIME_SCALE=N. */
static inline unsigned int kt_time_scale(void)
{
	const char *s = getenv("KTLS_TIME_SCALE");
	long v = s ? strtol(s, NULL, 10) : 1;

	return v >= 1 && v <= 100 ? v : 1;
}

/*
 * make check-debug's fault phase runs some tests as load with
 * KTLS_FAULTINJ_CASES=1: each case's process (not the runner, which must
 * fork the next one) opts in to failslab/fail_page_alloc.
 */
static inline void kt_case_faults(void)
{
	int fd = open("/proc/thread-self/make-it-fail", O_WRONLY);

	if (fd < 0 || write(fd, "1", 1) != 1)
		printf("# make-it-fail: %s\n", strerror(errno));
	if (fd >= 0)
		close(fd);
}

static inline int kt_run(const char *suite, const struct kt_case *cases,
			 unsigned int n)
{
	unsigned int i, failed = 0, scale = kt_time_scale();
	/* Debugging: run only the cases whose name contains this. */
	const char *only = getenv("KTLS_CASES");

	printf("KTAP version 1\n# suite: %s\n1..%u\n", suite, n);
	fflush(stdout);
	for (i = 0; i < n; i++) {
		unsigned int t = (cases[i].timeout ?: KT_DEFAULT_TIMEOUT) *
				 scale;
		int status = 0;
		pid_t pid;

		if (only && !strstr(cases[i].name, only)) {
			printf("ok %u %s # SKIP not in KTLS_CASES\n", i + 1,
			       cases[i].name);
			continue;
		}
		pid = fork();
		if (pid < 0) {
			printf("not ok %u %s # fork: %s\n", i + 1,
			       cases[i].name, strerror(errno));
			failed++;
			continue;
		}
		if (pid == 0) {
			signal(SIGPIPE, SIG_IGN);
			alarm(t);
			if (getenv("KTLS_FAULTINJ_CASES"))
				kt_case_faults();
			if (cases[i].pre)
				cases[i].pre();
			cases[i].fn();
			fflush(stdout);
			_exit(KT_EXIT_PASS);
		}
		waitpid(pid, &status, 0);
		if (WIFEXITED(status) && WEXITSTATUS(status) == KT_EXIT_PASS) {
			printf("ok %u %s\n", i + 1, cases[i].name);
		} else if (WIFEXITED(status) &&
			   WEXITSTATUS(status) == KT_EXIT_SKIP) {
			printf("ok %u %s # SKIP\n", i + 1, cases[i].name);
		} else {
			if (WIFSIGNALED(status))
				printf("# killed by signal %d%s\n",
				       WTERMSIG(status),
				       WTERMSIG(status) == SIGALRM ?
				       " (timeout)" : "");
			printf("not ok %u %s\n", i + 1, cases[i].name);
			failed++;
		}
		fflush(stdout);
	}
	return failed ? 1 : 0;
}

#define KT_MAIN(suite, ...)						\
int main(void)								\
{									\
	static const struct kt_case cases_[] = { __VA_ARGS__ };		\
									\
	setvbuf(stdout, NULL, _IOLBF, 0);				\
	return kt_run(suite, cases_, sizeof(cases_) / sizeof(cases_[0]));\
}

#endif /* KTLS_HARNESS_H */
