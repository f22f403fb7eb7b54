// SPDX-License-Identifier: MIT
/*
 * ktls-doctor: what to run when kernel TLS "does nothing".  Checks the
 * module and the ULP name it holds, the in-tree tls.ko, the kernel crypto,
 * a real TX+RX record exchange per cipher and version (verified against
 * OpenSSL's EVP, not against the kernel itself), OpenSSL's own kTLS, and
 * Secure Boot / lockdown.  Prints a table with a fix for every failure;
 * exit status 1 if anything failed.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <linux/if_alg.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include <ktls.h>
#include <ktls/ktls_ext.h>

#ifndef AF_ALG
#define AF_ALG		38
#endif

#define TAG_LEN		16
#define REC_MAX		(5 + 8 + 256 + 1 + TAG_LEN)

enum { ST_PASS, ST_WARN, ST_SKIP, ST_FAIL };
static const char *const st_name[] = { "PASS", "WARN", "SKIP", "FAIL" };

static int n_fail, n_warn;
static const char *sys_root = "";	/* --root: fake /sys, /proc (tests) */

static void report(int st, const char *check, const char *fix,
		   const char *fmt, ...)
{
	char detail[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	printf("%-4s  %-34s %s\n", st_name[st], check, detail);
	if (fix && (st == ST_FAIL || st == ST_WARN))
		printf("      %-34s fix: %s\n", "", fix);
	if (st == ST_FAIL)
		n_fail++;
	if (st == ST_WARN)
		n_warn++;
	fflush(stdout);
}

/* First line of a small file, without the newline; -1 if unreadable. */
static int read_line(const char *path, char *buf, size_t len)
{
	char p[512];
	FILE *f;

	snprintf(p, sizeof(p), "%s%s", sys_root, path);
	f = fopen(p, "r");
	if (!f)
		return -1;
	if (!fgets(buf, len, f))
		buf[0] = 0;
	fclose(f);
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

static int path_exists(const char *path)
{
	char p[512];
	struct stat st;

	snprintf(p, sizeof(p), "%s%s", sys_root, path);
	return stat(p, &st) == 0;
}

/* Is name a word of the space-separated list? */
static int has_word(const char *list, const char *name)
{
	size_t n = strlen(name);
	const char *p = list;

	while ((p = strstr(p, name))) {
		if ((p == list || p[-1] == ' ') && (!p[n] || p[n] == ' '))
			return 1;
		p += n;
	}
	return 0;
}

/* --- module, ULP, in-tree tls ---------------------------------------- */

struct state {
	int ktls_loaded, intree_loaded;
	char ktls_ulp[64];		/* ulp_name ktls registered */
	char avail[512];		/* tcp_available_ulp */
	const char *ulp;		/* the name we test with */
	int ulp_ok;			/* ulp is registered */
};

static void check_module(struct state *s)
{
	s->ktls_loaded = path_exists("/sys/module/ktls");
	s->intree_loaded = path_exists("/sys/module/tls");
	if (read_line("/proc/sys/net/ipv4/tcp_available_ulp", s->avail,
		      sizeof(s->avail)))
		s->avail[0] = 0;

	if (!s->ktls_loaded) {
		report(ST_FAIL, "ktls module loaded",
		       s->intree_loaded ?
		       "rmmod tls (close its sockets first), then modprobe ktls; see the in-tree row" :
		       "modprobe ktls (installed by DKMS or make install), or insmod kmod/ktls.ko; load it at boot: echo ktls > /etc/modules-load.d/ktls.conf",
		       "no /sys/module/ktls");
	} else {
		char ver[64] = "";

		read_line("/sys/module/ktls/version", ver, sizeof(ver));
		if (read_line("/sys/module/ktls/parameters/ulp_name",
			      s->ktls_ulp, sizeof(s->ktls_ulp)))
			snprintf(s->ktls_ulp, sizeof(s->ktls_ulp), "tls");
		report(ST_PASS, "ktls module loaded", NULL, "ulp_name=%s%s%s",
		       s->ktls_ulp, ver[0] ? " version " : "", ver);
	}

	if (!s->ulp)
		s->ulp = s->ktls_loaded ? s->ktls_ulp : "tls";
	s->ulp_ok = has_word(s->avail, s->ulp);
	if (!s->ktls_loaded)
		report(s->ulp_ok ? ST_WARN : ST_FAIL, "ULP registered",
		       "load ktls first (see above)",
		       "ULP \"%s\" %s (tcp_available_ulp: %s)", s->ulp,
		       s->ulp_ok ? "belongs to another module" :
		       "not registered", s->avail[0] ? s->avail : "empty");
	else if (!s->ulp_ok)
		report(ST_FAIL, "ULP registered",
		       "rmmod ktls; modprobe ktls (its registration failed)",
		       "ktls loaded but \"%s\" not in tcp_available_ulp (%s)",
		       s->ulp, s->avail);
	else if (strcmp(s->ktls_ulp, "tls"))
		report(ST_WARN, "ULP registered",
		       "rmmod ktls && modprobe ktls ulp_name=tls (after rmmod tls) so OpenSSL/nginx get ktls",
		       "ktls holds \"%s\": programs asking for \"tls\" do not get ktls",
		       s->ktls_ulp);
	else
		report(ST_PASS, "ULP registered", NULL,
		       "\"tls\" is ktls (tcp_available_ulp: %s)", s->avail);

	if (!s->intree_loaded)
		report(ST_PASS, "in-tree tls.ko not in the way", NULL,
		       "tls.ko not loaded");
	else if (s->ktls_loaded && !strcmp(s->ktls_ulp, "tls"))
		report(ST_FAIL, "in-tree tls.ko not in the way",
		       "never rmmod tls now (it corrupts the ULP list); reboot, keep it out: echo 'blacklist tls' > /etc/modprobe.d/ktls.conf",
		       "tls.ko loaded after ktls took \"tls\": unloading it corrupts the kernel's ULP list");
	else if (s->ktls_loaded)
		report(ST_WARN, "in-tree tls.ko not in the way",
		       "fine for comparing the two; for production: rmmod ktls tls; modprobe ktls",
		       "tls.ko holds \"tls\", ktls runs beside it as \"%s\"",
		       s->ktls_ulp);
	else
		report(ST_FAIL, "in-tree tls.ko not in the way",
		       "rmmod tls; modprobe ktls; keep tls.ko out: echo 'blacklist tls' > /etc/modprobe.d/ktls.conf and load ktls at boot",
		       "in-tree tls.ko holds \"tls\": loading ktls fails with EEXIST");
}

/* --- kernel crypto ------------------------------------------------------ */

static int proc_crypto_has(const char *alg)
{
	char p[512], line[256];
	int found = 0;
	FILE *f;

	snprintf(p, sizeof(p), "%s/proc/crypto", sys_root);
	f = fopen(p, "r");
	if (!f)
		return -1;
	while (!found && fgets(line, sizeof(line), f)) {
		char *v;

		if (strncmp(line, "name", 4) || !(v = strchr(line, ':')))
			continue;
		v += 1 + strspn(v + 1, " \t");
		v[strcspn(v, "\n")] = 0;
		found = !strcmp(v, alg);
	}
	fclose(f);
	return found;
}

/* Ask the kernel for an AEAD by name: it loads the template modules. */
static int alg_instantiate(const char *alg)
{
	struct sockaddr_alg sa = { .salg_family = AF_ALG };
	int fd, ret;

	fd = socket(AF_ALG, SOCK_SEQPACKET, 0);
	if (fd < 0)
		return -errno;
	snprintf((char *)sa.salg_type, sizeof(sa.salg_type), "aead");
	snprintf((char *)sa.salg_name, sizeof(sa.salg_name), "%s", alg);
	ret = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) ? -errno : 0;
	close(fd);
	return ret;
}

static void check_crypto(void)
{
	static const struct {
		const char *alg, *mod, *what;
	} algs[] = {
		{ "gcm(aes)", "gcm", "AES-GCM-128/256" },
		{ "ccm(aes)", "ccm", "AES-CCM-128" },
		{ "rfc7539(chacha20,poly1305)", "chacha20poly1305",
		  "ChaCha20-Poly1305" },
	};
	char check[64], fix[256];
	size_t i;

	for (i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
		int has = proc_crypto_has(algs[i].alg), err;

		snprintf(check, sizeof(check), "crypto %s", algs[i].alg);
		snprintf(fix, sizeof(fix),
			 "modprobe %s; if it does not exist the kernel lacks it (CONFIG_CRYPTO_%s) and %s cannot work",
			 algs[i].mod, !strcmp(algs[i].mod, "chacha20poly1305") ?
			 "CHACHA20POLY1305" : !strcmp(algs[i].mod, "gcm") ?
			 "GCM" : "CCM", algs[i].what);
		if (has < 0) {
			report(ST_FAIL, check, "mount -t proc proc /proc",
			       "/proc/crypto unreadable");
			continue;
		}
		if (has) {
			report(ST_PASS, check, NULL, "in /proc/crypto (%s)",
			       algs[i].what);
			continue;
		}
		err = alg_instantiate(algs[i].alg);
		if (!err)
			report(ST_PASS, check, NULL,
			       "autoloaded on request (%s)", algs[i].what);
		else if (err == -EAFNOSUPPORT)
			report(ST_WARN, check, fix,
			       "not loaded yet; AF_ALG unavailable, cannot test autoload (setsockopt TLS_TX will request it)");
		else
			report(ST_FAIL, check, fix,
			       "not in /proc/crypto and cannot be loaded: %s",
			       strerror(-err));
	}
}

/* --- loopback record exchange ----------------------------------------- */

struct cipher {
	const char *name;
	uint16_t type;
	size_t iv, key, salt;		/* UAPI field sizes */
	const char *evp;
};

static const struct cipher ciphers[] = {
	{ "AES-GCM-128", TLS_CIPHER_AES_GCM_128, 8, 16, 4, "AES-128-GCM" },
	{ "AES-GCM-256", TLS_CIPHER_AES_GCM_256, 8, 32, 4, "AES-256-GCM" },
	{ "AES-CCM-128", TLS_CIPHER_AES_CCM_128, 8, 16, 4, "AES-128-CCM" },
	{ "ChaCha20-Poly1305", TLS_CIPHER_CHACHA20_POLY1305, 12, 32, 0,
	  "ChaCha20-Poly1305" },
};

/* Key material for one direction, and the UAPI struct made from it. */
struct dir_keys {
	uint16_t version;
	const struct cipher *c;
	unsigned char iv[12], key[32], salt[4], seq[8];
	unsigned char info[64];
	size_t info_len;
};

static int keys_new(struct dir_keys *k, uint16_t version,
		    const struct cipher *c)
{
	struct tls_crypto_info hdr = { .version = version,
				       .cipher_type = c->type };
	size_t off = sizeof(hdr);

	memset(k, 0, sizeof(*k));
	k->version = version;
	k->c = c;
	if (RAND_bytes(k->iv, sizeof(k->iv)) != 1 ||
	    RAND_bytes(k->key, sizeof(k->key)) != 1 ||
	    RAND_bytes(k->salt, sizeof(k->salt)) != 1 ||
	    RAND_bytes(k->seq + 5, 3) != 1)
		return -1;
	/* UAPI layout: header, iv, key, salt, rec_seq. */
	memcpy(k->info, &hdr, sizeof(hdr));
	memcpy(k->info + off, k->iv, c->iv);
	off += c->iv;
	memcpy(k->info + off, k->key, c->key);
	off += c->key;
	memcpy(k->info + off, k->salt, c->salt);
	off += c->salt;
	memcpy(k->info + off, k->seq, 8);
	k->info_len = off + 8;
	return 0;
}

static void keys_wipe(struct dir_keys *k)
{
	OPENSSL_cleanse(k, sizeof(*k));
}

/*
 * Per-record nonce (RFC 5288 / 7905 / 8446): TLS 1.2 AES carries an
 * explicit part on the wire; everything else XORs the sequence number in.
 */
static size_t nonce_of(const struct dir_keys *k, const unsigned char *expl,
		       unsigned char nonce[12])
{
	int i;

	if (k->version == TLS_1_2_VERSION && k->c->salt) {
		memcpy(nonce, k->salt, 4);
		memcpy(nonce + 4, expl, 8);
		return 8;
	}
	if (k->c->salt) {
		memcpy(nonce, k->salt, 4);
		memcpy(nonce + 4, k->iv, 8);
	} else {
		memcpy(nonce, k->iv, 12);
	}
	for (i = 0; i < 8; i++)
		nonce[4 + i] ^= k->seq[i];
	return 0;
}

/*
 * AEAD seal (enc=1) or open (enc=0) of len bytes; the tag follows the
 * ciphertext.  Returns 0, or -1 (also on a bad tag).
 */
static int aead(const struct dir_keys *k, int enc, const unsigned char *nonce,
		const unsigned char *aad, size_t aad_len,
		const unsigned char *in, size_t len, unsigned char *out)
{
	EVP_CIPHER *ciph = EVP_CIPHER_fetch(NULL, k->c->evp, NULL);
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int ccm = !strcmp(k->c->evp, "AES-128-CCM"), n, ret = -1;
	unsigned char *tag = out + len;

	if (!ciph || !ctx)
		goto out;
	if (!EVP_CipherInit_ex2(ctx, ciph, NULL, NULL, enc, NULL) ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, 12, NULL) != 1)
		goto out;
	if (ccm && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, TAG_LEN,
				       enc ? NULL : (void *)(in + len)) != 1)
		goto out;
	if (!ccm && !enc &&
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, TAG_LEN,
				(void *)(in + len)) != 1)
		goto out;
	if (!EVP_CipherInit_ex2(ctx, NULL, k->key, nonce, enc, NULL))
		goto out;
	if (ccm && !EVP_CipherUpdate(ctx, NULL, &n, NULL, (int)len))
		goto out;
	if (!EVP_CipherUpdate(ctx, NULL, &n, aad, (int)aad_len) ||
	    EVP_CipherUpdate(ctx, out, &n, in, (int)len) != 1)
		goto out;
	if (!ccm && EVP_CipherFinal_ex(ctx, out + n, &n) != 1)
		goto out;
	if (enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, TAG_LEN,
				       tag) != 1)
		goto out;
	ret = 0;
