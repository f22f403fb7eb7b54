// SPDX-License-Identifier: MIT
/*
 * ktls-serve: a static-file HTTPS server whose bodies leave with sendfile()
 * through kernel TLS.  Start-up lives here: settings, files and
 * certificates opened, sockets bound, file limit raised, privileges
 * dropped, then the workers (loop.c) run and this thread handles signals.
 *
 * Map of the folder: config.c (command line), loop.c (event loop, accept,
 * caps), conn.c (connection state machine, responses), tls.c (handshake,
 * kernel or userspace records), http.c (request parsing), files.c (files,
 * types, validators), log.c (logs).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ktls.h>
#include "config.h"
#include "files.h"
#include "log.h"
#include "loop.h"
#include "tls.h"

/* fds a connection may hold: its socket and the file it sends. */
#define FDS_PER_CONN	2
#define FDS_SPARE	32

/* Raise RLIMIT_NOFILE to what --max-conns needs, or lower the cap. */
static void fit_fd_limit(int workers)
{
	rlim_t need = (rlim_t)cfg.max_conns * FDS_PER_CONN + FDS_SPARE +
		      (rlim_t)workers * 2;
	struct rlimit rl;

	rlim_t was;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return;
	if (rl.rlim_cur >= need)
		return;
	was = rl.rlim_cur;
	if (rl.rlim_max < need) {
		struct rlimit want = { need, need };

		if (!setrlimit(RLIMIT_NOFILE, &want))
			goto raised;
	}
	rl.rlim_cur = rl.rlim_max < need ? rl.rlim_max : need;
	if (setrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur >= need)
		goto raised;
	getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur <= FDS_SPARE + (rlim_t)workers * 2 + FDS_PER_CONN)
		cfg.max_conns = 1;
	else
		cfg.max_conns = (int)((rl.rlim_cur - FDS_SPARE - workers * 2) /
				      FDS_PER_CONN);
	log_msg("file descriptor limit %llu (hard %llu) cannot be raised to %llu: --max-conns lowered to %d",
		(unsigned long long)rl.rlim_cur,
		(unsigned long long)rl.rlim_max, (unsigned long long)need,
		cfg.max_conns);
	return;
raised:
	log_msg("file descriptor limit raised from %llu to %llu for --max-conns %d",
		(unsigned long long)was, (unsigned long long)need, cfg.max_conns);
}

static int drop_privileges(void)
{
	uid_t uid = 0;
	gid_t gid = 0;

	if (cfg.user) {
		struct passwd *pw = getpwnam(cfg.user);
		char *end;
		unsigned long n = strtoul(cfg.user, &end, 10);

		if (!pw && !*end && end != cfg.user) {	/* numeric, no passwd entry */
			uid = (uid_t)n;
			gid = (gid_t)n;
		} else if (!pw) {
			fprintf(stderr, "ktls-serve: --user %s: no such user\n", cfg.user);
			return -1;
		} else {
			uid = pw->pw_uid;
			gid = pw->pw_gid;
		}
	}
	if (cfg.group) {
		struct group *gr = getgrnam(cfg.group);
		char *end;
		unsigned long n = strtoul(cfg.group, &end, 10);

		if (!gr && !*end && end != cfg.group) {
			gid = (gid_t)n;
		} else if (!gr) {
			fprintf(stderr, "ktls-serve: --group %s: no such group\n", cfg.group);
			return -1;
		} else {
			gid = gr->gr_gid;
		}
	}
	if (cfg.chroot_dir && (chroot(cfg.chroot_dir) || chdir("/"))) {
		fprintf(stderr, "ktls-serve: --chroot %s: %s\n", cfg.chroot_dir,
			strerror(errno));
		return -1;
	}
	/* The root is held open from here, so the new user needs no way
	 * to it through the directories above it. */
	if (files_init(cfg.root)) {
		fprintf(stderr, "ktls-serve: root %s: %s\n", cfg.root,
			strerror(errno));
		return -1;
	}
	if (!cfg.user && !cfg.group)
		return 0;
	if (setgroups(0, NULL) || setgid(gid) || (cfg.user && setuid(uid))) {
		fprintf(stderr, "ktls-serve: dropping privileges: %s\n",
			strerror(errno));
		return -1;
	}
	/* No way back. */
	if (cfg.user && uid != 0 && setuid(0) == 0) {
		fprintf(stderr, "ktls-serve: could regain root after setuid\n");
		return -1;
	}
	log_msg("running as uid %u gid %u%s%s", (unsigned)getuid(),
		(unsigned)getgid(), cfg.chroot_dir ? " in chroot " : "",
		cfg.chroot_dir ? cfg.chroot_dir : "");
	return 0;
}

