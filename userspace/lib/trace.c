// SPDX-License-Identifier: MIT
/* --trace: the handshake messages as they pass, and what was negotiated. */
#include <string.h>
#include <openssl/x509.h>

#include "internal.h"

static const char *kl_hs_name(unsigned int type)
{
	switch (type) {
	case 1: return "ClientHello";
	case 2: return "ServerHello";
	case 4: return "NewSessionTicket";
	case 8: return "EncryptedExtensions";
	case 11: return "Certificate";
	case 12: return "ServerKeyExchange";
	case 13: return "CertificateRequest";
	case 14: return "ServerHelloDone";
	case 15: return "CertificateVerify";
	case 16: return "ClientKeyExchange";
	case 20: return "Finished";
	case 24: return "KeyUpdate";
	}
	return "handshake message";
}

/* Bounds-checked reader over a handshake message. */
struct kl_rd {
	const unsigned char *p;
	size_t left;
	int bad;
};

static const unsigned char *kl_take(struct kl_rd *r, size_t n)
{
	const unsigned char *p = r->p;

	if (r->bad || r->left < n) {
		r->bad = 1;
		return NULL;
	}
	r->p += n;
	r->left -= n;
	return p;
}

static unsigned int kl_u8(struct kl_rd *r)
{
	const unsigned char *p = kl_take(r, 1);

	return p ? p[0] : 0;
}

static unsigned int kl_u16(struct kl_rd *r)
{
	const unsigned char *p = kl_take(r, 2);

	return p ? (unsigned int)(p[0] << 8 | p[1]) : 0;
}

static const char *kl_suite_name(SSL *ssl, const unsigned char *id)
{
	const SSL_CIPHER *c = SSL_CIPHER_find(ssl, id);

	return c ? SSL_CIPHER_get_name(c) : NULL;
}

/* Append the names of a suite list to out. */
static void kl_suites(SSL *ssl, const unsigned char *p, size_t n, char *out,
		      size_t len)
{
	size_t i, used = strlen(out);

	for (i = 0; i + 1 < n && used + 1 < len; i += 2) {
		const char *name = kl_suite_name(ssl, p + i);

		if (name)
			snprintf(out + used, len - used, " %s", name);
		else
			snprintf(out + used, len - used, " 0x%02x%02x",
				 p[i], p[i + 1]);
		used = strlen(out);
	}
}

/* The supported_versions extension (43), if any, as text. */
static void kl_versions(struct kl_rd *r, int hello, char *out, size_t len)
{
	size_t ext_len;

	out[0] = '\0';
	if (!r->left)
		return;
	ext_len = kl_u16(r);
	if (r->bad || ext_len > r->left)
		return;
	while (r->left >= 4 && !r->bad) {
		unsigned int type = kl_u16(r), n = kl_u16(r);
		struct kl_rd e = { kl_take(r, n), n, r->bad };
		size_t used = 0;

		if (type != 43 || e.bad)
			continue;
		if (hello == 1)
			kl_u8(&e);	/* ClientHello: list length */
		while (e.left >= 2 && used + 10 < len) {
			unsigned int v = kl_u16(&e);

			snprintf(out + used, len - used, " 0x%04x", v);
			used = strlen(out);
		}
	}
}

static void kl_trace_hello(struct ktls_session *s, SSL *ssl, int write_p,
			   const unsigned char *msg, size_t len)
{
	struct kl_rd r = { msg + 4, len - 4, 0 };
	const unsigned char *random, *suites;
	char hex[65], list[400] = "", vers[64];
	unsigned int legacy, n, type = msg[0];

	legacy = kl_u16(&r);
	random = kl_take(&r, 32);
	n = kl_u8(&r);
	kl_take(&r, n);
	if (r.bad)
		return;
	if (type == 1) {
		n = kl_u16(&r);
		suites = kl_take(&r, n);
		if (r.bad)
			return;
		kl_suites(ssl, suites, n, list, sizeof(list));
		n = kl_u8(&r);
		kl_take(&r, n);
		kl_versions(&r, 1, vers, sizeof(vers));
		kl_trace(s, "%s ClientHello: legacy_version 0x%04x, supported_versions%s, client random %s",
			 write_p ? "->" : "<-", legacy, vers[0] ? vers : " -",
			 kl_hex(hex, random, 32));
		kl_trace(s, "   offered suites:%s", list);
		return;
	}
	suites = kl_take(&r, 2);
	kl_take(&r, 1);		/* compression */
	if (r.bad)
		return;
	kl_versions(&r, 2, vers, sizeof(vers));
	kl_trace(s, "%s ServerHello: version %s, suite %s, server random %s",
		 write_p ? "->" : "<-",
		 vers[0] ? vers + 1 : legacy == 0x0303 ? "0x0303" : "old",
		 kl_suite_name(ssl, suites) ? kl_suite_name(ssl, suites) : "?",
		 kl_hex(hex, random, 32));
}

void kl_trace_msg(int write_p, int version, int content_type,
		  const void *buf, size_t len, SSL *ssl, void *arg)
{
	struct ktls_session *s = arg;
	const unsigned char *p = buf;

	(void)version;
	if (content_type == SSL3_RT_ALERT && len >= 2) {
		kl_trace(s, "%s alert: %s %s", write_p ? "->" : "<-",
			 p[0] == 2 ? "fatal" : "warning",
			 SSL_alert_desc_string_long(p[1]));
		return;
	}
	if (content_type != SSL3_RT_HANDSHAKE || len < 4)
		return;
	if (p[0] == 1 || p[0] == 2) {
		kl_trace_hello(s, ssl, write_p, p, len);
		return;
	}
	kl_trace(s, "%s %s (%zu bytes)", write_p ? "->" : "<-",
		 kl_hs_name(p[0]), len);
}

void kl_trace_summary(const struct ktls_session *s, SSL *ssl)
{
	X509 *cert = s->server ? SSL_get_certificate(ssl) :
				 SSL_get0_peer_certificate(ssl);
	int group = SSL_get_negotiated_group(ssl);
	const char *gname = group ? SSL_group_to_name(ssl, group) : NULL;
	char subj[256] = "(none)";

	if (!s->opts || !s->opts->trace)
		return;
	if (cert)
		X509_NAME_oneline(X509_get_subject_name(cert), subj,
				  sizeof(subj));
	kl_trace(s, "handshake done: %s, suite %s, key exchange group %s",
		 SSL_get_version(ssl),
		 SSL_CIPHER_get_name(SSL_get_current_cipher(ssl)),
		 gname ? gname : "?");
	kl_trace(s, "certificate subject %s", subj);
	kl_trace(s, "session %s", SSL_session_reused(ssl) ?
		 "resumed (abbreviated handshake)" : "new (full handshake)");
}
