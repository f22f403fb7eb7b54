/* SPDX-License-Identifier: MIT */
/* Files under the root: opening safely, types, validators, ranges. */
#ifndef SERVE_FILES_H
#define SERVE_FILES_H

#include <stddef.h>
#include <sys/stat.h>
#include <time.h>

struct http_req;

/* Open the root directory (after chroot, before serving). 0 or -1. */
int files_init(const char *root);
/* Load /etc/mime.types (missing file: the built-in table only). */
void mime_load(const char *path);
const char *mime_type(const char *path);

struct file_ref {
	int fd;			/* O_RDONLY|O_NONBLOCK, a regular file */
	struct stat st;
	char redirect[1100];	/* 301 target when the path is a directory */
	const char *type;
};

/*
 * Resolve a decoded request path: 0 with f->fd open, 301 with f->redirect
 * set, or the error status (403, 404, 414, 503, 500).  Never follows a
 * path out of the root, never opens anything but a regular file (a FIFO
 * or device node is not even opened), never serves a dotfile.
 */
int files_open(const char *path, struct file_ref *f);

/* IMF-fixdate (RFC 9110 5.6.7) into out (30 bytes). */
void http_date(time_t t, char *out, size_t max);
/* Parse one; -1 if it is not one. */
time_t http_date_parse(const char *s);
/* Strong validator from inode, size and mtime. */
void file_etag(const struct stat *st, char *out, size_t max);
/*
 * Conditional request (RFC 9110 13.2.2): 304 when If-None-Match matches
 * (or, without it, If-Modified-Since is not older than the file), else 0.
 */
int files_not_modified(const struct http_req *r, const struct stat *st);
/* If-Range: 1 if a Range may be honoured (absent or matching). */
int files_if_range_ok(const struct http_req *r, const struct stat *st);

#endif /* SERVE_FILES_H */