out:
	EVP_CIPHER_CTX_free(ctx);
	EVP_CIPHER_free(ciph);
	return ret;
}

static size_t aad_of(const struct dir_keys *k, size_t plain_len,
		     size_t rec_len, unsigned char *aad)
{
	if (k->version == TLS_1_3_VERSION) {
		aad[0] = 23;
		aad[1] = 3;
		aad[2] = 3;
		aad[3] = rec_len >> 8;
		aad[4] = rec_len & 0xff;
		return 5;
	}
	memcpy(aad, k->seq, 8);
	aad[8] = 23;
	aad[9] = 3;
	aad[10] = 3;
	aad[11] = plain_len >> 8;
	aad[12] = plain_len & 0xff;
	return 13;
}

/* Seal one application-data record of msg with k, as a peer would. */
static ssize_t record_seal(const struct dir_keys *k, const char *msg,
			   unsigned char *rec)
{
	size_t mlen = strlen(msg), plen = mlen, expl = 0, body, aad_len;
	unsigned char nonce[12], aad[13], plain[256 + 1], e[8];

	if (RAND_bytes(e, sizeof(e)) != 1)
		return -1;
	expl = nonce_of(k, e, nonce);
	memcpy(plain, msg, mlen);
	if (k->version == TLS_1_3_VERSION)
		plain[plen++] = 23;	/* inner content type */
	body = expl + plen + TAG_LEN;
	rec[0] = 23;
	rec[1] = 3;
	rec[2] = 3;
	rec[3] = body >> 8;
	rec[4] = body & 0xff;
	memcpy(rec + 5, e, expl);
	aad_len = aad_of(k, plen, body, aad);
	if (aead(k, 1, nonce, aad, aad_len, plain, plen, rec + 5 + expl))
		return -1;
	return 5 + body;
}

