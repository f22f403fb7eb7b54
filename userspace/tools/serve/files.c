// SPDX-License-Identifier: MIT
/*
 * File responses' raw material.  Paths are resolved with openat2()
 * RESOLVE_BENEATH against a directory fd held from start-up, so neither
 * "..", nor a symlink, nor a rename race leads out of the root.  A path is
 * first opened O_PATH and fstat()ed: only a regular file is opened for
 * reading (O_NONBLOCK too), so GET /fifo cannot block a worker and a
 * device node is never opened at all.  A path each worker found to be a
 * regular file is opened for reading at once the next time (one path walk
 * instead of two) and kept only if it still is that file: only a file
 * replaced by a device node under a worker's feet gets opened as one.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "files.h"
#include "fmt.h"
#include "http.h"

static int root_fd = -1;
static char root_real[PATH_MAX];

int files_init(const char *root)
{
	root_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root_fd < 0 || !realpath(root, root_real))
		return -1;
	return 0;
}

/* --- media types ---------------------------------------------------------- */

struct mime { char ext[16]; char type[80]; };
static struct mime *mimes;
static size_t n_mimes;

/* When /etc/mime.types is missing (media-types not installed). */
static const struct mime builtin[] = {
	{ "html", "text/html" }, { "htm", "text/html" },
	{ "txt", "text/plain" }, { "css", "text/css" },
	{ "js", "text/javascript" }, { "mjs", "text/javascript" },
	{ "json", "application/json" }, { "xml", "application/xml" },
	{ "svg", "image/svg+xml" }, { "png", "image/png" },
	{ "jpg", "image/jpeg" }, { "jpeg", "image/jpeg" },
	{ "gif", "image/gif" }, { "webp", "image/webp" },
	{ "ico", "image/vnd.microsoft.icon" }, { "pdf", "application/pdf" },
	{ "wasm", "application/wasm" }, { "woff2", "font/woff2" },
	{ "mp4", "video/mp4" }, { "webm", "video/webm" },
	{ "gz", "application/gzip" }, { "tar", "application/x-tar" },
	{ "zip", "application/zip" }, { "iso", "application/x-iso9660-image" },
};

static int mime_cmp(const void *a, const void *b)
{
	return strcasecmp(((const struct mime *)a)->ext,
			  ((const struct mime *)b)->ext);
}

void mime_load(const char *path)
{
	FILE *f = path ? fopen(path, "re") : NULL;
	size_t cap = 0;
	char line[1024];

	while (f && fgets(line, sizeof(line), f)) {
		char *save, *type = strtok_r(line, " \t\r\n", &save), *ext;

		if (!type || type[0] == '#' || strlen(type) >= sizeof(mimes->type))
			continue;
		while ((ext = strtok_r(NULL, " \t\r\n", &save))) {
			if (strlen(ext) >= sizeof(mimes->ext))
				continue;
			if (n_mimes == cap) {
				struct mime *m = realloc(mimes, (cap = cap ? cap * 2 : 512) *
							 sizeof(*m));
				if (!m)
					goto done;
				mimes = m;
			}
			strcpy(mimes[n_mimes].ext, ext);
			strcpy(mimes[n_mimes].type, type);
			n_mimes++;
		}
	}
done:
	if (f)
		fclose(f);
	if (mimes)
		qsort(mimes, n_mimes, sizeof(*mimes), mime_cmp);
}

const char *mime_type(const char *path)
{
	const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');
	struct mime key, *m;
	size_t i;

	if (!dot || (slash && dot < slash) || strlen(dot + 1) >= sizeof(key.ext))
		return "application/octet-stream";
	strcpy(key.ext, dot + 1);
	if (n_mimes &&
	    (m = bsearch(&key, mimes, n_mimes, sizeof(*mimes), mime_cmp)))
		return m->type;
	for (i = 0; i < sizeof(builtin) / sizeof(builtin[0]); i++)
		if (!strcasecmp(builtin[i].ext, key.ext))
			return builtin[i].type;
	return "application/octet-stream";
}

/* --- opening --------------------------------------------------------------- */

