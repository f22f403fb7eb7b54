// SPDX-License-Identifier: MIT
/*
 * The handshake's socket BIO: recv/send with MSG_DONTWAIT, so the same
 * code steps a blocking or a non-blocking fd without touching its flags or
 * its SO_RCVTIMEO/SO_SNDTIMEO (the blocking ktls_handshake() polls), and
 * MSG_NOSIGNAL, so a peer that goes away is an error, not a SIGPIPE.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/socket.h>
#include <openssl/bio.h>

#include "internal.h"

static BIO_METHOD *kl_meth;
static pthread_once_t kl_meth_once = PTHREAD_ONCE_INIT;

static int kl_fd(BIO *b)
{
	return (int)(intptr_t)BIO_get_data(b);
}

static int kl_retryable(int err)
{
	return err == EAGAIN || err == EWOULDBLOCK || err == EINTR;
}

static int kl_bio_read(BIO *b, char *buf, int len)
{
	ssize_t n = recv(kl_fd(b), buf, (size_t)len, MSG_DONTWAIT);

	BIO_clear_retry_flags(b);
	if (n < 0 && kl_retryable(errno))
		BIO_set_retry_read(b);
	return (int)n;
}

static int kl_bio_write(BIO *b, const char *buf, int len)
{
	ssize_t n = send(kl_fd(b), buf, (size_t)len,
			 MSG_DONTWAIT | MSG_NOSIGNAL);

	BIO_clear_retry_flags(b);
	if (n < 0 && kl_retryable(errno))
		BIO_set_retry_write(b);
	return (int)n;
}

static long kl_bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	(void)num;
	switch (cmd) {
	case BIO_CTRL_FLUSH:
		return 1;	/* nothing is buffered here */
	case BIO_C_GET_FD:
		if (ptr)
			*(int *)ptr = kl_fd(b);
		return kl_fd(b);
	}
	return 0;
}

static int kl_bio_create(BIO *b)
{
	BIO_set_init(b, 1);
	return 1;
}

static void kl_meth_init(void)
{
	BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK,
				     "ktls socket");

	if (m && BIO_meth_set_read(m, kl_bio_read) &&
	    BIO_meth_set_write(m, kl_bio_write) &&
	    BIO_meth_set_ctrl(m, kl_bio_ctrl) &&
	    BIO_meth_set_create(m, kl_bio_create)) {
		kl_meth = m;
		return;
	}
	BIO_meth_free(m);
}

BIO *kl_bio_new(int fd)
{
	BIO *b;

	pthread_once(&kl_meth_once, kl_meth_init);
	if (!kl_meth)
		return NULL;
	b = BIO_new(kl_meth);
	if (b)
		BIO_set_data(b, (void *)(intptr_t)fd);
	return b;
}
