// SPDX-License-Identifier: GPL-2.0
/*
 * Test-only: a layer stacked above the TLS ULP's sk_data_ready, the way
 * a BPF sockmap psock stacks: it saves the callback it finds and keeps
 * calling it, even after the ULP's close().  Driven through write-only
 * parameters, in the writer's context:
 *   hook=FD    take a reference on FD's socket and stack on it
 *   fire=1     call the stacked callback as TCP does (BH, socket spinlock)
 *   unhook=1   put the callback back and drop the reference
 */
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/mutex.h>
#include <linux/net.h>
#include <net/sock.h>

static DEFINE_MUTEX(stack_lock);
static struct sock *stack_sk;
static void (*stack_saved)(struct sock *sk);

static void stack_data_ready(struct sock *sk)
{
	stack_saved(sk);
}

static int stack_hook(const char *val, const struct kernel_param *kp)
{
	struct socket *sock;
	int fd, err;

	err = kstrtoint(val, 0, &fd);
	if (err)
		return err;
	mutex_lock(&stack_lock);
	if (stack_sk) {
		err = -EBUSY;
		goto unlock;
	}
	sock = sockfd_lookup(fd, &err);
	if (!sock)
		goto unlock;
	stack_sk = sock->sk;
	sock_hold(stack_sk);
	write_lock_bh(&stack_sk->sk_callback_lock);
	stack_saved = stack_sk->sk_data_ready;
	stack_sk->sk_data_ready = stack_data_ready;
	write_unlock_bh(&stack_sk->sk_callback_lock);
	sockfd_put(sock);
unlock:
	mutex_unlock(&stack_lock);
	return err;
}

static int stack_fire(const char *val, const struct kernel_param *kp)
{
	int err = 0;

	mutex_lock(&stack_lock);
	if (!stack_sk) {
		err = -ENOENT;
		goto unlock;
	}
	local_bh_disable();
	bh_lock_sock(stack_sk);
	stack_sk->sk_data_ready(stack_sk);
	bh_unlock_sock(stack_sk);
	local_bh_enable();
unlock:
	mutex_unlock(&stack_lock);
	return err;
}

/* Stack lock held. */
static void stack_drop(void)
{
	if (!stack_sk)
		return;
	write_lock_bh(&stack_sk->sk_callback_lock);
	if (stack_sk->sk_data_ready == stack_data_ready)
		stack_sk->sk_data_ready = stack_saved;
	write_unlock_bh(&stack_sk->sk_callback_lock);
	sock_put(stack_sk);
	stack_sk = NULL;
}

static int stack_unhook(const char *val, const struct kernel_param *kp)
{
	mutex_lock(&stack_lock);
	stack_drop();
	mutex_unlock(&stack_lock);
	return 0;
}

static const struct kernel_param_ops stack_hook_ops = { .set = stack_hook };
static const struct kernel_param_ops stack_fire_ops = { .set = stack_fire };
static const struct kernel_param_ops stack_unhook_ops = {
	.set = stack_unhook,
};

module_param_cb(hook, &stack_hook_ops, NULL, 0200);
module_param_cb(fire, &stack_fire_ops, NULL, 0200);
module_param_cb(unhook, &stack_unhook_ops, NULL, 0200);

static void __exit stack_exit(void)
{
	mutex_lock(&stack_lock);
	stack_drop();
	mutex_unlock(&stack_lock);
}

static int __init stack_init(void)
{
	return 0;
}

module_init(stack_init);
module_exit(stack_exit);
MODULE_DESCRIPTION("ktls selftest: a layer stacked above sk_data_ready");
MODULE_LICENSE("GPL");
