// SPDX-License-Identifier: GPL-2.0
/*
 * /proc/net/ktls_stat: every counter moves by exactly what the case did.
 * Each case runs in a fresh network namespace, so the counters start at
 * zero there and nothing else on the machine can move them; one case
 * checks that another namespace's sockets do not show up.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "lib_tlsrec.h"
#include "util.h"

#define TLS12	TLS_1_2_VERSION
#define TLS13	TLS_1_3_VERSION
#define GCM128	TLS_CIPHER_AES_GCM_128
#define SEED	11

static const char *const names[] = {
	"TlsCurrTxSw", "TlsCurrRxSw", "TlsTxSw", "TlsRxSw",
	"TlsDecryptError", "TlsDecryptRetry", "TlsRxNoPadViolation",
	"TlsTxRekeyOk", "TlsTxRekeyError", "TlsRxRekeyOk",
	"TlsRxRekeyError", "TlsRxRekeyReceived", "KtlsTxPoolPages",
	"KtlsRxKeyUpdateAuto", "KtlsTxKeyUpdateAuto", "KtlsKeyUpdateAnswered",
	"KtlsKeyUpdateUnanswered", "KtlsKeyUpdateFail", "KtlsTxPadBytes",
	"KtlsRxBuffers",
};
#define N_NAMES	(sizeof(names) / sizeof(names[0]))

struct stats {
	long v[N_NAMES];
};

static void read_stats(struct stats *s)
{
	char line[256], name[64];
	unsigned int seen = 0;
	FILE *f;
	long v;
	size_t i;

	f = fopen("/proc/net/ktls_stat", "r");
	KT_ASSERT(f);
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%63s %ld", name, &v) != 2)
			KT_FAIL("bad line in ktls_stat: %s", line);
		for (i = 0; i < N_NAMES; i++)
			if (!strcmp(name, names[i]))
				break;
		if (i == N_NAMES)
			KT_FAIL("unknown counter %s", name);
		if (seen & (1u << i))
			KT_FAIL("counter %s twice", name);
		seen |= 1u << i;
		s->v[i] = v;
	}
	fclose(f);
	for (i = 0; i < N_NAMES; i++)
		if (!(seen & (1u << i)))
			KT_FAIL("counter %s missing", names[i]);
}

/* All counters equal want, given as name=value pairs; others are 0. */
static void expect_stats(const char *want)
{
	struct stats s;
	size_t i;

	read_stats(&s);
	for (i = 0; i < N_NAMES; i++) {
		char key[80];
		const char *p;
		long w = 0;

		snprintf(key, sizeof(key), "%s=", names[i]);
		p = strstr(want, key);
		/* Not a suffix of a longer name. */
		if (p && (p == want || p[-1] == ' '))
			w = strtol(p + strlen(key), NULL, 10);
		/* ktls's own gauges follow TCP's timing: only when asked. */
		else if (!strncmp(names[i], "Ktls", 4))
			continue;
		if (s.v[i] != w)
			KT_FAIL("%s is %ld, expected %ld (want: %s)",
				names[i], s.v[i], w, want);
	}
}

static void setup(void)
{
	kt_need_ktls();
	kt_new_netns();
}

static void raw_pair(int *raw, int *tls, uint16_t version, int dir)
{
	kt_tcp_pair(AF_INET, raw, tls);
	kt_install(*tls, dir, version, GCM128, SEED);
}

static struct tr_keys peer_keys(uint16_t version)
{
	union kt_crypto_info ci;
	struct tr_keys k;

	kt_fill_info(&ci, version, GCM128, SEED);
	tr_keys_from_info(&k, &ci);
	return k;
}

static void test_fresh_netns_zero(void)
{
	setup();
	expect_stats("");
}

static void test_tx_sw(void)
{
	int a, b, c, d;

	setup();
	raw_pair(&a, &b, TLS12, TLS_TX);
	expect_stats("TlsTxSw=1 TlsCurrTxSw=1");
	raw_pair(&c, &d, TLS13, TLS_TX);
	expect_stats("TlsTxSw=2 TlsCurrTxSw=2");
	close(b);
	expect_stats("TlsTxSw=2 TlsCurrTxSw=1");
	close(d);
	expect_stats("TlsTxSw=2 TlsCurrTxSw=0");
	close(a);
	close(c);
}

