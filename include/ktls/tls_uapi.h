/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * The kTLS UAPI as ktls implements it: the running kernel's <linux/tls.h>
 * plus what newer kernels added and 6.1/6.12 headers lack.  Shared by the
 * module and userspace.
 */
#ifndef _KTLS_TLS_UAPI_H
#define _KTLS_TLS_UAPI_H

#include <linux/tls.h>

#ifndef SOL_TLS
#define SOL_TLS			282
#endif
#ifndef TCP_ULP
#define TCP_ULP			31
#endif

/* Cap on plaintext bytes per TX record (RFC 8449), u16. */
#ifndef TLS_TX_MAX_PAYLOAD_LEN
#define TLS_TX_MAX_PAYLOAD_LEN	5
#endif

/*
 * sock_diag: the attribute newer kernels add after TLS_INFO_RX_NO_PAD (an
 * enum there, so it cannot be probed with #ifdef): a u16.
 */
#define KTLS_INFO_TX_MAX_PAYLOAD_LEN	(TLS_INFO_RX_NO_PAD + 1)

#endif /* _KTLS_TLS_UAPI_H */
