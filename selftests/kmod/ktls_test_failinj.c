// SPDX-License-Identifier: GPL-2.0
/*
 * Test-only fault injection for kernels without CONFIG_FAULT_INJECTION:
 * a kretprobe makes one function (default sk_page_frag_refill) return
 * 0 (false / failure), only in the thread group the test names and only
 * while armed.  Written by the selftests through
 * /sys/module/ktls_test_failinj/parameters/{tgid,armed}; "hits" counts
 * the forced failures, "calls" every call seen.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kprobes.h>
#include <linux/module.h>
#include <linux/pid.h>
#include <linux/ptrace.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>

static char *func = "sk_page_frag_refill";
module_param(func, charp, 0444);
MODULE_PARM_DESC(func, "function whose return value is forced to 0");

/*
 * The tgid as the writer sees it (tests may run in a PID namespace):
 * resolved to its struct pid at write time, compared by pointer.
 */
static int tgid;
static struct pid *target;

static int failinj_tgid_set(const char *val, const struct kernel_param *kp)
{
	struct pid *pid = NULL, *old;
	int nr, rc;

	rc = kstrtoint(val, 0, &nr);
	if (rc)
		return rc;
	if (nr) {
		pid = find_get_pid(nr);
		if (!pid)
			return -ESRCH;
	}
	old = xchg(&target, pid);
	/* Handlers only compare the pointer; let them finish anyway. */
	synchronize_rcu();
	put_pid(old);
	tgid = nr;
	return 0;
}

static const struct kernel_param_ops failinj_tgid_ops = {
	.set	= failinj_tgid_set,
	.get	= param_get_int,
};
module_param_cb(tgid, &failinj_tgid_ops, &tgid, 0644);
MODULE_PARM_DESC(tgid, "only calls made by this thread group fail");

static bool armed;
module_param(armed, bool, 0644);
MODULE_PARM_DESC(armed, "inject while set");

static unsigned int hits;
module_param(hits, uint, 0444);
MODULE_PARM_DESC(hits, "failures injected so far");

static unsigned int calls;
module_param(calls, uint, 0444);
MODULE_PARM_DESC(calls, "calls seen, by anyone, armed or not");

static int last_tgid;
module_param(last_tgid, int, 0444);
MODULE_PARM_DESC(last_tgid, "thread group of the last call seen");

/* Nonzero: don't probe this call's return. */
static int failinj_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	WRITE_ONCE(calls, calls + 1);
	WRITE_ONCE(last_tgid, current->tgid);
	if (!READ_ONCE(armed) || task_tgid(current) != READ_ONCE(target))
		return 1;
	return 0;
}

static int failinj_ret(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	regs_set_return_value(regs, 0);
	WRITE_ONCE(hits, hits + 1);
	return 0;
}

static struct kretprobe failinj_probe = {
	.entry_handler	= failinj_entry,
	.handler	= failinj_ret,
	.maxactive	= 64,
};

static int __init failinj_init(void)
{
	int rc;

	failinj_probe.kp.symbol_name = func;
	rc = register_kretprobe(&failinj_probe);
	if (rc)
		pr_err("cannot probe %s: %d\n", func, rc);
	return rc;
}

static void __exit failinj_exit(void)
{
	unregister_kretprobe(&failinj_probe);
	put_pid(target);
}

module_init(failinj_init);
module_exit(failinj_exit);

MODULE_DESCRIPTION("ktls selftests: forced failure of one kernel function");
MODULE_LICENSE("GPL");
