// SPDX-License-Identifier: MIT
/* Handing the keys to the kernel, with the reason when it cannot take them. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "internal.h"

static const char *kl_ulp(const struct ktls_session *s)
{
	const char *ulp = s->opts ? s->opts->ulp : NULL;

	if (!ulp)
		ulp = getenv("KTLS_ULP");
	return ulp && *ulp ? ulp : "tls";
}

/* First line of a small /proc or /sys file, newline stripped. */
static int kl_read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	int ok;

	if (!f)
		return -1;
	ok = fgets(buf, (int)len, f) != NULL;
	fclose(f);
	if (!ok)
		return -1;
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

/* Which module holds the ULP name, for messages. */
static const char *kl_ulp_owner(const char *ulp, char *ktls_name, size_t len)
{
	if (kl_read_line("/sys/module/ktls/parameters/ulp_name", ktls_name,
			 len))
		ktls_name[0] = '\0';
	if (!strcmp(ktls_name, ulp))
		return "ktls.ko";
	if (!strcmp(ulp, "tls") && !access("/sys/module/tls", F_OK))
		return "the in-tree tls.ko";
	return NULL;
}

static int kl_ulp_registered(const char *ulp)
{
	char list[256], *tok, *save = NULL;

	if (kl_read_line("/proc/sys/net/ipv4/tcp_available_ulp", list,
			 sizeof(list)))
		return -1;
	for (tok = strtok_r(list, " ", &save); tok;
	     tok = strtok_r(NULL, " ", &save))
		if (!strcmp(tok, ulp))
			return 1;
	return 0;
}

static void kl_attach_error(struct ktls_session *s, const char *ulp)
{
	char kname[64];
	const char *owner = kl_ulp_owner(ulp, kname, sizeof(kname));

	if (errno == ENOENT && kl_ulp_registered(ulp) == 0) {
		s->code = KTLS_E_NO_ULP;
		if (kname[0])
			snprintf(s->err, sizeof(s->err),
				 "kernel TLS unavailable: TCP ULP \"%s\" is not registered; ktls.ko is loaded with ulp_name=%s (set KTLS_ULP=%s)",
				 ulp, kname, kname);
		else
			snprintf(s->err, sizeof(s->err),
				 "kernel TLS unavailable: TCP ULP \"%s\" is not registered: ktls.ko is not loaded (insmod ktls.ko)",
				 ulp);
		return;
	}
	if (errno == EEXIST) {
		s->code = KTLS_E_ULP_TAKEN;
		snprintf(s->err, sizeof(s->err),
			 "kernel TLS unavailable: the socket already has a TCP ULP attached");
		return;
	}
	s->code = errno == ENOENT ? KTLS_E_NO_ULP : KTLS_E_IO;
	kl_err_sys(s->err, sizeof(s->err),
		   "kernel TLS unavailable: setsockopt(TCP_ULP, \"%s\") (held by %s)",
		   ulp, owner ? owner : "no module");
}

static int kl_set_keys(struct ktls_session *s, int tx)
{
	union ktls_crypto_info *ci = tx ? &s->tx : &s->rx;
	const char *dir = tx ? "TLS_TX" : "TLS_RX";

	if (!setsockopt(s->fd, SOL_TLS, tx ? TLS_TX : TLS_RX, ci,
			s->info_len)) {
		kl_trace(s, "kernel: %s handed to the kernel (%s %s)", dir,
			 ktls_version_name(s->version),
			 ktls_cipher_name(s->cipher));
		return 0;
	}
	s->code = KTLS_E_IO;
	if (errno == EINVAL || errno == ENOENT || errno == ENOPROTOOPT ||
	    errno == EOPNOTSUPP) {
		s->code = KTLS_E_CIPHER;
		kl_err_sys(s->err, sizeof(s->err),
			   "kernel TLS refused %s for %s %s (cipher not offered by the module or its crypto algorithm is missing)",
			   dir, ktls_version_name(s->version),
			   ktls_cipher_name(s->cipher));
	} else {
		kl_err_sys(s->err, sizeof(s->err),
			   "setsockopt(SOL_TLS, %s, %s %s)", dir,
			   ktls_version_name(s->version),
			   ktls_cipher_name(s->cipher));
	}
	return -1;
}

int ktls_install(struct ktls_session *s, int tx, int rx)
{
	const char *ulp = kl_ulp(s);
	char kname[64];
	const char *owner;

	if (!tx && !rx)
		return 0;
	if (setsockopt(s->fd, IPPROTO_TCP, TCP_ULP, ulp, strlen(ulp))) {
		kl_attach_error(s, ulp);
		return -1;
	}
	owner = kl_ulp_owner(ulp, kname, sizeof(kname));
	kl_trace(s, "kernel: TCP ULP \"%s\" attached (provided by %s)", ulp,
		 owner ? owner : "an unknown module");
	if (tx) {
		if (kl_set_keys(s, 1))
			return -1;
		s->tx_on = 1;
		if (s->max_payload && setsockopt(s->fd, SOL_TLS,
						 TLS_TX_MAX_PAYLOAD_LEN,
						 &s->max_payload,
						 sizeof(s->max_payload))) {
			s->code = KTLS_E_CIPHER;
			kl_err_sys(s->err, sizeof(s->err),
				   "setsockopt(SOL_TLS, TLS_TX_MAX_PAYLOAD_LEN, %u) for the negotiated max_fragment_length (a kernel without it?)",
				   s->max_payload);
			return -1;
		}
		if (s->max_payload)
			kl_trace(s, "kernel: TX records capped at %u bytes (max_fragment_length)",
				 s->max_payload);
	}
	if (rx) {
		if (kl_set_keys(s, 0))
			return -1;
		s->rx_on = 1;
	}
	return 0;
}