/* Open a record the kernel sealed; the plaintext goes to out (NUL-ended). */
static int record_open(const struct dir_keys *k, const unsigned char *rec,
		       size_t rec_len, char *out, size_t out_len)
{
	size_t body = rec_len - 5, expl, clen, aad_len;
	unsigned char nonce[12], aad[13], plain[REC_MAX];

	if (rec_len < 5 + TAG_LEN || rec[0] != 23 || rec[1] != 3 ||
	    rec[2] != 3 || (size_t)(rec[3] << 8 | rec[4]) != body)
		return -1;
	expl = nonce_of(k, rec + 5, nonce);
	if (body < expl + TAG_LEN)
		return -1;
	clen = body - expl - TAG_LEN;
	aad_len = aad_of(k, clen, body, aad);
	if (aead(k, 0, nonce, aad, aad_len, rec + 5 + expl, clen, plain))
		return -1;
	if (k->version == TLS_1_3_VERSION) {
		if (!clen || plain[clen - 1] != 23)
			return -1;
		clen--;
	}
	if (clen >= out_len)
		return -1;
	memcpy(out, plain, clen);
	out[clen] = 0;
	return 0;
}

static int tcp_pair(int *a, int *b)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct timeval tv = { .tv_sec = 5 };
	socklen_t len = sizeof(sa);
	int l, one = 1;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	*a = *b = -1;
	l = socket(AF_INET, SOCK_STREAM, 0);
	if (l < 0)
		return -1;
	if (bind(l, (struct sockaddr *)&sa, sizeof(sa)) || listen(l, 1) ||
	    getsockname(l, (struct sockaddr *)&sa, &len))
		goto fail;
	*a = socket(AF_INET, SOCK_STREAM, 0);
	if (*a < 0 || connect(*a, (struct sockaddr *)&sa, sizeof(sa)))
		goto fail;
	*b = accept(l, NULL, NULL);
	if (*b < 0)
		goto fail;
	close(l);
	setsockopt(*a, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(*b, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(*a, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return 0;
fail:
	close(l);
	if (*a >= 0)
		close(*a);
	*a = -1;
	return -1;
}

static int read_full(int fd, void *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, (char *)buf + got, n - got);

		if (r <= 0)
			return -1;
		got += r;
	}
	return 0;
}