static void test_rx_sw(void)
{
	int a, b;

	setup();
	raw_pair(&a, &b, TLS13, TLS_RX);
	expect_stats("TlsRxSw=1 TlsCurrRxSw=1");
	kt_install(b, TLS_TX, TLS13, GCM128, SEED);
	expect_stats("TlsRxSw=1 TlsCurrRxSw=1 TlsTxSw=1 TlsCurrTxSw=1");
	close(b);
	expect_stats("TlsRxSw=1 TlsTxSw=1");
	close(a);
}

/* A refused key moves nothing; the ULP alone is not a TLS socket. */
static void test_failed_set_no_count(void)
{
	union kt_crypto_info ci;
	size_t n;
	int a, b;

	setup();
	kt_tcp_pair(AF_INET, &a, &b);
	KT_ASSERT_OK(kt_attach(b));
	expect_stats("");
	n = kt_fill_info(&ci, TLS12, GCM128, SEED);
	ci.info.cipher_type = 0x7777;
	KT_ASSERT_ERRNO(setsockopt(b, SOL_TLS, TLS_TX, &ci, n), EINVAL);
	ci.info.cipher_type = GCM128;
	KT_ASSERT_ERRNO(setsockopt(b, SOL_TLS, TLS_RX, &ci, n - 1), EINVAL);
	expect_stats("");
	KT_ASSERT_OK(setsockopt(b, SOL_TLS, TLS_TX, &ci, n));
	/* TLS 1.2 keys cannot change: EBUSY, a rekey error (in-tree 6.14+). */
	KT_ASSERT_ERRNO(setsockopt(b, SOL_TLS, TLS_TX, &ci, n), EBUSY);
	expect_stats("TlsTxSw=1 TlsCurrTxSw=1 TlsTxRekeyError=1");
	KT_ASSERT_OK(setsockopt(b, SOL_TLS, TLS_RX, &ci, n));
	KT_ASSERT_ERRNO(setsockopt(b, SOL_TLS, TLS_RX, &ci, n), EBUSY);
	expect_stats("TlsTxSw=1 TlsCurrTxSw=1 TlsTxRekeyError=1 "
		     "TlsRxSw=1 TlsCurrRxSw=1 TlsRxRekeyError=1");
	close(b);
	expect_stats("TlsTxSw=1 TlsTxRekeyError=1 TlsRxSw=1 "
		     "TlsRxRekeyError=1");
	close(a);
}

static void test_decrypt_error(void)
{
	uint8_t rec[TR_MAX_REC], buf[64];
	struct tr_keys k = peer_keys(TLS12);
	size_t n;
	int a, b;

	setup();
	raw_pair(&a, &b, TLS12, TLS_RX);
	n = tr_seal(&k, 23, "hello", 5, rec);
	kt_write_all(a, rec, n);
	KT_ASSERT_EQ(recv(b, buf, sizeof(buf), 0), 5);
	KT_ASSERT(!memcmp(buf, "hello", 5));
	expect_stats("TlsRxSw=1 TlsCurrRxSw=1");

	n = tr_seal(&k, 23, "world", 5, rec);
	rec[n - 1] ^= 1;		/* the tag */
	kt_write_all(a, rec, n);
	KT_ASSERT_ERRNO(recv(b, buf, sizeof(buf), 0), EBADMSG);
	expect_stats("TlsRxSw=1 TlsCurrRxSw=1 TlsDecryptError=1");
	/* The error is sticky, but only one record failed to open. */
	KT_ASSERT_ERRNO(recv(b, buf, sizeof(buf), 0), EBADMSG);
	expect_stats("TlsRxSw=1 TlsCurrRxSw=1 TlsDecryptError=1");
	close(a);
	close(b);
}

/*
 * TLS 1.3 decrypts straight into the reader's buffer; a padded record or
 * a non-data record has to be opened again.  Padding is a violation only
 * with TLS_RX_EXPECT_NO_PAD.
 */
