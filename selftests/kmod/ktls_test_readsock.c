// SPDX-License-Identifier: GPL-2.0
/*
 * Test only: drive sock->ops->read_sock() on a socket of the calling
 * process, as in-kernel consumers (nvme-tcp over TLS) do.
 *
 * Write "FD COUNT PER_CALL" to /proc/ktls_test_readsock: the socket
 * behind FD is read with lock_sock() held and desc.count = COUNT; the
 * actor takes min(offered, desc.count, PER_CALL) bytes (PER_CALL 0: no
 * limit) and decrements desc.count.  Reading the file returns
 * struct ktls_test_rs_result followed by the bytes the actor took.
 *
 * "FD hook" replaces the socket's sk_data_ready with one that does not
 * call the previous one, as nvme-tcp does: the TLS layer then learns of
 * new bytes only from read_sock itself.  The socket must not outlive
 * this module.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/net.h>
#include <linux/proc_fs.h>
#include <linux/skbuff.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>
#include <net/sock.h>

#define RS_MAX_CALLS	64
#define RS_BUF_SIZE	(256 * 1024)

/* Layout shared with selftests/test_read_sock.c. */
struct ktls_test_rs_result {
	s32 ret;		/* read_sock()'s return value */
	u32 calls;		/* actor calls that took bytes */
	u32 len;		/* bytes taken, following this header */
	u32 call_len[RS_MAX_CALLS];	/* bytes taken by each call */
};

/* The result header, then the bytes: what a read of the file returns. */
struct rs_out {
	struct ktls_test_rs_result res;
	u8 data[RS_BUF_SIZE];
};

struct rs_state {
	struct rs_out *out;
	size_t per_call;
};

static DEFINE_MUTEX(rs_mutex);
static struct rs_state rs;	/* guarded by rs_mutex */

static int rs_actor(read_descriptor_t *desc, struct sk_buff *skb,
		    unsigned int offset, size_t len)
{
	struct rs_state *st = desc->arg.data;
	struct ktls_test_rs_result *res = &st->out->res;
	size_t n = min(len, desc->count);

	if (st->per_call)
		n = min(n, st->per_call);
	n = min_t(size_t, n, RS_BUF_SIZE - res->len);
	if (!n)
		return 0;
	if (skb_copy_bits(skb, offset, st->out->data + res->len, n)) {
		desc->error = -EFAULT;
		return -EFAULT;
	}
	if (res->calls < RS_MAX_CALLS)
		res->call_len[res->calls] = n;
	res->calls++;
	res->len += n;
	desc->count -= n;
	return n;
}

/*
 * Like nvme_tcp_data_ready(), which only schedules its reader: the
 * previous callback is not called.  The test reads on its own time.
 */
static void rs_data_ready(struct sock *sk)
{
}

static void rs_hook(struct socket *sock)
{
	struct sock *sk = sock->sk;

	write_lock_bh(&sk->sk_callback_lock);
	sk->sk_data_ready = rs_data_ready;
	write_unlock_bh(&sk->sk_callback_lock);
}

static ssize_t rs_write(struct file *file, const char __user *ubuf,
			size_t count, loff_t *ppos)
{
	unsigned long limit, per_call;
	read_descriptor_t desc = {};
	struct socket *sock;
	char cmd[64], word[8];
	int fd, err;

	if (count >= sizeof(cmd))
		return -EINVAL;
	if (copy_from_user(cmd, ubuf, count))
		return -EFAULT;
	cmd[count] = 0;
	if (sscanf(cmd, "%d %lu %lu", &fd, &limit, &per_call) != 3) {
		if (sscanf(cmd, "%d %7s", &fd, word) != 2 ||
		    strcmp(word, "hook"))
			return -EINVAL;
		sock = sockfd_lookup(fd, &err);
		if (!sock)
			return err;
		rs_hook(sock);
		err = count;
		goto put_sock;
	}

	sock = sockfd_lookup(fd, &err);
	if (!sock)
		return err;
	if (!sock->ops->read_sock) {
		err = -EOPNOTSUPP;
		goto put_sock;
	}

	mutex_lock(&rs_mutex);
	memset(&rs.out->res, 0, sizeof(rs.out->res));
	rs.per_call = per_call;
	desc.arg.data = &rs;
	desc.count = limit;
	/* The read_sock contract: the caller owns the socket lock. */
	lock_sock(sock->sk);
	rs.out->res.ret = sock->ops->read_sock(sock->sk, &desc, rs_actor);
	release_sock(sock->sk);
	mutex_unlock(&rs_mutex);
	err = count;

put_sock:
	sockfd_put(sock);
	return err;
}

static ssize_t rs_read(struct file *file, char __user *ubuf, size_t count,
		       loff_t *ppos)
{
	ssize_t ret;

	mutex_lock(&rs_mutex);
	ret = simple_read_from_buffer(ubuf, count, ppos, rs.out,
				      sizeof(rs.out->res) + rs.out->res.len);
	mutex_unlock(&rs_mutex);
	return ret;
}

static const struct proc_ops rs_proc_ops = {
	.proc_write = rs_write,
	.proc_read = rs_read,
	.proc_lseek = default_llseek,
};

static struct proc_dir_entry *rs_entry;

static int __init rs_init(void)
{
	rs.out = vzalloc(sizeof(*rs.out));
	if (!rs.out)
		return -ENOMEM;
	rs_entry = proc_create("ktls_test_readsock", 0600, NULL,
			       &rs_proc_ops);
	if (!rs_entry) {
		vfree(rs.out);
		return -ENOMEM;
	}
	return 0;
}

static void __exit rs_exit(void)
{
	proc_remove(rs_entry);
	vfree(rs.out);
}

module_init(rs_init);
module_exit(rs_exit);
MODULE_DESCRIPTION("ktls selftest: drive proto_ops.read_sock");
MODULE_LICENSE("GPL");