/* The kernel's ENOTSUPP leaks to userspace from some crypto paths. */
#define KERNEL_ENOTSUPP	524

/* Why a TCP_ULP or SOL_TLS setsockopt failed, in words. */
static const char *install_hint(int ulp, int err)
{
	switch (err) {
	case ENOENT:
		return ulp ? "ULP not registered" :
			     "the kernel crypto lacks this cipher";
	case EINVAL:
		return "rejected as malformed";
	case KERNEL_ENOTSUPP:
	case EOPNOTSUPP:
		return "cipher or version not supported";
	case EEXIST:
		return "ULP already attached";
	case ENOMEM:
		return "out of socket memory";
	default:
		return "unexpected error";
	}
}

/*
 * One connection: the kernel seals a record (TX) that EVP opens, then EVP
 * seals a record that the kernel opens (RX).  Neither side is checked
 * against itself.
 */
static void check_exchange(const struct state *s, const struct cipher *c,
			   uint16_t version)
{
	static const char tx_msg[] = "ktls-doctor TX record";
	static const char rx_msg[] = "ktls-doctor RX record";
	struct dir_keys tx, rx;
	unsigned char rec[REC_MAX];
	char check[64], got[REC_MAX], step[160] = "";
	int a = -1, b = -1, err = 0, ulp_step = 0;
	ssize_t n, len;

	snprintf(check, sizeof(check), "%s %s", ktls_version_name(version),
		 c->name);
	if (!s->ulp_ok) {
		report(ST_SKIP, check, NULL, "ULP \"%s\" not registered",
		       s->ulp);
		return;
	}
	if (keys_new(&tx, version, c) || keys_new(&rx, version, c) ||
	    tcp_pair(&a, &b)) {
		report(ST_FAIL, check, "check memory and loopback networking",
		       "cannot set up a loopback TCP pair or keys: %s",
		       strerror(errno));
		goto out;
	}
	if (setsockopt(a, IPPROTO_TCP, TCP_ULP, s->ulp, strlen(s->ulp) + 1)) {
		err = errno;
		ulp_step = 1;
		snprintf(step, sizeof(step), "TCP_ULP \"%s\"", s->ulp);
		goto fail;
	}
	if (setsockopt(a, SOL_TLS, TLS_TX, tx.info, tx.info_len)) {
		err = errno;
		snprintf(step, sizeof(step), "TLS_TX");
		goto fail;
	}
	if (write(a, tx_msg, strlen(tx_msg)) != (ssize_t)strlen(tx_msg)) {
		err = errno;
		snprintf(step, sizeof(step), "send on TX");
		goto fail;
	}
	if (read_full(b, rec, 5)) {
		snprintf(step, sizeof(step), "no record arrived");
		goto fail;
	}
	len = rec[3] << 8 | rec[4];
	if (len > REC_MAX - 5 || read_full(b, rec + 5, len) ||
	    record_open(&tx, rec, 5 + len, got, sizeof(got)) ||
	    strcmp(got, tx_msg)) {
		snprintf(step, sizeof(step),
			 "the kernel's TX record does not decrypt with OpenSSL");
		goto fail;
	}
	if (setsockopt(a, SOL_TLS, TLS_RX, rx.info, rx.info_len)) {
		err = errno;
		snprintf(step, sizeof(step), "TLS_RX");
		goto fail;
	}
	len = record_seal(&rx, rx_msg, rec);
	if (len < 0 || write(b, rec, len) != len) {
		snprintf(step, sizeof(step), "cannot send the test record");
		goto fail;
	}
	memset(got, 0, sizeof(got));
	n = read(a, got, sizeof(got) - 1);
	if (n < 0) {
		err = errno;
		snprintf(step, sizeof(step), "read on RX");
		goto fail;
	}
	if ((size_t)n != strlen(rx_msg) || memcmp(got, rx_msg, n)) {
		snprintf(step, sizeof(step),
			 "RX gave %zd wrong bytes for an OpenSSL record", n);
		goto fail;
	}
	report(ST_PASS, check, NULL, "TX and RX records match OpenSSL%s",
	       s->ktls_loaded && !strcmp(s->ulp, s->ktls_ulp) ? "" :
	       " (not through ktls)");
	goto out;
fail:
	if (err)
		report(ST_FAIL, check,
		       ulp_step ? "load ktls (modprobe ktls)" :
		       "see the crypto rows above and dmesg",
		       "%s failed: %s (%s)", step, strerror(err),
		       install_hint(ulp_step, err));
	else
		report(ST_FAIL, check,
		       "a broken module: report it with dmesg and this output",
		       "%s", step);
out:
	keys_wipe(&tx);
	keys_wipe(&rx);
	if (a >= 0)
		close(a);
	if (b >= 0)
		close(b);
}

