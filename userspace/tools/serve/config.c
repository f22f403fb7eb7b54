// SPDX-License-Identifier: MIT
/* ktls-serve's command line (see ktls-serve.8). */
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

#ifndef KTLS_SERVE_VERSION
#define KTLS_SERVE_VERSION "unknown"
#endif

struct serve_cfg cfg = {
	.addr = "0.0.0.0", .port = "8443",
	.mime_types = "/etc/mime.types",
	.max_conns = 10000, .max_per_ip = 512,
	.handshake_ms = 10000, .header_ms = 10000, .idle_ms = 30000,
	.send_ms = 30000, .linger_ms = 5000,
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: ktls-serve [options] [ROOT]\n"
		"  -l, --listen ADDR        address (default 0.0.0.0)\n"
		"  -p, --port PORT          port (default 8443)\n"
		"  -c, --cert FILE          PEM certificate (chain)\n"
		"  -k, --key FILE           PEM private key (both or neither;\n"
		"                           neither: a generated self-signed one);\n"
		"                           repeat the pair for more names (SNI)\n"
		"      --workers N          event-loop threads (default: one per CPU)\n"
		"      --max-conns N        connections in all (default 10000)\n"
		"      --max-per-ip N       connections per client address (default 512, 0: no cap)\n"
		"      --handshake-timeout S  whole TLS handshake within S s (default 10)\n"
		"      --header-timeout S   whole request head within S s (default 10)\n"
		"      --idle-timeout S     keep-alive idle (default 30)\n"
		"      --send-timeout S     drop a response whose bytes do not move for S s (default 30)\n"
		"      --access-log FILE    access log (default stdout); reopened on SIGHUP\n"
		"      --mime-types FILE    (default /etc/mime.types)\n"
		"      --user USER, --group GROUP  drop privileges after binding\n"
		"      --chroot DIR         chroot after binding (ROOT is then inside DIR)\n"
		"      --ulp NAME           TCP ULP (default $KTLS_ULP or tls)\n"
		"      --min-tls 1.2|1.3    lowest protocol version (default 1.2)\n"
		"      --ciphers LIST       TLS 1.2 cipher list (OpenSSL syntax)\n"
		"      --ciphersuites LIST  TLS 1.3 suites (OpenSSL syntax)\n"
		"      --require-ktls       refuse connections the kernel cannot take\n"
		"                           (default: serve them in userspace OpenSSL)\n"
		"      --keylog FILE        NSS key log, created 0600 (secrets!)\n"
		"      --rekey-bytes N      TLS 1.3: KeyUpdate after every N body bytes\n"
		"                           (with ktls: the kernel's record limit,\n"
		"                           ceil(N / record payload) records)\n"
		"      --trace              print each handshake and key generation\n"
		"      --version\n"
		"Signals: TERM/INT stop, HUP reopens the access log, USR1 logs stats.\n");
}

static int seconds(const char *name, const char *v, int *ms)
{
	char *end;
	long s = strtol(v, &end, 10);

	if (*end || s <= 0 || s > INT_MAX / 1000) {
		fprintf(stderr, "ktls-serve: %s needs whole seconds > 0\n", name);
		return -1;
	}
	*ms = (int)s * 1000;
	return 0;
}

static int count(const char *name, const char *v, int *out, int min)
{
	char *end;
	long n = strtol(v, &end, 10);

	if (*end || n < min || n > 10000000) {
		fprintf(stderr, "ktls-serve: %s needs a number >= %d\n", name, min);
		return -1;
	}
	*out = (int)n;
	return 0;
}