static int errno_status(int e)
{
	switch (e) {
	case ENOENT: case ENOTDIR: case ELOOP:
		return 404;
	case EACCES: case EPERM: case EXDEV:	/* EXDEV: out of the root */
		return 403;
	case ENAMETOOLONG:
		return 414;
	case EMFILE: case ENFILE: case ENOMEM:
		return 503;
	}
	return 500;
}

static int open_beneath(const char *rel, int flags)
{
	struct open_how how = {
		/* openat2 refuses O_PATH with anything but a few flags */
		.flags = (unsigned long long)(flags | O_CLOEXEC |
					      (flags & O_PATH ? 0 : O_NOCTTY)),
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
	};

	char full[PATH_MAX], real[PATH_MAX];
	size_t rl = strlen(root_real);
	int fd = (int)syscall(SYS_openat2, root_fd, rel, &how, sizeof(how));

	if (fd >= 0 || (errno != ENOSYS && errno != EPERM))
		return fd;
	/* Before Linux 5.6, or a seccomp filter without it (EPERM): resolve, then check
	 * the result is still under the root (racy against renames). */
	if (snprintf(full, sizeof(full), "%s/%s", root_real, rel) >=
	    (int)sizeof(full)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (!realpath(full, real))
		return -1;
	if (strncmp(real, root_real, rl) ||
	    (real[rl] != '/' && real[rl] != '\0' && rl > 1)) {
		errno = EXDEV;
		return -1;
	}
	return open(real, flags | O_CLOEXEC | O_NOCTTY);
}

/* "." for the root itself, else the path without its leading '/'. */
static const char *relative(const char *path)
{
	while (*path == '/')
		path++;
	return *path ? path : ".";
}

/* Any segment starting with '.' (dotfiles, .git/, .well-known too). */
static int has_dot_segment(const char *path)
{
	const char *p;

	for (p = path; (p = strchr(p, '/')); p++)
		if (p[1] == '.')
			return 1;
	return 0;
}

/* Percent-encode a path for a Location header. */
static void encode_path(char *out, size_t max, const char *in)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (; *in && o + 4 < max; in++) {
		unsigned char c = (unsigned char)*in;

		if (isalnum(c) || strchr("/-._~!$&'()*+,;=:@", c)) {
			out[o++] = (char)c;
		} else {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
}

/*
 * Per worker thread, the regular files it opened: path -> inode.  The
 * O_PATH step costs a second path walk, an fstat() and a close() per
 * request (bench-serve-profile: 6.1's 1 KiB row was 7 % over nginx's).
 */
#define KNOWN_SLOTS	64
#define KNOWN_PATH	200
static __thread struct known {
	dev_t dev;
	ino_t ino;
	char rel[KNOWN_PATH];
} known[KNOWN_SLOTS];

static struct known *known_slot(const char *rel)
{
	unsigned int h = 2166136261u;	/* FNV-1a */

	for (; *rel; rel++)
		h = (h ^ (unsigned char)*rel) * 16777619u;
	return &known[h % KNOWN_SLOTS];
}

/* A known regular file opened directly: 0, or -1 to go the careful way. */
static int open_known(struct known *k, const char *rel, struct file_ref *f)
{
	int fd;

	if (!k->rel[0] || strcmp(k->rel, rel))
		return -1;
	fd = open_beneath(rel, O_RDONLY | O_NONBLOCK);
	if (fd >= 0 && !fstat(fd, &f->st) && S_ISREG(f->st.st_mode) &&
	    f->st.st_dev == k->dev && f->st.st_ino == k->ino) {
		f->fd = fd;
		return 0;
	}
	if (fd >= 0)
		close(fd);
	k->rel[0] = '\0';
	return -1;
}

/* O_PATH + fstat, then the real open only for a regular file. */
static int open_regular(const char *rel, struct file_ref *f, int *is_dir)
{
	struct known *k = known_slot(rel);
	int pfd, fd;

	*is_dir = 0;
	if (!open_known(k, rel, f))
		return 0;
	pfd = open_beneath(rel, O_PATH);
	if (pfd < 0)
		return errno_status(errno);
	if (fstat(pfd, &f->st)) {
		close(pfd);
		return errno_status(errno);
	}
	close(pfd);
	if (S_ISDIR(f->st.st_mode)) {
		*is_dir = 1;
		return 0;
	}
	if (!S_ISREG(f->st.st_mode))
		return 404;
	fd = open_beneath(rel, O_RDONLY | O_NONBLOCK);
	if (fd < 0)
		return errno_status(errno);
	/* Swapped for something else in between: check again. */
	if (fstat(fd, &f->st) || !S_ISREG(f->st.st_mode)) {
		close(fd);
		return 404;
	}
	f->fd = fd;
	if (strlen(rel) < sizeof(k->rel)) {
		strcpy(k->rel, rel);
		k->dev = f->st.st_dev;
		k->ino = f->st.st_ino;
	}
	return 0;
}

int files_open(const char *path, struct file_ref *f)
{
	char rel[1100];
	size_t n;
	int st, is_dir;

	f->fd = -1;
	f->redirect[0] = '\0';
	if (!http_path_safe(path))
		return 403;
	if (has_dot_segment(path))
		return 404;
	n = strlen(path);
	/* A trailing '/' asks for the directory's index.html. */
	if (snprintf(rel, sizeof(rel), "%s%s",
		     n == 1 ? "" : relative(path),
		     path[n - 1] == '/' ? "index.html" : "") >= (int)sizeof(rel))
		return 414;
	st = open_regular(rel, f, &is_dir);
	if (st)
		return st;
	if (is_dir) {
		if (path[n - 1] == '/')
			return 404;	/* dir/index.html is itself a directory */
		encode_path(f->redirect, sizeof(f->redirect) - 1, path);
		strcat(f->redirect, "/");
		return 301;
	}
	f->type = mime_type(rel);
	return 0;
}

/* --- validators and dates ------------------------------------------------------ */

void http_date(time_t t, char *out, size_t max)
{
	char d[FMT_HTTP_DATE];
	struct fmt f;

	fmt_http_date(t, d);
	fmt_init(&f, out, max, 0);
	fmt_str(&f, d);
}

time_t http_date_parse(const char *s)
{
	struct tm tm;
	const char *end;

	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	if (!end || *end)
		return -1;
	return timegm(&tm);
}

void file_etag(const struct stat *st, char *out, size_t max)
{
	struct fmt f;

	/* "mtime ns-size-inode" in hex */
	fmt_init(&f, out, max, 0);
	fmt_str(&f, "\"");
	fmt_hex(&f, (unsigned long long)st->st_mtim.tv_sec * 1000000000ULL +
		(unsigned long long)st->st_mtim.tv_nsec);
	fmt_str(&f, "-");
	fmt_hex(&f, (unsigned long long)st->st_size);
	fmt_str(&f, "-");
	fmt_hex(&f, (unsigned long)st->st_ino);
	fmt_str(&f, "\"");
}

/* Is our etag in an If-None-Match list ("*", weak comparison)? */
static int etag_listed(const char *list, const char *etag)
{
	size_t el = strlen(etag);
	const char *p = list;

	while (*p) {
		const char *s, *e;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '*')
			return 1;
		s = p;
		if (!strncmp(s, "W/", 2))
			s += 2;
		e = strchr(s, ',');
		if (!e)
			e = s + strlen(s);
		p = e;
		while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if ((size_t)(e - s) == el && !memcmp(s, etag, el))
			return 1;
	}
	return 0;
}

int files_not_modified(const struct http_req *r, const struct stat *st)
{
	char etag[80];
	time_t since;

	if (r->if_none_match[0]) {
		file_etag(st, etag, sizeof(etag));
		return etag_listed(r->if_none_match, etag) ? 304 : 0;
	}
	if (r->if_modified_since[0]) {
		since = http_date_parse(r->if_modified_since);
		if (since != -1 && st->st_mtim.tv_sec <= since)
			return 304;
	}
	return 0;
}

int files_if_range_ok(const struct http_req *r, const struct stat *st)
{
	char etag[80], date[40];

	if (!r->if_range[0])
		return 1;
	if (r->if_range[0] == '"') {	/* strong comparison only */
		file_etag(st, etag, sizeof(etag));
		return !strcmp(r->if_range, etag);
	}
	http_date(st->st_mtim.tv_sec, date, sizeof(date));
	return !strcmp(r->if_range, date);
}
