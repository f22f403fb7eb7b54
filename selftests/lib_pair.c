// SPDX-License-Identifier: GPL-2.0
/* The RX and TX tests' fixtures (lib_pair.h). */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "harness.h"
#include "lib_pair.h"

void kt_pair_raw(struct kt_pair *p)
{
	int one = 1;

	memset(p, 0, sizeof(*p));
	kt_tcp_pair(AF_INET, &p->tx, &p->rx);
	/* Each write leaves at once: tests control record boundaries. */
	KT_ASSERT_OK(setsockopt(p->tx, IPPROTO_TCP, TCP_NODELAY, &one,
				sizeof(one)));
	if (kt_attach(p->rx))
		KT_FAIL("TCP_ULP %s: %s", kt_ulp(), strerror(errno));
}

void kt_pair_keys(struct kt_pair *p, uint16_t version, uint16_t cipher,
		  uint64_t seq)
{
	union kt_crypto_info ci;
	size_t len = kt_fill_info(&ci, version, cipher, KT_PAIR_SEED);
	const struct kt_cipher *c = kt_cipher(cipher);
	unsigned char *rs = ci.raw + sizeof(ci.info) + c->iv + c->key +
			    c->salt;
	int i;

	for (i = 0; i < 8; i++)
		rs[i] = seq >> (56 - 8 * i);
	KT_ASSERT_OK(setsockopt(p->rx, SOL_TLS, TLS_RX, &ci, len));
	tr_keys_from_info(&p->k, &ci);
	p->version = version;
	p->cipher = cipher;
}

void kt_pair_open(struct kt_pair *p, uint16_t version, uint16_t cipher)
{
	kt_pair_raw(p);
	kt_pair_keys(p, version, cipher, 0);
}

void kt_pair_close(struct kt_pair *p)
{
	close(p->rx);
	close(p->tx);
}

size_t kt_pair_seal(struct kt_pair *p, uint8_t type, const void *pt,
		    size_t len, uint8_t *out)
{
	size_t n = tr_seal(&p->k, type, pt, len, out);

	KT_ASSERT(n > 0);
	return n;
}

void kt_pair_send(struct kt_pair *p, uint8_t type, const void *pt,
		  size_t len)
{
	static uint8_t rec[TR_MAX_REC];

	kt_write_all(p->tx, rec, kt_pair_seal(p, type, pt, len, rec));
}

void kt_write_split(int fd, const void *buf, size_t n, size_t step)
{
	const uint8_t *b = buf;

	while (n) {
		size_t k = n < step ? n : step;

		kt_write_all(fd, b, k);
		b += k;
		n -= k;
	}
}

void kt_expect_bytes(const void *got, const void *want, size_t n)
{
	const uint8_t *g = got, *w = want;
	size_t i;

	for (i = 0; i < n; i++)
		if (g[i] != w[i])
			KT_FAIL("bytes differ at %zu of %zu (got 0x%02x, want 0x%02x)",
				i, n, g[i], w[i]);
}

void kt_settle(unsigned int ms)
{
	usleep(ms * 1000);
}

void *kt_writer_fn(void *arg)
{
	struct kt_writer *w = arg;

	kt_write_all(w->fd, w->buf, w->len);
	return NULL;
}

void kt_tx_pair_keys(struct kt_tx_pair *p, uint16_t version, uint16_t cipher,
		     const union kt_crypto_info *ci)
{
	if (ci) {
		p->ci = *ci;
		p->ci_len = kt_cipher(cipher)->info_size;
	} else {
		p->ci_len = kt_fill_info(&p->ci, version, cipher,
					 KT_PAIR_SEED);
	}
	tr_keys_from_info(&p->k, &p->ci);
	KT_ASSERT_OK(kt_attach(p->tx));
	KT_ASSERT_OK(setsockopt(p->tx, SOL_TLS, TLS_TX, &p->ci, p->ci_len));
}

void kt_tx_pair_close(struct kt_tx_pair *p)
{
	close(p->tx);
	close(p->peer);
}

size_t kt_read_raw(int fd, uint8_t *buf)
{
	size_t len;

	kt_read_all(fd, buf, TR_HDR);
	len = (size_t)buf[3] << 8 | buf[4];
	KT_ASSERT(len <= TR_MAX_REC - TR_HDR);
	kt_read_all(fd, buf + TR_HDR, len);
	return TR_HDR + len;
}

size_t kt_tx_pair_read(struct kt_tx_pair *p, uint8_t *type, uint8_t *pt)
{
	static uint8_t raw[TR_MAX_REC];
	size_t n = kt_read_raw(p->peer, raw), ptlen;
	ssize_t r = tr_open(&p->k, raw, n, type, pt, &ptlen);

	if (r != (ssize_t)n)
		KT_FAIL("record %llu: %s",
			(unsigned long long)p->k.seq, tr_error());
	return ptlen;
}

size_t kt_tx_pair_expect(struct kt_tx_pair *p, uint8_t want_type,
			 const uint8_t *want, size_t len)
{
	static uint8_t pt[TR_MAX_PT + 256];
	size_t got = 0, recs = 0;

	while (got < len) {
		uint8_t type;
		size_t n = kt_tx_pair_read(p, &type, pt);

		KT_ASSERT_EQ(type, want_type);
		KT_ASSERT(n <= TR_MAX_PT);
		KT_ASSERT(n > 0);
		KT_ASSERT(got + n <= len);
		if (memcmp(pt, want + got, n))
			KT_FAIL("plaintext differs in record at offset %zu",
				got);
		got += n;
		recs++;
	}
	return recs;
}

void kt_send_rec(int raw, struct tr_keys *k, uint8_t type, const void *pt,
		 size_t len)
{
	uint8_t rec[TR_MAX_REC];

	kt_write_all(raw, rec, tr_seal(k, type, pt, len, rec));
}

void kt_expect_rec(int fd, uint8_t type, const void *pt, size_t len)
{
	uint8_t buf[TR_MAX_PT], got;
	ssize_t n = kt_recv_type(fd, buf, len, 0, &got);

	if (n < 0)
		KT_FAIL("recv of a %zu byte type %u record: %s", len, type,
			strerror(errno));
	KT_ASSERT_EQ(n, (ssize_t)len);
	KT_ASSERT_EQ(got, type);
	KT_ASSERT(!memcmp(buf, pt, len));
}
