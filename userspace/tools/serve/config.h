/* SPDX-License-Identifier: MIT */
/* ktls-serve's settings: command line into one struct, read-only after. */
#ifndef SERVE_CONFIG_H
#define SERVE_CONFIG_H

#include <stdio.h>
#include <ktls.h>

#define MAX_CERTS	16

struct serve_cfg {
	const char *addr, *port, *root;
	/* --cert/--key pairs in order; the first is the default, the others
	 * are chosen by SNI (the name matched against the certificate). */
	const char *cert[MAX_CERTS], *key[MAX_CERTS];
	int n_cert, n_key;
	const char *access_log;		/* NULL: stdout */
	const char *mime_types;		/* default /etc/mime.types */
	const char *user, *group, *chroot_dir;
	const char *keylog_path;
	const char *ulp;
	const char *min_tls, *ciphers, *ciphersuites;
	int workers;			/* 0: one per CPU */
	int max_conns, max_per_ip;
	int handshake_ms, header_ms, idle_ms, send_ms, linger_ms;
	long long rekey_bytes;		/* TLS 1.3: KeyUpdate after this many */
	int trace, require_ktls;
};

extern struct serve_cfg cfg;

/* Fill cfg from argv; 0, or an exit status (usage/--version printed). */
int config_parse(int argc, char **argv, int *exit_status);

#endif /* SERVE_CONFIG_H */