static void test_no_pad_retry(void)
{
	uint8_t rec[TR_MAX_REC], buf[256], inner[64];
	struct tr_keys k = peer_keys(TLS13);
	char cbuf[CMSG_SPACE(1)];
	struct iovec iov = { buf, sizeof(buf) };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cm;
	int one = 1, a, b;
	size_t n;

	setup();
	raw_pair(&a, &b, TLS13, TLS_RX);
	KT_ASSERT_OK(setsockopt(b, SOL_TLS, TLS_RX_EXPECT_NO_PAD, &one,
				sizeof(one)));

	/* Unpadded data: one decryption, no retry. */
	n = tr_seal(&k, 23, "plain", 5, rec);
	kt_write_all(a, rec, n);
	KT_ASSERT_EQ(recv(b, buf, sizeof(buf), 0), 5);
	KT_ASSERT(!memcmp(buf, "plain", 5));
	expect_stats("TlsRxSw=1 TlsCurrRxSw=1");

	/* Padded data: a violation and a retry, text still right. */
	memcpy(inner, "padded", 6);
	inner[6] = 23;
	memset(inner + 7, 0, 9);
	n = tr_seal(&k, 0, inner, 16, rec);
	kt_write_all(a, rec, n);
	KT_ASSERT_EQ(recv(b, buf, sizeof(buf), 0), 6);
	KT_ASSERT(!memcmp(buf, "padded", 6));
	expect_stats("TlsRxSw=1 TlsCurrRxSw=1 TlsDecryptRetry=1 TlsRxNoPadViolation=1");

	/* A handshake record: a retry, not a violation. */
	n = tr_seal(&k, 22, "\x04\x00\x00\x00", 4, rec);
	kt_write_all(a, rec, n);
	KT_ASSERT_EQ(recvmsg(b, &msg, 0), 4);
	cm = CMSG_FIRSTHDR(&msg);
	KT_ASSERT(cm && cm->cmsg_type == TLS_GET_RECORD_TYPE);
	KT_ASSERT_EQ(*CMSG_DATA(cm), 22);
	expect_stats("TlsRxSw=1 TlsCurrRxSw=1 TlsDecryptRetry=2 TlsRxNoPadViolation=1");

	/* Without the option padding is a retry, not a violation. */
	one = 0;
	KT_ASSERT_OK(setsockopt(b, SOL_TLS, TLS_RX_EXPECT_NO_PAD, &one,
				sizeof(one)));
	n = tr_seal(&k, 0, inner, 16, rec);
	kt_write_all(a, rec, n);
	KT_ASSERT_EQ(recv(b, buf, sizeof(buf), 0), 6);
	KT_ASSERT(!memcmp(buf, "padded", 6));
	expect_stats("TlsRxSw=1 TlsCurrRxSw=1 TlsDecryptRetry=3 TlsRxNoPadViolation=1");
	close(a);
	close(b);
}

/* Sockets of another namespace count there, not here. */
static void test_netns_isolated(void)
{
	int a, b, status;
	pid_t pid;

	setup();
	pid = fork();
	KT_ASSERT(pid >= 0);
	if (pid == 0) {
		kt_new_netns();
		expect_stats("");
		raw_pair(&a, &b, TLS12, TLS_TX);
		kt_install(b, TLS_RX, TLS12, GCM128, SEED);
		expect_stats("TlsTxSw=1 TlsCurrTxSw=1 TlsRxSw=1 TlsCurrRxSw=1");
		_exit(0);
	}
	KT_ASSERT_EQ(waitpid(pid, &status, 0), pid);
	KT_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	expect_stats("");
	raw_pair(&a, &b, TLS12, TLS_RX);
	expect_stats("TlsRxSw=1 TlsCurrRxSw=1");
	close(a);
	close(b);
}

KT_MAIN("ktls_stats",
	KT_CASE(test_fresh_netns_zero),
	KT_CASE(test_tx_sw),
	KT_CASE(test_rx_sw),
	KT_CASE(test_failed_set_no_count),
	KT_CASE(test_decrypt_error),
	KT_CASE(test_no_pad_retry),
	KT_CASE(test_netns_isolated));
