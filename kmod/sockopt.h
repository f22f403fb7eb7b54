/* SPDX-License-Identifier: GPL-2.0 */
/* ktls control plane: SOL_TLS socket options. */
#ifndef _KTLS_SOCKOPT_H
#define _KTLS_SOCKOPT_H

#include <linux/sockptr.h>
#include <net/sock.h>

int ktls_setsockopt(struct sock *sk, int level, int optname,
		    sockptr_t optval, unsigned int optlen);
int ktls_getsockopt(struct sock *sk, int level, int optname,
		    char __user *optval, int __user *optlen);

#endif /* _KTLS_SOCKOPT_H */
