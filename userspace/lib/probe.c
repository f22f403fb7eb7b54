// SPDX-License-Identifier: MIT
/* ktls_probe: does this host's kernel TLS path take keys, and if not why. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "internal.h"

/* UAPI struct size per cipher (SM4/ARIA share the 128/256 layouts). */
static size_t kl_info_len(uint16_t cipher)
{
	switch (cipher) {
	case TLS_CIPHER_AES_GCM_128:
	case TLS_CIPHER_AES_CCM_128:
	case 55: case 56: case 57:	/* SM4 GCM/CCM, ARIA-GCM-128 */
		return sizeof(struct tls12_crypto_info_aes_gcm_128);
	case TLS_CIPHER_AES_GCM_256:
	case 58:			/* ARIA-GCM-256 */
		return sizeof(struct tls12_crypto_info_aes_gcm_256);
	case TLS_CIPHER_CHACHA20_POLY1305:
		return sizeof(struct tls12_crypto_info_chacha20_poly1305);
	}
	return 0;
}

/* A connected loopback TCP pair (ULPs attach to established sockets). */
static int kl_loopback(int *peer, char *msg, size_t len)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t al = sizeof(a);
	int l, c = -1, s = -1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) ||
	    listen(l, 1) || getsockname(l, (struct sockaddr *)&a, &al))
		goto fail;
	c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof(a)))
		goto fail;
	s = accept(l, NULL, NULL);
	if (s < 0)
		goto fail;
	*peer = s;
	close(l);
	return c;
fail:
	kl_err_sys(msg, len, "probe: loopback TCP connection");
	if (c >= 0)
		close(c);
	if (l >= 0)
		close(l);
	return -1;
}

/* Lockdown "integrity" or "confidentiality" refuses unsigned modules. */
static int kl_locked_down(char *mode, size_t len)
{
	FILE *f = fopen("/sys/kernel/security/lockdown", "r");
	char line[128] = "", *b, *e;

	if (!f)
		return 0;
	if (!fgets(line, sizeof(line), f))
		line[0] = '\0';
	fclose(f);
	b = strchr(line, '[');
	e = b ? strchr(b, ']') : NULL;
	if (!b || !e || !strncmp(b, "[none]", 6))
		return 0;
	snprintf(mode, len, "%.*s", (int)(e - b - 1), b + 1);
	return 1;
}

int ktls_probe(const char *ulp, uint16_t version, uint16_t cipher,
	       char *msg, size_t len)
{
	struct ktls_opts o = { .ulp = ulp };
	struct ktls_session *s;
	char mode[32];
	int code, peer = -1;

	if (!version)
		version = TLS_1_3_VERSION;
	if (!cipher)
		cipher = TLS_CIPHER_AES_GCM_128;
	s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(msg, len, "probe: out of memory");
		return KTLS_E_NOMEM;
	}
	s->opts = &o;
	s->version = version;
	s->cipher = cipher;
	s->info_len = kl_info_len(cipher);
	if (!s->info_len) {
		snprintf(msg, len, "probe: cipher %u unknown to libktls", cipher);
		free(s);
		return KTLS_E_INVALID;
	}
	/* Throwaway all-zero keys: only whether the kernel takes them counts. */
	s->tx.info.version = s->rx.info.version = version;
	s->tx.info.cipher_type = s->rx.info.cipher_type = cipher;
	s->fd = kl_loopback(&peer, msg, len);
	if (s->fd < 0) {
		free(s);
		return KTLS_E_IO;
	}
	if (ktls_install(s, 1, 1)) {
		code = s->code;
		if (code == KTLS_E_NO_ULP && kl_locked_down(mode, sizeof(mode))) {
			code = KTLS_E_LOCKDOWN;
			snprintf(msg, len,
				 "%s; kernel lockdown is \"%s\": an unsigned ktls.ko cannot load (sign it with an enrolled MOK key, e.g. through DKMS)",
				 s->err, mode);
		} else {
			snprintf(msg, len, "%s", s->err);
		}
	} else {
		code = KTLS_OK;
		snprintf(msg, len,
			 "kernel TLS works here: %s %s keys accepted for TX and RX",
			 ktls_version_name(version), ktls_cipher_name(cipher));
	}
	close(s->fd);
	close(peer);
	free(s);
	return code;
}
