// SPDX-License-Identifier: GPL-2.0
/*
 * Test-only: shows which functions a socket's proto points to, so a test
 * can see whether a TLS socket's proto table changed under it.
 *
 * Write a file descriptor number of the writing process to
 * /proc/ktls_protoprobe; a read then returns one line for that socket:
 * "destroy=SYM close=SYM recvmsg=SYM sendmsg=SYM ioctl=SYM".
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/net.h>
#include <linux/proc_fs.h>
#include <linux/uaccess.h>
#include <net/sock.h>

static DEFINE_MUTEX(probe_lock);
static char probe_line[512];

static ssize_t probe_write(struct file *file, const char __user *ubuf,
			   size_t len, loff_t *ppos)
{
	const struct proto *prot;
	struct socket *sock;
	unsigned int fd;
	int err;

	err = kstrtouint_from_user(ubuf, len, 10, &fd);
	if (err)
		return err;
	sock = sockfd_lookup(fd, &err);
	if (!sock)
		return err;
	/* The socket lock keeps sk_prot stable while we look. */
	lock_sock(sock->sk);
	prot = READ_ONCE(sock->sk->sk_prot);
	mutex_lock(&probe_lock);
	snprintf(probe_line, sizeof(probe_line),
		 "destroy=%ps close=%ps recvmsg=%ps sendmsg=%ps ioctl=%ps\n",
		 prot->destroy, prot->close, prot->recvmsg, prot->sendmsg,
		 prot->ioctl);
	mutex_unlock(&probe_lock);
	release_sock(sock->sk);
	sockfd_put(sock);
	return len;
}

static ssize_t probe_read(struct file *file, char __user *ubuf, size_t len,
			  loff_t *ppos)
{
	ssize_t rc;

	mutex_lock(&probe_lock);
	rc = simple_read_from_buffer(ubuf, len, ppos, probe_line,
				     strlen(probe_line));
	mutex_unlock(&probe_lock);
	return rc;
}

static const struct proc_ops probe_ops = {
	.proc_write	= probe_write,
	.proc_read	= probe_read,
	.proc_lseek	= default_llseek,
};

static int __init probe_init(void)
{
	if (!proc_create("ktls_protoprobe", 0600, NULL, &probe_ops))
		return -ENOMEM;
	return 0;
}

static void __exit probe_exit(void)
{
	remove_proc_entry("ktls_protoprobe", NULL);
}

module_init(probe_init);
module_exit(probe_exit);

MODULE_DESCRIPTION("ktls selftests: report a socket's proto functions");
MODULE_LICENSE("GPL");