/*
 * ktls's own options (include/ktls/ktls_ext.h): the KTLS_FEATURES probe on
 * a TLS socket.  The in-tree kTLS answers ENOPROTOOPT.
 */
static void check_extensions(const struct state *s)
{
	static const char check[] = "in-kernel KeyUpdate, padding";
	uint32_t feat = 0;
	socklen_t len = sizeof(feat);
	int a = -1, b = -1;

	if (!s->ulp_ok) {
		report(ST_SKIP, check, NULL, "ULP \"%s\" not registered",
		       s->ulp);
		return;
	}
	if (tcp_pair(&a, &b) ||
	    setsockopt(a, IPPROTO_TCP, TCP_ULP, s->ulp, strlen(s->ulp) + 1)) {
		report(ST_SKIP, check, NULL, "no TLS socket to ask: %s",
		       strerror(errno));
	} else if (getsockopt(a, SOL_TLS, KTLS_FEATURES, &feat, &len)) {
		report(ST_WARN, check,
		       "load ktls for KTLS_TX_SECRET/KTLS_RX_SECRET; else the program must answer KeyUpdate",
		       "not offered by ULP \"%s\" (%s)", s->ulp,
		       strerror(errno));
	} else {
		/* libktls's default needs both (lib/kernel_rekey.c). */
		int lib = (feat & KTLS_FEAT_KEY_UPDATE) &&
			  (feat & KTLS_FEAT_TX_KEY_UPDATE);

		report(lib ? ST_PASS : ST_WARN, check,
		       lib ? NULL : "a newer ktls module offers KTLS_TX_KEY_UPDATE",
		       "offered (0x%x):%s%s%s%s; libktls %s", feat,
		       feat & KTLS_FEAT_KEY_UPDATE ? " KeyUpdate" : "",
		       feat & KTLS_FEAT_TX_REKEY ? " TX-rekey" : "",
		       feat & KTLS_FEAT_TX_PAD ? " padding" : "",
		       feat & KTLS_FEAT_TX_KEY_UPDATE ? " TX-KeyUpdate" : "",
		       lib ? "hands TLS 1.3 secrets to the kernel by default" :
			     "rekeys in userspace");
	}
	if (a >= 0)
		close(a);
	if (b >= 0)
		close(b);
}