int config_parse(int argc, char **argv, int *exit_status)
{
	static const struct option lopts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "port", required_argument, NULL, 'p' },
		{ "cert", required_argument, NULL, 'c' },
		{ "key", required_argument, NULL, 'k' },
		{ "max-conns", required_argument, NULL, 'm' },
		{ "max-per-ip", required_argument, NULL, 'P' },
		{ "workers", required_argument, NULL, 'w' },
		{ "ulp", required_argument, NULL, 'u' },
		{ "trace", no_argument, NULL, 't' },
		{ "keylog", required_argument, NULL, 'K' },
		{ "rekey-bytes", required_argument, NULL, 'R' },
		{ "handshake-timeout", required_argument, NULL, 'T' },
		{ "header-timeout", required_argument, NULL, 'H' },
		{ "idle-timeout", required_argument, NULL, 'I' },
		{ "send-timeout", required_argument, NULL, 'S' },
		{ "access-log", required_argument, NULL, 'a' },
		{ "mime-types", required_argument, NULL, 'M' },
		{ "user", required_argument, NULL, 'U' },
		{ "group", required_argument, NULL, 'G' },
		{ "chroot", required_argument, NULL, 'C' },
		{ "require-ktls", no_argument, NULL, 'r' },
		{ "min-tls", required_argument, NULL, 'N' },
		{ "ciphers", required_argument, NULL, 'X' },
		{ "ciphersuites", required_argument, NULL, 'Y' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt, bad = 0;

	*exit_status = 0;
	while ((opt = getopt_long(argc, argv, "l:p:c:k:h", lopts, NULL)) != -1) {
		switch (opt) {
		case 'l': cfg.addr = optarg; break;
		case 'p': cfg.port = optarg; break;
		case 'c':
		case 'k':
			if ((opt == 'c' ? cfg.n_cert : cfg.n_key) == MAX_CERTS) {
				fprintf(stderr, "ktls-serve: at most %d certificates\n", MAX_CERTS);
				bad = 1;
				break;
			}
			if (opt == 'c')
				cfg.cert[cfg.n_cert++] = optarg;
			else
				cfg.key[cfg.n_key++] = optarg;
			break;
		case 'm': bad |= count("--max-conns", optarg, &cfg.max_conns, 1); break;
		case 'P': bad |= count("--max-per-ip", optarg, &cfg.max_per_ip, 0); break;
		case 'w': bad |= count("--workers", optarg, &cfg.workers, 1); break;
		case 'u': cfg.ulp = optarg; break;
		case 't': cfg.trace = 1; break;
		case 'K': cfg.keylog_path = optarg; break;
		case 'R':
			cfg.rekey_bytes = atoll(optarg);
			if (cfg.rekey_bytes <= 0) {
				fprintf(stderr, "ktls-serve: --rekey-bytes needs N > 0\n");
				bad = 1;
			}
			break;
		case 'T': bad |= seconds("--handshake-timeout", optarg, &cfg.handshake_ms); break;
		case 'H': bad |= seconds("--header-timeout", optarg, &cfg.header_ms); break;
		case 'I': bad |= seconds("--idle-timeout", optarg, &cfg.idle_ms); break;
		case 'S': bad |= seconds("--send-timeout", optarg, &cfg.send_ms); break;
		case 'a': cfg.access_log = optarg; break;
		case 'M': cfg.mime_types = optarg; break;
		case 'U': cfg.user = optarg; break;
		case 'G': cfg.group = optarg; break;
		case 'C': cfg.chroot_dir = optarg; break;
		case 'r': cfg.require_ktls = 1; break;
		case 'N':
			if (strcmp(optarg, "1.2") && strcmp(optarg, "1.3")) {
				fprintf(stderr, "ktls-serve: --min-tls is 1.2 or 1.3\n");
				bad = 1;
			}
			cfg.min_tls = optarg;
			break;
		case 'X': cfg.ciphers = optarg; break;
		case 'Y': cfg.ciphersuites = optarg; break;
		case 'V':
			printf("ktls-serve %s (%s)\n", KTLS_SERVE_VERSION,
			       OpenSSL_version(OPENSSL_VERSION));
			return 1;
		case 'h':
			usage(stdout);
			return 1;
		default:
			usage(stderr);
			*exit_status = 2;
			return 1;
		}
	}
	if (bad) {
		*exit_status = 2;
		return 1;
	}
	/* A key without its certificate (or the reverse) is a typo, not a
	 * request for a generated certificate. */
	if (cfg.n_cert != cfg.n_key) {
		int c = cfg.n_cert > cfg.n_key;

		fprintf(stderr, "ktls-serve: --%s given without --%s (%d --cert, %d --key)\n",
			c ? "cert" : "key", c ? "key" : "cert", cfg.n_cert,
			cfg.n_key);
		*exit_status = 2;
		return 1;
	}
	if (optind + 1 < argc) {
		usage(stderr);
		*exit_status = 2;
		return 1;
	}
	cfg.root = optind < argc ? argv[optind] : ".";
	return 0;
}