/* SIGUSR1: what the process holds, to spot leaks from outside. */
static void log_stats(void)
{
	char line[128];
	int fds = -1, threads = -1;
	long rss = -1;
	FILE *f = fopen("/proc/self/status", "r");
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;

	while (f && fgets(line, sizeof(line), f)) {
		sscanf(line, "Threads: %d", &threads);
		sscanf(line, "VmRSS: %ld", &rss);
	}
	if (f)
		fclose(f);
	if (d) {
		fds = 0;
		while ((de = readdir(d)))
			fds += de->d_name[0] != '.';
		closedir(d);
		fds--;		/* the directory's own fd */
	}
	log_msg("stats: %d connections, %d threads, %d fds, rss %ld kB, %ld ktls, %ld userspace-tls",
		atomic_load(&n_conns_total), threads, fds, rss,
		atomic_load(&n_kernel), atomic_load(&n_userspace));
	log_causes_dump();
}

static FILE *open_keylog(const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	struct stat st;

	if (fd < 0 || fstat(fd, &st)) {
		perror(path);
		return NULL;
	}
	/* Secrets: an existing file readable by others is tightened. */
	if ((st.st_mode & 077) && fchmod(fd, st.st_mode & 0700)) {
		fprintf(stderr, "ktls-serve: %s is readable by others and cannot be made 0600: %s\n",
			path, strerror(errno));
		close(fd);
		return NULL;
	}
	return fdopen(fd, "a");
}

int main(int argc, char **argv)
{
	char err[KTLS_ERR_LEN], root_real[PATH_MAX];
	struct worker *workers;
	pthread_t *threads;
	sigset_t sigs;
	int i, n, status;

	if (config_parse(argc, argv, &status))
		return status;
	signal(SIGPIPE, SIG_IGN);
	if (!cfg.chroot_dir) {
		if (!realpath(cfg.root, root_real)) {
			fprintf(stderr, "ktls-serve: root %s: %s\n", cfg.root,
				strerror(errno));
			return 2;
		}
		cfg.root = root_real;
	}
	if (cfg.keylog_path && !(serve_keylog = open_keylog(cfg.keylog_path)))
		return 2;
	if (access_log_open(cfg.access_log)) {
		fprintf(stderr, "ktls-serve: access log %s: %s\n",
			cfg.access_log, strerror(errno));
		return 2;
	}
	mime_load(cfg.mime_types);
	for (i = 0; i < (cfg.n_cert ? cfg.n_cert : 1); i++) {
		SSL_CTX *ctx = ktls_ctx_new(1, cfg.cert[i], cfg.key[i], err,
					    sizeof(err));

		if (!ctx) {
			fprintf(stderr, "ktls-serve: %s\n", err);
			return 1;
		}
		if (tls_ctx_setup(ctx))
			return 2;
		if (!i)
			serve_ctx = ctx;
		else
			sni_ctx[n_sni_ctx++] = ctx;
	}
	if (!cfg.n_cert)
		log_msg("no --cert/--key: using a generated self-signed ECDSA P-256 certificate (CN=ktls-serve)");

	n = cfg.workers ? cfg.workers : (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		n = 1;
	fit_fd_limit(n);
	workers = calloc(n, sizeof(*workers));
	threads = calloc(n, sizeof(*threads));
	if (!workers || !threads)
		return 1;
	for (i = 0; i < n; i++) {
		workers[i].id = i;
		workers[i].lfd = loop_listen(cfg.addr, cfg.port);
		workers[i].epfd = epoll_create1(EPOLL_CLOEXEC);
		if (workers[i].lfd < 0 || workers[i].epfd < 0)
			return 1;
	}
	/* Bound (a low port needs root): now give root up. */
	if (drop_privileges())
		return 1;

	/* Workers start with these blocked; this thread takes them. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	log_msg("listening on %s:%s, serving %s (%d workers, up to %d connections, %d per address)",
		cfg.addr, cfg.port, cfg.root, n, cfg.max_conns, cfg.max_per_ip);
	for (i = 0; i < n; i++) {
		if (pthread_create(&threads[i], NULL, loop_run, &workers[i])) {
			fprintf(stderr, "ktls-serve: starting worker %d failed\n", i);
			return 1;
		}
	}
	for (;;) {
		int sig;

		if (sigwait(&sigs, &sig))
			continue;
		if (sig == SIGUSR1) {
			log_stats();
		} else if (sig == SIGHUP) {
			access_log_reopen();
		} else {
			break;
		}
	}
	log_msg("shutting down: %d connection(s) open", atomic_load(&n_conns_total));
	stopping = 1;
	for (i = 0; i < n; i++)
		pthread_join(threads[i], NULL);
	SSL_CTX_free(serve_ctx);
	if (serve_keylog)
		fclose(serve_keylog);
	free(workers);
	free(threads);
	return 0;
}