/* --- OpenSSL's own kTLS -------------------------------------------------- */

struct ossl_srv {
	SSL_CTX *ctx;
	int fd;
	int ktls_tx, ktls_rx, ok;
};

static void *ossl_server(void *arg)
{
	struct ossl_srv *sv = arg;
	SSL *ssl = SSL_new(sv->ctx);
	char buf[64];

	if (!ssl)
		return NULL;
	SSL_set_fd(ssl, sv->fd);
	if (SSL_accept(ssl) == 1) {
		sv->ktls_tx = BIO_get_ktls_send(SSL_get_wbio(ssl));
		if (SSL_read(ssl, buf, sizeof(buf)) == 4 &&
		    SSL_write(ssl, buf, 4) == 4)
			sv->ok = 1;
	}
	SSL_shutdown(ssl);
	SSL_free(ssl);
	return NULL;
}

static void check_openssl(const struct state *s)
{
	const char *check = "OpenSSL built with kTLS";
	char err[KTLS_ERR_LEN] = "", buf[8];
	SSL_CTX *sctx = NULL, *cctx = NULL;
	struct ossl_srv sv = { 0 };
	pthread_t th;
	SSL *ssl = NULL;
	int a = -1, b = -1, tx = 0, rx = 0, ok = 0;

#if defined(OPENSSL_NO_KTLS) || !defined(SSL_OP_ENABLE_KTLS)
	report(ST_FAIL, check,
	       "install a distribution OpenSSL 3 (Debian 12's is built with kTLS) or build with enable-ktls",
	       "%s: built without kTLS (OPENSSL_NO_KTLS)",
	       OpenSSL_version(OPENSSL_VERSION));
	return;
#endif
	if (!s->ulp_ok || strcmp(s->ulp, "tls")) {
		report(ST_SKIP, check, NULL,
		       "%s has kTLS; not tried: OpenSSL asks for ULP \"tls\", which ktls does not hold",
		       OpenSSL_version(OPENSSL_VERSION));
		return;
	}
	sctx = ktls_ctx_new(1, NULL, NULL, err, sizeof(err));
	cctx = ktls_ctx_new(0, NULL, NULL, err, sizeof(err));
	if (!sctx || !cctx || tcp_pair(&a, &b))
		goto done;
	/* OpenSSL 3.0 does kTLS RX only for TLS 1.2. */
	SSL_CTX_set_options(sctx, SSL_OP_ENABLE_KTLS);
	SSL_CTX_set_options(cctx, SSL_OP_ENABLE_KTLS);
	SSL_CTX_set_max_proto_version(cctx, TLS1_2_VERSION);
	SSL_CTX_set_cipher_list(cctx, "ECDHE-ECDSA-AES128-GCM-SHA256");
	sv.ctx = sctx;
	sv.fd = b;
	if (pthread_create(&th, NULL, ossl_server, &sv))
		goto done;
	ssl = SSL_new(cctx);
	if (ssl && SSL_set_fd(ssl, a) == 1 && SSL_connect(ssl) == 1) {
		tx = BIO_get_ktls_send(SSL_get_wbio(ssl));
		rx = BIO_get_ktls_recv(SSL_get_rbio(ssl));
		ok = SSL_write(ssl, "ping", 4) == 4 &&
		     SSL_read(ssl, buf, sizeof(buf)) == 4 &&
		     !memcmp(buf, "ping", 4);
	}
	SSL_shutdown(ssl);
	shutdown(a, SHUT_RDWR);
	pthread_join(th, NULL);
done:
	if (ok && sv.ok && tx && rx && sv.ktls_tx)
		report(ST_PASS, check, NULL,
		       "%s: its own kTLS (SSL_OP_ENABLE_KTLS) drives ktls, TLS 1.2 TX+RX",
		       OpenSSL_version(OPENSSL_VERSION));
	else if (ok && sv.ok)
		report(ST_FAIL, check,
		       "OpenSSL fell back to userspace TLS: check the rows above; with Options = KTLS in openssl.cnf it uses kTLS",
		       "%s: handshake works but kTLS not used (client TX %d RX %d, server TX %d)",
		       OpenSSL_version(OPENSSL_VERSION), tx, rx, sv.ktls_tx);
	else
		report(ST_FAIL, check, "see the OpenSSL error",
		       "%s: loopback handshake failed %s",
		       OpenSSL_version(OPENSSL_VERSION),
		       err[0] ? err : ERR_reason_error_string(ERR_get_error()) ?: "");
	SSL_free(ssl);
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
	if (a >= 0)
		close(a);
	if (b >= 0)
		close(b);
}

/* --- Secure Boot and lockdown --------------------------------------------- */

static const char mok_fix[] =
	"Secure Boot: sign ktls with an enrolled MOK key: 'mokutil --import /var/lib/dkms/mok.pub', reboot, enroll it in MokManager, then 'dkms autoinstall' (DKMS signs with that key)";

static void check_lockdown(const struct state *s)
{
	const char *check = "Secure Boot / lockdown";
	char lock[128] = "", disabled[8] = "", sb[128] = "";
	const char *mode = "none";
	FILE *p;

	if (!read_line("/proc/sys/kernel/modules_disabled", disabled,
		       sizeof(disabled)) && !strcmp(disabled, "1")) {
		report(s->ktls_loaded ? ST_WARN : ST_FAIL, check,
		       "modules are disabled until reboot (kernel.modules_disabled=1): load ktls before that sysctl is set",
		       "kernel.modules_disabled=1: no module can load");
		return;
	}
	if (!read_line("/sys/kernel/security/lockdown", lock, sizeof(lock))) {
		if (strstr(lock, "[integrity]"))
			mode = "integrity";
		else if (strstr(lock, "[confidentiality]"))
			mode = "confidentiality";
	}
	/* mokutil answers only on EFI machines; its absence says nothing. */
	if (!sys_root[0] && access("/usr/bin/mokutil", X_OK) == 0) {
		p = popen("mokutil --sb-state 2>/dev/null", "r");
		if (p) {
			if (!fgets(sb, sizeof(sb), p))
				sb[0] = 0;
			sb[strcspn(sb, "\n")] = 0;
			pclose(p);
		}
	}
	if (!strcmp(mode, "none") && !strstr(sb, "enabled")) {
		report(ST_PASS, check, NULL,
		       "lockdown %s%s%s: unsigned modules load", lock[0] ?
		       "none" : "not available", sb[0] ? ", " : "", sb);
		return;
	}
	if (s->ktls_loaded)
		report(ST_PASS, check, NULL,
		       "lockdown %s%s%s, and ktls is loaded (signed with an enrolled key)",
		       mode, sb[0] ? ", " : "", sb);
	else
		report(ST_FAIL, check, mok_fix,
		       "lockdown %s%s%s: an unsigned ktls.ko is refused (dmesg: 'Lockdown: ... unsigned module loading is restricted')",
		       mode, sb[0] ? ", " : "", sb);
}

static void usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s [--ulp NAME] [--no-openssl] [--root DIR]\n"
		"  --ulp NAME    TCP ULP to test (default: the one ktls holds)\n"
		"  --no-openssl  skip OpenSSL's own kTLS check\n"
		"  --root DIR    read /sys and /proc below DIR (testing)\n",
		prog);
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "ulp", required_argument, NULL, 'u' },
		{ "no-openssl", no_argument, NULL, 'n' },
		{ "root", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	static const uint16_t versions[] = { TLS_1_2_VERSION,
					     TLS_1_3_VERSION };
	struct state s = { 0 };
	int o, no_openssl = 0;
	size_t v, i;

	while ((o = getopt_long(argc, argv, "u:nr:h", opts, NULL)) != -1) {
		switch (o) {
		case 'u':
			s.ulp = optarg;
			break;
		case 'n':
			no_openssl = 1;
			break;
		case 'r':
			sys_root = optarg;
			break;
		default:
			usage(argv[0]);
		}
	}
	if (optind != argc)
		usage(argv[0]);

	printf("ktls-doctor: kernel TLS health check\n\n");
	check_module(&s);
	check_crypto();
	for (v = 0; v < 2; v++)
		for (i = 0; i < sizeof(ciphers) / sizeof(ciphers[0]); i++)
			check_exchange(&s, &ciphers[i], versions[v]);
	check_extensions(&s);
	if (!no_openssl)
		check_openssl(&s);
	check_lockdown(&s);
	printf("\n%d failed, %d warnings\n", n_fail, n_warn);
	if (n_fail)
		printf("Fix the first FAIL first: later rows often follow from it.\n");
	return n_fail ? 1 : 0;
}
